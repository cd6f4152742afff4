//! Gemini CLI's `--output-format stream-json` → `HarnessEvent`s.
//!
//! Lines: `init` (session id), `message` (the user's prompt, and the assistant's text in
//! `delta` pieces), `tool_use` / `tool_result` (joined by `tool_id`), `error` (at severity
//! `error` the run has failed, whatever its `result` says: the CLI stops on too many turns
//! with a `result` of success), `result` (`status` success or error: the run is over). The
//! answer is the assistant's text after its last tool call.

use std::collections::HashMap;

use serde_json::Value;

use super::decode::{malformed, tool_summary, Decoder};
use super::HarnessEvent;
use crate::text::first_line;

/// Tools whose `file_path` input is a file they change.
const WRITING_TOOLS: &[&str] = &["write_file", "replace"];
/// Assistant text kept between two tool calls; the rest of a longer stretch is dropped.
const MAX_TEXT_BYTES: usize = 1024 * 1024;

#[derive(Default)]
pub struct GeminiDecoder {
    /// Tool names by tool id, for the finish events.
    tools: HashMap<String, String>,
    /// The assistant's text since the last tool call, as its pieces arrive.
    text: String,
    /// The last non-empty stretch of assistant text: the answer.
    last_text: Option<String>,
    /// What an `error` line said, for the failed `result` after it.
    error: Option<String>,
}

impl GeminiDecoder {
    /// The text gathered so far, as one event (and the answer so far).
    fn flush(&mut self) -> Option<HarnessEvent> {
        let text = std::mem::take(&mut self.text).trim().to_string();
        if text.is_empty() {
            return None;
        }
        self.last_text = Some(text.clone());
        Some(HarnessEvent::AssistantText { text })
    }
}

