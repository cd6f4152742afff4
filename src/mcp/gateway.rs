//! The gateway: the configured MCP servers, run by the bot (rmcp clients: a child process on
//! stdio, or streamable HTTP), each re-exposed per job as a streamable-HTTP MCP endpoint
//! (rmcp server) that offers only the permitted tools and records every call.
//!
//! Each agent gets its own connection to a server (its own child process, for a stdio one):
//! what one agent's jobs leave in a server's state, another agent's jobs do not see.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::{Peer, RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};
use secrecy::ExposeSecret;

use super::{permitted, ServerConfig, ToolCall};

/// Where a job's tool calls go: the bot keeps them in the transcript and the audit trail.
pub type Recorder = Arc<dyn Fn(ToolCall) + Send + Sync>;

/// What one job may reach through the gateway.
#[derive(Clone)]
pub struct JobTools {
    /// The job's agent: whose connections to the servers it uses.
    pub agent: String,
    /// The agent's servers; others answer 404.
    pub servers: Vec<String>,
    pub recorder: Recorder,
}

impl std::fmt::Debug for JobTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobTools")
            .field("agent", &self.agent)
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

/// The configured servers; a connection per (agent, server), made on first use and again
/// when it dies.
pub struct Gateway {
    configs: BTreeMap<String, ServerConfig>,
    upstreams: std::sync::Mutex<HashMap<(String, String), Arc<Upstream>>>,
}

impl Gateway {
    pub fn new(servers: &BTreeMap<String, ServerConfig>) -> Self {
        Self {
            configs: servers.clone(),
            upstreams: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn has(&self, server: &str) -> bool {
        self.configs.contains_key(server)
    }

    /// `agent`'s connection to `server` (not yet connected when new).
    fn upstream(&self, agent: &str, server: &str) -> Option<Arc<Upstream>> {
        let config = self.configs.get(server)?;
        let mut upstreams = self.upstreams.lock().expect("upstreams lock");
        Some(
            upstreams
                .entry((agent.to_string(), server.to_string()))
                .or_insert_with(|| {
                    Arc::new(Upstream {
                        name: server.to_string(),
                        config: config.clone(),
                        client: tokio::sync::Mutex::new(None),
                    })
                })
                .clone(),
        )
    }

    /// How many connections the gateway holds or will make: one per (agent, server) used.
    pub fn connections(&self) -> usize {
        self.upstreams.lock().expect("upstreams lock").len()
    }

    /// Connects to `server` and counts its tools: (all, offered to agents). For `doctor`.
    pub async fn probe(&self, server: &str) -> Result<(usize, usize), UpstreamError> {
        let upstream = self
            .upstream("", server)
            .ok_or_else(|| UpstreamError::Unknown(server.to_string()))?;
        let tools = upstream
            .peer()
            .await?
            .list_all_tools()
            .await
            .map_err(|e| UpstreamError::ListTools(server.to_string(), e.to_string()))?;
        let offered = tools
            .iter()
            .filter(|t| permitted(server, &upstream.config, &t.name).is_ok())
            .count();
        Ok((tools.len(), offered))
    }

    /// Serves one MCP HTTP request of a job for `server` (stateless: every request stands
    /// alone, so nothing is kept between a job's requests but the upstream connection).
    pub async fn serve(&self, tools: &JobTools, server: &str, request: Request<Body>) -> Response {
        let allowed = tools.servers.iter().any(|s| s == server);
        let upstream = match allowed
            .then(|| self.upstream(&tools.agent, server))
            .flatten()
        {
            Some(u) => u,
            None => {
                return (
                    axum::http::StatusCode::NOT_FOUND,
                    format!("MCP server `{server}` is not available to this job"),
                )
                    .into_response()
            }
        };
        let handler = GatewayHandler {
            upstream,
            recorder: tools.recorder.clone(),
        };
        let mut config = StreamableHttpServerConfig::default();
        config.legacy_session_mode = false;
        config.json_response = true;
        config.sse_keep_alive = None;
        // The job token in the path is the access check; the Host a sandbox uses varies
        // (a bridge address, a Service name).
        let config = config.disable_allowed_hosts();
        let service = StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        service.handle(request).await.into_response()
    }
}

/// One configured server and the bot's connection to it.
struct Upstream {
    name: String,
    config: ServerConfig,
    client: tokio::sync::Mutex<Option<RunningService<RoleClient, ()>>>,
}

/// Why an upstream MCP server cannot be reached; the words go to `doctor` and the agent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("no MCP server `{0}`")]
    Unknown(String),
    #[error("cannot start MCP server `{server}` ({program}): {error}")]
    Start {
        server: String,
        program: String,
        error: String,
    },
    #[error("MCP server `{server}`: header `{header}`: {why}")]
    Header {
        server: String,
        header: String,
        why: String,
    },
    #[error("MCP server `{0}` has no command or url")]
    NoEndpoint(String),
    #[error("MCP server `{0}` did not initialize: {1}")]
    Initialize(String, String),
    #[error("MCP server `{0}` did not list its tools: {1}")]
    ListTools(String, String),
}

impl Upstream {
    /// The live connection, started (again) when there is none.
    async fn peer(&self) -> Result<Peer<RoleClient>, UpstreamError> {
        let mut client = self.client.lock().await;
        if let Some(c) = client.as_ref() {
            if !c.is_transport_closed() {
                return Ok(c.peer().clone());
            }
            tracing::warn!(server = %self.name, "MCP server connection closed; reconnecting");
        }
        let running = self.connect().await?;
        let peer = running.peer().clone();
        *client = Some(running);
        Ok(peer)
    }

