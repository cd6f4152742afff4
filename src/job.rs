//! The job record and its state machine. Pure: the store persists it, the runner drives it.
//!
//! queued → running → succeeded | failed | cancelled | timed_out; a queued job may also end
//! cancelled or failed without running (e.g. interrupted by a restart). Terminal states are final.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type JobId = u64;

/// Options given on a mention; `None` means "the agent's default".
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestOptions {
    pub agent: Option<String>,
    pub harness: Option<String>,
    pub repo: Option<String>,
    pub branch: Option<String>,
    pub model: Option<String>,
    /// `budget=<USD>`: what the job may spend on models, up to `[jobs] max_budget_usd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
}

impl fmt::Display for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs = [
            ("agent", &self.agent),
            ("harness", &self.harness),
            ("repo", &self.repo),
            ("branch", &self.branch),
            ("model", &self.model),
            ("budget", &self.budget),
        ];
        let set: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        f.write_str(&set.join(" "))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    /// Its model calls reached its budget (`jobs::budget`) and were refused.
    OverBudget,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }

    /// The transitions the state machine allows.
    pub fn can_move_to(self, next: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, next),
            (Queued, Running | Failed | Cancelled)
                | (
                    Running,
                    Succeeded | Failed | Cancelled | TimedOut | OverBudget
                )
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::OverBudget => "over budget",
            JobState::TimedOut => "timed out",
        }
    }
}

/// A message from the job's thread, with the author resolved to a name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadMessage {
    pub ts: String,
    pub user: Option<String>,
    pub author: String,
    pub text: String,
    pub from_bot: bool,
    /// The author's standing in the thread when it was read: requester, owner, approver,
    /// admin, member, guest, external or bot (`bot::authority`).
    #[serde(default)]
    pub role: String,
    /// False for guests, other teams, bots and people outside the agent's `users:`.
    #[serde(default)]
    pub trusted: bool,
}

/// A reaction on one of the job's messages, kept for later decisions (approvals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionRecord {
    pub user: String,
    pub name: String,
    pub message_ts: String,
    pub added: bool,
    pub at: DateTime<Utc>,
}

/// A decision on a job's result by an approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub approved: bool,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Tokens and cost reported by the harness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// Some tokens were used on a model without a price: `cost_usd` leaves them out.
    #[serde(default)]
    pub unpriced: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub channel: String,
    /// Root of the Slack thread the job lives in.
    pub thread_ts: String,
    /// The mention that asked for the job.
    pub request_ts: String,
    pub requester: String,
    pub task: String,
    pub options: RequestOptions,
    pub agent: String,
    pub harness: String,
    pub model: Option<String>,
    pub repo: Option<String>,
    pub branch: Option<String>,
    /// The job this one follows up in the same thread.
    pub parent: Option<JobId>,
    pub state: JobState,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub card_ts: Option<String>,
    /// The harness's final answer, kept so it can be posted again after a crash.
    pub answer: Option<String>,
    /// Why the job did not succeed, in words for the thread.
    pub failure: Option<String>,
    pub usage: Usage,
    /// True once the terminal message reached the thread.
    pub terminal_posted: bool,
    /// How many parts of the terminal message were posted (a long answer has several).
    #[serde(default)]
    pub posted_parts: usize,
    /// The part being posted: written before the call, so that a bot killed between Slack's
    /// answer and `posted_parts` looks for the part in the thread instead of posting it again.
    #[serde(default)]
    pub posting_part: Option<usize>,
    /// The harness's own session id, to resume it in a follow-up.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The thread's messages when the job started.
    #[serde(default)]
    pub context: Vec<ThreadMessage>,
    /// Version of the effective prompt the job ran with, and the amendments in force.
    #[serde(default)]
    pub prompt_version: Option<String>,
    #[serde(default)]
    pub amendments: Vec<u32>,
    /// The job this one re-runs (🔁), with the prompt version that one had.
    #[serde(default)]
    pub rerun_of: Option<(JobId, Option<String>)>,
    /// What started the job when no one mentioned the bot: a schedule or a trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The first message of the result, where ✅/❌/🔁 count.
    #[serde(default)]
    pub result_ts: Option<String>,
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// Thread replies that arrived while this was the thread's latest job.
    pub thread_replies: Vec<ThreadMessage>,
    pub reactions: Vec<ReactionRecord>,
    /// The job whose workspace this one works in: a follow-up continues in its thread's
    /// first job's workspace (and CLI session).
    #[serde(default)]
    pub workspace_job: Option<JobId>,
    /// The thread's PR/MR, once one is open (kept on every job of the thread).
    #[serde(default)]
    pub pr: Option<crate::forge::PullRequest>,
    /// The branch's last commit after this job.
    #[serde(default)]
    pub head: Option<String>,
    /// What became of the job's changes, in words for its final message.
    #[serde(default)]
    pub delivery: Option<String>,
    /// The sandbox the harness ran in, for the audit chain.
    #[serde(default)]
    pub sandbox: Option<SandboxRecord>,
    /// Harness events kept in the transcript, and those left out past the limit.
    #[serde(default)]
    pub transcript_events: u32,
    #[serde(default)]
    pub transcript_dropped: u32,
    /// The model-proxy grant of a run that can outlive the bot (a container, a Kubernetes Job), so a
    /// restarted bot that re-attaches to it restores the same grant.
    #[serde(default)]
    pub grant_token: Option<String>,
    /// The thread's permalink, looked up once (for the PR body and the audit chain).
    #[serde(default)]
    pub permalink: Option<String>,
    /// The context-library passages the job's prompt received.
    #[serde(default)]
    pub context_passages: Vec<crate::context::PassageRef>,
}

