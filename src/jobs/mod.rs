//! One job's life, from acceptance to its ending in the thread: the queue and the card,
//! the run in its sandbox, the repository before and after, and recovery after a restart.
//! `bot` decides whether something happens (who may act, which agent); this module carries
//! out a job once it is accepted, through a small API: `accept`, `stop`, `recover`,
//! `wait_idle`, `pr_verdict`.
//!
//! Invariants kept here:
//! - a job is persisted before anyone is told about it, and every accepted job ends with a
//!   terminal message in its thread (the answer or why not), also across a crash or restart
//!   (`ending`, `recover`);
//! - a job's record is changed only through `update_job` and `decide_job`, one writer at a
//!   time;
//! - a job's stop switch exists before anyone can see it running (`start`).

pub mod budget;
pub mod card;
pub mod changes;
mod delivery;
mod ending;
mod follow;
pub mod grants;
pub mod links;
pub mod plan;
mod progress;
pub mod queue;
pub mod reconcile;
mod recover;
pub mod retention;
mod run;
mod start;
mod thread;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::agents::Agent;
use crate::chat::{outbox, BotIdentity, ChatError, ChatPlatform, MessageTag};
use crate::context::{Found, Library};
use crate::forge::{Forges, PullRequest};
use crate::harness::Harness;
use crate::job::{Job, JobId, JobState, NewJob};
use crate::model::proxy::ModelProxy;
use crate::ops::metrics::Metrics;
use crate::ops::redact::Redactor;
use crate::prompts::{effective_prompt, EffectivePrompt, Registry, SharedRegistry};
use crate::runtime::Runtime;
use crate::settings::BotSettings;
use crate::store::{AuditRecord, Store, StoreError};
use card::CardUpdater;
use links::PendingLinks;
use queue::RunQueue;

pub use ending::{job_chain, terminal_parts, MAX_ANSWER_CHARS};
pub use progress::TranscriptCount;
pub use retention::transcripts_expired;
pub use start::StopResult;
pub use thread::compose_task;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("job {0} is not in the store")]
    MissingJob(JobId),
}

/// What jobs are run with: one implementation per outside world.
pub struct JobParts {
    /// The chat platform, as the bot sees it (observed and redacted).
    pub chat: Arc<dyn ChatPlatform>,
    pub store: Arc<dyn Store>,
    pub registry: SharedRegistry,
    pub harnesses: HashMap<String, Arc<dyn Harness>>,
    pub settings: BotSettings,
    pub identity: BotIdentity,
    pub runtime: Option<Arc<dyn Runtime>>,
    pub proxy: Option<ModelProxy>,
    pub forges: Arc<Forges>,
    pub metrics: Arc<Metrics>,
    pub redactor: Arc<Redactor>,
    pub library: Arc<Library>,
    /// Told when a job ends (its PR title joins its request's terms).
    pub overlaps: Option<Arc<crate::overlap::Overlaps>>,
}

