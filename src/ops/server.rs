//! The ops HTTP server: `/metrics` (Prometheus text), `/healthz` (the process answers),
//! `/readyz` (Slack connected, store open, container runtime reachable) — open to whoever
//! reaches the port — and `/audit` and `/jobs/<id>` (what `threadwork audit` and `jobs show`
//! read while the bot holds the store), which show job content: they need the configured
//! bearer token, or without one answer loopback clients only (`/store/backup` too).
//!
//! `/slack/events`, the HTTP Events API transport (signature and timestamp checked,
//! `url_verification` answered, events fed to the same pipeline as Socket Mode), has a
//! listener of its own: the one port Slack must reach exposes nothing else.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::events::{SlackPushEvent, SlackPushEventCallback};
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};
use tokio::sync::mpsc;

use super::metrics::Metrics;
use crate::runtime::Runtime;
use crate::store::Store;

/// Whether Slack is connected, as far as Socket Mode tells: a `hello` after the last socket
/// error means a live connection. The HTTP transport has no connection to lose.
#[derive(Debug, Default)]
pub struct Health {
    http_transport: bool,
    last_hello: Mutex<Option<Instant>>,
    last_error: Mutex<Option<Instant>>,
}

impl Health {
    pub fn http() -> Self {
        Self {
            http_transport: true,
            ..Self::default()
        }
    }

    pub fn hello(&self) {
        *self.last_hello.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    pub fn socket_error(&self) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    pub fn slack_connected(&self) -> bool {
        if self.http_transport {
            return true;
        }
        let hello = *self.last_hello.lock().unwrap_or_else(|e| e.into_inner());
        let error = *self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        match (hello, error) {
            (Some(h), Some(e)) => h > e,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Where HTTP events go, and how they are checked.
pub struct EventsIntake {
    pub verifier: SlackEventSignatureVerifier,
    pub tx: mpsc::Sender<crate::chat::inbound::Envelope>,
}

#[derive(Clone)]
pub struct OpsState {
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub store: Arc<dyn Store>,
    pub runtime: Option<Arc<dyn Runtime>>,
    pub events: Option<Arc<EventsIntake>>,
    /// Bearer token for the endpoints that show job content; without one they are served
    /// only when the server is bound to loopback, and only to loopback clients.
    pub token: Option<Arc<SecretString>>,
    /// The ops listener's address is a loopback one.
    pub bound_to_loopback: bool,
}

/// Serves the ops endpoints on `addr`; returns the bound address (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    state: OpsState,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/audit", get(audit))
        .route("/jobs/{id}", get(job))
        .route("/agents/{agent}/learning", get(learning))
        .route("/prompt_versions/{version}", get(prompt_version))
        .route("/store/backup", get(store_backup))
        .with_state(state);
    serve_router(addr, app, shutdown, "ops server").await
}

/// Serves `/slack/events` alone on `addr` (the HTTP Events API transport).
pub async fn serve_events(
    addr: SocketAddr,
    state: OpsState,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/slack/events", post(slack_events))
        .with_state(state);
    serve_router(addr, app, shutdown, "Slack events listener").await
}

async fn serve_router(
    addr: SocketAddr,
    app: Router,
    shutdown: tokio_util::sync::CancellationToken,
    what: &'static str,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, what, "stopped");
        }
    });
    tracing::info!(%bound, what, "listening");
    Ok(bound)
}

/// Who may read job content: the bearer of the configured token, or — without a token, and
/// only on a server bound to loopback — a client on this machine. A server on another address
/// needs the token: a sidecar proxy or a local process would otherwise pass as loopback.
pub fn may_read_jobs(
    token: Option<&SecretString>,
    bound_to_loopback: bool,
    peer: &SocketAddr,
    headers: &HeaderMap,
) -> bool {
    match token {
        Some(token) => headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| same(given.as_bytes(), token.expose_secret().as_bytes())),
        None => bound_to_loopback && peer.ip().is_loopback(),
    }
}

