//! Agents that run on their own: schedules on a clock set by hand (no real waiting for the
//! time of day), triggers on an alert bot's messages, and who may run a schedule at once.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use threadwork::emulator::state::{Message, BOT_USER_ID, OTHER_BOT_USER_ID};
use threadwork::emulator::EmulatorConfig;
use threadwork::job::Origin;
use threadwork::schedules::clock::ManualClock;

use crate::common::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const ALICE: &str = "U0ALICE001";

const DEFAULT: &str =
    "---\nname: default\ndescription: General\nharness: scripted\n---\nYou help.\n";

fn digest(header: &str) -> String {
    format!("---\nname: digest\ndescription: Posts digests\nharness: scripted\nowners: [{ALICE}]\n{header}\n---\nYou summarise.\n")
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

async fn world(agent: &str) -> World {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.use_agents(&[("default.md", DEFAULT), ("digest.md", agent)]);
    w
}

/// Waits until the schedules loop plans `schedule`'s next run at `at`.
async fn planned_at(w: &World, schedule: &str, at: DateTime<Utc>) {
    eventually(
        SECS(10),
        &format!("`{schedule}` planned at {at}"),
        || async {
            w.bot()
                .bot
                .planned()
                .iter()
                .any(|p| p.schedule == schedule && p.next == Some(at))
                .then_some(())
        },
    )
    .await
}

/// The bot's top-level messages announcing a scheduled run, oldest first.
async fn scheduled_posts(w: &World) -> Vec<Message> {
    w.emu
        .channel_messages(CHANNEL)
        .await
        .into_iter()
        .filter(|m| m.user == BOT_USER_ID && m.thread_ts.is_none())
        .filter(|m| m.text.contains("Scheduled: `"))
        .collect()
}

/// Waits for a bot reply in the thread, the first one included (a command's answer or a
/// refusal is not a card).
async fn said(w: &World, ts: &str, what: &str, pred: impl Fn(&Message) -> bool) -> Message {
    eventually(SECS(10), what, || async {
        w.bot_replies(ts).await.into_iter().find(|m| pred(m))
    })
    .await
}

fn automated_jobs(w: &World) -> Vec<threadwork::job::Job> {
    w.bot()
        .bot
        .store()
        .jobs()
        .unwrap()
        .into_iter()
        .filter(|j| j.origin.is_some())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_schedule_keeps_its_wall_clock_time_across_a_dst_change() {
    let header = format!("schedule:\n  - name: weekly\n    cron: \"0 9 * * MON\"\n    timezone: Europe/Berlin\n    channel: {CHANNEL}\n    task: post the weekly digest");
    let mut w = world(&digest(&header)).await;
    // Monday 2027-03-22, an hour before 09:00 in Berlin (UTC+1).
    let clock = ManualClock::new(utc(2027, 3, 22, 7, 0));
    w.start_bot_at(scripted(script("digest posted", 10)), None, clock.clone())
        .await;
    planned_at(&w, "weekly", utc(2027, 3, 22, 8, 0)).await;
    clock.set(utc(2027, 3, 22, 7, 59));
    w.settle().await;
    assert!(scheduled_posts(&w).await.is_empty(), "nothing before 09:00");

    clock.set(utc(2027, 3, 22, 8, 0));
    let first = eventually(SECS(10), "the first scheduled run", || async {
        scheduled_posts(&w).await.into_iter().next()
    })
    .await;
    assert!(
        first.text.contains("Scheduled: `weekly` — agent `digest`"),
        "{}",
        first.text
    );
    wait_reply(&w, &first.ts, SECS(10), |m| m.text == "digest posted").await;

    // Europe moves to summer time on 2027-03-28: 09:00 in Berlin is now 07:00 UTC.
    planned_at(&w, "weekly", utc(2027, 3, 29, 7, 0)).await;
    clock.set(utc(2027, 3, 29, 7, 0));
    eventually(SECS(10), "the second scheduled run", || async {
        (scheduled_posts(&w).await.len() == 2).then_some(())
    })
    .await;
    w.settle().await;
    let jobs = automated_jobs(&w);
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].requester, ALICE, "accounted to the owner");
    assert_eq!(
        jobs[1].origin,
        Some(Origin::Schedule {
            name: "weekly".into(),
            due: utc(2027, 3, 29, 7, 0)
        })
    );
    let audit = w.bot().bot.store().audit().unwrap();
    let runs: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "scheduled_run")
        .collect();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("schedule `weekly`")));
    let finished: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "job_finished")
        .collect();
    assert!(
        finished
            .iter()
            .all(|r| r.chain.as_ref().is_some_and(|c| c.origin.is_some())),
        "the job's audit chain names its schedule"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_still_going_when_the_next_is_due_is_not_doubled() {
    let header = format!("schedule:\n  - name: often\n    cron: \"*/5 * * * *\"\n    channel: {CHANNEL}\n    task: check things");
    let mut w = world(&digest(&header)).await;
    let clock = ManualClock::new(utc(2027, 1, 4, 10, 1));
    // The run takes (real) minutes unless stopped.
    w.start_bot_at(scripted(script("checked", 120_000)), None, clock.clone())
        .await;
    planned_at(&w, "often", utc(2027, 1, 4, 10, 5)).await;
    clock.set(utc(2027, 1, 4, 10, 5));
    let post = eventually(SECS(10), "the scheduled run", || async {
        scheduled_posts(&w).await.into_iter().next()
    })
    .await;
    eventually(SECS(10), "the run is going", || async {
        automated_jobs(&w)
            .first()
            .filter(|j| j.state == threadwork::job::JobState::Running)
            .map(|_| ())
    })
    .await;

    clock.set(utc(2027, 1, 4, 10, 10));
    wait_reply(&w, &post.ts, SECS(10), |m| {
        m.text.contains("The run of `often` due")
            && m.text
                .contains("was skipped: this one (job 1) is still going")
    })
    .await;
    planned_at(&w, "often", utc(2027, 1, 4, 10, 15)).await;
    assert_eq!(scheduled_posts(&w).await.len(), 1, "no second run");
    assert_eq!(automated_jobs(&w).len(), 1);
    // Nor by hand, while it goes.
    let asked = w.mention("run digest now").await;
    said(&w, &asked, "run-now refused", |m| {
        m.text == "`often`'s last run (job 1) is still going; nothing was started."
    })
    .await;
    assert_eq!(automated_jobs(&w).len(), 1);

    // The owner stops it from the thread.
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> stop"),
            Some(&post.ts),
        )
        .await
        .unwrap();
    w.settle().await;
    assert!(automated_jobs(&w)[0].state.is_terminal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_catch_up_once_runs_one_missed_run_and_skip_runs_none() {
    let header = format!("schedule:\n  - name: nightly\n    cron: \"0 6 * * *\"\n    channel: {CHANNEL}\n    task: nightly check\n    catch_up: once\n  - name: noon\n    cron: \"0 12 * * *\"\n    channel: {CHANNEL}\n    task: noon check\n    catch_up: skip");
    let mut w = world(&digest(&header)).await;
    let clock = ManualClock::new(utc(2027, 5, 3, 5, 0));
    w.start_bot_at(scripted(script("checked", 10)), None, clock.clone())
        .await;
    planned_at(&w, "nightly", utc(2027, 5, 3, 6, 0)).await;
    planned_at(&w, "noon", utc(2027, 5, 3, 12, 0)).await;
    w.bot.take().unwrap().stop().await;

    // Down for three days: three nightly and three noon runs missed.
    clock.set(utc(2027, 5, 6, 13, 0));
    w.start_bot_at(scripted(script("checked", 10)), None, clock.clone())
        .await;
    planned_at(&w, "nightly", utc(2027, 5, 7, 6, 0)).await;
    planned_at(&w, "noon", utc(2027, 5, 7, 12, 0)).await;
    w.settle().await;
    let posts = scheduled_posts(&w).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].text.contains("Scheduled: `nightly`") && posts[0].text.contains("caught up"),
        "{}",
        posts[0].text
    );
    wait_reply(&w, &posts[0].ts, SECS(10), |m| m.text == "checked").await;
    let skipped = w
        .bot()
        .bot
        .store()
        .audit()
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "scheduled_run_skipped")
        .count();
    assert_eq!(skipped, 1, "the missed noon run is recorded as skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_prompt_file_moves_the_schedule_without_a_restart() {
    let header = |cron: &str| {
        format!("schedule:\n  - name: daily\n    cron: \"{cron}\"\n    channel: {CHANNEL}\n    task: daily check")
    };
    let mut w = world(&digest(&header("0 9 * * *"))).await;
    let clock = ManualClock::new(utc(2027, 6, 1, 8, 0));
    w.start_bot_at(scripted(script("checked", 10)), None, clock.clone())
        .await;
    planned_at(&w, "daily", utc(2027, 6, 1, 9, 0)).await;
    std::fs::write(
        w.config.agents.dir.join("digest.md"),
        digest(&header("30 8 * * *")),
    )
    .unwrap();
    planned_at(&w, "daily", utc(2027, 6, 1, 8, 30)).await;
    clock.set(utc(2027, 6, 1, 8, 30));
    let post = eventually(SECS(10), "the run at the new time", || async {
        scheduled_posts(&w).await.into_iter().next()
    })
    .await;
    wait_reply(&w, &post.ts, SECS(10), |m| m.text == "checked").await;

    // Two days on (the 08:30 of 2 June passed while the clock jumped: skipped), the time
    // moves to 09:00 with `catch_up: once`. Today's 09:00 has passed, but it was never due
    // under the old expression: nothing runs until tomorrow.
    clock.set(utc(2027, 6, 3, 10, 0));
    planned_at(&w, "daily", utc(2027, 6, 4, 8, 30)).await;
    let edited = header("0 9 * * *") + "\n    catch_up: once";
    std::fs::write(w.config.agents.dir.join("digest.md"), digest(&edited)).unwrap();
    planned_at(&w, "daily", utc(2027, 6, 4, 9, 0)).await;
    w.settle().await;
    assert_eq!(
        scheduled_posts(&w).await.len(),
        1,
        "no run for an instant the old expression never had"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_storm_starts_one_job_per_key_within_the_hourly_limit() {
    let header = format!("triggers:\n  - name: alerts\n    channels: [{CHANNEL}]\n    pattern: \"^ALERT (?P<service>[a-z]+)\"\n    key: service\n    from: [B0OTHERBOT]\n    task: Look into this alert.\nmax_runs_per_hour: 2");
    let mut w = world(&digest(&header)).await;
    w.config.slack.allowed_bots = vec![OTHER_BOT_USER_ID.to_string()];
    let clock = ManualClock::new(utc(2027, 2, 1, 3, 0));
    w.start_bot_at(scripted(script("looked", 10)), None, clock.clone())
        .await;

    let mut db = Vec::new();
    for i in 0..10 {
        db.push(
            w.emu
                .post_as("otherbot", CHANNEL, &format!("ALERT db down ({i})"), None)
                .await
                .unwrap(),
        );
    }
    // Not from the alerting bot, and not matching: nothing.
    w.emu
        .post_as("bob", CHANNEL, "ALERT web down", None)
        .await
        .unwrap();
    w.emu
        .post_as("otherbot", CHANNEL, "all good now", None)
        .await
        .unwrap();
    w.settle().await;
    let jobs = automated_jobs(&w);
    assert_eq!(jobs.len(), 1, "ten alerts for one key start one job");
    // Two sockets deliver in either order: the job runs in the thread of the alert handled
    // first, and its task carries that alert.
    let first = db
        .iter()
        .position(|ts| *ts == jobs[0].thread_ts)
        .expect("the job runs in one alert's thread");
    assert_eq!(jobs[0].request_ts, db[first]);
    assert_eq!(jobs[0].requester, ALICE);
    assert!(
        jobs[0].task.starts_with("Look into this alert.")
            && jobs[0].task.contains(&format!("ALERT db down ({first})")),
        "{}",
        jobs[0].task
    );
    assert_eq!(
        jobs[0].origin,
        Some(Origin::Trigger {
            name: "alerts".into(),
            by: OTHER_BOT_USER_ID.into()
        })
    );
    wait_reply(&w, &db[first], SECS(10), |m| m.text == "looked").await;

    // Other keys run, up to the agent's two runs an hour.
    let cache = w
        .emu
        .post_as("otherbot", CHANNEL, "ALERT cache down", None)
        .await
        .unwrap();
    let queue = w
        .emu
        .post_as("otherbot", CHANNEL, "ALERT queue down", None)
        .await
        .unwrap();
    // Two sockets deliver events in either order: one runs, the other is refused.
    w.settle().await;
    let mut outcomes = Vec::new();
    for ts in [&cache, &queue] {
        let replies: Vec<String> = w
            .bot_replies(ts)
            .await
            .into_iter()
            .map(|m| m.text)
            .collect();
        let ran = replies.iter().any(|t| t == "looked");
        let refused = replies
            .iter()
            .any(|t| t.contains("`digest` has started 2 runs on its own in the last hour"));
        assert!(ran != refused, "{replies:?}");
        outcomes.push(ran);
    }
    assert_eq!(
        outcomes.iter().filter(|r| **r).count(),
        1,
        "one more run fits the hour"
    );
    assert_eq!(automated_jobs(&w).len(), 2);

    // After the debounce window and the hour, the same key fires again.
    clock.set(utc(2027, 2, 1, 4, 1));
    let again = w
        .emu
        .post_as("otherbot", CHANNEL, "ALERT db down again", None)
        .await
        .unwrap();
    wait_reply(&w, &again, SECS(10), |m| m.text == "looked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_and_admins_run_a_schedule_now() {
    let header = format!("schedule:\n  - name: weekly\n    cron: \"0 9 * * MON\"\n    channel: {CHANNEL}\n    task: post the weekly digest");
    let mut w = world(&digest(&header)).await;
    let clock = ManualClock::new(utc(2027, 3, 23, 12, 0));
    w.start_bot_at(scripted(script("digest posted", 10)), None, clock.clone())
        .await;
    planned_at(&w, "weekly", utc(2027, 3, 29, 9, 0)).await;

    let asked = w
        .emu
        .post_as(
            "bob",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> run digest now"),
            None,
        )
        .await
        .unwrap();
    w.settle().await;
    assert!(automated_jobs(&w).is_empty(), "bob owns nothing");
    let told = w.emu.ephemerals().await;
    assert!(
        told.iter()
            .any(|e| e.user == "U0BOB00001" && e.text.contains("Only an owner of `digest`")),
        "{told:?}"
    );
    assert!(scheduled_posts(&w).await.is_empty());
    let _ = asked;

    let listing = w.mention("schedules").await;
    let reply = said(&w, &listing, "the schedules list", |m| {
        m.text.contains("Agents that run on their own")
    })
    .await;
    assert!(
        reply
            .text
            .contains("schedule `weekly`: `0 9 * * MON` (UTC)"),
        "{}",
        reply.text
    );
    // The emulator's users are in Europe/London: 09:00 UTC on 2027-03-29 is 10:00 BST.
    assert!(
        reply.text.contains("next Mon 2027-03-29 10:00 BST"),
        "{}",
        reply.text
    );

    let asked = w.mention("run digest now").await;
    said(&w, &asked, "the run-now answer", |m| {
        m.text.starts_with("Started job 1 for `weekly`")
    })
    .await;
    let post = eventually(SECS(10), "the run", || async {
        scheduled_posts(&w).await.into_iter().next()
    })
    .await;
    assert!(
        post.text.contains("run now by <@U0ALICE001>"),
        "{}",
        post.text
    );
    wait_reply(&w, &post.ts, SECS(10), |m| m.text == "digest posted").await;
    // The schedule keeps counting from where it was: its next run does not move.
    let mark = w
        .bot()
        .bot
        .store()
        .mark("schedule/digest/weekly")
        .unwrap()
        .unwrap();
    assert_eq!(mark.at, utc(2027, 3, 23, 12, 0));
    assert_eq!(
        mark.job,
        Some(1),
        "the run-now job is the schedule's last run"
    );
    // Once that run has ended, the schedule may run again.
    let again = w.mention("run digest weekly now").await;
    said(&w, &again, "the second run-now", |m| {
        m.text.starts_with("Started job 2 for `weekly`")
    })
    .await;
    // `run tests repo=acme/web now` stays a task with its option.
    let with_option = w.mention("run tests repo=acme/web now").await;
    said(&w, &with_option, "a task's refusal", |m| {
        m.text.contains("acme/web")
    })
    .await;

    // `run the tests now` names no agent: it is a task.
    let task = w.mention("run the tests now").await;
    wait_reply(&w, &task, SECS(10), |m| m.text == "digest posted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_people_who_may_use_the_agent_fire_its_triggers() {
    let header = format!("users: [{ALICE}, U0BOB00001, U0GUEST001, U0EXTERN01]\ntriggers:\n  - name: help\n    channels: [{CHANNEL}]\n    pattern: \"^HELP\"\n    debounce_secs: 0");
    let mut w = world(&digest(&header)).await;
    w.config.agents.allow_guests = false;
    let clock = ManualClock::new(utc(2027, 2, 1, 3, 0));
    w.start_bot_at(scripted(script("helped", 10)), None, clock.clone())
        .await;
    w.emu
        .post_as("gina", CHANNEL, "HELP from a guest", None)
        .await
        .unwrap();
    w.emu
        .post_as("xavier", CHANNEL, "HELP from a partner", None)
        .await
        .unwrap();
    w.settle().await;
    let jobs = automated_jobs(&w);
    let fired: Vec<_> = jobs.iter().map(|j| (&j.origin, &j.task)).collect();
    assert!(
        jobs.is_empty(),
        "a guest and a Slack Connect partner fire nothing: {fired:?}"
    );
    // Not among the agent's `users:`: the trigger is not theirs to fire either.
    w.emu
        .post_as("you", CHANNEL, "HELP from someone else", None)
        .await
        .unwrap();
    w.settle().await;
    assert!(
        automated_jobs(&w).is_empty(),
        "a member outside `users:` fires nothing"
    );
    let bob = w
        .emu
        .post_as("bob", CHANNEL, "HELP from a member", None)
        .await
        .unwrap();
    wait_reply(&w, &bob, SECS(10), |m| m.text == "helped").await;
    let jobs = automated_jobs(&w);
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].requester, ALICE,
        "accounted to the owner, not the poster"
    );
}
