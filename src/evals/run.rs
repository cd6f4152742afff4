//! Running a suite: each case in a fresh workspace, through the same harnesses, runtime,
//! sandbox limits and model proxy as a job, a few at a time; then its checks.
//!
//! An eval run is not a job: it has no thread, no card and no record in the store. Its
//! sandbox and grant carry an id from a range jobs never reach (`EVAL_IDS`), so a bot that
//! restarts removes what a crashed eval left like any leftover without a job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use super::case::{Case, Suite};
use super::check::{changed_files, failures, CommandOutcome, Outcome, Snapshot};
use super::judge::Judge;
use super::report::{CaseRun, Report, VariantInfo};
use crate::agents::Agent;
use crate::harness::{Harness, HarnessEvent, HarnessRun};
use crate::job::ThreadMessage;
use crate::model::proxy::{GrantHandle, ModelProxy};
use crate::runtime::{Launch, NetworkMode, Runtime, SandboxPolicy, SandboxSpec};

/// Eval runs are numbered from here: far above any job id a store hands out.
pub const EVAL_IDS: u64 = 1 << 48;

/// What a run reports beside its checks.
#[derive(Debug, Default)]
struct Extra {
    /// The MCP tool calls it made, one line each.
    tool_calls: Vec<String>,
    /// It used a model without a price.
    unpriced: bool,
    /// It failed for a reason that says nothing about the prompt (the bot's side).
    infra: bool,
    /// It may still be going: its workspace is not touched.
    running: bool,
}

/// How a run whose harness did not start fails (the bot's side, not the prompt's).
const NOT_STARTED: &str = "the harness did not start";

/// How often a run's workspace is measured against its disk limit.
const DISK_EVERY: Duration = Duration::from_secs(10);

/// What measuring a workspace may read: per file, in all, and for how long. A file past the
/// per-file cap counts by its size and modification time (a sparse 8 TB file is not read).
#[derive(Debug, Clone, Copy)]
pub struct SnapshotLimits {
    pub file_bytes: u64,
    pub total_bytes: u64,
    pub entries: usize,
    pub time: Duration,
}

const SNAPSHOT_LIMITS: SnapshotLimits = SnapshotLimits {
    file_bytes: 16 << 20,
    total_bytes: 1 << 30,
    entries: 200_000,
    time: Duration::from_secs(120),
};

/// How long a command check may take at most (within the sandbox's own limit).
const COMMAND_LIMIT: Duration = Duration::from_secs(300);
/// What a command check's output keeps for the report.
const TAIL_BYTES: usize = 600;

/// One way of running the suite, ready to run.
#[derive(Debug, Clone)]
pub struct Variant {
    pub info: VariantInfo,
    /// The role prompt the agent gets (the prompt version's text).
    pub role_prompt: String,
}

/// What the runs share with the bot's jobs.
#[derive(Clone)]
pub struct Evaluator {
    pub harnesses: HashMap<String, Arc<dyn Harness>>,
    pub runtime: Option<Arc<dyn Runtime>>,
    pub proxy: Option<ModelProxy>,
    pub policy: SandboxPolicy,
    pub job_timeout: Duration,
    /// Where eval workspaces are made (below the jobs directory).
    pub workdir: PathBuf,
    /// Runs at once (`[jobs] max_running`).
    pub max_running: usize,
    pub judge: Option<Judge>,
    /// Where cases that start from a repository clone it from.
    pub forges: Option<Arc<crate::forge::Forges>>,
    /// Told each grant token, so it is masked like a job's.
    pub redactor: Option<Arc<crate::ops::redact::Redactor>>,
}

