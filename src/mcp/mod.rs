//! MCP tools for agents, through a gateway the bot runs.
//!
//! The admin defines servers under `[mcp.<name>]` (a stdio command or a streamable-HTTP URL,
//! with its environment or headers held as secrets, and optional tool allow/deny lists); an
//! agent's prompt file lists the servers its jobs may use (`mcp: [name]`). The bot runs the
//! servers outside the sandbox and re-exposes each to a job at
//! `<model base>/mcp/<server>` on the model proxy's listener, so a sandbox reaches its tools
//! over the same restricted path as its model, under the job's token, and no credential
//! enters the container. Every call is checked against the lists and recorded.
//!
//! This module holds the configuration and the pure decisions; `gateway` does the I/O.

pub mod gateway;

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// One MCP server the bot may run for agents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// A program speaking MCP on stdio, started by the bot.
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The program's environment beside `PATH`, `HOME` and `LANG` (nothing else of the bot's
    /// environment reaches it); values are secrets.
    #[serde(default)]
    pub env: BTreeMap<String, SecretString>,
    /// A streamable-HTTP MCP endpoint, instead of `command`.
    pub url: Option<String>,
    /// Headers sent to `url` (e.g. `Authorization`); values are secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, SecretString>,
    /// Only these tools are offered (empty: all the server has).
    #[serde(default)]
    pub allow: Vec<String>,
    /// These tools are never offered, and a call to one is refused.
    #[serde(default)]
    pub deny: Vec<String>,
    /// The longest one tool call may take.
    #[serde(default = "default_call_timeout")]
    pub timeout_secs: u64,
}

fn default_call_timeout() -> u64 {
    120
}

/// A server definition that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[mcp.{server}]: {message}")]
pub struct McpConfigError {
    pub server: String,
    pub message: String,
}

/// Checks every `[mcp.*]` table: a usable name, and exactly one of `command` and `url`.
pub fn validate(servers: &BTreeMap<String, ServerConfig>) -> Result<(), McpConfigError> {
    for (name, s) in servers {
        let err = |message: &str| McpConfigError {
            server: name.clone(),
            message: message.to_string(),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err(
                "use letters, digits, `-` and `_` in server names (they become URL paths)",
            ));
        }
        match (&s.command, &s.url) {
            (Some(_), Some(_)) => return Err(err("give `command` or `url`, not both")),
            (None, None) => {
                return Err(err(
                    "give `command` (a stdio server) or `url` (a streamable-HTTP server)",
                ))
            }
            (None, Some(u)) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(err("`url` must start with http:// or https://"))
            }
            (Some(c), None) if c.trim().is_empty() => return Err(err("`command` is empty")),
            _ => {}
        }
        if s.command.is_some() && !s.headers.is_empty() {
            return Err(err("`headers` apply to `url` servers only; use `env`"));
        }
    }
    Ok(())
}

/// The first server an agent names that `configured` does not know.
pub fn unconfigured(named: &[String], configured: impl Fn(&str) -> bool) -> Option<&str> {
    named.iter().map(String::as_str).find(|s| !configured(s))
}

/// Every secret value of the servers (for redaction).
pub fn secret_values(servers: &BTreeMap<String, ServerConfig>) -> Vec<String> {
    servers
        .values()
        .flat_map(|s| s.env.values().chain(s.headers.values()))
        .map(|v| v.expose_secret().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Why an agent may not see or call a tool; its words are what the agent reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the tool `{tool}` of MCP server `{server}` is denied by the bot's administrator")]
    Denied { server: String, tool: String },
    #[error("the tool `{tool}` of MCP server `{server}` is not among its allowed tools ({})", .allowed.join(", "))]
    NotAllowed {
        server: String,
        tool: String,
        allowed: Vec<String>,
    },
}

/// Whether the server's lists let an agent see and call `tool`.
pub fn permitted(server: &str, config: &ServerConfig, tool: &str) -> Result<(), Denied> {
    if config.deny.iter().any(|d| d == tool) {
        return Err(Denied::Denied {
            server: server.to_string(),
            tool: tool.to_string(),
        });
    }
    if !config.allow.is_empty() && !config.allow.iter().any(|a| a == tool) {
        return Err(Denied::NotAllowed {
            server: server.to_string(),
            tool: tool.to_string(),
            allowed: config.allow.clone(),
        });
    }
    Ok(())
}

/// One tool call through the gateway, as the job's transcript and audit record keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub server: String,
    pub tool: String,
    /// The arguments as JSON (secrets masked by the bot before anything is stored).
    pub arguments: String,
    pub duration_ms: u64,
    /// `ok`, `error: …` (the server's or the transport's) or `denied: …`.
    pub outcome: String,
}

