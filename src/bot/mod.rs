//! Where events come in: each inbound event is claimed once, decided (`route`, pure), and
//! acted on — a new job handed to `jobs`, a command, a correction, a reaction. Who may act
//! is decided here (`crate::authority`, `reactions`); a job's life is `crate::jobs`.
//!
//! Invariants kept here:
//! - an event is acted on once: claimed by event id, and messages by channel+ts, in the store;
//! - nothing starts for someone who may not act: outsiders, guests where not allowed, people
//!   outside an agent's `users:`/`channels:`, and members who are not the thread's people.

mod amend;
mod automation;
mod commands;
pub mod directory;
mod evals;
mod handle;
mod home;
mod intake;
mod overlap_view;
mod overlaps;
mod react;
pub mod reactions;
pub mod refusal;
pub mod route;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::chat::inbound::Envelope;
use crate::chat::{outbox, BotIdentity, ChatError, ChatPlatform};
use crate::context::Library;
use crate::forge::Forges;
use crate::harness::Harness;
use crate::jobs::{JobError, JobParts, Jobs};
use crate::model::proxy::ModelProxy;
use crate::ops::metrics::Metrics;
use crate::ops::redact::Redactor;
use crate::prompts::{PromptDirs, Registry, SharedRegistry};
use crate::runtime::Runtime;
use crate::schedules::{Clock, Planned};
use crate::settings::BotSettings;
use crate::store::{Store, StoreError};
use handle::Handler;

pub use intake::{access_refusal, resolve_agent, unknown_agent};

/// What the bot is built from: one implementation per outside world.
pub struct BotParts {
    pub chat: Arc<dyn ChatPlatform>,
    pub store: Arc<dyn Store>,
    pub registry: Registry,
    /// Watched for edits when given; changes apply without a restart.
    pub prompt_dirs: Option<PromptDirs>,
    pub harnesses: HashMap<String, Arc<dyn Harness>>,
    /// The container runtime harnesses run in, when one is used: on start, the bot removes
    /// what a crashed instance left in it.
    pub runtime: Option<Arc<dyn Runtime>>,
    /// The model proxy CLI harnesses reach their model through.
    pub proxy: Option<ModelProxy>,
    /// Forge hosts and the git identity, for jobs on a repository.
    pub forges: Arc<Forges>,
    pub metrics: Arc<Metrics>,
    /// Every secret the bot holds, masked in what it posts and stores.
    pub redactor: Arc<Redactor>,
    /// The context library agents read passages from.
    pub library: Arc<Library>,
    /// The time schedules and triggers read (`schedules::clock::system()` outside tests).
    pub clock: Arc<dyn Clock>,
    pub settings: BotSettings,
}

