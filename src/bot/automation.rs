//! Agents that run on their own: the schedules loop, a trigger's message, and `run … now`.
//! When something is due is decided in `crate::schedules` (pure); this carries it out with
//! the same checks as a mention — the agent's channels and users, its repositories, the
//! sandbox and budget of `jobs` — accounted to the agent's first owner, within the agent's
//! `max_runs_per_hour`.
//!
//! Invariants kept here:
//! - a schedule runs at most once per due instant: the instant is marked (flushed) before
//!   anything is posted, so a crash loses that run rather than doubling it;
//! - a schedule whose last run is still going is skipped, and its thread says so;
//! - a trigger never fires on the bot's own messages (`route`), for an outsider, or for a
//!   person who could not start the agent themselves; one key fires once per debounce window
//!   however many messages match.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::route::Triggered;
use super::{outbox, BotError, Handler};
use crate::agents::Agent;
use crate::job::{JobId, NewJob, Origin, RequestOptions};
use crate::jobs::Workplace;
use crate::schedules::decide::{self, Skipped, Step};
use crate::schedules::{Planned, Schedule};
use crate::store::{AuditRecord, Mark};

fn schedule_key(agent: &str, schedule: &str) -> String {
    format!("schedule/{agent}/{schedule}")
}

fn runs_prefix(agent: &str) -> String {
    format!("runs/{agent}/")
}

/// Where an automated run happens: a new message of its own, or the thread of the message
/// that triggered it.
enum Place {
    NewMessage {
        header: String,
    },
    Thread {
        thread_ts: String,
        request_ts: String,
    },
}

impl Handler {
    /// Runs schedules until `shutdown`: wakes at the next due instant, or when the prompt
    /// files change.
    pub(super) async fn run_schedules(
        self: Arc<Self>,
        mut reloaded: Option<watch::Receiver<()>>,
        shutdown: CancellationToken,
    ) {
        loop {
            let wake = match self.schedule_pass().await {
                Ok(wake) => wake,
                Err(e) => {
                    tracing::error!(error = %e, "schedules: a pass failed; trying again in a minute");
                    Some(self.clock.now() + chrono::Duration::minutes(1))
                }
            };
            let until = wake.unwrap_or_else(|| self.clock.now() + chrono::Duration::days(1));
            let changed = async {
                match reloaded.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.clock.sleep_until(until) => {}
                still = changed => if !still { reloaded = None },
            }
        }
    }

    /// One look at every schedule: runs or skips what is due; returns when to look again.
    /// The time is read once: a slow post for one schedule does not make the next one
    /// "missed".
    async fn schedule_pass(self: &Arc<Self>) -> Result<Option<DateTime<Utc>>, BotError> {
        let registry = self.jobs.registry();
        let now = self.clock.now();
        let mut wake: Option<DateTime<Utc>> = None;
        let mut planned = Vec::new();
        for agent in registry.agents.values() {
            for schedule in &agent.schedules {
                let next = self.schedule_steps(agent, schedule, now).await?;
                planned.push(Planned {
                    agent: agent.name.clone(),
                    schedule: schedule.name.clone(),
                    next,
                });
                if let Some(next) = next {
                    wake = Some(wake.map_or(next, |w| w.min(next)));
                }
            }
        }
        *self.planned.lock().unwrap_or_else(|p| p.into_inner()) = planned;
        Ok(wake)
    }

