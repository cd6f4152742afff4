//! Company networks: the real binary behind an HTTP proxy (`HTTPS_PROXY`), talking to Slack
//! (Web API and the Socket Mode WebSocket), the model upstream and a forge (API and git) that
//! all present certificates from a private CA which only the system store knows
//! (`SSL_CERT_FILE`). A job goes end to end: mention, model call through the job's grant,
//! commit, push, draft PR. Without the CA the same bot trusts none of them; a proxy it cannot
//! use stops it at start with the variable named.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::forge::{Forge, Kind};
use crate::common::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::{EmulatorConfig, APP_TOKEN, BOT_TOKEN};
use threadwork::model::mock::MockModel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FORGE_TOKEN: &str = "forge-token-company-net";
const MODEL_KEY: &str = "model-key-company-net";

/// A company CA and a certificate for `localhost` signed by it.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "threadwork test company CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// A TLS endpoint in front of a plain one: counts handshakes that worked and that failed.
#[derive(Clone, Default)]
struct Handshakes {
    ok: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

async fn bind() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn serve_tls(
    listener: TcpListener,
    backend: SocketAddr,
    server: Arc<rustls::ServerConfig>,
) -> Handshakes {
    let counts = Handshakes::default();
    let c = counts.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let c = c.clone();
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        c.ok.fetch_add(1, Ordering::SeqCst);
                        tls
                    }
                    Err(_) => {
                        c.refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                };
                if let Ok(mut plain) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    counts
}

/// The proxy's credentials (`Proxy-Authorization: Basic` of `alice:s3cret-proxy`).
const PROXY_USER: &str = "alice";
const PROXY_PASSWORD: &str = "s3cret-proxy";

/// An HTTP proxy that only tunnels (`CONNECT host:port`) and only for its user, recording
/// each destination (and each refusal).
async fn connect_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let (listener, port) = bind().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                // A 407 keeps the connection, as proxies do: curl (git) asks without
                // credentials first, then again on the same connection.
                let head = loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        match client.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let line = head.lines().next().unwrap_or_default().to_string();
                    let want = {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{PROXY_USER}:{PROXY_PASSWORD}"))
                    };
                    let authorized = head.lines().any(|l| {
                        l.split_once(':').is_some_and(|(k, v)| {
                            k.eq_ignore_ascii_case("proxy-authorization")
                                && v.trim() == format!("Basic {want}")
                        })
                    });
                    if authorized {
                        break head;
                    }
                    s.lock().unwrap().push(format!("407: {line}"));
                    if client
                    .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                };
                let line = head.lines().next().unwrap_or_default().to_string();
                let target = match line.split(' ').collect::<Vec<_>>()[..] {
                    ["CONNECT", target, _] => target.to_string(),
                    _ => {
                        s.lock().unwrap().push(format!("refused: {line}"));
                        let _ = client
                            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                            .await;
                        return;
                    }
                };
                s.lock().unwrap().push(target.clone());
                let Ok(mut upstream) = TcpStream::connect(&target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, seen)
}

/// The harness: one model call through the job's grant (bash, no curl needed), then an edit.
const HARNESS: &str = r#"u=${THREADWORK_MODEL_URL#http://}; hp=${u%%/*}; path=/${u#*/}
body='{"model":"claude-test","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
exec 3<>/dev/tcp/${hp%:*}/${hp##*:}
printf 'POST %s/anthropic/v1/messages HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\nx-api-key: any\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "$path" "$hp" ${#body} "$body" >&3
reply=$(cat <&3)
case "$reply" in *'"id":"msg_mock'*) echo "the model answered" ;; *) echo "no model: $reply" ;; esac
printf '%s\n' "$1" >> README.md
echo "edited README.md"
"#;

struct Net {
    w: World,
    forge: Forge,
    _mock: MockModel,
    config: PathBuf,
    ca: PathBuf,
    slack_url: String,
    fronts: [Handshakes; 4],
    ports: [u16; 4],
    proxy_port: u16,
    tunnels: Arc<Mutex<Vec<String>>>,
    _root: tempfile::TempDir,
}

