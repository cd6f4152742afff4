//! `threadwork doctor`: checks a deployment before it goes live — Slack tokens and scopes,
//! the event transport, prompt files, the container runtime and its images, the store, model
//! keys — and says for each what is wrong and how to fix it.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::chat::slack::Transport;
use crate::config::{Config, HarnessConfig};
use crate::prompts::{PromptDirs, Registry};
use crate::runtime::policy::SandboxPolicy;

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub result: Result<String, Problem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub wrong: String,
    pub fix: String,
}

fn ok(name: &'static str, what: impl Into<String>) -> Check {
    Check {
        name,
        result: Ok(what.into()),
    }
}

fn bad(name: &'static str, wrong: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name,
        result: Err(Problem {
            wrong: wrong.into(),
            fix: fix.into(),
        }),
    }
}

/// `ok   name: …` or `FAIL name: … — fix: …`, one per line.
pub fn render(checks: &[Check]) -> String {
    checks
        .iter()
        .map(|c| match &c.result {
            Ok(what) => format!("ok    {}: {what}\n", c.name),
            Err(p) => format!("FAIL  {}: {}\n      fix: {}\n", c.name, p.wrong, p.fix),
        })
        .collect()
}

/// A Slack app manifest whose bot scopes cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BadManifest {
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    #[error("it is not YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("no oauth_config.scopes.bot list")]
    NoScopes,
}

/// The bot scopes `manifest.yml` asks for.
pub fn manifest_scopes(text: &str) -> Result<Vec<String>, BadManifest> {
    let v: serde_norway::Value = serde_norway::from_str(text)?;
    let list = v
        .get("oauth_config")
        .and_then(|o| o.get("scopes"))
        .and_then(|s| s.get("bot"))
        .and_then(|b| b.as_sequence())
        .ok_or(BadManifest::NoScopes)?;
    Ok(list
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect())
}

/// Scopes the manifest asks for that the token lacks (pure).
pub fn missing_scopes(wanted: &[String], granted: &str) -> Vec<String> {
    let granted: Vec<&str> = granted.split(',').map(str::trim).collect();
    wanted
        .iter()
        .filter(|w| !granted.contains(&w.as_str()))
        .cloned()
        .collect()
}

/// Runs every check.
pub async fn run(config: &Config, manifest: &Path) -> Vec<Check> {
    let env = |k: &str| std::env::var(k).ok();
    let mut checks = vec![network_check()];
    let slack = match config.slack_settings(&env) {
        Ok(s) => {
            checks.push(ok("slack tokens", "present"));
            Some(s)
        }
        Err(e) => {
            checks.push(bad(
                "slack tokens",
                e.to_string(),
                "set SLACK_BOT_TOKEN (and SLACK_APP_TOKEN for Socket Mode) or `[slack]` in the config",
            ));
            None
        }
    };
    if let Some(s) = &slack {
        checks.extend(slack_checks(s, manifest, config).await);
    }
    checks.push(prompt_check(config));
    checks.push(evals_check(config));
    checks.extend(runtime_checks(config).await);
    checks.push(store_check(&config.store.path));
    checks.push(workspaces_check(&config.jobs, &config.sandbox));
    checks.extend(model_key_checks(config));
    checks.extend(mcp_checks(config).await);
    checks.extend(forge_checks(config, &env).await);
    checks
}

/// The trusted roots and the proxy every outbound client uses (what `run` refuses to start with).
fn network_check() -> Check {
    match crate::net::Outbound::from_env() {
        Ok(o) => match &o.roots().system_problem {
            Some(why) if !o.settings().replaces_system_store() => ok(
                "network",
                format!(
                    "{}; the system store could not be read ({why}), so a private CA is not trusted until it is (install ca-certificates, or set SSL_CERT_FILE)",
                    o.describe()
                ),
            ),
            _ => ok("network", o.describe()),
        },
        Err(e) => bad(
            "network",
            e.to_string(),
            "correct or unset the variable named: the bot refuses to start with it",
        ),
    }
}

