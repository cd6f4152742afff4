//! Sandbox policy: the admin's `[sandbox]` config and an agent's `sandbox:` request decide one
//! run's limits. Pure, so every rule is a unit test.

use std::time::Duration;

use serde::Deserialize;

/// What the run may reach over the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// No network interface but loopback.
    #[default]
    None,
    /// Only the bot's model endpoint (one address:port).
    Model,
    /// Public addresses, never the host, private ranges or metadata (`runtime::open`);
    /// admin-approved per agent.
    Open,
}

impl NetworkMode {
    pub fn label(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Model => "model",
            NetworkMode::Open => "open",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    #[default]
    Docker,
    /// A local child process: no isolation; for development machines only.
    Process,
    /// A Kubernetes Job per run (`[kubernetes]` in the config).
    Kubernetes,
}

impl RuntimeKind {
    pub fn label(self) -> &'static str {
        match self {
            RuntimeKind::Docker => "docker",
            RuntimeKind::Process => "process",
            RuntimeKind::Kubernetes => "kubernetes",
        }
    }
}

/// Resource limits; `[sandbox.defaults]` and `[sandbox.max]` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub cpus: f64,
    pub memory_mb: u64,
    pub pids: i64,
    /// Size of the tmpfs at `/tmp`.
    pub tmp_mb: u64,
    /// Wall-clock limit; without it, `[jobs] timeout_secs`.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Disk a run's workspace may use: 10 GB by default, at most 50 GB unless `[sandbox.max]`
    /// says otherwise.
    #[serde(default)]
    pub disk_mb: Option<u64>,
}

/// A run's workspace disk limit when the policy names none.
pub const DEFAULT_DISK_MB: u64 = 10 * 1024;

impl Limits {
    fn default_limits() -> Self {
        Self {
            cpus: 1.0,
            memory_mb: 1024,
            pids: 256,
            tmp_mb: 256,
            timeout_secs: None,
            disk_mb: Some(DEFAULT_DISK_MB),
        }
    }
    fn default_max() -> Self {
        Self {
            cpus: 2.0,
            memory_mb: 4096,
            pids: 1024,
            tmp_mb: 1024,
            timeout_secs: Some(4 * 3600),
            disk_mb: Some(50 * 1024),
        }
    }

    fn over_defaults<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PartialLimits::deserialize(d)?.over(Self::default_limits()))
    }

    fn over_max<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PartialLimits::deserialize(d)?.over(Self::default_max()))
    }
}

/// A `[sandbox.defaults]` or `[sandbox.max]` table as written: the keys it leaves out keep
/// their defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialLimits {
    cpus: Option<f64>,
    memory_mb: Option<u64>,
    pids: Option<i64>,
    tmp_mb: Option<u64>,
    timeout_secs: Option<u64>,
    disk_mb: Option<u64>,
}

impl PartialLimits {
    fn over(self, base: Limits) -> Limits {
        Limits {
            cpus: self.cpus.unwrap_or(base.cpus),
            memory_mb: self.memory_mb.unwrap_or(base.memory_mb),
            pids: self.pids.unwrap_or(base.pids),
            tmp_mb: self.tmp_mb.unwrap_or(base.tmp_mb),
            timeout_secs: self.timeout_secs.or(base.timeout_secs),
            disk_mb: self.disk_mb.or(base.disk_mb),
        }
    }
}

