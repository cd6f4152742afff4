//! Test support: a running emulator and bot in one line, and polling helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use threadwork::app::{self, Running};
use threadwork::config::Config;
use threadwork::emulator::state::{Message, BOT_USER_ID};
use threadwork::emulator::{Emulator, EmulatorConfig, APP_TOKEN, BOT_TOKEN};
use threadwork::harness::scripted::{ScriptStep, ScriptedHarness};
use threadwork::harness::{Harness, HarnessEvent};

pub const CHANNEL: &str = "C0GENERAL1";

pub struct World {
    pub emu: Emulator,
    pub bot: Option<Running>,
    pub config: Config,
    pub dir: tempfile::TempDir,
}

/// Message text as a Slack client shows it: the three escaped characters decoded.
pub fn shown(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn step(delay_ms: u64, event: HarnessEvent) -> ScriptStep {
    ScriptStep { delay_ms, event }
}

/// A short script: started, a tool call, a file change, usage, then `answer`.
pub fn script(answer: &str, pause_ms: u64) -> Vec<ScriptStep> {
    vec![
        step(
            50,
            HarnessEvent::Started {
                session_id: Some("s-1".into()),
            },
        ),
        step(
            pause_ms,
            HarnessEvent::ToolStarted {
                id: None,
                name: "bash".into(),
                summary: "cargo test".into(),
            },
        ),
        step(
            pause_ms,
            HarnessEvent::ToolFinished {
                id: None,
                name: "bash".into(),
                summary: "3 passed".into(),
                ok: true,
            },
        ),
        step(
            pause_ms,
            HarnessEvent::FileChanged {
                path: "src/login.rs".into(),
            },
        ),
        step(
            10,
            HarnessEvent::Usage {
                input_tokens: 100,
                output_tokens: 20,
                cost_usd: 0.25,
            },
        ),
        step(
            pause_ms,
            HarnessEvent::Finished {
                answer: answer.into(),
            },
        ),
    ]
}

pub fn scripted(steps: Vec<ScriptStep>) -> HashMap<String, Arc<dyn Harness>> {
    HashMap::from([(
        "scripted".to_string(),
        Arc::new(ScriptedHarness::new(steps)) as Arc<dyn Harness>,
    )])
}

/// A `command` harness named `name` whose answer is `<tag><<$var>>`: what the bot gave it.
pub fn echo_harness(name: &str, tag: &str, var: &str) -> HashMap<String, Arc<dyn Harness>> {
    use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
    let spec = CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), format!("printf '{tag}<<%s>>' \"${var}\"")],
        mode: OutputMode::Text,
        env: Default::default(),
    };
    HashMap::from([(
        name.to_string(),
        Arc::new(CommandHarness::new(spec)) as Arc<dyn Harness>,
    )])
}

pub fn agents_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prompts/agents")
}

/// Writes agent files (name, text) into `<root>/agents` and returns that folder.
pub fn write_agents(root: &Path, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join("agents");
    std::fs::create_dir_all(&dir).expect("agents dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("agent file");
    }
    dir
}

/// Every file below `dir`; symlinks are listed, not followed, so a scan stays inside.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => dirs.push(path),
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out
}

/// The files below `dir` whose bytes contain any of `secrets`: a secret scan is this, empty.
pub fn files_holding(dir: &Path, secrets: &[&str]) -> Vec<PathBuf> {
    files_below(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            secrets.iter().any(|s| text.contains(s))
        })
        .collect()
}