/// A run finished (for a progress bar): how many are done of how many.
pub type Progress = Arc<dyn Fn(usize, usize, &CaseRun) + Send + Sync>;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A fresh eval id (two in a row are free: the run's and its command check's).
fn next_id() -> u64 {
    let start = NEXT.load(Ordering::Relaxed);
    if start == 0 {
        // Random, not the pid: a bot and the eval CLI in two containers are both pid 1.
        let mut bytes = [0u8; 8];
        let seed = match getrandom::fill(&mut bytes) {
            Ok(()) => u64::from_le_bytes(bytes),
            Err(_) => {
                u64::from(std::process::id())
                    ^ std::time::UNIX_EPOCH
                        .elapsed()
                        .map_or(0, |d| d.as_nanos() as u64)
            }
        };
        // 40 bits of it, shifted and even, below 2^46: ids stay in [2^48, 2^49).
        let seed = ((seed & ((1 << 40) - 1)) << 6) & !1;
        let _ = NEXT.compare_exchange(0, seed + 2, Ordering::Relaxed, Ordering::Relaxed);
    }
    EVAL_IDS + NEXT.fetch_add(2, Ordering::Relaxed)
}

impl Evaluator {
    /// Runs every case `runs` times under each variant (within `max_running` at once) and
    /// reports. With `budget_usd`, no new run starts once the runs so far cost that much;
    /// the ones left are reported as not run.
    pub async fn run_suite(
        &self,
        agent: &Agent,
        suite: &Suite,
        variants: &[Variant],
        runs: u32,
        budget_usd: Option<f64>,
        progress: Option<Progress>,
    ) -> Report {
        let mut plan = Vec::new();
        for case in &suite.cases {
            for (v, _) in variants.iter().enumerate() {
                for _ in 0..runs.max(1) {
                    plan.push((case.clone(), v));
                }
            }
        }
        let total = plan.len();
        let permits = Arc::new(tokio::sync::Semaphore::new(self.max_running.max(1)));
        // Spent so far; `None` once a run's cost is unknown (a model without a price): with a
        // budget, no new run starts then, since the budget could not be kept.
        let spent = Arc::new(std::sync::Mutex::new(Some(0.0f64)));
        let done = Arc::new(AtomicU64::new(0));
        let mut set = tokio::task::JoinSet::new();
        for (case, v) in plan {
            let this = self.clone();
            let agent = agent.clone();
            let variant = variants[v].clone();
            let (permits, spent, done, progress) = (
                permits.clone(),
                spent.clone(),
                done.clone(),
                progress.clone(),
            );
            set.spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return Err((case.name.clone(), v));
                };
                let over = |b: f64| {
                    spent
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_none_or(|s| s >= b)
                };
                if budget_usd.is_some_and(over) {
                    return Err((case.name.clone(), v));
                }
                use futures::FutureExt;
                let name = case.name.clone();
                let ran = std::panic::AssertUnwindSafe(this.run_case(&agent, &case, &variant))
                    .catch_unwind()
                    .await;
                let mut run = ran.unwrap_or_else(|_| CaseRun {
                    case: name,
                    variant: v,
                    passed: false,
                    failures: vec!["the eval run panicked (see the log)".into()],
                    secs: 0.0,
                    cost_usd: None,
                    judge: None,
                    tool_calls: vec![],
                    unpriced: false,
                    infra: true,
                });
                run.variant = v;
                {
                    let mut spent = spent.lock().unwrap_or_else(|p| p.into_inner());
                    *spent = match (*spent, run.cost_usd) {
                        // Partly priced is unknown too (an unpriced judge beside a priced model).
                        _ if run.unpriced => None,
                        (Some(s), Some(c)) => Some(s + c),
                        (s, _) => s,
                    };
                }
                let n = done.fetch_add(1, Ordering::Relaxed) as usize + 1;
                if let Some(p) = &progress {
                    p(n, total, &run);
                }
                Ok(run)
            });
        }
        let mut report = Report {
            agent: agent.name.clone(),
            variants: variants.iter().map(|v| v.info.clone()).collect(),
            cases: suite.cases.iter().map(|c| c.name.clone()).collect(),
            runs: vec![],
            not_run: vec![],
        };
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(run)) => report.runs.push(run),
                Ok(Err(skipped)) => report.not_run.push(skipped),
                Err(e) => tracing::error!(agent = %agent.name, error = %e, "an eval run panicked"),
            }
        }
        let order = |c: &str| report.cases.iter().position(|n| n == c);
        report.runs.sort_by_key(|r| (order(&r.case), r.variant));
        report
    }

    /// One run of one case: a fresh workspace, the harness in its sandbox, then the checks.
    pub async fn run_case(&self, agent: &Agent, case: &Case, variant: &Variant) -> CaseRun {
        let id = next_id();
        let workspace = self.workdir.join(format!("eval-{id}"));
        let started = Instant::now();
        use futures::FutureExt;
        let ran = std::panic::AssertUnwindSafe(self.outcome(id, agent, case, variant, &workspace))
            .catch_unwind()
            .await;
        let (outcome, extra) = ran.unwrap_or_else(|_| {
            tracing::error!(agent = %agent.name, case = %case.name, "an eval run panicked");
            (
                Outcome {
                    error: Some("the eval run panicked (see the log)".into()),
                    ..Outcome::default()
                },
                Extra {
                    infra: true,
                    ..Extra::default()
                },
            )
        });
        let failed = failures(case, &outcome);
        // A run that may still be going keeps its workspace (recovery removes it later).
        if !extra.running {
            self.remove_workspace(id + 1, agent, workspace).await;
        }
        CaseRun {
            case: case.name.clone(),
            variant: 0,
            passed: failed.is_empty(),
            failures: failed,
            secs: started.elapsed().as_secs_f64(),
            cost_usd: outcome.cost_usd,
            judge: match &outcome.judge {
                Some(Ok(j)) => Some(j.reason.clone()),
                _ => None,
            },
            tool_calls: extra.tool_calls,
            unpriced: extra.unpriced,
            infra: extra.infra,
        }
    }

    async fn outcome(
        &self,
        id: u64,
        agent: &Agent,
        case: &Case,
        variant: &Variant,
        workspace: &Path,
    ) -> (Outcome, Extra) {
        // Failing before the agent ran says nothing about the prompt.
        let failed = |e: String| {
            (
                Outcome {
                    error: Some(e),
                    ..Outcome::default()
                },
                Extra {
                    infra: true,
                    ..Extra::default()
                },
            )
        };
        let Some(harness) = self.harnesses.get(&variant.info.harness).cloned() else {
            return failed(format!(
                "harness `{}` is not configured",
                variant.info.harness
            ));
        };
        let mut spec = match crate::jobs::plan::sandbox_for(
            &self.policy,
            &agent.name,
            Some(agent),
            self.job_timeout,
        ) {
            Ok(s) => s,
            Err(e) => return failed(e.to_string()),
        };
        if let Some(t) = case.limits.timeout {
            spec.timeout = spec.timeout.min(t);
        }
        let start = case.start.clone();
        if let Some(repo) = &start.repo {
            if let Err(e) = self.clone_repo(agent, repo, workspace).await {
                return failed(e);
            }
        }
        let ws = workspace.to_path_buf();
        let before = match tokio::task::spawn_blocking(move || {
            if start.repo.is_some() {
                add_files(&ws, &start)?;
            } else {
                prepare_workspace(&ws, &start)?;
            }
            snapshot(&ws, SNAPSHOT_LIMITS)
        })
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return failed(format!("cannot prepare the workspace: {e}")),
            Err(e) => return failed(format!("cannot prepare the workspace: {e}")),
        };
        let models = match &variant.info.model {
            Some(m) => vec![m.clone()],
            None => crate::jobs::plan::allowed_models(Some(agent)),
        };
        let grant = self
            .proxy
            .as_ref()
            .map(|p| p.grant(id, &agent.name, models));
        if let (Some(g), Some(r)) = (&grant, &self.redactor) {
            r.add(g.token());
        }
        if let Some(g) = &grant {
            if !agent.mcp.is_empty() {
                g.open_tools(agent.mcp.clone());
            }
        }
        let model_base = grant.as_ref().map(|g| self.model_base(g, &spec));
        let egress_proxy = grant.as_ref().and_then(|g| {
            let url = crate::jobs::grants::open_egress(self.runtime.as_deref(), g, &spec)?;
            // A verbose client prints the proxy credentials base64-encoded: masked too.
            if let Some(r) = &self.redactor {
                r.add(&crate::jobs::grants::proxy_credentials(g));
            }
            Some(url)
        });
        let mcp = match &model_base {
            Some(base) => crate::mcp::endpoints(base, &agent.mcp),
            None => vec![],
        };
        let context: Vec<ThreadMessage> = case
            .thread
            .iter()
            .enumerate()
            .map(|(i, text)| ThreadMessage {
                ts: format!("eval.{i}"),
                user: None,
                author: "earlier message".into(),
                text: text.clone(),
                from_bot: false,
                role: "member".into(),
                trusted: true,
            })
            .collect();
        let task = crate::jobs::compose_task("eval.request", &context, &case.request, None);
        let run = HarnessRun {
            job_id: id,
            agent: agent.name.clone(),
            role_prompt: variant.role_prompt.clone(),
            task,
            model: variant.info.model.clone().or_else(|| agent.model.clone()),
            workdir: workspace.to_path_buf(),
            sandbox: spec.clone(),
            resume_session: None,
            model_base,
            mcp,
            egress_proxy,
        };
        let started = Instant::now();
        let disk = (spec.disk_mb > 0).then(|| (workspace.to_path_buf(), spec.disk_mb));
        let (mut outcome, ended) = follow(harness.as_ref(), run, spec.timeout, disk).await;
        outcome.elapsed = started.elapsed();
        let mut extra = Extra {
            infra: outcome
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with(NOT_STARTED)),
            ..Extra::default()
        };
        if !ended {
            // Nothing may be measured, checked or removed while the run may still write.
            outcome.error.get_or_insert(
                "the run could not be confirmed ended; its workspace is left".into(),
            );
            extra.running = true;
            extra.infra = true;
            return (outcome, extra);
        }
        if let Some(g) = &grant {
            let used = g.usage();
            extra.unpriced = used.unpriced;
            // A model without a price costs nothing known: no figure rather than $0.
            if used.requests > 0 && !(used.unpriced && used.cost_usd == 0.0) {
                outcome.cost_usd = Some(used.cost_usd);
            }
            if let Some(mut calls) = g.take_tool_calls() {
                while let Ok(c) = calls.try_recv() {
                    let line = format!(
                        "{}.{}: {} ({} ms) {}",
                        c.server,
                        c.tool,
                        crate::text::clip(&c.outcome, 200),
                        c.duration_ms,
                        crate::text::clip(&c.arguments, 200)
                    );
                    // Masked as a job's are: a secret the bot holds never reaches a record.
                    let line = match &self.redactor {
                        Some(r) => r.apply(&line).into_owned(),
                        None => line,
                    };
                    extra.tool_calls.push(line);
                }
            }
        }
        drop(grant);
        let ws = workspace.to_path_buf();
        let after = tokio::task::spawn_blocking(move || {
            crate::runtime::hostfs::strip_special_bits(&ws);
            snapshot(&ws, SNAPSHOT_LIMITS)
        })
        .await;
        match after {
            Ok(Ok(after)) => outcome.changed = changed_files(&before, &after),
            // Checks on files the bot could not see would pass or fail for nothing.
            Ok(Err(e)) => {
                outcome
                    .error
                    .get_or_insert(format!("cannot measure the workspace after the run: {e}"));
                extra.infra = true;
            }
            Err(e) => {
                outcome
                    .error
                    .get_or_insert(format!("cannot measure the workspace after the run: {e}"));
                extra.infra = true;
            }
        }
        if let (Some(command), None) = (&case.expect.command, &outcome.error) {
            outcome.command = Some(
                self.command_check(id + 1, agent, &spec, workspace, command)
                    .await,
            );
        }
        if let (Some(rubric), Some(judge)) = (&case.expect.rubric, &self.judge) {
            if outcome.error.is_none() {
                let (verdict, used) = judge.score(id, &agent.name, rubric, case, &outcome).await;
                // The judge's spend is the case's too.
                extra.unpriced |= used.unpriced;
                if used.requests > 0 && !(used.unpriced && used.cost_usd == 0.0) {
                    outcome.cost_usd = Some(outcome.cost_usd.unwrap_or(0.0) + used.cost_usd);
                }
                outcome.judge = Some(verdict);
            }
        }
        (outcome, extra)
    }

    /// Clones `repo` into `workspace` (which must not exist yet) at its branch and commit, with
    /// the forge's token as a job's checkout does; the error never holds the token.
    async fn clone_repo(
        &self,
        agent: &Agent,
        repo: &super::case::RepoStart,
        workspace: &Path,
    ) -> Result<(), String> {
        let Some(forges) = &self.forges else {
            return Err(format!("no forge is configured to clone `{}`", repo.repo));
        };
        if !crate::forge::agent_may_use(agent.repo.as_deref(), &agent.repos, &repo.repo) {
            return Err(format!(
                "`{}` may not work on `{}` (its `repo:` and `repos:`)",
                agent.name, repo.repo
            ));
        }
        let host = forges.host_for(&repo.repo).ok_or_else(|| {
            format!(
                "no `[forge.*]` serves `{}` (its `repos` patterns)",
                repo.repo
            )
        })?;
        if let Some(parent) = workspace.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        if workspace.exists() {
            return Err(format!("{} exists already", workspace.display()));
        }
        let hide = |e: crate::forge::git::GitError| {
            crate::forge::redact(&e.to_string(), &forges.secrets())
        };
        let checkout = crate::forge::git::Checkout::beside(workspace);
        checkout
            .prepare_at(
                &host.clone_url(&repo.repo),
                repo.branch.as_deref(),
                repo.commit.as_deref(),
                "threadwork-eval",
                &host.git_auth_header(),
            )
            .await
            .map_err(|e| match &repo.commit {
                Some(c) => format!("cannot clone `{}` at {c}: {}", repo.repo, hide(e)),
                None => format!("cannot clone `{}`: {}", repo.repo, hide(e)),
            })?;
        Ok(())
    }

    /// The run's model base URL as its sandbox sees it (as for a job).
    fn model_base(&self, grant: &GrantHandle, spec: &SandboxSpec) -> String {
        crate::jobs::grants::model_base(self.runtime.as_deref(), self.proxy.as_ref(), grant, spec)
    }

    /// `sh -c <command>` in the workspace, in the agent's sandbox without network.
    async fn command_check(
        &self,
        id: u64,
        agent: &Agent,
        spec: &SandboxSpec,
        workspace: &Path,
        command: &str,
    ) -> CommandOutcome {
        let not_run = |why: String| CommandOutcome {
            code: None,
            tail: why,
        };
        let Some(runtime) = &self.runtime else {
            return not_run("no container runtime is configured to run it".into());
        };
        let mut spec = spec.clone();
        spec.network = NetworkMode::None;
        spec.timeout = spec.timeout.min(COMMAND_LIMIT);
        let sandbox_ws = runtime.workspace_in_sandbox(workspace, &spec);
        let launch = Launch {
            stdin: None,
            job_id: id,
            agent: agent.name.clone(),
            program: "sh".into(),
            args: vec!["-c".into(), command.to_string()],
            env: vec![
                ("HOME".into(), "/tmp".into()),
                (
                    "PATH".into(),
                    "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".into(),
                ),
                (
                    "THREADWORK_WORKSPACE".into(),
                    sandbox_ws.display().to_string(),
                ),
            ],
            workspace: workspace.to_path_buf(),
            spec: spec.clone(),
        };
        let spawned = match runtime.spawn(launch).await {
            Ok(s) => s,
            Err(e) => return not_run(format!("it did not start: {e}")),
        };
        let mut handle = spawned.handle;
        let out = tokio::spawn(tail_of(spawned.stdout));
        let err = tokio::spawn(tail_of(spawned.stderr));
        let waited = tokio::time::timeout(spec.timeout, handle.wait()).await;
        let code = match waited {
            Ok(Ok(exit)) => exit.code,
            Ok(Err(e)) => {
                handle.cleanup().await;
                return not_run(format!("it did not finish: {e}"));
            }
            Err(_) => {
                let _ = handle.kill().await;
                None
            }
        };
        let mut tail = out.await.unwrap_or_default();
        let err = err.await.unwrap_or_default();
        if !err.trim().is_empty() {
            if !tail.is_empty() && !tail.ends_with('\n') {
                tail.push('\n');
            }
            tail.push_str(&err);
        }
        if code.is_none() {
            tail.push_str(&format!(
                "\n(stopped at the {}s limit)",
                spec.timeout.as_secs()
            ));
        }
        handle.cleanup().await;
        CommandOutcome {
            code,
            tail: last_chars(&tail, TAIL_BYTES),
        }
    }
}