/// Each forge's token is set (the bot refuses to start without it) and accepted.
async fn forge_checks(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Vec<Check> {
    if config.forge.is_empty() {
        return vec![];
    }
    let forges = match crate::forge::Forges::from_config(&config.forge, &config.git, env) {
        Ok(f) => f,
        Err(e) => {
            return vec![bad(
                "forge",
                e.to_string(),
                "fix the `[forge.*]` table named (a token the bot starts without is refused)",
            )]
        }
    };
    let http = crate::net::outbound().http().build().unwrap_or_default();
    let mut out = Vec::new();
    for host in &forges.hosts {
        let client = crate::forge::ForgeClient { host, http: &http };
        out.push(match client.check_token().await {
            Ok(()) => ok(
                "forge",
                format!("`{}`: {} accepts the token", host.name, host.kind.label()),
            ),
            Err(e) if matches!(e.status(), Some(401 | 403)) => bad(
                "forge",
                format!("`{}`: {e}", host.name),
                format!(
                    "give `[forge.{}]` a valid token (`token_env` or `token`) with contents and pull-request write",
                    host.name
                ),
            ),
            Err(e) => bad(
                "forge",
                format!("`{}`: {e}", host.name),
                format!("check `[forge.{}] api_url` and the network", host.name),
            ),
        });
    }
    out
}

/// Every agent's MCP servers are configured, and every configured server starts and lists
/// its tools.
async fn mcp_checks(config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    if let Ok(registry) = load_agents(config) {
        for agent in registry.agents.values() {
            if let Some(server) =
                crate::mcp::unconfigured(&agent.mcp, |s| config.mcp.contains_key(s))
            {
                out.push(bad(
                    "mcp server",
                    format!(
                        "agent `{}` lists `{server}`, which is not configured",
                        agent.name
                    ),
                    format!(
                        "add `[mcp.{server}]` to the config, or remove it from the agent's `mcp:`"
                    ),
                ));
            }
        }
    }
    let gateway = crate::mcp::gateway::Gateway::new(&config.mcp);
    for name in config.mcp.keys() {
        out.push(match gateway.probe(name).await {
            Ok((all, offered)) => ok(
                "mcp server",
                format!("`{name}`: {all} tools, {offered} offered to agents"),
            ),
            Err(e) => bad(
                "mcp server",
                e.to_string(),
                format!("check `[mcp.{name}]`: the command and its arguments, or the URL and its headers"),
            ),
        });
    }
    out
}

async fn slack_checks(
    s: &crate::chat::slack::SlackSettings,
    manifest: &Path,
    config: &Config,
) -> Vec<Check> {
    let mut out = Vec::new();
    let http = crate::net::outbound().http().build().unwrap_or_default();
    let base = s.api_url.trim_end_matches('/');
    let call = |method: &str, token: &str| {
        http.post(format!("{base}/{method}"))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
    };
    // What people type after `@`, once auth.test has said it.
    let mut bot_name = "threadwork".to_string();
    match call("auth.test", s.bot_token.expose_secret()).await {
        Err(e) => out.push(bad(
            "auth.test",
            format!("cannot reach {base}: {}", e.without_url()),
            "check SLACK_API_URL and the network",
        )),
        Ok(resp) => {
            let scopes = resp
                .headers()
                .get("x-oauth-scopes")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            if body["ok"].as_bool() == Some(true) {
                if let Some(name) = body["user"].as_str() {
                    bot_name = name.to_string();
                }
                out.push(ok(
                    "auth.test",
                    format!(
                        "bot token valid for {} as {}",
                        body["team"].as_str().unwrap_or("?"),
                        body["user"].as_str().unwrap_or("?")
                    ),
                ));
                out.push(scope_check(manifest, scopes.as_deref()));
            } else {
                out.push(bad(
                    "auth.test",
                    format!(
                        "Slack refused the bot token: {}",
                        body["error"].as_str().unwrap_or("no answer")
                    ),
                    "reinstall the app and copy its Bot User OAuth Token (xoxb-…)",
                ));
            }
        }
    }
    if let Some(channel) = &config.agents.admin_channel {
        let answer = match http
            .post(format!("{base}/conversations.info"))
            .bearer_auth(s.bot_token.expose_secret())
            .form(&[("channel", channel.as_str())])
            .send()
            .await
        {
            Ok(r) => r.json::<serde_json::Value>().await.unwrap_or_default(),
            Err(e) => serde_json::json!({"error": e.without_url().to_string()}),
        };
        out.push(match (answer["ok"].as_bool(), answer["channel"]["is_member"].as_bool()) {
            (Some(true), Some(true)) => ok("admin channel", format!("the bot is in {channel}")),
            (Some(true), _) => bad(
                "admin channel",
                format!("the bot is not a member of {channel} (`[agents] admin_channel`): what it posts there is refused"),
                format!("invite it: `/invite @{bot_name}` in that channel"),
            ),
            _ => bad(
                "admin channel",
                format!(
                    "conversations.info on {channel} failed: {}",
                    answer["error"].as_str().unwrap_or("no answer")
                ),
                "set `[agents] admin_channel` to the channel's id (C…), and give the app channels:read and groups:read",
            ),
        });
    }
    match (s.transport, &s.app_token) {
        (Transport::Socket, Some(app)) => {
            let answer = match call("apps.connections.open", app.expose_secret()).await {
                Ok(r) => r.json::<serde_json::Value>().await.unwrap_or_default(),
                Err(e) => serde_json::json!({"error": e.without_url().to_string()}),
            };
            if answer["ok"].as_bool() == Some(true) {
                out.push(ok(
                    "socket mode",
                    "enabled (apps.connections.open answered)",
                ));
            } else {
                out.push(bad(
                    "socket mode",
                    format!(
                        "apps.connections.open failed: {}",
                        answer["error"].as_str().unwrap_or("no answer")
                    ),
                    "turn on Socket Mode in the app's settings and use an app-level token with connections:write (xapp-…)",
                ));
            }
        }
        (Transport::Socket, None) => {}
        (Transport::Http, _) => out.push(match (&s.signing_secret, config.ops.events_listen) {
            (Some(_), Some(addr)) => ok(
                "http events",
                format!(
                    "signing secret set; Slack's Request URL must reach http://{addr}/slack/events"
                ),
            ),
            (None, _) => bad(
                "http events",
                "no signing secret",
                "set SLACK_SIGNING_SECRET or `[slack] signing_secret`",
            ),
            (_, None) => bad(
                "http events",
                "no listener to receive events",
                "set `[ops] events_listen`, e.g. \"0.0.0.0:3000\", behind your HTTPS proxy (only `/slack/events` is served there)",
            ),
        }),
    }
    out
}

fn scope_check(manifest: &Path, granted: Option<&str>) -> Check {
    let wanted = match std::fs::read_to_string(manifest)
        .map_err(BadManifest::from)
        .and_then(|t| manifest_scopes(&t))
    {
        Ok(w) => w,
        Err(e) => {
            return bad(
                "scopes",
                format!("cannot read the scopes from {}: {e}", manifest.display()),
                "run doctor from the project directory or pass --manifest",
            )
        }
    };
    let Some(granted) = granted else {
        return bad(
            "scopes",
            "Slack did not report the token's scopes (no X-OAuth-Scopes header)",
            "check that the token is a bot token",
        );
    };
    let missing = missing_scopes(&wanted, granted);
    if missing.is_empty() {
        ok(
            "scopes",
            format!("all {} from manifest.yml granted", wanted.len()),
        )
    } else {
        bad(
            "scopes",
            format!("the bot token lacks {}", missing.join(", ")),
            "add them under oauth_config.scopes.bot (manifest.yml is the reference) and reinstall the app",
        )
    }
}

/// The agents of the prompt files, as the bot would load them.
fn load_agents(config: &Config) -> Result<Registry, crate::prompts::PromptsError> {
    let names: Vec<&str> = config.harness.keys().map(String::as_str).collect();
    let dirs = PromptDirs {
        agents: config.agents.dir.clone(),
        shared: config.agents.shared_dir.clone(),
    };
    Registry::load(&dirs, &names)
}

fn prompt_check(config: &Config) -> Check {
    match load_agents(config) {
        Ok(r) if r.agents.contains_key(&config.agents.default) => {
            ok("prompt files", format!("{} agents valid", r.agents.len()))
        }
        Ok(_) => bad(
            "prompt files",
            format!(
                "the default agent `{}` has no prompt file",
                config.agents.default
            ),
            format!(
                "add {}/{}.md or change `[agents] default`",
                config.agents.dir.display(),
                config.agents.default
            ),
        ),
        Err(e) => bad(
            "prompt files",
            e.to_string(),
            "fix the file at the line named",
        ),
    }
}

/// Every agent's eval suite reads (the bot would refuse a bad one when it runs it).
fn evals_check(config: &Config) -> Check {
    let Ok(registry) = load_agents(config) else {
        return ok("eval suites", "not checked: the prompt files do not load");
    };
    let mut suites = 0;
    let mut cases = 0;
    for name in registry.agents.keys() {
        match crate::evals::case::load_suite(&config.evals.dir, name) {
            Ok(Some(s)) => {
                suites += 1;
                cases += s.cases.len();
            }
            Ok(None) => {}
            Err(e) => {
                return bad(
                    "eval suites",
                    e.to_string(),
                    "fix the file at the line named",
                )
            }
        }
    }
    let judge = match &config.evals.judge {
        Some(j) => format!("judge `{}`", j.model),
        None => "no judge (rubrics not scored)".into(),
    };
    ok(
        "eval suites",
        format!(
            "{suites} suite{} with {cases} case{} in {}; {judge}",
            if suites == 1 { "" } else { "s" },
            if cases == 1 { "" } else { "s" },
            config.evals.dir.display()
        ),
    )
}

/// The first three numbers of a version as engines print it: `v1.2.8`, `1.1.5+ds1`,
/// `20.10.24+dfsg1`.
fn release(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .take(3)
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// Why a Docker Engine `version` is unfit to hold hostile sandboxes, if it is: releases
/// before the fixes for CVE-2024-21626 (runc: container escape through a leaked
/// descriptor), CVE-2024-29018 (internal networks reach the outside through the embedded
/// DNS) and CVE-2024-41110 (authorization plugins bypassed). A distribution's backported
/// fix cannot be told from the version: such a host is flagged too.
pub fn engine_advisory(version: &str) -> Option<String> {
    let numbers = release(version);
    let (major, minor, patch) = match numbers[..] {
        [a, b, c] => (a, b, c),
        _ => return Some("an unrecognised version".into()),
    };
    let fixed = match major {
        0..=22 | 24 => false,
        23 => (minor, patch) >= (0, 15),
        25 => (minor, patch) >= (0, 6),
        26 => (minor, patch) >= (1, 5),
        27 => (minor, patch) >= (1, 1),
        _ => true,
    };
    (!fixed).then(|| {
        "releases before 25.0.6 / 26.1.5 / 27.1.1 have known container-escape and \
         network-isolation flaws (CVE-2024-21626, CVE-2024-29018, CVE-2024-41110)"
            .into()
    })
}

/// Why a runc `version` is unfit to hold hostile sandboxes, if it is: before the fixes for
/// CVE-2024-21626 (1.1.12) and CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881 (container
/// escapes through /dev/null, /dev/console and procfs writes: 1.2.8, 1.3.3, 1.4.0).
pub fn runc_advisory(version: &str) -> Option<String> {
    let numbers = release(version);
    let fixed = match numbers[..] {
        [1, 2, patch] => patch >= 8,
        [1, 3, patch] => patch >= 3,
        [1, minor, _] => minor >= 4,
        [major, _, _] => major >= 2,
        _ => return Some("an unrecognised version".into()),
    };
    (!fixed).then(|| {
        "runc releases before 1.2.8 / 1.3.3 / 1.4.0 have known container escapes \
         (CVE-2024-21626, CVE-2025-31133, CVE-2025-52565, CVE-2025-52881)"
            .into()
    })
}

async fn runtime_checks(config: &Config) -> Vec<Check> {
    if !config.harness.values().any(HarnessConfig::runs_a_program) {
        return vec![ok(
            "container runtime",
            "not used (no harness runs a program)",
        )];
    }
    let runtime = crate::app::runtime(config);
    if let Err(e) = runtime.ping().await {
        return vec![bad("container runtime", e.to_string(), runtime_fix(config))];
    }
    let mut out = vec![ok(
        "container runtime",
        format!("{} reachable", runtime.name()),
    )];
    out.extend(kubernetes_access(config).await);
    out.extend(cluster_images(config));
    if runtime.name() != "docker" {
        // A cluster pulls images itself; a local process uses none.
        return out;
    }
    match runtime.engine_versions().await {
        Some(versions) => {
            for (name, version) in versions {
                let advisory = match name.as_str() {
                    "Engine" => engine_advisory(&version),
                    "runc" => runc_advisory(&version),
                    _ => continue,
                };
                out.push(match advisory {
                    None => ok("Docker Engine", format!("{name} {version}, no known sandbox escape")),
                    Some(why) => bad(
                        "Docker Engine",
                        format!("{name} {version}: {why}"),
                        "upgrade to Docker Engine 25.0.6, 26.1.5, 27.1.1 or newer with runc 1.2.8, 1.3.3 or newer",
                    ),
                });
            }
        }
        None => out.push(bad(
            "Docker Engine",
            "its version is unknown",
            "check that the Docker API answers /version",
        )),
    }
    let Ok(registry) = load_agents(config) else {
        return out;
    };
    let mut images: Vec<String> = Vec::new();
    for agent in registry.agents.values() {
        let timeout = std::time::Duration::from_secs(config.jobs.timeout_secs.max(1));
        if let Ok(spec) =
            crate::runtime::policy::resolve(&config.sandbox, &agent.name, &agent.sandbox, timeout)
        {
            if let Some(image) = runtime.image_of(&spec) {
                if !images.contains(&image) {
                    images.push(image);
                }
            }
        }
    }
    for image in images {
        out.push(match runtime.image_digest(&image).await {
            Some(d) => ok("image", format!("{image} present ({d})")),
            None if crate::runtime::docker::names_registry(&image) => ok(
                "image",
                format!("{image} is not on the Docker host yet: it is pulled from its registry at first use"),
            ),
            None => bad(
                "image",
                format!("{image} is not on the Docker host"),
                config.sandbox.build_hint.clone(),
            ),
        });
    }
    out
}

/// With the `kubernetes` runtime: the bot may do, in the sandbox namespace, everything a run
/// needs (asked of the API server, so a Role that is missing or too small is named).
async fn kubernetes_access(config: &Config) -> Option<Check> {
    use crate::runtime::policy::RuntimeKind;
    let kinds = std::iter::once(&config.sandbox.runtime).chain(&config.sandbox.runtimes);
    if !kinds.into_iter().any(|k| *k == RuntimeKind::Kubernetes) {
        return None;
    }
    let ns = &config.kubernetes.namespace;
    let kube = crate::runtime::kubernetes::KubernetesRuntime::new(
        config.kubernetes.clone(),
        &config.sandbox.instance,
    );
    Some(match kube.missing_permissions().await {
        Ok(missing) if missing.is_empty() => ok(
            "kubernetes access",
            format!("the bot may do all a run needs in namespace `{ns}`"),
        ),
        Ok(missing) => bad(
            "kubernetes access",
            format!("in namespace `{ns}` the bot may not {}", missing.join(", ")),
            format!("apply the Role and RoleBinding of deploy/kubernetes for namespace `{ns}` (or grant these verbs to the bot's ServiceAccount there)"),
        ),
        Err(e) => bad(
            "kubernetes access",
            e.to_string(),
            "check the cluster credentials (KUBECONFIG, or the pod's service account)",
        ),
    })
}

/// How nodes will pull each image of an agent that runs on the cluster.
fn cluster_images(config: &Config) -> Vec<Check> {
    use crate::runtime::policy::RuntimeKind;
    let Ok(registry) = load_agents(config) else {
        return vec![];
    };
    let timeout = std::time::Duration::from_secs(config.jobs.timeout_secs.max(1));
    let mut images: Vec<String> = registry
        .agents
        .values()
        .filter_map(|a| {
            crate::runtime::policy::resolve(&config.sandbox, &a.name, &a.sandbox, timeout).ok()
        })
        .filter(|spec| spec.runtime == RuntimeKind::Kubernetes)
        .map(|spec| spec.image)
        .collect();
    images.sort();
    images.dedup();
    images
        .iter()
        .map(|image| pull_policy_check(image, config.kubernetes.image_pull_policy))
        .collect()
}

/// What a node does with `image` under its pull policy, and the case that breaks: a name
/// without a registry pulled at every run goes to Docker Hub, where a locally built image is
/// not.
pub fn pull_policy_check(
    image: &str,
    configured: Option<crate::runtime::kubernetes::PullPolicy>,
) -> Check {
    use crate::runtime::kubernetes::PullPolicy;
    let policy = PullPolicy::effective(configured, image);
    let registry = crate::runtime::docker::names_registry(image);
    match policy {
        PullPolicy::Always if !registry => bad(
            "cluster image",
            format!("nodes pull `{image}` from Docker Hub at every run (imagePullPolicy Always), and a run fails if it is not there"),
            "push the image to a registry the cluster can pull from and name that registry in the image, with a fixed tag or a digest (or load it on every node and set `[kubernetes] image_pull_policy = \"Never\"`)",
        ),
        PullPolicy::Always => ok(
            "cluster image",
            format!("`{image}` is pulled at every run (Always)"),
        ),
        PullPolicy::IfNotPresent => ok(
            "cluster image",
            format!("`{image}` is pulled once per node (IfNotPresent): push a new tag or use a digest for each build, since a node keeps the image it has"),
        ),
        PullPolicy::Never => ok(
            "cluster image",
            format!("`{image}` is never pulled (Never): it must be on every node"),
        ),
    }
}

/// What to do when the configured runtimes do not answer: each names its own remedy.
fn runtime_fix(config: &Config) -> String {
    use crate::runtime::policy::RuntimeKind;
    let mut kinds = vec![config.sandbox.runtime];
    kinds.extend(config.sandbox.runtimes.iter().copied());
    let mut fixes = Vec::new();
    if kinds.contains(&RuntimeKind::Docker) {
        fixes.push("Docker: start dockerd, or point DOCKER_HOST at the engine's socket");
    }
    if kinds.contains(&RuntimeKind::Kubernetes) {
        fixes.push("Kubernetes: check the cluster credentials (KUBECONFIG, or the pod's service account) and that `[kubernetes] namespace` exists");
    }
    if fixes.is_empty() {
        fixes.push("check `[sandbox] runtime`");
    }
    fixes.join("; ")
}

/// What the job workspaces take, against `[jobs] disk_budget_mb`, measured as the bot's
/// sweep measures them (a folder it cannot read counts as a whole disk limit).
fn workspaces_check(jobs: &crate::config::JobsSection, sandbox: &SandboxPolicy) -> Check {
    let dir = &jobs.workdir;
    let limit = sandbox
        .defaults
        .disk_mb
        .unwrap_or(crate::runtime::policy::DEFAULT_DISK_MB)
        * 1024
        * 1024;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let Some(bytes) = crate::jobs::retention::measure(dir, limit, &stop) else {
        return bad(
            "workspaces",
            format!("cannot list {}", dir.display()),
            "let the bot's user read `[jobs] workdir`",
        );
    };
    let used = bytes / (1024 * 1024);
    let kept = match jobs.workspace_days {
        0 => "kept forever".to_string(),
        d => format!("a finished thread's kept {d} days"),
    };
    match jobs.disk_budget_mb {
        0 => ok(
            "workspaces",
            format!("{used} MB in {} ({kept}, no budget)", dir.display()),
        ),
        budget if used < budget => ok(
            "workspaces",
            format!(
                "{used} MB of a {budget} MB budget in {} ({kept})",
                dir.display()
            ),
        ),
        budget => bad(
            "workspaces",
            format!(
                "{used} MB in {}, past the {budget} MB budget: new jobs are refused",
                dir.display()
            ),
            "lower `[jobs] workspace_days`, raise `[jobs] disk_budget_mb`, or free the volume",
        ),
    }
}

fn store_check(path: &PathBuf) -> Check {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match sled::open(path) {
        Ok(db) => {
            let write = db
                .open_tree("doctor")
                .and_then(|t| {
                    t.insert("probe", "1")?;
                    t.remove("probe")?;
                    Ok(())
                })
                .and_then(|_| db.flush().map(|_| ()));
            match write {
                Ok(()) => ok("store", format!("{} writable", path.display())),
                Err(e) => bad(
                    "store",
                    format!("{} cannot be written: {e}", path.display()),
                    "give the bot's user write access or change `[store] path`",
                ),
            }
        }
        Err(e) if e.to_string().contains("lock") => ok(
            "store",
            format!("{} is held by a running bot", path.display()),
        ),
        Err(e) => bad(
            "store",
            format!("cannot open {}: {e}", path.display()),
            "give the bot's user write access or change `[store] path`",
        ),
    }
}

/// Agents whose harness talks to a model through the proxy need its key (pure over the config).
pub fn model_key_checks(config: &Config) -> Vec<Check> {
    use crate::model::Provider;
    let Ok(registry) = load_agents(config) else {
        return vec![];
    };
    let mut out = Vec::new();
    for agent in registry.agents.values() {
        let Some((kind, _)) = config
            .harness
            .get(&agent.harness)
            .and_then(HarnessConfig::cli)
        else {
            continue;
        };
        let provider = kind.provider();
        // A CLI reaches the model only through its run's forwarder (`model:8080`), which a
        // Docker run with `open` has too.
        let timeout = std::time::Duration::from_secs(config.jobs.timeout_secs.max(1));
        if let Ok(spec) =
            crate::runtime::policy::resolve(&config.sandbox, &agent.name, &agent.sandbox, timeout)
        {
            use crate::runtime::policy::{NetworkMode, RuntimeKind};
            let reaches_proxy = spec.network == NetworkMode::Model
                || (spec.network == NetworkMode::Open && spec.runtime == RuntimeKind::Docker);
            if spec.runtime != RuntimeKind::Process && !reaches_proxy {
                out.push(bad(
                    "network",
                    format!(
                        "agent `{}` runs {} on network `{}`, where the model proxy cannot be reached: its jobs can only stall",
                        agent.name,
                        kind.label(),
                        spec.network.label()
                    ),
                    format!(
                        "give `{}` `sandbox: {{network: model}}` in its prompt file",
                        agent.name
                    ),
                ));
            }
        }
        if kind.needs_model() && agent.model.is_none() {
            out.push(bad(
                "model",
                format!(
                    "agent `{}` runs {} without a model, and {} will not start without one",
                    agent.name,
                    kind.label(),
                    kind.label()
                ),
                format!("add `model:` to `{}`'s prompt file", agent.name),
            ));
        }
        let Some(model) = &config.model else {
            out.push(bad(
                "model key",
                format!(
                    "agent `{}` runs `{}` but there is no `[model]` proxy",
                    agent.name, agent.harness
                ),
                "add a `[model]` section with the provider's upstream and key",
            ));
            continue;
        };
        let upstream = match provider {
            Provider::Anthropic => model.anthropic.as_ref(),
            Provider::OpenAi => model.openai.as_ref(),
            Provider::Google => model.google.as_ref(),
        };
        let has = upstream.is_some_and(|u| u.api_key.is_some())
            || model
                .agent_keys
                .get(&agent.name)
                .is_some_and(|k| k.contains_key(&provider));
        out.push(if has {
            ok("model key", format!("agent `{}`: {} key configured", agent.name, provider.label()))
        } else {
            let var = match provider {
                Provider::Anthropic => "ANTHROPIC_API_KEY",
                Provider::OpenAi => "OPENAI_API_KEY",
                Provider::Google => "GEMINI_API_KEY",
            };
            bad(
                "model key",
                format!("agent `{}` needs a {} key and none is configured", agent.name, provider.label()),
                format!("set {var}, `[model.{}] api_key`, or a key for the agent under `[model.agent_keys]`", provider.label()),
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_eval_suite_is_named_by_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let agents = dir.path().join("agents");
        std::fs::create_dir_all(&agents).unwrap();
        std::fs::write(
            agents.join("default.md"),
            "---\nname: default\ndescription: d\nharness: scripted\n---\nrole\n",
        )
        .unwrap();
        let mut config = Config::default();
        config.agents.dir = agents;
        config.agents.shared_dir = dir.path().join("shared");
        config.evals.dir = dir.path().join("evals");
        config.fill_defaults();
        std::fs::create_dir_all(&config.evals.dir).unwrap();
        let suite = config.evals.dir.join("default.yml");
        std::fs::write(&suite, "cases:\n  - name: a\n    request: x\n").unwrap();
        let good = render(&[evals_check(&config)]);
        assert!(
            good.starts_with("ok    eval suites: 1 suite with 1 case in"),
            "{good}"
        );
        std::fs::write(
            &suite,
            "cases:\n  - name: a\n    request: x\n    expect: {answer: \"(\"}\n",
        )
        .unwrap();
        let bad = render(&[evals_check(&config)]);
        assert!(
            bad.contains("FAIL  eval suites:")
                && bad.contains("default.yml:4: cases[0].expect.answer"),
            "{bad}"
        );
    }

    #[test]
    fn scopes_from_the_manifest_and_what_is_missing() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.yml")).unwrap();
        let wanted = manifest_scopes(&text).unwrap();
        assert!(wanted.contains(&"chat:write".to_string()));
        assert_eq!(
            missing_scopes(&wanted, &wanted.join(",")),
            Vec::<String>::new()
        );
        let partial: Vec<&str> = wanted
            .iter()
            .map(String::as_str)
            .filter(|s| *s != "reactions:write")
            .collect();
        assert_eq!(
            missing_scopes(&wanted, &partial.join(", ")),
            vec!["reactions:write"]
        );
    }

    #[test]
    fn engines_with_known_escapes_are_flagged() {
        for bad in [
            "20.10.24+dfsg1",
            "24.0.9",
            "25.0.5",
            "26.1.4",
            "27.0.3",
            "23.0.14",
            "x",
        ] {
            assert!(engine_advisory(bad).is_some(), "{bad}");
        }
        for good in ["23.0.15", "25.0.6", "26.1.5", "27.1.1", "27.5.0", "28.0.1"] {
            assert_eq!(engine_advisory(good), None, "{good}");
        }
        for bad in ["1.1.5+ds1", "1.1.12", "1.2.7", "1.3.2", "1.0.0-rc93", "x"] {
            assert!(runc_advisory(bad).is_some(), "{bad}");
        }
        for good in ["1.2.8", "v1.2.8", "1.3.3", "1.4.0", "1.4.1", "2.0.0"] {
            assert_eq!(runc_advisory(good), None, "{good}");
        }
    }

    #[test]
    fn each_cli_needs_its_providers_key_and_some_their_model() {
        use crate::harness::cli::CliSpec;
        use crate::model::proxy::{ProxyConfig, Upstream};
        let dir = tempfile::tempdir().unwrap();
        let agents = dir.path().join("agents");
        std::fs::create_dir_all(&agents).unwrap();
        for (name, harness, model) in [
            (
                "gem",
                "gemini",
                "model: gemini-2.5-pro\nsandbox:\n  network: model\n",
            ),
            ("cop", "copilot", ""),
        ] {
            std::fs::write(
                agents.join(format!("{name}.md")),
                format!("---\nname: {name}\ndescription: d\nharness: {harness}\n{model}---\nYou help.\n"),
            )
            .unwrap();
        }
        let mut config = Config::default();
        config.agents.dir = agents;
        config.agents.default = "gem".into();
        config.agents.shared_dir = dir.path().join("shared");
        let spec = || CliSpec {
            program: None,
            args: vec![],
            env: Default::default(),
        };
        config
            .harness
            .insert("gemini".into(), HarnessConfig::Gemini(spec()));
        config
            .harness
            .insert("copilot".into(), HarnessConfig::Copilot(spec()));
        config.model = Some(ProxyConfig {
            anthropic: Some(Upstream {
                base_url: "http://a".into(),
                api_key: Some("sk-a".to_string().into()),
            }),
            ..ProxyConfig::default()
        });
        let text = render(&model_key_checks(&config));
        assert!(
            text.contains("agent `cop` runs Copilot CLI without a model"),
            "{text}"
        );
        assert!(
            text.contains("agent `cop`: anthropic key configured"),
            "{text}"
        );
        assert!(
            text.contains("agent `gem` needs a google key") && text.contains("set GEMINI_API_KEY"),
            "{text}"
        );
        // A CLI on network `none` (the default) cannot reach the model proxy.
        config.sandbox.runtime = crate::runtime::policy::RuntimeKind::Docker;
        let text = render(&model_key_checks(&config));
        assert!(
            text.contains("agent `cop` runs Copilot CLI on network `none`")
                && text.contains("give `cop` `sandbox: {network: model}`"),
            "{text}"
        );
        assert!(
            !text.contains("agent `gem` runs Gemini CLI on network"),
            "{text}"
        );
    }

    #[test]
    fn cluster_images_are_checked_for_how_nodes_pull_them() {
        use crate::runtime::kubernetes::PullPolicy;
        let text = render(&[
            pull_policy_check("threadwork/agents", None),
            pull_policy_check("threadwork/agents:dev", None),
            pull_policy_check("ghcr.io/acme/agents:latest", None),
            pull_policy_check("threadwork/agents:latest", Some(PullPolicy::Never)),
        ]);
        assert!(
            text.contains(
                "FAIL  cluster image: nodes pull `threadwork/agents` from Docker Hub at every run"
            ),
            "{text}"
        );
        assert!(
            text.contains("`threadwork/agents:dev` is pulled once per node (IfNotPresent)"),
            "{text}"
        );
        assert!(
            text.contains("`ghcr.io/acme/agents:latest` is pulled at every run (Always)"),
            "{text}"
        );
        assert!(
            text.contains("`threadwork/agents:latest` is never pulled (Never)"),
            "{text}"
        );
    }

    #[test]
    fn workspaces_are_measured_against_their_budget() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("job-1")).unwrap();
        std::fs::write(dir.path().join("job-1/big"), vec![1u8; 3 * 1024 * 1024]).unwrap();
        let mut jobs = crate::config::JobsSection {
            workdir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let text = render(&[workspaces_check(&jobs, &SandboxPolicy::default())]);
        assert!(text.contains("ok    workspaces: 3 MB in"), "{text}");
        assert!(text.contains("kept 14 days, no budget"), "{text}");
        jobs.disk_budget_mb = 2;
        let text = render(&[workspaces_check(&jobs, &SandboxPolicy::default())]);
        assert!(
            text.contains("FAIL  workspaces: 3 MB in") && text.contains("past the 2 MB budget"),
            "{text}"
        );
    }

    #[test]
    fn a_runtime_that_does_not_answer_gets_its_own_remedy() {
        use crate::runtime::policy::RuntimeKind;
        let mut config = Config::default();
        config.sandbox.runtime = RuntimeKind::Kubernetes;
        let fix = runtime_fix(&config);
        assert!(
            fix.contains("KUBECONFIG") && !fix.contains("dockerd"),
            "{fix}"
        );
        config.sandbox.runtime = RuntimeKind::Docker;
        assert!(runtime_fix(&config).contains("start dockerd"));
    }

    #[test]
    fn render_says_what_and_how() {
        let text = render(&[
            ok("store", "writable"),
            bad("scopes", "lacks chat:write", "add it"),
        ]);
        assert_eq!(
            text,
            "ok    store: writable\nFAIL  scopes: lacks chat:write\n      fix: add it\n"
        );
    }
}
