//! GitHub Copilot CLI's `--output-format json` → `HarnessEvent`s.
//!
//! One event per line, `{"type", "data", …}`; of its many types these matter:
//! `assistant.message` (the main agent's text; a sub-agent's carries `agentId`),
//! `tool.execution_start` / `tool.execution_complete` (joined by `toolCallId`; the files a
//! tool edited are in `fileEdits`), `session.error` (why the run failed) and the last line,
//! `result` (the session id and the exit code). The answer is the main agent's last text.

use std::collections::HashMap;

use serde_json::Value;

use super::decode::{malformed, tool_summary, Decoder};
use super::HarnessEvent;
use crate::text::first_line;

#[derive(Default)]
pub struct CopilotDecoder {
    /// Tool names by call id, for the finish events.
    tools: HashMap<String, String>,
    last_text: Option<String>,
    error: Option<String>,
}

impl Decoder for CopilotDecoder {
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent> {
        if line.trim().is_empty() {
            return vec![];
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return vec![malformed("Copilot CLI", n, line)];
        };
        let data = &v["data"];
        let mut out = vec![];
        match v["type"].as_str() {
            Some("assistant.message") if v.get("agentId").is_none() => {
                let text = data["content"].as_str().unwrap_or_default().trim();
                if !text.is_empty() {
                    self.last_text = Some(text.to_string());
                    out.push(HarnessEvent::AssistantText {
                        text: text.to_string(),
                    });
                }
            }
            Some("tool.execution_start") => {
                let id = data["toolCallId"].as_str().unwrap_or_default().to_string();
                let name = data["toolName"].as_str().unwrap_or("tool").to_string();
                self.tools.insert(id.clone(), name.clone());
                out.push(HarnessEvent::ToolStarted {
                    id: Some(id),
                    name,
                    summary: tool_summary(&data["arguments"]),
                });
            }
            Some("tool.execution_complete") => {
                for edit in data["fileEdits"].as_array().into_iter().flatten() {
                    if let Some(path) = edit["path"].as_str() {
                        out.push(HarnessEvent::FileChanged {
                            path: path.to_string(),
                        });
                    }
                }
                let said = data["result"]["content"]
                    .as_str()
                    .filter(|c| !c.trim().is_empty())
                    .or(data["error"]["message"].as_str())
                    .unwrap_or_default();
                let id = data["toolCallId"].as_str().unwrap_or_default().to_string();
                out.push(HarnessEvent::ToolFinished {
                    name: self.tools.remove(&id).unwrap_or("tool".into()),
                    id: Some(id),
                    summary: first_line(said, 120),
                    ok: data["success"] == true,
                });
            }
            Some("session.info") if data["infoType"] == "model_retry" => {
                out.push(HarnessEvent::Retrying {
                    message: first_line(
                        data["message"].as_str().unwrap_or("a model API error"),
                        200,
                    ),
                });
            }
            // The first error is the cause; any error, whatever its shape, fails the run.
            Some("session.error") if self.error.is_none() => {
                let message = data["message"].as_str().unwrap_or("a session error");
                self.error = Some(message.to_string());
            }
            Some("result") => {
                out.push(HarnessEvent::Started {
                    session_id: v["sessionId"].as_str().map(String::from),
                });
                let why = self.error.take();
                out.push(match (v["exitCode"].as_i64(), why) {
                    (Some(0), None) => HarnessEvent::Finished {
                        answer: self.last_text.take().unwrap_or_default(),
                    },
                    (code, why) => HarnessEvent::Error {
                        message: format!(
                            "Copilot CLI failed: {}",
                            first_line(
                                &why.unwrap_or_else(|| format!(
                                    "it exited with code {}",
                                    code.unwrap_or(-1)
                                )),
                                300
                            )
                        ),
                    },
                });
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
        super::super::decode::decode_all(&mut CopilotDecoder::default(), lines)
    }

    #[test]
    fn a_model_retry_is_reported() {
        // As Copilot CLI 1.0 prints a transient API error it retries (`ephemeral` lines too).
        let events = decode(&[
            r#"{"type":"model.call_failure","data":{"model":"m","statusCode":529,"retryAttempt":0}}"#,
            r#"{"type":"session.info","data":{"infoType":"model_retry","message":"Request failed due to a transient API error. Retrying..."},"ephemeral":true}"#,
        ]);
        assert_eq!(
            events,
            vec![HarnessEvent::Retrying {
                message: "Request failed due to a transient API error. Retrying...".into()
            }]
        );
    }

    #[test]
    fn a_run_decodes_to_events() {
        let events = decode(&[
            r#"{"type":"session.tools_updated","data":{},"id":"e1"}"#,
            r#"{"type":"user.message","data":{"content":"create hello.txt"}}"#,
            r#"{"type":"assistant.message","data":{"content":"","toolRequests":[{"toolCallId":"t1","name":"bash"}]}}"#,
            r#"{"type":"tool.execution_start","data":{"toolCallId":"t1","toolName":"bash","arguments":{"command":"echo hi > hello.txt","description":"write it"}}}"#,
            r#"{"type":"tool.execution_complete","data":{"toolCallId":"t1","success":true,"result":{"content":"\n<shellId: 0 completed with exit code 0>"},"fileEdits":[{"path":"hello.txt","kind":"create"}]}}"#,
            r#"{"type":"assistant.message","agentId":"sub-1","data":{"content":"a sub-agent's note"}}"#,
            r#"{"type":"assistant.message","data":{"content":"done","toolRequests":[]}}"#,
            r#"{"type":"result","sessionId":"461b-105a","exitCode":0,"usage":{"premiumRequests":0}}"#,
        ]);
        assert_eq!(
            events,
            vec![
                HarnessEvent::ToolStarted {
                    id: Some("t1".into()),
                    name: "bash".into(),
                    summary: "echo hi > hello.txt".into()
                },
                HarnessEvent::FileChanged {
                    path: "hello.txt".into()
                },
                HarnessEvent::ToolFinished {
                    id: Some("t1".into()),
                    name: "bash".into(),
                    summary: "<shellId: 0 completed with exit code 0>".into(),
                    ok: true
                },
                HarnessEvent::AssistantText {
                    text: "done".into()
                },
                HarnessEvent::Started {
                    session_id: Some("461b-105a".into())
                },
                HarnessEvent::Finished {
                    answer: "done".into()
                },
            ]
        );
    }

    #[test]
    fn failures_say_why() {
        let events = decode(&[
            r#"{"type":"session.error","data":{"errorType":"model_call","message":"403 threadwork: agent `a` may not use model `big`"}}"#,
            r#"{"type":"result","sessionId":"s","exitCode":1}"#,
        ]);
        assert!(
            matches!(events.last(), Some(HarnessEvent::Error { message }) if message == "Copilot CLI failed: 403 threadwork: agent `a` may not use model `big`"),
            "{events:?}"
        );
        // An error line fails the run even when the exit code says 0.
        let quiet = decode(&[
            r#"{"type":"session.error","data":{"message":"Could not connect to local model provider"}}"#,
            r#"{"type":"result","sessionId":"s","exitCode":0}"#,
        ]);
        assert!(matches!(quiet.last(), Some(HarnessEvent::Error { .. })));
        // A later error without a message neither hides the first nor passes.
        let twice = decode(&[
            r#"{"type":"session.error","data":{"message":"403 refused"}}"#,
            r#"{"type":"session.error","data":{"message":null}}"#,
            r#"{"type":"result","sessionId":"s","exitCode":0}"#,
        ]);
        assert!(
            matches!(twice.last(), Some(HarnessEvent::Error { message }) if message.contains("403 refused")),
            "{twice:?}"
        );
        let coded = decode(&[r#"{"type":"result","exitCode":2}"#]);
        assert!(
            matches!(coded.last(), Some(HarnessEvent::Error { message }) if message.contains("exited with code 2")),
            "{coded:?}"
        );
    }
}
