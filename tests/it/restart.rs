//! The real binary, killed with SIGKILL mid-job and started again: every accepted job still ends
//! with a terminal message, a queued job runs after the restart, and a redelivery of an event
//! the dead process had handled makes no second job.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use threadwork::emulator::{EmulatorConfig, Faults, APP_TOKEN, BOT_TOKEN};
use threadwork::job::JobState;
use threadwork::store::{SledStore, Store};
use tokio::process::Command;

const SLOW: &str = r#"{"delay_ms": 50, "event": {"type": "started"}}
{"delay_ms": 100, "event": {"type": "tool_started", "name": "bash", "summary": "a long build"}}
{"delay_ms": 60000, "event": {"type": "finished", "answer": "slow answer"}}
"#;
const FAST: &str = r#"{"delay_ms": 50, "event": {"type": "finished", "answer": "fast answer"}}
"#;

fn write_config(dir: &Path, script: &Path) -> std::path::PathBuf {
    let path = dir.join("threadwork.toml");
    let text = format!(
        "[slack]\nreconnect_secs = 1\n\n[agents]\ndir = {:?}\n\n[store]\npath = {:?}\n\n[jobs]\nmax_running = 1\nper_channel = 1\ncard_interval_ms = 200\nworkdir = {:?}\n\n[harness.scripted]\nkind = \"scripted\"\nscript = {:?}\n\n[overlap]\nmode = \"off\"\n",
        agents_dir(),
        dir.join("store"),
        dir.join("jobs"),
        script
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_job_then_restart() {
    let w = World::new(EmulatorConfig {
        ack_timeout: Duration::from_millis(700),
        ..Default::default()
    })
    .await;
    let script = w.dir.path().join("script.jsonl");
    std::fs::write(&script, SLOW).unwrap();
    let config = write_config(w.dir.path(), &script);

    let mut bot = spawn_bot(&config, &w.emu.api_url());
    assert!(
        w.emu.wait_for_connections(2, Duration::from_secs(20)).await,
        "bot connected"
    );

    // Acks are lost for a while, so this mention is redelivered after the crash too.
    w.emu
        .set_faults(Faults {
            ignore_acks_ms: 2500,
            duplicates: 0,
            ..Default::default()
        })
        .await;
    let running = w.mention("a long job").await;
    // Events on two sockets may arrive in either order: ask the second after the first is in.
    eventually(Duration::from_secs(10), "the first card", || async {
        w.bot_replies(&running).await.into_iter().next()
    })
    .await;
    let queued = w.mention("a job that waits its turn").await;
    eventually(
        Duration::from_secs(10),
        "the first job running, the second queued",
        || async {
            let a = w.bot_replies(&running).await.into_iter().next()?;
            let b = w.bot_replies(&queued).await.into_iter().next()?;
            (a.text.contains("running") && b.text.contains("position 1 in the queue")).then_some(())
        },
    )
    .await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;

    std::fs::write(&script, FAST).unwrap();
    let mut bot = spawn_bot(&config, &w.emu.api_url());

    let interrupted = wait_reply(&w, &running, Duration::from_secs(20), |m| {
        m.text.contains("failed")
    })
    .await;
    assert!(
        interrupted.text.contains("interrupted by a restart"),
        "{}",
        interrupted.text
    );
    eventually(
        Duration::from_secs(10),
        "the interrupted job's card shows failure",
        || async {
            w.bot_replies(&running)
                .await
                .into_iter()
                .next()
                .filter(|c| c.text.contains(":x: *failed*"))
        },
    )
    .await;
    wait_reply(&w, &queued, Duration::from_secs(20), |m| {
        m.text == "fast answer"
    })
    .await;

    // Let the emulator's redeliveries run out, then check nothing was doubled.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(w.emu.stats().await.redeliveries >= 1);
    for ts in [&running, &queued] {
        let cards = w
            .bot_replies(ts)
            .await
            .iter()
            .filter(|m| m.text.starts_with("*Job"))
            .count();
        assert_eq!(cards, 1, "one card in thread {ts}");
        assert_eq!(
            w.bot_replies(ts).await.len(),
            2,
            "card and terminal message in {ts}"
        );
    }
    let after = w.mention("after the restart").await;
    wait_reply(&w, &after, Duration::from_secs(10), |m| {
        m.text == "fast answer"
    })
    .await;
    // The card is closed after terminal_posted is stored.
    eventually(Duration::from_secs(10), "the last card closed", || async {
        w.bot_replies(&after)
            .await
            .into_iter()
            .next()
            .filter(|c| c.text.contains("succeeded"))
    })
    .await;

    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    let store = SledStore::open(&w.dir.path().join("store"))
        .expect("the store opens cleanly after kill -9");
    let jobs = store.jobs().unwrap();
    let states: Vec<(u64, JobState, bool)> = jobs
        .iter()
        .map(|j| (j.id, j.state, j.terminal_posted))
        .collect();
    assert_eq!(
        states,
        vec![
            (1, JobState::Failed, true),
            (2, JobState::Succeeded, true),
            (3, JobState::Succeeded, true)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_amendment_survives_kill_9() {
    let w = World::new(EmulatorConfig::default()).await;
    let script = w.dir.path().join("script.jsonl");
    std::fs::write(&script, FAST).unwrap();
    let prompts = w.dir.path().join("agents");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::write(
        prompts.join("default.md"),
        "---\nname: default\ndescription: d\nharness: scripted\nowners: [U0ALICE001]\n---\nYou help.\n",
    )
    .unwrap();
    let config = write_config(w.dir.path(), &script);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("dir = {:?}", agents_dir()),
        &format!("dir = {prompts:?}"),
    );
    std::fs::write(&config, text).unwrap();

    let mut bot = spawn_bot(&config, &w.emu.api_url());
    assert!(
        w.emu.wait_for_connections(2, Duration::from_secs(20)).await,
        "bot connected"
    );
    let thread = w.mention("a task").await;
    wait_reply(&w, &thread, Duration::from_secs(10), |m| {
        m.text == "fast answer"
    })
    .await;
    w.emu
        .post_as(
            "bob",
            CHANNEL,
            "correction: cite the file you changed",
            Some(&thread),
        )
        .await
        .unwrap();
    let proposal = wait_reply(&w, &thread, Duration::from_secs(10), |m| {
        m.text.contains("Amendment #1")
    })
    .await;
    w.emu
        .react_as("alice", CHANNEL, &proposal.ts, "white_check_mark", true)
        .await
        .unwrap();
    // The moment the thread says it is adopted, the bot dies.
    wait_reply(&w, &thread, Duration::from_secs(10), |m| {
        m.text.contains("adopted by")
    })
    .await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;

    let store =
        SledStore::open(&w.dir.path().join("store")).expect("the store opens after kill -9");
    let a = store
        .amendment("default", 1)
        .unwrap()
        .expect("the amendment is stored");
    assert_eq!(a.status, threadwork::amendments::AmendmentStatus::Active);
    assert_eq!(a.decided_by.as_deref(), Some("U0ALICE001"));
}

/// Secrets planted in the bot's environment and config never reach a Slack message, a log line
/// (even at debug level) or the harness's environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_secrets_stay_out_of_slack_logs_and_harness() {
    let w = World::new(EmulatorConfig::default()).await;
    let config = w.dir.path().join("threadwork.toml");
    std::fs::write(
        &config,
        format!(
            "[slack]\nbot_token = {BOT_TOKEN:?}\napp_token = {APP_TOKEN:?}\n\n[agents]\ndir = {:?}\n\n[store]\npath = {:?}\n\n[jobs]\nworkdir = {:?}\n\n[sandbox]\nruntime = \"process\"\n\n[harness.scripted]\nkind = \"command\"\nprogram = \"/bin/sh\"\nargs = [\"-c\", \"env | sort\"]\nmode = \"text\"\n",
            agents_dir(),
            w.dir.path().join("store"),
            w.dir.path().join("jobs"),
        ),
    )
    .unwrap();
    const CANARY: &str = "canary-4f1c9e2b-not-for-anyone";
    let mut bot = Command::new(env!("CARGO_BIN_EXE_threadwork"))
        .args(["run", "--config"])
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_API_URL", w.emu.api_url())
        .env("OPENAI_API_KEY", CANARY)
        .env("ANTHROPIC_API_KEY", CANARY)
        .env("RUST_LOG", "debug")
        // Files, not pipes: a pipe nobody reads until the end would stall a chatty bot.
        .stdout(std::fs::File::create(w.dir.path().join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(w.dir.path().join("stderr.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert!(w.emu.wait_for_connections(2, Duration::from_secs(20)).await);
    let ts = w.mention("print your environment").await;
    let answer = wait_reply(&w, &ts, Duration::from_secs(10), |m| {
        m.text.contains("THREADWORK_TASK=")
    })
    .await;
    assert!(!answer.text.contains(CANARY), "the harness saw a secret");
    assert!(!answer.text.contains(BOT_TOKEN) && !answer.text.contains(APP_TOKEN));
    eventually(Duration::from_secs(10), "the card closed", || async {
        w.bot_replies(&ts)
            .await
            .into_iter()
            .next()
            .filter(|c| c.text.contains("succeeded"))
    })
    .await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    let read = |name: &str| std::fs::read(w.dir.path().join(name)).unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&read("stdout.log")),
        String::from_utf8_lossy(&read("stderr.log"))
    );
    assert!(logs.contains("job accepted"), "debug logs were captured");
    for secret in [CANARY, BOT_TOKEN, APP_TOKEN] {
        assert!(!logs.contains(secret), "a secret reached the log");
        for m in w
            .emu
            .channel_messages(CHANNEL)
            .await
            .iter()
            .chain(w.thread(&ts).await.iter())
        {
            assert!(!m.text.contains(secret), "a secret reached Slack");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ten_running_jobs_loses_no_decision() {
    let w = World::new(EmulatorConfig::default()).await;
    let script = w.dir.path().join("script.jsonl");
    std::fs::write(&script, FAST).unwrap();
    let config = write_config(w.dir.path(), &script);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "max_running = 1\nper_channel = 1",
            "max_running = 10\nper_channel = 10",
        )
        .replace("[agents]\n", "[agents]\nadmins = [\"U0ALICE001\"]\n")
        // Pacing is not under test: let ten cards show "running" without waiting on tier 3.
        .replace(
            "reconnect_secs = 1\n",
            "reconnect_secs = 1\n\n[slack.limits]\nupdate_per_minute = 6000\nupdate_burst = 100\n",
        );
    std::fs::write(&config, text).unwrap();
    let mut bot = spawn_bot(&config, &w.emu.api_url());
    assert!(w.emu.wait_for_connections(2, Duration::from_secs(20)).await);

    // Decisions made before the crash: an approval and an adopted amendment.
    let first = w.mention("a quick one").await;
    let result = wait_reply(&w, &first, Duration::from_secs(10), |m| {
        m.text == "fast answer"
    })
    .await;
    w.emu
        .react_as("alice", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!(
                "<@{}> remember: keep answers short",
                threadwork::emulator::state::BOT_USER_ID
            ),
            Some(&first),
        )
        .await
        .unwrap();
    let proposal = wait_reply(&w, &first, Duration::from_secs(10), |m| {
        m.text.contains("Amendment #1")
    })
    .await;
    w.emu
        .react_as("alice", CHANNEL, &proposal.ts, "white_check_mark", true)
        .await
        .unwrap();
    wait_reply(&w, &first, Duration::from_secs(10), |m| {
        m.text.contains("adopted by")
    })
    .await;

    // Ten jobs running when the bot dies.
    std::fs::write(&script, SLOW).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    let mut bot = spawn_bot(&config, &w.emu.api_url());
    assert!(w.emu.wait_for_connections(2, Duration::from_secs(20)).await);
    let mut threads = Vec::new();
    for i in 0..10 {
        let ts = w.mention(&format!("long job {i}")).await;
        eventually(Duration::from_secs(10), "its card", || async {
            w.bot_replies(&ts).await.into_iter().next()
        })
        .await;
        threads.push(ts);
    }
    eventually(Duration::from_secs(40), "ten jobs running", || async {
        let mut running = 0;
        for ts in &threads {
            if w.bot_replies(ts)
                .await
                .first()
                .is_some_and(|c| c.text.contains("running"))
            {
                running += 1;
            }
        }
        (running == 10).then_some(())
    })
    .await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;

    // The next bot ends the ten jobs, and is killed as soon as their endings are visible:
    // perhaps between posting one and recording that it did.
    let mut bot = spawn_bot(&config, &w.emu.api_url());
    for ts in &threads {
        let m = wait_reply(&w, ts, Duration::from_secs(20), |m| {
            m.text.contains("failed")
        })
        .await;
        assert!(m.text.contains("interrupted by a restart"), "{}", m.text);
    }
    bot.kill().await.unwrap();
    let _ = bot.wait().await;

    // One more start finishes what that one left. It handles events only after its
    // recovery, so its answer to `help` means every ending is settled.
    let mut bot = spawn_bot(&config, &w.emu.api_url());
    let help = w.mention("help").await;
    eventually(Duration::from_secs(20), "the answer to help", || async {
        w.bot_replies(&help).await.into_iter().next()
    })
    .await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    for ts in &threads {
        let endings: Vec<String> = w
            .bot_replies(ts)
            .await
            .into_iter()
            .skip(1)
            .map(|m| m.text)
            .collect();
        assert_eq!(endings.len(), 1, "one ending in the thread: {endings:?}");
    }
    let store = SledStore::open(&w.dir.path().join("store")).expect("the store opens cleanly");
    let jobs = store.jobs().unwrap();
    assert_eq!(jobs.len(), 11);
    assert!(jobs
        .iter()
        .all(|j| j.state.is_terminal() && j.terminal_posted));
    assert!(
        jobs[0].verdict.as_ref().is_some_and(|v| v.approved),
        "the approval survived"
    );
    let a = store.amendment("default", 1).unwrap().unwrap();
    assert_eq!(
        a.status,
        threadwork::amendments::AmendmentStatus::Active,
        "the adoption survived"
    );
}

/// A job whose ending was being posted when the bot died: `posting_part` is recorded, and
/// Slack either took the message (job 1) or not (job 2).
fn ending_in_flight(id: u64, thread_ts: &str) -> threadwork::job::Job {
    let mut job = threadwork::job::Job::queued(
        id,
        threadwork::job::NewJob {
            channel: CHANNEL.into(),
            thread_ts: thread_ts.into(),
            request_ts: thread_ts.into(),
            requester: "U0ALICE001".into(),
            task: "anything".into(),
            options: Default::default(),
            agent: "default".into(),
            harness: "scripted".into(),
            model: None,
            parent: None,
            rerun_of: None,
            origin: None,
        },
    );
    job.transition(JobState::Running, chrono::Utc::now())
        .unwrap();
    job.transition(JobState::Failed, chrono::Utc::now())
        .unwrap();
    job.failure = Some("interrupted by a restart of the bot; ask again to re-run it".into());
    job.posting_part = Some(0);
    job
}

// Guards: a job's ending appears exactly once in its thread across a crash. The bot records
// the part it is about to post; a bot killed after Slack took the message but before it
// recorded that finds the message by its metadata after the restart instead of posting again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_posted_just_before_a_crash_is_not_posted_again() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let took = w
        .emu
        .post_as("alice", CHANNEL, "first job", None)
        .await
        .unwrap();
    let lost = w
        .emu
        .post_as("alice", CHANNEL, "second job", None)
        .await
        .unwrap();
    {
        let store = SledStore::open(&w.config.store.path).unwrap();
        assert_eq!(store.next_job_id().unwrap(), 1);
        assert_eq!(store.next_job_id().unwrap(), 2);
        store.put_job(&ending_in_flight(1, &took)).unwrap();
        store.put_job(&ending_in_flight(2, &lost)).unwrap();
    }
    // What Slack holds for job 1: the ending, posted by the dead process with its tag.
    let posted: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/chat.postMessage", w.emu.api_url()))
        .bearer_auth(BOT_TOKEN)
        .json(&serde_json::json!({
            "channel": CHANNEL,
            "thread_ts": took,
            "text": ":x: Job 1 failed: interrupted by a restart of the bot; ask again to re-run it",
            "metadata": {"event_type": "threadwork_job_ending", "event_payload": {"job": "1", "part": "0"}},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["ok"], true, "{posted}");

    w.start_bot(scripted(vec![])).await;
    // Recovery takes jobs in order: once job 2's ending is there, job 1 has been handled.
    eventually(Duration::from_secs(20), "job 2's ending", || async {
        let replies = w.bot_replies(&lost).await;
        replies
            .into_iter()
            .find(|m| m.text.contains("Job 2 failed"))
    })
    .await;
    let endings = |ts: String| {
        let w = &w;
        async move {
            w.bot_replies(&ts)
                .await
                .into_iter()
                .filter(|m| m.text.contains("failed: interrupted"))
                .count()
        }
    };
    assert_eq!(
        endings(took.clone()).await,
        1,
        "job 1's ending is not posted twice"
    );
    assert_eq!(
        endings(lost.clone()).await,
        1,
        "job 2's ending is posted once"
    );
    let store = w.bot().bot.store();
    for id in [1, 2] {
        // Recorded just after the message: wait for it rather than race it.
        let job = eventually(Duration::from_secs(20), "the ending recorded", || async {
            store.job(id).unwrap().filter(|j| j.terminal_posted)
        })
        .await;
        assert_eq!(job.posted_parts, 1, "job {id}: {job:?}");
        assert_eq!(job.posting_part, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_is_reported_by_verify_and_does_not_stop_the_bot() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let store = w.config.store.path.clone();
    {
        let db = sled::open(&store).unwrap();
        let jobs = db.open_tree("jobs").unwrap();
        jobs.insert(5u64.to_be_bytes(), &b"{\"id\": 5, \"chann"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let config = w.dir.path().join("verify.toml");
    std::fs::write(&config, format!("[store]\npath = {store:?}\n")).unwrap();
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_threadwork"))
            .args(["store", "verify", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = verify();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{printed}");
    assert!(
        printed.contains("unreadable: jobs/0000000000000005"),
        "{printed}"
    );

    // The bot starts, recovers around it, and serves.
    w.start_bot(scripted(script("done", 20))).await;
    let ts = w.mention("a job after the bad record").await;
    wait_reply(&w, &ts, Duration::from_secs(10), |m| m.text == "done").await;
    w.settle().await;
    w.bot.take().unwrap().stop().await;

    // Moved aside: the store is sound again, the record kept in quarantine.
    let out = eventually(Duration::from_secs(10), "the store released", || async {
        let out = verify();
        String::from_utf8_lossy(&out.stdout)
            .contains("store:")
            .then_some(out)
    })
    .await;
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("quarantined (1)"), "{printed}");
}

/// A graceful stop (what SIGTERM does), in process: the sockets close, so a mention made
/// meanwhile reaches the next process and makes one job there; a queued job is not started
/// by the stopping bot, stays queued, and runs in the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_bot_leaves_new_events_and_queued_jobs_to_the_next() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.jobs.max_running = 1;
    let slow = vec![
        step(
            10,
            threadwork::harness::HarnessEvent::Started { session_id: None },
        ),
        step(
            60_000,
            threadwork::harness::HarnessEvent::Finished {
                answer: "slow answer".into(),
            },
        ),
    ];
    w.start_bot(scripted(slow)).await;
    let running = w.mention("first, slow").await;
    // Events on two sockets may arrive in either order: ask the second after the first runs.
    eventually(Duration::from_secs(10), "the first job running", || async {
        let card = w.bot_replies(&running).await.into_iter().next()?;
        card.text.contains("running").then_some(())
    })
    .await;
    let queued = w.mention("second, waits").await;
    eventually(
        Duration::from_secs(10),
        "the second job queued behind the first",
        || async {
            let card = w.bot_replies(&queued).await.into_iter().next()?;
            card.text.contains("position 1 in the queue").then_some(())
        },
    )
    .await;
    let stopping = w.bot.take().unwrap();
    stopping.drain().await;
    eventually(Duration::from_secs(10), "its sockets closed", || async {
        (w.emu.connection_count().await == 0).then_some(())
    })
    .await;
    let late = w.mention("third, while no bot is up").await;
    w.start_bot(scripted(script("next process", 10))).await;
    for ts in [&queued, &late] {
        wait_reply(&w, ts, Duration::from_secs(20), |m| {
            m.text.contains("next process")
        })
        .await;
    }
    w.settle().await;
    for ts in [&queued, &late] {
        let replies = w.bot_replies(ts).await;
        assert_eq!(
            replies
                .iter()
                .filter(|m| m.text.contains("next process"))
                .count(),
            1,
            "one answer: {replies:?}"
        );
    }
    // The run that went on in this process (not in a container) could not be kept.
    wait_reply(&w, &running, Duration::from_secs(10), |m| {
        m.text.contains("interrupted")
    })
    .await;
    let jobs = w.bot().bot.store().jobs().unwrap();
    assert_eq!(jobs.len(), 3, "one job per mention: {jobs:?}");
}

/// Runs `threadwork store <args> --config <config>`.
fn store_cmd(args: &[&std::ffi::OsStr], config: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_threadwork"))
        .arg("store")
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("THREADWORK_OPS_TOKEN")
        .output()
        .unwrap()
}

/// `store backup` while the bot runs goes through its ops server (which refuses a client
/// without the token) and writes a private file; `store restore` fills a new store with the
/// same jobs and audit chain and verifies it. A backup cut short, a store that is not empty
/// and an existing backup file are refused, and nothing is written then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_bot_runs_restores_whole() {
    use std::ffi::OsStr;
    use std::os::unix::fs::PermissionsExt;
    let w = World::new(EmulatorConfig::default()).await;
    let dir = w.dir.path();
    let script = dir.join("script.jsonl");
    std::fs::write(&script, FAST).unwrap();
    let config = write_config(dir, &script);
    let port = crate::common::cli::free_port();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[ops]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"ops-token-for-backups\"\n"
    ));
    std::fs::write(&config, &text).unwrap();
    let mut bot = spawn_bot(&config, &w.emu.api_url());
    assert!(w.emu.wait_for_connections(2, Duration::from_secs(20)).await);
    for task in ["backup one", "backup two", "backup three"] {
        let ts = w.mention(task).await;
        wait_reply(&w, &ts, Duration::from_secs(20), |m| {
            m.text.contains("fast answer")
        })
        .await;
    }

    let anonymous = reqwest::get(format!("http://127.0.0.1:{port}/store/backup"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "no token, no backup");
    let wrong = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/store/backup"))
        .bearer_auth("not-the-ops-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401, "a wrong token, no backup");
    let file = dir.join("store.backup");
    let out = store_cmd(&[OsStr::new("backup"), file.as_os_str()], &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("backed up"));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup holds job content: owner only");
    let again = store_cmd(&[OsStr::new("backup"), file.as_os_str()], &config);
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    // With no bot up, the store itself is read: the same records.
    let direct = dir.join("direct.backup");
    let out = store_cmd(&[OsStr::new("backup"), direct.as_os_str()], &config);
    assert!(out.status.success());
    // Every job and every audit record the bot had written when the first was taken.
    let lines = |p: &Path, tree: &str| {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(&format!("{{\"t\":\"{tree}\"")))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&direct, "jobs").len(), 3);
    assert_eq!(lines(&direct, "audit"), lines(&file, "audit"));
    assert!(!lines(&file, "audit").is_empty());

    // The same config with its store elsewhere.
    let store_at = |name: &str| {
        let config = dir.join(format!("{name}.toml"));
        let store = format!("{:?}", dir.join(name));
        std::fs::write(
            &config,
            text.replace(&format!("{:?}", dir.join("store")), &store),
        )
        .unwrap();
        config
    };
    let restored = dir.join("restored");
    let config2 = store_at("restored");
    let out = store_cmd(&[OsStr::new("restore"), file.as_os_str()], &config2);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("store: sound"), "{printed}");
    {
        let original = SledStore::open(&dir.join("store")).unwrap();
        let copy = SledStore::open(&restored).unwrap();
        let jobs = |s: &SledStore| {
            s.jobs()
                .unwrap()
                .into_iter()
                .map(|j| (j.id, j.state, j.answer))
                .collect::<Vec<_>>()
        };
        assert_eq!(jobs(&original).len(), 3);
        assert_eq!(jobs(&original), jobs(&copy));
        assert_eq!(original.audit_raw().unwrap(), copy.audit_raw().unwrap());
    }
    let out = store_cmd(&[OsStr::new("restore"), file.as_os_str()], &config2);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("restore only into a new store"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&restored).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the restored store is its owner's alone");

    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let elsewhere = dir.join("from-cut");
    let config3 = store_at("from-cut");
    let out = store_cmd(&[OsStr::new("restore"), cut.as_os_str()], &config3);
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("nothing was restored"), "{why}");
    assert!(!elsewhere.exists(), "no store made from a broken backup");
    assert!(!dir.join("from-cut.restoring").exists());
}

/// SIGKILL at random moments during heavy writes (jobs, transcripts, audit records,
/// amendment proposals, verdicts), fifty times. After each kill the store opens and verifies —
/// every record decodes, the audit chain holds — and everything a thread was told about is in
/// it: each card's job, each ending's terminal state, each amendment proposed, each verdict
/// recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sigkills_during_heavy_writes_lose_nothing_told_and_corrupt_nothing() {
    let w = World::new(EmulatorConfig::default()).await;
    let script = w.dir.path().join("script.jsonl");
    std::fs::write(&script, FAST).unwrap();
    let config = write_config(w.dir.path(), &script);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "max_running = 1\nper_channel = 1",
            "max_running = 10\nper_channel = 10",
        )
        .replace(
            "reconnect_secs = 1\n",
            "reconnect_secs = 1\n\n[slack.limits]\nupdate_per_minute = 6000\nupdate_burst = 100\npost_per_minute = 6000\npost_burst = 100\ntier3_per_minute = 6000\n",
        );
    std::fs::write(&config, text).unwrap();
    let path = w.dir.path().join("store");
    // A small generator of our own, seeded from the clock and printed, so a failure can be
    // replayed with THREADWORK_CRASH_SEED.
    let mut seed: u64 = std::env::var("THREADWORK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed {seed}");
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut threads: Vec<String> = Vec::new();
    let mut told = (0, 0, 0, 0);
    let mut approved: Vec<String> = Vec::new();
    for round in 0..50 {
        let mut bot = spawn_bot(&config, &w.emu.api_url());
        assert!(w.emu.wait_for_connections(2, Duration::from_secs(20)).await);
        for i in 0..3 {
            threads.push(w.mention(&format!("crash round {round} part {i}")).await);
        }
        if round > 0 {
            let earlier = threads[(next() as usize) % (threads.len() - 3)].clone();
            w.emu
                .post_as(
                    "bob",
                    CHANNEL,
                    &format!("correction: say round {round} in the answer"),
                    Some(&earlier),
                )
                .await
                .unwrap();
            // The requester's ✅ on an earlier answer: a verdict and its audit record.
            let judged = threads[(next() as usize) % (threads.len() - 3)].clone();
            if let Some(answer) = w.bot_replies(&judged).await.into_iter().find(|m| {
                m.metadata
                    .as_ref()
                    .is_some_and(|v| v["event_type"] == "threadwork_job_ending")
                    && !approved.contains(&m.ts)
            }) {
                approved.push(answer.ts.clone());
                w.emu
                    .react_as("alice", CHANNEL, &answer.ts, "white_check_mark", true)
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(next() % 1500)).await;
        bot.kill().await.unwrap();
        let _ = bot.wait().await;
        // The next round waits for its own bot's sockets, not the dead one's.
        eventually(
            Duration::from_secs(10),
            "the killed bot's sockets gone",
            || async { (w.emu.connection_count().await == 0).then_some(()) },
        )
        .await;

        let store = SledStore::open(&path).expect("the store opens after SIGKILL");
        let found = store.verify().unwrap();
        assert!(
            found.unreadable.is_empty(),
            "round {round}: {:?}",
            found.unreadable
        );
        assert!(
            found.audit_chain.is_ok(),
            "round {round}: {:?}",
            found.audit_chain
        );
        for ts in &threads {
            for m in w.bot_replies(ts).await {
                if let Some(id) = m
                    .text
                    .strip_prefix("*Job ")
                    .and_then(|t| t.split('*').next())
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    told.0 += 1;
                    assert!(
                        store.job(id).unwrap().is_some(),
                        "round {round}: job {id} has a card but is not stored"
                    );
                }
                let ended = m.metadata.as_ref().and_then(|v| {
                    (v["event_type"] == "threadwork_job_ending")
                        .then(|| v["event_payload"]["job"].as_str()?.parse::<u64>().ok())?
                });
                if let Some(id) = ended {
                    told.1 += 1;
                    let job = store.job(id).unwrap().expect("an ended job is stored");
                    assert!(
                        job.state.is_terminal(),
                        "round {round}: job {id} told ended is {:?}",
                        job.state
                    );
                }
                if let Some(n) = m
                    .text
                    .split("Amendment #")
                    .nth(1)
                    .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    told.2 += 1;
                    assert!(
                        store.amendment("default", n).unwrap().is_some(),
                        "round {round}: amendment {n} proposed but not stored"
                    );
                }
            }
        }
        for e in w.emu.ephemerals().await {
            if let Some(id) = e
                .text
                .strip_prefix("Recorded: you approved the result of job ")
                .and_then(|t| t.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
            {
                told.3 += 1;
                let job = store.job(id).unwrap().expect("a judged job is stored");
                assert!(
                    job.verdict.as_ref().is_some_and(|v| v.approved),
                    "round {round}: job {id} told approved has {:?}",
                    job.verdict
                );
            }
        }
    }
    eprintln!(
        "crash test: 50 kills; checked {} cards, {} endings, {} amendment messages, {} verdicts",
        told.0, told.1, told.2, told.3
    );
    assert!(
        told.0 >= 50 && told.1 >= 50 && told.2 > 0 && told.3 > 0,
        "the kills came after writes, and their checks ran"
    );
}

/// The drain's deadline ends the process at once, with a failure status: `[ops] drain_secs =
/// 0` leaves no time at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_past_its_deadline_exits_at_once() {
    let w = World::new(EmulatorConfig::default()).await;
    let script = w.dir.path().join("script.jsonl");
    std::fs::write(&script, FAST).unwrap();
    let config = write_config(w.dir.path(), &script);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[ops]\ndrain_secs = 0\n");
    std::fs::write(&config, text).unwrap();
    let mut bot = spawn_bot(&config, &w.emu.api_url());
    assert!(w.emu.wait_for_connections(2, Duration::from_secs(20)).await);
    let pid = bot.id().unwrap() as i32;
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(5), bot.wait())
        .await
        .expect("the bot exits at once")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the drain did not finish: {status:?}"
    );
}

/// A second SIGTERM during a drain ends the process at once, with a failure status. The drain
/// here cannot finish on its own: Slack answers the card's post only after a minute, and the
/// drain waits for the replies under way (its deadline is two minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_ends_a_drain_at_once() {
    let w = World::new(EmulatorConfig::default()).await;
    let script = w.dir.path().join("script.jsonl");
    std::fs::write(&script, FAST).unwrap();
    let config = write_config(w.dir.path(), &script);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[ops]\ndrain_secs = 120\n");
    std::fs::write(&config, text).unwrap();
    let mut bot = spawn_bot(&config, &w.emu.api_url());
    assert!(w.emu.wait_for_connections(2, Duration::from_secs(20)).await);
    w.emu
        .set_faults(Faults {
            slow_post_answer_ms: 60_000,
            ..Faults::default()
        })
        .await;
    let ts = w.mention("a card whose post hangs").await;
    eventually(
        Duration::from_secs(20),
        "the card posted (its answer held back)",
        || async { w.bot_replies(&ts).await.into_iter().next() },
    )
    .await;
    let pid = bot.id().unwrap() as i32;
    // SAFETY: signals to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // The drain has begun once its sockets are closed: the next signal is the second one.
    eventually(
        Duration::from_secs(20),
        "the drain closing its sockets",
        || async { (w.emu.connection_count().await == 0).then_some(()) },
    )
    .await;
    assert!(
        bot.try_wait().unwrap().is_none(),
        "the drain is still waiting for the card's post"
    );
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(5), bot.wait())
        .await
        .expect("the second signal ends the bot at once")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the drain did not finish: {status:?}"
    );
}
