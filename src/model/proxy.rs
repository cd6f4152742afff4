//! The model proxy: the only way a sandbox reaches a model.
//!
//! Each job gets a grant — a random token in the URL path (`/t/<token>/<provider>/…`) — that
//! names the job, its agent, the models it may use and the API keys to use for it. The proxy
//! forwards to the provider's configured upstream with the real key injected (the container
//! only ever holds a placeholder), refuses models the agent may not use, and counts tokens and
//! cost from the responses, streaming included. A grant ends with its job.
//!
//! The same listener carries the MCP gateway (`/t/<token>/mcp/<server>`, see `crate::mcp`):
//! a sandbox that may reach its model may reach its agent's tools, under the same token.
//! And so does the egress proxy (`egress`): a Docker sandbox with network `open` tunnels out
//! through it with `CONNECT`, under the same token, to public addresses only.

mod egress;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::listen::Limits;
use super::usage::{self, StreamScanner, TokenUsage};
use super::Provider;
use crate::mcp::gateway::{Gateway, JobTools};
use crate::mcp::ToolCall;

/// What the container is given instead of a key; the proxy replaces it.
pub const PLACEHOLDER_KEY: &str = "threadwork-proxy-injects-the-key";

/// Requests larger than this are refused (a conversation is far smaller).
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// An MCP request (one JSON-RPC message) larger than this is refused.
const MAX_TOOL_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// `[model]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Where the proxy listens; the sandbox's egress forwarder connects here.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Upstream base URL and key per provider (`[model.anthropic]`, `[model.openai]`).
    #[serde(default)]
    pub anthropic: Option<Upstream>,
    #[serde(default)]
    pub openai: Option<Upstream>,
    /// Google's Gemini API (`[model.google]`, base URL without `/v1beta`).
    #[serde(default)]
    pub google: Option<Upstream>,
    /// Keys per agent, overriding the provider's (bring your own keys):
    /// `[model.agent_keys.<agent>] anthropic = "…"`.
    #[serde(default)]
    pub agent_keys: BTreeMap<String, BTreeMap<Provider, SecretString>>,
    /// Prices in USD per million tokens, by model id.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            anthropic: None,
            openai: None,
            google: None,
            agent_keys: BTreeMap::new(),
            prices: BTreeMap::new(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8787))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// The API's root, without `/v1` (the provider's own, or a company gateway): a request
    /// to `/t/<token>/<provider>/v1/messages` goes to `<base_url>/v1/messages`.
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl ProxyConfig {
    fn upstream(&self, provider: Provider) -> Option<&Upstream> {
        match provider {
            Provider::Anthropic => self.anthropic.as_ref(),
            Provider::OpenAi => self.openai.as_ref(),
            Provider::Google => self.google.as_ref(),
        }
    }

    /// The key a job of `agent` uses with `provider`: the agent's own, else the provider's.
    pub fn key_for(&self, agent: &str, provider: Provider) -> Option<SecretString> {
        self.agent_keys
            .get(agent)
            .and_then(|keys| keys.get(&provider))
            .or_else(|| self.upstream(provider).and_then(|u| u.api_key.as_ref()))
            .cloned()
    }

    /// What `used` cost on `model`, or `None` when `[model.prices]` has no price for it.
    pub fn cost(&self, model: &str, used: TokenUsage) -> Option<f64> {
        self.prices.get(model).map(|p| {
            (used.input as f64 * p.input_per_mtok + used.output as f64 * p.output_per_mtok) / 1e6
        })
    }
}

/// What one job may do through the proxy, and what it used.
#[derive(Debug)]
struct Grant {
    job: u64,
    agent: String,
    /// Empty: any model.
    models: Vec<String>,
    used: TokenUsage,
    cost_usd: f64,
    /// Tokens were used on a model without a price: `cost_usd` leaves them out.
    unpriced: bool,
    requests: u64,
    /// The MCP servers the job may use through the gateway.
    tools: Option<JobTools>,
    /// Requests of this job the proxy holds now (`Limits::per_job_requests`).
    in_flight: usize,
    /// Where the job's requests come from: the address of its first request (its sandbox,
    /// as the proxy sees it: a Docker run's own forwarder, a pod, the bot's host for a local
    /// process). Requests with the token from anywhere else are refused.
    client: Option<std::net::IpAddr>,
    /// Network `open` through the egress proxy, for a job whose sandbox has it.
    egress: Option<egress::EgressGrant>,
    /// The most the job may spend (USD); its model calls are refused once `spent_before` and
    /// `cost_usd` reach it, and `over_budget` is set.
    budget_usd: Option<f64>,
    over_budget: bool,
    /// What the job spent under an earlier process (a re-attached run), for its budget.
    spent_before: f64,
    /// The worst cost of its calls in flight (`Reservation`).
    reserved_usd: f64,
}

impl Grant {
    /// Pins the grant to the address of its first request; whether `peer` is that address.
    fn pin(&mut self, peer: SocketAddr) -> bool {
        let ip = peer.ip().to_canonical();
        *self.client.get_or_insert(ip) == ip
    }
}

/// A job's running total.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JobUsage {
    pub tokens: TokenUsage,
    pub cost_usd: f64,
    /// Some of the tokens were used on a model without a price (not in `cost_usd`).
    pub unpriced: bool,
    pub requests: u64,
}

struct Shared {
    config: ProxyConfig,
    grants: Mutex<HashMap<String, Grant>>,
    /// Models used without a price, each logged once.
    unpriced: Mutex<std::collections::HashSet<String>>,
    /// Set while a starting bot has not yet given back the grants of the runs it re-attaches
    /// to: a token it does not know yet is answered "try again", not "ended".
    recovering: std::sync::atomic::AtomicBool,
    client: reqwest::Client,
    gateway: Option<Arc<Gateway>>,
    limits: Limits,
    /// Egress tunnels open now, all jobs together (`Limits::tunnels`).
    tunnels: Arc<tokio::sync::Semaphore>,
    /// The egress proxy's name lookups under way (`egress::LOOKUPS`).
    lookups: Arc<tokio::sync::Semaphore>,
}

