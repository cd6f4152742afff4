//! The bot's own commands (`stop`, `amendments`, `prompt`, `diff`, `agents`, `context`,
//! `remember`, `adopt` …): who may use each, and the reply.

use std::sync::Arc;

use super::refusal::Refusal;
use super::{BotError, Handler};
use crate::agents::Agent;
use crate::amendments::AmendmentStatus;
use crate::job::{Job, JobId};
use crate::jobs::StopResult;
use crate::request::Ask;
use crate::store::AuditRecord;

impl Handler {
    /// `@threadwork stop` in a thread: the thread's job, if the user may stop it.
    pub(super) async fn stop_from_thread(
        self: &Arc<Self>,
        channel: &str,
        user: &str,
        thread_ts: &str,
        thread_job: Option<JobId>,
    ) -> Result<(), BotError> {
        let Some(job) = thread_job
            .map(|id| self.store.job(id))
            .transpose()?
            .flatten()
        else {
            self.jobs
                .say(
                    channel,
                    thread_ts,
                    "There is no job in this thread to stop.",
                )
                .await;
            return Ok(());
        };
        let owner = self
            .jobs
            .registry()
            .agents
            .get(&job.agent)
            .is_some_and(|a| a.owners.iter().any(|o| o == user));
        let admin = self.settings.admins.iter().any(|a| a == user);
        if job.requester != user && !owner && !admin {
            let text = format!(
                "Only the requester (<@{}>), an owner of `{}` or an admin can stop job {}.",
                job.requester, job.agent, job.id
            );
            self.tell(channel, user, Some(thread_ts), &text).await;
            return Ok(());
        }
        self.stop_and_report(&job, user).await
    }

    /// Stops a job; says so in the thread only when there was nothing to stop (the card and
    /// the terminal message tell the rest).
    pub(super) async fn stop_and_report(
        self: &Arc<Self>,
        job: &Job,
        user: &str,
    ) -> Result<(), BotError> {
        let result = self.jobs.stop(job.id, user).await?;
        self.jobs.audit(AuditRecord {
            job: Some(job.id),
            prompt_version: job.prompt_version.clone(),
            ..AuditRecord::new("stop_requested", user, &job.agent)
        })?;
        if let StopResult::NotRunning(state) = result {
            let text = format!(
                "Job {} is already {}; nothing to stop.",
                job.id,
                state.label()
            );
            self.jobs.say(&job.channel, &job.thread_ts, &text).await;
        }
        Ok(())
    }

    /// The agent a command is about: named, else the thread's job's, else none.
    pub(super) fn agent_for(
        &self,
        named: Option<String>,
        thread_job: Option<JobId>,
    ) -> Result<Option<String>, BotError> {
        if named.is_some() {
            return Ok(named);
        }
        Ok(match thread_job {
            Some(id) => self.store.job(id)?.map(|j| j.agent),
            None => None,
        })
    }

    /// The agent named, when `user` may use it in `channel` (the same checks as a job's).
    pub(super) fn usable_agent(
        &self,
        name: &str,
        user: &str,
        channel: &str,
    ) -> Result<Agent, Refusal> {
        let agent = self.known_agent(name)?;
        match super::access_refusal(&agent, user, channel) {
            Some(refusal) => Err(refusal),
            None => Ok(agent),
        }
    }

    /// True when `version` is a prompt version of `agent`: one of its jobs ran with it, or an
    /// amendment decision produced it. Versions are stored by content hash alone, so this
    /// keeps `diff` from showing another agent's prompt.
    pub(super) fn version_of(&self, agent: &str, version: &str) -> Result<bool, BotError> {
        let mine = |a: &str, v: Option<&str>| a == agent && v == Some(version);
        Ok(self
            .store
            .jobs()?
            .iter()
            .any(|j| mine(&j.agent, j.prompt_version.as_deref()))
            || self
                .store
                .audit()?
                .iter()
                .any(|r| mine(&r.agent, r.prompt_version.as_deref())))
    }

    pub(super) fn known_agent(&self, name: &str) -> Result<Agent, Refusal> {
        let registry = self.jobs.registry();
        registry
            .agents
            .get(name)
            .cloned()
            .ok_or_else(|| super::unknown_agent(name, &registry.agents))
    }

