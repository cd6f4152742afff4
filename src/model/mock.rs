//! A mock model API for tests and benchmarks: the Anthropic Messages API, the OpenAI
//! Responses API and Google's Gemini API, streaming (SSE) or not, replaying scripted steps, and
//! logging every request so a test can assert what reached the model.
//!
//! A step is CLI-neutral (`Shell`, `WriteFile`, `Text`); the mock turns it into a tool call
//! for whichever matching tool the request offers (Claude Code's `Bash`/`Write`, pi's
//! `bash`/`write`, Codex's shell function, Gemini CLI's `run_shell_command`/`write_file`). Each new user prompt in a conversation starts the
//! script over, so a resumed session gets a full answer and the log shows its earlier turns.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One scripted model turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// Run a shell command with the CLI's shell tool.
    Shell { command: String },
    /// Write a file with the CLI's file tool (or the shell where it has none).
    WriteFile { path: String, content: String },
    /// Answer with text and end the turn; `{tool_result}` in it becomes the text of the last
    /// tool result the CLI sent (so a test can see a tool's output reach the thread).
    Text { text: String },
    /// Call an offered tool by name, or by the end of its name after `__` (Claude Code offers
    /// MCP tools as `mcp__<server>__<tool>`).
    Tool { name: String, input: Value },
    /// Answer the request with an HTTP error in the API's own shape instead of a turn, `times`
    /// times (every time when absent); after that the script goes on with the next step. A
    /// CLI's retries and its error reporting are tested with it.
    Fail {
        status: u16,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        times: Option<u32>,
    },
}

/// The offered tool that `wanted` names, exactly or as the part after the server's name: the
/// CLIs offer MCP tools as `mcp__<server>__<tool>` (Claude Code), `mcp_<server>_<tool>` (Gemini
/// CLI), `<server>_<tool>` (opencode) or `<server>-<tool>` (Copilot CLI).
fn pick_tool<'a>(tools: &'a [(String, Value)], wanted: &str) -> Option<&'a (String, Value)> {
    let exact = tools.iter().find(|(n, _)| n == wanted);
    exact.or_else(|| {
        ["__", "_", "-"].iter().find_map(|sep| {
            let tail = format!("{sep}{wanted}");
            tools.iter().find(|(n, _)| n.ends_with(&tail))
        })
    })
}

/// A tool offered inside a Responses namespace tool (`{"name": ns, "tools": [...]}`), by its
/// own name: (namespace, tool).
fn namespaced_tool(body: &Value, wanted: &str) -> Option<(String, String)> {
    body["tools"].as_array()?.iter().find_map(|ns| {
        let namespace = ns["name"].as_str()?;
        ns["tools"].as_array()?.iter().find_map(|t| {
            let name = t["name"].as_str()?;
            (name == wanted).then(|| (namespace.to_string(), name.to_string()))
        })
    })
}

/// The text of the last tool result in a request (Anthropic `tool_result` blocks, or
/// Responses `function_call_output` items).
fn last_tool_result(body: &Value) -> String {
    let text_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    let anthropic = body["messages"].as_array().and_then(|ms| {
        ms.iter().rev().find_map(|m| {
            m["content"]
                .as_array()?
                .iter()
                .rev()
                .find_map(|b| (b["type"] == "tool_result").then(|| text_of(&b["content"])))
        })
    });
    let responses = || {
        body["input"].as_array().and_then(|items| {
            items
                .iter()
                .rev()
                .find(|i| i["type"] == "function_call_output")
                .map(|i| text_of(&i["output"]))
        })
    };
    let gemini = || {
        body["contents"].as_array().and_then(|cs| {
            cs.iter().rev().find_map(|c| {
                c["parts"].as_array()?.iter().rev().find_map(|p| {
                    let r = p.pointer("/functionResponse/response")?;
                    Some(
                        r["output"]
                            .as_str()
                            .map_or_else(|| r.to_string(), String::from),
                    )
                })
            })
        })
    };
    anthropic
        .or_else(responses)
        .or_else(gemini)
        .unwrap_or_default()
}

fn with_tool_result(text: &str, body: &Value) -> String {
    if text.contains("{tool_result}") {
        text.replace("{tool_result}", &last_tool_result(body))
    } else {
        text.to_string()
    }
}

