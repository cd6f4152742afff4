//! Overlapping work across channels, through the emulator: a duplicate request waits for its
//! requester (`run anyway` or `join`), the earlier thread is told once, a private channel's
//! request leaks nothing, a look-alike that is other work passes, and only the requester (or
//! the agent's owners, or an admin) decides.

use std::time::Duration;

use threadwork::emulator::state::{Message, BOT_USER_ID};
use threadwork::emulator::EmulatorConfig;
use threadwork::overlap::Mode;

use crate::common::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const ALICE: &str = "U0ALICE001";
const BOB: &str = "U0BOB00001";
const DEV: &str = "C0DEV00001";
const RANDOM: &str = "C0RANDOM01";
const SECRET: &str = "C0SECRET01";

async fn world(mode: Mode) -> World {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.overlap.mode = mode;
    w.start_bot(scripted(script("done", 50))).await;
    w
}

async fn ask(w: &World, user: &str, channel: &str, text: &str) -> String {
    w.emu
        .post_as(user, channel, &format!("<@{BOT_USER_ID}> {text}"), None)
        .await
        .expect("post")
}

async fn replies(w: &World, channel: &str, ts: &str) -> Vec<Message> {
    w.emu
        .thread(channel, ts)
        .await
        .into_iter()
        .filter(|m| m.user == BOT_USER_ID)
        .map(|mut m| {
            m.text = shown(&m.text);
            m
        })
        .collect()
}

async fn said(w: &World, channel: &str, ts: &str, what: &str) -> Message {
    eventually(SECS(20), what, || async {
        replies(w, channel, ts)
            .await
            .into_iter()
            .find(|m| m.text.contains(what))
    })
    .await
}

fn job_in(w: &World, channel: &str, ts: &str) -> Option<threadwork::job::Job> {
    let store = w.bot().bot.store();
    let id = store.job_for_thread(channel, ts).unwrap()?;
    store.job(id).unwrap()
}

