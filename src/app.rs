//! Assembly: config → store, agents, harnesses, chat → a running bot on Socket Mode. Shared by
//! `threadwork run`, `threadwork dev` and the tests, so they all run the same pipeline.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::bot::{Bot, BotError, BotParts};
use crate::chat::slack::{self, SlackChat, SlackSettings, SocketMode, Transport};
use crate::chat::ChatError;
use crate::config::{Config, HarnessConfig};
use crate::harness::cli::CliHarness;
use crate::harness::command::CommandHarness;
use crate::harness::scripted::{ScriptError, ScriptedHarness};
use crate::harness::Harness;
use crate::model::proxy::{ModelProxy, ProxyError};
use crate::ops;
use crate::ops::metrics::Metrics;
use crate::ops::redact::{self, Redactor};
use crate::ops::server::{EventsIntake, Health, OpsState};
use crate::prompts::{PromptDirs, PromptsError, Registry};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::policy::RuntimeKind;
use crate::runtime::process::ProcessRuntime;
use crate::runtime::Runtime;
use crate::store::{SledStore, StoreError};
use secrecy::ExposeSecret;
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Prompts(#[from] PromptsError),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error("cannot open the store at {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("cannot prepare the jobs directory {path} (owner-only, 0700): {source}")]
    JobsDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Bot(#[from] BotError),
    #[error("cannot start Socket Mode: {0}")]
    Socket(ChatError),
    #[error(transparent)]
    Proxy(ProxyError),
    #[error(transparent)]
    Forge(#[from] crate::forge::ForgeConfigError),
    #[error("the HTTP Events API transport needs a listener Slack can reach: set `[ops] events_listen` (e.g. \"0.0.0.0:3000\"); `/slack/events` is served there, apart from the ops endpoints")]
    NoOpsServer,
    #[error("cannot start the ops server on {addr}: {source}")]
    Ops {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// The container runtime: `[sandbox] runtime`, or, when `[sandbox] runtimes` enables others,
/// a set that sends each run to the runtime its agent picked.
pub fn runtime(config: &Config) -> Arc<dyn Runtime> {
    let mut kinds = vec![config.sandbox.runtime];
    for k in &config.sandbox.runtimes {
        if !kinds.contains(k) {
            kinds.push(*k);
        }
    }
    if kinds.len() == 1 {
        return one_runtime(config, config.sandbox.runtime);
    }
    let default = config.sandbox.runtime;
    Arc::new(crate::runtime::set::Runtimes::new(
        (default, one_runtime(config, default)),
        kinds
            .into_iter()
            .filter(|k| *k != default)
            .map(|k| (k, one_runtime(config, k))),
    ))
}

fn one_runtime(config: &Config, kind: RuntimeKind) -> Arc<dyn Runtime> {
    let needed = config.harness.values().any(HarnessConfig::runs_a_program);
    match kind {
        RuntimeKind::Docker => Arc::new(DockerRuntime::new(&config.sandbox)),
        RuntimeKind::Kubernetes => Arc::new(crate::runtime::kubernetes::KubernetesRuntime::new(
            config.kubernetes.clone(),
            &config.sandbox.instance,
        )),
        RuntimeKind::Process if !needed => Arc::new(ProcessRuntime::new()),
        RuntimeKind::Process => {
            tracing::warn!(
                "runtime \"process\": harnesses run as local processes with NO isolation \
                 (no filesystem, network, CPU or memory limits); do not use this in production"
            );
            Arc::new(ProcessRuntime::new())
        }
    }
}

/// Builds the harnesses named in the config; command harnesses run in `runtime`.
pub fn harnesses(
    config: &Config,
    runtime: &Arc<dyn Runtime>,
) -> Result<HashMap<String, Arc<dyn Harness>>, StartError> {
    let mut out: HashMap<String, Arc<dyn Harness>> = HashMap::new();
    for (name, h) in &config.harness {
        let harness: Arc<dyn Harness> = match h {
            HarnessConfig::Scripted { script: Some(path) } => {
                Arc::new(ScriptedHarness::from_file(path)?)
            }
            HarnessConfig::Scripted { script: None } => Arc::new(ScriptedHarness::demo()),
            HarnessConfig::Command(spec) => {
                Arc::new(CommandHarness::with_runtime(spec.clone(), runtime.clone()))
            }
            cli => {
                let (kind, spec) = cli.cli().expect("every other harness is a CLI");
                Arc::new(CliHarness::new(kind, spec.clone(), runtime.clone()))
            }
        };
        out.insert(name.clone(), harness);
    }
    Ok(out)
}

/// A bot connected to Slack (or the emulator) and handling events.
pub struct Running {
    pub bot: Arc<Bot>,
    pub metrics: Arc<Metrics>,
    /// Where the ops server listens, when configured.
    pub ops_addr: Option<std::net::SocketAddr>,
    /// Where `/slack/events` is served (the HTTP transport).
    pub events_addr: Option<std::net::SocketAddr>,
    socket: Option<SocketMode>,
    shutdown: CancellationToken,
    /// Stops the HTTP Events API listener alone (a graceful stop takes no new events).
    intake: CancellationToken,
    task: JoinHandle<()>,
    drain_deadline: std::time::Duration,
}

impl Running {
    /// Disconnects and stops taking events. Jobs already running are not waited for.
    pub async fn stop(self) {
        if let Some(socket) = &self.socket {
            socket.shutdown().await;
        }
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// A graceful stop: takes no new events (the sockets close, so Slack sends them to the
    /// next process), handles every event already acked, starts no queued job, leaves runs
    /// in containers and Kubernetes Jobs running for the next process to re-attach to, and
    /// flushes the store. Bounded by the caller (`serve_until_signal`).
    pub async fn drain(self) {
        self.bot.drain();
        if let Some(socket) = &self.socket {
            socket.shutdown().await;
        }
        self.intake.cancel();
        let _ = self.task.await;
        tracing::info!("every acked event handled");
        match self.bot.finish_drain().await {
            Ok(()) => tracing::info!("store flushed"),
            Err(e) => tracing::error!(error = %e, "cannot flush the store"),
        }
        self.shutdown.cancel();
    }

    /// Runs until ctrl-c or SIGTERM, then drains (`drain`) within `[ops] drain_secs`; a
    /// second signal, or the deadline, ends it at once. Returns whether the drain finished.
    pub async fn serve_until_signal(self) -> bool {
        let mut signals = Signals::new();
        signals.next().await;
        let deadline = self.drain_deadline;
        tracing::info!(
            deadline_secs = deadline.as_secs(),
            "stopping: no new events; running jobs are left to the next start"
        );
        tokio::select! {
            _ = self.drain() => {
                tracing::info!("stopped");
                true
            }
            _ = signals.next() => {
                tracing::warn!("a second signal: stopping now");
                false
            }
            _ = tokio::time::sleep(deadline) => {
                tracing::warn!(deadline_secs = deadline.as_secs(), "the drain took too long: stopping now");
                false
            }
        }
    }
}

/// SIGTERM and ctrl-c, each as often as it comes.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(term) = &mut self.term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Starts the bot: opens the store, loads agents, identifies itself, connects Socket Mode.
pub async fn start(config: &Config, slack_settings: &SlackSettings) -> Result<Running, StartError> {
    let runtime = runtime(config);
    let harnesses = harnesses(config, &runtime)?;
    // Only command harnesses run anything; without one, the runtime is never touched.
    let uses_runtime = config.harness.values().any(HarnessConfig::runs_a_program);
    start_with(
        config,
        slack_settings,
        harnesses,
        uses_runtime.then_some(runtime),
    )
    .await
}

/// Raises the soft limit on open files to the hard one: every connection a sandbox holds
/// to the proxy is a descriptor, and the common soft limit (1,024) is reached long before
/// the proxy's own caps (`model::listen::Limits`).
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= limit.rlim_max {
        return;
    }
    let before = limit.rlim_cur;
    // An unlimited hard limit cannot be the soft one: the kernel's ceiling is.
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
        .unwrap_or(1 << 20);
    limit.rlim_cur = limit.rlim_max.min(ceiling);
    if limit.rlim_cur <= before {
        return;
    }
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == 0 {
        tracing::info!(from = before, to = limit.rlim_cur, "open-file limit raised");
    } else {
        tracing::warn!(
            limit = before,
            "cannot raise the open-file limit; the model proxy may run out of descriptors"
        );
    }
}

/// The jobs directory is the bot's alone (0700): workspaces below it are writable by the
/// sandbox user, and what a run leaves there (a setuid file, a token in CLI state) must not
/// be reachable by any other local user.
pub(crate) fn close_jobs_dir(dir: &std::path::Path) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|source| StartError::JobsDir {
            path: dir.display().to_string(),
            source,
        })
}

/// `start` with harnesses supplied by the caller (tests use scripted ones).
pub async fn start_with(
    config: &Config,
    slack_settings: &SlackSettings,
    harnesses: HashMap<String, Arc<dyn Harness>>,
    runtime: Option<Arc<dyn Runtime>>,
) -> Result<Running, StartError> {
    start_with_clock(
        config,
        slack_settings,
        harnesses,
        runtime,
        crate::schedules::clock::system(),
    )
    .await
}

/// `start_with`, with schedules and triggers reading `clock` (tests set one by hand).
pub async fn start_with_clock(
    config: &Config,
    slack_settings: &SlackSettings,
    harnesses: HashMap<String, Arc<dyn Harness>>,
    runtime: Option<Arc<dyn Runtime>>,
    clock: Arc<dyn crate::schedules::Clock>,
) -> Result<Running, StartError> {
    raise_descriptor_limit();
    close_jobs_dir(&config.jobs.workdir)?;
    let names: Vec<&str> = harnesses.keys().map(String::as_str).collect();
    let dirs = PromptDirs {
        agents: config.agents.dir.clone(),
        shared: config.agents.shared_dir.clone(),
    };
    let registry = Registry::load(&dirs, &names)?;
    if let Some(parent) = config.store.path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let store = SledStore::open(&config.store.path).map_err(|source| StartError::Store {
        path: config.store.path.display().to_string(),
        source,
    })?;
    let gateway =
        (!config.mcp.is_empty()).then(|| Arc::new(crate::mcp::gateway::Gateway::new(&config.mcp)));
    let proxy = match &config.model {
        Some(model) => {
            let proxy = ModelProxy::start_with(model.clone(), gateway)
                .await
                .map_err(StartError::Proxy)?;
            // Runs left by the previous process get their grants back in `Jobs::recover`.
            proxy.hold_unknown_tokens();
            Some(proxy)
        }
        None => None,
    };
    let forges =
        crate::forge::Forges::from_config(&config.forge, &config.git, &|k| std::env::var(k).ok())?;
    let transport = slack_settings.transport;
    if transport == Transport::Http && config.ops.events_listen.is_none() {
        return Err(StartError::NoOpsServer);
    }
    let metrics = Arc::new(Metrics::new());
    let redactor = Arc::new(Redactor::new(config.secret_values(slack_settings, &forges)));
    redact::install(&redactor);
    let health = Arc::new(match transport {
        Transport::Http => Health::http(),
        Transport::Socket => Health::default(),
    });
    let client = slack::client(slack_settings);
    let chat = Arc::new(SlackChat::new(client.clone(), slack_settings));
    let ops_runtime = runtime.clone();
    let bot = Arc::new(
        Bot::new(BotParts {
            chat,
            store: Arc::new(store),
            registry,
            prompt_dirs: config.agents.watch.then_some(dirs),
            harnesses,
            runtime,
            proxy,
            forges: Arc::new(forges),
            metrics: metrics.clone(),
            redactor,
            library: Arc::new(crate::context::Library::new(&config.agents.context_dir)),
            clock,
            settings: config.bot_settings(),
        })
        .await?,
    );
    // Bounded: a flood of events waits in Slack (unacked, redelivered), not in memory.
    let (tx, rx) = mpsc::channel(config.slack.inbound_queue.max(1));
    let shutdown = CancellationToken::new();
    let task = {
        let bot = bot.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { bot.run(rx, shutdown).await })
    };
    let events = match (transport, &slack_settings.signing_secret) {
        (Transport::Http, Some(secret)) => Some(Arc::new(EventsIntake {
            verifier: SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
                secret.expose_secret().to_string(),
            )),
            tx: tx.clone(),
        })),
        _ => None,
    };
    let state = OpsState {
        metrics: metrics.clone(),
        health: health.clone(),
        store: bot.store(),
        runtime: ops_runtime,
        events,
        token: config.ops.bearer(&|k| std::env::var(k).ok()).map(Arc::new),
        bound_to_loopback: config.ops.listen.is_some_and(|a| a.ip().is_loopback()),
    };
    let ops_addr = match config.ops.listen {
        Some(addr) => Some(
            ops::server::serve(addr, state.clone(), shutdown.clone())
                .await
                .map_err(|source| StartError::Ops { addr, source })?,
        ),
        None => None,
    };
    let intake = shutdown.child_token();
    let events_addr = match (transport, config.ops.events_listen) {
        (Transport::Http, Some(addr)) => Some(
            ops::server::serve_events(addr, state, intake.clone())
                .await
                .map_err(|source| StartError::Ops { addr, source })?,
        ),
        _ => None,
    };
    let socket = match transport {
        Transport::Socket => Some(
            SocketMode::start(client, slack_settings, tx, metrics.clone(), health)
                .await
                .map_err(StartError::Socket)?,
        ),
        Transport::Http => None,
    };
    Ok(Running {
        bot,
        metrics,
        ops_addr,
        events_addr,
        socket,
        shutdown,
        intake,
        task,
        drain_deadline: config.ops.drain(),
    })
}
