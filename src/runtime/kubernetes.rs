//! The `kubernetes` runtime: one Kubernetes Job per run, through `kube` and `k8s-openapi`,
//! behind the same `Runtime` trait as `docker`.
//!
//! A run is two objects, both labelled with job, agent and instance:
//! - a NetworkPolicy denying all egress (network `none`) or all but the bot's model proxy and
//!   DNS (network `model`), and all ingress;
//! - the Job: `backoffLimit: 0`, `activeDeadlineSeconds` from the timeout (plus the time to
//!   move the workspace), `ttlSecondsAfterFinished`, non-root, read-only root, all
//!   capabilities dropped, `seccompProfile: RuntimeDefault`, requests = limits, no
//!   service-account token.
//!
//! The workspace goes in and comes back through the API server, streamed (`transfer`): the bot
//! attaches to the init container's stdin and writes a tar.gz of the checkout (without `.git`:
//! the history and the Git token stay with the bot) into the `emptyDir` at `/workspace`. The
//! harness's stdout comes from the pod log (followed). When the harness exits, the container's
//! wrapper prints a marker line and the harness's stderr, then waits: the bot runs `tar` in
//! the container (`exec`) to copy the workspace back, unpacks it (for the PR flow), and lets
//! the container end. The object builders are pure (`objects`); the contract tests check them
//! on the wire.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, Pod, PodSecurityContext, PodSpec,
    PodTemplateSpec, ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams, PropagationPolicy};
use kube::Api;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use super::open::OPEN_EXCEPT;
use super::{
    Exit, Launch, Leftover, NetworkMode, RunHandle, Runtime, RuntimeError, SandboxSpec, Spawned,
    LABEL_AGENT, LABEL_INSTANCE, LABEL_JOB,
};

pub mod transfer;

/// The line the wrapper prints when the harness has ended and the workspace may be copied
/// back; the harness's stderr follows the second one.
pub const WORKSPACE_MARK: &str = "@@threadwork-workspace@@";
pub const STDERR_MARK: &str = "@@threadwork-stderr@@";

/// Seconds a pod gives the bot, beyond the run's own time limit, to send the workspace in and
/// copy it back (the wrapper waits at most 10 minutes for the copy; a restarted bot can still
/// collect it then).
pub const TRANSFER_WINDOW_SECS: u64 = 900;

/// Most bytes of one line of a pod's own output kept (the harness cuts lines shorter still).
const MAX_OUTPUT_LINE: usize = 1024 * 1024;

/// `[kubernetes]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeSettings {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The API server; without it, the in-cluster config or the kubeconfig.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Labels of the bot's pods, which serve the model proxy (egress peer for `model`).
    #[serde(default = "default_proxy_labels")]
    pub proxy_labels: BTreeMap<String, String>,
    /// The port of the bot's model proxy, on its pods and on the Service: the `[model]
    /// listen` port unless set (`Config::fill_defaults`), 8080 without a `[model]` table.
    #[serde(default)]
    pub proxy_port: Option<i32>,
    /// The Service in front of the bot's model proxy (`deploy/`), as the pods resolve it.
    #[serde(default = "default_proxy_service")]
    pub proxy_service: String,
    /// Seconds a finished Job stays for inspection before Kubernetes deletes it.
    #[serde(default = "default_ttl")]
    pub ttl_secs: i32,
    /// The bot's own namespace, when sandboxes run in another (`namespace`): the `model`
    /// policy then admits the proxy's pods in that namespace only.
    #[serde(default)]
    pub bot_namespace: Option<String>,
    /// Where the cluster's DNS pods run, and their labels: the only DNS a sandbox may ask.
    #[serde(default = "default_dns_namespace")]
    pub dns_namespace: String,
    #[serde(default = "default_dns_labels")]
    pub dns_labels: BTreeMap<String, String>,
    /// When nodes pull a sandbox image: `Always`, `IfNotPresent` or `Never`; unset, Kubernetes'
    /// own rule (`Always` for `:latest` or no tag, else `IfNotPresent`).
    #[serde(default)]
    pub image_pull_policy: Option<PullPolicy>,
}

/// A container's `imagePullPolicy`, spelt as Kubernetes spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }

    /// The policy a node applies to `image`: the configured one, else Kubernetes' default.
    pub fn effective(configured: Option<PullPolicy>, image: &str) -> PullPolicy {
        configured.unwrap_or_else(|| {
            if image.contains('@') {
                return PullPolicy::IfNotPresent;
            }
            let last = image.rsplit('/').next().unwrap_or(image);
            match last.split_once(':') {
                Some((_, "latest")) | None => PullPolicy::Always,
                Some(_) => PullPolicy::IfNotPresent,
            }
        })
    }
}

impl Default for KubeSettings {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

fn default_namespace() -> String {
    "threadwork".into()
}
fn default_proxy_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".into(), "threadwork".into())])
}
impl KubeSettings {
    pub fn proxy_port(&self) -> i32 {
        self.proxy_port.unwrap_or(8080)
    }
}
fn default_proxy_service() -> String {
    "threadwork-model".into()
}
fn default_ttl() -> i32 {
    600
}
fn default_dns_namespace() -> String {
    "kube-system".into()
}
fn default_dns_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("k8s-app".into(), "kube-dns".into())])
}

fn selector(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.clone()),
        ..Default::default()
    }
}