fn actions(w: &World) -> Vec<String> {
    w.bot()
        .bot
        .store()
        .audit()
        .unwrap()
        .into_iter()
        .filter(|r| r.action.starts_with("overlap_"))
        .map(|r| r.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_in_another_channel_waits_then_runs_anyway_or_joins() {
    let w = world(Mode::Ask).await;
    let first = ask(
        &w,
        "alice",
        DEV,
        "add retries to the webhook client in acme billing",
    )
    .await;
    w.settle().await;
    assert!(job_in(&w, DEV, &first).is_some_and(|j| j.state.is_terminal()));

    // The same work asked for in another channel: told, held, nothing runs.
    let second = ask(
        &w,
        "bob",
        CHANNEL,
        "add retries to the acme billing webhook client",
    )
    .await;
    let notice = said(&w, CHANNEL, &second, "looks like work").await;
    assert!(
        notice.text.contains(&format!("<@{ALICE}>")),
        "{}",
        notice.text
    );
    assert!(notice.text.contains("webhook"), "{}", notice.text);
    assert!(notice.text.contains("`run anyway`"), "{}", notice.text);
    said(&w, DEV, &first, "asked for similar work").await;
    w.settle().await;
    assert!(
        job_in(&w, CHANNEL, &second).is_none(),
        "a held request runs nothing"
    );

    // Someone else in the channel may not decide for bob.
    w.emu
        .post_as("you", CHANNEL, "run anyway", Some(&second))
        .await
        .unwrap();
    w.settle().await;
    assert!(job_in(&w, CHANNEL, &second).is_none());
    let told = w.emu.ephemerals().await;
    assert!(
        told.iter()
            .any(|e| e.user == "U0YOU00001" && e.text.contains("Only <@U0BOB00001>")),
        "{told:?}"
    );

    // Bob runs it anyway.
    w.emu
        .post_as("bob", CHANNEL, "run anyway", Some(&second))
        .await
        .unwrap();
    w.settle().await;
    let job = job_in(&w, CHANNEL, &second).expect("run anyway starts the job");
    assert_eq!(job.requester, BOB);
    assert!(job.state.is_terminal());

    // A third time, in a third channel: bob joins instead; nothing runs.
    let third = ask(
        &w,
        "bob",
        RANDOM,
        "add retries to the webhook client in acme billing",
    )
    .await;
    said(&w, RANDOM, &third, "looks like work").await;
    w.emu
        .post_as("bob", RANDOM, "join", Some(&third))
        .await
        .unwrap();
    said(&w, RANDOM, &third, "Joined").await;
    w.settle().await;
    assert!(job_in(&w, RANDOM, &third).is_none(), "joining runs nothing");
    // The earlier thread was told about each new thread once, and about the join.
    let earlier = replies(&w, DEV, &first).await;
    let joined = earlier
        .iter()
        .filter(|m| m.text.contains("joined this thread"))
        .count()
        + replies(&w, CHANNEL, &second)
            .await
            .iter()
            .filter(|m| m.text.contains("joined this thread"))
            .count();
    assert_eq!(joined, 1, "{earlier:?}");
    // The earlier threads were told once per new thread (the second, the third), never twice.
    let told = earlier
        .iter()
        .chain(replies(&w, CHANNEL, &second).await.iter())
        .filter(|m| m.text.contains("asked for similar work"))
        .count();
    assert_eq!(told, 2, "{earlier:?}");
    let a = actions(&w);
    for want in ["overlap_asked", "overlap_ran_anyway", "overlap_joined"] {
        assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_channels_request_leaks_nothing() {
    let w = world(Mode::Ask).await;
    let private = ask(
        &w,
        "alice",
        SECRET,
        "rotate the stripe api key stored in vault for payments",
    )
    .await;
    w.settle().await;
    let public = ask(
        &w,
        "bob",
        CHANNEL,
        "rotate the stripe api key in vault for payments",
    )
    .await;
    let notice = said(&w, CHANNEL, &public, "cannot show here").await;
    for secret in ["stripe", ALICE, SECRET, "vault", "job "] {
        assert!(
            !notice.text.contains(secret),
            "{secret} leaked: {}",
            notice.text
        );
    }
    // The private thread learns where the new request is, so the two can talk.
    let told = said(&w, SECRET, &private, "asked for similar work").await;
    assert!(told.text.contains(&format!("<@{BOB}>")), "{}", told.text);
    // Joining from the public side names nothing of the private thread either.
    w.emu
        .post_as("bob", CHANNEL, "join", Some(&public))
        .await
        .unwrap();
    let joined = said(&w, CHANNEL, &public, "Joined").await;
    assert!(!joined.text.contains("archives"), "{}", joined.text);
    w.settle().await;
    for m in w.emu.channel_messages(CHANNEL).await {
        assert!(
            !m.text.contains(SECRET) && !m.text.contains("stripe api key stored"),
            "{m:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_work_in_the_same_words_passes_and_note_mode_runs_at_once() {
    let w = world(Mode::Note).await;
    let first = ask(&w, "alice", DEV, "upgrade postgres to 16 in staging").await;
    w.settle().await;
    let other = ask(&w, "bob", CHANNEL, "upgrade redis to 7 in staging").await;
    w.settle().await;
    assert!(job_in(&w, CHANNEL, &other).is_some());
    assert!(
        !replies(&w, CHANNEL, &other)
            .await
            .iter()
            .any(|m| m.text.contains("looks like")),
        "a hard negative is not flagged"
    );
    let same = ask(
        &w,
        "bob",
        RANDOM,
        "please upgrade postgres to 16 in staging",
    )
    .await;
    said(&w, RANDOM, &same, "runs anyway").await;
    w.settle().await;
    assert!(job_in(&w, RANDOM, &same).is_some_and(|j| j.state.is_terminal()));
    said(&w, DEV, &first, "asked for similar work").await;
    assert!(actions(&w).iter().any(|a| a == "overlap_noted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overlaps_command_lists_groups_within_the_privacy_rule() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.overlap.mode = Mode::Note;
    // The partner's team may use the bot; the list of work across channels is still not theirs.
    w.config.agents.external_teams = vec![threadwork::emulator::state::OTHER_TEAM_ID.into()];
    w.start_bot(scripted(script("done", 50))).await;
    for (user, channel, text) in [
        (
            "alice",
            DEV,
            "rotate the stripe api key stored in vault for payments",
        ),
        (
            "bob",
            CHANNEL,
            "rotate the stripe api key in vault for payments",
        ),
        (
            "alice",
            SECRET,
            "rotate the stripe api key in vault for payments, quietly",
        ),
    ] {
        ask(&w, user, channel, text).await;
        w.settle().await;
    }
    // A member in a fourth channel sees the public jobs, nothing of the private one, and
    // nobody is pinged.
    let asked = ask(&w, "you", RANDOM, "overlaps").await;
    let list = said(&w, RANDOM, &asked, "Similar work").await;
    for shown in [DEV, CHANNEL, "2 requests in", "stripe", "by alice"] {
        assert!(list.text.contains(shown), "{shown} missing: {}", list.text);
    }
    for hidden in [SECRET, "quietly", "private", "<@"] {
        assert!(
            !list.text.contains(hidden),
            "{hidden} leaked: {}",
            list.text
        );
    }
    // Inside the private channel its own job is shown.
    let inside = ask(&w, "alice", SECRET, "overlaps 7").await;
    let list = said(&w, SECRET, &inside, "Similar work").await;
    assert!(list.text.contains("quietly"), "{}", list.text);
    assert!(list.text.contains("3 requests in"), "{}", list.text);
    assert!(list.text.contains("the last 7 days"), "{}", list.text);

    // The Home tab has the section, within the same rule; a guest's has none.
    for (user, wanted) in [("you", true), ("gina", false)] {
        w.emu.open_home(user).await.unwrap();
        let home = eventually(SECS(10), "the Home tab", || async {
            w.emu.home(user).await
        })
        .await;
        let blocks = serde_json::to_string(&home["blocks"]).unwrap();
        // The directory names the private channel's job but does not link to it.
        assert!(!blocks.contains(SECRET), "{blocks}");
        assert_eq!(blocks.contains("Similar work"), wanted, "{blocks}");
        assert!(!blocks.contains("quietly"), "{blocks}");
    }

    // A guest may not list work across channels: told privately, nothing posted. Nor may
    // someone from another organisation, even from a team the bot works for.
    let by_guest = ask(&w, "gina", RANDOM, "overlaps").await;
    w.settle().await;
    assert!(replies(&w, RANDOM, &by_guest).await.is_empty());
    let told = w.emu.ephemerals().await;
    assert!(
        told.iter()
            .any(|e| e.user == "U0GUEST001" && e.text.contains("Only members of this workspace")),
        "{told:?}"
    );
    let by_partner = ask(&w, "xavier", RANDOM, "overlaps").await;
    w.settle().await;
    assert!(
        !replies(&w, RANDOM, &by_partner)
            .await
            .iter()
            .any(|m| m.text.contains("Similar work") || m.text.contains("stripe")),
        "a partner learns nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_goes_to_the_admin_channel_with_what_joining_saved() {
    use threadwork::schedules::clock::ManualClock;
    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.overlap.mode = Mode::Ask;
    w.config.agents.admin_channel = Some(DEV.into());
    let clock = ManualClock::new(chrono::Utc::now());
    w.start_bot_at(scripted(script("done", 50)), None, clock.clone())
        .await;
    let first = ask(
        &w,
        "alice",
        CHANNEL,
        "add a dark mode toggle to the settings page",
    )
    .await;
    w.settle().await;
    // Work done twice (run anyway), and work not done twice (joined).
    let second = ask(
        &w,
        "bob",
        RANDOM,
        "add a dark mode toggle to the settings page",
    )
    .await;
    said(&w, RANDOM, &second, "looks like work").await;
    w.emu
        .post_as("bob", RANDOM, "run anyway", Some(&second))
        .await
        .unwrap();
    w.settle().await;
    let third = ask(
        &w,
        "you",
        RANDOM,
        "add a dark mode toggle to the settings page",
    )
    .await;
    said(&w, RANDOM, &third, "looks like work").await;
    w.emu
        .post_as("you", RANDOM, "join", Some(&third))
        .await
        .unwrap();
    said(&w, RANDOM, &third, "Joined").await;
    w.settle().await;
    assert!(job_in(&w, CHANNEL, &first).is_some() && job_in(&w, RANDOM, &second).is_some());

    // Nothing before the week is over; then one digest, with the join counted.
    clock.advance(chrono::Duration::days(6));
    w.settle().await;
    let digests = || async {
        w.emu
            .channel_messages(DEV)
            .await
            .into_iter()
            .filter(|m| m.user == BOT_USER_ID && m.text.contains("Similar work"))
            .count()
    };
    assert_eq!(digests().await, 0);
    clock.advance(chrono::Duration::days(1));
    let digest = eventually(SECS(20), "the digest", || async {
        w.emu
            .channel_messages(DEV)
            .await
            .into_iter()
            .find(|m| m.user == BOT_USER_ID && m.text.contains("1 run saved"))
    })
    .await;
    assert!(digest.text.contains("dark mode"), "{}", digest.text);
    assert!(digest.text.contains("2 requests in"), "{}", digest.text);
    w.settle().await;
    assert_eq!(digests().await, 1);
}

fn agent_file(name: &str, description: &str, body: &str) -> String {
    format!("---\nname: {name}\ndescription: {description}\nharness: scripted\nowners: [{ALICE}]\n---\n{body}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_file_that_duplicates_another_is_told_to_the_admin_channel() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let prompts = w.dir.path().join("prompts");
    std::fs::create_dir_all(prompts.join("agents")).unwrap();
    std::fs::create_dir_all(prompts.join("shared")).unwrap();
    for (name, description, body) in [
        (
            "coder",
            "Writes code",
            "You fix bugs and open pull requests with tests.",
        ),
        (
            "oncall-bot",
            "Posts the weekly on-call rota",
            "Read the PagerDuty schedule and post who is on call this week to the channel.",
        ),
    ] {
        std::fs::write(
            prompts.join(format!("agents/{name}.md")),
            agent_file(name, description, body),
        )
        .unwrap();
    }
    w.config.agents.dir = prompts.join("agents");
    w.config.agents.shared_dir = prompts.join("shared");
    w.config.agents.default = "coder".into();
    w.config.agents.admin_channel = Some(DEV.into());
    w.start_bot(scripted(script("done", 50))).await;

    // Another agent's work: nothing said. A copy under another name: told once.
    std::fs::write(
        prompts.join("agents/release-notes.md"),
        agent_file(
            "release-notes",
            "Writes release notes",
            "Summarise the merged pull requests since the last tag as release notes.",
        ),
    )
    .unwrap();
    std::fs::write(
        prompts.join("agents/rota-poster.md"),
        agent_file(
            "rota-poster",
            "Posts the on-call rota every week",
            "Read the PagerDuty schedule and post this week's on-call person to the channel.",
        ),
    )
    .unwrap();
    let told = eventually(SECS(20), "the admin channel told", || async {
        w.emu
            .channel_messages(DEV)
            .await
            .into_iter()
            .find(|m| m.user == BOT_USER_ID && m.text.contains("looks like"))
    })
    .await;
    assert!(
        told.text.contains("`rota-poster` looks like `oncall-bot`"),
        "{}",
        told.text
    );
    assert!(told.text.contains(&format!("<@{ALICE}>")), "{}", told.text);
    // A reload that changes nothing of the pair says nothing again.
    std::fs::write(
        prompts.join("agents/coder.md"),
        agent_file(
            "coder",
            "Writes code",
            "You fix bugs and open pull requests.",
        ),
    )
    .unwrap();
    // The reload is in force (the directory shows the new wording's version) before the
    // count; the look-alike check runs on the same reload.
    eventually(SECS(20), "the coder edit in force", || async {
        let asked = ask(&w, "bob", CHANNEL, "prompt coder").await;
        let now = said(&w, CHANNEL, &asked, "version").await;
        (!now.text.contains("with tests")).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.settle().await;
    let alike: Vec<_> = w
        .emu
        .channel_messages(DEV)
        .await
        .into_iter()
        .filter(|m| m.user == BOT_USER_ID && m.text.contains("looks like"))
        .collect();
    assert_eq!(alike.len(), 1, "{alike:?}");
    // The directory shows the pair.
    let asked = ask(&w, "bob", CHANNEL, "agents").await;
    let directory = said(&w, CHANNEL, &asked, "*oncall-bot*").await;
    assert!(
        directory.text.contains("looks like `rota-poster`"),
        "{}",
        directory.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_anyway_follows_the_agents_rules_in_force_now() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let prompts = w.dir.path().join("prompts");
    std::fs::create_dir_all(prompts.join("agents")).unwrap();
    std::fs::create_dir_all(prompts.join("shared")).unwrap();
    let coder = |description: &str, users: &str| {
        format!("---\nname: coder\ndescription: {description}\nharness: scripted\nowners: [{ALICE}]\nusers: [{users}]\n---\nYou write code.\n")
    };
    let file = prompts.join("agents/coder.md");
    std::fs::write(&file, coder("Writes code", &format!("{ALICE}, {BOB}"))).unwrap();
    w.config.agents.dir = prompts.join("agents");
    w.config.agents.shared_dir = prompts.join("shared");
    w.config.agents.default = "coder".into();
    w.config.overlap.mode = Mode::Ask;
    w.start_bot(scripted(script("done", 50))).await;

    ask(
        &w,
        "alice",
        DEV,
        "add a dark mode toggle to the settings page",
    )
    .await;
    w.settle().await;
    let held = ask(
        &w,
        "bob",
        CHANNEL,
        "add a dark mode toggle to the settings page",
    )
    .await;
    said(&w, CHANNEL, &held, "looks like work").await;

    // While it waits, an admin takes bob off the agent's users.
    std::fs::write(&file, coder("Writes code, v2", ALICE)).unwrap();
    eventually(SECS(20), "the edit in force", || async {
        let asked = ask(&w, "alice", RANDOM, "agents").await;
        let directory = said(&w, RANDOM, &asked, "*coder*").await;
        directory.text.contains("v2").then_some(())
    })
    .await;
    w.emu
        .post_as("bob", CHANNEL, "run anyway", Some(&held))
        .await
        .unwrap();
    said(&w, CHANNEL, &held, "restricted to some users").await;
    w.settle().await;
    assert!(job_in(&w, CHANNEL, &held).is_none(), "nothing runs");
}