/// The admin's `[sandbox]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxPolicy {
    /// Where runs go unless an agent's `sandbox: {runtime: …}` picks another.
    #[serde(default)]
    pub runtime: RuntimeKind,
    /// Other runtimes agents may pick (e.g. heavy agents on `kubernetes`, light ones on the
    /// bot's own `docker`).
    #[serde(default)]
    pub runtimes: Vec<RuntimeKind>,
    /// The image harnesses run in, unless an agent names another.
    #[serde(default = "default_image")]
    pub image: String,
    /// The command that builds a missing image, quoted when a job cannot find it.
    #[serde(default = "default_build_hint")]
    pub build_hint: String,
    /// Names this bot's containers, so instances sharing a Docker host leave each other alone.
    #[serde(default = "default_instance")]
    pub instance: String,
    /// `uid:gid` the harness runs as, both numbers; never root (`SandboxPolicy::problem`).
    #[serde(default = "default_user")]
    pub user: String,
    /// `host:port` of the model endpoint that network mode `model` can reach (the bot's model
    /// proxy); seen from the Docker host, `host.docker.internal` is the bot's machine.
    #[serde(default)]
    pub model_endpoint: Option<String>,
    #[serde(default)]
    pub network: NetworkMode,
    /// Each key left out of the table keeps its default (`Limits::default_limits`).
    #[serde(
        default = "Limits::default_limits",
        deserialize_with = "Limits::over_defaults"
    )]
    pub defaults: Limits,
    /// Each key left out keeps its default maximum (`Limits::default_max`): naming one cap
    /// never lifts the others.
    #[serde(default = "Limits::default_max", deserialize_with = "Limits::over_max")]
    pub max: Limits,
    /// Agents an admin approved for network mode `open`.
    #[serde(default)]
    pub open_network_agents: Vec<String>,
    /// Ranges `open` reaches although they are not public (an internal package mirror):
    /// CIDRs such as `"10.20.0.0/16"` or `"192.0.2.7/32"`.
    #[serde(default)]
    pub open_allow: Vec<ipnet::IpNet>,
    /// Ranges `open` never reaches although they are public: the bot host's public address
    /// where its interfaces do not show it (a bot in a container, 1:1 NAT).
    #[serde(default)]
    pub open_deny: Vec<ipnet::IpNet>,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl SandboxPolicy {
    /// Why the policy cannot be used, if it cannot: the harness must run as a numeric,
    /// non-root `uid:gid`.
    pub fn problem(&self) -> Option<String> {
        let ids: Vec<Option<u32>> = self.user.split(':').map(|p| p.parse().ok()).collect();
        match ids.as_slice() {
            [Some(uid), Some(gid)] if *uid != 0 && *gid != 0 => None,
            _ => Some(format!(
                "[sandbox] user = {:?}: harnesses run as a numeric `uid:gid` other than root (0), e.g. \"1000:1000\"",
                self.user
            )),
        }
    }
}

fn default_image() -> String {
    "threadwork/harness:dev".into()
}
fn default_build_hint() -> String {
    "bash docker/build-images.sh".into()
}
fn default_instance() -> String {
    "threadwork".into()
}
fn default_user() -> String {
    "1000:1000".into()
}

/// An agent's `sandbox:` block in its prompt file: each field overrides the admin default,
/// within the admin's maximum.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxOverride {
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub memory_mb: Option<u64>,
    #[serde(default)]
    pub pids: Option<i64>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub disk_mb: Option<u64>,
    #[serde(default)]
    pub network: Option<NetworkMode>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub runtime: Option<RuntimeKind>,
}

/// Everything the runtime needs to confine one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSpec {
    pub image: String,
    pub user: String,
    pub cpus: f64,
    pub memory_mb: u64,
    pub pids: i64,
    pub tmp_mb: u64,
    pub timeout: Duration,
    /// Disk the workspace may use while the run goes on.
    pub disk_mb: u64,
    pub network: NetworkMode,
    pub runtime: RuntimeKind,
    /// What `open` reaches beyond public addresses (`[sandbox] open_allow`).
    pub open_allow: Vec<ipnet::IpNet>,
    /// What `open` never reaches although public (`[sandbox] open_deny`).
    pub open_deny: Vec<ipnet::IpNet>,
}

impl Default for SandboxSpec {
    /// The admin defaults with a 30-minute limit.
    fn default() -> Self {
        resolve(
            &SandboxPolicy::default(),
            "",
            &SandboxOverride::default(),
            Duration::from_secs(1800),
        )
        .expect("the default policy allows its own defaults")
    }
}

