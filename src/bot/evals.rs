//! Evals from Slack: `@threadwork eval <agent>` (its owners and admins), the suite run with
//! and without a proposed amendment before anyone decides on it, and approved results kept
//! as regression cases.
//!
//! The bot runs one suite at a time (`SUITES`), each within `[jobs] max_running` runs at once
//! beside the jobs; a comparison it starts by itself stops starting runs once
//! `[evals] budget_usd` is spent.

use std::sync::Arc;

use chrono::Utc;

use super::reactions::may_amend;
use super::{BotError, Handler};
use crate::agents::Agent;
use crate::evals::{self, case, report::Report, ApprovedCase, PromptPick, VersionResult};
use crate::job::{Job, JobState};
use crate::store::AuditRecord;

/// One suite at a time: a suite already fills the run slots it may use.
static SUITES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Suites the bot starts by itself (proposals, prompt changes) waiting or running, at most
/// `MAX_WAITING`: past it a proposal is not evaluated, and the thread says how to ask later.
static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const MAX_WAITING: usize = 3;

/// Automatic evaluations one person's proposals may cause per hour (owners and admins
/// without limit): each spends model money of the team's.
const PROPOSER_EVALS_PER_HOUR: usize = 3;
static PROPOSER_EVALS: std::sync::Mutex<Vec<(String, std::time::Instant)>> =
    std::sync::Mutex::new(Vec::new());

/// A slot among the waiting suites, given back when dropped.
struct Waiting;

impl Waiting {
    fn take() -> Option<Self> {
        use std::sync::atomic::Ordering;
        WAITING
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_WAITING).then_some(n + 1)
            })
            .ok()
            .map(|_| Waiting)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Counts an automatic evaluation for `user`; false when they had theirs this hour.
fn proposer_may_evaluate(user: &str) -> bool {
    let mut seen = PROPOSER_EVALS.lock().unwrap_or_else(|p| p.into_inner());
    let now = std::time::Instant::now();
    let hour = std::time::Duration::from_secs(3600);
    seen.retain(|(_, at)| now.duration_since(*at) < hour);
    if seen.iter().filter(|(u, _)| u == user).count() >= PROPOSER_EVALS_PER_HOUR {
        return false;
    }
    seen.push((user.to_string(), now));
    true
}

/// Removes the eval workspaces a previous process left (none of its runs is going any more;
/// the CLI's are elsewhere). Folders the sandbox's user made that the bot's may not empty
/// stay, and are logged.
pub(super) fn sweep_eval_workspaces(workdir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(workdir.join("evals")) else {
        return;
    };
    for entry in entries.flatten() {
        if let Err(e) = std::fs::remove_dir_all(entry.path()) {
            tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a leftover eval workspace");
        }
    }
}

/// Longest table posted (Slack shows about this much of a message before "show more").
const MAX_POST: usize = 3800;