/// Every job's life: the queue, the running jobs' cards and stop switches, and what a run
/// needs from outside (chat, store, harnesses, runtime, model proxy, forges).
pub struct Jobs {
    chat: Arc<dyn ChatPlatform>,
    store: Arc<dyn Store>,
    registry: SharedRegistry,
    harnesses: HashMap<String, Arc<dyn Harness>>,
    settings: BotSettings,
    identity: BotIdentity,
    queue: std::sync::Mutex<RunQueue>,
    cards: std::sync::Mutex<HashMap<JobId, Arc<CardUpdater>>>,
    job_lock: tokio::sync::Mutex<()>,
    idle: tokio::sync::Notify,
    runtime: Option<Arc<dyn Runtime>>,
    proxy: Option<ModelProxy>,
    forges: Arc<Forges>,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    redactor: Arc<Redactor>,
    library: Arc<Library>,
    overlaps: Option<Arc<crate::overlap::Overlaps>>,
    /// The `jobs_active` gauge each job is counted in now.
    active: std::sync::Mutex<HashMap<JobId, (String, &'static str)>>,
    /// Running jobs' stop switches, and who pulled them.
    stops: std::sync::Mutex<HashMap<JobId, (CancellationToken, Option<String>)>>,
    /// Posts whose link is not recorded yet (reactions on them wait, see `links`).
    links: PendingLinks,
    /// Every task the bot starts in the background (runs, cards, replies, reactions), so
    /// that `settle` knows when it is quiet.
    tasks: TaskTracker,
    settling: tokio::sync::Mutex<()>,
    /// A graceful stop began: no queued job starts.
    holding: std::sync::atomic::AtomicBool,
    /// Bytes the workspaces took at the last sweep (`retention`).
    workspace_bytes: std::sync::atomic::AtomicU64,
    /// Set when the bot stops: a sweep's folder walk ends early.
    sweep_stop: Arc<std::sync::atomic::AtomicBool>,
    /// A graceful stop lets go of the runs: they are left to the next process.
    leave: CancellationToken,
}

/// What a harness run came to.
struct Ending {
    state: JobState,
    answer: Option<String>,
    failure: Option<String>,
}

/// Where a new job works: its repository and base branch, and for a follow-up or a re-run
/// the PR and head its thread has.
#[derive(Debug, Clone, Default)]
pub struct Workplace {
    pub repo: Option<String>,
    pub branch: Option<String>,
    pub pr: Option<PullRequest>,
    pub head: Option<String>,
}

impl Jobs {
    pub fn new(parts: JobParts) -> Self {
        let queue = RunQueue::new(parts.settings.max_running, parts.settings.per_channel);
        Self {
            chat: parts.chat,
            store: parts.store,
            registry: parts.registry,
            harnesses: parts.harnesses,
            settings: parts.settings,
            identity: parts.identity,
            queue: std::sync::Mutex::new(queue),
            cards: std::sync::Mutex::new(HashMap::new()),
            job_lock: tokio::sync::Mutex::new(()),
            idle: tokio::sync::Notify::new(),
            runtime: parts.runtime,
            proxy: parts.proxy,
            forges: parts.forges,
            http: crate::net::outbound()
                .http()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            metrics: parts.metrics,
            redactor: parts.redactor,
            library: parts.library,
            overlaps: parts.overlaps,
            active: std::sync::Mutex::new(HashMap::new()),
            stops: std::sync::Mutex::new(HashMap::new()),
            links: PendingLinks::default(),
            tasks: TaskTracker::new(),
            settling: tokio::sync::Mutex::new(()),
            holding: std::sync::atomic::AtomicBool::new(false),
            workspace_bytes: std::sync::atomic::AtomicU64::new(0),
            sweep_stop: Arc::default(),
            leave: CancellationToken::new(),
        }
    }

    /// Persists a new job and queues it; its card goes up in the background, then it may
    /// start. The caller has decided that it may run (`bot::intake`).
    pub fn accept(self: &Arc<Self>, new: NewJob, place: Workplace) -> Result<JobId, JobError> {
        let mut job = Job::queued(self.store.next_job_id()?, new);
        job.repo = place.repo;
        job.branch = place.branch;
        job.pr = place.pr;
        job.head = place.head;
        let id = job.id;
        self.submit(job)?;
        Ok(id)
    }

    /// Waits until no job is running or queued.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.is_idle() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until no job is queued or running and no background task (a reply, a reaction,
    /// a card going up) is left.
    pub async fn settle(&self) {
        // One at a time: each closes and reopens the one tracker.
        let _one = self.settling.lock().await;
        loop {
            self.wait_idle().await;
            self.tasks.close();
            self.tasks.wait().await;
            self.tasks.reopen();
            if self.is_idle() && self.tasks.is_empty() {
                return;
            }
        }
    }

    /// No job queued or running, no background task left.
    pub fn is_quiet(&self) -> bool {
        self.is_idle() && self.tasks.is_empty()
    }

