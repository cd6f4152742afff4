//! Trust boundaries around hostile sandboxes (part 2): what an agent's run can make the bot do
//! on its host. Each test is a run doing something it must not get away with.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::EmulatorConfig;
use threadwork::job::JobState;
use threadwork::runtime::process::ProcessRuntime;
use threadwork::runtime::{
    Exit, Launch, Leftover, RunHandle, Runtime, RuntimeError, SandboxSpec, Spawned,
};

const SECS: fn(u64) -> Duration = Duration::from_secs;

// Guards: the bot never follows a link out of a workspace. A run replaces the CLI state
// directory with a link to a host directory; the follow-up's state is written inside the
// workspace, and the host directory is neither written nor opened up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_state_link_does_not_aim_the_bots_writes_at_the_host() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let outside = w.dir.path().join("host-dir");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o700)).unwrap();
    let script = format!(
            "#!/bin/sh\nrm -rf .threadwork && ln -s {:?} .threadwork\n\
             printf '%s\\n' '{{\"type\":\"item.completed\",\"item\":{{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"planted\"}}}}' '{{\"type\":\"turn.completed\"}}'\n",
        outside
    );
    crate::common::cli::start_fake_codex_bot(&mut w, &script).await;

    let thread = w.mention("plant it").await;
    wait_reply(&w, &thread, SECS(20), |m| m.text == "planted").await;
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> again"),
            Some(&thread),
        )
        .await
        .unwrap();
    let follow_up = ended_follow_up(&w).await;
    assert_eq!(
        follow_up.state,
        JobState::Succeeded,
        "{:?}",
        follow_up.failure
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing was written into the host directory"
    );
    let mode = std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the host directory was not opened up");
}

/// A process runtime whose kills are slow, or refused as when the Docker Engine is away.
struct StubbornRuntime {
    refuse: bool,
    killed: Arc<AtomicBool>,
}

struct StubbornHandle {
    inner: Box<dyn RunHandle>,
    refuse: bool,
    killed: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl RunHandle for StubbornHandle {
    async fn wait(&mut self) -> Result<Exit, RuntimeError> {
        self.inner.wait().await
    }
    async fn kill(&mut self) -> Result<(), RuntimeError> {
        tokio::time::sleep(SECS(2)).await;
        if self.refuse {
            return Err(RuntimeError::Unreachable("the engine is away".into()));
        }
        let killed = self.inner.kill().await;
        self.killed.store(true, Ordering::SeqCst);
        killed
    }
    async fn cleanup(&mut self) {
        // The test's own process must not outlive it, whatever the kill said.
        let _ = self.inner.kill().await;
        self.inner.cleanup().await;
    }
}

#[async_trait::async_trait]
impl Runtime for StubbornRuntime {
    fn name(&self) -> &'static str {
        "process"
    }
    fn workspace_in_sandbox(&self, host: &Path, _spec: &SandboxSpec) -> PathBuf {
        host.to_path_buf()
    }
    fn model_address(&self, _spec: &SandboxSpec) -> Option<String> {
        None
    }
    async fn spawn(&self, launch: Launch) -> Result<Spawned, RuntimeError> {
        let spawned = ProcessRuntime::new().spawn(launch).await?;
        Ok(Spawned {
            handle: Box::new(StubbornHandle {
                inner: spawned.handle,
                refuse: self.refuse,
                killed: self.killed.clone(),
            }),
            ..spawned
        })
    }
    async fn leftovers(&self) -> Result<Vec<Leftover>, RuntimeError> {
        Ok(Vec::new())
    }
    async fn remove(&self, _leftover: &Leftover) -> Result<(), RuntimeError> {
        Ok(())
    }
}