impl Handler {
    /// `@threadwork eval <agent> [amendment:<n>]`: the agent's owners and admins run its
    /// suite on the current prompt (and with amendment `n`, compared); the table is posted in
    /// the thread.
    pub(super) async fn eval_command(
        self: &Arc<Self>,
        channel: &str,
        user: &str,
        thread_ts: &str,
        name: &str,
        amendment: Option<u32>,
    ) -> Result<(), BotError> {
        let agent = match self.usable_agent(name, user, channel) {
            Ok(a) => a,
            Err(refusal) => {
                self.jobs
                    .say(channel, thread_ts, &refusal.to_string())
                    .await;
                return Ok(());
            }
        };
        if !may_amend(&agent, &self.settings.admins, user) {
            let text = format!(
                "Only the owners of `{}` or an admin can run its evals.",
                agent.name
            );
            self.tell(channel, user, Some(thread_ts), &text).await;
            return Ok(());
        }
        let suite = match case::load_suite(&self.settings.evals.dir, &agent.name) {
            Ok(Some(s)) => s,
            Ok(None) => {
                let path = case::suite_path(&self.settings.evals.dir, &agent.name);
                let text = format!(
                    "`{}` has no eval suite yet: an admin writes `{}` (see the README's *Evals*).",
                    agent.name,
                    path.display()
                );
                self.jobs.say(channel, thread_ts, &text).await;
                return Ok(());
            }
            Err(e) => {
                let text = format!(
                    ":warning: the eval suite of `{}` cannot be read: {}",
                    agent.name,
                    crate::chat::mrkdwn::escape(&e.to_string())
                );
                self.jobs.say(channel, thread_ts, &text).await;
                return Ok(());
            }
        };
        let mut picks = vec![PromptPick::Current];
        picks.extend(amendment.map(PromptPick::Amendment));
        let prompts = match self.prompts(&agent, &picks) {
            Ok(p) => p,
            Err(why) => {
                self.jobs
                    .say(channel, thread_ts, &format!(":warning: {why}"))
                    .await;
                return Ok(());
            }
        };
        let Some(slot) = Waiting::take() else {
            let text = format!(":test_tube: Not now: {MAX_WAITING} evaluations are waiting already; try again when they are done.");
            self.jobs.say(channel, thread_ts, &text).await;
            return Ok(());
        };
        self.jobs.audit(AuditRecord {
            prompt_version: prompts.first().map(|p| p.2.clone()),
            ..AuditRecord::new("eval_started", user, &agent.name)
        })?;
        let (channel, thread_ts, user) =
            (channel.to_string(), thread_ts.to_string(), user.to_string());
        let runs = suite.cases.len();
        self.jobs
            .say(
                &channel,
                &thread_ts,
                &format!(
                    ":test_tube: Running the {runs} case{} of `{}` on its current prompt{}…",
                    if runs == 1 { "" } else { "s" },
                    agent.name,
                    match amendment {
                        Some(n) => format!(" and with amendment #{n}"),
                        None => String::new(),
                    }
                ),
            )
            .await;
        self.background(async move |ctx: Arc<Self>| {
            let _slot = slot;
            let budget = Some(ctx.settings.evals.budget_usd);
            let report = ctx.run_suite(&agent, &suite, &prompts, budget, &user).await;
            let Some(report) = report else {
                ctx.jobs
                    .say(
                        &channel,
                        &thread_ts,
                        ":warning: the suite could not run: its harness is not configured.",
                    )
                    .await;
                return Ok(());
            };
            let (passed, all) = report.pass_rate(0);
            ctx.jobs.audit(AuditRecord {
                prompt_version: report.variants.first().map(|v| v.prompt_version.clone()),
                detail: Some(format!("{passed}/{all} passed")),
                ..AuditRecord::new("eval_finished", &user, &agent.name)
            })?;
            let text = format!(
                "Eval of `{}`:\n{}",
                agent.name,
                crate::text::clip(&report.mrkdwn(), MAX_POST)
            );
            ctx.jobs.say(&channel, &thread_ts, &text).await;
            Ok(())
        });
        Ok(())
    }