    /// Runs `task` in the background, counted by `settle`.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// The last step of a graceful stop, once the acked events are handled: runs in
    /// containers and Kubernetes Jobs are let go of and left running for the next process to
    /// re-attach to (nothing more starts either).
    /// The first step of a graceful stop: no queued job starts from now on (each stays queued
    /// in the store, for the next process). Runs go on as usual, so a stop handled while the
    /// acked events are drained still kills its run.
    pub fn hold_queue(&self) {
        self.holding
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn leave_runs(&self) {
        // The runtime first: a run let go of below must not be removed with its handle.
        if let Some(runtime) = &self.runtime {
            runtime.leave_runs();
        }
        self.hold_queue();
        self.leave.cancel();
    }

    /// Waits for the tasks a graceful stop lets finish (replies, cards, jobs ending now);
    /// runs left to the next process have let go already.
    pub async fn wait_left(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// A stopped bot gives its model port back (a new instance may start in its place).
    pub fn close(&self) {
        if let Some(proxy) = &self.proxy {
            proxy.stop();
        }
    }

    /// The harnesses configured, by name.
    pub fn harness_names(&self) -> Vec<&str> {
        self.harnesses.keys().map(String::as_str).collect()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    pub fn forges(&self) -> &Forges {
        &self.forges
    }

    /// Posts whose link is not recorded yet: a reaction on one of them waits (`links`).
    pub fn links(&self) -> &PendingLinks {
        &self.links
    }

    pub(super) fn is_idle(&self) -> bool {
        let q = self.queue.lock().expect("queue lock");
        q.running_count() == 0 && q.waiting_count() == 0
    }

    /// Changes a job by a person's decision and writes its audit record with it
    /// (`Store::record_decision`; `reconcile` covers a crash between the two).
    pub async fn decide_job(
        &self,
        id: JobId,
        f: impl FnOnce(&mut Job),
        record: impl FnOnce(&Job) -> AuditRecord,
    ) -> Result<Job, JobError> {
        let _guard = self.job_lock.lock().await;
        let mut job = self.store.job(id)?.ok_or(JobError::MissingJob(id))?;
        f(&mut job);
        let record = record(&job);
        if let Err(e) = self
            .store
            .record_decision(crate::store::Decided::Job(&job), &record)
        {
            let record = serde_json::to_string(&record).unwrap_or_default();
            tracing::error!(job = id, error = %e, %record, "cannot record a decision and its audit record");
            return Err(e.into());
        }
        Ok(job)
    }

    /// `update_job` where the job goes on without the write (a link, a PR's state): a failure
    /// is logged with the job id and what was being recorded, never dropped silently.
    pub(super) async fn record(
        &self,
        id: JobId,
        what: &str,
        f: impl FnOnce(&mut Job),
    ) -> Option<Job> {
        match self.update_job(id, f).await {
            Ok(job) => Some(job),
            Err(e) => {
                tracing::error!(job = id, error = %e, what, "cannot record on the job; going on without it");
                None
            }
        }
    }

    pub async fn update_job(&self, id: JobId, f: impl FnOnce(&mut Job)) -> Result<Job, JobError> {
        let _guard = self.job_lock.lock().await;
        let mut job = self.store.job(id)?.ok_or(JobError::MissingJob(id))?;
        f(&mut job);
        self.store.put_job(&job)?;
        Ok(job)
    }

    /// Appends an audit record. A failed write is never silent: it is logged whole (the
    /// log is redacted) and returned to the caller.
    pub fn audit(&self, record: AuditRecord) -> Result<(), JobError> {
        if let Err(e) = self.store.append_audit(&record) {
            let record = serde_json::to_string(&record).unwrap_or_default();
            tracing::error!(error = %e, %record, "cannot write an audit record");
            return Err(e.into());
        }
        Ok(())
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The agent's effective prompt now: files in force plus its active amendments.
    pub fn effective(&self, agent: &Agent) -> Result<EffectivePrompt, JobError> {
        let registry = self.registry();
        let amendments = self.store.amendments(&agent.name)?;
        Ok(effective_prompt(agent, &registry.fragments, &amendments))
    }

    /// What eval runs share with jobs: the harnesses, runtime, sandbox policy and model
    /// proxy; their workspaces go below the jobs directory, their tokens are masked.
    pub fn evaluator(&self) -> crate::evals::run::Evaluator {
        crate::evals::run::Evaluator {
            harnesses: self.harnesses.clone(),
            runtime: self.runtime.clone(),
            proxy: self.proxy.clone(),
            policy: self.settings.sandbox.clone(),
            job_timeout: self.settings.job_timeout,
            workdir: self.settings.workdir.join("evals"),
            max_running: self.settings.max_running,
            judge: match (&self.settings.evals.judge, &self.proxy) {
                (Some(settings), Some(proxy)) => Some(crate::evals::judge::Judge {
                    settings: settings.clone(),
                    proxy: proxy.clone(),
                }),
                _ => None,
            },
            forges: Some(self.forges.clone()),
            redactor: Some(self.redactor.clone()),
        }
    }

    /// The library passages the agent's jobs would receive for `query`. The library is
    /// re-indexed first if a file changed (a `stat` per file when nothing did), off the
    /// async threads.
    pub async fn passages(&self, agent: &Agent, query: &str) -> Found {
        let library = self.library.clone();
        let (query, scopes) = (query.to_string(), agent.context.clone());
        let k = self.settings.context_passages;
        match tokio::task::spawn_blocking(move || library.find(&query, &scopes, k)).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(agent = %agent.name, error = %e, "context library lookup failed");
                Found::default()
            }
        }
    }

    /// Posts a reply in a thread, retrying transient failures; logs what cannot be delivered.
    /// Posts with a tag (see `MessageTag`), retried like `say`.
    pub(super) async fn say_tagged(
        &self,
        channel: &str,
        thread_ts: &str,
        text: &str,
        tag: &MessageTag,
    ) -> Option<String> {
        let post = || self.chat.post_tagged(channel, Some(thread_ts), text, tag);
        match outbox::with_retries(post).await {
            Ok(ts) => Some(ts),
            Err(e) => {
                tracing::error!(%channel, %thread_ts, error = %e, "could not post to the thread");
                None
            }
        }
    }

    /// The ts of the bot's message in the thread that carries `tag`, if there is one.
    pub(super) async fn find_tagged(
        &self,
        channel: &str,
        thread_ts: &str,
        tag: &MessageTag,
    ) -> Result<Option<String>, ChatError> {
        let messages =
            outbox::with_retries(|| self.chat.thread_messages(channel, thread_ts)).await?;
        Ok(messages
            .into_iter()
            .find(|m| m.bot_id == self.identity.bot_id && m.tag.as_ref() == Some(tag))
            .map(|m| m.ts))
    }

    pub async fn say(&self, channel: &str, thread_ts: &str, text: &str) -> Option<String> {
        match outbox::with_retries(|| self.chat.post_message(channel, Some(thread_ts), text)).await
        {
            Ok(ts) => Some(ts),
            Err(e) => {
                tracing::error!(%channel, %thread_ts, error = %e, "could not post to the thread");
                None
            }
        }
    }

    /// Moves the job's count in the `jobs` and `jobs_active` metrics to `state`.
    pub(super) fn count_state(&self, job: &Job, state: JobState) {
        self.metrics.job_state(&job.agent, state.label());
        let mut active = self.active.lock().expect("active lock");
        if let Some((agent, was)) = active.remove(&job.id) {
            self.metrics.active(&agent, was, -1);
        }
        if !state.is_terminal() {
            self.metrics.active(&job.agent, state.label(), 1);
            active.insert(job.id, (job.agent.clone(), state.label()));
            return;
        }
        drop(active);
        let agent = crate::ops::metrics::AgentLabel {
            agent: job.agent.clone(),
        };
        if job.started_at.is_some() {
            self.metrics
                .job_seconds
                .get_or_create(&agent)
                .observe(job.elapsed_secs(Utc::now()) as f64);
        }
        for (direction, n) in [
            ("input", job.usage.input_tokens),
            ("output", job.usage.output_tokens),
        ] {
            self.metrics
                .tokens
                .get_or_create(&crate::ops::metrics::TokenLabels {
                    agent: job.agent.clone(),
                    direction: direction.into(),
                })
                .inc_by(n);
        }
        self.metrics
            .cost_usd
            .get_or_create(&agent)
            .inc_by(job.usage.cost_usd);
    }
}
