//! A job from the queue to its run: submission, the card, the worker pool, and stopping.

use super::card::CardView;
use super::*;
use crate::chat::mrkdwn;
use crate::store::MessageLink;

/// Removes a job's stop switch when its run ends, however it ends.
pub(super) struct StopGuard<'a> {
    jobs: &'a Jobs,
    job: JobId,
}

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.jobs
            .stops
            .lock()
            .expect("stops lock")
            .remove(&self.job);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopResult {
    Stopping,
    Unqueued,
    NotRunning(JobState),
}

impl Jobs {
    /// Persists a new job and queues it; its card goes up in the background, then it may start.
    pub(super) fn submit(self: &Arc<Self>, job: Job) -> Result<(), JobError> {
        self.store.put_job(&job)?;
        self.count_state(&job, JobState::Queued);
        self.queue
            .lock()
            .expect("queue lock")
            .push(job.id, &job.channel, &job.thread_ts);
        tracing::info!(job = job.id, agent = %job.agent, harness = %job.harness, channel = %job.channel, "job accepted");
        let jobs = self.clone();
        let span = tracing::info_span!("job", job = job.id, agent = %job.agent);
        self.tasks.spawn(
            async move {
                jobs.open_card(&job).await;
                jobs.mark_ready(job.id);
            }
            .instrument(span),
        );
        Ok(())
    }

    /// Posts the job's card (or re-attaches to it after a restart) and registers its updater.
    pub(super) async fn open_card(self: &Arc<Self>, job: &Job) {
        let view = CardView::for_job(job);
        let card_ts = match &job.card_ts {
            Some(ts) => Some(ts.clone()),
            None => {
                let _pending = self.links.begin();
                let ts = self
                    .say(&job.channel, &job.thread_ts, &card::render(&view))
                    .await;
                if let Some(ts) = &ts {
                    let ts2 = ts.clone();
                    let linked = self.store.link_message(
                        &job.channel,
                        ts,
                        &MessageLink::Card { job: job.id },
                    );
                    let saved = self.update_job(job.id, |j| j.card_ts = Some(ts2)).await;
                    if let Err(e) = linked.map_err(JobError::from).and(saved.map(|_| ())) {
                        tracing::error!(job = job.id, agent = %job.agent, error = %e, "could not record the card");
                    }
                }
                ts
            }
        };
        if let Some(ts) = card_ts {
            let updater = CardUpdater::spawn(
                self.chat.clone(),
                job.channel.clone(),
                ts,
                view,
                self.settings.card_interval,
            );
            self.cards
                .lock()
                .expect("cards lock")
                .insert(job.id, Arc::new(updater));
        }
    }

    pub(super) fn card(&self, id: JobId) -> Option<Arc<CardUpdater>> {
        self.cards.lock().expect("cards lock").get(&id).cloned()
    }

    /// The job's card is up (or could not be posted): it may start.
    pub(super) fn mark_ready(self: &Arc<Self>, id: JobId) {
        self.queue.lock().expect("queue lock").mark_ready(id);
        self.pump();
    }

    /// Starts every job the queue allows and refreshes queued cards' positions.
    pub(super) fn pump(self: &Arc<Self>) {
        if self.holding.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let (start, positions) = {
            let mut q = self.queue.lock().expect("queue lock");
            (q.take_runnable(), q.positions())
        };
        // However the last job left (it ended, it was stopped while queued, a re-attached
        // run ended), whoever waits for an idle bot hears of it.
        if self.is_idle() {
            self.idle.notify_waiters();
        }
        self.metrics.queue_depth.set(positions.len() as i64);
        for (id, position) in positions {
            if let Some(card) = self.card(id) {
                card.update(|v| v.queue_position = Some(position));
            }
        }
        for id in start {
            let jobs = self.clone();
            // Every line logged while the job runs carries its id and agent.
            let agent = self
                .store
                .job(id)
                .ok()
                .flatten()
                .map(|j| j.agent)
                .unwrap_or_default();
            let span = tracing::info_span!("job", job = id, agent = %agent);
            self.tasks.spawn(
                async move {
                    if let Err(e) = jobs.clone().run_job(id).await {
                        tracing::error!(error = %e, "job run failed");
                        jobs.tell_failure(id, &e).await;
                    }
                    jobs.queue.lock().expect("queue lock").finish(id);
                    jobs.pump();
                }
                .instrument(span),
            );
        }
    }

