//! The learning loop's side effects: proposing and deciding amendments, verdicts on results,
//! re-runs, the bot's own commands and the agent directory. What may happen is decided in
//! `reactions` and `amendments` (pure); this module does it and tells the thread.

use std::sync::Arc;

use chrono::Utc;

use super::directory;
use super::reactions::{self, may_amend, Outcome};
use super::{card, outbox, BotError, Ctx, StopResult};
use crate::agents::Agent;
use crate::amendments::{Amendment, AmendmentAction, AmendmentStatus};
use crate::job::{Job, JobId, NewJob, Verdict};
use crate::request::Command;
use crate::store::{AuditRecord, Decided, MessageLink};

fn verb(action: AmendmentAction) -> &'static str {
    match action {
        AmendmentAction::Adopt => "adopted",
        AmendmentAction::Reject => "rejected",
        AmendmentAction::Revert => "reverted",
    }
}

impl Ctx {
    /// Appends an audit record. A failed write is never silent: it is logged whole (the
    /// log is redacted) and returned to the caller.
    pub(super) fn audit(&self, record: AuditRecord) -> Result<(), BotError> {
        if let Err(e) = self.store.append_audit(&record) {
            let record = serde_json::to_string(&record).unwrap_or_default();
            tracing::error!(error = %e, %record, "cannot write an audit record");
            return Err(e.into());
        }
        Ok(())
    }

