//! A job's ending: its state recorded, its terminal message posted exactly once (also across
//! a crash), its card closed and its audit record written.

use super::card::{self, CardView};
use super::*;
use crate::chat::mrkdwn;
use crate::split::{split_message, SLACK_MESSAGE_LIMIT};
use crate::store::{JobChain, MessageLink};

impl Jobs {
    /// Records the outcome, posts the terminal message and closes the card.
    pub(super) async fn finish(&self, id: JobId, outcome: Ending) -> Result<(), JobError> {
        let job = self
            .update_job(id, |j| {
                if j.state.can_move_to(outcome.state) {
                    let _ = j.transition(outcome.state, Utc::now());
                }
                j.answer = outcome.answer;
                j.failure = outcome.failure;
                // The run's proxy token is dead now: not kept where a copy could show it.
                j.grant_token = None;
            })
            .await?;
        tracing::info!(job = id, agent = %job.agent, state = job.state.label(), "job finished");
        self.count_state(&job, job.state);
        if let Some(overlaps) = &self.overlaps {
            overlaps.job_ended(&job);
        }
        self.audit_finished(&job).await;
        self.post_terminal(job).await
    }

    /// Posts what is left of the job's terminal message and the card's final state. Safe to
    /// call again after a crash: parts already posted are not posted twice.
    pub(super) async fn post_terminal(&self, job: Job) -> Result<(), JobError> {
        let parts = terminal_parts(&job);
        for (i, part) in parts.iter().enumerate().skip(job.posted_parts) {
            let tag = terminal_tag(job.id, i);
            // A run that died after Slack took this part but before `posted_parts` recorded
            // it left `posting_part`: the thread says whether the part is there.
            let posted = if job.posting_part == Some(i) {
                match self.find_tagged(&job.channel, &job.thread_ts, &tag).await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the thread to resume its ending; left for the next start");
                        return Ok(());
                    }
                }
            } else {
                None
            };
            let _pending = self.links.begin();
            let posted = match posted {
                Some(ts) => Some(ts),
                None => {
                    self.update_job(job.id, |j| j.posting_part = Some(i))
                        .await?;
                    self.say_tagged(&job.channel, &job.thread_ts, part, &tag)
                        .await
                }
            };
            match posted {
                Some(ts) => {
                    let link = if job.state == JobState::Succeeded {
                        MessageLink::Result { job: job.id }
                    } else {
                        MessageLink::Notice { job: job.id }
                    };
                    self.store.link_message(&job.channel, &ts, &link)?;
                    self.update_job(job.id, |j| {
                        j.posted_parts = i + 1;
                        j.posting_part = None;
                        if i == 0 && j.state == JobState::Succeeded {
                            j.result_ts = Some(ts.clone());
                        }
                    })
                    .await?;
                }
                // Left for the next start to retry.
                None => return Ok(()),
            }
        }
        let job = self
            .update_job(job.id, |j| j.terminal_posted = true)
            .await?;
        let card = self.cards.lock().expect("cards lock").remove(&job.id);
        if let Some(card) = card {
            card.update(|v| {
                v.state = job.state;
                v.elapsed_secs = job.elapsed_secs(Utc::now());
                v.usage = job.usage;
                v.failure = job.failure.clone();
                v.queue_position = None;
            });
            if let Ok(card) = Arc::try_unwrap(card) {
                card.finish().await;
            }
        } else if let Some(ts) = &job.card_ts {
            // After a restart there is no live updater: edit the card once.
            let mut view = CardView::for_job(&job);
            view.elapsed_secs = job.elapsed_secs(Utc::now());
            let text = card::render(&view);
            if let Err(e) =
                outbox::with_retries(|| self.chat.update_message(&job.channel, ts, &text)).await
            {
                tracing::warn!(job = job.id, agent = %job.agent, error = %e, "could not close the card");
            }
        }
        Ok(())
    }

    /// The `job_finished` audit record: the whole chain of a job, written once.
    pub(super) async fn audit_finished(&self, job: &Job) {
        let permalink = self.thread_permalink(job).await;
        let record = AuditRecord {
            job: Some(job.id),
            prompt_version: job.prompt_version.clone(),
            chain: Some(Box::new(job_chain(job, permalink))),
            ..AuditRecord::new("job_finished", &job.requester, &job.agent)
        };
        if let Err(e) = self.store.append_audit(&record) {
            tracing::error!(job = job.id, agent = %job.agent, error = %e, "cannot write the job's audit record");
        }
    }

    /// The job's thread permalink: asked of Slack once, then kept on the job.
    pub(super) async fn thread_permalink(&self, job: &Job) -> Option<String> {
        if let Some(p) = self
            .store
            .job(job.id)
            .ok()
            .flatten()
            .and_then(|j| j.permalink)
        {
            return Some(p);
        }
        let link = self
            .chat
            .permalink(&job.channel, &job.thread_ts)
            .await
            .ok()?;
        let keep = link.clone();
        self.record(job.id, "the thread's permalink", |j| {
            j.permalink = Some(keep)
        })
        .await;
        Some(link)
    }
}

