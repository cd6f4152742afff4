//! What a run's events come to, without I/O of their own: the counts and usage a run
//! reports, its disk limit, the card's progress lines and the short lines quoted when it ends
//! badly. `follow` uses them.

use super::card::CardView;
use crate::chat::mrkdwn;
use crate::harness::HarnessEvent;
use crate::job::Usage;
use crate::model::proxy::GrantHandle;
use crate::text::clip;

/// What a run has reported so far: written to the job at each heartbeat and when it ends.
#[derive(Debug, Default)]
pub(super) struct Reported {
    pub transcript: TranscriptCount,
    /// Usage the harness reported (a re-attached run's log replays from its start).
    pub usage: Usage,
    /// What the job had counted before this process followed it (a re-attached run).
    pub before: Usage,
    /// What the last heartbeat wrote: usage and transcript counts (kept, dropped).
    pub written: Option<(Usage, u32, u32)>,
}

impl Reported {
    /// The run's usage now: the proxy's count when it saw this process's requests (on top of
    /// what was counted before), else the larger of the harness's figures and that count.
    pub(super) fn usage_now(&self, grant: Option<&GrantHandle>) -> Usage {
        match grant.map(GrantHandle::usage).filter(|u| u.requests > 0) {
            Some(used) => Usage {
                input_tokens: self.before.input_tokens + used.tokens.input,
                output_tokens: self.before.output_tokens + used.tokens.output,
                cost_usd: self.before.cost_usd + used.cost_usd,
                unpriced: self.before.unpriced || used.unpriced,
            },
            None => {
                let total = |u: &Usage| u.input_tokens + u.output_tokens;
                let mut now = if total(&self.usage) >= total(&self.before) {
                    self.usage
                } else {
                    self.before
                };
                // An earlier process's unpriced tokens stay unpriced.
                now.unpriced |= self.before.unpriced || self.usage.unpriced;
                now
            }
        }
    }
}

/// A workspace's disk limit, watched on the bot's host (a Kubernetes pod's is the kubelet's).
#[derive(Debug, Clone)]
pub(super) struct DiskLimit {
    pub dir: std::path::PathBuf,
    pub mb: u64,
}

impl DiskLimit {
    pub(super) fn of(
        spec: &crate::runtime::SandboxSpec,
        workdir: &std::path::Path,
    ) -> Option<Self> {
        (spec.runtime != crate::runtime::policy::RuntimeKind::Kubernetes).then(|| Self {
            dir: workdir.to_path_buf(),
            mb: spec.disk_mb,
        })
    }
}

/// Why the workspace at `dir` is over `limit_mb`, or `None`. A tree the bot cannot read (a
/// directory the run made unreadable) counts as over: it cannot be measured.
pub(super) async fn over_disk(dir: &std::path::Path, limit_mb: u64) -> Option<String> {
    let dir = dir.to_path_buf();
    let cap = limit_mb.saturating_mul(1024 * 1024);
    let used = tokio::task::spawn_blocking(move || crate::runtime::hostfs::disk_usage(&dir, cap))
        .await
        .ok()?;
    match used {
        Ok(used) if used > cap => Some(format!(
            "grew past its disk limit of {limit_mb} MB ({} MB in use)",
            used / (1024 * 1024)
        )),
        Ok(_) => None,
        Err(e) => Some(format!(
            "cannot be measured against its disk limit of {limit_mb} MB ({e})"
        )),
    }
}

/// A short plain line for an event, for failure messages.
pub(super) fn progress_line(event: &HarnessEvent) -> Option<String> {
    match event {
        HarnessEvent::AssistantText { text } => {
            Some(clip(text.lines().next().unwrap_or_default().trim(), 200))
        }
        HarnessEvent::ToolStarted { name, summary, .. } => {
            Some(format!("{name}: {}", clip(summary.trim(), 160)))
        }
        HarnessEvent::ToolFinished { name, summary, .. } => {
            Some(format!("{name} done: {}", clip(summary.trim(), 160)))
        }
        HarnessEvent::FileChanged { path } => Some(format!("edited {}", clip(path.trim(), 160))),
        HarnessEvent::Retrying { message } => Some(format!("retrying: {}", clip(message, 160))),
        _ => None,
    }
}

/// Card lines for a harness event; its words are the harness's, so they are escaped.
pub(super) fn apply_progress(view: &mut CardView, event: &HarnessEvent) {
    let esc = |s: String| mrkdwn::escape(&s);
    match event {
        HarnessEvent::AssistantText { text } => {
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            if !first.is_empty() {
                view.push_progress(format!(":speech_balloon: {}", esc(clip(first.trim(), 140))));
            }
        }
        HarnessEvent::ToolStarted { name, summary, .. } => {
            view.tool_calls += 1;
            view.push_progress(format!(
                ":wrench: `{}` {}",
                esc(clip(name.trim(), 40)),
                esc(clip(summary.trim(), 120))
            ));
        }
        HarnessEvent::ToolFinished {
            name, summary, ok, ..
        } => {
            let mark = if *ok { "↳" } else { "↳ :warning:" };
            view.push_progress(format!(
                "{mark} `{}` {}",
                esc(clip(name.trim(), 40)),
                esc(clip(summary.trim(), 120))
            ));
        }
        HarnessEvent::FileChanged { path } if view.files.insert(path.clone()) => {
            view.push_progress(format!(
                ":pencil2: edited `{}`",
                esc(clip(path.trim(), 120))
            ));
        }
        HarnessEvent::Retrying { message } => {
            view.push_progress(format!(":repeat: retrying: {}", esc(clip(message, 140))));
        }
        _ => {}
    }
}

/// Characters of one text kept per transcript event.
pub(super) const TRANSCRIPT_TEXT: usize = 8 * 1024;

/// Harness events of one run: kept in the transcript, and left out past the limit.
#[derive(Debug, Default)]
pub struct TranscriptCount {
    pub kept: u32,
    pub dropped: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_re_attached_runs_unpriced_tokens_stay_unpriced() {
        let reported = Reported {
            usage: Usage {
                input_tokens: 500,
                ..Usage::default()
            },
            before: Usage {
                input_tokens: 100,
                unpriced: true,
                ..Usage::default()
            },
            ..Reported::default()
        };
        let now = reported.usage_now(None);
        assert_eq!(now.input_tokens, 500);
        assert!(now.unpriced);
    }
}