/// What the mock received.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The query string, without its `?` (empty when there is none).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl LoggedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A script for the requests that contain every one of `contains` (anywhere in the request
/// body: the system prompt, the task, the conversation): how a test makes the model answer
/// differently to a different prompt (an amendment in force, a judge's question).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub contains: Vec<String>,
    pub script: Vec<Step>,
}

#[derive(Default)]
struct Shared {
    script: Mutex<Vec<Step>>,
    /// Checked in order before `script`; the first that matches a request answers it.
    rules: Mutex<Vec<Rule>>,
    /// How often each `Fail` step (by its script — 0 the main one, r + 1 rule r — and its index
    /// there) has answered.
    failed: Mutex<std::collections::HashMap<(usize, usize), u32>>,
    log: Mutex<Vec<LoggedRequest>>,
}

impl Shared {
    /// The rule whose words are all in `body`, by its index.
    fn rule_for(&self, body: &Value) -> Option<usize> {
        let rules = self.rules.lock().expect("rules lock");
        if rules.is_empty() {
            return None;
        }
        let text = body.to_string();
        rules
            .iter()
            .position(|r| r.contains.iter().all(|w| text.contains(w.as_str())))
    }

    /// True when `body` gets a scripted turn: it offers tools (a CLI's working turn), or a
    /// rule is about it. Other side requests (titles, summaries) get a short text.
    fn scripted(&self, body: &Value) -> bool {
        body["tools"].as_array().is_some_and(|t| !t.is_empty()) || self.rule_for(body).is_some()
    }

    /// The step of the main script for a conversation `done` assistant turns after its last
    /// prompt.
    #[cfg(test)]
    fn next_step(&self, done: usize) -> Step {
        self.next_step_in(None, done)
    }

    /// The step of rule `rule`'s script (or the main one) for a conversation `done`
    /// assistant turns after its last prompt. A `Fail` step makes no turn: it answers until
    /// its `times` are used up, then the next step does.
    fn next_step_in(&self, rule: Option<usize>, done: usize) -> Step {
        let script = match rule {
            Some(r) => self
                .rules
                .lock()
                .expect("rules lock")
                .get(r)
                .map(|r| r.script.clone())
                .unwrap_or_default(),
            None => self.script.lock().expect("script lock").clone(),
        };
        let key = rule.map_or(0, |r| r + 1);
        let mut failed = self.failed.lock().expect("failed lock");
        let mut turns = 0;
        for (i, step) in script.iter().enumerate() {
            if let Step::Fail { times, .. } = step {
                let served = failed.entry((key, i)).or_default();
                if turns == done && times.is_none_or(|t| *served < t) {
                    *served += 1;
                    return step.clone();
                }
            } else if turns == done {
                return step.clone();
            } else {
                turns += 1;
            }
        }
        Step::Text {
            text: "(the mock model's script is over)".into(),
        }
    }

    /// The next step for a request on `api`: a `Fail` step is already the answer.
    #[allow(clippy::result_large_err)] // the answer goes straight back to axum
    fn turn(&self, api: Api, body: &Value, done: usize) -> Result<Step, Response> {
        match self.next_step_in(self.rule_for(body), done) {
            Step::Fail {
                status, message, ..
            } => Err(failure(api, status, &message)),
            step => Ok(step),
        }
    }
}

#[derive(Clone)]
pub struct MockModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl MockModel {
    pub async fn start(addr: SocketAddr, script: Vec<Step>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script: Mutex::new(script),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/messages", post(anthropic_messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .route("/v1/responses", post(openai_responses))
            .route("/v1/models", get(models))
            .route("/v1beta/models", get(gemini_models))
            .route("/v1beta/models/{call}", post(gemini))
            .fallback(unknown)
            // The real APIs take requests of many megabytes (a long conversation).
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Scripts for requests that contain given words, checked before the main script.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.shared.rules.lock().expect("rules lock") = rules;
        self.shared.failed.lock().expect("failed lock").clear();
    }

    pub fn set_script(&self, script: Vec<Step>) {
        *self.shared.script.lock().expect("script lock") = script;
        self.shared.failed.lock().expect("failed lock").clear();
    }