impl Decoder for GeminiDecoder {
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent> {
        if line.trim().is_empty() {
            return vec![];
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return vec![malformed("Gemini CLI", n, line)];
        };
        let mut out = vec![];
        match v["type"].as_str() {
            Some("init") => out.push(HarnessEvent::Started {
                session_id: v["session_id"].as_str().map(String::from),
            }),
            Some("message") if v["role"] == "assistant" => {
                let piece = v["content"].as_str().unwrap_or_default();
                if v["delta"] != true {
                    self.text.clear();
                }
                let room = MAX_TEXT_BYTES.saturating_sub(self.text.len());
                self.text.push_str(crate::text::truncate_bytes(piece, room));
            }
            Some("tool_use") => {
                out.extend(self.flush());
                let id = v["tool_id"].as_str().unwrap_or_default().to_string();
                let name = v["tool_name"].as_str().unwrap_or("tool").to_string();
                self.tools.insert(id.clone(), name.clone());
                out.push(HarnessEvent::ToolStarted {
                    id: Some(id),
                    name: name.clone(),
                    summary: tool_summary(&v["parameters"]),
                });
                if WRITING_TOOLS.contains(&name.as_str()) {
                    if let Some(path) = v["parameters"]["file_path"].as_str() {
                        out.push(HarnessEvent::FileChanged {
                            path: path.to_string(),
                        });
                    }
                }
            }
            Some("tool_result") => {
                let id = v["tool_id"].as_str().unwrap_or_default().to_string();
                let ok = v["status"] == "success";
                let said = match v["output"].as_str().filter(|o| !o.trim().is_empty()) {
                    Some(output) => output,
                    None => v["error"]["message"].as_str().unwrap_or_default(),
                };
                out.push(HarnessEvent::ToolFinished {
                    name: self.tools.remove(&id).unwrap_or("tool".into()),
                    id: Some(id),
                    summary: first_line(said, 120),
                    ok,
                });
            }
            Some("error") if v["severity"] == "error" => {
                self.error = v["message"].as_str().map(String::from);
            }
            Some("result") => {
                out.extend(self.flush());
                if v["status"] == "success" && self.error.is_none() {
                    out.push(HarnessEvent::Finished {
                        answer: self.last_text.take().unwrap_or_default(),
                    });
                } else {
                    let why = self
                        .error
                        .take()
                        .or(v["error"]["message"].as_str().map(String::from))
                        .unwrap_or_else(|| "the run failed".into());
                    out.push(HarnessEvent::Error {
                        message: format!("Gemini CLI failed: {}", first_line(&why, 300)),
                    });
                }
            }
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(lines: &[&str]) -> Vec<HarnessEvent> {
        super::super::decode::decode_all(&mut GeminiDecoder::default(), lines)
    }

    #[test]
    fn a_run_decodes_to_events() {
        let events = decode(&[
            r#"{"type":"init","timestamp":"t","session_id":"b043-76","model":"m"}"#,
            r#"{"type":"message","timestamp":"t","role":"user","content":"create hello.txt"}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"Writing ","delta":true}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"it.","delta":true}"#,
            r#"{"type":"tool_use","timestamp":"t","tool_name":"write_file","tool_id":"w1","parameters":{"file_path":"hello.txt","content":"hi"}}"#,
            r#"{"type":"tool_result","timestamp":"t","tool_id":"w1","status":"success","output":"Wrote hello.txt"}"#,
            r#"{"type":"tool_use","timestamp":"t","tool_name":"read_file","tool_id":"r1","parameters":{"file_path":"nope.txt"}}"#,
            r#"{"type":"tool_result","timestamp":"t","tool_id":"r1","status":"error","output":"","error":{"type":"file_not_found","message":"File not found: nope.txt"}}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"do","delta":true}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"ne","delta":true}"#,
            r#"{"type":"result","timestamp":"t","status":"success","stats":{"input_tokens":240,"output_tokens":14}}"#,
        ]);
        assert_eq!(
            events,
            vec![
                HarnessEvent::Started {
                    session_id: Some("b043-76".into())
                },
                HarnessEvent::AssistantText {
                    text: "Writing it.".into()
                },
                HarnessEvent::ToolStarted {
                    id: Some("w1".into()),
                    name: "write_file".into(),
                    summary: "hello.txt".into()
                },
                HarnessEvent::FileChanged {
                    path: "hello.txt".into()
                },
                HarnessEvent::ToolFinished {
                    id: Some("w1".into()),
                    name: "write_file".into(),
                    summary: "Wrote hello.txt".into(),
                    ok: true
                },
                HarnessEvent::ToolStarted {
                    id: Some("r1".into()),
                    name: "read_file".into(),
                    summary: "nope.txt".into()
                },
                HarnessEvent::ToolFinished {
                    id: Some("r1".into()),
                    name: "read_file".into(),
                    summary: "File not found: nope.txt".into(),
                    ok: false
                },
                HarnessEvent::AssistantText {
                    text: "done".into()
                },
                HarnessEvent::Finished {
                    answer: "done".into()
                },
            ]
        );
    }

    #[test]
    fn failures_say_why() {
        let api = decode(&[
            r#"{"type":"result","status":"error","error":{"type":"unknown","message":"[API Error: 403 PERMISSION_DENIED]"}}"#,
        ]);
        assert!(
            matches!(&api[..], [HarnessEvent::Error { message }] if message == "Gemini CLI failed: [API Error: 403 PERMISSION_DENIED]"),
            "{api:?}"
        );
        // The reason came on an earlier `error` line.
        let empty = decode(&[
            r#"{"type":"error","severity":"error","message":"The model returned an empty response."}"#,
            r#"{"type":"result","status":"error","stats":{}}"#,
        ]);
        assert!(
            matches!(&empty[..], [HarnessEvent::Error { message }] if message.contains("empty response")),
            "{empty:?}"
        );
        // The CLI stops on its turn limit with an error line, then a result of success.
        let turns = decode(&[
            r#"{"type":"message","role":"assistant","content":"Half way","delta":true}"#,
            r#"{"type":"error","severity":"error","message":"Maximum session turns exceeded"}"#,
            r#"{"type":"result","status":"success","stats":{}}"#,
        ]);
        assert!(
            matches!(turns.last(), Some(HarnessEvent::Error { message }) if message.contains("Maximum session turns")),
            "{turns:?}"
        );
        let broken = decode(&["Loaded cached credentials."]);
        assert!(
            matches!(&broken[..], [HarnessEvent::Error { message }] if message.contains("not JSON"))
        );
    }
}
