//! Codex CLI's `exec --json` → `HarnessEvent`s.
//!
//! Lines: `thread.started` (the session id), `turn.started`, `item.started`/`item.completed`
//! (`command_execution`, `agent_message`, `file_change`, `reasoning`, `error` — a warning),
//! `turn.completed` (the run is over: the last agent message is the answer), `turn.failed`.

use serde_json::Value;

use super::decode::{malformed, Decoder};
use super::HarnessEvent;
use crate::text::first_line;

#[derive(Default)]
pub struct CodexDecoder {
    last_message: Option<String>,
}

impl Decoder for CodexDecoder {
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent> {
        if line.trim().is_empty() {
            return vec![];
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return vec![malformed("Codex", n, line)];
        };
        let item = &v["item"];
        let id = item["id"].as_str().map(String::from);
        match (v["type"].as_str(), item["type"].as_str()) {
            (Some("thread.started"), _) => vec![HarnessEvent::Started {
                session_id: v["thread_id"].as_str().map(String::from),
            }],
            (Some("item.started"), Some("command_execution")) => vec![HarnessEvent::ToolStarted {
                id,
                name: "shell".into(),
                summary: first_line(item["command"].as_str().unwrap_or(""), 120),
            }],
            (Some("item.completed"), Some("command_execution")) => {
                let code = item["exit_code"].as_i64();
                vec![HarnessEvent::ToolFinished {
                    id,
                    name: "shell".into(),
                    summary: match code {
                        Some(c) => format!("exit {c}"),
                        None => item["status"].as_str().unwrap_or("").to_string(),
                    },
                    ok: code == Some(0),
                }]
            }
            (Some("item.completed"), Some("file_change")) => item["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["path"].as_str())
                .map(|p| HarnessEvent::FileChanged {
                    path: p.to_string(),
                })
                .collect(),
            (Some("item.completed"), Some("agent_message")) => {
                let text = item["text"].as_str().unwrap_or("").to_string();
                self.last_message = Some(text.clone());
                vec![HarnessEvent::AssistantText { text }]
            }
            (Some("turn.completed"), _) => vec![HarnessEvent::Finished {
                answer: self.last_message.take().unwrap_or_default(),
            }],
            // Codex reports a stream it reconnects as a top-level `error` event
            // ("Reconnecting... 2/5 (why)") and goes on; only `turn.failed` ends the run.
            (Some("error"), _)
                if v["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Reconnecting")) =>
            {
                vec![HarnessEvent::Retrying {
                    message: first_line(v["message"].as_str().unwrap_or_default(), 200),
                }]
            }
            (Some("error"), _) => vec![HarnessEvent::AssistantText {
                text: format!(
                    "Codex: {}",
                    v["message"].as_str().unwrap_or("an error it will retry")
                ),
            }],
            (Some("turn.failed"), _) => vec![HarnessEvent::Error {
                message: format!(
                    "Codex failed: {}",
                    v.pointer("/error/message")
                        .or(v.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("no reason given")
                ),
            }],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_decodes_to_events() {
        let mut d = CodexDecoder::default();
        let lines = [
            r#"{"type":"thread.started","thread_id":"th-1"}"#,
            r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata not found"}}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/sh -lc 'ls'","exit_code":null}}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/sh -lc 'ls'","exit_code":0}}"#,
            r#"{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"a.txt","kind":"add"}]}}"#,
            r#"{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Done."}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":2}}"#,
        ];
        let events: Vec<_> = lines
            .iter()
            .enumerate()
            .flat_map(|(i, l)| d.line(i + 1, l))
            .collect();
        assert_eq!(
            events[0],
            HarnessEvent::Started {
                session_id: Some("th-1".into())
            }
        );
        assert_eq!(
            events[1],
            HarnessEvent::ToolStarted {
                id: Some("item_1".into()),
                name: "shell".into(),
                summary: "/bin/sh -lc 'ls'".into()
            }
        );
        assert!(matches!(
            &events[2],
            HarnessEvent::ToolFinished { ok: true, .. }
        ));
        assert_eq!(
            events[3],
            HarnessEvent::FileChanged {
                path: "a.txt".into()
            }
        );
        assert_eq!(
            events.last(),
            Some(&HarnessEvent::Finished {
                answer: "Done.".into()
            })
        );
    }

    #[test]
    fn a_reconnect_is_a_retry_and_other_errors_are_said() {
        let mut d = CodexDecoder::default();
        assert_eq!(
            d.line(1, r#"{"type":"error","message":"Reconnecting... 2/5 (stream disconnected before completion)"}"#),
            vec![HarnessEvent::Retrying {
                message: "Reconnecting... 2/5 (stream disconnected before completion)".into()
            }]
        );
        assert!(matches!(
            &d.line(2, r#"{"type":"error","message":"400 bad request"}"#)[0],
            HarnessEvent::AssistantText { text } if text == "Codex: 400 bad request"
        ));
    }

    #[test]
    fn failure() {
        let mut d = CodexDecoder::default();
        assert!(matches!(
            &d.line(1, r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#)[0],
            HarnessEvent::Error { message } if message.contains("stream disconnected")
        ));
    }
}
