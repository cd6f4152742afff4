//! The proxy's listener: what one client can hold of the bot.
//!
//! Sandboxes are hostile, and everything they send reaches the bot through this port. A
//! connection costs a file descriptor and a task, so the number the proxy holds is capped in
//! all and per client address (a sandbox reaches the proxy through its egress forwarder, so
//! a client is a forwarder), and a connection that does not send a request head within
//! `header_timeout` is closed — idle keep-alive connections included. Past the total cap the
//! proxy stops accepting (the kernel's backlog waits); past a client's cap its new
//! connections are closed at once. Descriptors left over stay for the rest of the bot: the
//! Docker client, Slack, the store.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How much of the bot the proxy's clients may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections held at once, all clients together.
    pub connections: usize,
    /// Connections held at once by one client address.
    pub per_client: usize,
    /// Time to send a request's head, counted again while a kept-alive connection idles.
    pub header_timeout: Duration,
    /// Time to send a request's body once its token has been accepted.
    pub body_timeout: Duration,
    /// Requests one job may have in flight at once (its body buffered, or its answer open).
    pub per_job_requests: usize,
    /// Egress tunnels (network `open`) open at once, all jobs together; a tunnel leaves the
    /// connection counts above once it is set up, and is counted here instead.
    pub tunnels: usize,
    /// Egress tunnels one job may have open at once.
    pub per_job_tunnels: usize,
    /// An egress tunnel through which nothing went for this long is closed.
    pub tunnel_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections: 512,
            per_client: 128,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(120),
            per_job_requests: 16,
            tunnels: 256,
            per_job_tunnels: 32,
            tunnel_idle: Duration::from_secs(300),
        }
    }
}

/// Counts of connections per client address; a slot is given back when its guard drops.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

struct ClientSlot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<ClientSlot> {
        let mut table = self.0.lock().expect("per-client lock");
        let held = table.entry(ip).or_insert(0);
        if *held >= cap {
            return None;
        }
        *held += 1;
        Some(ClientSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().expect("per-client lock");
        if let Some(held) = table.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` within `limits` until the task is aborted, which also closes
/// every connection it holds: a stopped proxy answers nobody, not even on a kept-alive
/// connection (the next process's proxy is the one to ask).
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) {
    let all = Arc::new(Semaphore::new(limits.connections));
    let mut connections = tokio::task::JoinSet::new();
    let per_client = Arc::new(PerClient::default());
    // When a refusal was last logged (one line per 10 s at most).
    let mut refused_logged: Option<std::time::Instant> = None;
    loop {
        while connections.try_join_next().is_some() {}
        let Ok(permit) = all.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer): (_, SocketAddr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %e, "model proxy cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = per_client.take(peer.ip(), limits.per_client) else {
            if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                refused_logged = Some(std::time::Instant::now());
                tracing::warn!(client = %peer.ip(), cap = limits.per_client, "model proxy refuses connections from a client over its cap");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Handlers see who is asking (`ConnectInfo`): a grant is pinned to its sandbox.
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        ));
        connections.spawn(async move {
            // HTTP/1.1 only: what the CLIs speak to a plain-HTTP base URL, and the version
            // whose head timeout also covers a connection that never sends a byte.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                // A CONNECT tunnel (the egress proxy) takes the connection over.
                .with_upgrades()
                .await;
            drop(slot);
            drop(permit);
        });
    }
}