async fn setup() -> Net {
    let pki = pki();
    // Web API and Socket Mode on fronts of their own, so each is seen going through the proxy.
    let (slack_front, slack_port) = bind().await;
    let (socket_front, socket_port) = bind().await;
    let w = World::new(EmulatorConfig {
        socket_base: Some(format!("wss://localhost:{socket_port}")),
        ..Default::default()
    })
    .await;
    let slack = serve_tls(slack_front, w.emu.addr(), pki.server.clone());
    let socket = serve_tls(socket_front, w.emu.addr(), pki.server.clone());

    let mock = MockModel::start(([127, 0, 0, 1], 0).into(), vec![])
        .await
        .unwrap();
    let (model_front, model_port) = bind().await;
    let model = serve_tls(model_front, mock.addr(), pki.server.clone());

    let root = tempfile::tempdir().unwrap();
    let forge = Forge::start(Kind::Github, FORGE_TOKEN, root.path()).await;
    forge.create_repo("acme/web", &[("README.md", "# web\n")]);
    let (forge_front, forge_port) = bind().await;
    let forge_addr: SocketAddr = forge.url.trim_start_matches("http://").parse().unwrap();
    let forge_tls = serve_tls(forge_front, forge_addr, pki.server.clone());

    let (proxy_port, tunnels) = connect_proxy().await;

    let dir = w.dir.path();
    let ca = dir.join("company-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    std::fs::write(
        agents.join("default.md"),
        "---\nname: default\ndescription: Edits code\nharness: edit\nrepo: acme/web\nsandbox:\n  network: model\n---\nYou edit code.\n",
    )
    .unwrap();
    let config = dir.join("threadwork.toml");
    std::fs::write(
        &config,
        format!(
            r#"[slack]
reconnect_secs = 1

[agents]
dir = {agents:?}
shared_dir = {shared:?}

[store]
path = {store:?}

[jobs]
workdir = {jobs:?}
card_interval_ms = 200

[sandbox]
runtime = "process"

[harness.edit]
kind = "command"
program = "/bin/bash"
args = ["-c", {HARNESS:?}, "bash", "{{task}}"]
mode = "text"

[model]
listen = "127.0.0.1:0"

[model.anthropic]
base_url = "https://localhost:{model_port}"
api_key = "{MODEL_KEY}"

[forge.main]
kind = "github"
api_url = "https://localhost:{forge_port}/api/v3"
git_url = "https://localhost:{forge_port}/git"
token = "{FORGE_TOKEN}"
repos = ["acme/*"]

[overlap]
mode = "off"
"#,
            shared = dir.join("shared"),
            store = dir.join("store"),
            jobs = dir.join("jobs"),
        ),
    )
    .unwrap();
    Net {
        slack_url: format!("https://localhost:{slack_port}/api"),
        w,
        forge,
        _mock: mock,
        config,
        ca,
        fronts: [slack, socket, model, forge_tls],
        ports: [slack_port, socket_port, model_port, forge_port],
        proxy_port,
        tunnels,
        _root: root,
    }
}