/// Where a job ran: the runtime, the image (and its digest when the runtime knows it), and the
/// limits in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub runtime: String,
    pub image: Option<String>,
    pub digest: Option<String>,
    pub limits: String,
    /// The run's network mode (records from before it was kept have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::runtime::NetworkMode>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {id}: cannot move from {from:?} to {to:?}")]
pub struct InvalidTransition {
    pub id: JobId,
    pub from: JobState,
    pub to: JobState,
}

/// Thread replies kept on one job: the newest, so a chatty thread cannot grow the record (which
/// is rewritten whole on every change) without bound.
pub const KEPT_REPLIES: usize = 200;

impl Job {
    /// Keeps a thread reply with the job, dropping the oldest past `KEPT_REPLIES`.
    pub fn keep_reply(&mut self, message: ThreadMessage) {
        self.thread_replies.push(message);
        if self.thread_replies.len() > KEPT_REPLIES {
            let extra = self.thread_replies.len() - KEPT_REPLIES;
            self.thread_replies.drain(..extra);
        }
    }

    /// The record as it may be shown outside the bot: without the live model-proxy token a
    /// re-attached run needs.
    pub fn without_secrets(mut self) -> Self {
        self.grant_token = None;
        self
    }

    /// Moves the job to `next`, stamping start/finish times.
    pub fn transition(
        &mut self,
        next: JobState,
        now: DateTime<Utc>,
    ) -> Result<(), InvalidTransition> {
        if !self.state.can_move_to(next) {
            return Err(InvalidTransition {
                id: self.id,
                from: self.state,
                to: next,
            });
        }
        if next == JobState::Running {
            self.started_at = Some(now);
        }
        if next.is_terminal() {
            self.finished_at = Some(now);
        }
        self.state = next;
        Ok(())
    }

    /// Seconds from start (or creation) to finish (or `now`).
    pub fn elapsed_secs(&self, now: DateTime<Utc>) -> i64 {
        let start = self.started_at.unwrap_or(self.created_at);
        let end = self.finished_at.unwrap_or(now);
        (end - start).num_seconds().max(0)
    }
}

/// What a new job is asked to do; everything else starts empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewJob {
    pub channel: String,
    pub thread_ts: String,
    pub request_ts: String,
    pub requester: String,
    pub task: String,
    pub options: RequestOptions,
    pub agent: String,
    pub harness: String,
    pub model: Option<String>,
    pub parent: Option<JobId>,
    pub rerun_of: Option<(JobId, Option<String>)>,
    pub origin: Option<Origin>,
}

