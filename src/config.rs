//! Typed configuration: a TOML file plus Slack's environment variables (Bolt's names). Secrets
//! are `secrecy` types from the moment they are read, so they never reach a log by accident.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::chat::pacing::Limits;
use crate::chat::slack::{SlackSettings, Transport, SLACK_API_URL};
use crate::harness::cli::{CliKind, CliSpec};
use crate::harness::command::CommandSpec;
use crate::model::proxy::ProxyConfig;
use crate::runtime::SandboxPolicy;
use crate::settings::BotSettings;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub slack: SlackSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub agents: AgentsSection,
    #[serde(default)]
    pub jobs: JobsSection,
    /// Where harnesses run and how they are confined.
    #[serde(default)]
    pub sandbox: SandboxPolicy,
    /// The model proxy: upstreams, keys, prices. Needed by the CLI harnesses.
    #[serde(default)]
    pub model: Option<ProxyConfig>,
    /// Harnesses by name; agents refer to them. Without any, `scripted` (the demo) is defined.
    #[serde(default)]
    pub harness: BTreeMap<String, HarnessConfig>,
    /// Forge hosts by a name of your choice: where repositories live, their tokens.
    #[serde(default)]
    pub forge: BTreeMap<String, crate::forge::HostConfig>,
    /// Commit identity and the Slack user → Git identity map.
    #[serde(default)]
    pub git: crate::forge::GitSection,
    /// The ops HTTP server: metrics, health, the HTTP Events API transport.
    #[serde(default)]
    pub ops: OpsSection,
    /// The cluster `[sandbox] runtime = "kubernetes"` runs jobs on.
    #[serde(default)]
    pub kubernetes: crate::runtime::kubernetes::KubeSettings,
    /// MCP servers agents may use (`mcp: [name]`), run by the bot behind its gateway.
    #[serde(default)]
    pub mcp: BTreeMap<String, crate::mcp::ServerConfig>,
    /// Overlap checks at intake.
    #[serde(default)]
    pub overlap: crate::overlap::OverlapSettings,
    /// Agents' eval suites: where they are, what the bot runs by itself, the judge model.
    #[serde(default)]
    pub evals: crate::evals::EvalSettings,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OpsSection {
    /// Where `/metrics`, `/healthz`, `/readyz` (open) and `/audit`, `/jobs/<id>` (the bearer
    /// `token`, or loopback only without one) are served, e.g. `127.0.0.1:9464`; no server
    /// when absent.
    pub listen: Option<std::net::SocketAddr>,
    /// Where `/slack/events` (the HTTP Events API transport) is served: its own listener,
    /// the one Slack must reach, apart from the ops endpoints.
    pub events_listen: Option<std::net::SocketAddr>,
    /// Bearer token for `/audit` and `/jobs/<id>`; also from THREADWORK_OPS_TOKEN.
    pub token: Option<SecretString>,
    /// How long a graceful stop (SIGTERM) may take before the bot exits anyway; 25 s by
    /// default, under Kubernetes' and `docker stop`'s grace periods (set theirs above it).
    pub drain_secs: Option<u64>,
}

/// `[ops] drain_secs` when not set.
pub const DEFAULT_DRAIN_SECS: u64 = 25;