/// `threadwork run` with the company's variables (`SSL_CERT_FILE` only when `ca` is given).
fn spawn(n: &Net, ca: Option<&Path>, https_proxy: &str, log: &str) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_threadwork"));
    cmd.args(["run", "--config"])
        .arg(&n.config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_API_URL", &n.slack_url)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("HTTPS_PROXY", https_proxy)
        .env(
            "RUST_LOG",
            std::env::var("TW_NET_LOG").unwrap_or("info".into()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(n.w.dir.path().join(log)).unwrap())
        .kill_on_drop(true);
    if let Some(ca) = ca {
        cmd.env("SSL_CERT_FILE", ca);
    }
    cmd.spawn().expect("the threadwork binary starts")
}

fn proxy_url(n: &Net, password: &str) -> String {
    format!("http://{PROXY_USER}:{password}@127.0.0.1:{}", n.proxy_port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_proxy_to_endpoints_only_the_system_store_trusts() {
    let n = setup().await;
    let proxy = proxy_url(&n, PROXY_PASSWORD);
    let mut bot = spawn(&n, Some(&n.ca), &proxy, "bot.log");
    let log = || std::fs::read_to_string(n.w.dir.path().join("bot.log")).unwrap_or_default();
    assert!(
        n.w.emu
            .wait_for_connections(2, Duration::from_secs(30))
            .await,
        "Socket Mode over wss through the proxy; log:\n{}",
        log()
    );
    let ts =
        n.w.emu
            .post_as(
                "U0ALICE001",
                CHANNEL,
                &format!("<@{BOT_USER_ID}> add a line to the readme"),
                None,
            )
            .await
            .unwrap();
    let mut done = None;
    for _ in 0..600 {
        done =
            n.w.bot_replies(&ts)
                .await
                .into_iter()
                .find(|m| !m.text.starts_with("*Job ") && m.text.contains(":link:"));
        if done.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(done) = done else {
        panic!(
            "no PR message; the thread: {:?}\nthe log:\n{}",
            n.w.bot_replies(&ts)
                .await
                .iter()
                .map(|m| &m.text)
                .collect::<Vec<_>>(),
            log()
        );
    };
    assert!(done.text.contains("the model answered"), "{}", done.text);
    assert!(done.text.contains("draft PR #1"), "{}", done.text);
    // git pushed through the proxy, over TLS, to the forge.
    assert_eq!(
        n.forge
            .git_in("acme/web", &["show", "threadwork/1:README.md"]),
        "# web\nadd a line to the readme"
    );
    // The model upstream got the real key, never the sandbox's.
    let calls = n._mock.requests();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].header("x-api-key"), Some(MODEL_KEY));

    // Every destination went through the proxy, with its credentials: the Slack Web API, the
    // Socket Mode WebSocket, the model upstream and the forge (API and git).
    let names = ["Slack Web API", "Socket Mode", "model", "forge"];
    for (front, name) in n.fronts.iter().zip(names) {
        assert!(
            front.ok.load(Ordering::SeqCst) >= 1,
            "{name}: no TLS session"
        );
        assert_eq!(front.refused.load(Ordering::SeqCst), 0, "{name}: refused");
    }
    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    let tunnels = n.tunnels.lock().unwrap().clone();
    for (port, name) in n.ports.iter().zip(names) {
        assert!(
            tunnels.iter().any(|t| t == &format!("localhost:{port}")),
            "{name} not through the proxy: {tunnels:?}"
        );
    }
    // (git asks without credentials first and gets a 407; the bot's own clients send them.)
    assert!(
        !tunnels.iter().any(|t| t.starts_with("refused")),
        "{tunnels:?}"
    );
    for port in [n.ports[0], n.ports[1], n.ports[2]] {
        assert!(
            !tunnels.contains(&format!("407: CONNECT localhost:{port} HTTP/1.1")),
            "{tunnels:?}"
        );
    }
    let log = log();
    assert!(
        log.contains("through http://***@127.0.0.1:"),
        "the start-up log names the proxy:\n{log}"
    );
    for secret in [FORGE_TOKEN, MODEL_KEY, BOT_TOKEN, APP_TOKEN, PROXY_PASSWORD] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

/// The same endpoints without the CA: nothing is trusted, and the log says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_company_ca_the_endpoints_are_not_trusted() {
    let n = setup().await;
    let mut bot = spawn(&n, None, &proxy_url(&n, PROXY_PASSWORD), "bot.log");
    let log = || std::fs::read_to_string(n.w.dir.path().join("bot.log")).unwrap_or_default();
    let Ok(status) = tokio::time::timeout(Duration::from_secs(30), bot.wait()).await else {
        panic!("the bot did not give up on an untrusted Slack:\n{}", log());
    };
    let status = status.unwrap();
    assert!(!status.success());
    let log = log();
    assert!(
        log.contains("auth.test: the server's TLS certificate is not trusted (InvalidCertificate(UnknownIssuer))"),
        "{log}"
    );
    assert!(n.fronts[0].refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(n.fronts[0].ok.load(Ordering::SeqCst), 0);
}

/// A proxy the bot cannot use is refused at start, by name, without its credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_proxy_stops_the_bot_at_start() {
    let n = setup().await;
    let mut bot = spawn(
        &n,
        Some(&n.ca),
        "socks5://carol:hunter2@proxy.corp:1080",
        "bot.log",
    );
    let status = tokio::time::timeout(Duration::from_secs(30), bot.wait())
        .await
        .expect("the bot stops at once")
        .unwrap();
    assert!(!status.success());
    let log = std::fs::read_to_string(n.w.dir.path().join("bot.log")).unwrap();
    assert!(
        log.contains(
            "HTTPS_PROXY=***@proxy.corp:1080 is not a proxy this bot can use: only http:// proxies"
        ),
        "{log}"
    );
    assert!(!log.contains("hunter2") && !log.contains("carol"), "{log}");
    assert_eq!(n.w.emu.stats().await.connections_opened, 0);
}

/// Wrong proxy credentials: the bot stops at once saying so, and never shows the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_refusing_the_credentials_is_named() {
    let n = setup().await;
    let mut bot = spawn(&n, Some(&n.ca), &proxy_url(&n, "wrong-pass"), "bot.log");
    let log = || std::fs::read_to_string(n.w.dir.path().join("bot.log")).unwrap_or_default();
    let Ok(status) = tokio::time::timeout(Duration::from_secs(30), bot.wait()).await else {
        panic!("the bot did not give up on a refusing proxy:\n{}", log());
    };
    assert!(!status.unwrap().success());
    let log = log();
    assert!(
        log.contains("auth.test: the proxy wants credentials (407)"),
        "{log}"
    );
    assert!(!log.contains("wrong-pass"), "{log}");
    assert!(n.tunnels.lock().unwrap()[0].starts_with("407: CONNECT localhost:"));
}
