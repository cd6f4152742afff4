//! pi's `--mode json` → `HarnessEvent`s.
//!
//! Lines: `session` (its id), `tool_execution_start`/`_end`, `message_end` (an assistant
//! message: text, or an error with `stopReason: "error"`), `agent_end` (the run is over: the
//! last assistant text is the answer). Streaming deltas (`message_update`) are skipped.

use serde_json::Value;

use super::decode::{malformed, tool_summary, Decoder};
use super::HarnessEvent;
use crate::text::first_line;

const WRITING_TOOLS: &[&str] = &["write", "edit"];

#[derive(Default)]
pub struct PiDecoder {
    last_text: Option<String>,
}

fn text_of(message: &Value) -> String {
    message["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "text")
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Decoder for PiDecoder {
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent> {
        if line.trim().is_empty() {
            return vec![];
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return vec![malformed("pi", n, line)];
        };
        match v["type"].as_str() {
            Some("session") => vec![HarnessEvent::Started {
                session_id: v["id"].as_str().map(String::from),
            }],
            Some("tool_execution_start") => {
                let name = v["toolName"].as_str().unwrap_or("tool").to_string();
                let mut out = vec![HarnessEvent::ToolStarted {
                    id: v["toolCallId"].as_str().map(String::from),
                    name: name.clone(),
                    summary: tool_summary(&v["args"]),
                }];
                if WRITING_TOOLS.contains(&name.as_str()) {
                    if let Some(path) = v["args"]["path"].as_str() {
                        out.push(HarnessEvent::FileChanged {
                            path: path.to_string(),
                        });
                    }
                }
                out
            }
            Some("tool_execution_end") => {
                let result = text_of(&v["result"]);
                vec![HarnessEvent::ToolFinished {
                    id: v["toolCallId"].as_str().map(String::from),
                    name: v["toolName"].as_str().unwrap_or("tool").to_string(),
                    summary: first_line(&result, 120),
                    ok: v["isError"] != true,
                }]
            }
            Some("message_end") if v["message"]["role"] == "assistant" => {
                let message = &v["message"];
                if message["stopReason"] == "error" || message["stopReason"] == "aborted" {
                    return vec![HarnessEvent::Error {
                        message: format!(
                            "pi failed: {}",
                            message["errorMessage"]
                                .as_str()
                                .unwrap_or("the model call failed")
                        ),
                    }];
                }
                let text = text_of(message);
                if text.trim().is_empty() {
                    return vec![];
                }
                self.last_text = Some(text.clone());
                vec![HarnessEvent::AssistantText { text }]
            }
            Some("agent_end") => vec![HarnessEvent::Finished {
                answer: self.last_text.take().unwrap_or_default(),
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
        let mut d = PiDecoder::default();
        let lines = [
            r#"{"type":"session","version":3,"id":"p-1","cwd":"/workspace"}"#,
            r#"{"type":"agent_start"}"#,
            r#"{"type":"message_end","message":{"role":"user","content":[{"type":"text","text":"task"}]}}"#,
            r#"{"type":"tool_execution_start","toolCallId":"c1","toolName":"write","args":{"path":"a.txt","content":"x"}}"#,
            r#"{"type":"tool_execution_end","toolCallId":"c1","toolName":"write","result":{"content":[{"type":"text","text":"Wrote a.txt"}]},"isError":false}"#,
            r#"{"type":"message_end","message":{"role":"assistant","content":[{"type":"text","text":"Done."}],"stopReason":"stop"}}"#,
            r#"{"type":"agent_end","messages":[]}"#,
        ];
        let events: Vec<_> = lines
            .iter()
            .enumerate()
            .flat_map(|(i, l)| d.line(i + 1, l))
            .collect();
        assert_eq!(
            events,
            vec![
                HarnessEvent::Started {
                    session_id: Some("p-1".into())
                },
                HarnessEvent::ToolStarted {
                    id: Some("c1".into()),
                    name: "write".into(),
                    summary: "a.txt".into()
                },
                HarnessEvent::FileChanged {
                    path: "a.txt".into()
                },
                HarnessEvent::ToolFinished {
                    id: Some("c1".into()),
                    name: "write".into(),
                    summary: "Wrote a.txt".into(),
                    ok: true
                },
                HarnessEvent::AssistantText {
                    text: "Done.".into()
                },
                HarnessEvent::Finished {
                    answer: "Done.".into()
                },
            ]
        );
    }

    #[test]
    fn model_errors_end_the_run() {
        let mut d = PiDecoder::default();
        assert!(matches!(
            &d.line(1, r#"{"type":"message_end","message":{"role":"assistant","content":[],"stopReason":"error","errorMessage":"401 no key"}}"#)[0],
            HarnessEvent::Error { message } if message.contains("401 no key")
        ));
    }
}