    /// Runs or skips what of `schedule` is due at `now`; returns its next run.
    async fn schedule_steps(
        self: &Arc<Self>,
        agent: &Agent,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, BotError> {
        let key = schedule_key(&agent.name, &schedule.name);
        let spec = schedule.fingerprint();
        // Each step marks the store and `now` stays put, so this ends within three steps:
        // Begin, one run or skip, then Wait.
        for _ in 0..3 {
            let mark = self.store.mark(&key)?;
            let job = mark.as_ref().and_then(|m| m.job);
            let running = job
                .and_then(|id| self.store.job(id).ok().flatten())
                .filter(|j| !j.state.is_terminal())
                .map(|j| j.id);
            // A changed expression or time zone counts from now, not from the old one's
            // last run (which would look like a run missed while the bot was down).
            let last = mark
                .as_ref()
                .filter(|m| m.spec.as_deref() == Some(spec.as_str()))
                .map(|m| m.at);
            match decide::schedule_step(schedule, last, now, running) {
                Step::Begin => self.store.put_mark(
                    &key,
                    &Mark {
                        at: now,
                        job,
                        spec: Some(spec.clone()),
                    },
                )?,
                Step::Wait(next) => return Ok(next),
                Step::Fire { due, late } => {
                    self.fire_schedule(agent, schedule, due, late).await?;
                }
                Step::Skip { due, why } => {
                    self.store.put_mark(
                        &key,
                        &Mark {
                            at: due,
                            job,
                            spec: Some(spec.clone()),
                        },
                    )?;
                    self.skipped(agent, schedule, due, why).await?;
                }
            }
        }
        tracing::warn!(agent = %agent.name, schedule = %schedule.name, "schedule did not settle in one pass");
        Ok(schedule.next_after(now))
    }

    /// The schedules and their next runs, as the loop last saw them.
    pub(super) fn planned(&self) -> Vec<Planned> {
        self.planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn fire_schedule(
        self: &Arc<Self>,
        agent: &Agent,
        schedule: &Schedule,
        due: DateTime<Utc>,
        late: bool,
    ) -> Result<Option<JobId>, BotError> {
        let key = schedule_key(&agent.name, &schedule.name);
        self.store.put_mark(
            &key,
            &Mark {
                at: due,
                job: None,
                spec: Some(schedule.fingerprint()),
            },
        )?;
        let header = format!(
            ":alarm_clock: Scheduled: `{}` — agent `{}`{}",
            schedule.name,
            agent.name,
            if late {
                " (caught up: it was due while the bot was down)"
            } else {
                ""
            }
        );
        self.run_schedule(agent, schedule, header, due).await
    }

    async fn skipped(
        &self,
        agent: &Agent,
        schedule: &Schedule,
        due: DateTime<Utc>,
        why: Skipped,
    ) -> Result<(), BotError> {
        let detail = match &why {
            Skipped::StillRunning(job) => format!(
                "schedule `{}` due {due}: job {job} still running",
                schedule.name
            ),
            Skipped::Missed => format!(
                "schedule `{}` due {due}: missed while the bot was down (catch_up: skip)",
                schedule.name
            ),
        };
        tracing::info!(agent = %agent.name, %detail, "scheduled run skipped");
        self.jobs.audit(AuditRecord {
            detail: Some(detail),
            job: match why {
                Skipped::StillRunning(job) => Some(job),
                Skipped::Missed => None,
            },
            ..AuditRecord::new("scheduled_run_skipped", &self.identity.user_id, &agent.name)
        })?;
        if let Skipped::StillRunning(id) = why {
            if let Some(job) = self.store.job(id)? {
                let text = format!(
                    ":fast_forward: The run of `{}` due {} was skipped: this one (job {id}) is still going.",
                    schedule.name,
                    due.with_timezone(&schedule.timezone).format("%a %Y-%m-%d %H:%M %Z")
                );
                self.jobs.say(&job.channel, &job.thread_ts, &text).await;
            }
        }
        Ok(())
    }

    /// A message that fired a trigger (`route` decided it may): debounced by its key, then
    /// a job in the message's thread.
    pub(super) async fn on_trigger(self: &Arc<Self>, message: Triggered) -> Result<(), BotError> {
        let Triggered {
            hit,
            channel,
            ts,
            thread_ts,
            sender,
            human,
            text,
        } = message;
        if human {
            if let Some(why) = self.outsider_refusal(&sender).await {
                tracing::info!(%sender, %channel, why, "trigger ignored: the sender may not start jobs");
                return Ok(());
            }
        }
        let registry = self.jobs.registry();
        let Some(agent) = registry.agents.get(&hit.agent) else {
            return Ok(());
        };
        let Some(trigger) = agent.triggers.iter().find(|t| t.name == hit.trigger) else {
            return Ok(());
        };
        // A person fires a trigger only where they could start the agent themselves, and
        // within their own hourly limit: the run is the owner's, the words are theirs.
        if human {
            if let Some(refusal) = super::access_refusal(agent, &sender, &channel) {
                tracing::info!(%sender, agent = %agent.name, why = %refusal, "trigger ignored: the sender may not use the agent");
                return Ok(());
            }
        }
        // Keys come from message text: stored by hash, so their length does not matter.
        let prefix = format!("trigger/{}/{}/", agent.name, trigger.name);
        let key = format!("{prefix}{}", crate::agents::content_hash(&hit.key));
        let now = self.clock.now();
        let last = self.store.mark(&key)?.map(|m| m.at);
        if decide::debounced(last, now, trigger.debounce_secs) {
            tracing::info!(agent = %agent.name, trigger = %trigger.name, key = %hit.key, "trigger debounced");
            return Ok(());
        }
        if human {
            if let Some(wait) = self.over_user_limit(&sender) {
                tracing::info!(%sender, agent = %agent.name, wait_secs = wait.as_secs(), "trigger ignored: the sender is over their hourly limit");
                return Ok(());
            }
        }
        // Keys whose window has passed are forgotten, so the marks do not grow with every
        // distinct key ever seen.
        for (old, mark) in self.store.marks(&prefix)? {
            if !decide::debounced(Some(mark.at), now, trigger.debounce_secs) {
                self.store.drop_mark(&old)?;
            }
        }
        // Marked before the run: the rest of a storm is debounced even if this one is refused.
        self.store.put_mark(
            &key,
            &Mark {
                at: now,
                ..Default::default()
            },
        )?;
        let origin = Origin::Trigger {
            name: trigger.name.clone(),
            by: sender,
        };
        let place = Place::Thread {
            thread_ts,
            request_ts: ts.clone(),
        };
        let id = self
            .start_automated(
                agent,
                &channel,
                place,
                trigger.task_for(&text),
                trigger.options.clone(),
                origin,
            )
            .await?;
        if id.is_some() {
            let chat = self.chat.clone();
            self.jobs.spawn(async move {
                if let Err(e) =
                    outbox::with_retries(|| chat.add_reaction(&channel, &ts, "eyes")).await
                {
                    tracing::warn!(error = %e, "could not add the eyes reaction");
                }
            });
        }
        Ok(())
    }

    /// `run <agent> [<schedule>] now`: an owner or admin runs a schedule at once. It counts
    /// against the agent's hourly runs and does not move the schedule's next run.
    pub(super) async fn run_now(
        self: &Arc<Self>,
        channel: &str,
        user: &str,
        thread_ts: &str,
        agent: &Agent,
        schedule: Option<String>,
    ) -> Result<(), BotError> {
        let owner = agent.owners.iter().any(|o| o == user);
        let admin = self.settings.admins.iter().any(|a| a == user);
        if !owner && !admin {
            let text = format!(
                "Only an owner of `{}` ({}) or an admin can run its schedules. Nothing was started.",
                agent.name,
                if agent.owners.is_empty() { "none".to_string() } else { agent.owners.iter().map(|o| format!("<@{o}>")).collect::<Vec<_>>().join(", ") }
            );
            self.tell(channel, user, Some(thread_ts), &text).await;
            return Ok(());
        }
        let names = || {
            agent
                .schedules
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found = match &schedule {
            Some(name) => agent.schedules.iter().find(|s| &s.name == name),
            None if agent.schedules.len() == 1 => agent.schedules.first(),
            None => None,
        };
        let Some(schedule) = found else {
            let text = match (&schedule, agent.schedules.len()) {
                (_, 0) => format!("`{}` has no schedules.", agent.name),
                (Some(name), _) => format!(
                    "`{}` has no schedule `{}`; its schedules: {}.",
                    agent.name,
                    crate::chat::mrkdwn::escape(name),
                    names()
                ),
                (None, _) => format!(
                    "`{}` has several schedules; name one: `@{} run {} <schedule> now` ({}).",
                    agent.name,
                    self.identity.name,
                    agent.name,
                    names()
                ),
            };
            self.jobs.say(channel, thread_ts, &text).await;
            return Ok(());
        };
        if let Some(job) = self.schedule_running(&agent.name, &schedule.name)? {
            let text = format!(
                "`{}`'s last run (job {job}) is still going; nothing was started.",
                schedule.name
            );
            self.jobs.say(channel, thread_ts, &text).await;
            return Ok(());
        }
        let header = format!(
            ":arrow_forward: Scheduled: `{}` — agent `{}`, run now by <@{user}>",
            schedule.name, agent.name
        );
        let started = self
            .run_schedule(agent, schedule, header, self.clock.now())
            .await?;
        if let Some(id) = started {
            self.jobs.audit(AuditRecord {
                job: Some(id),
                detail: Some(format!("schedule `{}` run now", schedule.name)),
                ..AuditRecord::new("schedule_run_now", user, &agent.name)
            })?;
            let text = format!(
                "Started job {id} for `{}` in <#{}>.",
                schedule.name, schedule.channel
            );
            self.jobs.say(channel, thread_ts, &text).await;
        } else {
            let text = format!(
                "`{}` was not started; <#{}> says why.",
                schedule.name, schedule.channel
            );
            self.jobs.say(channel, thread_ts, &text).await;
        }
        Ok(())
    }

    /// A schedule's run for the instant `due`, in a new message of its own.
    async fn run_schedule(
        self: &Arc<Self>,
        agent: &Agent,
        schedule: &Schedule,
        header: String,
        due: DateTime<Utc>,
    ) -> Result<Option<JobId>, BotError> {
        let origin = Origin::Schedule {
            name: schedule.name.clone(),
            due,
        };
        let started = self
            .start_automated(
                agent,
                &schedule.channel,
                Place::NewMessage { header },
                schedule.task.clone(),
                schedule.options.clone(),
                origin,
            )
            .await?;
        if let Some(id) = started {
            // The schedule's next due run is skipped while this one is going.
            let key = schedule_key(&agent.name, &schedule.name);
            let mut mark = self.store.mark(&key)?.unwrap_or(Mark {
                at: self.clock.now(),
                ..Default::default()
            });
            mark.job = Some(id);
            self.store.put_mark(&key, &mark)?;
        }
        Ok(started)
    }

    /// The job of `schedule`'s last run, when it is still going.
    fn schedule_running(&self, agent: &str, schedule: &str) -> Result<Option<JobId>, BotError> {
        Ok(self
            .store
            .mark(&schedule_key(agent, schedule))?
            .and_then(|m| m.job)
            .and_then(|id| self.store.job(id).ok().flatten())
            .filter(|j| !j.state.is_terminal())
            .map(|j| j.id))
    }

    /// Starts a run nobody mentioned the bot for, with a mention's checks, accounted to the
    /// agent's first owner; `None` when it may not run (said where the run would have been).
    async fn start_automated(
        self: &Arc<Self>,
        agent: &Agent,
        channel: &str,
        place: Place,
        task: String,
        options: RequestOptions,
        origin: Origin,
    ) -> Result<Option<JobId>, BotError> {
        let Some(requester) = agent.owners.first().cloned() else {
            // `parse_agent` refuses schedules and triggers without owners.
            tracing::error!(agent = %agent.name, "an automated run without owners; not started");
            return Ok(None);
        };
        let now = self.clock.now();
        let mut options = options;
        options.agent = Some(agent.name.clone());
        let registry = self.jobs.registry();
        let resolved = super::resolve_agent(
            &options,
            channel,
            &requester,
            &registry.agents,
            &self.jobs.harness_names(),
            &self.settings.default_agent,
        )
        .and_then(|(a, harness, model)| {
            let (repo, branch) = super::intake::job_repo(a, &options, None, self.jobs.forges())?;
            Ok((harness, model, repo, branch))
        });
        let (harness, model, repo, branch) = match resolved {
            Ok(r) => r,
            Err(refusal) => {
                self.refuse_automated(agent, channel, &place, &origin, refusal.no_job())
                    .await;
                return Ok(None);
            }
        };
        if let Some((used, budget)) = self.jobs.over_disk_budget() {
            let text = format!(
                ":warning: The job workspaces take {used} MB, past their budget of {budget} MB (`[jobs] disk_budget_mb`), so this run was not started."
            );
            self.refuse_automated(agent, channel, &place, &origin, text)
                .await;
            return Ok(None);
        }
        let slot = match self.reserve_run(agent, now)? {
            Ok(slot) => slot,
            Err(text) => {
                self.refuse_automated(agent, channel, &place, &origin, text)
                    .await;
                return Ok(None);
            }
        };
        let (thread_ts, request_ts) = match place {
            Place::Thread {
                thread_ts,
                request_ts,
            } => (thread_ts, request_ts),
            Place::NewMessage { header } => {
                let text = format!(
                    "{header}\n>{}",
                    crate::chat::mrkdwn::escape(&crate::text::first_line(&task, 200))
                );
                match outbox::with_retries(|| self.chat.post_message(channel, None, &text)).await {
                    Ok(ts) => (ts.clone(), ts),
                    Err(e) => {
                        tracing::error!(agent = %agent.name, %channel, error = %e, "could not post a scheduled run's message; not started");
                        self.store.drop_mark(&slot)?;
                        return Ok(None);
                    }
                }
            }
        };
        let id = self.jobs.accept(
            NewJob {
                channel: channel.to_string(),
                thread_ts,
                request_ts,
                requester: requester.clone(),
                task,
                options,
                agent: agent.name.clone(),
                harness,
                model,
                parent: None,
                rerun_of: None,
                origin: Some(origin.clone()),
            },
            Workplace {
                repo,
                branch,
                pr: None,
                head: None,
            },
        )?;
        self.store.put_mark(
            &slot,
            &Mark {
                at: now,
                job: Some(id),
                spec: None,
            },
        )?;
        let action = match origin {
            Origin::Schedule { .. } => "scheduled_run",
            Origin::Trigger { .. } => "triggered_run",
        };
        self.jobs.audit(AuditRecord {
            job: Some(id),
            detail: Some(origin.to_string()),
            ..AuditRecord::new(action, &requester, &agent.name)
        })?;
        tracing::info!(job = id, agent = %agent.name, %origin, "automated run accepted");
        Ok(Some(id))
    }

    /// Takes one of the agent's runs for the hour at `now` (a mark under `runs/<agent>/`,
    /// returned), or says why not. Checked and taken at once: the schedules loop, triggers and
    /// `run … now` cannot all take the last one.
    fn reserve_run(
        &self,
        agent: &Agent,
        now: DateTime<Utc>,
    ) -> Result<Result<String, String>, BotError> {
        let _one = self.reserving.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = runs_prefix(&agent.name);
        let mut runs = Vec::new();
        for (key, mark) in self.store.marks(&prefix)? {
            if now - mark.at >= chrono::Duration::hours(1) {
                self.store.drop_mark(&key)?;
            } else {
                runs.push(mark.at);
            }
        }
        if let Some(until) = decide::hourly_limit(&runs, now, agent.max_runs_per_hour) {
            return Ok(Err(format!(
                ":hourglass: `{}` has started {} runs on its own in the last hour, the most its `max_runs_per_hour` allows; the next may start after {}. No job was started.",
                agent.name,
                runs.len(),
                until.format("%H:%M UTC")
            )));
        }
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = format!("{prefix}{:020}-{seq}", now.timestamp_micros());
        self.store.put_mark(
            &key,
            &Mark {
                at: now,
                ..Default::default()
            },
        )?;
        Ok(Ok(key))
    }

    /// Says why an automated run did not start: in the triggering message's thread, or as a
    /// message of the schedule's own in its channel; logged and audited either way.
    async fn refuse_automated(
        self: &Arc<Self>,
        agent: &Agent,
        channel: &str,
        place: &Place,
        origin: &Origin,
        text: String,
    ) {
        tracing::warn!(agent = %agent.name, %origin, why = %text, "automated run not started");
        if let Err(e) = self.jobs.audit(AuditRecord {
            detail: Some(format!("{origin}: {text}")),
            ..AuditRecord::new("automated_run_refused", &self.identity.user_id, &agent.name)
        }) {
            tracing::error!(error = %e, "could not audit a refused run");
        }
        match place {
            // Not waited for: a trigger is decided on the event loop.
            Place::Thread { thread_ts, .. } => {
                self.say_in_background(channel.to_string(), thread_ts.clone(), text)
            }
            Place::NewMessage { header } => {
                let text = format!("{header}\n{text}");
                if let Err(e) =
                    outbox::with_retries(|| self.chat.post_message(channel, None, &text)).await
                {
                    tracing::warn!(error = %e, "could not say why a scheduled run did not start");
                }
            }
        }
    }
}
