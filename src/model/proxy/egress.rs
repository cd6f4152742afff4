//! The egress proxy: how a Docker sandbox with network `open` goes out.
//!
//! Such a sandbox sits on its own internal network like one with `model` (`runtime::docker`):
//! the only address it reaches is its run's forwarder to this listener. Its `HTTPS_PROXY`
//! names that address with the job's token as the password, and each connection it makes
//! is a `CONNECT host:port` tunnel. The token is checked first (a made-up one costs a head,
//! nothing more), then the name is resolved here and every address checked against
//! `runtime::open`; the tunnel goes to the address that passed, so neither the host, the
//! networks around it, cloud metadata, nor a name re-resolved to one of them is reached.
//! Tunnels per job and in all are capped, name lookups in all too (a lookup cannot be called
//! off, so its slot is held until it ends); a tunnel idle for `Limits::tunnel_idle` closes,
//! and a job's tunnels are cut when its grant ends. A refusal tells the sandbox only that
//! `open` does not reach the name (the log has the address and why), so the proxy cannot be
//! used to map internal names. Plain `http://` is not forwarded: the proxy would have to read
//! and rewrite each request.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper_util::rt::TokioIo;
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::runtime::open;

/// Time to resolve a name, and then to connect to it.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Name lookups under way at once, all jobs together, and of one job.
pub(super) const LOOKUPS: usize = 32;
const PER_JOB_LOOKUPS: usize = 4;

/// What a grant holds of the egress proxy: set for a job whose sandbox has network `open`.
#[derive(Debug)]
pub(super) struct EgressGrant {
    /// Ranges reached although not public (`[sandbox] open_allow`).
    allow: Arc<[IpNet]>,
    /// Ranges never reached although public (`[sandbox] open_deny`).
    deny: Arc<[IpNet]>,
    /// Tests tunnel to loopback, the one place a test machine has to tunnel to.
    #[cfg(test)]
    pub(super) loopback: bool,
    /// Tunnels open now.
    tunnels: Arc<AtomicUsize>,
    /// Name lookups of the job under way (`PER_JOB_LOOKUPS`).
    lookups: Arc<AtomicUsize>,
    /// Refusals so far (logged sparingly).
    refused: u32,
    /// Cancelled when the grant ends: its tunnels close.
    cut: CancellationToken,
}

impl EgressGrant {
    pub(super) fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Self {
        Self {
            allow: allow.into(),
            deny: deny.into(),
            #[cfg(test)]
            loopback: false,
            tunnels: Arc::default(),
            lookups: Arc::default(),
            refused: 0,
            cut: CancellationToken::new(),
        }
    }

    pub(super) fn end(&self) {
        self.cut.cancel();
    }
}