/// Follows a run's events to its end, within `limit` (and a minute for the runtime) and,
/// with `disk` (workspace, MB), the workspace's disk limit (measured every 10 s). Returns
/// only once the harness has ended the run (or a minute after asking it to): nothing may
/// still write in the workspace when the bot looks at it.
async fn follow(
    harness: &dyn Harness,
    run: HarnessRun,
    limit: Duration,
    disk: Option<(PathBuf, u64)>,
) -> (Outcome, bool) {
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let mut out = Outcome::default();
    let mut events = match harness.start(run, cancel.clone()).await {
        Ok(rx) => rx,
        Err(e) => {
            out.error = Some(format!("{NOT_STARTED}: {e}"));
            return (out, true);
        }
    };
    let mut harness_cost = None;
    let mut not_stopped = false;
    let deadline = tokio::time::Instant::now() + limit + Duration::from_secs(60);
    let mut measure = tokio::time::interval(DISK_EVERY);
    measure.tick().await;
    loop {
        let next = tokio::select! {
            e = tokio::time::timeout_at(deadline, events.recv()) => e,
            _ = measure.tick(), if disk.is_some() => {
                let Some((dir, mb)) = disk.clone() else { continue };
                let cap = mb.saturating_mul(1 << 20);
                let used = tokio::task::spawn_blocking(move || crate::runtime::hostfs::disk_usage(&dir, cap))
                    .await;
                // A tree the bot cannot measure counts as over, as for a job: a run could
                // hide what it writes in a folder only it may read.
                if !matches!(used, Ok(Ok(used)) if used <= cap) {
                    cancel.cancel();
                    out.error = Some(format!(
                        "the workspace passed its disk limit of {mb} MB (or could not be measured)"
                    ));
                    break;
                }

                continue;
            }
        };
        match next {
            Err(_) => {
                cancel.cancel();
                out.error = Some(format!("time limit of {}s reached", limit.as_secs()));
                break;
            }
            Ok(None) => {
                if out.answer.is_none() && out.error.is_none() {
                    out.error = Some("the harness ended without an answer".into());
                }
                break;
            }
            Ok(Some(event)) => match event {
                HarnessEvent::Finished { answer } => out.answer = Some(answer),
                HarnessEvent::Error { message } => out.error = Some(message),
                HarnessEvent::NotStopped { message } => {
                    out.error = Some(message);
                    not_stopped = true;
                }
                HarnessEvent::Usage { cost_usd, .. } if cost_usd > 0.0 => {
                    harness_cost = Some(cost_usd)
                }
                _ => {}
            },
        }
    }
    // The stream closes once the harness has ended and removed the run.
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        let mut stopped = true;
        while let Some(e) = events.recv().await {
            if let HarnessEvent::NotStopped { message } = e {
                out.error.get_or_insert(message);
                stopped = false;
            }
        }
        stopped
    })
    .await
    .unwrap_or(false);
    out.cost_usd = harness_cost;
    (out, ended && !not_stopped)
}

