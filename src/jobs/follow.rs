//! Following a run's events: progress to the card, the transcript, the wall-clock, idle,
//! disk and stop switches, and confirming that a stopped run has ended.

use std::time::Instant;

use tokio::sync::mpsc;

use super::progress::{
    apply_progress, over_disk, progress_line, DiskLimit, Reported, TranscriptCount, TRANSCRIPT_TEXT,
};
use super::*;
use crate::chat::mrkdwn;
use crate::harness::{probe, HarnessEvent};
use crate::model::proxy::GrantHandle;
use crate::store::TranscriptEntry;
use crate::text::clip;

impl Jobs {
    /// The heartbeat's write: the run's usage (the proxy's count when it saw requests, else
    /// what the harness reported) and transcript counts, one write; the card's usage too.
    /// A failed write is logged and tried again at the next heartbeat.
    async fn record_progress(
        &self,
        id: JobId,
        reported: &mut Reported,
        grant: Option<&GrantHandle>,
        card: Option<&CardUpdater>,
    ) {
        let usage = reported.usage_now(grant);
        let now = (usage, reported.transcript.kept, reported.transcript.dropped);
        // A quiet run costs no write per heartbeat.
        if reported.written == Some(now) {
            return;
        }
        let written = self
            .update_job(id, |j| {
                j.usage = usage;
                j.transcript_events = reported.transcript.kept;
                j.transcript_dropped = reported.transcript.dropped;
            })
            .await;
        match written {
            Ok(_) => {
                reported.written = Some(now);
                if let Some(c) = card {
                    c.update(|v| v.usage = usage);
                }
            }
            Err(e) => {
                tracing::warn!(job = id, error = %e, "cannot record the run's progress; the next heartbeat tries again")
            }
        }
    }