// Guards: a stop is reported only once the sandbox has ended. ❌ on a run whose kill takes
// a while is answered "stopped" after the kill, not before; a kill the runtime refuses is
// reported as such, never as "stopped".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_is_reported_only_once_the_run_has_ended() {
    use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
    for refuse in [false, true] {
        let mut w = World::new(EmulatorConfig::default()).await;
        let killed = Arc::new(AtomicBool::new(false));
        let runtime: Arc<dyn Runtime> = Arc::new(StubbornRuntime {
            refuse,
            killed: killed.clone(),
        });
        let spec = CommandSpec {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "echo '{\"type\":\"started\"}'; sleep 60".into(),
            ],
            mode: OutputMode::Json,
            env: Default::default(),
        };
        let harness: Arc<dyn threadwork::harness::Harness> =
            Arc::new(CommandHarness::with_runtime(spec, runtime.clone()));
        w.start_bot_in(
            std::collections::HashMap::from([("scripted".to_string(), harness)]),
            Some(runtime),
        )
        .await;
        let ts = w.mention("run until stopped").await;
        let card = card_showing(&w, &ts, "running", SECS(20)).await;
        w.emu
            .react_as("alice", CHANNEL, &card.ts, "x", true)
            .await
            .unwrap();
        let job = ended_job(&w, &ts).await;
        let failure = job.failure.clone().unwrap_or_default();
        if refuse {
            assert_eq!(job.state, JobState::Failed, "{failure}");
            assert!(
                failure.contains("could not be stopped") && failure.contains("engine is away"),
                "{failure}"
            );
        } else {
            assert_eq!(job.state, JobState::Cancelled, "{failure}");
            assert!(
                killed.load(Ordering::SeqCst),
                "the job was ended only after its kill had worked"
            );
        }
    }
}

// Guards: a flood of events cannot grow the bot's memory. The queue between the ack and the
// handling is bounded; past it envelopes are left unacked (counted), Slack redelivers them,
// and every mention is still answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_inbound_queue_leaves_events_to_slack() {
    // Redelivered every second, many times: a shed event comes back until there is room.
    let mut w = World::new(EmulatorConfig {
        ack_timeout: SECS(1),
        max_retries: 60,
        ..EmulatorConfig::default()
    })
    .await;
    w.config.slack.inbound_queue = 1;
    w.start_bot(scripted(script("done", 10))).await;
    // Each card takes the event loop a while to post: the loop stays busy.
    w.emu
        .set_faults(threadwork::emulator::Faults {
            slow_post_answer_ms: 5000,
            ..Default::default()
        })
        .await;
    let mut threads = Vec::new();
    for n in 0..3 {
        threads.push(w.mention(&format!("task {n}")).await);
    }
    for ts in &threads {
        wait_reply(&w, ts, SECS(60), |m| m.text == "done").await;
    }
    assert!(
        w.bot().metrics.events_shed.get() > 0,
        "the third mention found the queue full"
    );
    w.emu.set_faults(Default::default()).await;
    let store = w.bot().bot.store();
    for ts in &threads {
        let jobs = store
            .jobs()
            .unwrap()
            .into_iter()
            .filter(|j| &j.thread_ts == ts)
            .count();
        assert_eq!(jobs, 1, "one job per mention, however often it came");
    }
}

/// Starts the bot with one agent, `default` (its `sandbox:` block given), whose harness runs
/// `script` in `sh` as a local process.
async fn sh_world(sandbox_block: &str, script: &str) -> World {
    use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
    let mut w = World::new(EmulatorConfig::default()).await;
    w.use_agents(&[(
        "default.md",
        &format!("---\nname: default\ndescription: runs sh\nharness: sh\n{sandbox_block}---\nYou help.\n"),
    )]);
    let spec = CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        mode: OutputMode::Json,
        env: Default::default(),
    };
    let runtime: Arc<dyn Runtime> = Arc::new(ProcessRuntime::new());
    let harness: Arc<dyn threadwork::harness::Harness> =
        Arc::new(CommandHarness::with_runtime(spec, runtime.clone()));
    w.start_bot_in(
        std::collections::HashMap::from([("sh".to_string(), harness)]),
        Some(runtime),
    )
    .await;
    w
}