    pub(super) async fn on_command(
        self: &Arc<Self>,
        channel: &str,
        user: &str,
        ts: &str,
        thread_ts: &str,
        command: Ask,
        thread_job: Option<JobId>,
    ) -> Result<(), BotError> {
        let default = self.settings.default_agent.clone();
        match command {
            Ask::Remember { text, agent } => {
                let agent = self.agent_for(agent, thread_job)?;
                self.propose(channel, user, ts, thread_ts, &text, agent, thread_job)
                    .await?;
            }
            Ask::Decide {
                action,
                agent,
                number,
            } => match self.agent_for(agent, thread_job)? {
                Some(agent) => {
                    self.decide_amendment(&agent, number, action, user, channel, thread_ts)
                        .await?
                }
                None => {
                    self.jobs.say(channel, thread_ts, &format!(":warning: name the agent: `@{} adopt <agent> <n>` (or say it in the job's thread).", self.identity.name)).await;
                }
            },
            Ask::Amendments { agent } => {
                let name = self.agent_for(agent, thread_job)?.unwrap_or(default);
                let reply = match self.usable_agent(&name, user, channel) {
                    Ok(agent) => self.amendments_text(&agent)?,
                    Err(refusal) => refusal.to_string(),
                };
                self.jobs.say(channel, thread_ts, &reply).await;
            }
            Ask::Prompt { agent } => {
                let name = self.agent_for(agent, thread_job)?.unwrap_or(default);
                let reply = match self.usable_agent(&name, user, channel) {
                    Ok(agent) => {
                        let p = self.jobs.effective(&agent)?;
                        self.store.put_prompt_version(&p.version, &p.text)?;
                        format!(
                            "Effective prompt of `{}` — version `{}`, {} active amendment{}:\n```\n{}\n```",
                            agent.name,
                            p.version,
                            p.amendments.len(),
                            if p.amendments.len() == 1 { "" } else { "s" },
                            crate::chat::mrkdwn::escape(&p.text)
                        )
                    }
                    Err(refusal) => refusal.to_string(),
                };
                self.jobs.say(channel, thread_ts, &reply).await;
            }
            Ask::Diff { agent, from, to } => {
                if let Err(refusal) = self.usable_agent(&agent, user, channel) {
                    self.jobs
                        .say(channel, thread_ts, &refusal.to_string())
                        .await;
                    return Ok(());
                }
                let version = |v: &str| -> Result<Option<String>, BotError> {
                    if !self.version_of(&agent, v)? {
                        return Ok(None);
                    }
                    Ok(self.store.prompt_version(v)?)
                };
                let reply = match (version(&from)?, version(&to)?) {
                    (Some(a), Some(b)) => {
                        let diff = similar::TextDiff::from_lines(&a, &b);
                        let body = diff
                            .unified_diff()
                            .context_radius(3)
                            .header(&from, &to)
                            .to_string();
                        if body.is_empty() {
                            format!("`{from}` and `{to}` of `{agent}` are the same.")
                        } else {
                            format!(
                                "Prompt of `{agent}`, `{from}` → `{to}`:\n```\n{}```",
                                crate::chat::mrkdwn::escape(&body)
                            )
                        }
                    }
                    (a, b) => {
                        let missing: Vec<&str> = [(&from, a.is_none()), (&to, b.is_none())]
                            .iter()
                            .filter(|(_, m)| *m)
                            .map(|(v, _)| v.as_str())
                            .collect();
                        format!(":warning: unknown prompt version {}; versions are shown on job cards and by `@{} prompt {agent}`.", missing.iter().map(|v| format!("`{}`", crate::chat::mrkdwn::escape(v))).collect::<Vec<_>>().join(" and "), self.identity.name)
                    }
                };
                self.jobs.say(channel, thread_ts, &reply).await;
            }
            Ask::Agents => {
                let sections = self.directory_sections(user).await?;
                self.jobs
                    .say(channel, thread_ts, &sections.join("\n\n"))
                    .await;
            }
            Ask::Stop => {
                self.stop_from_thread(channel, user, thread_ts, thread_job)
                    .await?
            }
            Ask::Context { query, agent } => {
                let name = self.agent_for(agent, thread_job)?.unwrap_or(default);
                let reply = match self.usable_agent(&name, user, channel) {
                    Ok(agent) => crate::context::describe(
                        &agent.name,
                        &agent.context,
                        &query,
                        &self.jobs.passages(&agent, &query).await,
                        self.jobs.library().root(),
                    ),
                    Err(refusal) => refusal.to_string(),
                };
                self.jobs.say(channel, thread_ts, &reply).await;
            }
            Ask::Overlaps { days } => {
                self.overlaps_command(channel, user, thread_ts, days)
                    .await?
            }
            Ask::Schedules => {
                let text = self.schedules_text(user).await;
                self.jobs.say(channel, thread_ts, &text).await;
            }
            Ask::RunNow { agent, schedule } => match self.known_agent(&agent) {
                Ok(found) => {
                    self.run_now(channel, user, thread_ts, &found, schedule)
                        .await?
                }
                // `run the tests now` is a task, not a command about an agent `the`.
                Err(_) => {
                    let task = match &schedule {
                        Some(s) => format!("run {agent} {s} now"),
                        None => format!("run {agent} now"),
                    };
                    self.accept(
                        channel.to_string(),
                        user.to_string(),
                        ts.to_string(),
                        thread_ts.to_string(),
                        task,
                        Default::default(),
                        thread_job,
                    )
                    .await?;
                }
            },
            // `eval the parser` is a task, not a command about an agent `the`.
            Ask::Eval { agent, amendment } if self.known_agent(&agent).is_err() => {
                self.accept(
                    channel.to_string(),
                    user.to_string(),
                    ts.to_string(),
                    thread_ts.to_string(),
                    match amendment {
                        Some(n) => format!("eval {agent} amendment:{n}"),
                        None => format!("eval {agent}"),
                    },
                    Default::default(),
                    thread_job,
                )
                .await?;
            }
            Ask::Eval { agent, amendment } => {
                self.eval_command(channel, user, thread_ts, &agent, amendment)
                    .await?
            }
            Ask::Task { .. } | Ask::Help => {}
        }
        Ok(())
    }

    pub(super) fn amendments_text(&self, agent: &Agent) -> Result<String, BotError> {
        let list = self.store.amendments(&agent.name)?;
        if list.is_empty() {
            return Ok(format!("`{}` has no amendments yet. Propose one in a job's thread with `@{} remember: <instruction>`.", agent.name, self.identity.name));
        }
        let lines: Vec<String> = list
            .iter()
            .map(|a| {
                let decided = match (&a.decided_by, a.status) {
                    (Some(by), s) if s != AmendmentStatus::Proposed => {
                        format!(", {} by <@{by}>", s.label())
                    }
                    _ => String::new(),
                };
                format!(
                    "#{} *{}* — {} (by <@{}>{decided})",
                    a.number,
                    a.status.label(),
                    crate::chat::mrkdwn::escape(&a.text),
                    a.author
                )
            })
            .collect();
        Ok(format!(
            "Amendments of `{}`:\n{}",
            agent.name,
            lines.join("\n")
        ))
    }
}
