//! The scripted harness: replays a fixed list of events with delays. For tests and dev mode
//! only; it runs nothing. `{task}`, `{agent}` and `{model}` in event text are filled in.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Harness, HarnessError, HarnessEvent, HarnessRun};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptStep {
    #[serde(default)]
    pub delay_ms: u64,
    pub event: HarnessEvent,
}

#[derive(Debug, Clone)]
pub struct ScriptedHarness {
    steps: Vec<ScriptStep>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read script {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a script step ({source}); expected {{\"delay_ms\": 100, \"event\": {{\"type\": \"assistant_text\", \"text\": \"…\"}}}}")]
    Parse {
        path: String,
        line: usize,
        source: serde_json::Error,
    },
}

impl ScriptedHarness {
    pub fn new(steps: Vec<ScriptStep>) -> Self {
        Self { steps }
    }

    /// Loads a script: one JSON step per line; blank lines and `#` comments are skipped.
    pub fn from_file(path: &Path) -> Result<Self, ScriptError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: name.clone(),
            source,
        })?;
        let mut steps = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            steps.push(
                serde_json::from_str(line).map_err(|source| ScriptError::Parse {
                    path: name.clone(),
                    line: i + 1,
                    source,
                })?,
            );
        }
        Ok(Self { steps })
    }

    /// The built-in demo: reads, runs a tool, edits a file, answers.
    pub fn demo() -> Self {
        let step = |delay_ms, event| ScriptStep { delay_ms, event };
        Self::new(vec![
            step(100, HarnessEvent::Started { session_id: None }),
            step(300, HarnessEvent::AssistantText {
                text: "Looking into: {task}".into(),
            }),
            step(300, HarnessEvent::ToolStarted {
                id: Some("t1".into()),
                name: "bash".into(),
                summary: "run the test suite".into(),
            }),
            step(700, HarnessEvent::ToolFinished {
                id: Some("t1".into()),
                name: "bash".into(),
                summary: "12 passed, 1 failed".into(),
                ok: true,
            }),
            step(300, HarnessEvent::FileChanged {
                path: "src/lib.rs".into(),
            }),
            step(100, HarnessEvent::Usage {
                input_tokens: 1200,
                output_tokens: 340,
                cost_usd: 0.0123,
            }),
            step(200, HarnessEvent::Finished {
                answer: "This is the scripted demo harness (agent `{agent}`), so nothing really ran.\n\n\
                         Asked: {task}\n\nA real harness (Claude Code, Codex, pi or your own CLI) would \
                         answer here."
                    .into(),
            }),
        ])
    }
}

fn fill(text: &str, run: &HarnessRun) -> String {
    text.replace("{task}", &run.task)
        .replace("{agent}", &run.agent)
        .replace("{model}", run.model.as_deref().unwrap_or("default"))
}

fn fill_event(event: &HarnessEvent, run: &HarnessRun) -> HarnessEvent {
    match event {
        HarnessEvent::AssistantText { text } => HarnessEvent::AssistantText {
            text: fill(text, run),
        },
        HarnessEvent::Finished { answer } => HarnessEvent::Finished {
            answer: fill(answer, run),
        },
        HarnessEvent::Error { message } => HarnessEvent::Error {
            message: fill(message, run),
        },
        other => other.clone(),
    }
}

#[async_trait::async_trait]
impl Harness for ScriptedHarness {
    async fn start(
        &self,
        run: HarnessRun,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError> {
        let (tx, rx) = mpsc::channel(64);
        let steps = self.steps.clone();
        tokio::spawn(async move {
            for step in steps {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(step.delay_ms)) => {}
                }
                let event = fill_event(&step.event, &run);
                let last = event.is_final();
                // Like a real run, nothing comes after the final event (the bot waits for
                // the channel to close before it looks at the workspace).
                if tx.send(event).await.is_err() || last {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> HarnessRun {
        HarnessRun {
            mcp: vec![],
            egress_proxy: None,
            job_id: 1,
            agent: "default".into(),
            role_prompt: "be good".into(),
            task: "fix login".into(),
            model: None,
            workdir: std::env::temp_dir(),
            sandbox: Default::default(),
            resume_session: None,
            model_base: None,
        }
    }

    #[tokio::test]
    async fn demo_replays_in_order_and_fills_placeholders() {
        let mut rx = ScriptedHarness::demo()
            .start(run(), CancellationToken::new())
            .await
            .unwrap();
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        assert_eq!(events.len(), 7);
        assert_eq!(
            events[1],
            HarnessEvent::AssistantText {
                text: "Looking into: fix login".into()
            }
        );
        assert!(
            matches!(&events[6], HarnessEvent::Finished { answer } if answer.contains("Asked: fix login"))
        );
    }

    #[tokio::test]
    async fn cancel_stops_the_stream() {
        let cancel = CancellationToken::new();
        let mut rx = ScriptedHarness::demo()
            .start(run(), cancel.clone())
            .await
            .unwrap();
        cancel.cancel();
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        assert!(n <= 1);
    }

    #[test]
    fn script_file_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(
            &path,
            "# demo\n{\"event\":{\"type\":\"finished\",\"answer\":\"ok\"}}\n{oops}\n",
        )
        .unwrap();
        let err = ScriptedHarness::from_file(&path).unwrap_err();
        assert!(matches!(err, ScriptError::Parse { line: 3, .. }), "{err}");
    }
}
