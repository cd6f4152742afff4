//! Handling one inbound event: claimed once, decided by `route` (pure), then acted on.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::route::{decide, Decision, Facts, TriggerHit};
use super::{outbox, BotError};
use crate::chat::inbound::{self, InboundKind};
use crate::chat::{BotIdentity, ChatPlatform};
use crate::job::{ReactionRecord, ThreadMessage};
use crate::jobs::Jobs;
use crate::schedules::{Clock, Planned};
use crate::settings::BotSettings;
use crate::store::Store;

/// The event side of the bot: decides what an event asks for and whether its sender may,
/// and hands accepted work to `jobs`.
pub(super) struct Handler {
    pub(super) jobs: Arc<Jobs>,
    pub(super) chat: Arc<dyn ChatPlatform>,
    pub(super) store: Arc<dyn Store>,
    pub(super) settings: BotSettings,
    pub(super) identity: BotIdentity,
    /// Jobs per user per hour, when limited.
    pub(super) user_limiter: Option<governor::DefaultKeyedRateLimiter<String>>,
    /// The time schedules and triggers read.
    pub(super) clock: Arc<dyn Clock>,
    /// Each schedule's next run, as the schedules loop last computed it.
    pub(super) planned: std::sync::Mutex<Vec<Planned>>,
    /// Held while an automated run checks and takes one of its agent's hourly runs.
    pub(super) reserving: std::sync::Mutex<()>,
    /// What intake compares a new request with.
    pub(super) overlaps: Arc<crate::overlap::Overlaps>,
}

impl Handler {
    /// Handles one event. A failure is logged; one caused by the store (a full or failing
    /// disk) is counted, and a mention that met it is told so in its thread, so nobody waits
    /// for a job that was never recorded. Everything that needs no write goes on working.
    pub(super) async fn take(self: &Arc<Self>, inbound: inbound::Inbound) {
        let asked_in = match &inbound.kind {
            InboundKind::Mention {
                channel,
                ts,
                thread_ts,
                ..
            } => Some((
                channel.clone(),
                thread_ts.clone().unwrap_or_else(|| ts.clone()),
            )),
            _ => None,
        };
        let Err(e) = self.handle(inbound).await else {
            return;
        };
        tracing::error!(error = %e, "event handling failed");
        if !e.is_store() {
            return;
        }
        self.jobs.metrics().store_failures.inc();
        let Some((channel, thread)) = asked_in else {
            return;
        };
        let text = format!(
            ":warning: I could not record this, so nothing was started: the bot's storage is failing ({}). Try again later; the bot's operators see the error in its log and metrics.",
            crate::chat::mrkdwn::escape(&crate::text::clip(&e.to_string(), 200))
        );
        let chat = self.chat.clone();
        self.jobs.spawn(async move {
            if let Err(e) =
                outbox::with_retries(|| chat.post_message(&channel, Some(&thread), &text)).await
            {
                tracing::warn!(error = %e, "could not tell the thread its request was not recorded");
            }
        });
    }

    pub(super) async fn handle(
        self: &Arc<Self>,
        inbound: inbound::Inbound,
    ) -> Result<(), BotError> {
        if !self.store.claim_event(&inbound.event_id)? {
            tracing::debug!(event_id = %inbound.event_id, "duplicate event ignored");
            return Ok(());
        }
        let thread = match &inbound.kind {
            InboundKind::Mention {
                channel,
                thread_ts: Some(t),
                ..
            }
            | InboundKind::Message {
                channel,
                thread_ts: Some(t),
                ..
            } => Some((channel, t)),
            _ => None,
        };
        let thread_job = match thread {
            Some((channel, t)) => self.store.job_for_thread(channel, t)?,
            None => None,
        };
        // A held request's thread has no job yet.
        let held = match (thread, thread_job) {
            (Some((channel, t)), None) => self.store.held(channel, t)?.is_some(),
            _ => false,
        };
        let message_link = match &inbound.kind {
            InboundKind::Reaction {
                channel, item_ts, ..
            } => self.store.message_link(channel, item_ts)?,
            _ => None,
        };
        // Mentions carry no bot id: ask whether the sender is a bot (cached).
        let sender_is_bot = match &inbound.kind {
            InboundKind::Mention { user, .. } if user != &self.identity.user_id => self
                .chat
                .user(user)
                .await
                .map(|u| u.is_bot)
                .unwrap_or(false),
            _ => false,
        };
        let facts = Facts {
            sender_is_bot,
            bot_user_id: &self.identity.user_id,
            bot_name: &self.identity.name,
            bot_id: self.identity.bot_id.as_deref(),
            allowed_bots: &self.settings.allowed_bots,
            trigger: self.trigger_hit(&inbound.kind, thread_job.is_some()),
            thread_job,
            message_link,
            held,
        };
        let decision = decide(&inbound.kind, &facts);
        if let (Decision::Ignore(_), InboundKind::Reaction { item_user, .. }) =
            (&decision, &inbound.kind)
        {
            // A reaction on a message the bot posted a moment ago, before it recorded what
            // the message is: decide again once the posts in flight are recorded.
            if item_user.as_deref() == Some(self.identity.user_id.as_str())
                && self.jobs.links().any()
            {
                let ctx = self.clone();
                self.jobs.spawn(async move {
                    if let Err(e) = ctx.handle_late_reaction(inbound).await {
                        tracing::error!(error = %e, "event handling failed");
                    }
                });
                return Ok(());
            }
        }
        self.act(&inbound, decision).await
    }