    /// Tells a job's thread that it could not go on because the store failed (a full or
    /// failing disk), and counts it: otherwise its card would wait as it is for ever.
    pub(super) async fn tell_failure(&self, id: JobId, error: &JobError) {
        let JobError::Store(e) = error else {
            return;
        };
        self.metrics.store_failures.inc();
        // Reading still works when writing does not.
        let Ok(Some(job)) = self.store.job(id) else {
            return;
        };
        let text = format!(
            ":warning: Job {id} could not go on: the bot's storage is failing ({}). Ask again once it is fixed; the bot's operators see the error in its log and metrics.",
            mrkdwn::escape(&crate::text::clip(&e.to_string(), 200))
        );
        self.say(&job.channel, &job.thread_ts, &text).await;
    }

    /// Registers job `id`'s stop switch; it is removed when the guard drops.
    pub(super) fn stop_switch(&self, id: JobId) -> (CancellationToken, StopGuard<'_>) {
        let stop = CancellationToken::new();
        self.stops
            .lock()
            .expect("stops lock")
            .insert(id, (stop.clone(), None));
        (
            stop,
            StopGuard {
                jobs: self,
                job: id,
            },
        )
    }

    /// Stops job `id` for `user`: a running job's harness is killed, a queued one leaves the
    /// queue. Permission is checked by the caller.
    pub async fn stop(self: &Arc<Self>, id: JobId, user: &str) -> Result<StopResult, JobError> {
        if let Some((token, by)) = self.stops.lock().expect("stops lock").get_mut(&id) {
            by.get_or_insert_with(|| user.to_string());
            let agent = self.store.job(id).ok().flatten().map(|j| j.agent);
            tracing::info!(
                job = id,
                agent = agent.as_deref().unwrap_or("?"),
                by = user,
                "job stopped"
            );
            // The record comes before the cancel: the job's own ending, which the cancel
            // sets off, then always follows it in the audit chain.
            self.audit_cancel(id, user);
            token.cancel();
            return Ok(StopResult::Stopping);
        }
        let unqueued = self.queue.lock().expect("queue lock").remove_waiting(id);
        if unqueued {
            let agent = self.store.job(id).ok().flatten().map(|j| j.agent);
            tracing::info!(
                job = id,
                agent = agent.as_deref().unwrap_or("?"),
                by = user,
                "queued job cancelled"
            );
            self.audit_cancel(id, user);
            self.finish(
                id,
                Ending {
                    state: JobState::Cancelled,
                    answer: None,
                    failure: Some(format!("stopped by <@{user}> before it started")),
                },
            )
            .await?;
            self.pump();
            return Ok(StopResult::Unqueued);
        }
        let state = self
            .store
            .job(id)?
            .map(|j| j.state)
            .unwrap_or(JobState::Failed);
        Ok(StopResult::NotRunning(state))
    }

    pub(super) fn audit_cancel(&self, id: JobId, user: &str) {
        let Ok(Some(job)) = self.store.job(id) else {
            return;
        };
        let record = AuditRecord {
            job: Some(id),
            prompt_version: job.prompt_version.clone(),
            ..AuditRecord::new("job_cancelled", user, &job.agent)
        };
        if let Err(e) = self.store.append_audit(&record) {
            tracing::error!(job = id, agent = %job.agent, error = %e, "cannot write the cancel audit record");
        }
    }
}