    /// `@threadwork stop` in a thread: the thread's job, if the user may stop it.
    async fn stop_from_thread(
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
            self.say(
                channel,
                thread_ts,
                "There is no job in this thread to stop.",
            )
            .await;
            return Ok(());
        };
        let owner = self
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
    async fn stop_and_report(self: &Arc<Self>, job: &Job, user: &str) -> Result<(), BotError> {
        let result = self.stop_job(job.id, user).await?;
        self.audit(AuditRecord {
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
            self.say(&job.channel, &job.thread_ts, &text).await;
        }
        Ok(())
    }

    pub(super) async fn tell(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) {
        if let Err(e) =
            outbox::with_retries(|| self.chat.post_ephemeral(channel, user, thread_ts, text)).await
        {
            tracing::warn!(error = %e, "could not send an ephemeral message");
        }
    }

    /// The agent a command is about: named, else the thread's job's, else none.
    fn agent_for(
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
    fn usable_agent(&self, name: &str, user: &str, channel: &str) -> Result<Agent, String> {
        let agent = self.known_agent(name)?;
        match super::access_refusal(&agent, user, channel) {
            Some(refusal) => Err(refusal),
            None => Ok(agent),
        }
    }

    /// True when `version` is a prompt version of `agent`: one of its jobs ran with it, or an
    /// amendment decision produced it. Versions are stored by content hash alone, so this
    /// keeps `diff` from showing another agent's prompt.
    fn version_of(&self, agent: &str, version: &str) -> Result<bool, BotError> {
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

    fn known_agent(&self, name: &str) -> Result<Agent, String> {
        let registry = self.registry();
        registry
            .agents
            .get(name)
            .cloned()
            .ok_or_else(|| super::unknown_agent(name, &registry.agents))
    }

    /// Records a proposed amendment and announces it in the thread.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn propose(
        &self,
        channel: &str,
        user: &str,
        ts: &str,
        thread_ts: &str,
        text: &str,
        agent: Option<String>,
        job: Option<JobId>,
    ) -> Result<(), BotError> {
        let Some(agent_name) = agent else {
            self.say(channel, thread_ts, ":warning: `remember:` works in a job's thread, or name the agent: `@threadwork remember agent=<name>: <instruction>`.").await;
            return Ok(());
        };
        // `remember:` and a `correction:` reply alike: only for people who may use the agent.
        let agent = match self.usable_agent(&agent_name, user, channel) {
            Ok(a) => a,
            Err(reply) => {
                self.say(channel, thread_ts, &reply).await;
                return Ok(());
            }
        };
        let number = self.store.next_amendment_number(&agent.name)?;
        let permalink = self.chat.permalink(channel, ts).await.ok();
        let mut amendment = Amendment {
            agent: agent.name.clone(),
            number,
            text: text.to_string(),
            author: user.to_string(),
            permalink,
            job,
            channel: channel.to_string(),
            message_ts: None,
            created_at: Utc::now(),
            status: AmendmentStatus::Proposed,
            decided_by: None,
            decided_at: None,
        };
        self.store.put_amendment(&amendment)?;
        self.audit(AuditRecord {
            job,
            amendment: Some(number),
            message_ts: Some(ts.to_string()),
            ..AuditRecord::new("amendment_proposed", user, &agent.name)
        })?;
        let owners = match crate::request::user_mentions(&agent.owners) {
            Some(list) => format!("an owner ({list}) or an admin"),
            None => "an admin".to_string(),
        };
        let announcement = format!(
            ":memo: Amendment #{number} to `{}` proposed by <@{user}>:\n> {}\nTo use it in every later run, {owners} adopts it with :white_check_mark: on this message or `@threadwork adopt {} {number}`; :x: rejects it.",
            agent.name,
            // Exactly what would be adopted: escaped, so a link label or a ping shows as typed.
            crate::chat::mrkdwn::escape(text).replace('\n', "\n> "),
            agent.name
        );
        let _pending = self.links.begin();
        if let Some(msg_ts) = self.say(channel, thread_ts, &announcement).await {
            self.store.link_message(
                channel,
                &msg_ts,
                &MessageLink::Amendment {
                    agent: agent.name.clone(),
                    number,
                },
            )?;
            amendment.message_ts = Some(msg_ts);
            self.store.put_amendment(&amendment)?;
        }
        Ok(())
    }

    /// Adopts, rejects or reverts an amendment for `user` (whose right to do so is checked).
    async fn decide_amendment(
        &self,
        agent: &str,
        number: u32,
        action: AmendmentAction,
        user: &str,
        channel: &str,
        thread_ts: &str,
    ) -> Result<(), BotError> {
        let agent = match self.known_agent(agent) {
            Ok(a) => a,
            Err(reply) => {
                self.say(channel, thread_ts, &reply).await;
                return Ok(());
            }
        };
        if !may_amend(&agent, &self.settings.admins, user) {
            let text = format!(
                "Only the owners of `{}` or an admin can change its amendments.",
                agent.name
            );
            self.tell(channel, user, Some(thread_ts), &text).await;
            return Ok(());
        }
        let Some(mut amendment) = self.store.amendment(&agent.name, number)? else {
            self.say(
                channel,
                thread_ts,
                &format!(
                    ":warning: `{}` has no amendment #{number}; see `@threadwork amendments {}`.",
                    agent.name, agent.name
                ),
            )
            .await;
            return Ok(());
        };
        let before = self.effective(&agent)?.version;
        match action.apply(amendment.status) {
            Err(why) => {
                self.say(
                    channel,
                    thread_ts,
                    &format!(
                        ":warning: Amendment #{number} to `{}` was not {}: {why}.",
                        agent.name,
                        verb(action)
                    ),
                )
                .await;
            }
            Ok(next) => {
                amendment.status = next;
                amendment.decided_by = Some(user.to_string());
                amendment.decided_at = Some(Utc::now());
                // The prompt it makes, computed before anything is written.
                let mut all = self.store.amendments(&agent.name)?;
                all.retain(|a| a.number != number);
                all.push(amendment.clone());
                let after =
                    crate::prompts::effective_prompt(&agent, &self.registry().fragments, &all);
                self.store.put_prompt_version(&after.version, &after.text)?;
                // The decision and its audit record together, flushed before anyone is told.
                self.store.record_decision(
                    Decided::Amendment(&amendment),
                    &AuditRecord {
                        job: amendment.job,
                        amendment: Some(number),
                        prompt_version: Some(after.version.clone()),
                        ..AuditRecord::new(
                            &format!("amendment_{}", verb(action)),
                            user,
                            &agent.name,
                        )
                    },
                )?;
                self.say(
                    channel,
                    thread_ts,
                    &format!(
                        ":white_check_mark: Amendment #{number} to `{}` {} by <@{user}>. Prompt version `{before}` → `{}`.",
                        agent.name,
                        verb(action),
                        after.version
                    ),
                )
                .await;
            }
        }
        Ok(())
    }

    pub(super) async fn on_command(
        self: &Arc<Self>,
        channel: &str,
        user: &str,
        ts: &str,
        thread_ts: &str,
        command: Command,
        thread_job: Option<JobId>,
    ) -> Result<(), BotError> {
        let default = self.settings.default_agent.clone();
        match command {
            Command::Remember { text, agent } => {
                let agent = self.agent_for(agent, thread_job)?;
                self.propose(channel, user, ts, thread_ts, &text, agent, thread_job)
                    .await?;
            }
            Command::Decide {
                action,
                agent,
                number,
            } => match self.agent_for(agent, thread_job)? {
                Some(agent) => {
                    self.decide_amendment(&agent, number, action, user, channel, thread_ts)
                        .await?
                }
                None => {
                    self.say(channel, thread_ts, ":warning: name the agent: `@threadwork adopt <agent> <n>` (or say it in the job's thread).").await;
                }
            },
            Command::Amendments { agent } => {
                let name = self.agent_for(agent, thread_job)?.unwrap_or(default);
                let reply = match self.usable_agent(&name, user, channel) {
                    Ok(agent) => self.amendments_text(&agent)?,
                    Err(reply) => reply,
                };
                self.say(channel, thread_ts, &reply).await;
            }
            Command::Prompt { agent } => {
                let name = self.agent_for(agent, thread_job)?.unwrap_or(default);
                let reply = match self.usable_agent(&name, user, channel) {
                    Ok(agent) => {
                        let p = self.effective(&agent)?;
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
                    Err(reply) => reply,
                };
                self.say(channel, thread_ts, &reply).await;
            }
            Command::Diff { agent, from, to } => {
                if let Err(reply) = self.usable_agent(&agent, user, channel) {
                    self.say(channel, thread_ts, &reply).await;
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
                        format!(":warning: unknown prompt version {}; versions are shown on job cards and by `@threadwork prompt {agent}`.", missing.iter().map(|v| format!("`{}`", crate::chat::mrkdwn::escape(v))).collect::<Vec<_>>().join(" and "))
                    }
                };
                self.say(channel, thread_ts, &reply).await;
            }
            Command::Agents => {
                let sections = self.directory_sections().await?;
                self.say(channel, thread_ts, &sections.join("\n\n")).await;
            }
            Command::Stop => {
                self.stop_from_thread(channel, user, thread_ts, thread_job)
                    .await?
            }
            Command::Context { query, agent } => {
                let name = self.agent_for(agent, thread_job)?.unwrap_or(default);
                let reply = match self.usable_agent(&name, user, channel) {
                    Ok(agent) => crate::context::describe(
                        &agent.name,
                        &agent.context,
                        &query,
                        &self.passages(&agent, &query).await,
                        self.library.root(),
                    ),
                    Err(reply) => reply,
                };
                self.say(channel, thread_ts, &reply).await;
            }
            Command::Task { .. } | Command::Help => {}
        }
        Ok(())
    }

    fn amendments_text(&self, agent: &Agent) -> Result<String, BotError> {
        let list = self.store.amendments(&agent.name)?;
        if list.is_empty() {
            return Ok(format!("`{}` has no amendments yet. Propose one in a job's thread with `@threadwork remember: <instruction>`.", agent.name));
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
        let agent = agent_name.and_then(|n| self.registry().agents.get(&n).cloned());
        let superseded = match &job {
            Some(j) => self.store.job_for_thread(&j.channel, &j.thread_ts)? != Some(j.id),
            None => false,
        };
        let outcome = reactions::decide(&reactions::Facts {
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
            Outcome::Nothing(why) => tracing::debug!(%user, %name, why, "reaction changes nothing"),
            Outcome::Explain(text) => self.background(async move |ctx: Arc<Self>| {
                ctx.tell(&channel, &user, thread_ts.as_deref(), &text).await;
                Ok(())
            }),
            Outcome::Amend { action } => {
                if let Some(a) = amendment {
                    self.background(async move |ctx: Arc<Self>| {
                        // The announcement's thread: where the reaction was.
                        let thread = ctx.thread_of(&channel, &item_ts, a.job).await;
                        ctx.decide_amendment(&a.agent, a.number, action, &user, &channel, &thread)
                            .await
                    });
                }
            }
            Outcome::Cancel { job } => {
                if let Some(j) = job_record(self, job)? {
                    self.background(async move |ctx: Arc<Self>| {
                        ctx.stop_and_report(&j, &user).await
                    });
                }
            }
            Outcome::Approve { job } | Outcome::Reject { job } => {
                let approved = matches!(outcome, Outcome::Approve { .. });
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
                let text = format!(
                    "Recorded: you {} the result of job {} (prompt `{}`).",
                    if approved { "approved" } else { "rejected" },
                    job,
                    j.prompt_version.as_deref().unwrap_or("?")
                );
                self.background(async move |ctx: Arc<Self>| {
                    ctx.tell(&channel, &user, Some(&j.thread_ts), &text).await;
                    ctx.pr_verdict(&j, approved, &user).await;
                    Ok(())
                });
            }
            Outcome::Withdraw { job } => {
                self.decide_job(
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
            }
            Outcome::Rerun { job } => {
                if let Some(old) = self.store.job(job)? {
                    self.audit(AuditRecord {
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
    async fn thread_of(&self, channel: &str, ts: &str, job: Option<JobId>) -> String {
        if let Some(Ok(Some(j))) = job.map(|id| self.store.job(id)) {
            if j.channel == channel {
                return j.thread_ts;
            }
        }
        ts.to_string()
    }

    /// Runs the same request again, with the prompt in force now — under the same checks
    /// as a new request: the agent's users and channels, and the per-user limit.
    async fn rerun(self: &Arc<Self>, old: &Job, user: &str) -> Result<(), BotError> {
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
        let mut job = Job::queued(
            self.store.next_job_id()?,
            NewJob {
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
            },
        );
        // The re-run works in the same checkout and pushes to the same PR.
        job.repo = old.repo.clone();
        job.branch = old.branch.clone();
        job.pr = old.pr.clone();
        job.head = old.head.clone();
        self.submit(job)
    }

    /// The directory: a header, then one section per agent.
    pub(super) async fn directory_sections(&self) -> Result<Vec<String>, BotError> {
        let registry = self.registry();
        let jobs = self.store.jobs()?;
        let now = Utc::now();
        let mut sections = vec![format!(
            "*Agents* ({}) — mention me with `agent=<name>` to pick one.",
            registry.agents.len()
        )];
        for agent in registry.agents.values() {
            let stats = directory::stats(&agent.name, &jobs, now);
            let prompt = self.effective(agent)?;
            let mut links = Vec::new();
            for (id, _) in &stats.recent {
                let job = jobs.iter().find(|j| j.id == *id);
                let ts = job.and_then(|j| j.result_ts.clone().or(j.card_ts.clone()));
                let link = match (job, ts) {
                    (Some(j), Some(ts)) => self.chat.permalink(&j.channel, &ts).await.ok(),
                    _ => None,
                };
                links.push(link);
            }
            sections.push(directory::render_entry(
                agent,
                &stats,
                &prompt.version,
                prompt.amendments.len(),
                &links,
            ));
        }
        Ok(sections)
    }

    pub(super) async fn publish_home(&self, user: &str) {
        let sections = match self.directory_sections().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the agent directory");
                return;
            }
        };
        if let Err(e) = outbox::with_retries(|| self.chat.publish_home(user, &sections)).await {
            tracing::warn!(error = %e, "could not publish the Home tab");
        }
    }
}

fn job_record(ctx: &Ctx, id: JobId) -> Result<Option<Job>, BotError> {
    Ok(ctx.store.job(id)?)
}