    /// Follows a started (or re-attached) harness until its run ends, then records what it
    /// reported (usage, transcript counts) on the job, however it ended.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn follow(
        &self,
        job: &Job,
        events: mpsc::Receiver<HarnessEvent>,
        cancel: &CancellationToken,
        stop: &CancellationToken,
        card: Option<&CardUpdater>,
        time_limit: Duration,
        disk: Option<DiskLimit>,
        grant: Option<&GrantHandle>,
    ) -> Ending {
        let mut reported = Reported {
            // A re-attached run's earlier count stays (the stored job has it).
            before: job.usage,
            ..Reported::default()
        };
        let mut tool_calls = grant.and_then(GrantHandle::take_tool_calls);
        let mut events = events;
        let outcome = self
            .follow_events(
                job,
                &mut events,
                cancel,
                stop,
                card,
                time_limit,
                disk,
                grant,
                &mut reported,
                tool_calls.as_mut(),
            )
            .await;
        // A run that was stopped (❌, the idle or time limit) is reported so only once the
        // harness has ended it: the queue slot and the card wait for the kill.
        let outcome = if outcome.is_left() {
            // Let go of, still going: nothing to wait for.
            outcome
        } else if cancel.is_cancelled() {
            confirm_ended(outcome, &mut events).await
        } else {
            // A run that ended by itself is removed by its harness right after its last
            // event: wait for that too, so nothing of it is left when the workspace is
            // looked at (`strip_special_bits`, in `run`).
            let _ = tokio::time::timeout(STOP_CONFIRMATION, async {
                while events.recv().await.is_some() {}
            })
            .await;
            outcome
        };
        // Calls that arrived with the last events.
        while let Some(call) = tool_calls.as_mut().and_then(|rx| rx.try_recv().ok()) {
            self.record_tool_call(job, call, &mut reported.transcript);
        }
        self.record_progress(job.id, &mut reported, grant, card)
            .await;
        outcome
    }

    /// The events of a run: progress to the card, the wall-clock, idle and stop switches.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn follow_events(
        &self,
        job: &Job,
        events: &mut mpsc::Receiver<HarnessEvent>,
        cancel: &CancellationToken,
        stop: &CancellationToken,
        card: Option<&CardUpdater>,
        time_limit: Duration,
        disk: Option<DiskLimit>,
        grant: Option<&GrantHandle>,
        reported: &mut Reported,
        mut tool_calls: Option<&mut mpsc::UnboundedReceiver<crate::mcp::ToolCall>>,
    ) -> Ending {
        let fail = Ending::failed;
        // The job's model calls reached its budget: it ends so, with what it had done.
        let spent = |answer: Option<String>, recent: &std::collections::VecDeque<String>| {
            grant
                .filter(|g| g.over_budget())
                .map(|g| spent_ending(job, g, answer, recent))
        };
        let refused = |recent: &std::collections::VecDeque<String>| {
            grant
                .filter(|g| g.refused_for_budget())
                .map(|g| spent_ending(job, g, None, recent))
        };
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + time_limit;
        let mut heartbeat = tokio::time::interval(Duration::from_secs(5));
        let idle = self.settings.idle_timeout;
        let mut idle_deadline = tokio::time::Instant::now() + idle;
        // The last progress lines, quoted when the run ends badly.
        let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        let mut beats = 0u32;
        loop {
            // A graceful stop lets go of a run still going. Events already on their way are
            // taken first: a run whose final event is among them ended before the runtime was
            // told to leave runs (its container may be gone), so it is finished here.
            let event = if self.leave.is_cancelled() {
                match events.try_recv() {
                    Ok(e) => Some(e),
                    Err(mpsc::error::TryRecvError::Empty) => return Ending::left(),
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            } else {
                tokio::select! {
                e = events.recv() => e,
                _ = self.leave.cancelled() => continue,
                Some(call) = async {
                    match tool_calls.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.record_tool_call(job, call, &mut reported.transcript);
                    idle_deadline = tokio::time::Instant::now() + idle;
                    continue;
                }
                _ = tokio::time::sleep_until(idle_deadline) => {
                    cancel.cancel();
                    let mut message = format!(
                        "the `{}` harness reported nothing for {} (the idle limit) and was stopped",
                        job.harness,
                        card::duration(idle.as_secs() as i64)
                    );
                    if !recent.is_empty() {
                        message.push_str(&format!("; its last steps:\n```\n{}\n```", Vec::from(recent).join("\n")));
                    }
                    return fail(message);
                }
                _ = stop.cancelled() => {
                    cancel.cancel();
                    let by = self.stops.lock().expect("stops lock").get(&job.id).and_then(|(_, by)| by.clone());
                    return Ending {
                        state: JobState::Cancelled,
                        answer: None,
                        failure: Some(match by {
                            Some(u) => format!("stopped by <@{u}>"),
                            None => "stopped".to_string(),
                        }),
                    };
                }
                _ = heartbeat.tick() => {
                    if let Some(ending) = refused(&recent) {
                        cancel.cancel();
                        return ending;
                    }
                    if let Some(c) = card { c.update(|v| v.elapsed_secs = started.elapsed().as_secs() as i64); }
                    self.record_progress(job.id, reported, grant, card).await;
                    beats += 1;
                    // Checked every other heartbeat: a walk of the tree, stopped at the limit.
                    if let (Some(limit), true) = (&disk, beats.is_multiple_of(2)) {
                        if let Some(why) = over_disk(&limit.dir, limit.mb).await {
                            cancel.cancel();
                            return fail(format!("the job's workspace {why} and the job was stopped"));
                        }
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    cancel.cancel();
                    return Ending {
                        state: JobState::TimedOut,
                        answer: None,
                        failure: Some(format!("the job ran longer than its limit of {}", card::duration(time_limit.as_secs() as i64))),
                    };
                }
                }
            };
            let Some(event) = event else {
                return fail(format!(
                    "the `{}` harness stopped without a final answer",
                    job.harness
                ));
            };
            let event = self.observe_event(job, event, &mut reported.transcript);
            let elapsed = started.elapsed().as_secs() as i64;
            idle_deadline = tokio::time::Instant::now() + idle;
            if let Some(line) = progress_line(&event) {
                if recent.len() == 5 {
                    recent.pop_front();
                }
                recent.push_back(line);
            }
            let edits_card = card.is_some()
                && !matches!(
                    event,
                    HarnessEvent::Finished { .. }
                        | HarnessEvent::Error { .. }
                        | HarnessEvent::Started { .. }
                );
            if !edits_card {
                probe::handled(job.id, false);
            }
            match event {
                HarnessEvent::Finished { answer } => {
                    if let Some(ending) = spent(Some(answer.clone()), &recent) {
                        return ending;
                    }
                    return Ending {
                        state: JobState::Succeeded,
                        answer: Some(answer),
                        failure: None,
                    };
                }
                HarnessEvent::Error { message } => {
                    return spent(None, &recent).unwrap_or_else(|| fail(message));
                }
                HarnessEvent::Started { session_id } => {
                    // Written at once: a follow-up resumes this session, also after a crash.
                    if let Some(sid) = session_id {
                        if let Err(e) = self.update_job(job.id, |j| j.session_id = Some(sid)).await
                        {
                            tracing::error!(job = job.id, agent = %job.agent, error = %e, "cannot record the run's session; a follow-up will start a new one");
                        }
                    }
                }
                HarnessEvent::Usage {
                    input_tokens,
                    output_tokens,
                    cost_usd,
                } => {
                    // Recorded at the next heartbeat; the card shows it now.
                    reported.usage.input_tokens += input_tokens;
                    reported.usage.output_tokens += output_tokens;
                    reported.usage.cost_usd += cost_usd;
                    if let Some(c) = card {
                        let usage = reported.usage_now(grant);
                        c.update(|v| v.usage = usage);
                    }
                }
                other => {
                    if let Some(c) = card {
                        c.update(|v| {
                            v.elapsed_secs = elapsed;
                            apply_progress(v, &other);
                        });
                    }
                }
            }
            if edits_card {
                probe::handled(job.id, true);
            }
        }
    }

    /// Masks secrets in a harness event, counts it, and keeps it in the job's transcript
    /// (up to the limit; later events are only counted).
    pub(super) fn observe_event(
        &self,
        job: &Job,
        event: HarnessEvent,
        transcript: &mut TranscriptCount,
    ) -> HarnessEvent {
        let event = if self.redactor.is_empty() {
            event
        } else {
            event.map_text(|t| self.redactor.apply(t).into_owned())
        };
        self.metrics
            .harness_events
            .get_or_create(&crate::ops::metrics::AgentKind {
                agent: job.agent.clone(),
                kind: event.kind().into(),
            })
            .inc();
        if transcript.kept < self.settings.transcript_max_events {
            let entry = TranscriptEntry {
                at: Utc::now(),
                event: event.clone().map_text(|t| clip(t.trim(), TRANSCRIPT_TEXT)),
            };
            match self
                .store
                .append_transcript(job.id, transcript.kept, &entry)
            {
                Ok(()) => transcript.kept += 1,
                Err(e) => {
                    tracing::warn!(job = job.id, agent = %job.agent, error = %e, "cannot keep a transcript event")
                }
            }
        } else {
            transcript.dropped += 1;
        }
        event
    }

    /// One call through the MCP gateway: into the transcript (as a finished tool) and the
    /// audit trail, secrets masked in both.
    pub(super) fn record_tool_call(
        &self,
        job: &Job,
        call: crate::mcp::ToolCall,
        transcript: &mut TranscriptCount,
    ) {
        let call = crate::mcp::ToolCall {
            arguments: clip(self.redactor.apply(&call.arguments).trim(), 2_000),
            outcome: clip(self.redactor.apply(&call.outcome).trim(), 500),
            ..call
        };
        tracing::info!(job = job.id, agent = %job.agent, server = %call.server, tool = %call.tool, outcome = %call.outcome, ms = call.duration_ms, "MCP tool call");
        let event = HarnessEvent::ToolFinished {
            id: None,
            name: format!("mcp {}/{}", call.server, call.tool),
            summary: format!(
                "{} · {} ms · {}",
                call.outcome, call.duration_ms, call.arguments
            ),
            ok: call.outcome == "ok",
        };
        self.observe_event(job, event, transcript);
        let record = AuditRecord {
            job: Some(job.id),
            prompt_version: job.prompt_version.clone(),
            detail: serde_json::to_string(&call).ok(),
            ..AuditRecord::new("mcp_tool_call", &job.requester, &job.agent)
        };
        if let Err(e) = self.store.append_audit(&record) {
            tracing::error!(job = job.id, agent = %job.agent, error = %e, "cannot write the tool call's audit record");
        }
    }
}

/// How long a stopped run has to end before the job is reported as not stopped.
const STOP_CONFIRMATION: Duration = Duration::from_secs(60);

/// Waits for a stopped run's harness to finish ending it (its events end). A kill the
/// runtime refused, or no end in time, turns the stop into a failure that says so.
async fn confirm_ended(outcome: Ending, events: &mut mpsc::Receiver<HarnessEvent>) -> Ending {
    let ended = tokio::time::timeout(STOP_CONFIRMATION, async {
        let mut refused = None;
        while let Some(event) = events.recv().await {
            if let HarnessEvent::NotStopped { message } = event {
                refused = Some(message);
            }
        }
        refused
    })
    .await;
    let problem = match ended {
        Ok(None) => return outcome,
        Ok(Some(message)) => message,
        Err(_) => format!(
            "the sandbox did not confirm within {} s that it ended",
            STOP_CONFIRMATION.as_secs()
        ),
    };
    tracing::error!(problem = %problem, "a stopped run may still be going");
    let asked = outcome.failure.unwrap_or_else(|| "stopped".into());
    Ending {
        state: JobState::Failed,
        answer: None,
        // `asked` is the bot's own words (a mention of who stopped it); `problem` may quote
        // the runtime.
        failure: Some(format!(
            "{asked}, but {}; an operator should check the runtime",
            mrkdwn::escape(&problem)
        )),
    }
}

/// How a job whose spend reached its budget ends: over budget, with its answer or its last
/// steps.
fn spent_ending(
    job: &Job,
    g: &GrantHandle,
    answer: Option<String>,
    recent: &std::collections::VecDeque<String>,
) -> Ending {
    // What it spent under an earlier process too (a re-attached run).
    let used = job.usage.cost_usd + g.usage().cost_usd;
    let answer = answer.or_else(|| {
        (!recent.is_empty()).then(|| {
            // A step cannot close the fence: its own backtick runs are broken up.
            let steps: Vec<String> = recent
                .iter()
                .map(|l| l.replace("```", "`\u{200b}``"))
                .collect();
            format!("its last steps:\n```\n{}\n```", steps.join("\n"))
        })
    });
    Ending {
        state: JobState::OverBudget,
        answer,
        failure: Some(format!(
            "its model calls reached its budget of {} ({} spent)",
            crate::model::proxy::usd(g.budget().unwrap_or_default()),
            crate::model::proxy::usd(used)
        )),
    }
}
