//! A bot whose agents run a real harness CLI in its container, reaching the mock model through
//! the bot's model proxy.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::SecretString;
use threadwork::harness::cli::{CliHarness, CliKind, CliSpec};
use threadwork::harness::Harness;
use threadwork::model::proxy::{ProxyConfig, Upstream};
use threadwork::runtime::docker::DockerRuntime;
use threadwork::runtime::{Runtime, SandboxPolicy};

use super::World;

pub struct CliBot {
    pub docker: Arc<DockerRuntime>,
    pub harnesses: HashMap<String, Arc<dyn Harness>>,
}

/// A free TCP port on every interface (the proxy must be reachable from containers).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Both providers' upstreams at `mock_url`, with `key` as the real key the proxy injects.
pub fn mock_proxy(mock_url: &str, key: &str) -> ProxyConfig {
    let upstream = || {
        Some(Upstream {
            base_url: mock_url.to_string(),
            api_key: Some(SecretString::from(key)),
        })
    };
    ProxyConfig {
        listen: ([0, 0, 0, 0], free_port()).into(),
        anthropic: upstream(),
        openai: upstream(),
        google: upstream(),
        ..ProxyConfig::default()
    }
}

/// Runs jobs in `image` (Docker, labelled `instance`) and starts the bot with one harness,
/// `name`, of `kind`. The agent files and `w.config.model` are the caller's.
pub async fn start_cli_bot(
    w: &mut World,
    kind: CliKind,
    name: &str,
    image: &str,
    instance: &str,
) -> CliBot {
    w.config.sandbox = SandboxPolicy {
        instance: instance.to_string(),
        image: image.into(),
        ..SandboxPolicy::default()
    };
    w.config.fill_defaults();
    let docker = Arc::new(DockerRuntime::new(&w.config.sandbox));
    let runtime: Arc<dyn Runtime> = docker.clone();
    let spec = CliSpec {
        program: None,
        args: vec![],
        env: Default::default(),
    };
    let harness: Arc<dyn Harness> = Arc::new(CliHarness::new(kind, spec, runtime.clone()));
    let harnesses = HashMap::from([(name.to_string(), harness)]);
    w.start_bot_in(harnesses.clone(), Some(runtime)).await;
    CliBot { docker, harnesses }
}

/// Starts the bot with one agent, `coder` (the default), on a Codex harness whose program is
/// `script` (a shell script standing in for the CLI), run as a local process with the model
/// proxy in front of a dead upstream: for tests of what the bot does around a CLI, not of
/// the CLI.
pub async fn start_fake_codex_bot(w: &mut World, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    use threadwork::runtime::policy::{NetworkMode, RuntimeKind};
    let program = w.dir.path().join("fake-codex");
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    w.use_agents(&[(
        "coder.md",
        "---\nname: coder\ndescription: Writes code\nharness: codex\n---\nI am coder.\n",
    )]);
    w.config.agents.default = "coder".into();
    w.config.model = Some(mock_proxy("http://127.0.0.1:9", "sk-never-used-key"));
    w.config.sandbox.runtime = RuntimeKind::Process;
    w.config.sandbox.network = NetworkMode::Model;
    w.config.fill_defaults();
    let runtime: Arc<dyn Runtime> = Arc::new(threadwork::runtime::process::ProcessRuntime::new());
    let spec = CliSpec {
        program: Some(program.display().to_string()),
        args: vec![],
        env: Default::default(),
    };
    let harness: Arc<dyn Harness> =
        Arc::new(CliHarness::new(CliKind::Codex, spec, runtime.clone()));
    w.start_bot_in(
        HashMap::from([("codex".to_string(), harness)]),
        Some(runtime),
    )
    .await;
}