    async fn connect(&self) -> Result<RunningService<RoleClient, ()>, UpstreamError> {
        let name = &self.name;
        let started = match (&self.config.command, &self.config.url) {
            (Some(program), _) => {
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(&self.config.args).env_clear();
                for key in ["PATH", "HOME", "LANG"] {
                    if let Ok(v) = std::env::var(key) {
                        cmd.env(key, v);
                    }
                }
                for (k, v) in &self.config.env {
                    cmd.env(k, v.expose_secret());
                }
                let (transport, _stderr) = TokioChildProcess::builder(cmd)
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| UpstreamError::Start {
                        server: name.clone(),
                        program: program.clone(),
                        error: e.to_string(),
                    })?;
                tokio::time::timeout(Duration::from_secs(30), ().serve(transport)).await
            }
            (None, Some(url)) => {
                let mut headers = HashMap::new();
                for (k, v) in &self.config.headers {
                    let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| {
                        UpstreamError::Header {
                            server: self.name.clone(),
                            header: k.clone(),
                            why: e.to_string(),
                        }
                    })?;
                    let value = HeaderValue::from_str(v.expose_secret()).map_err(|_| {
                        UpstreamError::Header {
                            server: self.name.clone(),
                            header: k.clone(),
                            why: "its value is not a valid header value".into(),
                        }
                    })?;
                    headers.insert(name, value);
                }
                let config = rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(headers);
                // The bot's trusted roots and proxy, as for every outbound client.
                let client = crate::net::outbound()
                    .http_for_mcp()
                    .build()
                    .map_err(|e| UpstreamError::Initialize(name.clone(), e.to_string()))?;
                let transport = StreamableHttpClientTransport::with_client(client, config);
                tokio::time::timeout(Duration::from_secs(30), ().serve(transport)).await
            }
            (None, None) => return Err(UpstreamError::NoEndpoint(name.clone())),
        };
        match started {
            Ok(Ok(running)) => {
                tracing::info!(server = %name, "MCP server connected");
                Ok(running)
            }
            Ok(Err(e)) => Err(UpstreamError::Initialize(name.clone(), e.to_string())),
            Err(_) => Err(UpstreamError::Initialize(
                name.clone(),
                "no answer within 30 s".into(),
            )),
        }
    }
}

/// The MCP server a job talks to: the upstream's permitted tools, each call recorded.
#[derive(Clone)]
struct GatewayHandler {
    upstream: Arc<Upstream>,
    recorder: Recorder,
}

impl GatewayHandler {
    fn record(&self, tool: &str, arguments: &str, started: Instant, outcome: String) {
        (self.recorder)(ToolCall {
            server: self.upstream.name.clone(),
            tool: tool.to_string(),
            arguments: arguments.to_string(),
            duration_ms: started.elapsed().as_millis() as u64,
            outcome,
        });
    }
}

impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                format!("threadwork-gateway/{}", self.upstream.name),
                env!("CARGO_PKG_VERSION"),
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let peer = self
            .upstream
            .peer()
            .await
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        let tools: Vec<Tool> = peer
            .list_all_tools()
            .await
            .map_err(|e| {
                McpError::internal_error(format!("MCP server `{}`: {e}", self.upstream.name), None)
            })?
            .into_iter()
            .filter(|t| permitted(&self.upstream.name, &self.upstream.config, &t.name).is_ok())
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let tool = request.name.to_string();
        let arguments = request
            .arguments
            .as_ref()
            .map(|a| serde_json::Value::Object(a.clone()).to_string())
            .unwrap_or_else(|| "{}".to_string());
        if let Err(why) = permitted(&self.upstream.name, &self.upstream.config, &tool) {
            self.record(&tool, &arguments, started, format!("denied: {why}"));
            return Ok(
                CallToolResult::error(vec![ContentBlock::text(format!("refused: {why}"))]).into(),
            );
        }
        let peer = match self.upstream.peer().await {
            Ok(p) => p,
            Err(e) => {
                self.record(&tool, &arguments, started, format!("error: {e}"));
                return Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())]).into());
            }
        };
        let mut params = CallToolRequestParams::new(tool.clone());
        params.arguments = request.arguments.clone();
        let limit = Duration::from_secs(self.upstream.config.timeout_secs.max(1));
        let result = tokio::time::timeout(limit, peer.call_tool(params)).await;
        match result {
            Ok(Ok(result)) => {
                let outcome = if result.is_error == Some(true) {
                    format!("error: {}", first_text(&result))
                } else {
                    "ok".to_string()
                };
                self.record(&tool, &arguments, started, outcome);
                Ok(result.into())
            }
            Ok(Err(e)) => {
                let message = format!("MCP server `{}`: {e}", self.upstream.name);
                self.record(&tool, &arguments, started, format!("error: {message}"));
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            }
            Err(_) => {
                let message = format!(
                    "MCP server `{}`: `{tool}` took longer than {} s",
                    self.upstream.name,
                    limit.as_secs()
                );
                self.record(&tool, &arguments, started, format!("error: {message}"));
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            }
        }
    }
}

fn first_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .map(|t| t.chars().take(200).collect())
        .unwrap_or_default()
}