impl SandboxSpec {
    /// One line for the card and the log: `1 CPU · 1024 MB · 256 pids · 30m · network none`.
    pub fn summary(&self) -> String {
        format!(
            "{} CPU · {} MB · {} pids · {}s · network {}",
            self.cpus,
            self.memory_mb,
            self.pids,
            self.timeout.as_secs(),
            self.network.label()
        )
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("agent `{agent}` asks for {field} = {asked} in its `sandbox:` block, over the admin's limit of {limit} (`[sandbox.max] {field}`)")]
    OverLimit {
        agent: String,
        field: &'static str,
        asked: String,
        limit: String,
    },
    #[error("agent `{agent}` asks for {field} = {asked} in its `sandbox:` block; it must be more than 0")]
    NotPositive {
        agent: String,
        field: &'static str,
        asked: String,
    },
    #[error("agent `{agent}` asks for network `open`, which an admin must approve: add it to `[sandbox] open_network_agents`")]
    OpenNotApproved { agent: String },
    #[error("agent `{agent}` runs with network `open`, which on Docker goes out through the bot's egress proxy on the model proxy's port, but no model proxy is configured (`[model]`, `[sandbox] model_endpoint`)")]
    OpenWithoutProxy { agent: String },
    #[error("agent `{agent}` runs with network `model`, but no model endpoint is configured (`[sandbox] model_endpoint`)")]
    NoModelEndpoint { agent: String },
    #[error("agent `{agent}` asks for runtime `{runtime}`, which this bot does not run: add it to `[sandbox] runtimes`")]
    RuntimeNotEnabled {
        agent: String,
        runtime: &'static str,
    },
}

