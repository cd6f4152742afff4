//! Outbound connections on company networks: the one place every client the bot opens to the
//! outside — the Slack Web API and Socket Mode, the model upstreams, the forges' APIs and git,
//! remote MCP servers, `doctor` — gets its trusted roots and its proxy.
//!
//! Trusted roots: the built-in public ones (webpki-roots) and the system's store, or instead of
//! the system's store the files `SSL_CERT_FILE` / `SSL_CERT_DIR` name — so a TLS-inspecting
//! proxy, a GitHub Enterprise with a private CA or an internal model gateway work once their CA
//! is in the system store. Proxy: `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and `NO_PROXY`
//! (`settings`). The Kubernetes client trusts its cluster's CA from its kubeconfig (or the
//! in-cluster service account) and gets its proxy here unless the kubeconfig names one.

pub mod connect;
pub mod settings;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;

pub use connect::ProxyConnector;
pub use settings::{OutboundSettings, ProxyUrl, SettingsError};

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("{var}={}: cannot load certificates from it: {why}", path.display())]
    Certificates {
        var: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("{var}={}: holds no certificate", path.display())]
    NoCertificates { var: &'static str, path: PathBuf },
}

/// An error with its causes, `a: b: c` (clients' own messages often leave the cause out).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Where the system's own bundle usually is (the first that exists is read for git, which
/// needs one file holding every root it should trust).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn pem(certs: &[rustls::pki_types::CertificateDer<'static>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for c in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(c.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// How many roots were trusted, from where: for the start-up log and `doctor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots {
    pub built_in: usize,
    /// From the system store, or from `SSL_CERT_FILE` / `SSL_CERT_DIR` when set.
    pub system: usize,
    /// Why the system store could not be read (the built-in roots still apply).
    pub system_problem: Option<String>,
}

/// The outbound setup of this process.
#[derive(Clone)]
pub struct Outbound {
    settings: OutboundSettings,
    tls: Arc<rustls::ClientConfig>,
    roots: Roots,
    connector: ProxyConnector,
    /// The bundle git is pointed at when certificates were named.
    git_ca: Option<PathBuf>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The roots, their counts, and the certificates `SSL_CERT_FILE`/`SSL_CERT_DIR` named.
type Loaded = (
    RootCertStore,
    Roots,
    Vec<rustls::pki_types::CertificateDer<'static>>,
);

fn load_roots(settings: &OutboundSettings) -> Result<Loaded, OutboundError> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let built_in = store.len();
    let mut counts = Roots {
        built_in,
        ..Roots::default()
    };
    let mut named = Vec::new();
    if settings.replaces_system_store() {
        // Named files must load: a typo would otherwise surface as "unknown issuer" later.
        // (variable, path, whether it is the file or a folder)
        let sources = settings
            .cert_file
            .iter()
            .map(|f| ("SSL_CERT_FILE", f, true))
            .chain(
                settings
                    .cert_dirs
                    .iter()
                    .map(|d| ("SSL_CERT_DIR", d, false)),
            );
        for (var, path, is_file) in sources {
            let (file, dir) = if is_file {
                (Some(path.as_path()), None)
            } else {
                (None, Some(path.as_path()))
            };
            let path = path.clone();
            let loaded = rustls_native_certs::load_certs_from_paths(file, dir);
            if let Some(e) = loaded.errors.first() {
                return Err(OutboundError::Certificates {
                    var,
                    path,
                    why: e.to_string(),
                });
            }
            named.extend(loaded.certs.iter().cloned());
            let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
            if added == 0 {
                return Err(OutboundError::NoCertificates { var, path });
            }
            counts.system += added;
        }
    } else {
        let loaded = rustls_native_certs::load_native_certs();
        if let Some(e) = loaded.errors.first() {
            counts.system_problem = Some(e.to_string());
        }
        let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
        counts.system = added;
    }
    Ok((store, counts, named))
}

/// For git: one PEM file with the named certificates and the system's bundle, so that git,
/// like the other clients, trusts a company CA *and* the public roots. `None`: nothing named.
fn git_bundle(named: &[rustls::pki_types::CertificateDer<'static>]) -> Option<PathBuf> {
    if named.is_empty() {
        return None;
    }
    let mut text = pem(named);
    if let Some(system) = SYSTEM_BUNDLES.iter().find(|p| Path::new(p).is_file()) {
        text.push_str(&std::fs::read_to_string(system).unwrap_or_default());
    }
    let path = std::env::temp_dir().join(format!("threadwork-git-ca-{}.pem", std::process::id()));
    match std::fs::write(&path, text) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the CA bundle for git; git trusts only the system store");
            None
        }
    }
}

