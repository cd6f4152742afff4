//! The organisation's view of overlapping work: `@threadwork overlaps [days]`, the digest sent
//! every `[overlap] digest_days` to `[agents] admin_channel`, and the App Home section, all
//! worded by `overlap::report` within the privacy rule; and agents that duplicate each other,
//! told to the admin channel when a prompt file change makes a new pair (once per pair and
//! content) and shown in the directory.
//!
//! Who sees it: members of the bot's own workspace. A guest or someone from another
//! organisation is refused (and gets no Home section), and nothing is listed in a channel
//! shared with another organisation. A job from a private conversation is listed only when the
//! list is posted in that conversation; elsewhere it is left out before grouping. The digest's
//! instant is marked (flushed) once its text is ready and before it is posted: a crash loses
//! one digest rather than sending it twice.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sha2::Digest;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{outbox, BotError, Handler};
use crate::agents::Agent;
use crate::job::{Job, JobId};
use crate::overlap::agents::{self, Twin};
use crate::overlap::report::{self, Entry, Saved};
use crate::overlap::{Vocabulary, MAX_DAYS};
use crate::store::Mark;

const DIGEST_MARK: &str = "overlap/digest";

/// Groups shown on the Home tab (the command and the digest show `report::MAX_CLUSTERS`).
const HOME_CLUSTERS: usize = 3;

impl Handler {
    /// `@threadwork overlaps [days]` in `channel`.
    pub(super) async fn overlaps_command(
        &self,
        channel: &str,
        user: &str,
        thread_ts: &str,
        days: Option<u32>,
    ) -> Result<(), BotError> {
        if !self.is_member(user).await {
            let text = "Only members of this workspace (not guests or people from other organisations) can list work across channels.";
            self.tell(channel, user, Some(thread_ts), text).await;
            return Ok(());
        }
        if self.place_of(channel).await.shared {
            let text =
                "Work across channels is not listed in a channel shared with another organisation.";
            self.jobs.say(channel, thread_ts, text).await;
            return Ok(());
        }
        let asked = days.unwrap_or(self.settings.overlap.days);
        let days = asked.min(MAX_DAYS);
        let mut text = self
            .overlap_report(days, Some(channel), false, report::MAX_CLUSTERS)
            .await?;
        if asked > MAX_DAYS {
            text.push_str(&format!("\n(At most {MAX_DAYS} days are listed.)"));
        }
        self.jobs.say(channel, thread_ts, &text).await;
        Ok(())
    }