/// The limits one run of `agent` gets.
pub fn resolve(
    policy: &SandboxPolicy,
    agent: &str,
    ask: &SandboxOverride,
    default_timeout: Duration,
) -> Result<SandboxSpec, PolicyError> {
    let d = &policy.defaults;
    let max = &policy.max;
    let over = |field, asked: String, limit: String| PolicyError::OverLimit {
        agent: agent.to_string(),
        field,
        asked,
        limit,
    };
    let not_positive = |field, asked: String| PolicyError::NotPositive {
        agent: agent.to_string(),
        field,
        asked,
    };

    let cpus = ask.cpus.unwrap_or(d.cpus);
    if cpus.is_nan() || cpus <= 0.0 {
        return Err(not_positive("cpus", cpus.to_string()));
    }
    if cpus > max.cpus {
        return Err(over("cpus", cpus.to_string(), max.cpus.to_string()));
    }
    let memory_mb = ask.memory_mb.unwrap_or(d.memory_mb);
    if memory_mb == 0 {
        return Err(not_positive("memory_mb", "0".into()));
    }
    if memory_mb > max.memory_mb {
        return Err(over(
            "memory_mb",
            memory_mb.to_string(),
            max.memory_mb.to_string(),
        ));
    }
    let pids = ask.pids.unwrap_or(d.pids);
    if pids <= 0 {
        return Err(not_positive("pids", pids.to_string()));
    }
    if pids > max.pids {
        return Err(over("pids", pids.to_string(), max.pids.to_string()));
    }
    let timeout_secs = ask
        .timeout_secs
        .or(d.timeout_secs)
        .unwrap_or(default_timeout.as_secs());
    if timeout_secs == 0 {
        return Err(not_positive("timeout_secs", "0".into()));
    }
    if let Some(limit) = max.timeout_secs.filter(|&l| timeout_secs > l) {
        return Err(over(
            "timeout_secs",
            timeout_secs.to_string(),
            limit.to_string(),
        ));
    }
    let disk_mb = ask.disk_mb.or(d.disk_mb).unwrap_or(DEFAULT_DISK_MB);
    if disk_mb == 0 {
        return Err(not_positive("disk_mb", "0".into()));
    }
    if let Some(limit) = max.disk_mb.filter(|&l| disk_mb > l) {
        return Err(over("disk_mb", disk_mb.to_string(), limit.to_string()));
    }
    let network = ask.network.unwrap_or(policy.network);
    match network {
        NetworkMode::Open if !policy.open_network_agents.iter().any(|a| a == agent) => {
            return Err(PolicyError::OpenNotApproved {
                agent: agent.to_string(),
            })
        }
        NetworkMode::Model if policy.model_endpoint.is_none() => {
            return Err(PolicyError::NoModelEndpoint {
                agent: agent.to_string(),
            })
        }
        _ => {}
    }
    let runtime = ask.runtime.unwrap_or(policy.runtime);
    if runtime != policy.runtime && !policy.runtimes.contains(&runtime) {
        return Err(PolicyError::RuntimeNotEnabled {
            agent: agent.to_string(),
            runtime: runtime.label(),
        });
    }
    // A Docker sandbox goes out through the bot's egress proxy, on the model proxy's port.
    if network == NetworkMode::Open
        && runtime == RuntimeKind::Docker
        && policy.model_endpoint.is_none()
    {
        return Err(PolicyError::OpenWithoutProxy {
            agent: agent.to_string(),
        });
    }
    Ok(SandboxSpec {
        image: ask.image.clone().unwrap_or_else(|| policy.image.clone()),
        user: policy.user.clone(),
        cpus,
        memory_mb,
        pids,
        tmp_mb: d.tmp_mb.min(max.tmp_mb),
        timeout: Duration::from_secs(timeout_secs),
        disk_mb,
        network,
        runtime,
        open_allow: policy.open_allow.clone(),
        open_deny: policy.open_deny.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1800);

    #[test]
    fn a_partial_limits_table_keeps_the_other_defaults_and_caps() {
        let p: SandboxPolicy =
            toml::from_str("[defaults]\nmemory_mb = 512\n[max]\ncpus = 4.0\n").unwrap();
        assert_eq!(p.defaults.memory_mb, 512);
        assert_eq!(p.defaults.cpus, Limits::default_limits().cpus);
        assert_eq!(p.max.cpus, 4.0);
        // Naming one cap does not lift the others.
        assert_eq!(p.max.timeout_secs, Some(4 * 3600));
        assert_eq!(p.max.disk_mb, Some(50 * 1024));
        assert!(toml::from_str::<SandboxPolicy>("[max]\ncpu = 4.0\n").is_err());
    }

    #[test]
    fn harnesses_never_run_as_root() {
        let with = |user: &str| SandboxPolicy {
            user: user.into(),
            ..SandboxPolicy::default()
        };
        assert_eq!(with("1000:1000").problem(), None);
        for bad in ["0:0", "0:1000", "1000:0", "root", "1000", ""] {
            assert!(with(bad).problem().is_some(), "{bad}");
        }
        let e = crate::config::Config::parse("t.toml", "[sandbox]\nuser = \"0:0\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("other than root"), "{e}");
    }

    #[test]
    fn defaults_apply_without_a_request() {
        let spec = resolve(
            &SandboxPolicy::default(),
            "a",
            &SandboxOverride::default(),
            T,
        )
        .unwrap();
        assert_eq!(spec.cpus, 1.0);
        assert_eq!(spec.memory_mb, 1024);
        assert_eq!(spec.pids, 256);
        assert_eq!(spec.timeout, T);
        assert_eq!(spec.network, NetworkMode::None);
        assert_eq!(spec.user, "1000:1000");
        assert_eq!(spec.image, "threadwork/harness:dev");
    }

    #[test]
    fn agent_overrides_within_the_maximum() {
        let ask = SandboxOverride {
            memory_mb: Some(2048),
            timeout_secs: Some(60),
            image: Some("x:1".into()),
            ..Default::default()
        };
        let spec = resolve(&SandboxPolicy::default(), "a", &ask, T).unwrap();
        assert_eq!(spec.memory_mb, 2048);
        assert_eq!(spec.timeout, Duration::from_secs(60));
        assert_eq!(spec.image, "x:1");
    }

    #[test]
    fn over_the_maximum_is_refused_with_the_field_and_limit() {
        let ask = SandboxOverride {
            memory_mb: Some(8192),
            ..Default::default()
        };
        let err = resolve(&SandboxPolicy::default(), "big", &ask, T).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("memory_mb = 8192"), "{text}");
        assert!(text.contains("4096"), "{text}");
        assert!(text.contains("`big`"), "{text}");
        let ask = SandboxOverride {
            pids: Some(0),
            ..Default::default()
        };
        assert!(matches!(
            resolve(&SandboxPolicy::default(), "a", &ask, T),
            Err(PolicyError::NotPositive { field: "pids", .. })
        ));
    }

    #[test]
    fn agents_pick_only_enabled_runtimes() {
        let mut policy = SandboxPolicy::default();
        let ask = SandboxOverride {
            runtime: Some(RuntimeKind::Kubernetes),
            ..Default::default()
        };
        assert_eq!(
            resolve(&policy, "heavy", &ask, T),
            Err(PolicyError::RuntimeNotEnabled {
                agent: "heavy".into(),
                runtime: "kubernetes"
            })
        );
        policy.runtimes = vec![RuntimeKind::Kubernetes];
        assert_eq!(
            resolve(&policy, "heavy", &ask, T).unwrap().runtime,
            RuntimeKind::Kubernetes
        );
        assert_eq!(
            resolve(&policy, "light", &SandboxOverride::default(), T)
                .unwrap()
                .runtime,
            RuntimeKind::Docker
        );
    }

    #[test]
    fn open_network_needs_admin_approval() {
        let ask = SandboxOverride {
            network: Some(NetworkMode::Open),
            ..Default::default()
        };
        let mut policy = SandboxPolicy::default();
        assert_eq!(
            resolve(&policy, "web", &ask, T),
            Err(PolicyError::OpenNotApproved {
                agent: "web".into()
            })
        );
        policy.open_network_agents.push("web".into());
        // On Docker the way out is the egress proxy on the model proxy's port.
        assert_eq!(
            resolve(&policy, "web", &ask, T),
            Err(PolicyError::OpenWithoutProxy {
                agent: "web".into()
            })
        );
        policy.model_endpoint = Some("host.docker.internal:8080".into());
        policy.open_allow = vec!["10.20.0.0/16".parse().unwrap()];
        let spec = resolve(&policy, "web", &ask, T).unwrap();
        assert_eq!(spec.network, NetworkMode::Open);
        assert_eq!(spec.open_allow, policy.open_allow);
        // A Kubernetes run goes out directly, fenced by its NetworkPolicy.
        policy.model_endpoint = None;
        policy.runtime = RuntimeKind::Kubernetes;
        assert_eq!(
            resolve(&policy, "web", &ask, T).unwrap().network,
            NetworkMode::Open
        );
    }

    #[test]
    fn a_bad_open_allow_range_is_named() {
        let e = toml::from_str::<SandboxPolicy>(r#"open_allow = ["10.0.0.0/33"]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("open_allow") && e.contains("10.0.0.0/33"), "{e}");
    }

    #[test]
    fn model_network_needs_an_endpoint() {
        let ask = SandboxOverride {
            network: Some(NetworkMode::Model),
            ..Default::default()
        };
        let mut policy = SandboxPolicy::default();
        assert!(matches!(
            resolve(&policy, "a", &ask, T),
            Err(PolicyError::NoModelEndpoint { .. })
        ));
        policy.model_endpoint = Some("host.docker.internal:8080".into());
        assert_eq!(
            resolve(&policy, "a", &ask, T).unwrap().network,
            NetworkMode::Model
        );
    }
}