/// A finished job's audit chain (pure).
pub fn job_chain(job: &Job, permalink: Option<String>) -> JobChain {
    JobChain {
        requester: job.requester.clone(),
        channel: job.channel.clone(),
        thread_ts: job.thread_ts.clone(),
        permalink,
        harness: job.harness.clone(),
        model: job.model.clone(),
        task: job.task.clone(),
        amendments: job.amendments.clone(),
        sandbox: job.sandbox.clone(),
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
        outcome: job.state.label().replace(' ', "_"),
        failure: job.failure.clone(),
        input_tokens: job.usage.input_tokens,
        output_tokens: job.usage.output_tokens,
        cost_usd: job.usage.cost_usd,
        pr: job.pr.as_ref().map(|p| p.url.clone()),
        head: job.head.clone(),
        parent: job.parent,
        context_passages: job.context_passages.clone(),
        origin: job.origin.clone(),
    }
}

/// Most characters of an answer posted to the thread (about ten messages).
pub const MAX_ANSWER_CHARS: usize = 38_000;

/// Cuts an answer too long for a thread, with a notice saying how much was left out.
/// The answer is the harness's words: escaped (`mrkdwn::escape`).
fn cap_answer(answer: &str) -> String {
    let total = answer.chars().count();
    if total <= MAX_ANSWER_CHARS {
        return mrkdwn::escape(answer);
    }
    let kept: String = answer.chars().take(MAX_ANSWER_CHARS).collect();
    // End on a line boundary when one is near, so the cut does not land mid-sentence.
    let kept = match kept.rfind('\n') {
        Some(i) if i > MAX_ANSWER_CHARS / 2 => kept[..i].to_string(),
        _ => kept,
    };
    format!(
        "{}\n\n:scissors: _The answer was {total} characters; the first {} are shown._",
        mrkdwn::escape(&kept),
        kept.chars().count()
    )
}

/// The tag on part `part` of job `id`'s terminal message.
fn terminal_tag(id: JobId, part: usize) -> MessageTag {
    MessageTag {
        kind: "threadwork_job_ending".into(),
        fields: [
            ("job".to_string(), id.to_string()),
            ("part".to_string(), part.to_string()),
        ]
        .into(),
    }
}

/// The messages that end a job in its thread.
pub fn terminal_parts(job: &Job) -> Vec<String> {
    match job.state {
        JobState::Succeeded => {
            let answer = cap_answer(job.answer.as_deref().unwrap_or_default().trim());
            let answer = answer.as_str();
            let answer = if answer.is_empty() {
                format!("Job {} finished without an answer.", job.id)
            } else {
                answer.to_string()
            };
            let answer = match &job.rerun_of {
                Some((old, old_version)) => format!(
                    ":repeat: Re-run of job {old} with prompt `{}` (job {old} ran with `{}`):\n\n{answer}",
                    job.prompt_version.as_deref().unwrap_or("?"),
                    old_version.as_deref().unwrap_or("?")
                ),
                None => answer,
            };
            let answer = match &job.delivery {
                Some(d) => format!("{answer}\n\n{d}"),
                None => answer,
            };
            split_message(&answer, SLACK_MESSAGE_LIMIT)
        }
        JobState::Failed => split_message(
            &format!(
                ":x: Job {} failed: {}",
                job.id,
                job.failure.as_deref().unwrap_or("no reason given")
            ),
            SLACK_MESSAGE_LIMIT,
        ),
        JobState::TimedOut => vec![format!(
            ":alarm_clock: Job {} timed out: {}.",
            job.id,
            job.failure
                .as_deref()
                .unwrap_or("it ran past its time limit")
        )],
        JobState::OverBudget => split_message(
            &format!(
                ":money_with_wings: Job {} stopped at its budget: {}.{}",
                job.id,
                job.failure
                    .as_deref()
                    .unwrap_or("its model calls reached its budget"),
                job.answer
                    .as_deref()
                    .map(|a| format!(" What it had done so far:\n\n{}", cap_answer(a.trim())))
                    .unwrap_or_default()
            ),
            SLACK_MESSAGE_LIMIT,
        ),
        JobState::Cancelled => vec![format!(
            ":no_entry_sign: Job {} was cancelled{}.",
            job.id,
            job.failure
                .as_deref()
                .map(|f| format!(": {f}"))
                .unwrap_or_default()
        )],
        JobState::Queued | JobState::Running => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::sample_job;

    #[test]
    fn long_answers_are_capped_with_a_notice() {
        let mut job = sample_job(2);
        job.state = JobState::Succeeded;
        job.answer = Some("line of output\n".repeat(10_000));
        let parts = terminal_parts(&job);
        let total: usize = parts.iter().map(|p| p.chars().count()).sum();
        assert!(total <= MAX_ANSWER_CHARS + 500, "{total}");
        assert!(
            parts
                .last()
                .unwrap()
                .contains("The answer was 149999 characters; the first"),
            "{:?}",
            parts.last()
        );
        assert!(parts.len() <= 11);
    }

    #[test]
    fn terminal_messages() {
        let mut job = sample_job(3);
        job.state = JobState::Succeeded;
        job.answer = Some("All good.".into());
        assert_eq!(terminal_parts(&job), vec!["All good."]);
        job.state = JobState::Failed;
        job.failure = Some("boom".into());
        assert_eq!(terminal_parts(&job), vec![":x: Job 3 failed: boom"]);
    }
}