/// Compares in time that depends on the length only, not on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refused(s: &OpsState) -> Response {
    let why = if s.token.is_some() {
        "this endpoint shows job content: send `Authorization: Bearer <[ops] token>`\n"
    } else {
        "this endpoint shows job content: set `[ops] token` (or THREADWORK_OPS_TOKEN); without one it is served only on a loopback listener, to local clients\n"
    };
    (StatusCode::UNAUTHORIZED, why).into_response()
}

async fn metrics(State(s): State<OpsState>) -> Response {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(s): State<OpsState>) -> Response {
    let slack = s.health.slack_connected();
    let store = s.store.job(0).is_ok();
    let runtime = match &s.runtime {
        Some(r) => r.ping().await.map_err(|e| e.to_string()),
        None => Ok(()),
    };
    let ready = slack && store && runtime.is_ok();
    let body = serde_json::json!({
        "ready": ready,
        "slack_connected": slack,
        "store_open": store,
        "runtime": match &runtime { Ok(()) => "reachable".to_string(), Err(e) => e.clone() },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Every audit record as JSON lines (the CLI filters).
async fn audit(
    State(s): State<OpsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !may_read_jobs(s.token.as_deref(), s.bound_to_loopback, &peer, &headers) {
        return refused(&s);
    }
    // The records as stored, byte for byte, so a client can check the hash chain.
    match s.store.audit_raw() {
        Ok(records) => {
            let mut out = Vec::new();
            for r in records {
                out.extend_from_slice(&r);
                out.push(b'\n');
            }
            ([("content-type", "application/x-ndjson")], out).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn job(
    State(s): State<OpsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    if !may_read_jobs(s.token.as_deref(), s.bound_to_loopback, &peer, &headers) {
        return refused(&s);
    }
    match (s.store.job(id), s.store.transcript(id)) {
        (Ok(Some(job)), Ok(transcript)) => {
            let job = job.without_secrets();
            Json(serde_json::json!({ "job": job, "transcript": transcript })).into_response()
        }
        (Ok(None), _) => (StatusCode::NOT_FOUND, format!("no job {id}\n")).into_response(),
        (Err(e), _) | (_, Err(e)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

/// An agent's amendments and approved cases (`threadwork eval` while this bot holds the
/// store): job content, so for whoever may read jobs.
async fn learning(
    State(s): State<OpsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(agent): Path<String>,
) -> Response {
    if !may_read_jobs(s.token.as_deref(), s.bound_to_loopback, &peer, &headers) {
        return refused(&s);
    }
    match (s.store.amendments(&agent), s.store.eval_cases(&agent)) {
        (Ok(amendments), Ok(approved)) => Json(serde_json::json!({
            "amendments": amendments,
            "approved_cases": approved,
        }))
        .into_response(),
        (Err(e), _) | (_, Err(e)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

/// A prompt version's text (`threadwork eval --prompt version:<v>`).
async fn prompt_version(
    State(s): State<OpsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(version): Path<String>,
) -> Response {
    if !may_read_jobs(s.token.as_deref(), s.bound_to_loopback, &peer, &headers) {
        return refused(&s);
    }
    match s.store.prompt_version(&version) {
        Ok(Some(text)) => text.into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!("no prompt version {version}\n"),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The whole store in the backup format (`threadwork store backup` while this bot holds
/// the store), streamed as it is written. It holds job content and running jobs' live model
/// tokens: only for whoever may read job content.
async fn store_backup(
    State(s): State<OpsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    // Live credentials are in it: the token is needed even on a loopback listener, where
    // `/audit` is open to local clients.
    if s.token.is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            "a backup holds running jobs' live model tokens: set `[ops] token` (or THREADWORK_OPS_TOKEN) to take one from a running bot\n",
        )
            .into_response();
    }
    if !may_read_jobs(s.token.as_deref(), s.bound_to_loopback, &peer, &headers) {
        return refused(&s);
    }
    // One at a time: each holds a blocking thread while its client reads.
    static TAKING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let Ok(permit) = TAKING.try_acquire() else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "a backup is being taken; try again when it is done\n",
        )
            .into_response();
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(8);
    let store = s.store.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
            runtime,
        };
        match store.backup(&mut out) {
            Ok(n) => tracing::info!(records = n, "store backup served"),
            Err(e) => {
                tracing::warn!(error = %e, "store backup not served whole");
                // The body ends in an error: the client never sees a trailer, and refuses it.
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [("content-type", "application/x-ndjson")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

const CHUNK: usize = 64 * 1024;

/// A blocking writer whose bytes go out as the chunks of a response body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
    buf: Vec<u8>,
    runtime: tokio::runtime::Handle,
}

/// How long a backup waits for its client to take the next chunk before giving up.
const CLIENT_STALL: std::time::Duration = std::time::Duration::from_secs(60);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk =
            axum::body::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let sent = self
            .runtime
            .block_on(tokio::time::timeout(CLIENT_STALL, self.tx.send(Ok(chunk))));
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(std::io::Error::other("the client went away")),
            Err(_) => Err(std::io::Error::other("the client stopped reading")),
        }
    }
}

/// What an HTTP Events API request is, once checked (pure, apart from the clock the verifier
/// reads).
#[derive(Debug)]
pub enum Intake {
    Challenge(String),
    Event(Box<SlackPushEventCallback>),
    Ignored,
    Rejected {
        status: StatusCode,
        reason: &'static str,
    },
}

pub fn check_request(
    verifier: &SlackEventSignatureVerifier,
    headers: &HeaderMap,
    body: &[u8],
) -> Intake {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(sig)) = (
        header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
    ) else {
        return Intake::Rejected {
            status: StatusCode::UNAUTHORIZED,
            reason: "missing_signature",
        };
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return Intake::Rejected {
            status: StatusCode::BAD_REQUEST,
            reason: "bad_body",
        };
    };
    if let Err(e) = verifier.verify(sig, text, ts) {
        let reason = match e {
            SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => {
                "stale_timestamp"
            }
            _ => "bad_signature",
        };
        return Intake::Rejected {
            status: StatusCode::UNAUTHORIZED,
            reason,
        };
    }
    match serde_json::from_str::<SlackPushEvent>(text) {
        Ok(SlackPushEvent::UrlVerification(v)) => Intake::Challenge(v.challenge),
        Ok(SlackPushEvent::EventCallback(cb)) => Intake::Event(Box::new(cb)),
        Ok(SlackPushEvent::AppRateLimited(_)) => Intake::Ignored,
        Err(_) => Intake::Rejected {
            status: StatusCode::BAD_REQUEST,
            reason: "bad_body",
        },
    }
}

async fn slack_events(State(s): State<OpsState>, headers: HeaderMap, body: Bytes) -> Response {
    let arrived = Instant::now();
    let Some(intake) = &s.events else {
        return (
            StatusCode::NOT_FOUND,
            "the HTTP Events API transport is off (`[slack] transport = \"http\"`)\n",
        )
            .into_response();
    };
    match check_request(&intake.verifier, &headers, &body) {
        Intake::Challenge(challenge) => {
            Json(serde_json::json!({ "challenge": challenge })).into_response()
        }
        Intake::Event(cb) => {
            s.metrics.events_received.inc();
            match intake.tx.try_send(crate::chat::inbound::Envelope::new(*cb)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // Slack retries a request that was not answered with 200.
                    s.metrics.events_shed.inc();
                    tracing::warn!("inbound event shed: the queue is full; Slack retries it");
                    return (StatusCode::SERVICE_UNAVAILABLE, "busy\n").into_response();
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
                }
            }
            s.metrics.events_acked.inc();
            s.metrics
                .ack_seconds
                .observe(arrived.elapsed().as_secs_f64());
            StatusCode::OK.into_response()
        }
        Intake::Ignored => StatusCode::OK.into_response(),
        Intake::Rejected { status, reason } => {
            s.metrics.rejected(reason);
            tracing::warn!(reason, "HTTP Events API request rejected");
            (status, format!("{reason}\n")).into_response()
        }
    }
}