fn namespace_named(ns: &str) -> LabelSelector {
    selector(&BTreeMap::from([(
        "kubernetes.io/metadata.name".to_string(),
        ns.to_string(),
    )]))
}

/// The sandbox's egress rules for `mode`: DNS only to the cluster's DNS pods, and then the
/// proxy (`model`) or the public internet (`open`); nothing for `none`.
fn egress_rules(
    mode: NetworkMode,
    spec: &SandboxSpec,
    settings: &KubeSettings,
) -> Vec<NetworkPolicyEgressRule> {
    let port = |n: i32, protocol: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(n)),
        protocol: Some(protocol.into()),
        ..Default::default()
    };
    let dns = NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(namespace_named(&settings.dns_namespace)),
            pod_selector: Some(selector(&settings.dns_labels)),
            ..Default::default()
        }]),
        ports: Some(vec![port(53, "UDP"), port(53, "TCP")]),
    };
    match mode {
        NetworkMode::None => vec![],
        NetworkMode::Model => vec![
            NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(&settings.proxy_labels)),
                    namespace_selector: settings.bot_namespace.as_deref().map(namespace_named),
                    ..Default::default()
                }]),
                ports: Some(vec![port(settings.proxy_port(), "TCP")]),
            },
            // The proxy is reached by its Service name.
            dns,
        ],
        NetworkMode::Open => {
            // `open_deny`'s IPv4 ranges close more of the internet.
            let denied = spec
                .open_deny
                .iter()
                .filter(|n| matches!(n, ipnet::IpNet::V4(_)))
                .map(|n| n.to_string());
            let public = NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: "0.0.0.0/0".into(),
                    except: Some(
                        OPEN_EXCEPT
                            .iter()
                            .map(|c| c.to_string())
                            .chain(denied)
                            .collect(),
                    ),
                }),
                ..Default::default()
            };
            // The admin's ranges (`[sandbox] open_allow`), private ones included, but never
            // loopback, link-local, metadata or a denied range inside them.
            let allowed = spec.open_allow.iter().filter_map(|net| {
                let closed: Vec<String> = super::open::closed_within(net, &spec.open_deny)?
                    .iter()
                    .map(|n| n.to_string())
                    .collect();
                Some(NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: net.to_string(),
                        except: (!closed.is_empty()).then_some(closed),
                    }),
                    ..Default::default()
                })
            });
            vec![
                dns,
                NetworkPolicyEgressRule {
                    to: Some(std::iter::once(public).chain(allowed).collect()),
                    ports: None,
                },
            ]
        }
    }
}

/// The objects of one run.
pub struct Objects {
    pub policy: Option<NetworkPolicy>,
    pub job: Job,
}

pub fn run_name(instance: &str, job_id: u64) -> String {
    format!("threadwork-{instance}-job-{job_id}")
}

fn labels(launch: &Launch, instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_JOB.to_string(), launch.job_id.to_string()),
        (LABEL_AGENT.to_string(), launch.agent.clone()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
    ])
}

/// `uid:gid` → numbers (the policy never allows root).
fn ids(user: &str) -> (i64, i64) {
    let mut parts = user.split(':');
    let uid = parts.next().and_then(|u| u.parse().ok()).unwrap_or(1000);
    let gid = parts.next().and_then(|g| g.parse().ok()).unwrap_or(uid);
    (uid, gid)
}

/// The wrapper the main container runs (as PID 1): the harness, held to its time limit here
/// too (the bot may be down), with its stderr kept aside; then whatever it left running is
/// killed (nothing may change the workspace while it is copied, nor fake the flag), the
/// marker and the stderr are printed, and it waits (at most 10 minutes) for the bot's copy.
/// The harness's exit status is the container's.
const WRAPPER: &str = r#"limit=$1; input=$2; shift 2
if command -v timeout >/dev/null 2>&1; then timeout -s KILL "$limit" "$@"; else "$@"; fi <"$input" 2>/tmp/.threadwork-stderr
rc=$?
kill -9 -1 2>/dev/null
rm -f /tmp/.threadwork-collected
printf '\n%s\n' '@@threadwork-workspace@@'
printf '%s\n' '@@threadwork-stderr@@'
tail -c 65536 /tmp/.threadwork-stderr
n=0
while [ ! -e /tmp/.threadwork-collected ] && [ $n -lt 3000 ]; do sleep 0.2; n=$((n+1)); done
exit $rc"#;