impl Outbound {
    pub fn new(settings: OutboundSettings) -> Result<Self, OutboundError> {
        let (store, roots, named) = load_roots(&settings)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            // A constant pairing (ring and rustls' default versions): no setting reaches it.
            .expect("ring supports the default protocol versions")
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Self {
            connector: ProxyConnector::new(&settings),
            settings,
            tls: Arc::new(tls),
            roots,
            git_ca: git_bundle(&named),
        })
    }

    /// From the process environment.
    pub fn from_env() -> Result<Self, OutboundError> {
        Self::new(OutboundSettings::from_env()?)
    }

    pub fn settings(&self) -> &OutboundSettings {
        &self.settings
    }

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// The TLS client settings every client here uses.
    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// A TCP connector that follows the proxy settings (TLS goes on top).
    pub fn connector(&self) -> ProxyConnector {
        self.connector.clone()
    }

    /// The proxy (credentials included) a client with its own proxy support should use for
    /// `dst`, or `None` to go direct (`NO_PROXY`, or no proxy for its scheme).
    pub fn proxy_url_for(&self, dst: &hyper::Uri) -> Option<hyper::Uri> {
        self.connector.proxy_for(dst)?;
        let proxy = match dst.scheme_str() {
            Some("http") => self.settings.http_proxy.as_ref(),
            _ => self.settings.https_proxy.as_ref(),
        }?;
        proxy.expose().parse().ok()
    }

    /// An HTTPS connector for hyper clients (the Slack Web API).
    pub fn https_connector(&self) -> hyper_rustls::HttpsConnector<ProxyConnector> {
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(self.connector())
    }

    /// A reqwest client builder with these roots and this proxy (and nothing from elsewhere).
    pub fn http(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls).clone())
            .no_proxy();
        let no = || reqwest::NoProxy::from_string(&self.settings.no_proxy);
        // (Both URLs were checked when read; reqwest accepts what `parse_proxy` does.)
        if let Some(p) = &self.settings.https_proxy {
            match reqwest::Proxy::https(p.expose()) {
                Ok(proxy) => b = b.proxy(proxy.no_proxy(no())),
                Err(e) => tracing::error!(proxy = %p, error = %e, "HTTPS proxy not usable"),
            }
        }
        if let Some(p) = &self.settings.http_proxy {
            match reqwest::Proxy::http(p.expose()) {
                Ok(proxy) => b = b.proxy(proxy.no_proxy(no())),
                Err(e) => tracing::error!(proxy = %p, error = %e, "HTTP proxy not usable"),
            }
        }
        b
    }

    /// `http` without any proxy: for the bot's own ops server, which the proxy must never
    /// see (its bearer token would travel through it).
    pub fn direct(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls).clone())
            .no_proxy()
    }

    /// `http` for the reqwest version rmcp's HTTP transport is built on.
    pub fn http_for_mcp(&self) -> reqwest013::ClientBuilder {
        let mut b = reqwest013::Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .no_proxy();
        let no = || reqwest013::NoProxy::from_string(&self.settings.no_proxy);
        if let Some(p) = &self.settings.https_proxy {
            match reqwest013::Proxy::https(p.expose()) {
                Ok(proxy) => b = b.proxy(proxy.no_proxy(no())),
                Err(e) => tracing::error!(proxy = %p, error = %e, "HTTPS proxy not usable"),
            }
        }
        if let Some(p) = &self.settings.http_proxy {
            match reqwest013::Proxy::http(p.expose()) {
                Ok(proxy) => b = b.proxy(proxy.no_proxy(no())),
                Err(e) => tracing::error!(proxy = %p, error = %e, "HTTP proxy not usable"),
            }
        }
        b
    }

    /// Environment for `git`: the certificates named (with the system's bundle) in git's own
    /// variable, and the proxy in the lower-case names curl reads, the port written out.
    pub fn git_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![];
        if let Some(f) = &self.git_ca {
            env.push(("GIT_SSL_CAINFO", f.display().to_string()));
        }
        if let Some(p) = &self.settings.https_proxy {
            env.push(("https_proxy", p.expose()));
        }
        if let Some(p) = &self.settings.http_proxy {
            env.push(("http_proxy", p.expose()));
        }
        if !self.settings.no_proxy.is_empty() {
            env.push(("no_proxy", self.settings.no_proxy.clone()));
        }
        env
    }

    /// One line: the roots and the proxy (never its credentials).
    pub fn describe(&self) -> String {
        let source = if self.settings.replaces_system_store() {
            let mut named = vec![];
            if let Some(f) = &self.settings.cert_file {
                named.push(format!("SSL_CERT_FILE={}", f.display()));
            }
            for d in &self.settings.cert_dirs {
                named.push(format!("SSL_CERT_DIR={}", d.display()));
            }
            named.join(", ")
        } else {
            "the system store".to_string()
        };
        let mut line = format!(
            "trusts {} built-in roots and {} from {source}",
            self.roots.built_in, self.roots.system
        );
        match (&self.settings.https_proxy, &self.settings.http_proxy) {
            (None, None) => line.push_str("; no proxy"),
            (https, http) => {
                if let Some(p) = https {
                    line.push_str(&format!("; HTTPS through {p}"));
                }
                if let Some(p) = http {
                    line.push_str(&format!("; HTTP through {p}"));
                }
                if !self.settings.no_proxy.is_empty() {
                    line.push_str(&format!(" (direct: {})", self.settings.no_proxy));
                }
            }
        }
        line
    }
}

