//! opencode's `run --format json` → `HarnessEvent`s.
//!
//! Every line carries the session id (`sessionID`). Lines: `step_start` / `step_finish` (a
//! model turn), `text` (a finished text part), `tool_use` (a tool call, printed once it has
//! finished or failed: its start and end at once), `error` (the run failed). No line holds
//! the answer: it is the last text, given when the process exits successfully after a turn
//! that ended with `stop`. opencode also exits 0 when it gave up on a tool call it refused
//! (its last turn ended with `tool-calls`): that run has failed.

use serde_json::Value;

use super::decode::{malformed, tool_summary, Decoder};
use super::HarnessEvent;
use crate::text::first_line;

/// Tools whose `filePath` input is a file they change.
const WRITING_TOOLS: &[&str] = &["write", "edit"];

#[derive(Default)]
pub struct OpencodeDecoder {
    started: bool,
    last_text: Option<String>,
    failed: bool,
    /// Why the last model turn ended (`stop`, `tool-calls`, …).
    last_turn: Option<String>,
}

impl Decoder for OpencodeDecoder {
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent> {
        if line.trim().is_empty() {
            return vec![];
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return vec![malformed("opencode", n, line)];
        };
        let mut out = vec![];
        if !self.started {
            if let Some(session) = v["sessionID"].as_str() {
                self.started = true;
                out.push(HarnessEvent::Started {
                    session_id: Some(session.to_string()),
                });
            }
        }
        let part = &v["part"];
        match v["type"].as_str() {
            Some("text") => {
                let text = part["text"].as_str().unwrap_or_default().trim();
                if !text.is_empty() {
                    self.last_text = Some(text.to_string());
                    out.push(HarnessEvent::AssistantText {
                        text: text.to_string(),
                    });
                }
            }
            Some("tool_use") => {
                let id = part["callID"]
                    .as_str()
                    .or(part["id"].as_str())
                    .map(String::from);
                let name = part["tool"].as_str().unwrap_or("tool").to_string();
                let state = &part["state"];
                out.push(HarnessEvent::ToolStarted {
                    id: id.clone(),
                    name: name.clone(),
                    summary: tool_summary(&state["input"]),
                });
                let ok = state["status"] == "completed";
                if ok && WRITING_TOOLS.contains(&name.as_str()) {
                    if let Some(path) = state["input"]["filePath"].as_str() {
                        out.push(HarnessEvent::FileChanged {
                            path: path.to_string(),
                        });
                    }
                }
                let said = state["output"]
                    .as_str()
                    .or(state["error"].as_str())
                    .unwrap_or_default();
                out.push(HarnessEvent::ToolFinished {
                    id,
                    name,
                    summary: first_line(said, 120),
                    ok,
                });
            }
            Some("step_finish") => {
                self.last_turn = part["reason"].as_str().map(String::from);
            }
            Some("error") => {
                self.failed = true;
                let error = &v["error"];
                let why = error["data"]["message"]
                    .as_str()
                    .or(error["name"].as_str())
                    .unwrap_or("the run failed");
                out.push(HarnessEvent::Error {
                    message: format!("opencode failed: {}", first_line(why, 300)),
                });
            }
            _ => {}
        }
        out
    }