async fn tail_of(mut r: Box<dyn AsyncRead + Send + Unpin>) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 4 * TAIL_BYTES {
            kept.drain(..kept.len() - 2 * TAIL_BYTES);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

fn last_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    let kept: String = s.chars().skip(count.saturating_sub(n)).collect();
    if count > n {
        format!("…{kept}")
    } else {
        kept
    }
}

/// A fresh workspace: the fixture folder's files, then the case's own; everything writable
/// by the sandbox's user, as a job's workspace is. Links in a fixture are not copied.
pub fn prepare_workspace(dir: &Path, start: &super::case::Start) -> std::io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // A new folder, never one another run is using.
    std::fs::create_dir(dir)?;
    if let Some(fixture) = &start.fixture {
        copy_tree(fixture, dir)?;
    }
    add_files(dir, start)
}

/// The case's own files, written into a workspace that exists (a fixture's or a clone), and
/// everything opened up for the sandbox's user.
fn add_files(dir: &Path, start: &super::case::Start) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (rel, content) in &start.files {
        crate::runtime::hostfs::write(dir, Path::new(rel), content.as_bytes())?;
    }
    open_up(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Directories and executables rwx for everyone, other files rw (the sandbox runs as
/// another uid); links are left alone.
fn open_up(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = std::fs::symlink_metadata(entry.path())?;
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o777))?;
            open_up(&entry.path())?;
        } else if meta.is_file() {
            let extra = if mode & 0o100 != 0 { 0o777 } else { 0o666 };
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode | extra))?;
        }
    }
    Ok(())
}

