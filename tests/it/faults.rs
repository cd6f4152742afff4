//! Fault injection through the emulator's controls. Every case asserts on the final thread state
//! and on the store, never on logs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::{Emulator, EmulatorConfig, Faults};
use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
use threadwork::harness::{Harness, HarnessEvent};
use threadwork::job::JobState;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const CHANNELS: [&str; 3] = ["C0GENERAL1", "C0RANDOM01", "C0DEV00001"];

/// A bot without outbound pacing limits to speak of, so a large run finishes quickly.
async fn fast_world(emu: EmulatorConfig) -> World {
    let mut w = World::new(emu).await;
    w.config.slack.limits.post_per_minute = 600_000;
    w.config.slack.limits.post_burst = 1000;
    w.config.slack.limits.update_per_minute = 600_000;
    w.config.slack.limits.update_burst = 1000;
    w.config.slack.limits.tier3_per_minute = 600_000;
    w.config.slack.limits.tier4_per_minute = 600_000;
    w.config.jobs.max_running = 16;
    w.config.jobs.per_channel = 8;
    w
}

fn instant(answer: &str) -> HashMap<String, Arc<dyn Harness>> {
    scripted(vec![step(
        0,
        HarnessEvent::Finished {
            answer: answer.into(),
        },
    )])
}