impl Shared {
    /// `f` on the grant of `token`, while it lasts.
    fn with_grant<R>(&self, token: &str, f: impl FnOnce(&mut Grant) -> R) -> Option<R> {
        self.grants
            .lock()
            .expect("grants lock")
            .get_mut(token)
            .map(f)
    }

    /// Says once per model that its tokens are counted but not their cost. The name comes from
    /// a sandbox's request: it is logged as a clipped field, and at most 256 names are kept.
    fn warn_unpriced(&self, model: &str) {
        let mut seen = self.unpriced.lock().expect("unpriced lock");
        if seen.len() < 256 && seen.insert(model.to_string()) {
            tracing::warn!(
                model = ?crate::text::clip(model, 100),
                "a model has no price: its tokens are counted but not its cost; set [model.prices.\"<model>\"] input_per_mtok and output_per_mtok"
            );
        }
    }
}

/// One request of a job held by the proxy; its slot is given back when dropped.
struct InFlight {
    shared: Arc<Shared>,
    token: String,
}

impl InFlight {
    /// Takes a slot for the grant `token`, unless it has none left.
    fn take(shared: &Arc<Shared>, token: &str) -> Result<Self, usize> {
        let mut grants = shared.grants.lock().expect("grants lock");
        if let Some(g) = grants.get_mut(token) {
            if g.in_flight >= shared.limits.per_job_requests {
                return Err(g.in_flight);
            }
            g.in_flight += 1;
        }
        Ok(Self {
            shared: shared.clone(),
            token: token.to_string(),
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared
            .with_grant(&self.token, |g| g.in_flight = g.in_flight.saturating_sub(1));
    }
}

/// The proxy; clones share one listener, which stops when the last clone is dropped (or on
/// `stop`).
#[derive(Clone)]
pub struct ModelProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Arc<Server>,
}

/// The listener's task, aborted when the last `ModelProxy` holding it goes.
struct Server(tokio::task::AbortHandle);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A job's access; revoked when dropped.
pub struct GrantHandle {
    token: String,
    shared: Arc<Shared>,
    /// The job's tool calls through the gateway, for its transcript and audit record.
    tool_calls: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<ToolCall>>>,
}

impl GrantHandle {
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `f` on the job's grant, while it lasts.
    fn with<R>(&self, f: impl FnOnce(&mut Grant) -> R) -> Option<R> {
        self.shared.with_grant(&self.token, f)
    }

    /// Lets the job reach `servers` through the gateway; their calls arrive on
    /// `take_tool_calls`. Unknown servers are the caller's to refuse first (`Gateway::has`).
    pub fn open_tools(&self, servers: Vec<String>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let recorder: crate::mcp::gateway::Recorder = Arc::new(move |call| {
            let _ = tx.send(call);
        });
        self.with(|g| {
            g.tools = Some(JobTools {
                agent: g.agent.clone(),
                servers,
                recorder,
            })
        });
        *self.tool_calls.lock().expect("tool calls lock") = Some(rx);
    }

    /// Lets the job tunnel out through the egress proxy (network `open` on Docker): to public
    /// addresses and to `allow`, never to `deny` (`runtime::open::check`).
    pub fn allow_egress(&self, allow: Vec<ipnet::IpNet>, deny: Vec<ipnet::IpNet>) {
        self.with(|g| {
            // Tunnels opened under earlier rules do not outlive them.
            if let Some(earlier) = g.egress.replace(egress::EgressGrant::new(allow, deny)) {
                earlier.end();
            }
        });
    }

    /// Caps what the job may spend on models (USD): once its counted cost reaches `usd`, its
    /// model calls are refused, and so are calls to a model without a price (whose cost
    /// cannot be counted against it).
    /// `spent_before`: what the job spent before this process gave it the grant.
    pub fn set_budget(&self, usd: f64, spent_before: f64) {
        self.with(|g| {
            g.budget_usd = Some(usd);
            g.spent_before = spent_before;
        });
    }

    /// The job's budget (USD), when it has one.
    pub fn budget(&self) -> Option<f64> {
        self.with(|g| g.budget_usd).flatten()
    }

    /// Whether a call of the job was refused because its budget was spent: it can do no
    /// more.
    pub fn refused_for_budget(&self) -> bool {
        self.with(|g| g.over_budget).unwrap_or(false)
    }

    /// Whether the job's spend reached its budget (a call was refused for it, or calls in
    /// flight carried it there).
    pub fn over_budget(&self) -> bool {
        self.with(|g| {
            g.over_budget
                || g.budget_usd
                    .is_some_and(|b| g.spent_before + g.cost_usd >= b)
        })
        .unwrap_or(false)
    }

    /// Lets a test tunnel to loopback, the one place a test machine has to tunnel to.
    #[cfg(test)]
    pub(crate) fn allow_egress_to_loopback(&self) {
        self.allow_egress(vec![], vec![]);
        self.with(|g| {
            if let Some(e) = g.egress.as_mut() {
                e.loopback = true;
            }
        });
    }