/// The workspace's files by content hash, without following links (a link counts by its
/// target's name); the CLI's own state (`.threadwork`) and `.git` are left out. Only regular
/// files are read, opened without following a link and without blocking (a FIFO put in a
/// file's place is not waited on), within `limits`.
pub fn snapshot(dir: &Path, limits: SnapshotLimits) -> std::io::Result<Snapshot> {
    use sha2::Digest;
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let too_big = |what: String| std::io::Error::other(what);
    let started = Instant::now();
    let mut read_total = 0u64;
    let mut out = Snapshot::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            if out.len() >= limits.entries {
                return Err(too_big(format!("more than {} files", limits.entries)));
            }
            if started.elapsed() > limits.time {
                return Err(too_big(format!(
                    "it takes over {} s to read",
                    limits.time.as_secs()
                )));
            }
            let name = entry.file_name();
            if rel.as_os_str().is_empty() && (name == ".threadwork" || name == ".git") {
                continue;
            }
            let path = rel.join(&name);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let mut hasher = sha2::Sha256::new();
            if kind.is_symlink() {
                hasher.update(b"link:");
                hasher.update(
                    std::fs::read_link(entry.path())?
                        .as_os_str()
                        .as_encoded_bytes(),
                );
            } else if kind.is_file() {
                let mut f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(entry.path())?;
                // What was opened, not what the name showed a moment before.
                let meta = f.metadata()?;
                if !meta.is_file() {
                    hasher.update(b"special");
                } else if meta.len() > limits.file_bytes
                    || read_total + meta.len() > limits.total_bytes
                {
                    hasher.update(b"large:");
                    hasher.update(meta.len().to_le_bytes());
                    hasher.update(meta.mtime().to_le_bytes());
                    hasher.update(meta.mtime_nsec().to_le_bytes());
                } else {
                    read_total += meta.len();
                    let mut buf = [0u8; 64 * 1024];
                    let mut left = meta.len();
                    while left > 0 {
                        let n = f.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        hasher.update(&buf[..n]);
                        left = left.saturating_sub(n as u64);
                    }
                }
            } else {
                continue;
            }
            out.insert(
                path.to_string_lossy().into_owned(),
                hasher.finalize().into(),
            );
        }
    }
    Ok(out)
}