    /// After a proposal: the agent's suite with and without amendment `number`, posted in
    /// the proposal's thread before anyone decides (regressions first). Nothing when the
    /// agent has no suite or `[evals] on_amendment` is off.
    pub(super) async fn evaluate_amendment(
        self: &Arc<Self>,
        agent: Agent,
        number: u32,
        proposer: &str,
        channel: String,
        thread_ts: String,
    ) {
        if !self.settings.evals.on_amendment {
            return;
        }
        let suite = match case::load_suite(&self.settings.evals.dir, &agent.name) {
            Ok(Some(s)) if !s.cases.is_empty() => s,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(agent = %agent.name, error = %e, "the eval suite cannot be read; the amendment is not evaluated");
                return;
            }
        };
        let later = format!(
            "an owner can run `@{} eval {} amendment:{number}`",
            self.identity.name, agent.name
        );
        // The slot first: a proposal turned away for want of one does not use up its
        // proposer's hourly evaluations.
        let Some(slot) = Waiting::take() else {
            let text = format!(":test_tube: Amendment #{number} is not evaluated now: {MAX_WAITING} evaluations are waiting already; {later}.");
            self.jobs.say(&channel, &thread_ts, &text).await;
            return;
        };
        let trusted = may_amend(&agent, &self.settings.admins, proposer);
        if !trusted && !proposer_may_evaluate(proposer) {
            drop(slot);
            let text = format!(":test_tube: Amendment #{number} is not evaluated automatically: <@{proposer}>'s proposals had their {PROPOSER_EVALS_PER_HOUR} evaluations this hour; {later}.");
            self.jobs.say(&channel, &thread_ts, &text).await;
            return;
        }
        let proposer = proposer.to_string();
        self.background(async move |ctx: Arc<Self>| {
            let _slot = slot;
            let picks = [PromptPick::Current, PromptPick::Amendment(number)];
            let prompts = match ctx.prompts(&agent, &picks) {
                Ok(p) => p,
                Err(why) => {
                    tracing::warn!(agent = %agent.name, number, why, "the amendment is not evaluated");
                    return Ok(());
                }
            };
            let budget = Some(ctx.settings.evals.budget_usd);
            let Some(report) = ctx.run_suite(&agent, &suite, &prompts, budget, &proposer).await
            else {
                return Ok(());
            };
            let regressed = report
                .changes()
                .iter()
                .filter(|c| matches!(c, evals::report::Change::Regressed { .. }))
                .count();
            ctx.jobs.audit(AuditRecord {
                amendment: Some(number),
                prompt_version: report.variants.get(1).map(|v| v.prompt_version.clone()),
                detail: Some(format!(
                    "{} → {} passed, {regressed} regressed",
                    fraction(report.pass_rate(0)),
                    fraction(report.pass_rate(1))
                )),
                ..AuditRecord::new("amendment_evaluated", "threadwork", &agent.name)
            })?;
            let text = format!(
                ":test_tube: Eval of amendment #{number} to `{}` — [1] without it, [2] with it:\n{}",
                agent.name,
                crate::text::clip(&report.mrkdwn(), MAX_POST)
            );
            ctx.jobs.say(&channel, &thread_ts, &text).await;
            Ok(())
        });
    }

    /// After each prompt-file reload (`[evals] on_prompt_change`): every agent with a suite
    /// whose file or included fragments changed runs it on the previous and the new prompt
    /// (both with the amendments in force now), and the comparison goes to the admin channel.
    pub(super) async fn run_prompt_evals(
        self: Arc<Self>,
        mut reloaded: tokio::sync::watch::Receiver<()>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let Some(channel) = self.settings.admin_channel.clone() else {
            return;
        };
        if !self.settings.evals.on_prompt_change {
            return;
        }
        let mut before = self.jobs.registry();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = reloaded.changed() => if changed.is_err() { return },
            }
            let now = self.jobs.registry();
            for (name, agent) in &now.agents {
                let Some(old) = before.agents.get(name) else {
                    continue;
                };
                let fragments = |r: &crate::prompts::Registry, a: &Agent| -> Vec<String> {
                    a.include
                        .iter()
                        .map(|f| {
                            r.fragments
                                .get(f)
                                .map(|f| f.hash.clone())
                                .unwrap_or_default()
                        })
                        .collect()
                };
                if old.hash == agent.hash && fragments(&before, old) == fragments(&now, agent) {
                    continue;
                }
                if !case::suite_path(&self.settings.evals.dir, name).is_file() {
                    continue;
                }
                self.evaluate_prompt_change(&before, old, agent, &channel)
                    .await;
            }
            before = now;
        }
    }

    /// The previous prompt of `agent` (`old`, from `before`) against its new one, posted to
    /// `channel`.
    async fn evaluate_prompt_change(
        self: &Arc<Self>,
        before: &crate::prompts::Registry,
        old: &Agent,
        agent: &Agent,
        channel: &str,
    ) {
        let suite = match case::load_suite(&self.settings.evals.dir, &agent.name) {
            Ok(Some(s)) if !s.cases.is_empty() => s,
            Ok(_) => return,
            Err(e) => {
                let text = format!(
                    ":warning: the prompt of `{}` changed, but its eval suite cannot be read: {}",
                    agent.name,
                    crate::chat::mrkdwn::escape(&e.to_string())
                );
                self.post_to(channel, &text).await;
                return;
            }
        };
        let amendments = match self.store.amendments(&agent.name) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(agent = %agent.name, error = %e, "cannot read the amendments; the prompt change is not evaluated");
                return;
            }
        };
        let previous = crate::prompts::effective_prompt(old, &before.fragments, &amendments);
        if let Err(e) = self
            .store
            .put_prompt_version(&previous.version, &previous.text)
        {
            tracing::error!(agent = %agent.name, error = %e, "cannot keep the previous prompt version");
        }
        let current = match self.prompts(agent, &[PromptPick::Current]) {
            Ok(mut p) => p.remove(0),
            Err(why) => {
                tracing::warn!(agent = %agent.name, why, "the prompt change is not evaluated");
                return;
            }
        };
        if current.2 == previous.version {
            return;
        }
        let Some(slot) = Waiting::take() else {
            let text = format!(":test_tube: The prompt of `{}` changed (`{}` → `{}`); not evaluated now: {MAX_WAITING} evaluations are waiting already. Run `@{} eval {}` later.", agent.name, previous.version, current.2, self.identity.name, agent.name);
            self.post_to(channel, &text).await;
            return;
        };
        let prompts = vec![
            (
                PromptPick::Version(previous.version.clone()),
                previous.text,
                previous.version.clone(),
            ),
            current,
        ];
        let (agent, channel) = (agent.clone(), channel.to_string());
        self.background(async move |ctx: Arc<Self>| {
            let _slot = slot;
            let budget = Some(ctx.settings.evals.budget_usd);
            let Some(report) = ctx
                .run_suite(&agent, &suite, &prompts, budget, "threadwork")
                .await
            else {
                return Ok(());
            };
            ctx.jobs.audit(AuditRecord {
                prompt_version: report.variants.get(1).map(|v| v.prompt_version.clone()),
                detail: Some(format!(
                    "{} → {} passed",
                    fraction(report.pass_rate(0)),
                    fraction(report.pass_rate(1))
                )),
                ..AuditRecord::new("prompt_change_evaluated", "threadwork", &agent.name)
            })?;
            let text = format!(
                ":test_tube: The prompt file of `{}` changed — [1] before, [2] now:\n{}",
                agent.name,
                crate::text::clip(&report.mrkdwn(), MAX_POST)
            );
            ctx.post_to(&channel, &text).await;
            Ok(())
        });
    }

    /// Posts to a channel (not in a thread), retrying transient failures.
    async fn post_to(&self, channel: &str, text: &str) {
        let posted =
            crate::chat::outbox::with_retries(|| self.chat.post_message(channel, None, text)).await;
        if let Err(e) = posted {
            tracing::error!(%channel, error = %e, "could not post an eval comparison");
        }
    }

    /// Each pick's role prompt and version for `agent`, from the store and the registry.
    fn prompts(
        &self,
        agent: &Agent,
        picks: &[PromptPick],
    ) -> Result<Vec<(PromptPick, String, String)>, String> {
        let amendments = self
            .store
            .amendments(&agent.name)
            .map_err(|e| e.to_string())?;
        let registry = self.jobs.registry();
        picks
            .iter()
            .map(|pick| {
                let stored = |v: &str| self.store.prompt_version(v).ok().flatten();
                evals::pick_prompt(pick, agent, &registry.fragments, &amendments, &stored)
                    .map(|(text, version)| (pick.clone(), text, version))
            })
            .collect()
    }

    /// Runs `suite` on `prompts` with the agent's own harness and model, one suite at a time,
    /// and records each prompt version's pass rate; `None` when it cannot run.
    async fn run_suite(
        &self,
        agent: &Agent,
        suite: &case::Suite,
        prompts: &[(PromptPick, String, String)],
        budget: Option<f64>,
        by: &str,
    ) -> Option<Report> {
        let evaluator = self.jobs.evaluator();
        let variants = evals::variants(agent, prompts, &[], &[], &|h| {
            evaluator.harnesses.contains_key(h)
        })
        .ok()?;
        let _one = SUITES.acquire().await.ok()?;
        // Each run's tool calls are recorded as it ends (a restart loses none already made),
        // under whoever caused the suite.
        let (jobs, name, who) = (self.jobs.clone(), agent.name.clone(), by.to_string());
        let versions: Vec<String> = variants
            .iter()
            .map(|v| v.info.prompt_version.clone())
            .collect();
        let record: evals::run::Progress = Arc::new(move |_, _, run| {
            for call in &run.tool_calls {
                let record = AuditRecord {
                    prompt_version: versions.get(run.variant).cloned(),
                    detail: Some(format!("eval case `{}`: {call}", run.case)),
                    ..AuditRecord::new("mcp_tool_call", &who, &name)
                };
                if let Err(e) = jobs.audit(record) {
                    tracing::error!(agent = %name, error = %e, "cannot record an eval's tool call");
                }
            }
        });
        let report = evaluator
            .run_suite(agent, suite, &variants, 1, budget, Some(record))
            .await;
        for (i, v) in report.variants.iter().enumerate() {
            let (passed, runs) = report.pass_rate(i);
            // Only a whole suite that failed for the agent's reasons is the version's pass
            // rate: not one cut short (the budget), nor one the bot's side failed (a clone, a
            // sandbox, measuring).
            let bot_failed = report.runs.iter().any(|r| r.variant == i && r.infra);
            if runs < suite.cases.len() || bot_failed || report.not_run.iter().any(|(_, n)| *n == i)
            {
                continue;
            }
            let result = VersionResult {
                agent: agent.name.clone(),
                version: v.prompt_version.clone(),
                passed,
                runs,
                at: Utc::now(),
            };
            if let Err(e) = self.store.put_eval_result(&result) {
                tracing::error!(agent = %agent.name, error = %e, "cannot record an eval result");
            }
        }
        Some(report)
    }

    /// A verdict withdrawn or turned into ❌: the job is no regression case any more.
    pub(super) fn drop_approved(&self, job: &Job) {
        if let Err(e) = self.store.drop_eval_case(&job.agent, job.id) {
            tracing::error!(job = job.id, error = %e, "cannot drop the eval case of a withdrawn approval");
        }
    }

    /// A ✅ that counts on a finished job's result: the job becomes a regression case of its
    /// agent (`threadwork eval export` writes them out).
    pub(super) fn keep_approved(self: &Arc<Self>, job: &Job, by: &str) -> Result<(), BotError> {
        if job.state != JobState::Succeeded {
            return Ok(());
        }
        let Some(answer) = &job.answer else {
            return Ok(());
        };
        let transcript = self.store.transcript(job.id)?;
        let workspace = crate::jobs::plan::workspace_dir(
            &self.settings.workdir,
            job.workspace_job.unwrap_or(job.id),
        );
        let roots = ["/workspace".to_string(), workspace.display().to_string()];
        // Only what people who could steer the job said: a case replays its thread as
        // trusted context.
        let thread = job
            .context
            .iter()
            .filter(|m| m.ts != job.request_ts && !m.from_bot && m.trusted)
            .map(|m| format!("{}: {}", m.author, m.text))
            .collect();
        let case = ApprovedCase {
            agent: job.agent.clone(),
            job: job.id,
            by: by.to_string(),
            at: Utc::now(),
            request: job.task.clone(),
            thread,
            repo: job.repo.clone(),
            branch: job.branch.clone(),
            commit: None,
            follow_up: job.workspace_job.is_some_and(|w| w != job.id),
            changed: evals::changed_from_transcript(&transcript, &roots),
            answer: answer.clone(),
            prompt_version: job.prompt_version.clone(),
        };
        if job.repo.is_none() {
            self.store.put_eval_case(&case)?;
            return Ok(());
        }
        // The commit the job started from is in the bot's copy of the repository (git, so
        // behind the event loop); kept only if the verdict still stands by then.
        let (id, checkout) = (job.id, crate::forge::git::Checkout::beside(&workspace));
        self.background(async move |ctx: Arc<Self>| {
            let mut case = case;
            match checkout.base_commit().await {
                Ok(sha) => case.commit = Some(sha),
                Err(e) => tracing::warn!(job = id, error = %e, "the approved job's start commit is unknown; its case starts at the branch's tip"),
            }
            if case.branch.is_none() {
                case.branch = checkout.base().await;
            }
            let approved = |ctx: &Self| -> Result<bool, BotError> {
                Ok(ctx
                    .store
                    .job(id)?
                    .and_then(|j| j.verdict)
                    .is_some_and(|v| v.approved))
            };
            if approved(&ctx)? {
                ctx.store.put_eval_case(&case)?;
                // A withdrawal between the look and the write finds nothing to drop: look
                // again after it.
                if !approved(&ctx)? {
                    ctx.store.drop_eval_case(&case.agent, id)?;
                }
            }
            Ok(())
        });
        Ok(())
    }
}

fn fraction((passed, all): (usize, usize)) -> String {
    format!("{passed}/{all}")
}