    /// The receiving end of the job's tool calls (once).
    pub fn take_tool_calls(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<ToolCall>> {
        self.tool_calls.lock().expect("tool calls lock").take()
    }

    pub fn usage(&self) -> JobUsage {
        self.with(|g| JobUsage {
            tokens: g.used,
            cost_usd: g.cost_usd,
            unpriced: g.unpriced,
            requests: g.requests,
        })
        .unwrap_or_default()
    }
}

impl Drop for GrantHandle {
    fn drop(&mut self) {
        let ended = self
            .shared
            .grants
            .lock()
            .expect("grants lock")
            .remove(&self.token);
        // Its tunnels close with it.
        if let Some(e) = ended.and_then(|g| g.egress) {
            e.end();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr} for the model proxy: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl ModelProxy {
    pub async fn start(config: ProxyConfig) -> Result<Self, ProxyError> {
        Self::start_with(config, None).await
    }

    /// The proxy with the MCP gateway on the same listener.
    pub async fn start_with(
        config: ProxyConfig,
        gateway: Option<Arc<Gateway>>,
    ) -> Result<Self, ProxyError> {
        Self::start_limited(config, gateway, Limits::default()).await
    }

    /// The proxy with its own limits on what clients may hold (tests use small ones).
    pub async fn start_limited(
        config: ProxyConfig,
        gateway: Option<Arc<Gateway>>,
        limits: Limits,
    ) -> Result<Self, ProxyError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ProxyError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ProxyError::Listen {
            addr: config.listen,
            source,
        })?;
        let shared = Arc::new(Shared {
            config,
            grants: Mutex::new(HashMap::new()),
            unpriced: Mutex::default(),
            recovering: std::sync::atomic::AtomicBool::new(false),
            // A redirect would carry the key to wherever it points.
            client: crate::net::outbound()
                .http()
                .redirect(reqwest::redirect::Policy::none())
                // An upstream that stops answering frees its job's slot in time.
                .connect_timeout(std::time::Duration::from_secs(30))
                .read_timeout(std::time::Duration::from_secs(300))
                .build()
                .expect("a default HTTP client builds"),
            gateway,
            limits,
            tunnels: Arc::new(tokio::sync::Semaphore::new(limits.tunnels)),
            lookups: Arc::new(tokio::sync::Semaphore::new(egress::LOOKUPS)),
        });
        let app = Router::new()
            .route("/t/{token}/mcp/{server}", any(tools))
            .route("/t/{token}/{provider}/{*rest}", any(forward))
            .fallback(egress::fallback)
            .with_state(shared.clone());
        let server = tokio::spawn(super::listen::serve(listener, app, limits)).abort_handle();
        tracing::info!(%addr, "model proxy listening");
        Ok(Self {
            addr,
            shared,
            server: Arc::new(Server(server)),
        })
    }

    /// Stops listening (a bot that stops frees its port); requests in flight finish.
    pub fn stop(&self) {
        self.server.0.abort();
    }

