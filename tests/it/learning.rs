//! The learning loop through the emulator: corrections become amendments, owners adopt them,
//! the next job runs with the new prompt version; live prompt edits; approvals by emoji; the
//! agent directory.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use threadwork::amendments::AmendmentStatus;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::EmulatorConfig;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const ALICE: &str = "U0ALICE001";
const BOB: &str = "U0BOB00001";
const ADMIN_CHANNEL: &str = "C0DEV00001";

fn coder_file(body: &str) -> String {
    format!(
        "---\nname: coder\ndescription: Writes code\nharness: echo\nowners: [{ALICE}]\napprovers: [{BOB}]\ninclude: [style]\n---\n{body}\n"
    )
}

async fn world() -> World {
    let mut w = World::new(EmulatorConfig::default()).await;
    let prompts = w.dir.path().join("prompts");
    std::fs::create_dir_all(prompts.join("agents")).unwrap();
    std::fs::create_dir_all(prompts.join("shared")).unwrap();
    std::fs::write(
        prompts.join("agents/coder.md"),
        coder_file("You write careful code."),
    )
    .unwrap();
    std::fs::write(prompts.join("shared/style.md"), "Answer briefly.").unwrap();
    w.config.agents.dir = prompts.join("agents");
    w.config.agents.shared_dir = prompts.join("shared");
    w.config.agents.default = "coder".into();
    w.config.agents.admins = vec!["U0YOU00001".into()];
    w.config.agents.admin_channel = Some(ADMIN_CHANNEL.into());
    w.start_bot(echo_harness("echo", "PROMPT", "THREADWORK_ROLE_PROMPT"))
        .await;
    w
}

fn agents_dir(w: &World) -> std::path::PathBuf {
    w.dir.path().join("prompts/agents")
}

/// Asks as `user` and returns (thread ts, the answer text).
async fn ask(w: &World, user: &str, text: &str) -> (String, String) {
    let ts = w
        .emu
        .post_as(user, CHANNEL, &format!("<@{BOT_USER_ID}> {text}"), None)
        .await
        .unwrap();
    let answer = wait_reply(w, &ts, SECS(10), |m| m.text.starts_with("PROMPT<<")).await;
    (ts, answer.text)
}

/// The bot's newest reply in a thread containing `needle`.
async fn reply_with(w: &World, ts: &str, needle: &str) -> threadwork::emulator::state::Message {
    let needle = needle.to_string();
    eventually(SECS(10), &format!("a reply containing {needle:?}"), || {
        let needle = needle.clone();
        async move {
            w.bot_replies(ts)
                .await
                .into_iter()
                .rev()
                .find(|m| m.text.contains(&needle))
        }
    })
    .await
}

/// Waits until the bot has recorded `ts` as job `id`'s result: a reaction on it counts only
/// from then on.
async fn result_recorded(w: &World, id: u64, ts: &str) {
    eventually(SECS(10), "the result recorded", || async {
        let job = w.bot().bot.store().job(id).ok().flatten()?;
        (job.terminal_posted && job.result_ts.as_deref() == Some(ts)).then_some(())
    })
    .await;
}