    fn finish(&mut self) -> Option<HarnessEvent> {
        if self.failed || !self.started {
            return None;
        }
        Some(match self.last_turn.as_deref() {
            Some("stop") => HarnessEvent::Finished {
                answer: self.last_text.take().unwrap_or_default(),
            },
            other => HarnessEvent::Error {
                message: format!(
                    "opencode stopped before its answer: its last turn ended with `{}` (a tool call it refused?)",
                    other.unwrap_or("nothing")
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(lines: &[&str]) -> (Vec<HarnessEvent>, Option<HarnessEvent>) {
        let mut d = OpencodeDecoder::default();
        let events = lines
            .iter()
            .enumerate()
            .flat_map(|(i, l)| d.line(i + 1, l))
            .collect();
        (events, d.finish())
    }

    #[test]
    fn a_run_decodes_to_events() {
        let (events, end) = decode(&[
            r#"{"type":"step_start","sessionID":"ses_1","part":{"type":"step-start"}}"#,
            r#"{"type":"text","sessionID":"ses_1","part":{"type":"text","text":"I'll write it."}}"#,
            r#"{"type":"tool_use","sessionID":"ses_1","part":{"type":"tool","tool":"write","callID":"c1","state":{"status":"completed","input":{"filePath":"notes/out.txt","content":"x"},"output":"Wrote file successfully.","metadata":{"filepath":"/workspace/notes/out.txt"}}}}"#,
            r#"{"type":"tool_use","sessionID":"ses_1","part":{"type":"tool","tool":"bash","callID":"c2","state":{"status":"error","input":{"command":"rm -rf /"},"error":"The user rejected permission to use this specific tool call."}}}"#,
            r#"{"type":"step_finish","sessionID":"ses_1","part":{"reason":"tool-calls","tokens":{"input":1234,"output":42},"cost":0}}"#,
            r#"{"type":"text","sessionID":"ses_1","part":{"type":"text","text":"done"}}"#,
            r#"{"type":"step_finish","sessionID":"ses_1","part":{"reason":"stop"}}"#,
        ]);
        assert_eq!(
            events,
            vec![
                HarnessEvent::Started {
                    session_id: Some("ses_1".into())
                },
                HarnessEvent::AssistantText {
                    text: "I'll write it.".into()
                },
                HarnessEvent::ToolStarted {
                    id: Some("c1".into()),
                    name: "write".into(),
                    summary: "notes/out.txt".into()
                },
                HarnessEvent::FileChanged {
                    path: "notes/out.txt".into()
                },
                HarnessEvent::ToolFinished {
                    id: Some("c1".into()),
                    name: "write".into(),
                    summary: "Wrote file successfully.".into(),
                    ok: true
                },
                HarnessEvent::ToolStarted {
                    id: Some("c2".into()),
                    name: "bash".into(),
                    summary: "rm -rf /".into()
                },
                HarnessEvent::ToolFinished {
                    id: Some("c2".into()),
                    name: "bash".into(),
                    summary: "The user rejected permission to use this specific tool call.".into(),
                    ok: false
                },
                HarnessEvent::AssistantText {
                    text: "done".into()
                },
            ]
        );
        assert_eq!(
            end,
            Some(HarnessEvent::Finished {
                answer: "done".into()
            })
        );
    }

    #[test]
    fn a_run_that_gave_up_on_a_refused_tool_call_has_failed() {
        let (_, end) = decode(&[
            r#"{"type":"text","sessionID":"ses_3","part":{"type":"text","text":"I'll run it."}}"#,
            r#"{"type":"tool_use","sessionID":"ses_3","part":{"type":"tool","tool":"bash","callID":"c1","state":{"status":"error","input":{"command":"make"},"error":"The user rejected permission to use this specific tool call."}}}"#,
            r#"{"type":"step_finish","sessionID":"ses_3","part":{"reason":"tool-calls"}}"#,
        ]);
        assert!(
            matches!(&end, Some(HarnessEvent::Error { message }) if message.contains("`tool-calls`")),
            "{end:?}"
        );
        let (_, nothing) = decode(&[]);
        assert_eq!(nothing, None, "no line at all: the exit says why");
    }

    #[test]
    fn an_api_error_ends_the_run() {
        let (events, end) = decode(&[
            r#"{"type":"error","sessionID":"ses_2","error":{"name":"APIError","data":{"message":"threadwork: agent `a` may not use model `big`","statusCode":403}}}"#,
        ]);
        assert!(
            matches!(&events[1], HarnessEvent::Error { message } if message == "opencode failed: threadwork: agent `a` may not use model `big`"),
            "{events:?}"
        );
        assert_eq!(end, None, "no answer after a failure");
    }
}
