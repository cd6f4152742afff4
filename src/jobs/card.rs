//! The job card: one message per job, edited in place. Rendering is pure; `CardUpdater` owns the
//! edits and coalesces them, so a burst of harness events becomes one `chat.update`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::chat::ChatPlatform;
use crate::job::{Job, JobState, Usage};
use crate::text::clip;

/// Progress lines shown on the card; older ones are counted, not shown.
const SHOWN_PROGRESS: usize = 6;

/// Everything the card shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CardView {
    pub job_id: u64,
    pub agent: String,
    pub harness: String,
    pub model: Option<String>,
    pub repo: Option<String>,
    pub branch: Option<String>,
    pub state: JobState,
    /// 1-based place in the queue while queued.
    pub queue_position: Option<usize>,
    pub elapsed_secs: i64,
    /// The latest progress lines (at most `SHOWN_PROGRESS`), so a chatty harness cannot grow it.
    pub progress: std::collections::VecDeque<String>,
    /// Progress lines no longer shown.
    pub earlier_steps: usize,
    pub files: BTreeSet<String>,
    pub tool_calls: usize,
    pub usage: Usage,
    pub failure: Option<String>,
    pub prompt_version: Option<String>,
    /// The thread's PR/MR (`<url|draft PR #3>`) and the branch head after this job.
    pub pr: Option<String>,
    pub head: Option<String>,
    /// What the job may spend (USD), shown against what it spent.
    pub budget_usd: Option<f64>,
    /// Where it runs, once planned: `docker · network model`.
    pub sandbox: Option<String>,
}

impl CardView {
    pub fn for_job(job: &Job) -> Self {
        Self {
            job_id: job.id,
            agent: job.agent.clone(),
            harness: job.harness.clone(),
            model: job.model.clone(),
            repo: job.repo.clone(),
            branch: job.branch.clone(),
            state: job.state,
            queue_position: None,
            elapsed_secs: 0,
            progress: Default::default(),
            earlier_steps: 0,
            files: BTreeSet::new(),
            tool_calls: 0,
            usage: job.usage,
            failure: job.failure.clone(),
            prompt_version: job.prompt_version.clone(),
            pr: job.pr.as_ref().map(|p| p.link()),
            head: job.head.clone(),
            budget_usd: None,
            sandbox: None,
        }
    }

    pub fn push_progress(&mut self, line: String) {
        if self.progress.len() == SHOWN_PROGRESS {
            self.progress.pop_front();
            self.earlier_steps += 1;
        }
        self.progress.push_back(line);
    }
}

fn state_line(v: &CardView) -> String {
    let icon = match v.state {
        JobState::Queued => ":hourglass_flowing_sand:",
        JobState::Running => ":gear:",
        JobState::Succeeded => ":white_check_mark:",
        JobState::Failed => ":x:",
        JobState::Cancelled => ":no_entry_sign:",
        JobState::OverBudget => ":money_with_wings:",
        JobState::TimedOut => ":alarm_clock:",
    };
    let mut line = format!("{icon} *{}*", v.state.label());
    match v.state {
        JobState::Queued => {
            if let Some(p) = v.queue_position {
                line.push_str(&format!(" — position {p} in the queue"));
            }
        }
        JobState::Running => line.push_str(&format!(" · {}", duration(v.elapsed_secs))),
        _ => line.push_str(&format!(" in {}", duration(v.elapsed_secs))),
    }
    if v.usage.cost_usd > 0.0 || v.usage.input_tokens + v.usage.output_tokens > 0 {
        let cost = match (v.usage.unpriced, v.usage.cost_usd > 0.0) {
            (false, _) => match v.budget_usd {
                Some(b) => format!(
                    "${:.4} of its {} budget",
                    v.usage.cost_usd,
                    crate::model::proxy::usd(b)
                ),
                None => format!("${:.4}", v.usage.cost_usd),
            },
            (true, true) => format!("${:.4} + tokens of an unpriced model", v.usage.cost_usd),
            (true, false) => "cost unknown (unpriced model)".to_string(),
        };
        line.push_str(&format!(
            " · {cost} · {} tokens in / {} out",
            v.usage.input_tokens, v.usage.output_tokens
        ));
    }
    line
}

/// The first seven characters of a commit id, as git shows them.
pub fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