    /// A reaction held back by `handle` until the bot's posts in flight are recorded.
    pub(super) async fn handle_late_reaction(
        self: &Arc<Self>,
        inbound: inbound::Inbound,
    ) -> Result<(), BotError> {
        if !self.jobs.links().settled(Duration::from_secs(30)).await {
            tracing::warn!(event_id = %inbound.event_id, "posts still unrecorded after 30 s; deciding on the reaction anyway");
        }
        let message_link = match &inbound.kind {
            InboundKind::Reaction {
                channel, item_ts, ..
            } => self.store.message_link(channel, item_ts)?,
            _ => None,
        };
        let facts = Facts {
            sender_is_bot: false,
            bot_user_id: &self.identity.user_id,
            bot_name: &self.identity.name,
            bot_id: self.identity.bot_id.as_deref(),
            allowed_bots: &self.settings.allowed_bots,
            thread_job: None,
            message_link,
            trigger: None,
            held: false,
        };
        let decision = decide(&inbound.kind, &facts);
        self.act(&inbound, decision).await
    }

    /// The first agent trigger (agents in name order) a message outside a job's thread
    /// matches. Whether the sender may fire it is `route`'s and `on_trigger`'s to say.
    fn trigger_hit(&self, kind: &InboundKind, in_job_thread: bool) -> Option<TriggerHit> {
        let InboundKind::Message {
            channel,
            user,
            bot_id,
            text,
            ..
        } = kind
        else {
            return None;
        };
        if in_job_thread {
            return None;
        }
        let registry = self.jobs.registry();
        registry.agents.values().find_map(|agent| {
            agent.triggers.iter().find_map(|t| {
                t.hit(channel, user.as_deref(), bot_id.as_deref(), text)
                    .map(|hit| TriggerHit {
                        agent: agent.name.clone(),
                        trigger: t.name.clone(),
                        key: hit.key,
                    })
            })
        })
    }