impl OpsSection {
    /// The deadline of a graceful stop.
    pub fn drain(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.drain_secs.unwrap_or(DEFAULT_DRAIN_SECS))
    }

    /// The bearer token for the job-content endpoints, from the file or the environment.
    pub fn bearer(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<SecretString> {
        self.token
            .clone()
            .or_else(|| env("THREADWORK_OPS_TOKEN").map(SecretString::from))
            .filter(|t| !t.expose_secret().is_empty())
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SlackSection {
    pub api_url: Option<String>,
    pub app_token: Option<SecretString>,
    pub bot_token: Option<SecretString>,
    /// `socket` (default) or `http` (the Events API on the ops server's `/slack/events`).
    #[serde(default)]
    pub transport: Transport,
    /// Checks HTTP Events API requests; also from SLACK_SIGNING_SECRET.
    pub signing_secret: Option<SecretString>,
    #[serde(default = "default_connections")]
    pub socket_connections: u32,
    #[serde(default = "default_reconnect")]
    pub reconnect_secs: u64,
    /// Events acked but not yet handled, at most; past it new ones are not acked (Slack
    /// redelivers them later) and counted in `threadwork_events_shed`.
    #[serde(default = "default_inbound_queue")]
    pub inbound_queue: usize,
    #[serde(default)]
    pub allowed_bots: Vec<String>,
    /// Outbound pacing; the defaults follow Slack's documented tiers.
    #[serde(default)]
    pub limits: Limits,
}

impl Default for SlackSection {
    fn default() -> Self {
        Self {
            api_url: None,
            app_token: None,
            bot_token: None,
            transport: Transport::Socket,
            signing_secret: None,
            socket_connections: default_connections(),
            reconnect_secs: default_reconnect(),
            inbound_queue: default_inbound_queue(),
            allowed_bots: vec![],
            limits: Limits::default(),
        }
    }
}

fn default_connections() -> u32 {
    2
}
fn default_inbound_queue() -> usize {
    1024
}

fn default_reconnect() -> u64 {
    5
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    #[serde(default = "default_store")]
    pub path: PathBuf,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            path: default_store(),
        }
    }
}