/// One tunnel's place in its job's count; given back when dropped.
struct TunnelSlot {
    /// The count of the grant it was taken from (not of one that replaced it).
    count: Arc<AtomicUsize>,
    _all: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for TunnelSlot {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One name lookup's place, in all and in its job's count; given back when dropped, which
/// is when the lookup itself returns (it cannot be called off).
struct LookupSlot {
    count: Arc<AtomicUsize>,
    _all: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for LookupSlot {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Takes one place in `count` unless it holds `cap` already.
fn take(count: &Arc<AtomicUsize>, cap: usize) -> bool {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
}

fn say(status: StatusCode, message: String) -> Response {
    (status, format!("threadwork egress proxy: {message}\n")).into_response()
}

/// What the listener answers outside `/t/<token>/…`: a tunnel for `CONNECT`, a refusal
/// otherwise.
pub(super) async fn fallback(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if request.method() == Method::CONNECT {
        return connect(shared, peer, request).await;
    }
    if request.uri().scheme().is_some() {
        // A proxy request for a plain-http URL.
        return say(
            StatusCode::METHOD_NOT_ALLOWED,
            "only https:// goes out (a CONNECT tunnel); plain http:// is not forwarded".into(),
        );
    }
    (
        StatusCode::FORBIDDEN,
        "threadwork model proxy: requests need a job token",
    )
        .into_response()
}

/// The job token from `Proxy-Authorization: Basic base64(<any user>:<token>)`.
fn proxy_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::PROXY_AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 512 {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_, token) = decoded.split_once(':')?;
    (!token.is_empty()).then(|| token.to_string())
}

/// `host:port` of a CONNECT request; the host without an IPv6 literal's brackets.
fn target(request: &Request) -> Option<(String, u16)> {
    let authority = request.uri().authority()?;
    let port = authority.port_u16().filter(|&p| p != 0)?;
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty() && host.len() <= 253).then(|| (host.to_string(), port))
}

/// Takes a tunnel slot for the grant `token` used from `peer`, or says why not.
fn admit(
    shared: &Arc<Shared>,
    token: &str,
    peer: SocketAddr,
) -> Result<Admitted, (StatusCode, String)> {
    let all = shared.tunnels.clone().try_acquire_owned().map_err(|_| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many tunnels open on this bot; try again shortly".to_string(),
        )
    })?;
    let mut grants = shared.grants.lock().expect("grants lock");
    let Some(grant) = grants.get_mut(token) else {
        let (status, why) = if shared.recovering.load(std::sync::atomic::Ordering::SeqCst) {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the bot is starting; try again shortly",
            )
        } else {
            (
                StatusCode::FORBIDDEN,
                "this job token is not valid, or its job has ended",
            )
        };
        return Err((status, why.into()));
    };
    if !grant.pin(peer) {
        tracing::warn!(job = grant.job, agent = %grant.agent, client = %peer.ip(), "egress tunnel with a job's token from another sandbox refused");
        return Err((
            StatusCode::FORBIDDEN,
            "this job token belongs to another sandbox".into(),
        ));
    }
    let (job, agent) = (grant.job, grant.agent.clone());
    let Some(egress) = grant.egress.as_mut() else {
        return Err((
            StatusCode::FORBIDDEN,
            format!("job {job} does not have network `open`: nothing goes out for it"),
        ));
    };
    if !take(&egress.tunnels, shared.limits.per_job_tunnels) {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this job already has {} tunnels open",
                shared.limits.per_job_tunnels
            ),
        ));
    }
    Ok(Admitted {
        job,
        agent,
        allow: egress.allow.clone(),
        deny: egress.deny.clone(),
        #[cfg(test)]
        loopback: egress.loopback,
        cut: egress.cut.clone(),
        lookups: egress.lookups.clone(),
        slot: TunnelSlot {
            count: egress.tunnels.clone(),
            _all: all,
        },
    })
}

struct Admitted {
    job: u64,
    agent: String,
    allow: Arc<[IpNet]>,
    deny: Arc<[IpNet]>,
    #[cfg(test)]
    loopback: bool,
    cut: CancellationToken,
    lookups: Arc<AtomicUsize>,
    slot: TunnelSlot,
}

impl Admitted {
    /// Whether the job may reach `ip` (`runtime::open::check`).
    fn reaches(&self, ip: IpAddr, host: &[IpAddr]) -> Result<(), open::Unreachable> {
        #[cfg(test)]
        if self.loopback && ip.is_loopback() {
            return Ok(());
        }
        open::check(
            ip,
            open::Fence {
                allow: &self.allow,
                deny: &self.deny,
                host,
            },
        )
    }
}

/// Why a name gave no address to check.
enum Unresolved {
    /// The lookup slots are taken: the sandbox may try again.
    Busy(StatusCode, String),
    /// No address, or no answer in time: refused like an address `open` does not reach, so
    /// that a sandbox cannot tell an internal name from a missing one (logged as `.0`).
    Nothing(String),
}

/// The addresses of `host`, resolved on a blocking thread that keeps its lookup slots (the
/// bot's and the job's) until it returns, however long after the time-out the resolver
/// answers.
async fn resolve(
    shared: &Shared,
    job_lookups: &Arc<AtomicUsize>,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Unresolved> {
    if !take(job_lookups, PER_JOB_LOOKUPS) {
        return Err(Unresolved::Busy(
            StatusCode::TOO_MANY_REQUESTS,
            format!("this job already has {PER_JOB_LOOKUPS} name lookups under way"),
        ));
    }
    let count = job_lookups.clone();
    let Ok(all) = shared.lookups.clone().try_acquire_owned() else {
        count.fetch_sub(1, Ordering::SeqCst);
        return Err(Unresolved::Busy(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many name lookups under way on this bot; try again shortly".into(),
        ));
    };
    let slot = LookupSlot { count, _all: all };
    let name = host.to_string();
    let lookup = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port))
            .map(|a| a.collect::<Vec<_>>())
    });
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(Ok(found))) => Ok(found),
        Ok(Ok(Err(e))) => Err(Unresolved::Nothing(format!("cannot resolve: {e}"))),
        Ok(Err(e)) => Err(Unresolved::Nothing(format!("lookup failed: {e}"))),
        Err(_) => Err(Unresolved::Nothing("lookup took too long".into())),
    }
}