/// Builds the run's objects (pure).
pub fn objects(launch: &Launch, instance: &str, settings: &KubeSettings) -> Objects {
    let name = run_name(instance, launch.job_id);
    let labels = labels(launch, instance);
    let meta = |name: String| ObjectMeta {
        name: Some(name),
        namespace: Some(settings.namespace.clone()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let spec: &SandboxSpec = &launch.spec;
    let (uid, gid) = ids(&spec.user);
    // Every mode: nothing reaches the pod (the bot reads its logs through the API server),
    // and it reaches only what its mode allows.
    let policy = Some(NetworkPolicy {
        metadata: meta(format!("{name}-net")),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([
                    (LABEL_JOB.to_string(), launch.job_id.to_string()),
                    (LABEL_INSTANCE.to_string(), instance.to_string()),
                ])),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![]),
            egress: Some(egress_rules(spec.network, spec, settings)),
        }),
    });
    let quantity = |s: String| Quantity(s);
    let resources = BTreeMap::from([
        (
            "cpu".to_string(),
            quantity(format!("{}m", (spec.cpus * 1000.0) as i64)),
        ),
        (
            "memory".to_string(),
            quantity(format!("{}Mi", spec.memory_mb)),
        ),
    ]);
    let container_security = SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(gid),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mounts = vec![
        VolumeMount {
            name: "workspace".into(),
            mount_path: "/workspace".into(),
            ..Default::default()
        },
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..Default::default()
        },
    ];
    let mut command = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        WRAPPER.to_string(),
        "threadwork".to_string(),
        spec.timeout.as_secs().max(1).to_string(),
        launch.stdin.clone().unwrap_or_else(|| "/dev/null".into()),
        launch.program.clone(),
    ];
    command.extend(launch.args.iter().cloned());
    let pull = settings.image_pull_policy.map(|p| p.as_str().to_string());
    let main = Container {
        name: "harness".into(),
        image: Some(spec.image.clone()),
        image_pull_policy: pull.clone(),
        command: Some(command),
        working_dir: Some("/workspace".into()),
        env: Some(
            launch
                .env
                .iter()
                .map(|(k, v)| EnvVar {
                    name: k.clone(),
                    value: Some(v.clone()),
                    ..Default::default()
                })
                .collect(),
        ),
        resources: Some(ResourceRequirements {
            requests: Some(resources.clone()),
            limits: Some(resources),
            ..Default::default()
        }),
        security_context: Some(container_security.clone()),
        volume_mounts: Some(mounts.clone()),
        ..Default::default()
    };
    // Reads the workspace the bot streams in (`transfer::send`); ends at end of input.
    let init = Container {
        name: transfer::INIT_CONTAINER.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: pull,
        command: Some(vec![
            "tar".into(),
            "-xzf".into(),
            "-".into(),
            "-C".into(),
            "/workspace".into(),
        ]),
        stdin: Some(true),
        stdin_once: Some(true),
        resources: main.resources.clone(),
        security_context: Some(container_security),
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    let job = Job {
        metadata: meta(name.clone()),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(
                (spec.timeout.as_secs().max(1) + TRANSFER_WINDOW_SECS) as i64,
            ),
            ttl_seconds_after_finished: Some(settings.ttl_secs),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(uid),
                        run_as_group: Some(gid),
                        fs_group: Some(gid),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    init_containers: Some(vec![init]),
                    containers: vec![main],
                    volumes: Some(vec![
                        Volume {
                            name: "workspace".into(),
                            // The kubelet evicts a pod whose workspace outgrows its limit.
                            empty_dir: Some(EmptyDirVolumeSource {
                                medium: None,
                                size_limit: Some(Quantity(format!("{}Mi", spec.disk_mb))),
                            }),
                            ..Default::default()
                        },
                        Volume {
                            name: "tmp".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                medium: Some("Memory".into()),
                                size_limit: Some(Quantity(format!("{}Mi", spec.tmp_mb))),
                            }),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    Objects { policy, job }
}

/// The next line of `reader` without its newline, at most `max` bytes of it kept (`true`: the
/// rest was skipped); `None` at the end.
async fn next_line<R: futures::AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    use futures::AsyncBufReadExt;
    let mut line = Vec::new();
    let mut cut = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty() || cut).then_some((line, cut)));
        }
        let newline = buf.iter().position(|b| *b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        let room = max.saturating_sub(line.len());
        cut |= chunk.len() > room;
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(buf.len(), |i| i + 1);
        reader.consume_unpin(used);
        if newline.is_some() {
            return Ok(Some((line, cut)));
        }
    }
}

/// Why a pod is not running yet, in words, or `None` while it may still start.
pub fn pending_problem(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    for c in status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
    {
        if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or_default();
            if matches!(
                reason,
                "ErrImagePull"
                    | "ImagePullBackOff"
                    | "InvalidImageName"
                    | "CreateContainerConfigError"
                    | "CreateContainerError"
            ) {
                return Some(format!(
                    "{reason}: {}",
                    w.message.as_deref().unwrap_or("the container cannot start")
                ));
            }
        }
    }
    for cond in status.conditions.iter().flatten() {
        if cond.type_ == "PodScheduled"
            && cond.status == "False"
            && cond.reason.as_deref() == Some("Unschedulable")
        {
            return Some(format!(
                "unschedulable: {}",
                cond.message.as_deref().unwrap_or("no node fits the pod")
            ));
        }
    }
    None
}

/// Where the init container that receives the workspace is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitState {
    /// Not started yet.
    Waiting,
    /// Running: reading the workspace from its stdin.
    Receiving,
    /// Unpacked; the harness starts.
    Done,
    /// Ended badly, in words.
    Failed(String),
}

pub fn init_state(pod: &Pod) -> InitState {
    let Some(c) = pod
        .status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == transfer::INIT_CONTAINER))
    else {
        return InitState::Waiting;
    };
    let Some(state) = c.state.as_ref() else {
        return InitState::Waiting;
    };
    if state.running.is_some() {
        return InitState::Receiving;
    }
    match &state.terminated {
        Some(t) if t.exit_code == 0 => InitState::Done,
        Some(t) => InitState::Failed(format!(
            "the workspace could not be unpacked in the pod (exit {}{})",
            t.exit_code,
            [t.reason.as_deref(), t.message.as_deref()]
                .into_iter()
                .flatten()
                .map(|m| format!(": {m}"))
                .collect::<String>()
        )),
        None => InitState::Waiting,
    }
}