    /// The Home tab's section for `viewer`; none for a guest.
    pub(super) async fn overlap_home_section(&self, viewer: &str) -> Option<String> {
        if !self.is_member(viewer).await {
            return None;
        }
        let days = self.settings.overlap.days;
        match self.overlap_report(days, None, false, HOME_CLUSTERS).await {
            Ok(text) => Some(text),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the overlap section of the Home tab");
                None
            }
        }
    }

    /// A full member of the bot's own workspace (one who cannot be looked up is not).
    async fn is_member(&self, user: &str) -> bool {
        self.chat.user(user).await.is_ok_and(|u| {
            !u.guest
                && u.team_id
                    .as_deref()
                    .is_none_or(|t| t == self.identity.team_id)
        })
    }

    /// The groups of similar work of the last `days`, worded for `here`.
    async fn overlap_report(
        &self,
        days: u32,
        here: Option<&str>,
        with_saved: bool,
        max_clusters: usize,
    ) -> Result<String, BotError> {
        let since = self.clock.now() - Duration::days(days.into());
        let overlaps = self.overlaps.clone();
        let place = here.map(str::to_string);
        // One query per request of the window: off the event loop's threads.
        let clusters = tokio::task::spawn_blocking(move || {
            overlaps.clusters(since, |d| {
                !d.private || place.as_deref() == Some(&d.channel)
            })
        })
        .await;
        let clusters = match clusters {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "grouping similar work failed");
                return Ok(
                    ":warning: I could not group similar work just now; please try again later."
                        .into(),
                );
            }
        };
        let jobs: HashMap<JobId, Job> = self.store.jobs()?.into_iter().map(|j| (j.id, j)).collect();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut groups: Vec<Vec<Entry>> = Vec::new();
        for docs in &clusters {
            let mut group = Vec::new();
            for d in docs {
                if !names.contains_key(&d.requester) {
                    let name = match self.chat.user(&d.requester).await {
                        Ok(u) => u.name,
                        Err(_) => "someone".to_string(),
                    };
                    names.insert(d.requester.clone(), name);
                }
                let job = jobs.get(&d.job);
                group.push(Entry {
                    job: d.job,
                    requester: names[&d.requester].clone(),
                    channel: d.channel.clone(),
                    private: d.private,
                    task: job.map_or_else(|| d.text.clone(), |j| j.task.clone()),
                    state: job.map_or("unknown", |j| j.state.label()),
                    pr: job.and_then(|j| j.pr.as_ref()).map(|p| p.url.clone()),
                    cost_usd: job.map_or(0.0, |j| j.usage.cost_usd),
                });
            }
            groups.push(group);
        }
        let saved = if with_saved {
            Some(self.saved_since(since, here)?)
        } else {
            None
        };
        Ok(report::render(&groups, days, here, saved, max_clusters))
    }

    /// Joins recorded since `since`, with what each joined job cost (counted, not costed,
    /// when the joined job is in a private conversation other than `here`).
    fn saved_since(&self, since: DateTime<Utc>, here: Option<&str>) -> Result<Saved, BotError> {
        let mut saved = Saved::default();
        for r in self.store.audit()? {
            if r.action != "overlap_joined" || r.at < since {
                continue;
            }
            saved.joins += 1;
            let private = r
                .job
                .and_then(|j| self.overlaps.doc(j))
                .is_none_or(|d| d.private && here != Some(d.channel.as_str()));
            if private {
                continue;
            }
            saved.cost_usd += r
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|d| d["saved_usd"].as_f64())
                .unwrap_or(0.0);
        }
        Ok(saved)
    }

    /// Sends the digest every `[overlap] digest_days` until `shutdown`. The first one goes a
    /// full period after the first start.
    pub(super) async fn run_digest(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let pass = tokio::select! {
                _ = shutdown.cancelled() => return,
                pass = self.digest_pass() => pass,
            };
            let wake = match pass {
                Ok(Some(wake)) => wake,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "overlap digest: a pass failed; trying again in an hour");
                    self.clock.now() + Duration::hours(1)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.clock.sleep_until(wake) => {}
            }
        }
    }

    /// Sends the digest when it is due; returns when to look again, or `None` when no digest
    /// is configured.
    async fn digest_pass(&self) -> Result<Option<DateTime<Utc>>, BotError> {
        let days = self.settings.overlap.digest_days;
        let Some(channel) = self.settings.admin_channel.clone() else {
            return Ok(None);
        };
        if days == 0 {
            return Ok(None);
        }
        match self.chat.channel(&channel).await {
            Ok(info) if info.shared => {
                tracing::warn!(%channel, "the admin channel is shared with another organisation; no overlap digest is sent there");
                return Ok(None);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(%channel, error = %e, "cannot look up the admin channel; the overlap digest waits an hour");
                return Ok(Some(self.clock.now() + Duration::hours(1)));
            }
        }
        let period = Duration::days(days.into());
        let now = self.clock.now();
        let mark = |at| {
            self.store.put_mark(
                DIGEST_MARK,
                &Mark {
                    at,
                    ..Mark::default()
                },
            )
        };
        let Some(last) = self.store.mark(DIGEST_MARK)? else {
            mark(now)?;
            return Ok(Some(now + period));
        };
        if now < last.at + period {
            return Ok(Some(last.at + period));
        }
        let text = self
            .overlap_report(days, Some(&channel), true, report::MAX_CLUSTERS)
            .await?;
        mark(now)?;
        if let Err(e) = outbox::with_retries(|| self.chat.post_message(&channel, None, &text)).await
        {
            tracing::warn!(error = %e, %channel, "could not post the overlap digest");
        }
        Ok(Some(now + period))
    }

    /// Pairs of agents that look like the same agent, by the prompt files in force.
    pub(super) fn agent_twins(&self) -> Vec<Twin> {
        let registry = self.jobs.registry();
        let texts: Vec<(String, String)> = registry
            .agents
            .values()
            .map(|a| (a.name.clone(), agents::text_of(&a.description, &a.prompt)))
            .collect();
        let overlap = &self.settings.overlap;
        agents::twins(
            &texts,
            Vocabulary::new(&overlap.synonyms),
            overlap.threshold,
        )
    }

    /// After each prompt-file reload, tells the admin channel of pairs of look-alike agents
    /// it has not been told of (in their current wording); the pairs already there at the
    /// first start are recorded without a message.
    pub(super) async fn run_agent_twins(
        self: Arc<Self>,
        mut reloaded: watch::Receiver<()>,
        shutdown: CancellationToken,
    ) {
        let Some(channel) = self.settings.admin_channel.clone() else {
            return;
        };
        // The first start ever records the pairs already there; later starts tell of pairs
        // made while the bot was down.
        let first = match self.store.claim_overlap("agents/baseline") {
            Ok(first) => first,
            Err(e) => {
                tracing::error!(error = %e, "cannot read what look-alike agents were told; telling none until the next reload");
                true
            }
        };
        let tell = (!first).then_some(channel.as_str());
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = self.claim_twins(tell) => {}
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = reloaded.changed() => if changed.is_err() { return },
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.claim_twins(Some(&channel)) => {}
            }
        }
    }

    async fn claim_twins(&self, tell: Option<&str>) {
        if let Some(channel) = tell {
            // Agent names and owners stay inside the organisation; an unknown channel is
            // tried again at the next reload (nothing is claimed).
            match self.chat.channel(channel).await {
                Ok(info) if !info.shared => {}
                Ok(_) => {
                    tracing::warn!(%channel, "the admin channel is shared with another organisation; look-alike agents are not told there");
                    return;
                }
                Err(e) => {
                    tracing::warn!(%channel, error = %e, "cannot look up the admin channel; look-alike agents are told at the next reload");
                    return;
                }
            }
        }
        let registry = self.jobs.registry();
        for twin in self.agent_twins() {
            let (Some(a), Some(b)) = (registry.agents.get(&twin.a), registry.agents.get(&twin.b))
            else {
                continue;
            };
            match self.store.claim_overlap(&twin_key(a, b)) {
                Ok(true) => {
                    let Some(channel) = tell else { continue };
                    let text = twin_notice(a, b, twin.score);
                    if let Err(e) =
                        outbox::with_retries(|| self.chat.post_message(channel, None, &text)).await
                    {
                        tracing::warn!(error = %e, "could not tell the admin channel of look-alike agents");
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, a = %a.name, b = %b.name, "cannot record a pair of look-alike agents")
                }
            }
        }
    }
}

/// A pair in its current wording: an edit that keeps them alike is told again.
fn twin_key(a: &Agent, b: &Agent) -> String {
    let mut hash = sha2::Sha256::new();
    for agent in [a, b] {
        hash.update(agents::text_of(&agent.description, &agent.prompt).as_bytes());
        hash.update([0u8]);
    }
    let digest = hex::encode(hash.finalize());
    format!("agents/{}/{}/{}", a.name, b.name, &digest[..16])
}

fn twin_notice(a: &Agent, b: &Agent, score: f64) -> String {
    let mut owners: Vec<String> = a.owners.iter().chain(&b.owners).cloned().collect();
    owners.sort();
    owners.dedup();
    let owners = crate::text::user_mentions(&owners).unwrap_or_else(|| "no owners".to_string());
    format!(
        ":busts_in_silhouette: Agent `{}` looks like `{}` (similarity {score:.2}; owners {owners}). If they do the same work, keep one: two prompts drift apart and each gets half the corrections.",
        b.name, a.name
    )
}