/// What started a job nobody asked for in a mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// An agent's `schedule:` entry, for the instant it was due.
    Schedule { name: String, due: DateTime<Utc> },
    /// An agent's `triggers:` entry, on a message from `by` (a user or bot id).
    Trigger { name: String, by: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Schedule { name, due } => write!(
                f,
                "schedule `{name}` (due {})",
                due.format("%Y-%m-%d %H:%M UTC")
            ),
            Origin::Trigger { name, by } => write!(f, "trigger `{name}` (a message from {by})"),
        }
    }
}

impl Job {
    /// A queued job, created now.
    pub fn queued(id: JobId, n: NewJob) -> Self {
        Job {
            id,
            repo: n.options.repo.clone(),
            branch: n.options.branch.clone(),
            channel: n.channel,
            thread_ts: n.thread_ts,
            request_ts: n.request_ts,
            requester: n.requester,
            task: n.task,
            options: n.options,
            agent: n.agent,
            harness: n.harness,
            model: n.model,
            parent: n.parent,
            rerun_of: n.rerun_of,
            origin: n.origin,
            state: JobState::Queued,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            card_ts: None,
            answer: None,
            failure: None,
            usage: Usage::default(),
            terminal_posted: false,
            posted_parts: 0,
            posting_part: None,
            session_id: None,
            context: vec![],
            prompt_version: None,
            amendments: vec![],
            result_ts: None,
            verdict: None,
            thread_replies: vec![],
            workspace_job: None,
            reactions: vec![],
            pr: None,
            head: None,
            delivery: None,
            sandbox: None,
            transcript_events: 0,
            transcript_dropped: 0,
            grant_token: None,
            permalink: None,
            context_passages: vec![],
        }
    }
}

#[cfg(test)]
pub(crate) fn sample_job(id: JobId) -> Job {
    Job::queued(
        id,
        NewJob {
            channel: "C1".into(),
            thread_ts: "1.000001".into(),
            request_ts: "1.000001".into(),
            requester: "U1".into(),
            task: "fix it".into(),
            options: RequestOptions::default(),
            agent: "default".into(),
            harness: "scripted".into(),
            model: None,
            parent: None,
            rerun_of: None,
            origin: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_replies_are_bounded_newest_last() {
        let mut job = sample_job(1);
        for n in 0..(KEPT_REPLIES + 5) {
            job.keep_reply(ThreadMessage {
                ts: format!("{n}.0"),
                user: Some("U1".into()),
                author: "ada".into(),
                text: n.to_string(),
                from_bot: false,
                role: String::new(),
                trusted: false,
            });
        }
        assert_eq!(job.thread_replies.len(), KEPT_REPLIES);
        assert_eq!(job.thread_replies[0].text, "5");
        assert_eq!(
            job.thread_replies.last().unwrap().text,
            (KEPT_REPLIES + 4).to_string()
        );
    }
    use JobState::*;

    #[test]
    fn allowed_transitions() {
        let all = [Queued, Running, Succeeded, Failed, Cancelled, TimedOut];
        let allowed = [
            (Queued, Running),
            (Queued, Failed),
            (Queued, Cancelled),
            (Running, Succeeded),
            (Running, Failed),
            (Running, Cancelled),
            (Running, TimedOut),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from:?}→{to:?}"
                );
            }
        }
    }

    #[test]
    fn transition_stamps_times_and_rejects_bad_moves() {
        let mut job = sample_job(1);
        let now = Utc::now();
        job.transition(Running, now).unwrap();
        assert_eq!(job.started_at, Some(now));
        job.transition(Succeeded, now).unwrap();
        assert_eq!(job.finished_at, Some(now));
        assert!(job.state.is_terminal());
        assert_eq!(
            job.transition(Running, now),
            Err(InvalidTransition {
                id: 1,
                from: Succeeded,
                to: Running
            })
        );
    }
}
