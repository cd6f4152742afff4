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

/// Longest table posted (Slack shows about this much of a message before "show more").
const MAX_POST: usize = 3800;

impl Handler {
    /// `@threadwork eval <agent>`: the agent's owners and admins run its suite on the
    /// current prompt; the table is posted in the thread.
    pub(super) async fn eval_command(
        self: &Arc<Self>,
        channel: &str,
        user: &str,
        thread_ts: &str,
        name: &str,
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
        let prompts = match self.prompts(&agent, &[PromptPick::Current]) {
            Ok(p) => p,
            Err(why) => {
                self.jobs
                    .say(channel, thread_ts, &format!(":warning: {why}"))
                    .await;
                return Ok(());
            }
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
                    ":test_tube: Running the {runs} case{} of `{}` on its current prompt…",
                    if runs == 1 { "" } else { "s" },
                    agent.name
                ),
            )
            .await;
        self.background(async move |ctx: Arc<Self>| {
            let report = ctx.run_suite(&agent, &suite, &prompts, None).await;
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
    pub(super) fn evaluate_amendment(
        self: &Arc<Self>,
        agent: Agent,
        number: u32,
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
        self.background(async move |ctx: Arc<Self>| {
            let picks = [PromptPick::Current, PromptPick::Amendment(number)];
            let prompts = match ctx.prompts(&agent, &picks) {
                Ok(p) => p,
                Err(why) => {
                    tracing::warn!(agent = %agent.name, number, why, "the amendment is not evaluated");
                    return Ok(());
                }
            };
            let budget = Some(ctx.settings.evals.budget_usd);
            let Some(report) = ctx.run_suite(&agent, &suite, &prompts, budget).await else {
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
    ) -> Option<Report> {
        let evaluator = self.jobs.evaluator();
        let variants = evals::variants(agent, prompts, &[], &[], &|h| {
            evaluator.harnesses.contains_key(h)
        })
        .ok()?;
        let _one = SUITES.acquire().await.ok()?;
        let report = evaluator
            .run_suite(agent, suite, &variants, 1, budget, None)
            .await;
        for (i, v) in report.variants.iter().enumerate() {
            let (passed, runs) = report.pass_rate(i);
            if runs == 0 {
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

    /// A ✅ that counts on a finished job's result: the job becomes a regression case of its
    /// agent (`threadwork eval export` writes them out).
    pub(super) fn keep_approved(&self, job: &Job, by: &str) -> Result<(), BotError> {
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
        let thread = job
            .context
            .iter()
            .filter(|m| m.ts != job.request_ts && !m.from_bot)
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
            follow_up: job.workspace_job.is_some_and(|w| w != job.id),
            changed: evals::changed_from_transcript(&transcript, &roots),
            answer: answer.clone(),
            prompt_version: job.prompt_version.clone(),
        };
        self.store.put_eval_case(&case)?;
        Ok(())
    }
}

fn fraction((passed, all): (usize, usize)) -> String {
    format!("{passed}/{all}")
}