    /// How many times `Fail` steps have answered so far.
    pub fn failures_served(&self) -> u32 {
        self.shared
            .failed
            .lock()
            .expect("failed lock")
            .values()
            .sum()
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().expect("log lock").clone()
    }
}

fn log(shared: &Shared, method: &str, uri: &Uri, headers: &HeaderMap, body: &Value) {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    shared.log.lock().expect("log lock").push(LoggedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers,
        body: body.clone(),
    });
}

async fn unknown(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    log(&shared, "?", &uri, &headers, &Value::Null);
    (
        StatusCode::NOT_FOUND,
        Json(json!({"type": "error", "error": {"type": "not_found_error", "message": format!("mock model: no route {}", uri.path())}})),
    )
        .into_response()
}

async fn models() -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [
            {"id": "mock-sonnet", "object": "model", "type": "model", "display_name": "Mock Sonnet", "created": 0, "owned_by": "threadwork"},
            {"id": "mock-gpt", "object": "model", "type": "model", "display_name": "Mock GPT", "created": 0, "owned_by": "threadwork"}
        ],
        "has_more": false
    }))
}

async fn count_tokens(body: Bytes) -> Json<Value> {
    Json(json!({"input_tokens": tokens(body.len())}))
}

fn tokens(bytes: usize) -> u64 {
    (bytes as u64 / 4).max(1)
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// The API a request came in on: each has its own error shape.
#[derive(Clone, Copy)]
enum Api {
    Anthropic,
    Responses,
    Gemini,
}

/// A scripted failure as the API would send it: Anthropic's `{"type":"error","error":{type,
/// message}}`, OpenAI's `{"error":{message,type,code}}`, Google's `{"error":{code,message,status}}`.
fn failure(api: Api, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match api {
        Api::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        Api::Responses => {
            let kind = match status {
                400..=499 => "invalid_request_error",
                _ => "server_error",
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
        }
        Api::Gemini => {
            let kind = match status {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                _ => "INTERNAL",
            };
            json!({"error": {"code": status, "message": message, "status": kind}})
        }
    };
    (code, Json(body)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages

/// Assistant turns after the last user message that is a prompt (not only tool results).
fn anthropic_done(body: &Value) -> usize {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let is_prompt = |m: &Value| {
        m["role"] == "user"
            && match &m["content"] {
                Value::String(_) => true,
                Value::Array(blocks) => !blocks.iter().any(|b| b["type"] == "tool_result"),
                _ => false,
            }
    };
    let start = messages.iter().rposition(is_prompt).unwrap_or(0);
    messages[start..]
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count()
}

fn tool_names(body: &Value, key: &str) -> Vec<(String, Value)> {
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| {
                    let name = t["name"].as_str()?.to_string();
                    Some((name, t.get(key).cloned().unwrap_or(Value::Null)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A content block for a step: text, or a tool_use for one of the offered tools.
fn anthropic_block(body: &Value, step: &Step, id: usize) -> Value {
    let tools = tool_names(body, "input_schema");
    let find = |names: &[&str]| {
        tools
            .iter()
            .find(|(n, _)| names.iter().any(|w| n.eq_ignore_ascii_case(w)))
            .cloned()
    };
    let tool_use = |name: String, input: Value| json!({"type": "tool_use", "id": format!("toolu_mock{id:04}"), "name": name, "input": input});
    match step {
        Step::Text { text } => json!({"type": "text", "text": with_tool_result(text, body)}),
        // The handler answers a failure before it builds a turn.
        Step::Fail { message, .. } => json!({"type": "text", "text": message}),
        Step::Tool { name, input } => match pick_tool(&tools, name) {
            Some((found, _)) => tool_use(found.clone(), input.clone()),
            None => json!({"type": "text", "text": format!("(no tool `{name}` offered)")}),
        },
        Step::Shell { command } => match find(&["bash"]) {
            Some((name, _)) => tool_use(
                name,
                json!({"command": command, "description": "scripted shell step"}),
            ),
            None => {
                json!({"type": "text", "text": format!("(no shell tool offered for `{command}`)")})
            }
        },
        Step::WriteFile { path, content } => match find(&["write"]) {
            Some((name, schema)) => {
                tool_use(name, json!({path_key(&schema): path, "content": content}))
            }
            None => match find(&["bash"]) {
                Some((name, _)) => tool_use(name, json!({"command": heredoc(path, content)})),
                None => json!({"type": "text", "text": "(no file tool offered)"}),
            },
        },
    }
}

/// The name a file tool gives its path input: `file_path` (Claude Code, Gemini CLI),
/// `filePath` (opencode) or `path` (pi).
fn path_key(schema: &Value) -> &'static str {
    ["file_path", "filePath"]
        .into_iter()
        .find(|k| schema.pointer(&format!("/properties/{k}")).is_some())
        .unwrap_or("path")
}

fn heredoc(path: &str, content: &str) -> String {
    format!("cat > '{path}' <<'THREADWORK_EOF'\n{content}\nTHREADWORK_EOF")
}

fn sse(events: &[(&str, Value)]) -> Response {
    let mut out = String::new();
    for (name, data) in events {
        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from(out))
        .expect("static response")
}

async fn anthropic_messages(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = parse(&raw);
    log(&shared, "POST", &uri, &headers, &body);
    let model = body["model"].as_str().unwrap_or("mock").to_string();
    // Side requests without tools (titles, summaries) get a short text and leave the script.
    let step = if shared.scripted(&body) {
        match shared.turn(Api::Anthropic, &body, anthropic_done(&body)) {
            Ok(step) => step,
            Err(failed) => return failed,
        }
    } else {
        Step::Text { text: "ok".into() }
    };
    let n = shared.log.lock().expect("log lock").len();
    let block = anthropic_block(&body, &step, n);
    let stop_reason = if block["type"] == "tool_use" {
        "tool_use"
    } else {
        "end_turn"
    };
    let input_tokens = tokens(raw.len());
    let output_tokens = tokens(block.to_string().len());
    let id = format!("msg_mock{n:04}");
    if body["stream"] != true {
        return Json(json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [block], "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}
        }))
        .into_response();
    }
    let start_block = match block["type"].as_str() {
        Some("tool_use") => {
            json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}})
        }
        _ => json!({"type": "text", "text": ""}),
    };
    let delta = match block["type"].as_str() {
        Some("tool_use") => {
            json!({"type": "input_json_delta", "partial_json": block["input"].to_string()})
        }
        _ => json!({"type": "text_delta", "text": block["text"]}),
    };
    sse(&[
        (
            "message_start",
            json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start_block}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": output_tokens}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ])
}

// ---------------------------------------------------------------------------------------------
// OpenAI Responses

/// Model turns (function calls, assistant messages) after the last user message.
fn responses_done(body: &Value) -> usize {
    let items = match &body["input"] {
        Value::Array(items) => items.clone(),
        _ => vec![],
    };
    let start = items
        .iter()
        .rposition(|i| i["role"] == "user")
        .map(|i| i + 1)
        .unwrap_or(0);
    items[start..]
        .iter()
        .filter(|i| i["type"] == "function_call" || i["role"] == "assistant")
        .count()
}

/// An output item for a step: a message, or a function call to the offered shell tool.
fn responses_item(body: &Value, step: &Step, n: usize) -> Value {
    let tools = tool_names(body, "parameters");
    let shell = tools.iter().find(|(name, _)| {
        ["exec_command", "shell", "local_shell", "bash"]
            .iter()
            .any(|w| name.eq_ignore_ascii_case(w))
    });
    let call = |command: String| match shell {
        Some((name, params)) => {
            let args = if params.pointer("/properties/cmd").is_some() {
                json!({"cmd": command})
            } else if params.pointer("/properties/command/type") == Some(&json!("array")) {
                json!({"command": ["bash", "-lc", command]})
            } else {
                json!({"command": command})
            };
            json!({"type": "function_call", "id": format!("fc_mock{n:04}"), "call_id": format!("call_mock{n:04}"),
                   "name": name, "arguments": args.to_string(), "status": "completed"})
        }
        None => message_item(n, &format!("(no shell tool offered for `{command}`)")),
    };
    match step {
        Step::Text { text } => message_item(n, &with_tool_result(text, body)),
        Step::Fail { message, .. } => message_item(n, message),
        Step::Tool { name, input } => {
            let mut item = json!({"type": "function_call", "id": format!("fc_mock{n:04}"), "call_id": format!("call_mock{n:04}"),
                                  "arguments": input.to_string(), "status": "completed"});
            match (pick_tool(&tools, name), namespaced_tool(body, name)) {
                (Some((found, _)), _) => item["name"] = json!(found),
                // Codex offers an MCP server's tools inside a namespace tool.
                (None, Some((namespace, tool))) => {
                    item["name"] = json!(tool);
                    item["namespace"] = json!(namespace);
                }
                (None, None) => return message_item(n, &format!("(no tool `{name}` offered)")),
            }
            item
        }
        Step::Shell { command } => call(command.clone()),
        Step::WriteFile { path, content } => call(heredoc(path, content)),
    }
}

fn message_item(n: usize, text: &str) -> Value {
    json!({"type": "message", "id": format!("msg_mock{n:04}"), "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

async fn openai_responses(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = parse(&raw);
    log(&shared, "POST", &uri, &headers, &body);
    let model = body["model"].as_str().unwrap_or("mock").to_string();
    let step = if shared.scripted(&body) {
        match shared.turn(Api::Responses, &body, responses_done(&body)) {
            Ok(step) => step,
            Err(failed) => return failed,
        }
    } else {
        Step::Text { text: "ok".into() }
    };
    let n = shared.log.lock().expect("log lock").len();
    let item = responses_item(&body, &step, n);
    let usage = json!({
        "input_tokens": tokens(raw.len()), "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": tokens(item.to_string().len()), "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": tokens(raw.len()) + tokens(item.to_string().len())
    });
    let id = format!("resp_mock{n:04}");
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": id, "object": "response", "created_at": 0, "status": status, "model": model,
               "output": output, "usage": usage})
    };
    if body["stream"] != true {
        return Json(response("completed", json!([item]), usage)).into_response();
    }
    let mut events = vec![
        (
            "response.created",
            json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress", json!([]), Value::Null)}),
        ),
        (
            "response.in_progress",
            json!({"type": "response.in_progress", "sequence_number": 1, "response": response("in_progress", json!([]), Value::Null)}),
        ),
    ];
    let mut added = item.clone();
    if item["type"] == "message" {
        added["status"] = json!("in_progress");
        added["content"] = json!([]);
    }
    events.push((
        "response.output_item.added",
        json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": added}),
    ));
    if item["type"] == "message" {
        let text = item["content"][0]["text"].clone();
        events.push((
            "response.content_part.added",
            json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": item["id"], "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        ));
        events.push((
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": item["id"], "output_index": 0, "content_index": 0, "delta": text}),
        ));
        events.push((
            "response.output_text.done",
            json!({"type": "response.output_text.done", "sequence_number": 5, "item_id": item["id"], "output_index": 0, "content_index": 0, "text": text}),
        ));
        events.push((
            "response.content_part.done",
            json!({"type": "response.content_part.done", "sequence_number": 6, "item_id": item["id"], "output_index": 0, "content_index": 0,
                   "part": item["content"][0]}),
        ));
    } else {
        events.push((
            "response.function_call_arguments.delta",
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 3, "item_id": item["id"], "output_index": 0, "delta": item["arguments"]}),
        ));
        events.push((
            "response.function_call_arguments.done",
            json!({"type": "response.function_call_arguments.done", "sequence_number": 4, "item_id": item["id"], "output_index": 0, "arguments": item["arguments"]}),
        ));
    }
    events.push((
        "response.output_item.done",
        json!({"type": "response.output_item.done", "sequence_number": 7, "output_index": 0, "item": item}),
    ));
    events.push((
        "response.completed",
        json!({"type": "response.completed", "sequence_number": 8, "response": response("completed", json!([item]), usage)}),
    ));
    sse(&events)
}

// ---------------------------------------------------------------------------------------------
// Google Gemini API

async fn gemini_models() -> Json<Value> {
    Json(
        json!({"models": [{"name": "models/mock-gemini", "displayName": "Mock Gemini",
        "supportedGenerationMethods": ["generateContent", "countTokens"]}]}),
    )
}

/// Model turns after the last user content that is a prompt (not only function responses).
fn gemini_done(body: &Value) -> usize {
    let contents = body["contents"].as_array().cloned().unwrap_or_default();
    let is_prompt = |c: &Value| {
        c["role"] == "user"
            && c["parts"]
                .as_array()
                .is_some_and(|ps| !ps.iter().any(|p| p.get("functionResponse").is_some()))
    };
    let start = contents.iter().rposition(is_prompt).unwrap_or(0);
    contents[start..]
        .iter()
        .filter(|c| c["role"] == "model")
        .count()
}

/// The declared functions: (name, parameter schema).
fn gemini_tools(body: &Value) -> Vec<(String, Value)> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["functionDeclarations"].as_array())
        .flatten()
        .filter_map(|f| {
            let schema = f
                .get("parametersJsonSchema")
                .or_else(|| f.get("parameters"))
                .cloned()
                .unwrap_or(Value::Null);
            Some((f["name"].as_str()?.to_string(), schema))
        })
        .collect()
}