/// Logs a refusal: the first few of a job, then every power of two.
fn log_refusal(shared: &Shared, token: &str, host: &str, port: u16, why: &str) {
    shared.with_grant(token, |g| {
        let (job, agent) = (g.job, g.agent.clone());
        let Some(e) = g.egress.as_mut() else {
            return;
        };
        e.refused = e.refused.saturating_add(1);
        if e.refused <= 5 || e.refused.is_power_of_two() {
            tracing::warn!(job, %agent, host = ?crate::text::clip(host, 100), port, why, refused = e.refused, "egress tunnel refused");
        }
    });
}

async fn connect(shared: Arc<Shared>, peer: SocketAddr, mut request: Request) -> Response {
    let Some(token) = proxy_token(request.headers()) else {
        return (
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            [(header::PROXY_AUTHENTICATE, "Basic realm=\"threadwork\"")],
            "threadwork egress proxy: the job's token is missing (HTTPS_PROXY carries it)\n",
        )
            .into_response();
    };
    let admitted = match admit(&shared, &token, peer) {
        Ok(a) => a,
        Err((status, why)) => return say(status, why),
    };
    let Some((host, port)) = target(&request) else {
        return say(StatusCode::BAD_REQUEST, "CONNECT needs `host:port`".into());
    };
    let unreachable = |host: &str| {
        say(
            StatusCode::FORBIDDEN,
            format!(
                "network `open` does not reach `{host}` (only public addresses, and the admin's `open_allow`)"
            ),
        )
    };
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match resolve(&shared, &admitted.lookups, &host, port).await {
            Ok(found) => found,
            Err(Unresolved::Busy(status, why)) => return say(status, why),
            Err(Unresolved::Nothing(why)) => {
                log_refusal(&shared, &token, &host, port, &why);
                return unreachable(&host);
            }
        },
    };
    // Every address is checked; the tunnel goes to one that passed, never re-resolved.
    let local = open::host_addresses();
    let mut refusal = None;
    let chosen = addresses
        .iter()
        .copied()
        .find(|a| match admitted.reaches(a.ip(), &local) {
            Ok(()) => true,
            Err(why) => {
                refusal.get_or_insert((a.ip(), why));
                false
            }
        });
    let Some(address) = chosen else {
        let why = match refusal {
            Some((ip, why)) => format!("{ip}: {why:?}"),
            None => "no address".into(),
        };
        log_refusal(&shared, &token, &host, port, &why);
        return unreachable(&host);
    };
    let upstream = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return say(
                StatusCode::BAD_GATEWAY,
                format!("cannot connect to `{host}`: {}", e.kind()),
            )
        }
        Err(_) => {
            return say(
                StatusCode::GATEWAY_TIMEOUT,
                format!("connecting to `{host}` took too long"),
            )
        }
    };
    let _ = upstream.set_nodelay(true);
    let upgrade = hyper::upgrade::on(&mut request);
    let Admitted {
        job,
        agent,
        cut,
        slot,
        ..
    } = admitted;
    tracing::debug!(job, %agent, host = ?crate::text::clip(&host, 100), port, %address, "egress tunnel opened");
    let idle = shared.limits.tunnel_idle;
    tokio::spawn(async move {
        let _slot = slot;
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        let mut upstream = Watched::new(upstream);
        let last = upstream.last.clone();
        tokio::select! {
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                let (out, back) = copied.unwrap_or_default();
                tracing::debug!(job, %address, bytes_out = out, bytes_in = back, "egress tunnel closed");
            }
            _ = cut.cancelled() => {
                tracing::debug!(job, %address, "egress tunnel cut: its job ended");
            }
            _ = last.idle_for(idle) => {
                tracing::debug!(job, %address, "egress tunnel closed: idle");
            }
        }
    });
    StatusCode::OK.into_response()
}

