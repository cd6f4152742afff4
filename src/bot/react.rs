//! Reactions on the bot's messages: decided in `reactions` (pure), in the order they
//! arrive, then carried out — verdicts, amendment decisions, stops and re-runs.

use std::sync::Arc;

use chrono::Utc;

use super::reactions::{self, Meaning};
use super::{BotError, Handler};
use crate::job::{Job, JobId, NewJob, Verdict};
use crate::jobs::{card, Workplace};
use crate::store::{AuditRecord, MessageLink};

impl Handler {
    pub(super) async fn on_reaction(
        self: &Arc<Self>,
        link: &MessageLink,
        channel: &str,
        user: &str,
        name: &str,
        item_ts: &str,
        added: bool,
    ) -> Result<(), BotError> {
        let job = match link.job() {
            Some(id) => self.store.job(id)?,
            None => None,
        };
        let amendment = match link {
            MessageLink::Amendment { agent, number } => self.store.amendment(agent, *number)?,
            _ => None,
        };
        let agent_name = job
            .as_ref()
            .map(|j| j.agent.clone())
            .or_else(|| amendment.as_ref().map(|a| a.agent.clone()));
        let agent = agent_name.and_then(|n| self.jobs.registry().agents.get(&n).cloned());
        let superseded = match &job {
            Some(j) => self.store.job_for_thread(&j.channel, &j.thread_ts)? != Some(j.id),
            None => false,
        };
        let outcome = reactions::meaning(&reactions::ReactionFacts {
            link,
            name,
            added,
            user,
            admins: &self.settings.admins,
            job: job.as_ref(),
            agent: agent.as_ref(),
            amendment: amendment.as_ref(),
            superseded,
        });
        let thread_ts = job.as_ref().map(|j| j.thread_ts.clone());
        // Decided and recorded here, in the order the reactions arrived (a withdrawal must
        // not overtake the ✅ before it); what talks to Slack or a forge runs behind.
        let (channel, user, item_ts) = (channel.to_string(), user.to_string(), item_ts.to_string());
        match outcome {
            Meaning::Nothing(why) => tracing::debug!(%user, %name, why, "reaction changes nothing"),
            Meaning::Explain(text) => self.background(async move |ctx: Arc<Self>| {
                ctx.tell(&channel, &user, thread_ts.as_deref(), &text).await;
                Ok(())
            }),
            Meaning::Amend { action } => {
                if let Some(a) = amendment {
                    self.background(async move |ctx: Arc<Self>| {
                        // The announcement's thread: where the reaction was.
                        let thread = ctx.thread_of(&channel, &item_ts, a.job).await;
                        ctx.decide_amendment(&a.agent, a.number, action, &user, &channel, &thread)
                            .await
                    });
                }
            }
            Meaning::Cancel { job } => {
                if let Some(j) = job_record(self, job)? {
                    self.background(async move |ctx: Arc<Self>| {
                        ctx.stop_and_report(&j, &user).await
                    });
                }
            }
            Meaning::Approve { job } | Meaning::Reject { job } => {
                let approved = matches!(outcome, Meaning::Approve { .. });
                let verdict = Verdict {
                    approved,
                    by: user.clone(),
                    at: Utc::now(),
                };
                let action = if approved {
                    "result_approved"
                } else {
                    "result_rejected"
                };
                let j = self
                    .jobs
                    .decide_job(
                        job,
                        |j| j.verdict = Some(verdict),
                        |j| AuditRecord {
                            job: Some(job),
                            prompt_version: j.prompt_version.clone(),
                            message_ts: Some(item_ts.clone()),
                            ..AuditRecord::new(action, &user, &j.agent)
                        },
                    )
                    .await?;
                if approved {
                    // An approved result is a regression case from now on; failing to keep
                    // it loses a test, not the verdict.
                    if let Err(e) = self.keep_approved(&j, &user) {
                        tracing::error!(job, error = %e, "cannot keep the approved result as an eval case");
                    }
                } else {
                    self.drop_approved(&j);
                }
                let text = format!(
                    "Recorded: you {} the result of job {} (prompt `{}`).",
                    if approved { "approved" } else { "rejected" },
                    job,
                    j.prompt_version.as_deref().unwrap_or("?")
                );
                self.background(async move |ctx: Arc<Self>| {
                    ctx.tell(&channel, &user, Some(&j.thread_ts), &text).await;
                    ctx.jobs.pr_verdict(&j, approved, &user).await;
                    Ok(())
                });
            }
            Meaning::Withdraw { job } => {
                let j = self
                    .jobs
                    .decide_job(
                        job,
                        |j| j.verdict = None,
                        |j| AuditRecord {
                            job: Some(job),
                            prompt_version: j.prompt_version.clone(),
                            message_ts: Some(item_ts.clone()),
                            ..AuditRecord::new("verdict_withdrawn", &user, &j.agent)
                        },
                    )
                    .await?;
                self.drop_approved(&j);
            }
            Meaning::Rerun { job } => {
                if let Some(old) = self.store.job(job)? {
                    self.jobs.audit(AuditRecord {
                        job: Some(job),
                        prompt_version: old.prompt_version.clone(),
                        message_ts: Some(item_ts.clone()),
                        ..AuditRecord::new("rerun_requested", &user, &old.agent)
                    })?;
                    self.background(async move |ctx: Arc<Self>| ctx.rerun(&old, &user).await);
                }
            }
        }
        Ok(())
    }