impl BotError {
    /// The store failed (a full or failing disk), not the request.
    pub fn is_store(&self) -> bool {
        matches!(self, BotError::Store(_) | BotError::Job(JobError::Store(_)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("cannot identify the bot (auth.test): {0}")]
    Identity(ChatError),
    #[error("the default agent `{0}` has no prompt file")]
    NoDefaultAgent(String),
    #[error("cannot watch the prompt files: {0}")]
    Watch(notify::Error),
    #[error("agent `{agent}` uses harness `{harness}`, which is not configured")]
    AgentHarness { agent: String, harness: String },
    #[error("agent `{agent}` lists MCP server `{server}`, which is not configured (add `[mcp.{server}]` to the config)")]
    AgentMcp { agent: String, server: String },
}

pub struct Bot {
    handler: Arc<Handler>,
    _watcher: Option<notify::RecommendedWatcher>,
    /// Asks the event loop to answer once it has no event waiting (`settle`).
    quiet_tx: mpsc::UnboundedSender<oneshot::Sender<()>>,
    quiet_rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<oneshot::Sender<()>>>>,
    /// Told when the prompt files are reloaded: schedules may have changed.
    reloaded: std::sync::Mutex<Option<tokio::sync::watch::Receiver<()>>>,
    /// Fired by a graceful stop: the event loop handles what it has taken, then ends.
    drain: CancellationToken,
}

impl Bot {
    /// Checks the parts fit together and learns who the bot is.
    pub async fn new(parts: BotParts) -> Result<Self, BotError> {
        if !parts
            .registry
            .agents
            .contains_key(&parts.settings.default_agent)
        {
            return Err(BotError::NoDefaultAgent(
                parts.settings.default_agent.clone(),
            ));
        }
        if let Some(a) = parts
            .registry
            .agents
            .values()
            .find(|a| !parts.harnesses.contains_key(&a.harness))
        {
            return Err(BotError::AgentHarness {
                agent: a.name.clone(),
                harness: a.harness.clone(),
            });
        }
        let gateway = parts.proxy.as_ref().and_then(|p| p.gateway());
        for a in parts.registry.agents.values() {
            if let Some(server) =
                crate::mcp::unconfigured(&a.mcp, |m| gateway.is_some_and(|g| g.has(m)))
            {
                return Err(BotError::AgentMcp {
                    agent: a.name.clone(),
                    server: server.to_string(),
                });
            }
        }
        let identity = outbox::with_retries(|| parts.chat.identity())
            .await
            .map_err(BotError::Identity)?;
        tracing::info!(user_id = %identity.user_id, team = %identity.team_id, "bot identified");
        let registry: SharedRegistry = Arc::new(std::sync::RwLock::new(Arc::new(parts.registry)));
        let user_limiter = std::num::NonZeroU32::new(parts.settings.per_user_per_hour)
            .map(|n| governor::RateLimiter::keyed(governor::Quota::per_hour(n)));
        let (reloaded_tx, reloaded_rx) = tokio::sync::watch::channel(());
        let watcher = match parts.prompt_dirs {
            Some(dirs) => {
                let chat = parts.chat.clone();
                let channel = parts.settings.admin_channel.clone();
                let report = move |errors: Vec<crate::agents::AgentFileError>| {
                    let text = format!(
                        ":warning: Prompt files that failed to load (the last good version stays in force):\n{}",
                        errors.iter().map(|e| format!("• `{e}`")).collect::<Vec<_>>().join("\n")
                    );
                    for e in &errors {
                        tracing::error!(error = %e, "prompt file rejected; keeping the last good version");
                    }
                    if let Some(channel) = channel.clone() {
                        let chat = chat.clone();
                        tokio::spawn(async move {
                            if let Err(e) =
                                outbox::with_retries(|| chat.post_message(&channel, None, &text))
                                    .await
                            {
                                tracing::warn!(error = %e, "could not report prompt errors to the admin channel");
                            }
                        });
                    }
                };
                let names = parts.harnesses.keys().cloned().collect();
                Some(
                    crate::prompts::watch(dirs, names, registry.clone(), reloaded_tx, report)
                        .map_err(BotError::Watch)?,
                )
            }
            None => None,
        };
        let chat: Arc<dyn ChatPlatform> = Arc::new(crate::chat::observed::ObservedChat::new(
            parts.chat,
            parts.metrics.clone(),
            parts.redactor.clone(),
        ));
        let overlaps = Arc::new(crate::overlap::Overlaps::load(
            parts.store.clone(),
            parts.settings.overlap.clone(),
        )?);
        let jobs = Arc::new(Jobs::new(JobParts {
            chat: chat.clone(),
            store: parts.store.clone(),
            registry,
            harnesses: parts.harnesses,
            settings: parts.settings.clone(),
            identity: identity.clone(),
            runtime: parts.runtime,
            proxy: parts.proxy,
            forges: parts.forges,
            metrics: parts.metrics,
            redactor: parts.redactor,
            library: parts.library,
            overlaps: Some(overlaps.clone()),
        }));
        let (quiet_tx, quiet_rx) = mpsc::unbounded_channel();
        Ok(Self {
            _watcher: watcher,
            quiet_tx,
            quiet_rx: std::sync::Mutex::new(Some(quiet_rx)),
            reloaded: std::sync::Mutex::new(Some(reloaded_rx)),
            drain: CancellationToken::new(),
            handler: Arc::new(Handler {
                jobs,
                chat,
                store: parts.store,
                settings: parts.settings,
                identity,
                user_limiter,
                clock: parts.clock,
                planned: std::sync::Mutex::new(Vec::new()),
                reserving: std::sync::Mutex::new(()),
                overlaps,
            }),
        })
    }

    pub fn identity(&self) -> &BotIdentity {
        &self.handler.identity
    }

    /// Removes expired workspaces and measures the rest now (the bot also does it every ten
    /// minutes).
    pub async fn sweep_workspaces(&self) -> crate::jobs::retention::Swept {
        self.handler.jobs.sweep_workspaces().await
    }

    /// The bot's store, for inspection (tests, and the audit commands later).
    pub fn store(&self) -> Arc<dyn Store> {
        self.handler.store.clone()
    }

    /// Finishes what a previous run left, then handles events until the channel closes or
    /// `shutdown` fires.
    pub async fn run(&self, mut events: mpsc::Receiver<Envelope>, shutdown: CancellationToken) {
        self.handler.jobs.recover().await;
        let workdir = self.handler.settings.workdir.clone();
        let _ = tokio::task::spawn_blocking(move || evals::sweep_eval_workspaces(&workdir)).await;
        let reloaded = self
            .reloaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        // Ended and awaited before `run` returns: each holds the store, which must be closed
        // by then (a restart on the same store opens it at once).
        let background = shutdown.child_token();
        let twins = reloaded
            .clone()
            .map(|rx| tokio::spawn(self.handler.clone().run_agent_twins(rx, background.clone())));
        let prompt_evals = reloaded.clone().map(|rx| {
            tokio::spawn(
                self.handler
                    .clone()
                    .run_prompt_evals(rx, background.clone()),
            )
        });
        let schedules = tokio::spawn(
            self.handler
                .clone()
                .run_schedules(reloaded, shutdown.child_token()),
        );
        let digest = tokio::spawn(self.handler.clone().run_digest(background.clone()));
        let prune = tokio::spawn(prune_claims(self.handler.store.clone(), background.clone()));
        let sweep = tokio::spawn(sweep_workspaces(
            self.handler.jobs.clone(),
            background.clone(),
        ));
        let mut quiet = self
            .quiet_rx
            .lock()
            .expect("quiet lock")
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1);
        loop {
            let inbound = tokio::select! {
                // Events first: a `settle` is answered only when none is waiting.
                biased;
                _ = shutdown.cancelled() => break,
                _ = self.drain.cancelled() => {
                    // Acked events are ours alone: Slack does not send them again.
                    events.close();
                    while let Some(e) = events.recv().await {
                        self.handler.take(e.decode()).await;
                    }
                    break;
                }
                e = events.recv() => match e { Some(e) => e, None => break },
                Some(asked) = quiet.recv() => {
                    let _ = asked.send(());
                    continue;
                }
            };
            self.handler.take(inbound.decode()).await;
        }
        // Aborted and awaited: an aborted task lets go of the store only when it is dropped,
        // which may come after `run` returns unless it is waited for here.
        schedules.abort();
        let _ = schedules.await;
        background.cancel();
        let _ = digest.await;
        let _ = prune.await;
        // A sweep in the middle of a folder walk stops it (the runtime would wait for the
        // walk's thread); it reads the store only at its start.
        self.handler.jobs.stop_sweeps();
        sweep.abort();
        let _ = sweep.await;
        if let Some(twins) = twins {
            let _ = twins.await;
        }
        if let Some(prompt_evals) = prompt_evals {
            let _ = prompt_evals.await;
        }
        self.handler.jobs.close();
    }

    /// Begins a graceful stop: no queued job starts any more (each stays queued in the
    /// store); the event loop handles every event it has taken (acked), takes no more, and
    /// `run` returns. Runs go on meanwhile: a stop among those events still ends its run.
    pub fn drain(&self) {
        self.handler.jobs.hold_queue();
        self.drain.cancel();
    }

    /// The end of a graceful stop, once `run` has returned: lets go of the runs (left to the
    /// next process), waits for what finishes now (replies, cards, jobs that ended), then
    /// writes everything the store holds to disk.
    pub async fn finish_drain(&self) -> Result<(), StoreError> {
        self.handler.jobs.leave_runs();
        self.handler.jobs.wait_left().await;
        self.handler.store.flush()
    }

    /// Each schedule and its next run, as the schedules loop last computed it.
    pub fn planned(&self) -> Vec<Planned> {
        self.handler.planned()
    }

    /// Waits until no job is running or queued.
    pub async fn wait_idle(&self) {
        self.handler.jobs.wait_idle().await
    }

    /// Waits until the bot is quiet: every event it has taken is handled, and no job and no
    /// background task (a reply, a reaction, a card) is left. Events still on their way to
    /// the bot are the caller's to wait for (in tests: the emulator's deliveries in flight).
    pub async fn settle(&self) {
        if self.quiet_rx.lock().expect("quiet lock").is_some() {
            // `run` has not started: there is no event loop to ask.
            self.handler.jobs.settle().await;
            return;
        }
        loop {
            let (tx, rx) = oneshot::channel();
            if self.quiet_tx.send(tx).is_err() || rx.await.is_err() {
                // The event loop is not running: only the jobs are left to wait for.
                self.handler.jobs.settle().await;
                return;
            }
            self.handler.jobs.settle().await;
            // Handling the last events may have queued more; quiet means both at once.
            let (tx, rx) = oneshot::channel();
            if self.quiet_tx.send(tx).is_err() || rx.await.is_err() {
                return;
            }
            if self.handler.jobs.is_quiet() {
                return;
            }
        }
    }
}

/// Removes expired workspaces and measures the rest, at start and every ten minutes.
async fn sweep_workspaces(jobs: Arc<Jobs>, shutdown: CancellationToken) {
    loop {
        jobs.sweep_workspaces().await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
        }
    }
}

/// Drops event and message claims older than a day — Slack redelivers for about an hour —
/// at start and every six hours, so the de-duplication trees do not grow for ever.
async fn prune_claims(store: Arc<dyn Store>, shutdown: CancellationToken) {
    loop {
        let s = store.clone();
        let cut = chrono::Utc::now() - chrono::Duration::days(1);
        match tokio::task::spawn_blocking(move || s.prune_claims(cut)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(dropped = n, "old event claims pruned"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot prune old event claims"),
            Err(e) => tracing::warn!(error = %e, "pruning old event claims failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(6 * 3600)) => {}
        }
    }
}
