//! Overlap at intake: a new request compared with the work the bot knows of, both threads
//! told, the request held in `ask` mode until its requester runs it anyway or joins the other
//! thread. Who may choose: the requester, the agent's owners and the admins (`authority`).
//! Every decision is an audit record (`overlap_asked`, `overlap_noted`, `overlap_ran_anyway`,
//! `overlap_joined`).

use std::sync::Arc;

use chrono::Utc;

use super::handle::Handler;
use super::{outbox, BotError};
use crate::authority;
use crate::chat::ChannelInfo;
use crate::job::{JobId, NewJob};
use crate::jobs::Workplace;
use crate::overlap::notice::{self, Choice, Earlier};
use crate::overlap::{doc_for, Found, Held, Mode};
use crate::store::AuditRecord;

/// Whether a new request may start now.
pub(super) enum Gate {
    Go(Seen),
    Held,
}

/// What intake learnt about the request's conversation, recorded with the request.
pub(super) struct Seen {
    private: bool,
}

impl Handler {
    /// Whether a conversation is private or shared; one that cannot be looked up counts as
    /// both, so nothing of it is shown elsewhere and nothing is shown in it.
    pub(super) async fn place_of(&self, channel: &str) -> ChannelInfo {
        match self.chat.channel(channel).await {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(%channel, error = %e, "cannot look up a conversation; treating it as private");
                ChannelInfo {
                    private: true,
                    shared: true,
                }
            }
        }
    }

    /// Compares a new request with the work the bot knows of; tells both threads when it
    /// looks like the same work, and in `ask` mode holds it (persisted before anyone is told).
    pub(super) async fn overlap_gate(
        self: &Arc<Self>,
        new: &NewJob,
        place: &Workplace,
    ) -> Result<Gate, BotError> {
        let here = self.place_of(&new.channel).await;
        let seen = Seen {
            private: here.private,
        };
        let mode = self.settings.overlap.mode;
        // In a channel shared with another organisation, or for a guest, nothing of other
        // conversations is said, not even that similar work exists.
        let guest = self
            .chat
            .user(&new.requester)
            .await
            .map(|u| u.guest)
            .unwrap_or(true);
        if mode == Mode::Off || here.shared || guest {
            return Ok(Gate::Go(seen));
        }
        let found = self.overlaps.check(
            &new.task,
            place.repo.as_deref(),
            &new.channel,
            &new.thread_ts,
            Utc::now(),
        )?;
        let Some(found) = found else {
            return Ok(Gate::Go(seen));
        };
        let held = mode == Mode::Ask;
        if held {
            self.store.put_held(
                &new.channel,
                &new.thread_ts,
                &Held {
                    new: new.clone(),
                    repo: place.repo.clone(),
                    branch: place.branch.clone(),
                    like: found.job.id,
                    score: found.matched.score,
                    at: Utc::now(),
                },
            )?;
        }
        let action = if held {
            "overlap_asked"
        } else {
            "overlap_noted"
        };
        self.audit_overlap(action, &new.requester, &new.agent, found.job.id, new, |d| {
            d["score"] = serde_json::json!(found.matched.score);
            d["shared"] = serde_json::json!(found.matched.shared);
        });
        tracing::info!(like = found.job.id, score = found.matched.score, channel = %new.channel, held, "request looks like earlier work");
        let (ctx, new) = (self.clone(), new.clone());
        self.jobs.spawn(async move {
            ctx.tell_overlap(&new, &found, here, mode).await;
        });
        Ok(if held { Gate::Held } else { Gate::Go(seen) })
    }

    /// Posts the notice in the new thread and, once per pair, tells the earlier thread.
    async fn tell_overlap(&self, new: &NewJob, found: &Found, here: ChannelInfo, mode: Mode) {
        let guest = self
            .chat
            .user(&new.requester)
            .await
            .map(|u| u.guest)
            .unwrap_or(true);
        let same = found.doc.channel == new.channel;
        let show = notice::may_show(same, found.doc.private, here.shared, guest);
        let link = if show {
            self.thread_link(&found.job.channel, &found.job.thread_ts)
                .await
        } else {
            None
        };
        let pr = found.job.pr.as_ref().map(|p| p.url.clone());
        let earlier = Earlier {
            job: found.job.id,
            requester: &found.job.requester,
            channel: &found.job.channel,
            permalink: link.as_deref(),
            state: found.job.state.label(),
            pr: pr.as_deref(),
            task: &found.job.task,
        };
        let text = notice::to_new(&earlier, &found.matched, show, mode);
        self.jobs.say(&new.channel, &new.thread_ts, &text).await;
        // Once per earlier job and person: asking again elsewhere does not post again there.
        let pair = format!("{}:{}", found.job.id, new.requester);
        match self.store.claim_overlap(&pair) {
            Ok(true) => {
                let new_link = self.link_for(new, found).await;
                let text = notice::to_earlier(&new.requester, new_link.as_deref());
                self.jobs
                    .say(&found.job.channel, &found.job.thread_ts, &text)
                    .await;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, %pair, "cannot record that an overlap was told; not telling the earlier thread")
            }
        }
    }

    /// The new request's permalink, when its details may be shown in the earlier thread.
    async fn link_for(&self, new: &NewJob, found: &Found) -> Option<String> {
        let same = found.doc.channel == new.channel;
        let here = self.place_of(&new.channel).await;
        let there = self.place_of(&found.doc.channel).await;
        if !notice::may_show(same, here.private, there.shared, false) {
            return None;
        }
        self.thread_link(&new.channel, &new.request_ts).await
    }

    async fn thread_link(&self, channel: &str, ts: &str) -> Option<String> {
        match outbox::with_retries(|| self.chat.permalink(channel, ts)).await {
            Ok(link) => Some(link),
            Err(e) => {
                tracing::warn!(%channel, error = %e, "cannot get a permalink for an overlap notice");
                None
            }
        }
    }

    /// Records an accepted request for later overlap checks.
    pub(super) fn record_request(&self, id: JobId, seen: Seen) {
        let job = match self.store.job(id) {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(job = id, error = %e, "cannot read a new job to record it for overlap checks");
                return;
            }
        };
        if let Err(e) = self.overlaps.record(doc_for(&job, seen.private)) {
            tracing::error!(job = id, error = %e, "cannot record a request for overlap checks");
        }
    }

    /// `run anyway` or `join` in a held thread, from someone who may decide for it.
    pub(super) async fn on_overlap_choice(
        self: &Arc<Self>,
        channel: String,
        thread_ts: String,
        user: String,
        choice: Choice,
    ) -> Result<(), BotError> {
        let Some(held) = self.store.held(&channel, &thread_ts)? else {
            return Ok(());
        };
        let registry = self.jobs.registry();
        let agent = registry.agents.get(&held.new.agent);
        let role = authority::role(&user, &held.new.requester, agent, &self.settings.admins);
        if !role.may_act() {
            tracing::info!(%channel, %user, "overlap choice refused: not allowed to act in the thread");
            let owners = agent
                .map(|a| {
                    a.owners
                        .iter()
                        .map(|o| format!("<@{o}>"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let text = format!(
                ":no_entry: Only <@{}> (who asked){} or an admin can run this request or join the other thread. Nothing changed.",
                held.new.requester,
                if owners.is_empty() {
                    String::new()
                } else {
                    format!(", the agent's owners ({})", owners.join(", "))
                }
            );
            self.refuse_in_background(channel, user, thread_ts, text);
            return Ok(());
        }
        // Of two people choosing at once, one takes it.
        let Some(held) = self.store.take_held(&channel, &thread_ts)? else {
            return Ok(());
        };
        match choice {
            Choice::RunAnyway => self.run_anyway(held, &user).await,
            Choice::Join => {
                self.join(held, &user);
                Ok(())
            }
        }
    }

    /// Starts a held request under the rules in force now: the agent, its `users:` and
    /// `channels:`, its harnesses and repositories may have changed while it waited.
    async fn run_anyway(self: &Arc<Self>, held: Held, user: &str) -> Result<(), BotError> {
        let here = self.place_of(&held.new.channel).await;
        let (channel, ts) = (held.new.channel.clone(), held.new.request_ts.clone());
        let mut options = held.new.options.clone();
        options.agent = Some(held.new.agent.clone());
        options.harness = Some(held.new.harness.clone());
        let registry = self.jobs.registry();
        let checked = super::intake::resolve_agent(
            &options,
            &channel,
            &held.new.requester,
            &registry.agents,
            &self.jobs.harness_names(),
            &self.settings.default_agent,
        )
        .and_then(|(agent, _, _)| {
            super::intake::job_repo(agent, &options, None, self.jobs.forges())
        });
        let (repo, branch) = match checked {
            Ok(place) => place,
            Err(refusal) => {
                tracing::info!(%channel, thread_ts = %held.new.thread_ts, "a held request may no longer run");
                self.say_in_background(channel, held.new.thread_ts.clone(), refusal.no_job());
                return Ok(());
            }
        };
        let new = held.new.clone();
        let id = self.jobs.accept(
            held.new,
            Workplace {
                repo,
                branch,
                pr: None,
                head: None,
            },
        )?;
        self.record_request(
            id,
            Seen {
                private: here.private,
            },
        );
        self.audit_overlap(
            "overlap_ran_anyway",
            user,
            &new.agent,
            held.like,
            &new,
            |d| {
                d["job"] = serde_json::json!(id);
            },
        );
        let chat = self.chat.clone();
        self.jobs.spawn(async move {
            if let Err(e) = outbox::with_retries(|| chat.add_reaction(&channel, &ts, "eyes")).await
            {
                tracing::warn!(error = %e, "could not add the eyes reaction");
            }
        });
        Ok(())
    }

    /// Nothing runs; both threads are linked (within the privacy rule) and the run it saved
    /// is recorded with what the earlier job cost.
    fn join(self: &Arc<Self>, held: Held, user: &str) {
        let earlier = self.store.job(held.like).ok().flatten();
        let saved = earlier.as_ref().map(|j| j.usage.cost_usd).unwrap_or(0.0);
        self.audit_overlap(
            "overlap_joined",
            user,
            &held.new.agent,
            held.like,
            &held.new,
            |d| {
                d["saved_runs"] = serde_json::json!(1);
                d["saved_usd"] = serde_json::json!(saved);
            },
        );
        let (ctx, user) = (self.clone(), user.to_string());
        self.jobs.spawn(async move {
            let new = &held.new;
            let Some(earlier) = earlier else {
                ctx.jobs
                    .say(&new.channel, &new.thread_ts, &notice::joined_new(None))
                    .await;
                return;
            };
            let here = ctx.place_of(&new.channel).await;
            let there = ctx.place_of(&earlier.channel).await;
            let same = earlier.channel == new.channel;
            let guest = ctx
                .chat
                .user(&new.requester)
                .await
                .map(|u| u.guest)
                .unwrap_or(true);
            let link = if notice::may_show(same, there.private, here.shared, guest) {
                ctx.thread_link(&earlier.channel, &earlier.thread_ts).await
            } else {
                None
            };
            ctx.jobs
                .say(
                    &new.channel,
                    &new.thread_ts,
                    &notice::joined_new(link.as_deref()),
                )
                .await;
            let new_link = if notice::may_show(same, here.private, there.shared, false) {
                ctx.thread_link(&new.channel, &new.request_ts).await
            } else {
                None
            };
            ctx.jobs
                .say(
                    &earlier.channel,
                    &earlier.thread_ts,
                    &notice::joined_earlier(&user, new_link.as_deref()),
                )
                .await;
        });
    }

    fn audit_overlap(
        &self,
        action: &str,
        by: &str,
        agent: &str,
        like: JobId,
        new: &NewJob,
        detail: impl FnOnce(&mut serde_json::Value),
    ) {
        let mut d = serde_json::json!({
            "like": like,
            "channel": new.channel,
            "thread_ts": new.thread_ts,
            "requester": new.requester,
        });
        detail(&mut d);
        let record = AuditRecord {
            job: Some(like),
            detail: Some(d.to_string()),
            ..AuditRecord::new(action, by, agent)
        };
        // Logged whole by `audit` when it cannot be written.
        let _ = self.jobs.audit(record);
    }
}