    /// The thread a message of ours sits in (its job's, or the message itself as a root).
    pub(super) async fn thread_of(&self, channel: &str, ts: &str, job: Option<JobId>) -> String {
        if let Some(Ok(Some(j))) = job.map(|id| self.store.job(id)) {
            if j.channel == channel {
                return j.thread_ts;
            }
        }
        ts.to_string()
    }

    /// Runs the same request again, with the prompt in force now — under the same checks
    /// as a new request: the agent's users and channels, and the per-user limit.
    pub(super) async fn rerun(self: &Arc<Self>, old: &Job, user: &str) -> Result<(), BotError> {
        let outsider = self.outsider_refusal(user).await;
        let refusal = match self.usable_agent(&old.agent, user, &old.channel) {
            _ if outsider.is_some() => outsider,
            Err(reply) => Some(format!("{reply} Nothing was re-run.")),
            Ok(agent)
                if old.repo.as_deref().is_some_and(|r| {
                    !crate::forge::agent_may_use(agent.repo.as_deref(), &agent.repos, r)
                }) =>
            {
                Some(format!(
                    "Agent `{}` may no longer work on `{}`. Nothing was re-run.",
                    agent.name,
                    old.repo.as_deref().unwrap_or_default()
                ))
            }
            Ok(_) => self.over_user_limit(user).map(|wait| {
                format!(
                    ":hourglass: You have started {} jobs in the last hour, the most one person may. Try again in {}. Nothing was re-run.",
                    self.settings.per_user_per_hour,
                    card::duration(wait.as_secs().max(1) as i64)
                )
            }),
        };
        if let Some(text) = refusal {
            self.tell(&old.channel, user, Some(&old.thread_ts), &text)
                .await;
            return Ok(());
        }
        // The re-run works in the same checkout and pushes to the same PR.
        let place = Workplace {
            repo: old.repo.clone(),
            branch: old.branch.clone(),
            pr: old.pr.clone(),
            head: old.head.clone(),
        };
        let new = NewJob {
            channel: old.channel.clone(),
            thread_ts: old.thread_ts.clone(),
            request_ts: old.request_ts.clone(),
            requester: user.to_string(),
            task: old.task.clone(),
            options: old.options.clone(),
            agent: old.agent.clone(),
            harness: old.harness.clone(),
            model: old.model.clone(),
            parent: Some(old.id),
            rerun_of: Some((old.id, old.prompt_version.clone())),
            // Someone asked for this one: it is theirs, not the schedule's or trigger's.
            origin: None,
        };
        self.jobs.accept(new, place)?;
        Ok(())
    }
}

fn job_record(ctx: &Handler, id: JobId) -> Result<Option<Job>, BotError> {
    Ok(ctx.store.job(id)?)
}
