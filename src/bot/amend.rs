//! Corrections become amendments: proposed in the thread, adopted, rejected or reverted by
//! the agent's owners or an admin (`reactions::may_amend`), each decision with its audit
//! record.

use chrono::Utc;

use super::reactions::may_amend;
use super::{BotError, Handler};
use crate::amendments::{Amendment, AmendmentAction, AmendmentStatus};
use crate::job::JobId;
use crate::store::{AuditRecord, Decided, MessageLink};

fn verb(action: AmendmentAction) -> &'static str {
    match action {
        AmendmentAction::Adopt => "adopted",
        AmendmentAction::Reject => "rejected",
        AmendmentAction::Revert => "reverted",
    }
}

impl Handler {
    /// Records a proposed amendment and announces it in the thread; the agent's suite then
    /// runs with and without it (`evaluate_amendment`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn propose(
        self: &std::sync::Arc<Self>,
        channel: &str,
        user: &str,
        ts: &str,
        thread_ts: &str,
        text: &str,
        agent: Option<String>,
        job: Option<JobId>,
    ) -> Result<(), BotError> {
        let Some(agent_name) = agent else {
            self.jobs.say(channel, thread_ts, &format!(":warning: `remember:` works in a job's thread, or name the agent: `@{} remember agent=<name>: <instruction>`.", self.identity.name)).await;
            return Ok(());
        };
        // `remember:` and a `correction:` reply alike: only for people who may use the agent.
        let agent = match self.usable_agent(&agent_name, user, channel) {
            Ok(a) => a,
            Err(refusal) => {
                self.jobs
                    .say(channel, thread_ts, &refusal.to_string())
                    .await;
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
        self.jobs.audit(AuditRecord {
            job,
            amendment: Some(number),
            message_ts: Some(ts.to_string()),
            ..AuditRecord::new("amendment_proposed", user, &agent.name)
        })?;
        let owners = match crate::text::user_mentions(&agent.owners) {
            Some(list) => format!("an owner ({list}) or an admin"),
            None => "an admin".to_string(),
        };
        let bot = &self.identity.name;
        let announcement = format!(
            ":memo: Amendment #{number} to `{}` proposed by <@{user}>:\n> {}\nTo use it in every later run, {owners} adopts it with :white_check_mark: on this message or `@{bot} adopt {} {number}`; :x: rejects it.",
            agent.name,
            // Exactly what would be adopted: escaped, so a link label or a ping shows as typed.
            crate::chat::mrkdwn::escape(text).replace('\n', "\n> "),
            agent.name
        );
        let _pending = self.jobs.links().begin();
        if let Some(msg_ts) = self.jobs.say(channel, thread_ts, &announcement).await {
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
        self.evaluate_amendment(
            agent,
            number,
            user,
            channel.to_string(),
            thread_ts.to_string(),
        )
        .await;
        Ok(())
    }

    /// Adopts, rejects or reverts an amendment for `user` (whose right to do so is checked).
    pub(super) async fn decide_amendment(
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
            Err(refusal) => {
                self.jobs
                    .say(channel, thread_ts, &refusal.to_string())
                    .await;
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
            self.jobs
                .say(
                    channel,
                    thread_ts,
                    &format!(
                        ":warning: `{}` has no amendment #{number}; see `@{} amendments {}`.",
                        agent.name, self.identity.name, agent.name
                    ),
                )
                .await;
            return Ok(());
        };
        let before = self.jobs.effective(&agent)?.version;
        match action.apply(amendment.status) {
            Err(why) => {
                self.jobs
                    .say(
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
                    crate::prompts::effective_prompt(&agent, &self.jobs.registry().fragments, &all);
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
                self.jobs.say(
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
}