impl Evaluator {
    /// Removes a run's workspace; what the sandbox's user made there (folders the bot's user
    /// may not empty) is removed by that user first, in a sandbox on the same workspace.
    async fn remove_workspace(&self, id: u64, agent: &Agent, dir: PathBuf) {
        // A cloned repository's own copy beside it (the bot's; no sandbox ever saw it).
        let git_dir = crate::forge::git::Checkout::beside(&dir).git_dir;
        if git_dir.exists() {
            let _ = remove_dir(git_dir).await;
        }
        if remove_dir(dir.clone()).await.is_ok() {
            return;
        }
        if let Some(runtime) = &self.runtime {
            let spec = crate::jobs::plan::sandbox_for(
                &self.policy,
                &agent.name,
                Some(agent),
                self.job_timeout,
            );
            if let Ok(mut spec) = spec {
                spec.network = NetworkMode::None;
                spec.timeout = COMMAND_LIMIT;
                let inside = runtime.workspace_in_sandbox(&dir, &spec);
                // Folders it made read-only are opened first; its output is drained (a
                // full pipe would stop it).
                let launch = Launch {
                    stdin: None,
                    job_id: id,
                    agent: agent.name.clone(),
                    program: "sh".into(),
                    args: vec![
                        "-c".into(),
                        "chmod -R u+rwX \"$1\" 2>/dev/null; find \"$1\" -mindepth 1 -delete 2>/dev/null".into(),
                        "sh".into(),
                        inside.display().to_string(),
                    ],
                    env: vec![("PATH".into(), "/usr/bin:/bin".into())],
                    workspace: dir.clone(),
                    spec,
                };
                if let Ok(spawned) = runtime.spawn(launch).await {
                    let mut handle = spawned.handle;
                    let out = tokio::spawn(tail_of(spawned.stdout));
                    let err = tokio::spawn(tail_of(spawned.stderr));
                    if tokio::time::timeout(COMMAND_LIMIT, handle.wait())
                        .await
                        .is_err()
                    {
                        let _ = handle.kill().await;
                    }
                    let _ = (out.await, err.await);
                    handle.cleanup().await;
                }
            }
        }
        if let Err(e) = remove_dir(dir.clone()).await {
            tracing::warn!(workspace = %dir.display(), error = %e, "cannot remove an eval workspace");
        }
    }
}