/// The first follow-up job (one with a parent) once it has ended.
async fn ended_follow_up(w: &World) -> threadwork::job::Job {
    let store = w.bot().bot.store();
    eventually(SECS(60), "the follow-up ended", || async {
        store
            .jobs()
            .unwrap()
            .into_iter()
            .find(|j| j.parent.is_some() && j.state.is_terminal())
    })
    .await
}

async fn ended_job(w: &World, ts: &str) -> threadwork::job::Job {
    let store = w.bot().bot.store();
    eventually(SECS(60), "the job ended", || async {
        store
            .jobs()
            .unwrap()
            .into_iter()
            .find(|j| j.thread_ts == ts && j.state.is_terminal())
    })
    .await
}

// Guards: a run cannot fill the bot's disk. Its workspace has a disk limit (`disk_mb`); a run
// that writes past it is stopped, and the thread says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_past_its_disk_limit_stops_the_job() {
    let w = sh_world(
        "sandbox:\n  disk_mb: 1\n",
        "head -c 5000000 /dev/urandom > fill.bin; echo '{\"type\":\"started\"}'; sleep 60",
    )
    .await;
    let ts = w.mention("fill the disk").await;
    let job = ended_job(&w, &ts).await;
    assert_eq!(job.state, JobState::Failed);
    let failure = job.failure.unwrap_or_default();
    assert!(
        failure.contains("disk limit of 1 MB") && failure.contains("stopped"),
        "{failure}"
    );
}

// Guards: what a run leaves on the host. Its setuid/setgid bits are cleared when it ends, and
// the jobs directory above every workspace is the bot's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_bits_do_not_outlive_the_run_and_workspaces_are_closed() {
    let w = sh_world(
        "",
        "mkdir -p d && cp /bin/true d/shell && chmod 6755 d/shell && chmod 3777 d; \
         echo '{\"type\":\"finished\",\"answer\":\"planted\"}'",
    )
    .await;
    let ts = w.mention("plant a setuid file").await;
    wait_reply(&w, &ts, SECS(30), |m| m.text == "planted").await;
    let job = ended_job(&w, &ts).await;
    let root = w.config.jobs.workdir.clone();
    let ws = root.join(format!("job-{}", job.workspace_job.unwrap_or(job.id)));
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode();
    // The bits go once the run has ended (the job is recorded as ended right after).
    eventually(SECS(10), "special bits cleared", || async {
        (mode(&ws.join("d/shell")) & 0o7000 == 0 && mode(&ws.join("d")) & 0o7000 == 0).then_some(())
    })
    .await;
    assert_eq!(
        mode(&ws.join("d/shell")) & 0o777,
        0o755,
        "only the special bits went"
    );
    assert_eq!(
        mode(&root) & 0o777,
        0o700,
        "no other local user reaches a workspace"
    );
}

// Guards: a follow-up works in its thread's first workspace, and that is the one whose disk
// use counts (a follow-up once measured a directory of its own that never existed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_past_the_disk_limit_is_stopped_too() {
    let w = sh_world(
        "sandbox:\n  disk_mb: 1\n",
        "if [ -e first-done ]; then head -c 5000000 /dev/urandom > fill.bin; \
         echo '{\"type\":\"started\"}'; sleep 60; \
         else touch first-done; echo '{\"type\":\"finished\",\"answer\":\"first\"}'; fi",
    )
    .await;
    let ts = w.mention("start small").await;
    wait_reply(&w, &ts, SECS(30), |m| m.text == "first").await;
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> now fill it"),
            Some(&ts),
        )
        .await
        .unwrap();
    let follow_up = ended_follow_up(&w).await;
    let failure = follow_up.failure.unwrap_or_default();
    assert_eq!(follow_up.state, JobState::Failed, "{failure}");
    assert!(failure.contains("disk limit of 1 MB"), "{failure}");
}
