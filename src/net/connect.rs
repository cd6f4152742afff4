//! Opening a TCP connection to a destination, directly or through the proxy the settings
//! name for it (an HTTP `CONNECT` tunnel), for the clients that have no proxy support of their
//! own: the Slack Web API connector and the Socket Mode WebSocket.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::settings::OutboundSettings;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The longest a TCP connection (or a proxy's tunnel) may take to open.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A hyper connector: plain TCP to the destination, or to the proxy and through a tunnel.
/// TLS is layered on top by `hyper_rustls`.
#[derive(Clone)]
pub struct ProxyConnector {
    http: HttpConnector,
    matcher: Arc<Matcher>,
}

impl ProxyConnector {
    pub fn new(settings: &OutboundSettings) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        // Small request/response exchanges and Socket Mode acks: no waiting to coalesce.
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let matcher = Matcher::builder()
            .http(
                settings
                    .http_proxy
                    .as_ref()
                    .map(|p| p.expose())
                    .unwrap_or_default(),
            )
            .https(
                settings
                    .https_proxy
                    .as_ref()
                    .map(|p| p.expose())
                    .unwrap_or_default(),
            )
            .no(settings.no_proxy.clone())
            .build();
        Self {
            http,
            matcher: Arc::new(matcher),
        }
    }

    /// The proxy `dst` goes through, if any (shown without credentials).
    pub fn proxy_for(&self, dst: &Uri) -> Option<Uri> {
        self.matcher.intercept(dst).map(|i| i.uri().clone())
    }

    async fn open(self, dst: Uri) -> Result<TokioIo<TcpStream>, BoxError> {
        match self.matcher.intercept(&dst) {
            None => Ok(self.http.oneshot(dst).await?),
            Some(proxy) => {
                let via = proxy
                    .uri()
                    .authority()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let mut tunnel = Tunnel::new(proxy.uri().clone(), self.http);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                // The tunnel's default port is 443 whatever the scheme: say it.
                let dst = with_port(&dst)?;
                // A proxy that takes the connection and never answers must not hold a call
                // (or Socket Mode's reconnect) for ever.
                match tokio::time::timeout(CONNECT_TIMEOUT, tunnel.oneshot(dst)).await {
                    Ok(Ok(io)) => Ok(io),
                    Ok(Err(e)) => {
                        Err(format!("through the proxy {via}: {}", super::error_chain(&e)).into())
                    }
                    Err(_) => Err(format!(
                        "through the proxy {via}: no tunnel within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )
                    .into()),
                }
            }
        }
    }

    /// A TCP stream to `url`'s host and port (`wss`/`https` count as HTTPS for the proxy).
    pub async fn tcp(&self, url: &str) -> Result<TcpStream, BoxError> {
        let uri: Uri = url.parse()?;
        let scheme = match uri.scheme_str() {
            Some("wss" | "https") => "https",
            Some("ws" | "http") => "http",
            other => return Err(format!("unsupported URL scheme {other:?}").into()),
        };
        let authority = uri.authority().ok_or("the URL names no host")?;
        let dst: Uri = format!("{scheme}://{authority}/").parse()?;
        let stream = self.clone().open(dst).await?.into_inner();
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// `dst` with its scheme's port written out.
fn with_port(dst: &Uri) -> Result<Uri, BoxError> {
    if dst.port().is_some() {
        return Ok(dst.clone());
    }
    let host = dst.host().ok_or("the URL names no host")?;
    let port = match dst.scheme_str() {
        Some("http") => 80,
        _ => 443,
    };
    let scheme = dst.scheme_str().unwrap_or("https");
    Ok(format!("{scheme}://{host}:{port}/").parse()?)
}

impl tower::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        Box::pin(self.clone().open(dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::settings::parse_proxy;

    fn connector(no_proxy: &str) -> ProxyConnector {
        ProxyConnector::new(&OutboundSettings {
            https_proxy: Some(parse_proxy("HTTPS_PROXY", "http://u:p@proxy.corp:3128").unwrap()),
            http_proxy: None,
            no_proxy: no_proxy.into(),
            ..Default::default()
        })
    }

    #[test]
    fn https_goes_through_the_proxy_unless_no_proxy_names_it() {
        let c = connector("localhost, .internal.example,10.0.0.0/8");
        let via = |u: &str| c.proxy_for(&u.parse().unwrap()).map(|p| p.to_string());
        assert_eq!(
            via("https://slack.com/api/auth.test").as_deref(),
            Some("http://proxy.corp:3128/")
        );
        assert_eq!(via("http://slack.com/"), None, "no HTTP_PROXY given");
        assert_eq!(via("https://localhost:8443/"), None);
        assert_eq!(via("https://git.internal.example/"), None);
        assert_eq!(via("https://10.1.2.3/"), None);
        assert!(via("https://internal.example.com/").is_some());
    }

    #[test]
    fn a_missing_port_is_the_schemes() {
        assert_eq!(
            with_port(&"http://a.example/x".parse().unwrap())
                .unwrap()
                .to_string(),
            "http://a.example:80/"
        );
        assert_eq!(
            with_port(&"https://a.example".parse().unwrap())
                .unwrap()
                .to_string(),
            "https://a.example:443/"
        );
    }
}