/// The size limit of the pod's workspace volume in MiB (a restarted bot reads it there).
pub fn workspace_limit_mb(pod: &Pod) -> Option<u64> {
    let volume = pod
        .spec
        .as_ref()?
        .volumes
        .as_ref()?
        .iter()
        .find(|v| v.name == "workspace")?;
    let limit = &volume.empty_dir.as_ref()?.size_limit.as_ref()?.0;
    limit.strip_suffix("Mi")?.parse().ok()
}

/// How the harness container ended, once it has (exit code, OOM).
pub fn terminated(pod: &Pod) -> Option<Exit> {
    let status = pod.status.as_ref()?;
    let main = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == "harness")?;
    let t = main.state.as_ref()?.terminated.as_ref()?;
    Some(Exit {
        code: Some(i64::from(t.exit_code)),
        oom_killed: t.reason.as_deref() == Some("OOMKilled"),
    })
}

pub struct KubernetesRuntime {
    settings: KubeSettings,
    instance: String,
    client: OnceCell<kube::Client>,
    /// Set by a graceful stop: Jobs are left for the next process, not deleted.
    leaving: Arc<AtomicBool>,
}

/// What the bot does in the sandbox namespace, as (verb, API group, resource, subresource):
/// exactly the Role in `deploy/kubernetes`.
/// `pods/attach` and `pods/exec` move the workspace in and out; over WebSockets the API server
/// checks `get` on them (older servers) or `create` (newer), so both are asked for.
pub const NEEDED_PERMISSIONS: [(&str, &str, &str, &str); 13] = [
    ("create", "batch", "jobs", ""),
    ("get", "batch", "jobs", ""),
    ("list", "batch", "jobs", ""),
    ("delete", "batch", "jobs", ""),
    ("get", "", "pods", ""),
    ("list", "", "pods", ""),
    ("get", "", "pods", "log"),
    ("create", "", "pods", "attach"),
    ("get", "", "pods", "attach"),
    ("create", "", "pods", "exec"),
    ("get", "", "pods", "exec"),
    ("create", "networking.k8s.io", "networkpolicies", ""),
    ("delete", "networking.k8s.io", "networkpolicies", ""),
];