    /// Carries out what `decide` chose for an event.
    pub(super) async fn act(
        self: &Arc<Self>,
        inbound: &inbound::Inbound,
        decision: Decision,
    ) -> Result<(), BotError> {
        // The same message can arrive under two event ids (app_mention and message).
        if let (
            false,
            InboundKind::Mention { channel, ts, .. } | InboundKind::Message { channel, ts, .. },
        ) = (matches!(decision, Decision::Ignore(_)), &inbound.kind)
        {
            if !self.store.claim_message(channel, ts)? {
                tracing::debug!(%channel, %ts, "message already handled");
                return Ok(());
            }
        }
        match decision {
            Decision::Ignore(why) => tracing::trace!(event_id = %inbound.event_id, why, "ignored"),
            Decision::Reply {
                channel,
                thread_ts,
                text,
            } => self.say_in_background(channel, thread_ts, text),
            Decision::NewJob {
                channel,
                user,
                ts,
                thread_ts,
                task,
                options,
                parent,
            } => {
                if let Some(text) = self.outsider_refusal(&user).await {
                    self.refuse_in_background(channel, user, thread_ts, text);
                    return Ok(());
                }
                self.accept(channel, user, ts, thread_ts, task, options, parent)
                    .await?;
            }
            Decision::KeepReply {
                job,
                channel,
                ts,
                user,
                text,
            } => {
                let author = self.jobs.user_name(&user).await;
                let message = ThreadMessage {
                    ts,
                    user: Some(user),
                    author,
                    text,
                    from_bot: false,
                    role: String::new(),
                    trusted: false,
                };
                self.jobs.update_job(job, |j| j.keep_reply(message)).await?;
                tracing::debug!(job, %channel, "thread reply kept with the job");
            }
            Decision::Reaction {
                link,
                channel,
                user,
                name,
                item_ts,
                added,
            } => {
                if let Some(job) = link.job() {
                    let record = ReactionRecord {
                        user: user.clone(),
                        name: name.clone(),
                        message_ts: item_ts.clone(),
                        added,
                        at: Utc::now(),
                    };
                    self.jobs
                        .update_job(job, |j| j.reactions.push(record))
                        .await?;
                }
                // Decided here, in order; its Slack and forge calls run in the background, so
                // a slow or rate-limited Slack does not hold up the events behind this one.
                self.on_reaction(&link, &channel, &user, &name, &item_ts, added)
                    .await?;
            }
            Decision::Command {
                channel,
                user,
                ts,
                thread_ts,
                command,
                thread_job,
            } => {
                self.background(async move |ctx: Arc<Self>| {
                    if let Some(text) = ctx.outsider_refusal(&user).await {
                        ctx.tell(&channel, &user, Some(&thread_ts), &text).await;
                        return Ok(());
                    }
                    ctx.on_command(&channel, &user, &ts, &thread_ts, command, thread_job)
                        .await
                });
            }
            Decision::Correction {
                job,
                channel,
                ts,
                thread_ts,
                user,
                text,
            } => {
                let agent = self.store.job(job)?.map(|j| j.agent);
                self.background(async move |ctx: Arc<Self>| {
                    if let Some(text) = ctx.outsider_refusal(&user).await {
                        ctx.tell(&channel, &user, Some(&thread_ts), &text).await;
                        return Ok(());
                    }
                    ctx.propose(&channel, &user, &ts, &thread_ts, &text, agent, Some(job))
                        .await
                });
            }
            Decision::Triggered(message) => self.on_trigger(message).await?,
            Decision::OverlapChoice {
                channel,
                thread_ts,
                user,
                choice,
            } => {
                if let Some(text) = self.outsider_refusal(&user).await {
                    self.refuse_in_background(channel, user, thread_ts, text);
                    return Ok(());
                }
                self.on_overlap_choice(channel, thread_ts, user, choice)
                    .await?;
            }
            Decision::Home { user } => {
                let ctx = self.clone();
                self.jobs.spawn(async move {
                    // The directory names agents, owners and recent results: not for outsiders.
                    if ctx.outsider_refusal(&user).await.is_none() {
                        ctx.publish_home(&user).await
                    }
                });
            }
        }
        Ok(())
    }

    /// Why `user` may not use the bot at all: a guest where guests are not allowed, or
    /// someone from another workspace (Slack Connect) whose team is not allowed. Fails
    /// closed: who cannot be looked up is refused.
    pub(super) async fn outsider_refusal(&self, user: &str) -> Option<String> {
        let info = match self.chat.user(user).await {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(%user, error = %e, "cannot look up a user; refusing their request");
                return Some(":warning: I could not check who you are just now; please try again in a minute. Nothing was started.".into());
            }
        };
        let team = info.team_id.as_deref();
        if team.is_some_and(|t| {
            t != self.identity.team_id && !self.settings.external_teams.iter().any(|x| x == t)
        }) {
            return Some(":no_entry: This bot works for its own workspace; people from other organisations in shared channels cannot start jobs or use its commands. Nothing was started.".into());
        }
        if info.guest && !self.settings.allow_guests {
            return Some(":no_entry: Guests cannot start jobs or use the bot's commands in this workspace. Nothing was started.".into());
        }
        None
    }

    /// Replies in a thread without holding up the event loop.
    pub(super) fn say_in_background(
        self: &Arc<Self>,
        channel: String,
        thread_ts: String,
        text: String,
    ) {
        let ctx = self.clone();
        self.jobs
            .spawn(async move { ctx.jobs.say(&channel, &thread_ts, &text).await });
    }

    /// Tells `user` (only them) why nothing happened, without holding up the event loop.
    pub(super) fn refuse_in_background(
        self: &Arc<Self>,
        channel: String,
        user: String,
        thread_ts: String,
        text: String,
    ) {
        let ctx = self.clone();
        self.jobs
            .spawn(async move { ctx.tell(&channel, &user, Some(&thread_ts), &text).await });
    }

    /// Runs a handler's slow part (its Slack calls) as its own task, logging a failure.
    pub(super) fn background<F, Fut>(self: &Arc<Self>, work: F)
    where
        F: FnOnce(Arc<Self>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), BotError>> + Send + 'static,
    {
        let ctx = self.clone();
        self.jobs.spawn(async move {
            if let Err(e) = work(ctx).await {
                tracing::error!(error = %e, "event handling failed");
            }
        });
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
}