/// A content part for a step: text, or a function call to one of the declared functions.
fn gemini_part(body: &Value, step: &Step) -> Value {
    let tools = gemini_tools(body);
    let find = |names: &[&str]| {
        tools
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .cloned()
    };
    let call = |name: String, args: Value| json!({"functionCall": {"name": name, "args": args}});
    let shell = |command: String| match find(&["run_shell_command", "shell", "bash"]) {
        Some((name, _)) => call(name, json!({"command": command})),
        None => json!({"text": format!("(no shell tool offered for `{command}`)")}),
    };
    match step {
        Step::Text { text } => json!({"text": with_tool_result(text, body)}),
        Step::Fail { message, .. } => json!({"text": message}),
        Step::Tool { name, input } => match pick_tool(&tools, name) {
            Some((found, _)) => call(found.clone(), input.clone()),
            None => json!({"text": format!("(no tool `{name}` offered)")}),
        },
        Step::Shell { command } => shell(command.clone()),
        Step::WriteFile { path, content } => match find(&["write_file", "write"]) {
            Some((name, schema)) => {
                call(name, json!({path_key(&schema): path, "content": content}))
            }
            None => shell(heredoc(path, content)),
        },
    }
}

/// `POST /v1beta/models/<model>:<action>`: generateContent, streamGenerateContent (SSE with
/// `alt=sse`, else a JSON array) and countTokens.
async fn gemini(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(call): axum::extract::Path<String>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = parse(&raw);
    log(&shared, "POST", &uri, &headers, &body);
    let Some((model, action)) = call.split_once(':') else {
        return unknown(State(shared), uri, headers).await;
    };
    if action == "countTokens" {
        return Json(json!({"totalTokens": tokens(raw.len())})).into_response();
    }
    let config = &body["generationConfig"];
    let wants_json = config.get("responseJsonSchema").is_some()
        || config.get("responseSchema").is_some()
        || config["responseMimeType"] == "application/json";
    let part = if wants_json {
        // The CLI's own side questions (is it the user's turn?) want JSON, not the script.
        json!({"text": json!({"reasoning": "the mock's turn is over", "next_speaker": "user"}).to_string()})
    } else if shared.scripted(&body) {
        match shared.turn(Api::Gemini, &body, gemini_done(&body)) {
            Ok(step) => gemini_part(&body, &step),
            Err(failed) => return failed,
        }
    } else {
        json!({"text": "ok"})
    };
    let n = shared.log.lock().expect("log lock").len();
    let output = tokens(part.to_string().len());
    let answer = json!({
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": tokens(raw.len()), "candidatesTokenCount": output,
                          "totalTokenCount": tokens(raw.len()) + output},
        "modelVersion": model,
        "responseId": format!("mock{n:04}")
    });
    match action {
        "generateContent" => Json(answer).into_response(),
        "streamGenerateContent" if uri.query().is_some_and(|q| q.contains("alt=sse")) => {
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/event-stream")
                .body(Body::from(format!("data: {answer}\r\n\r\n")))
                .expect("static response")
        }
        "streamGenerateContent" => Json(json!([answer])).into_response(),
        _ => unknown(State(shared), uri, headers).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_prompt_restarts_the_script() {
        let body = json!({"messages": [
            {"role": "user", "content": "first task"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "ok"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
        ]});
        assert_eq!(anthropic_done(&body), 2);
        let mut follow = body.clone();
        follow["messages"]
            .as_array_mut()
            .unwrap()
            .push(json!({"role": "user", "content": [{"type": "text", "text": "again"}]}));
        assert_eq!(anthropic_done(&follow), 0);
    }

    #[test]
    fn a_failure_answers_its_times_then_the_script_goes_on() {
        let text = |t: &str| Step::Text { text: t.into() };
        let fail = |times| Step::Fail {
            status: 529,
            message: "overloaded".into(),
            times,
        };
        let shared = Shared {
            script: Mutex::new(vec![fail(Some(2)), text("one"), fail(None), text("never")]),
            ..Shared::default()
        };
        assert!(matches!(shared.next_step(0), Step::Fail { .. }));
        assert!(matches!(shared.next_step(0), Step::Fail { .. }));
        assert_eq!(shared.next_step(0), text("one"));
        // A new prompt starts the script over, and the used-up failure stays used up.
        assert_eq!(shared.next_step(0), text("one"));
        for _ in 0..5 {
            assert!(matches!(shared.next_step(1), Step::Fail { .. }));
        }
        let body: Value = serde_json::from_slice(
            &futures::executor::block_on(axum::body::to_bytes(
                failure(Api::Gemini, 503, "busy").into_body(),
                1 << 16,
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(body["error"]["status"], "UNAVAILABLE");
    }

    #[test]
    fn steps_use_the_offered_tools() {
        let claude = json!({"tools": [
            {"name": "Bash", "input_schema": {"properties": {"command": {}}}},
            {"name": "Write", "input_schema": {"properties": {"file_path": {}, "content": {}}}}
        ]});
        let b = anthropic_block(
            &claude,
            &Step::WriteFile {
                path: "/workspace/a.txt".into(),
                content: "x".into(),
            },
            1,
        );
        assert_eq!(b["name"], "Write");
        assert_eq!(b["input"]["file_path"], "/workspace/a.txt");
        let pi = json!({"tools": [{"name": "bash", "input_schema": {}}, {"name": "write", "input_schema": {"properties": {"path": {}}}}]});
        let b = anthropic_block(
            &pi,
            &Step::Shell {
                command: "ls".into(),
            },
            2,
        );
        assert_eq!(b["name"], "bash");
        assert_eq!(b["input"]["command"], "ls");
        let codex = json!({"tools": [{"type": "function", "name": "shell", "parameters": {"properties": {"command": {"type": "array"}}}}]});
        let i = responses_item(
            &codex,
            &Step::Shell {
                command: "ls".into(),
            },
            3,
        );
        assert_eq!(i["name"], "shell");
        let args: Value = serde_json::from_str(i["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args["command"], json!(["bash", "-lc", "ls"]));
    }

    #[test]
    fn tool_steps_find_mcp_tools_by_their_last_part_and_echo_results() {
        let body = json!({
            "tools": [{"name": "Bash", "input_schema": {}}, {"name": "mcp__everything__echo", "input_schema": {}}],
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "mcp__everything__echo", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": [{"type": "text", "text": "Echo: hi"}]}]}
            ]
        });
        let step = Step::Tool {
            name: "echo".into(),
            input: json!({"message": "hi"}),
        };
        let block = anthropic_block(&body, &step, 1);
        assert_eq!(block["name"], "mcp__everything__echo");
        assert_eq!(block["input"]["message"], "hi");
        let missing = Step::Tool {
            name: "nope".into(),
            input: json!({}),
        };
        assert_eq!(
            anthropic_block(&body, &missing, 1)["text"],
            "(no tool `nope` offered)"
        );
        let text = Step::Text {
            text: "said: {tool_result}".into(),
        };
        assert_eq!(anthropic_block(&body, &text, 1)["text"], "said: Echo: hi");
        let responses =
            json!({"input": [{"type": "function_call_output", "call_id": "c", "output": "42"}]});
        assert_eq!(last_tool_result(&responses), "42");
        let codex = json!({"tools": [{"name": "mcp__everything", "tools": [{"type": "function", "name": "echo"}]}]});
        let item = responses_item(&codex, &step, 2);
        assert_eq!(item["name"], "echo");
        assert_eq!(item["namespace"], "mcp__everything");
    }

    #[test]
    fn responses_count_turns_after_the_last_user_message() {
        let body = json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<env>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "task"}]},
            {"type": "function_call", "name": "shell", "call_id": "c1", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ]});
        assert_eq!(responses_done(&body), 1);
    }
}