pub fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The card's text (Slack mrkdwn).
pub fn render(v: &CardView) -> String {
    // Model, repository and branch may be what a mention asked for: escaped.
    let esc = crate::chat::mrkdwn::escape;
    let mut header = format!(
        "*Job {}* · agent `{}` · harness `{}` · model `{}`",
        v.job_id,
        v.agent,
        v.harness,
        esc(v.model.as_deref().unwrap_or("default"))
    );
    if let Some(repo) = &v.repo {
        header.push_str(&format!(" · repo `{}`", esc(repo)));
        if let Some(b) = &v.branch {
            header.push_str(&format!(" @ `{}`", esc(b)));
        }
    }
    if let Some(version) = &v.prompt_version {
        header.push_str(&format!(" · prompt `{version}`"));
    }
    if let Some(sandbox) = &v.sandbox {
        header.push_str(&format!(" · {sandbox}"));
    }
    if let Some(b) = v.budget_usd {
        header.push_str(&format!(" · budget {}", crate::model::proxy::usd(b)));
    }
    let mut out = format!("{header}\n{}", state_line(v));
    if let Some(pr) = &v.pr {
        out.push_str(&format!("\n:link: {pr}"));
        if let Some(head) = &v.head {
            out.push_str(&format!(" · head `{}`", short_sha(head)));
        }
    }
    if v.tool_calls > 0 || !v.files.is_empty() {
        out.push_str(&format!(
            "\n{} tool call{} · {} file{} changed",
            v.tool_calls,
            if v.tool_calls == 1 { "" } else { "s" },
            v.files.len(),
            if v.files.len() == 1 { "" } else { "s" }
        ));
    }
    let hidden = v.earlier_steps;
    if hidden > 0 {
        out.push_str(&format!(
            "\n_…{hidden} earlier step{}_",
            if hidden == 1 { "" } else { "s" }
        ));
    }
    for line in &v.progress {
        out.push_str(&format!("\n• {line}"));
    }
    if let Some(f) = &v.failure {
        let first = f.lines().next().unwrap_or_default();
        out.push_str(&format!("\n*Why:* {}", clip(first.trim(), 300)));
    }
    out
}

/// Keeps one card in step with its view: edits are coalesced to at most one per `interval`,
/// always ending on the latest view.
pub struct CardUpdater {
    tx: watch::Sender<CardView>,
    task: JoinHandle<()>,
}

impl CardUpdater {
    pub fn spawn(
        chat: Arc<dyn ChatPlatform>,
        channel: String,
        ts: String,
        view: CardView,
        interval: Duration,
    ) -> Self {
        // What the card shows now; changes made before the task first runs still count.
        let mut last_sent = render(&view);
        let (tx, mut rx) = watch::channel(view);
        let task = tokio::spawn(
            async move {
                loop {
                    let closed = rx.changed().await.is_err();
                    let text = render(&rx.borrow_and_update());
                    if text != last_sent {
                        if let Err(e) = super::outbox::with_retries(|| {
                            chat.update_message(&channel, &ts, &text)
                        })
                        .await
                        {
                            tracing::warn!(%channel, %ts, error = %e, "card edit failed");
                        }
                        last_sent = text;
                    }
                    if closed {
                        return;
                    }
                    // Everything that changes during this pause is sent as one edit.
                    tokio::time::sleep(interval).await;
                }
            }
            .in_current_span(),
        );
        Self { tx, task }
    }

    pub fn update(&self, f: impl FnOnce(&mut CardView)) {
        self.tx.send_modify(f);
    }

    pub fn view(&self) -> CardView {
        self.tx.borrow().clone()
    }

    /// Sends the final state and waits until it reached the card.
    pub async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::sample_job;

    #[test]
    fn queued_card_shows_position() {
        let mut v = CardView::for_job(&sample_job(3));
        v.queue_position = Some(2);
        let text = render(&v);
        assert!(
            text.starts_with("*Job 3* · agent `default` · harness `scripted` · model `default`")
        );
        assert!(text.contains("queued* — position 2 in the queue"));
    }

    #[test]
    fn running_card_shows_progress_tail_and_counts() {
        let mut job = sample_job(4);
        job.repo = Some("acme/web".into());
        let mut v = CardView::for_job(&job);
        v.state = JobState::Running;
        v.elapsed_secs = 75;
        v.tool_calls = 3;
        v.files.insert("a.rs".into());
        for i in 0..9 {
            v.push_progress(format!("step {i}"));
        }
        let text = render(&v);
        assert!(text.contains("repo `acme/web`"));
        assert!(text.contains("running* · 1m 15s"));
        assert!(text.contains("3 tool calls · 1 file changed"));
        assert!(text.contains("_…3 earlier steps_"));
        assert!(!text.contains("• step 2\n"));
        assert!(text.ends_with("• step 8"));
    }

    #[test]
    fn finished_card_shows_outcome_duration_cost() {
        let mut v = CardView::for_job(&sample_job(5));
        v.state = JobState::Failed;
        v.elapsed_secs = 4000;
        v.usage = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cost_usd: 0.5,
            unpriced: false,
        };
        v.failure = Some("harness crashed\nmore".into());
        let text = render(&v);
        assert!(text.contains(":x: *failed* in 1h 06m · $0.5000 · 10 tokens in / 5 out"));
        v.usage.unpriced = true;
        assert!(render(&v).contains("$0.5000 + tokens of an unpriced model · 10 tokens in"));
        v.usage.cost_usd = 0.0;
        assert!(render(&v).contains("cost unknown (unpriced model) · 10 tokens in"));
        assert!(text.ends_with("*Why:* harness crashed"));
    }

    #[test]
    fn spend_is_shown_against_the_budget() {
        let mut v = CardView::for_job(&sample_job(6));
        v.state = JobState::OverBudget;
        v.elapsed_secs = 30;
        v.budget_usd = Some(0.5);
        v.usage.cost_usd = 0.5012;
        v.usage.input_tokens = 10;
        v.sandbox = Some("docker · network model".into());
        assert!(render(&v).contains(" · docker · network model · budget $0.50\n"));
        assert!(
            render(&v)
                .contains(":money_with_wings: *over budget* in 30s · $0.5012 of its $0.50 budget"),
            "{}",
            render(&v)
        );
    }
}