/// Cuts the bot's sockets with fault number `i` (a drop without a close frame, or one of
/// Slack's `disconnect` messages) and waits until the bot has opened a new socket for each one
/// cut. The faults are placed by count in the event stream and the next one waits for the
/// bot's reconnect, so every fault lands on a connected bot however fast the machine is.
async fn fault_and_reconnect(emu: &Emulator, i: usize) {
    let live = emu.live_connection_count().await as u64;
    let opened = emu.stats().await.connections_opened;
    match i % 4 {
        0 | 2 => emu.drop_sockets().await,
        1 => emu.send_disconnect("warning").await,
        _ => emu.send_disconnect("refresh_requested").await,
    }
    eventually(
        SECS(30),
        &format!("the bot reconnects after fault {i}"),
        || async {
            let reopened = emu.stats().await.connections_opened >= opened + live;
            (reopened && emu.live_connection_count().await as u64 >= live).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_drops_and_disconnects_during_2000_events_lose_and_double_nothing() {
    let mut w = fast_world(EmulatorConfig {
        ack_timeout: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    w.start_bot(instant("handled")).await;
    assert!(
        w.emu.wait_for_connections(1, SECS(20)).await,
        "bot connected"
    );

    // 2,000 events: 400 mentions, and 4 thread replies in each thread (kept with its job).
    // 100 faults among them, one after every 8th mention and every 8th thread's replies.
    let mut faults = 0;
    let mut threads = Vec::new();
    for i in 0..400 {
        let channel = CHANNELS[i % 3];
        let ts = w
            .emu
            .post_as(
                "alice",
                channel,
                &format!("<@{BOT_USER_ID}> task {i}"),
                None,
            )
            .await
            .unwrap();
        threads.push((channel, ts));
        if i % 8 == 7 {
            fault_and_reconnect(&w.emu, faults).await;
            faults += 1;
        }
    }
    let store = w.bot().bot.store();
    // Replies count only once the thread is a job's, so wait for each job before replying.
    for (n, (channel, ts)) in threads.iter().enumerate() {
        eventually(SECS(90), "the job exists", || async {
            store.job_for_thread(channel, ts).unwrap()
        })
        .await;
        for r in 0..4 {
            w.emu
                .post_as("bob", channel, &format!("reply {r} to task {n}"), Some(ts))
                .await
                .unwrap();
        }
        if n % 8 == 7 {
            fault_and_reconnect(&w.emu, faults).await;
            faults += 1;
        }
    }
    assert_eq!(faults, 100);

    eventually(
        SECS(120),
        "every job finished and every reply kept",
        || async {
            let jobs = store.jobs().unwrap();
            let done = jobs.len() == 400
                && jobs
                    .iter()
                    .all(|j| j.state == JobState::Succeeded && j.terminal_posted)
                && jobs.iter().map(|j| j.thread_replies.len()).sum::<usize>() == 1600;
            done.then_some(())
        },
    )
    .await;
    // Redeliveries may still be on their way: look for doubles only once the emulator has
    // nothing left to deliver.
    eventually(SECS(60), "every event delivered or given up", || async {
        (w.emu.deliveries_in_flight() == 0).then_some(())
    })
    .await;
    let jobs = store.jobs().unwrap();
    assert_eq!(jobs.len(), 400, "one job per mention");
    for (channel, ts) in &threads {
        let thread = w.emu.thread(channel, ts).await;
        let bot: Vec<_> = thread.iter().filter(|m| m.user == BOT_USER_ID).collect();
        assert_eq!(
            bot.len(),
            2,
            "one card and one answer in {channel}/{ts}: {:?}",
            bot.iter().map(|m| &m.text).collect::<Vec<_>>()
        );
        let job = jobs.iter().find(|j| &j.thread_ts == ts).unwrap();
        assert_eq!(job.thread_replies.len(), 4, "each reply kept once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_three_times_across_two_sockets_makes_one_job_each() {
    let mut w = fast_world(EmulatorConfig::default()).await;
    w.start_bot(instant("once")).await;
    w.emu
        .set_faults(Faults {
            ignore_acks_ms: 0,
            duplicates: 2,
            ..Default::default()
        })
        .await;
    let mut threads = Vec::new();
    for i in 0..30 {
        threads.push(
            w.emu
                .post_as(
                    "alice",
                    CHANNELS[i % 3],
                    &format!("<@{BOT_USER_ID}> dup {i}"),
                    None,
                )
                .await
                .unwrap(),
        );
    }
    let store = w.bot().bot.store();
    eventually(SECS(30), "30 jobs done", || async {
        let jobs = store.jobs().unwrap();
        (jobs.len() == 30 && jobs.iter().all(|j| j.terminal_posted)).then_some(())
    })
    .await;
    // The copies still on their way must not make a second job either.
    eventually(SECS(60), "every copy delivered", || async {
        (w.emu.deliveries_in_flight() == 0).then_some(())
    })
    .await;
    assert_eq!(store.jobs().unwrap().len(), 30);
    for (i, ts) in threads.iter().enumerate() {
        assert_eq!(
            w.emu
                .thread(CHANNELS[i % 3], ts)
                .await
                .iter()
                .filter(|m| m.user == BOT_USER_ID)
                .count(),
            2
        );
    }
    assert!(
        w.emu.stats().await.envelopes_sent >= 30 * 2 * 3,
        "each event was sent three times"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_delays_every_answer_but_loses_none_and_keeps_order() {
    let long: String = (0..3)
        .map(|p| {
            format!(
                "Part {p}. {}",
                "Every sentence here is part of a long answer. "
                    .repeat(80)
                    .trim_end()
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut w = fast_world(EmulatorConfig::default()).await;
    // Armed before the first mention: 5 cards and 15 parts make 20 posts, so all 12 limited
    // answers are served whatever the machine's speed.
    w.emu.force_ratelimited("chat.postMessage", 12, 1).await;
    w.emu.force_ratelimited("chat.update", 12, 1).await;
    w.start_bot(scripted(vec![step(
        300,
        HarnessEvent::Finished {
            answer: long.clone(),
        },
    )]))
    .await;
    let mut threads = Vec::new();
    for i in 0..5 {
        threads.push(
            w.emu
                .post_as(
                    "alice",
                    CHANNELS[i % 3],
                    &format!("<@{BOT_USER_ID}> storm {i}"),
                    None,
                )
                .await
                .unwrap(),
        );
    }
    for (i, ts) in threads.iter().enumerate() {
        let parts = eventually(SECS(60), "all parts of the answer", || async {
            let thread = w.emu.thread(CHANNELS[i % 3], ts).await;
            let parts: Vec<String> = thread
                .into_iter()
                .filter(|m| m.user == BOT_USER_ID)
                .skip(1)
                .map(|m| m.text)
                .collect();
            (parts.len() >= 3).then_some(parts)
        })
        .await;
        assert_eq!(
            parts.join("\n\n"),
            long,
            "the parts arrived whole and in order"
        );
    }
    let stats = w.emu.stats().await;
    assert_eq!(stats.ratelimited.get("chat.postMessage"), Some(&12));
}

fn sh(script: &str, mode: OutputMode) -> Arc<dyn Harness> {
    Arc::new(CommandHarness::new(CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        mode,
        env: Default::default(),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_faults_end_with_clear_messages() {
    // Pacing is not under test here: the flood's answer is ten messages.
    let mut w = fast_world(EmulatorConfig::default()).await;
    // Long enough that a loaded machine's slow spawn of the other four is not "idle".
    w.config.jobs.idle_timeout_secs = 5;
    w.config.jobs.max_running = 8;
    w.config.jobs.per_channel = 8;
    let harnesses: HashMap<String, Arc<dyn Harness>> = HashMap::from([
        ("scripted".to_string(), sh("case \"$THREADWORK_TASK\" in crash*) echo '{\"type\":\"started\"}'; echo dying >&2; exit 3;; hang*) echo '{\"type\":\"tool_started\",\"name\":\"bash\",\"summary\":\"sleep\"}'; sleep 60;; utf8*) printf '\\377\\376 not json\\n';; wide*) head -c 1048576 /dev/zero | tr '\\0' 'a'; echo;; esac", OutputMode::Json)),
        ("text".to_string(), sh("head -c 10485760 /dev/zero | tr '\\0' 'a' | fold -w 100", OutputMode::Text)),
    ]);
    w.start_bot(harnesses).await;
    let ask = |text: &'static str| {
        let emu = w.emu.clone();
        async move {
            emu.post_as("alice", CHANNEL, &format!("<@{BOT_USER_ID}> {text}"), None)
                .await
                .unwrap()
        }
    };
    let crash = ask("crash now").await;
    let hang = ask("hang forever").await;
    let utf8 = ask("utf8 garbage").await;
    let wide = ask("wide line").await;
    let flood = ask("flood harness=text").await;

    let m = wait_reply(&w, &crash, SECS(15), |m| m.text.contains("failed")).await;
    assert!(
        m.text.contains("exited with status 3") && m.text.contains("dying"),
        "{}",
        m.text
    );
    let m = wait_reply(&w, &hang, SECS(30), |m| m.text.contains("failed")).await;
    assert!(
        m.text.contains("reported nothing for 5s (the idle limit)")
            && m.text.contains("bash: sleep"),
        "{}",
        m.text
    );
    let m = wait_reply(&w, &utf8, SECS(15), |m| m.text.contains("failed")).await;
    assert!(
        m.text.contains("malformed line 1") && m.text.contains('\u{fffd}'),
        "{}",
        m.text
    );
    let m = wait_reply(&w, &wide, SECS(15), |m| m.text.contains("failed")).await;
    assert!(m.text.contains("longer than 262144 bytes"), "{}", m.text);
    let notice = wait_reply(&w, &flood, SECS(30), |m| m.text.contains(":scissors:")).await;
    assert!(notice.text.contains("the first"), "{}", notice.text);
    let parts = w.bot_replies(&flood).await.len() - 1;
    assert!(
        parts <= 11,
        "a 10 MB answer is cut to a few messages, not {parts}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_get_clear_replies() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.start_bot(instant("survived")).await;
    let post = |text: String| {
        let emu = w.emu.clone();
        async move { emu.post_as("alice", CHANNEL, &text, None).await.unwrap() }
    };
    let first_reply = |ts: String| {
        let w = &w;
        async move {
            eventually(SECS(10), "a reply", || async {
                w.bot_replies(&ts).await.into_iter().next()
            })
            .await
            .text
        }
    };
    let bot = format!("<@{BOT_USER_ID}>");

    // 10,000 options.
    let many = format!(
        "{bot} go {}",
        (0..10_000)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = first_reply(post(many).await).await;
    assert!(r.contains("unknown option `k0`"), "{r}");
    // A huge unknown key is quoted short.
    let r = first_reply(post(format!("{bot} go {}=1", "x".repeat(30_000))).await).await;
    assert!(
        r.contains("unknown option `xxxx") && r.chars().count() < 1000,
        "{} chars",
        r.chars().count()
    );
    // A zero-width character cannot hide an option name.
    let r = first_reply(post(format!("{bot} go mod\u{200b}le=x")).await).await;
    assert!(r.contains("unknown option `modle`"), "{r}");
    // Nested and broken markup is text, not a crash.
    let ts = post(format!(
        "{bot} <<<@U0BOB00001>|<#C0DEV00001|dev>>> <https://x|<b>> &amp;lt;"
    ))
    .await;
    assert_eq!(
        first_reply(ts.clone())
            .await
            .lines()
            .next()
            .map(|l| l.starts_with("*Job")),
        Some(true)
    );
    wait_reply(&w, &ts, SECS(10), |m| m.text == "survived").await;
    // A mention storm is one request.
    let ts = post(format!("{} fix it {}", bot.repeat(50), bot.repeat(50))).await;
    wait_reply(&w, &ts, SECS(10), |m| m.text == "survived").await;
    // Only mentions: told what to do.
    let r = first_reply(post(format!("{bot} \u{200b} ")).await).await;
    assert!(r.contains("there is no task"), "{r}");
    // Near Slack's size limit: still one job and an answer.
    let ts = post(format!("{bot} {}", "summarise this. ".repeat(2400))).await;
    wait_reply(&w, &ts, SECS(10), |m| m.text == "survived").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_agents_and_the_per_user_limit() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.use_agents(&[
        ("default.md", "---\nname: default\ndescription: open\nharness: scripted\nowners: [U0ALICE001]\n---\nYou help."),
        ("deploy.md", "---\nname: deploy\ndescription: restricted\nharness: scripted\nowners: [U0ALICE001]\nusers: [U0ALICE001]\nchannels: [C0DEV00001]\n---\nYou deploy."),
    ]);
    w.config.jobs.per_user_per_hour = 2;
    w.start_bot(instant("ok")).await;
    let ask = |user: &'static str, channel: &'static str, text: &'static str| {
        let emu = w.emu.clone();
        async move {
            emu.post_as(user, channel, &format!("<@{BOT_USER_ID}> {text}"), None)
                .await
                .unwrap()
        }
    };
    let reply = |channel: &'static str, ts: String| {
        let w = &w;
        async move {
            eventually(SECS(10), "a reply", || async {
                w.emu
                    .thread(channel, &ts)
                    .await
                    .into_iter()
                    .find(|m| m.user == BOT_USER_ID)
            })
            .await
            .text
        }
    };
    let r = reply(
        "C0DEV00001",
        ask("bob", "C0DEV00001", "ship it agent=deploy").await,
    )
    .await;
    assert!(
        r.contains("agent `deploy` is restricted to some users"),
        "{r}"
    );
    let r = reply(
        "C0GENERAL1",
        ask("alice", "C0GENERAL1", "ship it agent=deploy").await,
    )
    .await;
    assert!(r.contains("does not run in this channel"), "{r}");
    let r = reply(
        "C0DEV00001",
        ask("alice", "C0DEV00001", "ship it agent=deploy").await,
    )
    .await;
    assert!(r.starts_with("*Job"), "{r}");
    // Bob cannot adopt or revert: he is told so, privately.
    ask("bob", "C0GENERAL1", "remember agent=default: be terse").await;
    eventually(SECS(10), "the proposal", || async {
        w.bot().bot.store().amendment("default", 1).unwrap()
    })
    .await;
    ask("bob", "C0GENERAL1", "adopt default 1").await;
    eventually(SECS(10), "an ephemeral refusal", || async {
        w.emu
            .ephemerals()
            .await
            .into_iter()
            .find(|e| e.user == "U0BOB00001" && e.text.contains("Only the owners of `default`"))
    })
    .await;
    assert_eq!(
        w.bot()
            .bot
            .store()
            .amendment("default", 1)
            .unwrap()
            .unwrap()
            .status,
        threadwork::amendments::AmendmentStatus::Proposed
    );

    // Alice has used one of her two jobs this hour; the third is refused with a time.
    reply("C0GENERAL1", ask("alice", "C0GENERAL1", "second").await).await;
    let r = reply("C0GENERAL1", ask("alice", "C0GENERAL1", "third").await).await;
    assert!(r.contains("the most one person may. Try again in"), "{r}");
    assert_eq!(w.bot().bot.store().jobs().unwrap().len(), 2);
}

// Guards: a reaction on the bot's message counts even when it arrives before the bot has
// recorded what that message is (Slack's answer to the post is slow; events are not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_that_overtakes_the_answer_to_the_post_still_counts() {
    let mut w = fast_world(EmulatorConfig::default()).await;
    w.start_bot(instant("quick answer")).await;
    w.emu
        .set_faults(Faults {
            slow_post_answer_ms: 700,
            ..Default::default()
        })
        .await;
    // The requester approves the answer the instant it exists in the workspace.
    let mut changes = w.emu.subscribe();
    let emu = w.emu.clone();
    let approver = tokio::spawn(async move {
        loop {
            if let Ok(threadwork::emulator::Change::Posted { message }) = changes.recv().await {
                if message.text == "quick answer" {
                    emu.react_as("alice", CHANNEL, &message.ts, "white_check_mark", true)
                        .await
                        .unwrap();
                    return;
                }
            }
        }
    });
    let ts = w.mention("approve me fast").await;
    tokio::time::timeout(SECS(30), approver)
        .await
        .expect("the answer was posted")
        .unwrap();
    let store = w.bot().bot.store();
    let id = store.job_for_thread(CHANNEL, &ts).unwrap().unwrap();
    let verdict = eventually(SECS(30), "the approval counted", || async {
        store.job(id).unwrap().and_then(|j| j.verdict)
    })
    .await;
    assert!(
        verdict.approved && verdict.by == "U0ALICE001",
        "{verdict:?}"
    );
}

/// A tmpfs mounted at `dir`, `mb` megabytes, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` where this process may not mount (not root): the caller skips, except in CI
    /// as root, where a mount that fails is a failure.
    fn mount(dir: &std::path::Path, mb: u32) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        let root = unsafe { libc::geteuid() } == 0;
        assert!(
            ok || !(root && std::env::var("CI").is_ok()),
            "cannot mount a tmpfs as root"
        );
        ok.then(|| Self(dir.to_path_buf()))
    }

    /// Fills what is left with one file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A full disk under the store: a mention gets a reply saying its request was not recorded
/// (and nothing started), the failure is counted in a metric, and the bot goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_told_in_the_thread_and_counted() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let Some(disk) = SmallDisk::mount(&w.dir.path().join("disk"), 16) else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root)");
        return;
    };
    w.config.store.path = w.dir.path().join("disk/store");
    w.start_bot(scripted(script("stored fine", 10))).await;
    let ts = w.mention("before the disk fills").await;
    wait_reply(&w, &ts, Duration::from_secs(20), |m| {
        m.text.contains("stored fine")
    })
    .await;
    w.settle().await;

    disk.fill();
    let ts = w.mention("after the disk filled").await;
    // The request is refused outright, or its job stops where the store failed: either
    // way the thread says so.
    let told = eventually(Duration::from_secs(30), "the thread told", || async {
        w.bot_replies(&ts).await.into_iter().find(|m| {
            m.text.contains("could not record this") || m.text.contains("could not go on")
        })
    })
    .await;
    assert!(told.text.contains("storage is failing"), "{}", told.text);
    assert!(
        !w.bot_replies(&ts)
            .await
            .iter()
            .any(|m| m.text.contains("stored fine")),
        "nothing ran"
    );
    assert!(w.bot().metrics.store_failures.get() >= 1);
    let rendered = w.bot().metrics.render();
    assert!(
        rendered.contains("threadwork_store_failures_total"),
        "{rendered}"
    );
    // The bot is not stuck: sled refuses every write after an I/O error (until a restart),
    // and each later mention is answered with the same plain words.
    let again = w.mention("and once more").await;
    eventually(Duration::from_secs(20), "the next mention told", || async {
        w.bot_replies(&again)
            .await
            .into_iter()
            .find(|m| m.text.contains("storage is failing"))
    })
    .await;
    w.bot.take().unwrap().stop().await;
    drop(disk);
}
