//! What the environment says about outbound connections, read once and checked: extra trusted
//! certificates (`SSL_CERT_FILE`, `SSL_CERT_DIR`) and the proxy (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, upper or lower case, as curl and most tools read them). Pure: the
//! caller gives the lookup.

use std::path::PathBuf;

/// A proxy the bot can use: an `http://` URL (credentials allowed), never shown with them.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    url: url::Url,
}

impl ProxyUrl {
    /// `http://[user:pass@]host:port`, the port always written out (curl would take 1080
    /// for a missing one, other clients 80): for the clients, never for a log.
    pub fn expose(&self) -> String {
        let auth = match (self.url.username(), self.url.password()) {
            ("", None) => String::new(),
            (user, None) => format!("{user}@"),
            (user, Some(pass)) => format!("{user}:{pass}@"),
        };
        format!(
            "{}://{auth}{}:{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or_default(),
            self.url.port_or_known_default().unwrap_or(80)
        )
    }

    pub fn has_credentials(&self) -> bool {
        !self.url.username().is_empty() || self.url.password().is_some()
    }
}

/// `http://proxy:3128`, with `***@` in place of any credentials.
impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self.url.host_str().unwrap_or_default();
        let port = self
            .url
            .port_or_known_default()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let auth = if self.has_credentials() { "***@" } else { "" };
        write!(f, "{}://{auth}{host}{port}", self.url.scheme())
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// The outbound settings of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundSettings {
    /// `SSL_CERT_FILE`: a PEM bundle used instead of the system's store.
    pub cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`: folders of PEM files used instead of the system's store.
    pub cert_dirs: Vec<PathBuf>,
    /// For `https://` (and `wss://`) destinations.
    pub https_proxy: Option<ProxyUrl>,
    /// For `http://` (and `ws://`) destinations.
    pub http_proxy: Option<ProxyUrl>,
    /// Destinations reached directly: comma-separated hosts, domains (`.corp.example`), IPs
    /// and CIDR ranges, or `*`.
    pub no_proxy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{var}={shown} is not a proxy this bot can use: {why}")]
    Proxy {
        var: &'static str,
        shown: String,
        why: String,
    },
}

/// The first of `names` that is set and not empty, with its name.
fn first(
    get: &dyn Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| {
        get(n)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (*n, v))
    })
}

/// Parses a proxy value; a bare `host:port` means `http://host:port`.
pub fn parse_proxy(var: &'static str, value: &str) -> Result<ProxyUrl, SettingsError> {
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    // Shown without anything that could be a credential.
    let shown = match with_scheme.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => with_scheme.clone(),
    };
    let bad = |why: &str| SettingsError::Proxy {
        var,
        shown: shown.clone(),
        why: why.to_string(),
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(bad(
            "only http:// proxies are supported (the connection to the proxy is plain; \
             HTTPS destinations are tunnelled through it with CONNECT)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(bad("a proxy URL is scheme, host and port only"));
    }
    // Tools disagree on a missing port (curl: 1080, most others: 80): ask for it.
    let authority = with_scheme
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
        .unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = host_port.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !port.is_empty() && !host_port.ends_with(']')
    });
    if !has_port {
        return Err(bad("give its port (http://host:port)"));
    }
    Ok(ProxyUrl { url })
}

impl OutboundSettings {
    /// Reads the variables through `get` (the process environment in production).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let proxy = |names: &[&'static str]| {
            first(get, names)
                .map(|(var, value)| parse_proxy(var, &value))
                .transpose()
        };
        Ok(Self {
            cert_file: first(get, &["SSL_CERT_FILE"]).map(|(_, v)| PathBuf::from(v)),
            cert_dirs: first(get, &["SSL_CERT_DIR"])
                .map(|(_, v)| {
                    v.split(':')
                        .filter(|d| !d.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
            https_proxy: proxy(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])?,
            http_proxy: proxy(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])?,
            no_proxy: first(get, &["NO_PROXY", "no_proxy"])
                .map(|(_, v)| v)
                .unwrap_or_default(),
        })
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Whether the system's own store is replaced by `SSL_CERT_FILE` / `SSL_CERT_DIR`.
    pub fn replaces_system_store(&self) -> bool {
        self.cert_file.is_some() || !self.cert_dirs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<OutboundSettings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OutboundSettings::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_no_proxy_and_the_system_store() {
        let s = read(&[]).unwrap();
        assert_eq!(s, OutboundSettings::default());
        assert!(!s.replaces_system_store());
    }

    #[test]
    fn upper_case_wins_and_all_proxy_is_the_fallback() {
        let s = read(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("ALL_PROXY", "proxy.corp:3128"),
            ("no_proxy", "localhost,.corp.example"),
        ])
        .unwrap();
        assert_eq!(s.https_proxy.unwrap().expose(), "http://upper:2");
        assert_eq!(s.http_proxy.unwrap().expose(), "http://proxy.corp:3128");
        assert_eq!(s.no_proxy, "localhost,.corp.example");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = read(&[("HTTPS_PROXY", " "), ("https_proxy", "http://p:8080")]).unwrap();
        assert_eq!(s.https_proxy.unwrap().to_string(), "http://p:8080");
    }

    #[test]
    fn certificate_paths_are_read() {
        let s = read(&[
            ("SSL_CERT_FILE", "/etc/corp/ca.pem"),
            ("SSL_CERT_DIR", "/etc/corp/certs::/opt/more"),
        ])
        .unwrap();
        assert_eq!(s.cert_file, Some(PathBuf::from("/etc/corp/ca.pem")));
        assert_eq!(
            s.cert_dirs,
            vec![PathBuf::from("/etc/corp/certs"), PathBuf::from("/opt/more")]
        );
        assert!(s.replaces_system_store());
    }

    #[test]
    fn credentials_are_never_shown() {
        let p = parse_proxy("HTTPS_PROXY", "http://alice:s3cret@proxy:3128").unwrap();
        assert!(p.has_credentials());
        assert_eq!(p.to_string(), "http://***@proxy:3128");
        assert!(!format!("{p:?}").contains("s3cret"));
        assert_eq!(
            p.expose(),
            "http://alice:s3cret@proxy:3128",
            "the client still gets them"
        );
        assert_eq!(
            parse_proxy("HTTP_PROXY", "http://[::1]:80")
                .unwrap()
                .expose(),
            "http://[::1]:80",
            "a default port is written out too"
        );
        let e = read(&[("HTTPS_PROXY", "socks5://alice:s3cret@proxy:1080")]).unwrap_err();
        let shown = e.to_string();
        assert!(
            !shown.contains("s3cret") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("HTTPS_PROXY=***@proxy:1080"), "{shown}");
    }

    #[test]
    fn unusable_proxies_are_refused_by_name() {
        for (value, why) in [
            ("socks5://proxy:1080", "only http:// proxies"),
            ("https://proxy:443", "only http:// proxies"),
            ("http://", "empty host"),
            ("http://proxy:3128/path", "scheme, host and port only"),
            ("http://proxy:99999", "invalid port"),
            ("proxy.corp", "give its port"),
            ("http://u:p@proxy.corp/", "give its port"),
            ("http://[::1]", "give its port"),
        ] {
            let e = read(&[("HTTP_PROXY", value)]).unwrap_err().to_string();
            assert!(e.starts_with("HTTP_PROXY="), "{value}: {e}");
            assert!(e.contains(why), "{value}: {e}");
        }
    }
}