async fn remove_dir(dir: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_starts_from_the_fixture_and_the_cases_files() {
        let root = tempfile::tempdir().unwrap();
        let fixture = root.path().join("fixture");
        std::fs::create_dir_all(fixture.join("src")).unwrap();
        std::fs::write(fixture.join("src/lib.rs"), "fn a() {}\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", fixture.join("leak")).unwrap();
        let ws = root.path().join("ws");
        let start = crate::evals::case::Start {
            fixture: Some(fixture),
            repo: None,
            files: [("notes/a.md".to_string(), "hi".to_string())].into(),
        };
        prepare_workspace(&ws, &start).unwrap();
        let before = snapshot(&ws, SNAPSHOT_LIMITS).unwrap();
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            ["notes/a.md", "src/lib.rs"],
            "the link is not copied"
        );
        std::fs::write(ws.join("src/lib.rs"), "fn b() {}\n").unwrap();
        std::fs::create_dir_all(ws.join(".threadwork")).unwrap();
        std::fs::write(ws.join(".threadwork/state.json"), "{}").unwrap();
        std::fs::remove_file(ws.join("notes/a.md")).unwrap();
        let after = snapshot(&ws, SNAPSHOT_LIMITS).unwrap();
        assert_eq!(changed_files(&before, &after), ["notes/a.md", "src/lib.rs"]);
    }

    #[test]
    fn measuring_a_workspace_reads_no_fifo_and_no_huge_file() {
        let ws = tempfile::tempdir().unwrap();
        let fifo =
            std::ffi::CString::new(ws.path().join("pipe").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads the path only.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let big = std::fs::File::create(ws.path().join("sparse")).unwrap();
        big.set_len(1 << 40).unwrap();
        std::fs::write(ws.path().join("small"), "x").unwrap();
        let limits = SnapshotLimits {
            file_bytes: 1 << 20,
            ..SNAPSHOT_LIMITS
        };
        let started = Instant::now();
        let snap = snapshot(ws.path(), limits).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(snap.len(), 2, "the FIFO is no file: {snap:?}");
        let tight = SnapshotLimits {
            entries: 1,
            ..SNAPSHOT_LIMITS
        };
        let e = snapshot(ws.path(), tight).unwrap_err().to_string();
        assert!(e.contains("more than 1 files"), "{e}");
    }

    #[test]
    fn eval_ids_are_above_every_job_id_and_come_in_pairs() {
        let a = next_id();
        let b = next_id();
        assert!(a >= EVAL_IDS && b >= a + 2);
    }
}