async fn command(w: &World, user: &str, text: &str) -> String {
    let ts = w
        .emu
        .post_as(user, CHANNEL, &format!("<@{BOT_USER_ID}> {text}"), None)
        .await
        .unwrap();
    eventually(SECS(10), "a reply to the command", || async {
        w.bot_replies(&ts).await.into_iter().next()
    })
    .await
    .text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correction_adopted_by_an_owner_changes_the_next_run() {
    let w = world().await;
    let store = w.bot().bot.store();
    let (thread, first) = ask(&w, ALICE, "add a login test").await;
    assert_eq!(
        first,
        "PROMPT<<You write careful code.\n\nAnswer briefly.>>"
    );
    let v1 = store.job(1).unwrap().unwrap().prompt_version.unwrap();

    // A reply in the thread corrects the agent.
    w.emu
        .post_as(
            "bob",
            CHANNEL,
            "correction: always run `cargo clippy` before answering",
            Some(&thread),
        )
        .await
        .unwrap();
    let proposal = reply_with(
        &w,
        &thread,
        "Amendment #1 to `coder` proposed by <@U0BOB00001>",
    )
    .await;
    assert!(
        proposal
            .text
            .contains("always run `cargo clippy` before answering"),
        "{}",
        proposal.text
    );
    assert!(proposal.text.contains("adopt coder 1"), "{}", proposal.text);
    // Reactions on the proposal count once the bot has recorded which amendment it is.
    eventually(SECS(10), "the proposal recorded", || async {
        let a = store.amendment("coder", 1).ok().flatten()?;
        (a.message_ts.as_deref() == Some(proposal.ts.as_str())).then_some(())
    })
    .await;

    // Bob is not an owner: his ✅ changes nothing, and he is told why.
    w.emu
        .react_as("bob", CHANNEL, &proposal.ts, "white_check_mark", true)
        .await
        .unwrap();
    eventually(SECS(5), "an ephemeral explanation to bob", || async {
        w.emu
            .ephemerals()
            .await
            .into_iter()
            .find(|e| e.user == BOB && e.text.contains("Only the owners of `coder`"))
    })
    .await;
    assert_eq!(
        store.amendment("coder", 1).unwrap().unwrap().status,
        AmendmentStatus::Proposed
    );
    let (_, still_old) = ask(&w, ALICE, "another task").await;
    assert!(
        !still_old.contains("clippy"),
        "a proposal is not in force: {still_old}"
    );

    // Alice owns the agent: her ✅ adopts it.
    w.emu
        .react_as("alice", CHANNEL, &proposal.ts, "white_check_mark", true)
        .await
        .unwrap();
    let adopted = reply_with(&w, &thread, "adopted by <@U0ALICE001>").await;
    let a = store.amendment("coder", 1).unwrap().unwrap();
    assert_eq!(a.status, AmendmentStatus::Active);
    assert_eq!(a.decided_by.as_deref(), Some(ALICE));
    assert!(a
        .permalink
        .as_deref()
        .is_some_and(|p| p.contains("/archives/C0GENERAL1/")));
    let v2 = adopted.text.split('`').nth(5).unwrap().to_string();
    assert!(
        adopted.text.contains(&format!("`{v1}` → `{v2}`")),
        "{}",
        adopted.text
    );

    let (t3, third) = ask(&w, ALICE, "fix the login test").await;
    assert!(
        third.ends_with(
            "<<<corrections\n{\"number\":1,\"text\":\"always run `cargo clippy` before answering\"}\ncorrections>>>>>"
        ),
        "{third}"
    );
    let job3 = store
        .jobs()
        .unwrap()
        .into_iter()
        .find(|j| j.thread_ts == t3)
        .unwrap();
    assert_eq!(job3.prompt_version.as_deref(), Some(v2.as_str()));
    assert_eq!(job3.amendments, vec![1]);
    let card = w.bot_replies(&t3).await.into_iter().next().unwrap();
    assert!(
        card.text.contains(&format!("prompt `{v2}`")),
        "{}",
        card.text
    );

    // The diff between the versions shows the amendment.
    let diff = command(&w, ALICE, &format!("diff coder {v1} {v2}")).await;
    assert!(
        diff.contains(r#"+{"number":1,"text":"always run `cargo clippy` before answering"}"#),
        "{diff}"
    );

    // Revert restores the earlier version.
    let reverted = command(&w, ALICE, "revert coder 1").await;
    assert!(reverted.contains(&format!("`{v2}` → `{v1}`")), "{reverted}");
    let (t4, fourth) = ask(&w, ALICE, "and again").await;
    assert!(!fourth.contains("clippy"), "{fourth}");
    let job4 = store
        .jobs()
        .unwrap()
        .into_iter()
        .find(|j| j.thread_ts == t4)
        .unwrap();
    assert_eq!(job4.prompt_version.as_deref(), Some(v1.as_str()));

    let list = command(&w, BOB, "amendments coder").await;
    assert!(list.contains("#1 *reverted*"), "{list}");
    let prompt = command(&w, BOB, "prompt coder").await;
    assert!(
        prompt.contains(&format!("version `{v1}`, 0 active amendments")),
        "{prompt}"
    );

    let audit = store.audit().unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|r| r.action.as_str())
        .filter(|a| *a != "job_finished")
        .collect();
    assert_eq!(
        actions,
        vec![
            "amendment_proposed",
            "amendment_adopted",
            "amendment_reverted"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_file_edits_apply_without_restart_and_bad_ones_are_refused() {
    let w = world().await;
    // A bad edit: reported in the admin channel with file, line and field; the last good stays.
    std::fs::write(
        agents_dir(&w).join("coder.md"),
        "---\nname: coder\ndescription: d\nharness: nope\n---\nbroken",
    )
    .unwrap();
    let report = eventually(SECS(10), "a report in the admin channel", || async {
        w.emu
            .channel_messages(ADMIN_CHANNEL)
            .await
            .into_iter()
            .find(|m| m.text.contains("coder.md:4: harness"))
    })
    .await;
    assert!(
        report.text.contains("last good version stays in force"),
        "{}",
        report.text
    );
    let (_, answer) = ask(&w, ALICE, "first").await;
    assert!(answer.contains("You write careful code."), "{answer}");

    // A good edit is used by the next job.
    std::fs::write(
        agents_dir(&w).join("coder.md"),
        coder_file("You write tested code."),
    )
    .unwrap();
    eventually(SECS(10), "the edit in force", || async {
        let (_, answer) = ask(&w, ALICE, "next").await;
        answer.contains("You write tested code.").then_some(())
    })
    .await;
    // A shared fragment edit applies too.
    std::fs::write(
        w.dir.path().join("prompts/shared/style.md"),
        "Answer in full sentences.",
    )
    .unwrap();
    eventually(SECS(10), "the fragment edit in force", || async {
        let (_, answer) = ask(&w, ALICE, "next").await;
        answer.contains("Answer in full sentences.").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_count_only_from_the_requester_and_approvers() {
    let w = world().await;
    let store = w.bot().bot.store();
    let (thread, _) = ask(&w, ALICE, "do the thing").await;
    let result = w
        .bot_replies(&thread)
        .await
        .into_iter()
        .find(|m| m.text.starts_with("PROMPT<<"))
        .unwrap();
    let card = w.bot_replies(&thread).await.into_iter().next().unwrap();
    result_recorded(&w, 1, &result.ts).await;

    // "you" is an admin but neither requester nor approver: no effect.
    w.emu
        .react_as("you", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    eventually(SECS(5), "an explanation", || async {
        w.emu.ephemerals().await.into_iter().find(|e| {
            e.user == "U0YOU00001" && e.text.contains("Only the requester and the approvers")
        })
    })
    .await;
    assert!(store.job(1).unwrap().unwrap().verdict.is_none());

    w.emu
        .react_as("alice", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    eventually(SECS(5), "alice's approval", || async {
        store
            .job(1)
            .unwrap()
            .unwrap()
            .verdict
            .filter(|v| v.approved && v.by == ALICE)
    })
    .await;
    // A second ✅ (from an approver) changes nothing.
    w.emu
        .react_as("bob", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    // Bob's ✅ is taken before alice's removal below is sent.
    eventually(SECS(10), "bob's reaction recorded", || async {
        let job = store.job(1).ok().flatten()?;
        job.reactions
            .iter()
            .any(|r| r.user == BOB && r.name == "white_check_mark" && r.added)
            .then_some(())
    })
    .await;
    assert_eq!(store.job(1).unwrap().unwrap().verdict.unwrap().by, ALICE);
    // Removing the ✅ withdraws it.
    w.emu
        .react_as("alice", CHANNEL, &result.ts, "white_check_mark", false)
        .await
        .unwrap();
    eventually(SECS(5), "the approval withdrawn", || async {
        store
            .job(1)
            .unwrap()
            .unwrap()
            .verdict
            .is_none()
            .then_some(())
    })
    .await;
    // Bob (an approver) rejects.
    w.emu
        .react_as("bob", CHANNEL, &result.ts, "x", true)
        .await
        .unwrap();
    eventually(SECS(5), "bob's rejection", || async {
        store
            .job(1)
            .unwrap()
            .unwrap()
            .verdict
            .filter(|v| !v.approved && v.by == BOB)
    })
    .await;

    // 🔁 on the card re-runs with the current prompt and names both versions.
    w.emu
        .react_as("alice", CHANNEL, &card.ts, "repeat", true)
        .await
        .unwrap();
    let rerun = reply_with(&w, &thread, ":repeat: Re-run of job 1 with prompt").await;
    let v = store.job(1).unwrap().unwrap().prompt_version.unwrap();
    assert!(
        rerun.text.contains(&format!("(job 1 ran with `{v}`)")),
        "{}",
        rerun.text
    );
    // The old result is superseded: reactions on it change nothing.
    w.emu
        .react_as("alice", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    eventually(SECS(5), "a superseded explanation", || async {
        w.emu
            .ephemerals()
            .await
            .into_iter()
            .find(|e| e.user == ALICE && e.text.contains("newer result"))
    })
    .await;
    assert!(store
        .job(1)
        .unwrap()
        .unwrap()
        .verdict
        .is_some_and(|v| !v.approved));

    // Each job's own `job_finished` record is left out here: this is about verdicts.
    let actions: Vec<String> = store
        .audit()
        .unwrap()
        .into_iter()
        .filter(|r| r.action != "job_finished")
        .map(|r| format!("{}:{}", r.action, r.by))
        .collect();
    assert_eq!(
        actions,
        vec![
            "result_approved:U0ALICE001",
            "verdict_withdrawn:U0ALICE001",
            "result_rejected:U0BOB00001",
            "rerun_requested:U0ALICE001"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_matches_the_jobs_run() {
    let w = world().await;
    let (t1, _) = ask(&w, ALICE, "one").await;
    ask(&w, BOB, "two").await;
    let result = w
        .bot_replies(&t1)
        .await
        .into_iter()
        .find(|m| m.text.starts_with("PROMPT<<"))
        .unwrap();
    result_recorded(&w, 1, &result.ts).await;
    w.emu
        .react_as("alice", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    let store = w.bot().bot.store();
    eventually(SECS(5), "the approval", || async {
        store.job(1).unwrap().unwrap().verdict
    })
    .await;

    let text = command(&w, BOB, "agents").await;
    assert!(text.contains("*coder* — Writes code"), "{text}");
    assert!(text.contains("owners <@U0ALICE001>"), "{text}");
    assert!(
        text.contains("last 7 days: 2 runs · success 100% · approval 100%"),
        "{text}"
    );
    assert!(text.contains("0 active amendments"), "{text}");
    assert!(text.contains("|job 2> (succeeded) · <https://"), "{text}");

    w.emu.open_home("bob").await.unwrap();
    let home = eventually(SECS(5), "bob's Home tab", || async {
        w.emu.home("bob").await
    })
    .await;
    let blocks = serde_json::to_string(&home["blocks"]).unwrap();
    assert!(blocks.contains("last 7 days: 2 runs"), "{blocks}");
}

#[test]
fn shipped_prompts_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let dirs = threadwork::prompts::PromptDirs {
        agents: dir.join("agents"),
        shared: dir.join("shared"),
    };
    let registry = threadwork::prompts::Registry::load(&dirs, &["scripted"]).unwrap();
    assert!(registry.agents.contains_key("default"));
}