/// The URLs a job's harness is given: `<model base>/mcp/<server>` for each of its servers.
pub fn endpoints(model_base: &str, servers: &[String]) -> Vec<(String, String)> {
    servers
        .iter()
        .map(|s| (s.clone(), format!("{model_base}/mcp/{s}")))
        .collect()
}

/// `{"<name>": "<url>", …}`: the `THREADWORK_MCP_SERVERS` variable of every harness.
pub fn servers_json(endpoints: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = endpoints
        .iter()
        .map(|(n, u)| (n.clone(), serde_json::Value::String(u.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Claude Code's `--mcp-config` JSON: each server as a streamable-HTTP (`http`) server.
pub fn claude_config(endpoints: &[(String, String)]) -> String {
    let servers: serde_json::Map<String, serde_json::Value> = endpoints
        .iter()
        .map(|(n, u)| (n.clone(), serde_json::json!({"type": "http", "url": u})))
        .collect();
    serde_json::json!({ "mcpServers": servers }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(toml_text: &str) -> BTreeMap<String, ServerConfig> {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_server_is_a_command_or_a_url() {
        assert!(validate(&server("[a]\ncommand = \"node\"\nargs = [\"x.js\"]\n")).is_ok());
        assert!(validate(&server("[a]\nurl = \"http://tools:8080/mcp\"\n")).is_ok());
        let both = validate(&server("[a]\ncommand = \"node\"\nurl = \"http://x\"\n"));
        assert_eq!(
            both.unwrap_err().to_string(),
            "[mcp.a]: give `command` or `url`, not both"
        );
        assert!(validate(&server("[a]\nallow = [\"x\"]\n")).is_err());
        assert!(validate(&server("[a]\nurl = \"ftp://x\"\n")).is_err());
        assert!(validate(&server("[\"a b\"]\ncommand = \"x\"\n")).is_err());
        assert!(validate(&server(
            "[a]\ncommand = \"x\"\nheaders = { Authorization = \"t\" }\n"
        ))
        .is_err());
    }

    #[test]
    fn deny_wins_and_allow_narrows() {
        let s =
            server("[a]\ncommand = \"x\"\nallow = [\"echo\", \"get-env\"]\ndeny = [\"get-env\"]\n");
        let a = &s["a"];
        assert!(permitted("a", a, "echo").is_ok());
        assert!(permitted("a", a, "get-env")
            .unwrap_err()
            .to_string()
            .contains("denied"));
        assert!(permitted("a", a, "get-sum")
            .unwrap_err()
            .to_string()
            .contains("not among its allowed tools (echo, get-env)"));
        let open = server("[a]\ncommand = \"x\"\n");
        assert!(permitted("a", &open["a"], "anything").is_ok());
    }

    #[test]
    fn secrets_and_endpoints() {
        let s = server("[a]\ncommand = \"x\"\nenv = { TOKEN = \"s3cret\", EMPTY = \"\" }\n[b]\nurl = \"http://x\"\nheaders = { Authorization = \"Bearer t0k\" }\n");
        assert_eq!(secret_values(&s), vec!["s3cret", "Bearer t0k"]);
        assert_eq!(
            endpoints("http://model:8080/t/abc", &["a".into()]),
            vec![("a".to_string(), "http://model:8080/t/abc/mcp/a".to_string())]
        );
        let e = vec![("fs".to_string(), "http://m/t/x/mcp/fs".to_string())];
        assert_eq!(servers_json(&e), r#"{"fs":"http://m/t/x/mcp/fs"}"#);
        assert_eq!(
            claude_config(&e),
            r#"{"mcpServers":{"fs":{"type":"http","url":"http://m/t/x/mcp/fs"}}}"#
        );
    }
}
