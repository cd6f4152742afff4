//! Claude Code's `--output-format stream-json` → `HarnessEvent`s.
//!
//! Lines: `system`/`init` (session id), `assistant` (text and `tool_use` blocks), `user`
//! (`tool_result` blocks), `result` (the final answer, or `is_error`).

use std::collections::HashMap;

use serde_json::Value;

use super::decode::{malformed, tool_summary, Decoder};
use super::HarnessEvent;
use crate::text::first_line;

/// Tools whose `file_path` input is a file they change.
const WRITING_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];

#[derive(Default)]
pub struct ClaudeDecoder {
    /// Tool names by tool_use id, for the finish events.
    tools: HashMap<String, String>,
}

impl Decoder for ClaudeDecoder {
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent> {
        if line.trim().is_empty() {
            return vec![];
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return vec![malformed("Claude Code", n, line)];
        };
        let mut out = vec![];
        match v["type"].as_str() {
            Some("system") if v["subtype"] == "init" => out.push(HarnessEvent::Started {
                session_id: v["session_id"].as_str().map(String::from),
            }),
            // The model API failed; Claude Code waits and tries again.
            Some("system") if v["subtype"] == "api_retry" => {
                let status = v["error_status"]
                    .as_u64()
                    .map_or_else(String::new, |s| format!(" {s}"));
                out.push(HarnessEvent::Retrying {
                    message: format!(
                        "model API error{status} ({}), attempt {} of {}",
                        first_line(v["error"].as_str().unwrap_or("no reason given"), 120),
                        v["attempt"].as_u64().unwrap_or(1),
                        v["max_retries"].as_u64().unwrap_or(0)
                    ),
                });
            }
            Some("assistant") => {
                for block in v
                    .pointer("/message/content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match block["type"].as_str() {
                        Some("text") => {
                            let text = block["text"].as_str().unwrap_or("").trim();
                            if !text.is_empty() {
                                out.push(HarnessEvent::AssistantText {
                                    text: text.to_string(),
                                });
                            }
                        }
                        Some("tool_use") => {
                            let id = block["id"].as_str().unwrap_or("").to_string();
                            let name = block["name"].as_str().unwrap_or("tool").to_string();
                            self.tools.insert(id.clone(), name.clone());
                            out.push(HarnessEvent::ToolStarted {
                                id: Some(id),
                                name: name.clone(),
                                summary: tool_summary(&block["input"]),
                            });
                            if WRITING_TOOLS.contains(&name.as_str()) {
                                if let Some(path) = block["input"]["file_path"].as_str() {
                                    out.push(HarnessEvent::FileChanged {
                                        path: path.to_string(),
                                    });
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some("user") => {
                for block in v
                    .pointer("/message/content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if block["type"] != "tool_result" {
                        continue;
                    }
                    let id = block["tool_use_id"].as_str().unwrap_or("").to_string();
                    let content = match &block["content"] {
                        Value::String(s) => s.clone(),
                        Value::Array(parts) => parts
                            .iter()
                            .filter_map(|p| p["text"].as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                        _ => String::new(),
                    };
                    out.push(HarnessEvent::ToolFinished {
                        name: self
                            .tools
                            .get(&id)
                            .cloned()
                            .unwrap_or_else(|| "tool".into()),
                        id: Some(id),
                        summary: first_line(&content, 120),
                        ok: block["is_error"] != true,
                    });
                }
            }
            Some("result") => {
                let text = v["result"].as_str().unwrap_or("").to_string();
                if v["is_error"] == true || v["subtype"].as_str().is_some_and(|s| s != "success") {
                    let why = if text.is_empty() {
                        v["subtype"].as_str().unwrap_or("error").to_string()
                    } else {
                        text
                    };
                    out.push(HarnessEvent::Error {
                        message: format!("Claude Code ended with an error: {why}"),
                    });
                } else {
                    out.push(HarnessEvent::Finished { answer: text });
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

    #[test]
    fn an_api_retry_is_reported() {
        let mut d = ClaudeDecoder::default();
        // As Claude Code 2.x prints it when the API answers 529.
        let line = r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":546,"error_status":529,"error":"overloaded","session_id":"s-9"}"#;
        assert_eq!(
            d.line(1, line),
            vec![HarnessEvent::Retrying {
                message: "model API error 529 (overloaded), attempt 1 of 10".into()
            }]
        );
    }

    #[test]
    fn a_run_decodes_to_events() {
        let mut d = ClaudeDecoder::default();
        let lines = [
            r#"{"type":"system","subtype":"init","session_id":"s-9","tools":["Bash"]}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"/workspace/a.txt","content":"x"}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"File created successfully","is_error":false}]}}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"result":"All done.","session_id":"s-9"}"#,
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
                    session_id: Some("s-9".into())
                },
                HarnessEvent::AssistantText {
                    text: "Looking.".into()
                },
                HarnessEvent::ToolStarted {
                    id: Some("t1".into()),
                    name: "Write".into(),
                    summary: "/workspace/a.txt".into()
                },
                HarnessEvent::FileChanged {
                    path: "/workspace/a.txt".into()
                },
                HarnessEvent::ToolFinished {
                    id: Some("t1".into()),
                    name: "Write".into(),
                    summary: "File created successfully".into(),
                    ok: true
                },
                HarnessEvent::Finished {
                    answer: "All done.".into()
                },
            ]
        );
    }

    #[test]
    fn errors_and_garbage() {
        let mut d = ClaudeDecoder::default();
        assert!(matches!(
            &d.line(1, r#"{"type":"result","subtype":"error_max_turns","is_error":true}"#)[0],
            HarnessEvent::Error { message } if message.contains("error_max_turns")
        ));
        assert!(matches!(
            &d.line(2, "Segmentation fault")[0],
            HarnessEvent::Error { message } if message.contains("not JSON") && message.contains("Segmentation fault")
        ));
    }
}