    /// Until `recovered`, requests with a token no grant holds are asked to retry (503): a
    /// run left by the previous process may call before its grant is given back.
    pub fn hold_unknown_tokens(&self) {
        self.shared
            .recovering
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every grant a re-attached run needs is given back: unknown tokens have ended.
    pub fn recovered(&self) {
        self.shared
            .recovering
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.shared.config
    }

    /// Opens access for one job; `models` empty means any.
    pub fn grant(&self, job: u64, agent: &str, models: Vec<String>) -> GrantHandle {
        self.grant_as(random_token(), job, agent, models)
    }

    /// The MCP gateway, when servers are configured.
    pub fn gateway(&self) -> Option<&Arc<Gateway>> {
        self.shared.gateway.as_ref()
    }

    /// A grant under a token given out before (a run re-attached after a restart).
    pub fn grant_as(
        &self,
        token: String,
        job: u64,
        agent: &str,
        models: Vec<String>,
    ) -> GrantHandle {
        self.shared.grants.lock().expect("grants lock").insert(
            token.clone(),
            Grant {
                job,
                agent: agent.to_string(),
                models,
                used: TokenUsage::default(),
                cost_usd: 0.0,
                unpriced: false,
                requests: 0,
                tools: None,
                in_flight: 0,
                client: None,
                egress: None,
                budget_usd: None,
                over_budget: false,
                spent_before: 0.0,
                reserved_usd: 0.0,
            },
        );
        GrantHandle {
            token,
            shared: self.shared.clone(),
            tool_calls: Mutex::new(None),
        }
    }
}

/// What a call may cost at most, held against the job's budget while it is in flight (so
/// calls at once cannot each pass on the same remaining amount); given back when dropped,
/// once its real cost is counted.
struct Reservation {
    shared: Arc<Shared>,
    token: String,
    usd: f64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.shared.with_grant(&self.token, |g| {
            g.reserved_usd = (g.reserved_usd - self.usd).max(0.0)
        });
    }
}

/// Why a budgeted job's call was refused.
enum OverBudget {
    /// Spent, or the model has no price: final (402).
    Spent(String),
    /// Calls in flight may use the rest: try again when they end (429).
    Wait(String),
}

/// The most a call can cost: its input counted as a token per 4 bytes (more than text
/// costs), and its output cap (`max_tokens` and the like; 16,384 when it names none).
fn worst_cost(shared: &Shared, model: &str, body: &[u8]) -> Option<f64> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let cap = [
        &v["max_tokens"],
        &v["max_output_tokens"],
        &v["max_completion_tokens"],
        &v["generationConfig"]["maxOutputTokens"],
    ]
    .iter()
    .find_map(|f| f.as_u64())
    .unwrap_or(16_384);
    shared.config.cost(
        model,
        TokenUsage {
            input: body.len() as u64 / 4,
            output: cap,
        },
    )
}

/// Admits a call of a job with `budget` to `model`, reserving its worst cost; or says why
/// not: the spend so far has reached the budget (the grant is marked over budget), the model
/// has no price, or calls in flight already hold what is left. A call with nothing else in
/// flight is always admitted while the budget is not reached: a job goes past its budget by
/// at most the cost of one call.
fn spend_check(
    shared: &Arc<Shared>,
    token: &str,
    model: &str,
    body: &[u8],
    budget: f64,
) -> Result<Option<Reservation>, OverBudget> {
    let Some(worst) = worst_cost(shared, model, body) else {
        return Err(OverBudget::Spent(format!(
            "threadwork: model `{model}` has no price, so a job with a budget cannot use it (set [model.prices.\"{model}\"])"
        )));
    };
    let mut grants = shared.grants.lock().expect("grants lock");
    let Some(g) = grants.get_mut(token) else {
        return Ok(None);
    };
    let spent = g.spent_before + g.cost_usd;
    if spent >= budget {
        g.over_budget = true;
        return Err(OverBudget::Spent(format!(
            "threadwork: this job's budget of {} is spent ({} so far)",
            usd(budget),
            usd(spent)
        )));
    }
    if g.reserved_usd > 0.0 && spent + g.reserved_usd + worst > budget {
        return Err(OverBudget::Wait(format!(
            "threadwork: the job's calls in flight may use the rest of its budget of {}; try again when they end",
            usd(budget)
        )));
    }
    g.reserved_usd += worst;
    Ok(Some(Reservation {
        shared: shared.clone(),
        token: token.to_string(),
        usd: worst,
    }))
}

/// An amount in USD with the cents, or with enough digits to tell a small one from zero.
pub fn usd(amount: f64) -> String {
    if amount != 0.0 && amount.abs() < 0.01 {
        format!("${amount:.4}")
    } else {
        format!("${amount:.2}")
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An error in the provider's own shape, so the CLI shows it to the agent and the user.
/// A refusal labelled by its status: permission, authentication, upstream or request.
fn refuse(provider: Provider, status: StatusCode, message: String) -> Response {
    let kind = match status {
        StatusCode::FORBIDDEN => "permission_error",
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
        s if s.is_server_error() => "api_error",
        _ => "invalid_request_error",
    };
    refuse_as(provider, status, kind, message)
}

fn refuse_as(provider: Provider, status: StatusCode, kind: &str, message: String) -> Response {
    let body = match provider {
        Provider::Anthropic => {
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        Provider::OpenAi => {
            json!({"error": {"type": kind, "message": message, "code": "threadwork_refused"}})
        }
        // Google's errors carry the HTTP code and a canonical status name.
        Provider::Google => json!({"error": {"code": status.as_u16(), "message": message,
            "status": google_status(status)}}),
    };
    (status, axum::Json(body)).into_response()
}

/// Google's canonical status name for an HTTP status, as its API errors say it.
fn google_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => "INVALID_ARGUMENT",
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::FORBIDDEN => "PERMISSION_DENIED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::TOO_MANY_REQUESTS => "RESOURCE_EXHAUSTED",
        StatusCode::REQUEST_TIMEOUT => "DEADLINE_EXCEEDED",
        _ => "UNAVAILABLE",
    }
}

/// A job's MCP request for one of its agent's servers, through the gateway.
async fn tools(
    State(shared): State<Arc<Shared>>,
    Path((token, server)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let tools = shared
        .grants
        .lock()
        .expect("grants lock")
        .get_mut(&token)
        .and_then(|g| if g.pin(peer) { g.tools.clone() } else { None });
    if tools.is_none() && shared.recovering.load(std::sync::atomic::Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "threadwork MCP gateway: the bot is starting; try again shortly",
        )
            .into_response();
    }
    match (&shared.gateway, tools) {
        (Some(gateway), Some(tools)) => {
            // The same holds as for model calls: a slot of the job's, and a body that arrives
            // in time and within its limit, read before the gateway sees the request.
            let Ok(_in_flight) = InFlight::take(&shared, &token) else {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    "threadwork MCP gateway: this job has too many requests in flight",
                )
                    .into_response();
            };
            let (parts, body) = request.into_parts();
            let read = tokio::time::timeout(
                shared.limits.body_timeout,
                axum::body::to_bytes(body, MAX_TOOL_REQUEST_BYTES),
            )
            .await;
            let body = match read {
                Ok(Ok(b)) => b,
                Ok(Err(_)) => {
                    return (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "threadwork MCP gateway: request too large",
                    )
                        .into_response()
                }
                Err(_) => {
                    return (
                        StatusCode::REQUEST_TIMEOUT,
                        "threadwork MCP gateway: the request body took too long",
                    )
                        .into_response()
                }
            };
            let request = axum::extract::Request::from_parts(parts, Body::from(body));
            gateway.serve(&tools, &server, request).await
        }
        _ => (
            StatusCode::FORBIDDEN,
            "threadwork MCP gateway: this job token has no MCP servers",
        )
            .into_response(),
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    Path((token, provider_name, _rest)): Path<(String, String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(provider) = Provider::parse(&provider_name) else {
        return (StatusCode::NOT_FOUND, "unknown provider").into_response();
    };
    let (job, agent, models, budget) = {
        let mut grants = shared.grants.lock().expect("grants lock");
        match grants.get_mut(&token) {
            Some(g) => {
                if !g.pin(peer) {
                    tracing::warn!(job = g.job, agent = %g.agent, client = %peer.ip(), "model request with a job's token from another sandbox refused");
                    return refuse(
                        provider,
                        StatusCode::FORBIDDEN,
                        "threadwork: this job token belongs to another sandbox".into(),
                    );
                }
                (g.job, g.agent.clone(), g.models.clone(), g.budget_usd)
            }
            None if shared.recovering.load(std::sync::atomic::Ordering::SeqCst) => {
                return refuse(
                    provider,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "threadwork: the bot is starting; try again shortly".into(),
                )
            }
            None => {
                return refuse(
                    provider,
                    StatusCode::FORBIDDEN,
                    "threadwork: this job's model access has ended".into(),
                )
            }
        }
    };
    let in_flight = match InFlight::take(&shared, &token) {
        Ok(slot) => slot,
        Err(held) => {
            tracing::warn!(job, agent = %agent, held, "model request refused: too many in flight for one job");
            return refuse_as(
                provider,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                format!("threadwork: this job already has {held} model requests in flight"),
            );
        }
    };
    // The body is read only now, for a live grant, never past the limit nor for longer
    // than the body timeout.
    let read = tokio::time::timeout(
        shared.limits.body_timeout,
        axum::body::to_bytes(body, MAX_REQUEST_BYTES),
    )
    .await;
    let body = match read {
        Ok(Ok(b)) => b,
        Err(_) => {
            return refuse_as(
                provider,
                StatusCode::REQUEST_TIMEOUT,
                "timeout_error",
                format!(
                    "threadwork: the request body took longer than {} s to arrive",
                    shared.limits.body_timeout.as_secs()
                ),
            )
        }
        Ok(Err(_)) => {
            return refuse_as(
                provider,
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!(
                    "threadwork: request larger than {} MB, or cut off",
                    MAX_REQUEST_BYTES / (1024 * 1024)
                ),
            )
        }
    };
    // The path as sent (still URL-encoded): an encoded separator or `..` matches nothing.
    let raw_rest = uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or_default()
        .strip_prefix(&format!("/t/{token}/{provider_name}/"))
        .unwrap_or_default()
        .to_string();
    let model = match super::gate::check(provider, &method, &raw_rest, &headers, &body) {
        Ok(model) => model.unwrap_or_default(),
        Err(r) => {
            tracing::warn!(job, agent = %agent, %method, path = %raw_rest, why = %r.message, "model request refused by the proxy");
            return refuse_as(provider, r.status, r.kind, r.message);
        }
    };
    let rest = raw_rest.split('?').next().unwrap_or_default().to_string();
    if !model.is_empty() && !models.is_empty() && !models.contains(&model) {
        tracing::warn!(job, agent = %agent, model = %model, "model refused by the proxy");
        return refuse(
            provider,
            StatusCode::FORBIDDEN,
            format!(
                "threadwork: agent `{agent}` may not use model `{model}`; allowed: {}",
                models.join(", ")
            ),
        );
    }
    let mut reservation = None;
    if let (Some(budget), false) = (budget, model.is_empty()) {
        match spend_check(&shared, &token, &model, &body, budget) {
            Ok(r) => reservation = r,
            Err(OverBudget::Wait(why)) => {
                return refuse_as(
                    provider,
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    why,
                )
            }
            Err(OverBudget::Spent(refusal)) => {
                tracing::warn!(job, agent = %agent, model = %model, budget, why = %refusal, "model call refused: the job's budget");
                return refuse_as(
                    provider,
                    StatusCode::PAYMENT_REQUIRED,
                    "billing_error",
                    refusal,
                );
            }
        }
    }
    let Some(upstream) = shared.config.upstream(provider) else {
        return refuse(
            provider,
            StatusCode::BAD_GATEWAY,
            format!(
                "threadwork: no upstream configured for {} (`[model.{}]`)",
                provider.label(),
                provider.label()
            ),
        );
    };
    let Some(key) = shared.config.key_for(&agent, provider) else {
        return refuse(
            provider,
            StatusCode::UNAUTHORIZED,
            format!(
                "threadwork: no {} API key configured for agent `{agent}`",
                provider.label()
            ),
        );
    };
    let mut url = format!("{}/{rest}", upstream.base_url.trim_end_matches('/'));
    if let Some(q) = super::gate::forwarded_query(provider, &rest, uri.query().unwrap_or_default())
    {
        url.push('?');
        url.push_str(&q);
    }
    let mut out = shared.client.request(method, &url).body(body);
    for (name, value) in &headers {
        // Only the headers the APIs need; whatever credential the sandbox sent is dropped
        // and the grant's key goes instead.
        if super::gate::forwarded_header(name.as_str()) {
            out = out.header(name, value);
        }
    }
    out = match provider {
        Provider::Anthropic => out.header("x-api-key", key.expose_secret()),
        Provider::OpenAi => out.bearer_auth(key.expose_secret()),
        Provider::Google => out.header("x-goog-api-key", key.expose_secret()),
    };
    let upstream_response = match out.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(job, error = %crate::net::error_chain(&e), "model upstream unreachable");
            return refuse(
                provider,
                StatusCode::BAD_GATEWAY,
                format!(
                    "threadwork: the {} upstream is unreachable",
                    provider.label()
                ),
            );
        }
    };
    let status = upstream_response.status();
    let streaming = upstream_response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut response = Response::builder().status(status.as_u16());
    for (name, value) in upstream_response.headers() {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    // Chunks pass through as they come; the accounting happens on the side, at the end.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(32);
    let mut upstream_body = upstream_response.bytes_stream();
    let shared_for_count = shared.clone();
    tokio::spawn(async move {
        let mut scanner = StreamScanner::new(provider);
        let mut whole = Vec::new();
        // A sandbox that hangs up early still pays: the answer is read to its end (and its
        // usage counted) whether or not anyone takes it.
        let mut listening = true;
        while let Some(chunk) = upstream_body.next().await {
            match chunk {
                Ok(bytes) => {
                    if streaming {
                        scanner.feed(&bytes);
                    } else if whole.len() < MAX_REQUEST_BYTES {
                        whole.extend_from_slice(&bytes);
                    }
                    if listening && tx.send(Ok(bytes)).await.is_err() {
                        listening = false;
                    }
                    // Nobody to count for any more: the job has ended.
                    if !listening
                        && !shared_for_count
                            .grants
                            .lock()
                            .expect("grants lock")
                            .contains_key(&token)
                    {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    break;
                }
            }
        }
        let used = if streaming {
            scanner.usage()
        } else {
            serde_json::from_slice::<Value>(&whole)
                .map(|b| usage::from_body(provider, &b))
                .unwrap_or_default()
        };
        let cost = shared_for_count.config.cost(&model, used);
        let unpriced = cost.is_none() && used.input + used.output > 0;
        if unpriced {
            shared_for_count.warn_unpriced(&model);
        }
        if let Some(g) = shared_for_count
            .grants
            .lock()
            .expect("grants lock")
            .get_mut(&token)
        {
            g.used.add(used);
            g.cost_usd += cost.unwrap_or(0.0);
            g.unpriced |= unpriced;
            g.requests += 1;
        };
        // The job's slot is held until its answer has been passed on (and the grants lock
        // above is released: the slot's drop takes it); so is the call's reservation, until
        // its real cost is counted.
        drop(reservation);
        drop(in_flight);
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    response
        .body(body)
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mock::{MockModel, Step};

    async fn setup(models: Vec<String>) -> (MockModel, ModelProxy, GrantHandle) {
        let mock = MockModel::start(
            ([127, 0, 0, 1], 0).into(),
            vec![Step::Text {
                text: "hello from the mock".into(),
            }],
        )
        .await
        .unwrap();
        let config = ProxyConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            anthropic: Some(Upstream {
                base_url: mock.url(),
                api_key: Some(SecretString::from("sk-ant-real-key")),
            }),
            openai: Some(Upstream {
                base_url: mock.url(),
                api_key: Some(SecretString::from("sk-openai-real-key")),
            }),
            google: Some(Upstream {
                base_url: mock.url(),
                api_key: Some(SecretString::from("google-real-key")),
            }),
            agent_keys: BTreeMap::from([(
                "byok".to_string(),
                BTreeMap::from([(Provider::Anthropic, SecretString::from("sk-ant-team-key"))]),
            )]),
            prices: BTreeMap::from([(
                "mock-sonnet".to_string(),
                Price {
                    input_per_mtok: 3.0,
                    output_per_mtok: 15.0,
                },
            )]),
        };
        let proxy = ModelProxy::start(config).await.unwrap();
        let grant = proxy.grant(7, "coder", models);
        (mock, proxy, grant)
    }

    /// The grant's usage once `requests` requests are counted (each just after its answer).
    async fn counted(grant: &GrantHandle, requests: u64) -> JobUsage {
        for _ in 0..1000 {
            let used = grant.usage();
            if used.requests >= requests {
                assert_eq!(used.requests, requests);
                return used;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{requests} requests never counted: {:?}", grant.usage());
    }

    // #21 item 4: a job's model calls stop at its budget; a model without a price cannot be
    // counted against one.
    #[tokio::test]
    async fn a_jobs_calls_stop_at_its_budget() {
        let (mock, proxy, grant) = setup(vec![]).await;
        grant.set_budget(0.000_001, 0.0);
        let url = format!(
            "http://{}/t/{}/anthropic/v1/messages",
            proxy.addr(),
            grant.token()
        );
        let ask = |model: &'static str| {
            reqwest::Client::new()
                .post(&url)
                .json(&json!({"model": model, "max_tokens": 100,
                              "messages": [{"role": "user", "content": "hi"}]}))
                .send()
        };
        assert_eq!(ask("mock-sonnet").await.unwrap().status(), 200);
        let used = counted(&grant, 1).await;
        assert!(used.cost_usd > 0.000_001, "{used:?}");
        // The spend reached the budget: the job is over it before any call is refused.
        assert!(grant.over_budget());
        let refused = ask("mock-sonnet").await.unwrap();
        assert_eq!(refused.status(), 402);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["type"], "billing_error");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budget"));
        assert!(grant.over_budget());
        assert_eq!(
            mock.requests().len(),
            1,
            "the refused call never went upstream"
        );

        let (_mock, _proxy, unpriced) = setup(vec![]).await;
        unpriced.set_budget(5.0, 0.0);
        let url = format!(
            "http://{}/t/{}/anthropic/v1/messages",
            _proxy.addr(),
            unpriced.token()
        );
        let r = reqwest::Client::new()
            .post(&url)
            .json(&json!({"model": "mock-unpriced", "max_tokens": 10,
                          "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 402);
        assert!(r.text().await.unwrap().contains("no price"));
    }

    // Calls at once cannot each pass on the same remaining amount: each holds its worst cost
    // until its real cost is counted; one call alone is always let through.
    #[tokio::test]
    async fn calls_in_flight_hold_their_worst_cost_against_the_budget() {
        let (_mock, proxy, grant) = setup(vec![]).await;
        let body = serde_json::to_vec(&json!({"model": "mock-sonnet", "max_tokens": 1000,
            "messages": [{"role": "user", "content": "hi"}]}))
        .unwrap();
        // $15 per million output tokens: 1,000 tokens cost at most $0.015 and some input.
        let worst = worst_cost(&proxy.shared, "mock-sonnet", &body).unwrap();
        assert!(worst > 0.015 && worst < 0.016, "{worst}");
        grant.set_budget(worst * 1.5, 0.0);
        let t = grant.token().to_string();
        let first = spend_check(&proxy.shared, &t, "mock-sonnet", &body, worst * 1.5);
        assert!(matches!(first, Ok(Some(_))));
        let second = spend_check(&proxy.shared, &t, "mock-sonnet", &body, worst * 1.5);
        assert!(matches!(second, Err(OverBudget::Wait(_))));
        drop(first);
        let third = spend_check(&proxy.shared, &t, "mock-sonnet", &body, worst * 1.5);
        assert!(matches!(third, Ok(Some(_))));
        // What an earlier process counted is spent too (a re-attached run).
        drop(third);
        grant.set_budget(1.0, 1.0);
        let spent = spend_check(&proxy.shared, &t, "mock-sonnet", &body, 1.0);
        assert!(matches!(spent, Err(OverBudget::Spent(_))));
        assert!(grant.over_budget());
    }

    #[tokio::test]
    async fn injects_the_key_streams_and_counts() {
        let (mock, proxy, grant) = setup(vec![]).await;
        let url = format!(
            "http://{}/t/{}/anthropic/v1/messages",
            proxy.addr(),
            grant.token()
        );
        let response = reqwest::Client::new()
            .post(&url)
            .header("x-api-key", PLACEHOLDER_KEY)
            .json(
                &json!({"model": "mock-sonnet", "stream": true, "max_tokens": 100,
                          "tools": [{"name": "Bash", "input_schema": {}}],
                          "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.contains("hello from the mock"), "{text}");
        let seen = &mock.requests()[0];
        assert_eq!(seen.header("x-api-key"), Some("sk-ant-real-key"));
        assert_eq!(seen.body["model"], "mock-sonnet");
        // The count lands just after the stream ends.
        let used = counted(&grant, 1).await;
        assert!(used.tokens.input > 0 && used.tokens.output > 0, "{used:?}");
        assert!(used.cost_usd > 0.0);
        assert!(!used.unpriced);

        // OpenAI shape, bearer auth.
        let url = format!(
            "http://{}/t/{}/openai/v1/responses",
            proxy.addr(),
            grant.token()
        );
        let r = reqwest::Client::new()
            .post(&url)
            .bearer_auth(PLACEHOLDER_KEY)
            .json(&json!({"model": "mock-gpt", "stream": false, "input": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            mock.requests()[1].header("authorization"),
            Some("Bearer sk-openai-real-key")
        );
        // `mock-gpt` has no price: its tokens are counted, and the job says its cost is not.
        let later = counted(&grant, 2).await;
        assert!(later.tokens.input > used.tokens.input);
        assert_eq!(later.cost_usd, used.cost_usd);
        assert!(later.unpriced);
    }

    #[tokio::test]
    async fn google_calls_get_the_key_in_a_header_and_never_the_sandboxes() {
        let (mock, proxy, grant) = setup(vec![]).await;
        let url = format!(
            "http://{}/t/{}/google/v1beta/models/mock-gemini:streamGenerateContent?alt=sse&key={PLACEHOLDER_KEY}",
            proxy.addr(),
            grant.token()
        );
        let r = reqwest::Client::new()
            .post(&url)
            .header("x-goog-api-key", PLACEHOLDER_KEY)
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().starts_with("data: "));
        let seen = &mock.requests()[0];
        assert_eq!(
            seen.path,
            "/v1beta/models/mock-gemini:streamGenerateContent"
        );
        assert_eq!(seen.query, "alt=sse", "the sandbox's key stays behind");
        assert_eq!(seen.header("x-goog-api-key"), Some("google-real-key"));
        let used = counted(&grant, 1).await;
        assert!(used.tokens.input > 0 && used.tokens.output > 0, "{used:?}");
        // Anything but the model calls is refused, in Google's error shape.
        let r = reqwest::Client::new()
            .post(format!(
                "http://{}/t/{}/google/v1beta/cachedContents",
                proxy.addr(),
                grant.token()
            ))
            .json(&json!({"model": "models/mock-gemini"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["status"], "NOT_FOUND", "{body}");
        assert_eq!(mock.requests().len(), 1, "nothing else reached the model");
    }

    #[tokio::test]
    async fn while_a_bot_recovers_an_unknown_token_is_asked_to_retry() {
        let (mock, proxy, _grant) = setup(vec![]).await;
        let ask = || {
            reqwest::Client::new()
                .post(format!(
                    "http://{}/t/left-by-the-last-process/anthropic/v1/messages",
                    proxy.addr()
                ))
                .json(&json!({"model": "mock-sonnet", "messages": []}))
                .send()
        };
        proxy.hold_unknown_tokens();
        assert_eq!(ask().await.unwrap().status(), 503);
        proxy.recovered();
        assert_eq!(ask().await.unwrap().status(), 403);
        assert!(mock.requests().is_empty());
    }

    #[tokio::test]
    async fn refuses_other_models_and_ended_grants() {
        let (mock, proxy, grant) = setup(vec!["mock-sonnet".into()]).await;
        let url = format!(
            "http://{}/t/{}/anthropic/v1/messages",
            proxy.addr(),
            grant.token()
        );
        let r = reqwest::Client::new()
            .post(&url)
            .json(&json!({"model": "big-expensive", "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not use model `big-expensive`"));
        assert!(mock.requests().is_empty(), "nothing reached the model");
        drop(grant);
        let r = reqwest::Client::new()
            .post(&url)
            .json(&json!({"model": "mock-sonnet", "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }

    /// Sends `head` on a fresh connection from `from` and returns what comes back within
    /// `wait` (empty: the proxy closed the connection or said nothing).
    async fn raw(
        proxy: SocketAddr,
        from: [u8; 4],
        head: &str,
        wait: std::time::Duration,
    ) -> (tokio::net::TcpStream, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        let mut stream = socket.connect(proxy).await.unwrap();
        let _ = stream.write_all(head.as_bytes()).await;
        let mut buf = vec![0u8; 4096];
        let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => 0,
        };
        (stream, String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// A whole, small model request for the grant `token`, as raw HTTP.
    fn small_request(token: &str) -> String {
        let body = r#"{"model":"mock-sonnet","messages":[]}"#;
        format!(
            "POST /t/{token}/anthropic/v1/messages HTTP/1.1\r\nhost: p\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    async fn limited(limits: Limits) -> (MockModel, ModelProxy, GrantHandle) {
        let (mock, proxy, _) = setup(vec![]).await;
        let config = proxy.config().clone();
        drop(proxy);
        let config = ProxyConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            ..config
        };
        let proxy = ModelProxy::start_limited(config, None, limits)
            .await
            .unwrap();
        let grant = proxy.grant(9, "coder", vec![]);
        (mock, proxy, grant)
    }

    /// Boundary: a request the size a real conversation reaches passes (the framework's own
    /// 2 MB default does not apply); the proxy's limit does.
    #[tokio::test]
    async fn a_three_megabyte_request_is_forwarded() {
        let (mock, proxy, grant) = setup(vec![]).await;
        let url = format!(
            "http://{}/t/{}/anthropic/v1/messages",
            proxy.addr(),
            grant.token()
        );
        let big = "x".repeat(3 * 1024 * 1024);
        let r = reqwest::Client::new()
            .post(&url)
            .json(&json!({"model": "mock-sonnet", "max_tokens": 10,
                          "messages": [{"role": "user", "content": big}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        assert_eq!(mock.requests().len(), 1);
    }

    /// Boundary: a made-up token costs the bot no memory: the refusal comes before the body.
    #[tokio::test]
    async fn a_made_up_token_is_refused_before_its_body() {
        let (_mock, proxy, _grant) = setup(vec![]).await;
        let head = "POST /t/madeup/anthropic/v1/messages HTTP/1.1\r\nhost: p\r\n\
                    content-type: application/json\r\ncontent-length: 30000000\r\n\r\n{";
        let (_conn, answer) = raw(
            proxy.addr(),
            [127, 0, 0, 1],
            head,
            std::time::Duration::from_secs(20),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    }

    /// Boundary: one client cannot hold the proxy's connections (nor the bot's descriptors):
    /// past its cap its connections are closed, other clients still get through, and a
    /// connection that sends nothing is closed after the head timeout.
    #[tokio::test]
    async fn connections_are_capped_per_client_and_idle_ones_close() {
        let (_mock, proxy, grant) = limited(Limits {
            per_client: 4,
            // Long enough that the four idle ones are still open for the fifth.
            header_timeout: std::time::Duration::from_secs(5),
            ..Limits::default()
        })
        .await;
        let quiet = std::time::Duration::from_millis(20);
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(raw(proxy.addr(), [127, 0, 0, 1], "", quiet).await.0);
        }
        let request = small_request(grant.token());
        let long = std::time::Duration::from_secs(20);
        let (_c, answer) = raw(proxy.addr(), [127, 0, 0, 1], &request, long).await;
        assert_eq!(answer, "", "a fifth connection from one client is closed");
        let (_c, answer) = raw(proxy.addr(), [127, 0, 0, 2], &request, long).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // The idle ones are closed by the proxy once the head timeout has passed.
        for mut conn in idle {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(long, conn.read(&mut buf)).await;
            assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        }
        // Slots are given back as the proxy's connection tasks end. (Another job's token: the
        // first one is pinned to 127.0.0.2 now.)
        let other = proxy.grant(10, "coder", vec![]);
        let request = request.replace(grant.token(), other.token());
        let mut answer = String::new();
        for _ in 0..100 {
            answer = raw(proxy.addr(), [127, 0, 0, 1], &request, long).await.1;
            if answer.starts_with("HTTP/1.1 200") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "the client's slots came back: {answer}"
        );
    }

    /// Boundary: a grant answers only the sandbox of its first request: a token that leaks
    /// to another sandbox is worth nothing there.
    #[tokio::test]
    async fn a_grant_answers_only_the_sandbox_it_first_served() {
        let (_mock, proxy, grant) = setup(vec![]).await;
        let request = small_request(grant.token());
        let long = std::time::Duration::from_secs(20);
        let (_c, own) = raw(proxy.addr(), [127, 0, 0, 2], &request, long).await;
        assert!(own.starts_with("HTTP/1.1 200"), "{own}");
        let (_c, other) = raw(proxy.addr(), [127, 0, 0, 3], &request, long).await;
        assert!(other.starts_with("HTTP/1.1 403"), "{other}");
        assert!(other.contains("another sandbox"), "{other}");
        let (_c, again) = raw(proxy.addr(), [127, 0, 0, 2], &request, long).await;
        assert!(again.starts_with("HTTP/1.1 200"), "{again}");
        // Its egress tunnels too (network `open`).
        grant.allow_egress(vec![], vec![]);
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("threadwork:{}", grant.token()));
        let connect = format!(
            "CONNECT 1.1.1.1:443 HTTP/1.1\r\nHost: 1.1.1.1:443\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        );
        let (_c, tunnel) = raw(proxy.addr(), [127, 0, 0, 3], &connect, long).await;
        assert!(tunnel.starts_with("HTTP/1.1 403"), "{tunnel}");
        assert!(tunnel.contains("another sandbox"), "{tunnel}");
    }

    /// Boundary: a job's own requests are capped (each may buffer 32 MB), and a body that
    /// trickles is cut off after the body timeout.
    #[tokio::test]
    async fn a_job_holds_few_requests_and_slow_bodies_time_out() {
        let (_mock, proxy, grant) = limited(Limits {
            per_job_requests: 2,
            // Long enough that the third request surely arrives while the first two are
            // still held, on a busy machine too.
            body_timeout: std::time::Duration::from_secs(5),
            ..Limits::default()
        })
        .await;
        let stalled = format!(
            "POST /t/{}/anthropic/v1/messages HTTP/1.1\r\nhost: p\r\ncontent-type: application/json\r\n\
             content-length: 1000\r\n\r\n{{",
            grant.token()
        );
        let quiet = std::time::Duration::from_millis(200);
        let _a = raw(proxy.addr(), [127, 0, 0, 1], &stalled, quiet).await;
        let _b = raw(proxy.addr(), [127, 0, 0, 1], &stalled, quiet).await;
        let long = std::time::Duration::from_secs(20);
        let (_c, answer) = raw(proxy.addr(), [127, 0, 0, 1], &stalled, long).await;
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
        assert!(answer.contains("rate_limit_error"), "{answer}");
        let (mut first, _) = _a;
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(long, first.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("timeout_error"), "{answer}");
    }

    #[tokio::test]
    async fn agent_keys_override_the_provider_key() {
        let (mock, proxy, _grant) = setup(vec![]).await;
        let byok = proxy.grant(8, "byok", vec![]);
        let url = format!(
            "http://{}/t/{}/anthropic/v1/messages",
            proxy.addr(),
            byok.token()
        );
        reqwest::Client::new()
            .post(&url)
            .json(&json!({"model": "mock-sonnet", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            mock.requests()[0].header("x-api-key"),
            Some("sk-ant-team-key")
        );
    }
}