fn default_store() -> PathBuf {
    PathBuf::from("data/threadwork.sled")
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AgentsSection {
    #[serde(default = "default_agents_dir")]
    pub dir: PathBuf,
    /// Shared prompt fragments agents can `include`.
    #[serde(default = "default_shared_dir")]
    pub shared_dir: PathBuf,
    #[serde(default = "default_agent")]
    pub default: String,
    /// Slack user ids with every agent owner's rights: adopt, reject and revert amendments,
    /// act in any job's thread, stop jobs, run schedules, decide overlap holds.
    #[serde(default)]
    pub admins: Vec<String>,
    /// A channel id where prompt-file errors found while running, and the overlap digest, are
    /// posted; the bot must be a member (`doctor` checks).
    #[serde(default)]
    pub admin_channel: Option<String>,
    /// Reload prompt files when they change on disk.
    #[serde(default = "yes")]
    pub watch: bool,
    /// The context library: markdown files agents read from with `context:` scopes.
    #[serde(default = "default_context_dir")]
    pub context_dir: PathBuf,
    /// How many library passages a job's prompt gets at most.
    #[serde(default = "default_context_passages")]
    pub context_passages: usize,
    /// Guests (single- and multi-channel) may start jobs and use commands.
    #[serde(default = "yes")]
    pub allow_guests: bool,
    /// Other workspaces (team ids, `T…`) whose people may use the bot in shared channels
    /// (Slack Connect); people of any other team are refused.
    #[serde(default)]
    pub external_teams: Vec<String>,
}

impl Default for AgentsSection {
    fn default() -> Self {
        Self {
            dir: default_agents_dir(),
            shared_dir: default_shared_dir(),
            default: default_agent(),
            admins: vec![],
            admin_channel: None,
            watch: true,
            context_dir: default_context_dir(),
            context_passages: default_context_passages(),
            allow_guests: true,
            external_teams: vec![],
        }
    }
}

fn default_agents_dir() -> PathBuf {
    PathBuf::from("prompts/agents")
}
fn default_shared_dir() -> PathBuf {
    PathBuf::from("prompts/shared")
}
fn default_context_dir() -> PathBuf {
    PathBuf::from("context")
}
fn default_context_passages() -> usize {
    3
}
fn yes() -> bool {
    true
}
fn default_agent() -> String {
    "default".into()
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct JobsSection {
    #[serde(default = "default_max_running")]
    pub max_running: usize,
    #[serde(default = "default_per_channel")]
    pub per_channel: usize,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_card_interval")]
    pub card_interval_ms: u64,
    /// A harness that reports nothing for this long is stopped.
    #[serde(default = "default_idle")]
    pub idle_timeout_secs: u64,
    /// Jobs one user may start per hour; 0 means no limit.
    #[serde(default)]
    pub per_user_per_hour: u32,
    #[serde(default = "default_workdir")]
    pub workdir: PathBuf,
    /// Harness events kept per job in its transcript.
    #[serde(default = "default_transcript_events")]
    pub transcript_max_events: u32,
    /// Days a finished job's transcript is kept (0: forever).
    #[serde(default = "default_transcript_days")]
    pub transcript_days: u32,
    /// Days a finished thread's workspace (its checkout and the CLI's state) is kept after its
    /// last job; removed sooner once the PR the bot opened from it is merged or closed
    /// (0: forever).
    #[serde(default = "default_workspace_days")]
    pub workspace_days: u32,
    /// Most megabytes the workspaces may take together: past it, new jobs are refused with a
    /// message in the thread until old workspaces are removed (0: no budget).
    #[serde(default)]
    pub disk_budget_mb: u64,
    /// What a job may spend on models (USD) when neither its agent nor its mention says.
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// The most any job may spend on models (USD), whatever its agent or mention asks.
    #[serde(default)]
    pub max_budget_usd: Option<f64>,
}

fn default_workspace_days() -> u32 {
    14
}

fn default_transcript_events() -> u32 {
    5000
}
fn default_transcript_days() -> u32 {
    30
}

impl Default for JobsSection {
    fn default() -> Self {
        Self {
            max_running: default_max_running(),
            per_channel: default_per_channel(),
            timeout_secs: default_timeout(),
            card_interval_ms: default_card_interval(),
            idle_timeout_secs: default_idle(),
            per_user_per_hour: 0,
            workdir: default_workdir(),
            transcript_max_events: default_transcript_events(),
            transcript_days: default_transcript_days(),
            workspace_days: default_workspace_days(),
            disk_budget_mb: 0,
            budget_usd: None,
            max_budget_usd: None,
        }
    }
}

fn default_max_running() -> usize {
    4
}
fn default_per_channel() -> usize {
    2
}
fn default_timeout() -> u64 {
    1800
}
fn default_card_interval() -> u64 {
    1000
}
fn default_idle() -> u64 {
    600
}
fn default_workdir() -> PathBuf {
    PathBuf::from("data/jobs")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HarnessConfig {
    /// Replays a script (the built-in demo without `script`).
    Scripted { script: Option<PathBuf> },
    /// Runs a CLI that prints JSON-lines events (or plain text).
    Command(CommandSpec),
    /// Claude Code (`claude -p … --output-format stream-json`).
    Claude(CliSpec),
    /// Codex CLI (`codex exec --json`).
    Codex(CliSpec),
    /// pi (`pi --mode json -p`).
    Pi(CliSpec),
    /// Gemini CLI (`gemini -p … --output-format stream-json`).
    Gemini(CliSpec),
    /// opencode (`opencode run --format json`).
    Opencode(CliSpec),
    /// GitHub Copilot CLI (`copilot -p … --output-format json`, bring your own key).
    Copilot(CliSpec),
}

impl HarnessConfig {
    /// True when the harness runs a program (in the sandbox runtime).
    pub fn runs_a_program(&self) -> bool {
        !matches!(self, HarnessConfig::Scripted { .. })
    }

    /// The real coding-agent CLI this harness runs, if it is one.
    pub fn cli(&self) -> Option<(CliKind, &CliSpec)> {
        match self {
            HarnessConfig::Claude(spec) => Some((CliKind::Claude, spec)),
            HarnessConfig::Codex(spec) => Some((CliKind::Codex, spec)),
            HarnessConfig::Pi(spec) => Some((CliKind::Pi, spec)),
            HarnessConfig::Gemini(spec) => Some((CliKind::Gemini, spec)),
            HarnessConfig::Opencode(spec) => Some((CliKind::Opencode, spec)),
            HarnessConfig::Copilot(spec) => Some((CliKind::Copilot, spec)),
            HarnessConfig::Scripted { .. } | HarnessConfig::Command(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("config {path}: {source}")]
    Mcp {
        path: String,
        source: crate::mcp::McpConfigError,
    },
    #[error("config {path}: {what}")]
    Overlap { path: String, what: String },
    /// A value the parser accepts but the bot cannot use.
    #[error("config {path}: {what}")]
    Invalid { path: String, what: String },
    #[error("{var} is not set (nor `slack.{field}` in the config): {hint}")]
    MissingToken {
        var: &'static str,
        field: &'static str,
        hint: &'static str,
    },
    #[error("{var} does not look like {kind} (it should start with `{prefix}`)")]
    BadToken {
        var: &'static str,
        kind: &'static str,
        prefix: &'static str,
    },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&name, &text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: name.to_string(),
            source,
        })?;
        crate::mcp::validate(&config.mcp).map_err(|source| ConfigError::Mcp {
            path: name.to_string(),
            source,
        })?;
        if let Some(what) = config.overlap.problem() {
            return Err(ConfigError::Overlap {
                path: name.to_string(),
                what,
            });
        }
        for (key, amount) in [
            ("budget_usd", config.jobs.budget_usd),
            ("max_budget_usd", config.jobs.max_budget_usd),
        ] {
            if let Some(a) = amount.filter(|a| crate::jobs::budget::valid(*a).is_none()) {
                return Err(ConfigError::Invalid {
                    path: name.to_string(),
                    what: format!("[jobs] {key} = {a}: give an amount in USD above 0, e.g. 0.50"),
                });
            }
        }
        if let (Some(b), Some(most)) = (config.jobs.budget_usd, config.jobs.max_budget_usd) {
            if b > most {
                return Err(ConfigError::Invalid {
                    path: name.to_string(),
                    what: format!("[jobs] budget_usd = {b} is over max_budget_usd = {most}"),
                });
            }
        }
        if (config.jobs.budget_usd.is_some() || config.jobs.max_budget_usd.is_some())
            && config.model.is_none()
        {
            return Err(ConfigError::Invalid {
                path: name.to_string(),
                what: "[jobs] budget_usd and max_budget_usd are held by the model proxy: configure [model] too".into(),
            });
        }
        for (key, days) in [
            ("transcript_days", config.jobs.transcript_days),
            ("workspace_days", config.jobs.workspace_days),
        ] {
            if days > 36_500 {
                return Err(ConfigError::Invalid {
                    path: name.to_string(),
                    what: format!(
                        "[jobs] {key} = {days}: at most 36500 (a hundred years); 0 keeps forever"
                    ),
                });
            }
        }
        if let Some(what) = config.sandbox.problem() {
            return Err(ConfigError::Invalid {
                path: name.to_string(),
                what,
            });
        }
        config.fill_defaults();
        // The admin's own defaults must fit the admin's own caps, or every job is refused.
        let timeout = std::time::Duration::from_secs(config.jobs.timeout_secs);
        let plain = crate::runtime::policy::SandboxOverride::default();
        if let Err(e) =
            crate::runtime::policy::resolve(&config.sandbox, "<defaults>", &plain, timeout)
        {
            return Err(ConfigError::Invalid {
                path: name.to_string(),
                what: format!("every job would be refused: {e} (the defaults, `[jobs] timeout_secs` included, must fit `[sandbox.max]`)"),
            });
        }
        Ok(config)
    }

    /// Adds the demo `scripted` harness when none is configured, starts the model proxy (with
    /// its defaults) when MCP servers need its listener, and points network mode `model` at
    /// the model proxy when nothing else is set.
    pub fn fill_defaults(&mut self) {
        // The MCP gateway lives on the model proxy's listener.
        if self.model.is_none() && !self.mcp.is_empty() {
            self.model = Some(ProxyConfig::default());
        }
        // On a cluster the sandboxes reach the proxy on the port it listens on.
        if let (None, Some(model)) = (self.kubernetes.proxy_port, &self.model) {
            self.kubernetes.proxy_port = Some(i32::from(model.listen.port()));
        }
        if let (None, Some(model)) = (&self.sandbox.model_endpoint, &self.model) {
            self.sandbox.model_endpoint =
                Some(format!("host.docker.internal:{}", model.listen.port()));
        }
        if self.harness.is_empty() {
            self.harness
                .insert("scripted".into(), HarnessConfig::Scripted { script: None });
        }
    }

    /// Model keys from the environment (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, `GEMINI_API_KEY`) for the
    /// `[model.<provider>]` upstreams whose config holds none, so keys can stay out of files.
    pub fn model_keys_from_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        let Some(model) = self.model.as_mut() else {
            return;
        };
        for (var, upstream) in [
            ("ANTHROPIC_API_KEY", model.anthropic.as_mut()),
            ("OPENAI_API_KEY", model.openai.as_mut()),
            ("GEMINI_API_KEY", model.google.as_mut()),
        ] {
            if let Some(upstream) = upstream.filter(|u| u.api_key.is_none()) {
                upstream.api_key = env(var).filter(|v| !v.is_empty()).map(SecretString::from);
            }
        }
    }

    /// Slack settings from the environment first (`SLACK_APP_TOKEN`, `SLACK_BOT_TOKEN`,
    /// `SLACK_API_URL`), then the config file.
    pub fn slack_settings(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SlackSettings, ConfigError> {
        let secret =
            |var: &'static str, field: &'static str, from_file: &Option<SecretString>, hint| {
                env(var)
                    .filter(|v| !v.is_empty())
                    .map(SecretString::from)
                    .or_else(|| from_file.clone())
                    .ok_or(ConfigError::MissingToken { var, field, hint })
            };
        let transport = self.slack.transport;
        let app_token = match transport {
            Transport::Socket => Some(secret(
                "SLACK_APP_TOKEN",
                "app_token",
                &self.slack.app_token,
                "create an app-level token with the connections:write scope (xapp-…)",
            )?),
            Transport::Http => None,
        };
        let signing_secret = match transport {
            Transport::Http => Some(secret(
                "SLACK_SIGNING_SECRET",
                "signing_secret",
                &self.slack.signing_secret,
                "copy the Signing Secret from the app's Basic Information page",
            )?),
            Transport::Socket => env("SLACK_SIGNING_SECRET")
                .filter(|v| !v.is_empty())
                .map(SecretString::from)
                .or_else(|| self.slack.signing_secret.clone()),
        };
        let bot_token = secret(
            "SLACK_BOT_TOKEN",
            "bot_token",
            &self.slack.bot_token,
            "install the app to the workspace and copy the bot token (xoxb-…)",
        )?;
        if app_token
            .as_ref()
            .is_some_and(|t| !t.expose_secret().starts_with("xapp-"))
        {
            return Err(ConfigError::BadToken {
                var: "SLACK_APP_TOKEN",
                kind: "an app-level token",
                prefix: "xapp-",
            });
        }
        if !bot_token.expose_secret().starts_with("xoxb-") {
            return Err(ConfigError::BadToken {
                var: "SLACK_BOT_TOKEN",
                kind: "a bot token",
                prefix: "xoxb-",
            });
        }
        let api_url = env("SLACK_API_URL")
            .filter(|v| !v.is_empty())
            .or_else(|| self.slack.api_url.clone())
            .unwrap_or_else(|| SLACK_API_URL.to_string());
        Ok(SlackSettings {
            api_url,
            bot_token,
            app_token,
            signing_secret,
            transport,
            connections: self.slack.socket_connections.clamp(1, 10),
            reconnect_secs: self.slack.reconnect_secs,
            limits: self.slack.limits,
        })
    }

    /// Every secret value the bot holds, for redaction.
    pub fn secret_values(
        &self,
        slack: &SlackSettings,
        forges: &crate::forge::Forges,
    ) -> Vec<String> {
        let mut out = vec![slack.bot_token.expose_secret().to_string()];
        out.extend(
            self.ops
                .bearer(&|k| std::env::var(k).ok())
                .map(|t| t.expose_secret().to_string()),
        );
        out.extend(
            slack
                .app_token
                .iter()
                .map(|t| t.expose_secret().to_string()),
        );
        out.extend(
            slack
                .signing_secret
                .iter()
                .map(|t| t.expose_secret().to_string()),
        );
        out.extend(crate::mcp::secret_values(&self.mcp));
        if let Some(model) = &self.model {
            for upstream in [
                model.anthropic.as_ref(),
                model.openai.as_ref(),
                model.google.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                out.extend(
                    upstream
                        .api_key
                        .iter()
                        .map(|k| k.expose_secret().to_string()),
                );
            }
            for keys in model.agent_keys.values() {
                out.extend(keys.values().map(|k| k.expose_secret().to_string()));
            }
        }
        out.extend(forges.secrets());
        out
    }

    pub fn bot_settings(&self) -> BotSettings {
        BotSettings {
            default_agent: self.agents.default.clone(),
            allowed_bots: self.slack.allowed_bots.clone(),
            max_running: self.jobs.max_running,
            per_channel: self.jobs.per_channel,
            job_timeout: Duration::from_secs(self.jobs.timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.jobs.idle_timeout_secs.max(1)),
            per_user_per_hour: self.jobs.per_user_per_hour,
            card_interval: Duration::from_millis(self.jobs.card_interval_ms),
            workdir: self.jobs.workdir.clone(),
            admins: self.agents.admins.clone(),
            allow_guests: self.agents.allow_guests,
            external_teams: self.agents.external_teams.clone(),
            admin_channel: self.agents.admin_channel.clone(),
            context_passages: self.agents.context_passages.min(20),
            transcript_max_events: self.jobs.transcript_max_events,
            transcript_days: self.jobs.transcript_days,
            workspace_days: self.jobs.workspace_days,
            disk_budget_mb: self.jobs.disk_budget_mb,
            budget_usd: self.jobs.budget_usd,
            max_budget_usd: self.jobs.max_budget_usd,
            sandbox: self.sandbox.clone(),
            overlap: self.overlap.clone(),
            evals: self.evals.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn empty_config_has_defaults_and_demo_harness() {
        let c = Config::parse("t.toml", "").unwrap();
        assert_eq!(c.agents.default, "default");
        assert!(matches!(
            c.harness.get("scripted"),
            Some(HarnessConfig::Scripted { script: None })
        ));
        assert_eq!(c.jobs.max_running, 4);
    }

    #[test]
    fn budgets_need_the_model_proxy_and_fit_their_ceiling() {
        let e = Config::parse("t.toml", "[jobs]\nmax_budget_usd = 5.0\n").unwrap_err();
        assert!(e.to_string().contains("configure [model]"), "{e}");
        let e = Config::parse(
            "t.toml",
            "[jobs]\nbudget_usd = 6.0\nmax_budget_usd = 5.0\n[model]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("over max_budget_usd"), "{e}");
        let e = Config::parse("t.toml", "[jobs]\nbudget_usd = -1\n[model]\n").unwrap_err();
        assert!(e.to_string().contains("budget_usd = -1"), "{e}");
        let c = Config::parse(
            "t.toml",
            "[jobs]\nbudget_usd = 0.5\nmax_budget_usd = 5.0\n[model]\n",
        )
        .unwrap();
        assert_eq!(c.jobs.budget_usd, Some(0.5));
    }

    #[test]
    fn harness_tables_parse() {
        let c = Config::parse(
            "t.toml",
            "[harness.mycli]\nkind = \"command\"\nprogram = \"/usr/bin/mycli\"\nargs = [\"--json\"]\nmode = \"text\"\n",
        )
        .unwrap();
        match c.harness.get("mycli") {
            Some(HarnessConfig::Command(spec)) => assert_eq!(spec.args, vec!["--json"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_past_the_caps_are_refused_at_once() {
        let e = Config::parse(
            "t.toml",
            "[jobs]\ntimeout_secs = 21600\n[sandbox.max]\ncpus = 4.0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("every job would be refused") && e.contains("timeout_secs"),
            "{e}"
        );
        assert!(Config::parse("t.toml", "[jobs]\ntimeout_secs = 14400\n").is_ok());
    }

    #[test]
    fn retention_days_are_bounded() {
        let e = Config::parse("t.toml", "[jobs]\nworkspace_days = 4000000000\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("workspace_days") && e.contains("at most 36500"),
            "{e}"
        );
        assert!(Config::parse("t.toml", "[jobs]\ntranscript_days = 36500\n").is_ok());
    }

    #[test]
    fn the_cluster_reaches_the_proxy_on_its_listen_port() {
        let c = Config::parse("t.toml", "[model]\nlisten = \"0.0.0.0:9000\"\n").unwrap();
        assert_eq!(c.kubernetes.proxy_port(), 9000);
        let c = Config::parse(
            "t.toml",
            "[model]\nlisten = \"0.0.0.0:9000\"\n[kubernetes]\nproxy_port = 8080\n",
        )
        .unwrap();
        assert_eq!(c.kubernetes.proxy_port(), 8080, "a port set stays");
    }

    #[test]
    fn every_harness_table_refuses_unknown_keys() {
        for kind in ["command\"\nprogram = \"x", "claude", "opencode"] {
            let e = Config::parse(
                "t.toml",
                &format!("[harness.h]\nkind = \"{kind}\"\nenviron = {{ A = \"1\" }}\n"),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("environ"), "{kind}: {e}");
        }
    }

    #[test]
    fn unknown_keys_are_errors_with_position() {
        let e = Config::parse("t.toml", "[jobs]\nmax_runing = 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.toml") && e.contains("max_runing") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn model_keys_come_from_the_file_then_the_environment() {
        let mut c = Config::parse(
            "t.toml",
            "[model.anthropic]\nbase_url = \"http://a\"\napi_key = \"sk-file\"\n[model.openai]\nbase_url = \"http://o\"\n",
        )
        .unwrap();
        c.model_keys_from_env(&env(&[
            ("ANTHROPIC_API_KEY", "sk-env-a"),
            ("OPENAI_API_KEY", "sk-env-o"),
        ]));
        let model = c.model.as_ref().unwrap();
        let key = |u: &Option<crate::model::proxy::Upstream>| {
            u.as_ref()
                .unwrap()
                .api_key
                .as_ref()
                .unwrap()
                .expose_secret()
                .to_string()
        };
        assert_eq!(key(&model.anthropic), "sk-file");
        assert_eq!(key(&model.openai), "sk-env-o");
        assert!(
            !format!("{c:?}").contains("sk-"),
            "keys must not be in Debug output"
        );
    }

    #[test]
    fn tokens_from_env_win_and_are_checked() {
        let c = Config::parse(
            "t.toml",
            "[slack]\nbot_token = \"xoxb-file\"\napp_token = \"xapp-file\"\n",
        )
        .unwrap();
        let s = c
            .slack_settings(&env(&[
                ("SLACK_BOT_TOKEN", "xoxb-env"),
                ("SLACK_API_URL", "http://127.0.0.1:9/api"),
            ]))
            .unwrap();
        assert_eq!(s.bot_token.expose_secret(), "xoxb-env");
        assert_eq!(s.app_token.as_ref().unwrap().expose_secret(), "xapp-file");
        assert_eq!(s.api_url, "http://127.0.0.1:9/api");
        assert!(
            !format!("{s:?}").contains("xoxb"),
            "tokens must not be in Debug output"
        );

        let e = Config::parse("t.toml", "")
            .unwrap()
            .slack_settings(&env(&[]))
            .unwrap_err();
        assert!(
            e.to_string().starts_with("SLACK_APP_TOKEN is not set"),
            "{e}"
        );
        let e = Config::parse("t.toml", "")
            .unwrap()
            .slack_settings(&env(&[
                ("SLACK_APP_TOKEN", "xapp-1"),
                ("SLACK_BOT_TOKEN", "xoxp-user"),
            ]))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("SLACK_BOT_TOKEN does not look like a bot token"),
            "{e}"
        );
    }
}