impl KubernetesRuntime {
    pub fn new(settings: KubeSettings, instance: &str) -> Self {
        Self {
            settings,
            instance: instance.to_string(),
            client: OnceCell::new(),
            leaving: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn client(&self) -> Result<kube::Client, RuntimeError> {
        self.client
            .get_or_try_init(|| async {
                let config = match &self.settings.api_url {
                    Some(url) => {
                        let uri = url.parse().map_err(|e| {
                            RuntimeError::Unreachable(format!("bad [kubernetes] api_url: {e}"))
                        })?;
                        kube::Config::new(uri)
                    }
                    None => kube::Config::infer().await.map_err(|e| {
                        RuntimeError::Unreachable(format!("no cluster config: {e}"))
                    })?,
                };
                // As kubectl does: the kubeconfig's `proxy-url`, else the proxy variables every
                // other client of the bot follows (`NO_PROXY` included).
                let mut config = config;
                if config.proxy_url.is_none() {
                    config.proxy_url = crate::net::outbound().proxy_url_for(&config.cluster_url);
                }
                kube::Client::try_from(config).map_err(|e| RuntimeError::Unreachable(e.to_string()))
            })
            .await
            .cloned()
    }

    fn ns(&self) -> &str {
        &self.settings.namespace
    }

    /// The permissions the bot needs in the sandbox namespace that the cluster does not give
    /// it, asked of the API server itself (`SelfSubjectAccessReview`, which any identity may
    /// make): `verb resource` each, empty when all are there.
    pub async fn missing_permissions(&self) -> Result<Vec<String>, RuntimeError> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let client = self.client().await?;
        let reviews: Api<SelfSubjectAccessReview> = Api::all(client);
        let mut missing = Vec::new();
        for (verb, group, resource, subresource) in NEEDED_PERMISSIONS {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(self.ns().to_string()),
                        verb: Some(verb.to_string()),
                        group: Some(group.to_string()),
                        resource: Some(resource.to_string()),
                        subresource: (!subresource.is_empty()).then(|| subresource.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = reviews
                .create(&PostParams::default(), &review)
                .await
                .map_err(refused)?;
            if !answer.status.is_some_and(|s| s.allowed) {
                let what = if subresource.is_empty() {
                    resource.to_string()
                } else {
                    format!("{resource}/{subresource}")
                };
                missing.push(format!("{verb} {what}"));
            }
        }
        Ok(missing)
    }

    async fn delete_run(&self, client: &kube::Client, name: &str) {
        delete_objects(client, self.ns(), name).await;
    }

    /// Waits until the run's pod is `ready` (or says why it cannot get there): the pod's name.
    async fn wait_pod(
        &self,
        client: &kube::Client,
        name: &str,
        what: &str,
        ready: impl Fn(&Pod) -> Result<bool, String>,
    ) -> Result<String, RuntimeError> {
        let pods = Api::<Pod>::namespaced(client.clone(), self.ns());
        let lp = ListParams::default().labels(&format!("job-name={name}"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            let list = pods.list(&lp).await.map_err(refused)?;
            if let Some(pod) = list.items.first() {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                if let Some(problem) = pending_problem(pod) {
                    return Err(RuntimeError::Refused(format!("pod {pod_name}: {problem}")));
                }
                match ready(pod) {
                    Ok(true) => return Ok(pod_name),
                    Ok(false) => {}
                    Err(problem) => {
                        return Err(RuntimeError::Refused(format!("pod {pod_name}: {problem}")))
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(RuntimeError::Refused(format!(
                    "the pod of {name} did not {what} within 5 minutes"
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Creates nothing: waits for the pod's init container, streams the workspace into it,
    /// and waits until the harness has started. The pod's name.
    async fn deliver_workspace(
        &self,
        client: &kube::Client,
        name: &str,
        workspace: &Path,
    ) -> Result<String, RuntimeError> {
        let pod = self
            .wait_pod(client, name, "take the workspace", |p| {
                match init_state(p) {
                    InitState::Receiving => Ok(true),
                    InitState::Waiting => Ok(false),
                    InitState::Done => {
                        Err("the init container ended before the workspace came".into())
                    }
                    InitState::Failed(problem) => Err(problem),
                }
            })
            .await?;
        let pods = Api::<Pod>::namespaced(client.clone(), self.ns());
        transfer::send(&pods, &pod, workspace).await?;
        self.wait_pod(client, name, "start", |p| {
            if let InitState::Failed(problem) = init_state(p) {
                return Err(problem);
            }
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            Ok(matches!(phase, Some("Running" | "Succeeded" | "Failed")))
        })
        .await
    }

    /// The harness's output from the pod log (followed from the start), split at the
    /// wrapper's markers: stdout lines, then (the harness has ended) the workspace copied back
    /// into `workspace` while the stderr lines follow.
    async fn follow_pod(
        &self,
        client: &kube::Client,
        name: &str,
        pod: &str,
        workspace: &Path,
        disk_mb: u64,
    ) -> Result<Spawned, RuntimeError> {
        let ns = self.ns();
        let pods = Api::<Pod>::namespaced(client.clone(), ns);
        let lp = LogParams {
            container: Some("harness".into()),
            follow: true,
            ..Default::default()
        };
        let logs = pods.log_stream(pod, &lp).await.map_err(refused)?;
        let (mut out_w, out_r) = tokio::io::duplex(64 * 1024);
        let (mut err_w, err_r) = tokio::io::duplex(64 * 1024);
        let workspace = workspace.to_path_buf();
        let (restored_tx, restored_rx) = tokio::sync::oneshot::channel();
        let pods = pods.clone();
        let collector = (
            pods.clone(),
            pod.to_string(),
            client.clone(),
            ns.to_string(),
            name.to_string(),
        );
        tokio::spawn(async move {
            let mut logs = logs;
            let mut section = 0; // 0: harness stdout, 1: between the markers, 2: stderr
            let mut collecting = None;
            // Every line is bounded as it is read: a pod printing without newlines cannot
            // take the bot's memory.
            while let Ok(Some((bytes, _cut))) = next_line(&mut logs, MAX_OUTPUT_LINE).await {
                let line = String::from_utf8_lossy(&bytes);
                match (section, line.as_ref()) {
                    (0, WORKSPACE_MARK) => {
                        // The harness has ended and the container waits for the copy.
                        let (pods, pod, client, ns, name) = collector.clone();
                        let workspace = workspace.clone();
                        collecting = Some(tokio::spawn(async move {
                            let copied = transfer::collect(&pods, &pod, &workspace, disk_mb).await;
                            if copied.is_err() {
                                // The container would wait out its window for a copy that is
                                // not coming: end the run now, with the reason.
                                delete_objects(&client, &ns, &name).await;
                            }
                            copied
                        }));
                        section = 1;
                    }
                    (0, l) => {
                        let _ = out_w.write_all(format!("{l}\n").as_bytes()).await;
                    }
                    (1, STDERR_MARK) => section = 2,
                    (1, _) => {}
                    (_, l) => {
                        let _ = err_w.write_all(format!("{l}\n").as_bytes()).await;
                    }
                }
            }
            let restored = match collecting {
                Some(task) => task.await.unwrap_or_else(|e| {
                    Err(RuntimeError::Refused(format!(
                        "copying the workspace back failed: {e}"
                    )))
                }),
                // The harness never got to its end (killed, or the pod was gone).
                None => Ok(false),
            };
            let _ = restored_tx.send(restored);
        });
        Ok(Spawned {
            stdout: Box::new(out_r),
            stderr: Box::new(err_r),
            handle: Box::new(KubeHandle {
                client: client.clone(),
                runtime: RunRef {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    pod: pod.to_string(),
                },
                restored: Some(restored_rx),
                removed: false,
                leaving: self.leaving.clone(),
            }),
        })
    }
}

fn refused(e: kube::Error) -> RuntimeError {
    match e {
        kube::Error::Api(status) => RuntimeError::Refused(format!(
            "the Kubernetes API answered {}: {}",
            status.code, status.message
        )),
        other => RuntimeError::Unreachable(other.to_string()),
    }
}

#[async_trait::async_trait]
impl Runtime for KubernetesRuntime {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn workspace_in_sandbox(&self, _host: &Path, _spec: &SandboxSpec) -> std::path::PathBuf {
        "/workspace".into()
    }

    fn model_address(&self, _spec: &SandboxSpec) -> Option<String> {
        // The proxy's Service lives with the bot, which may be apart from the sandboxes.
        let ns = self
            .settings
            .bot_namespace
            .as_deref()
            .unwrap_or(&self.settings.namespace);
        Some(format!(
            "{}.{ns}.svc:{}",
            self.settings.proxy_service,
            self.settings.proxy_port()
        ))
    }

    fn image_of(&self, spec: &SandboxSpec) -> Option<String> {
        Some(spec.image.clone())
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        let client = self.client().await?;
        client
            .apiserver_version()
            .await
            .map(|_| ())
            .map_err(refused)
    }

    async fn spawn(&self, launch: Launch) -> Result<Spawned, RuntimeError> {
        let client = self.client().await?;
        let name = run_name(&self.instance, launch.job_id);
        let objects = objects(&launch, &self.instance, &self.settings);
        let ns = self.ns();
        // A run of the same job left by a crash goes first.
        self.delete_run(&client, &name).await;
        let pp = PostParams::default();
        if let Some(policy) = &objects.policy {
            if let Err(e) = Api::<NetworkPolicy>::namespaced(client.clone(), ns)
                .create(&pp, policy)
                .await
            {
                self.delete_run(&client, &name).await;
                return Err(refused(e));
            }
        }
        if let Err(e) = Api::<Job>::namespaced(client.clone(), ns)
            .create(&pp, &objects.job)
            .await
        {
            self.delete_run(&client, &name).await;
            return Err(refused(e));
        }
        let pod = match self
            .deliver_workspace(&client, &name, &launch.workspace)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                self.delete_run(&client, &name).await;
                return Err(e);
            }
        };
        match self
            .follow_pod(&client, &name, &pod, &launch.workspace, launch.spec.disk_mb)
            .await
        {
            Ok(spawned) => Ok(spawned),
            Err(e) => {
                self.delete_run(&client, &name).await;
                Err(e)
            }
        }
    }

    async fn attach(
        &self,
        leftover: &Leftover,
        workspace: &Path,
    ) -> Result<Option<Spawned>, RuntimeError> {
        let client = self.client().await?;
        let pods = Api::<Pod>::namespaced(client.clone(), self.ns());
        let lp = ListParams::default().labels(&format!("job-name={}", leftover.name));
        let list = pods.list(&lp).await.map_err(refused)?;
        let Some(pod) = list.items.first() else {
            return Ok(None);
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        // A pod still waiting for its workspace cannot tell how much of it came: start over.
        if !matches!(init_state(pod), InitState::Done) {
            self.delete_run(&client, &leftover.name).await;
            return Ok(None);
        }
        let disk_mb = workspace_limit_mb(pod).unwrap_or(super::policy::DEFAULT_DISK_MB);
        self.follow_pod(&client, &leftover.name, &pod_name, workspace, disk_mb)
            .await
            .map(Some)
    }

    fn leave_runs(&self) {
        self.leaving.store(true, Ordering::SeqCst);
    }

    async fn leftovers(&self) -> Result<Vec<Leftover>, RuntimeError> {
        let client = self.client().await?;
        let lp = ListParams::default()
            .labels(&format!("{LABEL_INSTANCE}={},{LABEL_JOB}", self.instance));
        let jobs = Api::<Job>::namespaced(client, self.ns())
            .list(&lp)
            .await
            .map_err(refused)?;
        Ok(jobs
            .items
            .into_iter()
            .map(|j| {
                let labels = j.metadata.labels.unwrap_or_default();
                Leftover {
                    runtime: super::policy::RuntimeKind::Kubernetes,
                    name: j.metadata.name.unwrap_or_default(),
                    job_id: labels.get(LABEL_JOB).and_then(|v| v.parse().ok()),
                    agent: labels.get(LABEL_AGENT).cloned(),
                }
            })
            .collect())
    }

    async fn remove(&self, leftover: &Leftover) -> Result<(), RuntimeError> {
        let client = self.client().await?;
        self.delete_run(&client, &leftover.name).await;
        Ok(())
    }
}

struct RunRef {
    namespace: String,
    name: String,
    pod: String,
}

struct KubeHandle {
    client: kube::Client,
    runtime: RunRef,
    restored: Option<tokio::sync::oneshot::Receiver<Result<bool, RuntimeError>>>,
    removed: bool,
    /// The bot is stopping gracefully: the Job goes on for the next process.
    leaving: Arc<AtomicBool>,
}

/// Deletes a run's Job (foreground: its pod goes first) and policy; what is already gone is
/// fine.
async fn delete_objects(client: &kube::Client, ns: &str, name: &str) {
    let foreground = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    let _ = Api::<Job>::namespaced(client.clone(), ns)
        .delete(name, &foreground)
        .await;
    let _ = Api::<NetworkPolicy>::namespaced(client.clone(), ns)
        .delete(&format!("{name}-net"), &DeleteParams::default())
        .await;
}

#[async_trait::async_trait]
impl RunHandle for KubeHandle {
    async fn wait(&mut self) -> Result<Exit, RuntimeError> {
        // The log ends when the container does; the workspace is back by then.
        if let Some(rx) = self.restored.take() {
            if let Ok(Err(e)) = rx.await {
                return Err(e);
            }
        }
        let pods = Api::<Pod>::namespaced(self.client.clone(), &self.runtime.namespace);
        for _ in 0..120 {
            let pod = pods.get(&self.runtime.pod).await.map_err(refused)?;
            if let Some(exit) = terminated(&pod) {
                return Ok(exit);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(Exit {
            code: None,
            oom_killed: false,
        })
    }

    async fn kill(&mut self) -> Result<(), RuntimeError> {
        if self.leaving.load(Ordering::SeqCst) {
            return Ok(());
        }
        let foreground = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..Default::default()
        };
        let deleted = Api::<Job>::namespaced(self.client.clone(), &self.runtime.namespace)
            .delete(&self.runtime.name, &foreground)
            .await;
        match deleted {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(refused(e)),
        }
        delete_objects(&self.client, &self.runtime.namespace, &self.runtime.name).await;
        Ok(())
    }

    async fn settle(&mut self) -> Result<(), RuntimeError> {
        // The log ends when the container does, which is after the copy.
        match self.restored.take() {
            Some(rx) => match rx.await {
                Ok(Err(e)) => Err(e),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    async fn cleanup(&mut self) {
        if !self.removed && !self.leaving.load(Ordering::SeqCst) {
            delete_objects(&self.client, &self.runtime.namespace, &self.runtime.name).await;
            self.removed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::SandboxSpec;

    fn launch(network: NetworkMode) -> Launch {
        Launch {
            stdin: None,
            job_id: 7,
            agent: "coder".into(),
            program: "claude".into(),
            args: vec!["-p".into(), "fix it".into()],
            env: vec![("HOME".into(), "/workspace/.threadwork/home".into())],
            workspace: "/tmp/none".into(),
            spec: SandboxSpec {
                network,
                ..SandboxSpec::default()
            },
        }
    }

    #[test]
    fn the_job_is_confined() {
        let o = objects(&launch(NetworkMode::None), "prod", &KubeSettings::default());
        let job = serde_json::to_value(&o.job).unwrap();
        let spec = &job["spec"];
        assert_eq!(spec["backoffLimit"], 0);
        assert_eq!(spec["activeDeadlineSeconds"], 1800 + 900);
        assert_eq!(spec["ttlSecondsAfterFinished"], 600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        // No pull policy unless one is configured: Kubernetes' own rule applies.
        assert!(pod["containers"][0].get("imagePullPolicy").is_none());
        let always = KubeSettings {
            image_pull_policy: Some(PullPolicy::Always),
            ..KubeSettings::default()
        };
        let o2 = objects(&launch(NetworkMode::None), "prod", &always);
        let pod2 = serde_json::to_value(&o2.job).unwrap()["spec"]["template"]["spec"].clone();
        assert_eq!(pod2["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod2["initContainers"][0]["imagePullPolicy"], "Always");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(c["resources"]["limits"]["memory"], "1024Mi");
        assert_eq!(c["resources"]["requests"]["cpu"], "1000m");
        assert_eq!(
            c["command"][4], "1800",
            "the time limit, held in the pod too"
        );
        assert_eq!(c["command"][5], "/dev/null", "no standard input");
        assert_eq!(c["command"][6], "claude");
        assert_eq!(job["metadata"]["labels"]["threadwork.job"], "7");
        assert_eq!(job["metadata"]["labels"]["threadwork.instance"], "prod");
        // Network none: an egress policy with no rule at all.
        let policy = serde_json::to_value(o.policy.unwrap()).unwrap();
        assert_eq!(
            policy["spec"]["policyTypes"],
            serde_json::json!(["Ingress", "Egress"])
        );
        assert_eq!(policy["spec"]["egress"], serde_json::json!([]));
        assert_eq!(policy["spec"]["ingress"], serde_json::json!([]));
    }

    #[test]
    fn model_network_reaches_only_the_proxy_and_dns() {
        let o = objects(
            &launch(NetworkMode::Model),
            "prod",
            &KubeSettings::default(),
        );
        let policy = serde_json::to_value(o.policy.unwrap()).unwrap();
        let egress = policy["spec"]["egress"].as_array().unwrap();
        assert_eq!(egress.len(), 2);
        assert_eq!(
            egress[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            "threadwork"
        );
        assert_eq!(egress[0]["ports"][0]["port"], 8080);
        // DNS only to the cluster's DNS pods: port 53 elsewhere would be a tunnel out.
        assert_eq!(egress[1]["ports"][0]["port"], 53);
        let dns = &egress[1]["to"][0];
        assert_eq!(
            dns["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "kube-system"
        );
        assert_eq!(dns["podSelector"]["matchLabels"]["k8s-app"], "kube-dns");
        assert_eq!(
            policy["spec"]["ingress"],
            serde_json::json!([]),
            "nothing reaches the pod"
        );

        // Sandboxes in their own namespace reach the proxy in the bot's namespace only.
        let apart = KubeSettings {
            namespace: "threadwork-sandboxes".into(),
            bot_namespace: Some("threadwork".into()),
            ..KubeSettings::default()
        };
        let o = objects(&launch(NetworkMode::Model), "prod", &apart);
        let policy = serde_json::to_value(o.policy.unwrap()).unwrap();
        assert_eq!(
            policy["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]
                ["kubernetes.io/metadata.name"],
            "threadwork"
        );

        // `open`: the internet, never the cluster, the node or cloud metadata.
        let o = objects(&launch(NetworkMode::Open), "prod", &KubeSettings::default());
        let policy = serde_json::to_value(o.policy.unwrap()).unwrap();
        let block = &policy["spec"]["egress"][1]["to"][0]["ipBlock"];
        assert_eq!(block["cidr"], "0.0.0.0/0");
        for range in [
            "10.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.168.0.0/16",
        ] {
            assert!(
                block["except"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c == range),
                "{range}"
            );
        }
        assert_eq!(
            policy["spec"]["egress"][1]["to"].as_array().unwrap().len(),
            1
        );

        // An admin's range (`[sandbox] open_allow`) is added beside the public internet.
        let mut mirror = launch(NetworkMode::Open);
        mirror.spec.open_allow = vec!["10.20.0.0/16".parse().unwrap()];
        let o = objects(&mirror, "prod", &KubeSettings::default());
        let policy = serde_json::to_value(o.policy.unwrap()).unwrap();
        let to = &policy["spec"]["egress"][1]["to"];
        assert_eq!(to[1]["ipBlock"]["cidr"], "10.20.0.0/16");
        assert!(to[1]["ipBlock"]["except"].is_null());
        // However wide, an allowed range keeps metadata closed; a denied range closes more.
        mirror.spec.open_allow = vec!["0.0.0.0/0".parse().unwrap()];
        mirror.spec.open_deny = vec!["203.0.114.7/32".parse().unwrap()];
        let o = objects(&mirror, "prod", &KubeSettings::default());
        let policy = serde_json::to_value(o.policy.unwrap()).unwrap();
        let to = &policy["spec"]["egress"][1]["to"];
        for block in [&to[0]["ipBlock"], &to[1]["ipBlock"]] {
            let except = block["except"].as_array().unwrap();
            assert!(except.iter().any(|c| c == "169.254.0.0/16"), "{block}");
            assert!(except.iter().any(|c| c == "203.0.114.7/32"), "{block}");
        }
        // An allowed range inside a closed one opens nothing.
        mirror.spec.open_allow = vec!["169.254.169.253/32".parse().unwrap()];
        let o = objects(&mirror, "prod", &KubeSettings::default());
        let policy = serde_json::to_value(o.policy.unwrap()).unwrap();
        assert_eq!(
            policy["spec"]["egress"][1]["to"].as_array().unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn log_lines_are_bounded() {
        let long = format!("{}\nshort\nlast", "x".repeat(100));
        let mut reader = futures::io::Cursor::new(long.into_bytes());
        let (first, cut) = next_line(&mut reader, 10).await.unwrap().unwrap();
        assert_eq!((first.len(), cut), (10, true));
        let (second, cut) = next_line(&mut reader, 10).await.unwrap().unwrap();
        assert_eq!((second.as_slice(), cut), (&b"short"[..], false));
        let (third, _) = next_line(&mut reader, 10).await.unwrap().unwrap();
        assert_eq!(third, b"last");
        assert!(next_line(&mut reader, 10).await.unwrap().is_none());
    }

    #[test]
    fn the_init_container_reads_the_workspace_from_its_input() {
        let o = objects(&launch(NetworkMode::None), "prod", &KubeSettings::default());
        let pod = serde_json::to_value(&o.job).unwrap()["spec"]["template"]["spec"].clone();
        let init = &pod["initContainers"][0];
        assert_eq!(init["name"], "workspace");
        assert_eq!(
            init["command"],
            serde_json::json!(["tar", "-xzf", "-", "-C", "/workspace"])
        );
        assert_eq!(
            (init["stdin"].clone(), init["stdinOnce"].clone()),
            (true.into(), true.into())
        );
        assert_eq!(init["securityContext"]["readOnlyRootFilesystem"], true);
        assert!(
            pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v.get("secret").is_none()),
            "no Secret carries the workspace"
        );
        let back: Pod = serde_json::from_value(serde_json::json!({"spec": pod})).unwrap();
        assert_eq!(
            workspace_limit_mb(&back),
            Some(SandboxSpec::default().disk_mb)
        );
    }

    #[test]
    fn init_states_read_from_the_pod() {
        let pod = |state: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({"status": {"initContainerStatuses": [
                {"name": "workspace", "image": "i", "imageID": "", "ready": false,
                 "restartCount": 0, "state": state}]}}))
            .unwrap()
        };
        assert_eq!(init_state(&Pod::default()), InitState::Waiting);
        assert_eq!(
            init_state(&pod(
                serde_json::json!({"waiting": {"reason": "PodInitializing"}})
            )),
            InitState::Waiting
        );
        assert_eq!(
            init_state(&pod(serde_json::json!({"running": {}}))),
            InitState::Receiving
        );
        assert_eq!(
            init_state(&pod(serde_json::json!({"terminated": {"exitCode": 0}}))),
            InitState::Done
        );
        assert_eq!(
            init_state(&pod(
                serde_json::json!({"terminated": {"exitCode": 2, "reason": "Error"}})
            )),
            InitState::Failed(
                "the workspace could not be unpacked in the pod (exit 2: Error)".into()
            )
        );
    }
}