impl World {
    pub async fn new(emu_config: EmulatorConfig) -> Self {
        threadwork::init_tls();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
        let emu = Emulator::start(([127, 0, 0, 1], 0).into(), emu_config)
            .await
            .expect("emulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.agents.dir = agents_dir();
        config.store.path = dir.path().join("store");
        config.jobs.workdir = dir.path().join("jobs");
        // An empty library unless a test writes one: no passages in other tests' tasks.
        config.agents.context_dir = dir.path().join("context");
        config.jobs.card_interval_ms = 200;
        config.slack.reconnect_secs = 1;
        // Tests repeat the same requests; the overlap tests turn the check on.
        config.overlap.mode = threadwork::overlap::Mode::Off;
        Self {
            emu,
            bot: None,
            config,
            dir,
        }
    }

    /// Runs the bot with these agent files (name, text) instead of the project's own.
    pub fn use_agents(&mut self, files: &[(&str, &str)]) {
        self.config.agents.dir = write_agents(self.dir.path(), files);
        self.config.agents.shared_dir = self.dir.path().join("shared");
    }

    pub fn env(&self) -> impl Fn(&str) -> Option<String> {
        let url = self.emu.api_url();
        move |k: &str| match k {
            "SLACK_API_URL" => Some(url.clone()),
            "SLACK_APP_TOKEN" => Some(APP_TOKEN.to_string()),
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            _ => None,
        }
    }

    pub async fn start_bot(&mut self, harnesses: HashMap<String, Arc<dyn Harness>>) {
        self.start_bot_in(harnesses, None).await
    }

    /// Starts the bot with harnesses that run in `runtime` (which it also cleans up on start).
    pub async fn start_bot_in(
        &mut self,
        harnesses: HashMap<String, Arc<dyn Harness>>,
        runtime: Option<Arc<dyn threadwork::runtime::Runtime>>,
    ) {
        self.start_bot_at(harnesses, runtime, threadwork::schedules::clock::system())
            .await
    }

    /// Starts the bot with schedules and triggers reading `clock` (a `ManualClock` in tests).
    pub async fn start_bot_at(
        &mut self,
        harnesses: HashMap<String, Arc<dyn Harness>>,
        runtime: Option<Arc<dyn threadwork::runtime::Runtime>>,
        clock: Arc<dyn threadwork::schedules::Clock>,
    ) {
        let settings = self.config.slack_settings(&self.env()).expect("settings");
        let running = app::start_with_clock(&self.config, &settings, harnesses, runtime, clock)
            .await
            .expect("bot starts");
        self.bot = Some(running);
        if self.config.slack.transport == threadwork::chat::slack::Transport::Http {
            return;
        }
        assert!(
            self.emu
                .wait_for_connections(
                    self.config.slack.socket_connections as usize,
                    Duration::from_secs(10)
                )
                .await,
            "bot connected over socket mode"
        );
    }

    pub fn bot(&self) -> &Running {
        self.bot.as_ref().expect("bot started")
    }

    /// Waits until every event the emulator sent has reached the bot and the bot is quiet
    /// (`Bot::settle`): an exact wait before asserting that something did not happen.
    pub async fn settle(&self) {
        eventually(
            Duration::from_secs(30),
            "the emulator's deliveries",
            || async { (self.emu.deliveries_in_flight() == 0).then_some(()) },
        )
        .await;
        tokio::time::timeout(Duration::from_secs(60), self.bot().bot.settle())
            .await
            .expect("the bot settles within 60 s");
    }

    /// Posts a top-level message mentioning the bot as alice; returns its ts.
    pub async fn mention(&self, text: &str) -> String {
        self.emu
            .post_as("alice", CHANNEL, &format!("<@{BOT_USER_ID}> {text}"), None)
            .await
            .expect("post")
    }

    pub async fn thread(&self, ts: &str) -> Vec<Message> {
        self.emu.thread(CHANNEL, ts).await
    }

    /// The bot's replies in a thread, oldest first, with their text as a Slack client shows
    /// it (`&lt;` `&gt;` `&amp;` decoded). `thread` gives the raw text.
    pub async fn bot_replies(&self, ts: &str) -> Vec<Message> {
        self.thread(ts)
            .await
            .into_iter()
            .filter(|m| m.user == BOT_USER_ID)
            .map(|mut m| {
                m.text = shown(&m.text);
                m
            })
            .collect()
    }
}

/// Polls `check` until it returns Some, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the thread's card (the bot's first reply) contains `text`; returns it.
pub async fn card_showing(w: &World, ts: &str, text: &str, timeout: Duration) -> Message {
    eventually(timeout, &format!("the card shows {text:?}"), || async {
        w.bot_replies(ts)
            .await
            .into_iter()
            .next()
            .filter(|c| c.text.contains(text))
    })
    .await
}

/// Waits until the thread holds a bot reply (after the card) satisfying `pred`.
pub async fn wait_reply(
    w: &World,
    ts: &str,
    timeout: Duration,
    pred: impl Fn(&Message) -> bool,
) -> Message {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let replies = w.bot_replies(ts).await;
        if let Some(m) = replies.iter().skip(1).find(|m| pred(m)) {
            return m.clone();
        }
        if tokio::time::Instant::now() > deadline {
            let texts: Vec<&str> = replies.iter().map(|m| m.text.as_str()).collect();
            panic!(
                "timed out after {timeout:?} waiting for a bot reply; the thread holds {texts:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Docker with `image`, or false (a skip) off CI; on CI a missing Docker or image fails the
/// test. `build` is the command that makes the image.
pub async fn docker_ready(test: &str, image: &str, build: &str) -> bool {
    let problem = match bollard::Docker::connect_with_local_defaults() {
        Err(e) => Some(format!("cannot connect to Docker: {e}")),
        Ok(d) => match d.negotiate_version().await {
            Err(e) => Some(format!("Docker is not running: {e}")),
            Ok(d) => d
                .inspect_image(image)
                .await
                .err()
                .map(|e| format!("image {image} is missing ({e}); build it with `{build}`")),
        },
    };
    match problem {
        None => true,
        Some(p) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test} needs Docker on CI: {p}")
        }
        Some(p) => {
            eprintln!("SKIPPED {test}: {p}");
            false
        }
    }
}

/// The real `threadwork run` binary with `config`, pointed at the emulator at `api_url`
/// (killed when dropped).
pub fn spawn_bot(config: &std::path::Path, api_url: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_threadwork"))
        .args(["run", "--config"])
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_API_URL", api_url)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("RUST_LOG", std::env::var("TW_LOG").unwrap_or("warn".into()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the threadwork binary starts")
}

pub mod cli;
pub mod forge;
pub mod kube;
pub mod logs;