static OUTBOUND: OnceLock<Outbound> = OnceLock::new();

/// Sets this process's outbound setup (the binary does it at start, to refuse bad settings
/// with a clear message). Returns false when one was already in use (and changes nothing).
pub fn install(outbound: Outbound) -> bool {
    OUTBOUND.set(outbound).is_ok()
}

/// This process's outbound setup: the installed one, or read from the environment now (bad
/// settings are logged and ignored, as the binary refuses them before this can happen).
pub fn outbound() -> &'static Outbound {
    OUTBOUND.get_or_init(|| {
        Outbound::from_env().unwrap_or_else(|e| {
            tracing::error!(error = %e, "outbound settings ignored");
            // Nothing named, nothing to refuse: only a named file or folder can fail to load.
            Outbound::new(OutboundSettings::default()).expect("defaults load")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_certificate_file_must_exist_and_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = Outbound::new(OutboundSettings {
            cert_file: Some(missing.clone()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(&format!("SSL_CERT_FILE={}", missing.display())),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = Outbound::new(OutboundSettings {
            cert_file: Some(empty),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("holds no certificate"), "{e}");
    }

    #[test]
    fn the_built_in_roots_are_always_there_and_the_description_hides_credentials() {
        let o = Outbound::new(OutboundSettings {
            https_proxy: Some(
                settings::parse_proxy("HTTPS_PROXY", "http://bob:pw@proxy:3128").unwrap(),
            ),
            no_proxy: "localhost".into(),
            ..Default::default()
        })
        .unwrap();
        assert!(o.roots().built_in > 100);
        let d = o.describe();
        assert!(
            d.contains("HTTPS through http://***@proxy:3128 (direct: localhost)"),
            "{d}"
        );
        assert!(!d.contains("pw"), "{d}");
        let via = |u: &str| o.proxy_url_for(&u.parse().unwrap()).map(|p| p.to_string());
        assert_eq!(
            via("https://k8s.corp.example:6443").as_deref(),
            Some("http://bob:pw@proxy:3128/"),
            "the Kubernetes client gets the proxy, with its credentials"
        );
        assert_eq!(via("https://localhost:6443"), None, "NO_PROXY");
        assert_eq!(via("http://k8s.corp.example:8001"), None, "no HTTP_PROXY");
        let git = o.git_env();
        assert!(git.contains(&("https_proxy", "http://bob:pw@proxy:3128".into())));
        assert!(git.contains(&("no_proxy", "localhost".into())));
        assert!(
            !git.iter().any(|(k, _)| *k == "GIT_SSL_CAINFO"),
            "git keeps the system's store"
        );
    }

    #[test]
    fn git_trusts_the_named_ca_and_the_system_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rustls::pki_types::CertificateDer::from(company_ca_for_test());
        let file = dir.path().join("company.pem");
        std::fs::write(&file, pem(std::slice::from_ref(&ca))).unwrap();
        let o = Outbound::new(OutboundSettings {
            cert_file: Some(file),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(o.roots().system, 1);
        let bundle = o
            .git_env()
            .into_iter()
            .find(|(k, _)| *k == "GIT_SSL_CAINFO")
            .map(|(_, v)| std::fs::read_to_string(v).unwrap())
            .expect("git is given a bundle");
        assert!(bundle.starts_with(&pem(&[ca])), "the named CA first");
        if let Some(system) = SYSTEM_BUNDLES.iter().find(|p| Path::new(p).is_file()) {
            let system = std::fs::read_to_string(system).unwrap();
            assert!(bundle.ends_with(&system), "then the system's bundle");
        }
        // A folder with nothing in it names no certificate either.
        let empty = tempfile::tempdir().unwrap();
        let e = Outbound::new(OutboundSettings {
            cert_dirs: vec![empty.path().to_path_buf()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("SSL_CERT_DIR=") && e.contains("holds no certificate"),
            "{e}"
        );
    }

    /// A self-signed CA certificate's DER.
    fn company_ca_for_test() -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }
}