/// When bytes last went through a tunnel, either way.
struct Activity {
    start: tokio::time::Instant,
    /// Milliseconds from `start`.
    at: std::sync::atomic::AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.at.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Returns once nothing went through for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.at.load(std::sync::atomic::Ordering::Relaxed));
            let quiet = self.start.elapsed().saturating_sub(last);
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    }
}

/// The upstream side of a tunnel, noting each read and write (so both directions).
struct Watched {
    inner: tokio::net::TcpStream,
    last: Arc<Activity>,
}

impl Watched {
    fn new(inner: tokio::net::TcpStream) -> Self {
        Self {
            inner,
            last: Arc::new(Activity {
                start: tokio::time::Instant::now(),
                at: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last.touch();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.last.touch();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ModelProxy, ProxyConfig};
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A listener on every interface that greets each connection and keeps it open.
    async fn greeter() -> u16 {
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = s.write_all(b"hello through the tunnel\n").await;
                    let mut sink = [0u8; 64];
                    while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
                });
            }
        });
        port
    }

    /// A proxy on loopback with `limits`.
    async fn on_loopback(limits: crate::model::listen::Limits) -> ModelProxy {
        let config = ProxyConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            ..ProxyConfig::default()
        };
        ModelProxy::start_limited(config, None, limits)
            .await
            .unwrap()
    }

    /// Sends `head` to the proxy; the connection and the response's status line.
    async fn ask(proxy: SocketAddr, head: String) -> (tokio::net::TcpStream, String) {
        let mut s = tokio::net::TcpStream::connect(proxy).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            got.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&got).to_string();
        (s, text.lines().next().unwrap_or_default().to_string())
    }

    fn connect_head(target: &str, token: Option<&str>) -> String {
        let auth = token
            .map(|t| {
                let b = base64::engine::general_purpose::STANDARD.encode(format!("threadwork:{t}"));
                format!("Proxy-Authorization: Basic {b}\r\n")
            })
            .unwrap_or_default();
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n")
    }

    async fn first_line(s: &mut tokio::net::TcpStream) -> String {
        let mut buf = vec![0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the tunnel answers")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    // Guards (part 2, item 5): only a live token of a job with `open` tunnels, and only to
    // public addresses or the admin's ranges; its tunnels end with its grant.
    #[tokio::test]
    async fn tunnels_need_a_token_with_open_and_reach_only_what_open_allows() {
        let port = greeter().await;
        let proxy = ModelProxy::start(ProxyConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            ..ProxyConfig::default()
        })
        .await
        .unwrap();
        let at = proxy.addr();
        let allowed = format!("127.0.0.2:{port}");

        // No token; a token nobody holds; a job without network `open`.
        let (_, status) = ask(at, connect_head(&allowed, None)).await;
        assert!(status.contains(" 407 "), "{status}");
        let (_, status) = ask(at, connect_head(&allowed, Some("made-up"))).await;
        assert!(status.contains(" 403 "), "{status}");
        let closed = proxy.grant(1, "quiet", vec![]);
        let (_, status) = ask(at, connect_head(&allowed, Some(closed.token()))).await;
        assert!(status.contains(" 403 "), "{status}");

        // The real rule: an admin's range never opens loopback, the host or metadata.
        let strict = proxy.grant(2, "web", vec![]);
        strict.allow_egress(
            vec!["127.0.0.0/8".parse().unwrap(), "0.0.0.0/0".parse().unwrap()],
            vec![],
        );
        for refused in [
            allowed.clone(),
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            "169.254.169.254:80".to_string(),
            "[::ffff:127.0.0.1]:443".to_string(),
            "[::1]:443".to_string(),
            // A name with no address reads the same as one `open` does not reach.
            "no-such-host.invalid:443".to_string(),
        ] {
            let (mut s, status) = ask(at, connect_head(&refused, Some(strict.token()))).await;
            assert!(status.contains(" 403 "), "{refused}: {status}");
            // The sandbox is told no more than that: not the address a name resolved to.
            let body = first_line(&mut s).await;
            assert!(body.contains("does not reach"), "{body}");
            if refused.starts_with("localhost") {
                assert!(
                    !body.contains("127.0.0.1") && !body.contains("::1"),
                    "{body}"
                );
            }
        }

        // Loopback stands in for the internet here (`allow_egress_to_loopback`): private
        // ranges stay closed.
        let grant = proxy.grant(3, "web", vec![]);
        grant.allow_egress_to_loopback();
        let token = grant.token().to_string();
        for refused in [
            "10.0.0.1:443".to_string(),
            "169.254.169.254:80".to_string(),
            "[::ffff:10.0.0.1]:443".to_string(),
        ] {
            let (_, status) = ask(at, connect_head(&refused, Some(&token))).await;
            assert!(status.contains(" 403 "), "{refused}: {status}");
        }
        // Plain http through the proxy is refused, not forwarded.
        let (_, status) = ask(
            at,
            format!("GET http://127.0.0.2:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n"),
        )
        .await;
        assert!(status.contains(" 405 "), "{status}");

        // The tunnel carries bytes both ways.
        let (mut tunnel, status) = ask(at, connect_head(&allowed, Some(&token))).await;
        assert!(status.contains(" 200 "), "{status}");
        assert_eq!(first_line(&mut tunnel).await, "hello through the tunnel\n");

        // The job ends: its open tunnel is cut, and no new one opens.
        drop(grant);
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), tunnel.read_to_end(&mut rest))
            .await
            .expect("the tunnel is cut when its grant ends");
        let (_, status) = ask(at, connect_head(&allowed, Some(&token))).await;
        assert!(status.contains(" 403 "), "{status}");
    }

    #[tokio::test]
    async fn an_idle_tunnel_is_closed() {
        let port = greeter().await;
        let proxy = on_loopback(crate::model::listen::Limits {
            tunnel_idle: Duration::from_millis(300),
            ..Default::default()
        })
        .await;
        let grant = proxy.grant(4, "web", vec![]);
        grant.allow_egress_to_loopback();
        let target = format!("127.0.0.2:{port}");
        let (mut s, status) = ask(proxy.addr(), connect_head(&target, Some(grant.token()))).await;
        assert!(status.contains(" 200 "), "{status}");
        first_line(&mut s).await;
        // Nothing more goes through: the proxy closes it (the greeter never would).
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "an idle tunnel stays open");
    }

    #[tokio::test]
    async fn a_jobs_tunnels_are_capped() {
        let port = greeter().await;
        let proxy = on_loopback(crate::model::listen::Limits {
            per_job_tunnels: 2,
            ..Default::default()
        })
        .await;
        let grant = proxy.grant(3, "web", vec![]);
        grant.allow_egress_to_loopback();
        let target = format!("127.0.0.2:{port}");
        let mut held = vec![];
        for _ in 0..2 {
            let (mut s, status) =
                ask(proxy.addr(), connect_head(&target, Some(grant.token()))).await;
            assert!(status.contains(" 200 "), "{status}");
            // The tunnel is up (and counted) once its first bytes come through.
            first_line(&mut s).await;
            held.push(s);
        }
        let (_, status) = ask(proxy.addr(), connect_head(&target, Some(grant.token()))).await;
        assert!(status.contains(" 429 "), "{status}");
        // One closes: its place is given back.
        drop(held.pop());
        let mut status = String::new();
        for _ in 0..500 {
            status = ask(proxy.addr(), connect_head(&target, Some(grant.token())))
                .await
                .1;
            if status.contains(" 200 ") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(status.contains(" 200 "), "{status}");
    }

    #[test]
    fn the_token_is_the_password_of_basic_proxy_authorization() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("threadwork:abc123");
        headers.insert(
            header::PROXY_AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(proxy_token(&headers).as_deref(), Some("abc123"));
        for bad in ["Bearer abc123", "Basic !!!", "Basic dGhyZWFkd29yazo="] {
            headers.insert(header::PROXY_AUTHORIZATION, bad.parse().unwrap());
            assert_eq!(proxy_token(&headers), None, "{bad}");
        }
        assert_eq!(proxy_token(&HeaderMap::new()), None);
    }

    #[test]
    fn a_connect_target_needs_a_host_and_a_port() {
        let req = |uri: &str| {
            Request::builder()
                .method(Method::CONNECT)
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(
            target(&req("example.com:443")),
            Some(("example.com".into(), 443))
        );
        assert_eq!(
            target(&req("[2001:db8::1]:443")),
            Some(("2001:db8::1".into(), 443))
        );
        assert_eq!(target(&req("example.com:0")), None);
    }
}
