//! The `docker` runtime: one throw-away container per run, through the Docker Engine API.
//!
//! Every container runs as a non-root user with a read-only root filesystem, all capabilities
//! dropped, `no-new-privileges`, a tmpfs `/tmp`, the job's workspace as the only writable
//! mount (`/workspace`), and CPU, memory and pids limits. Network mode `none` gives it no
//! interface but loopback; `model` gives the run an internal network of its own, whose
//! bridge has no address on the host (`inhibit_ipv4`) and whose only other member is the
//! run's own egress container forwarding one port to the model endpoint: from the sandbox,
//! that one address:port is all that answers, and no other run is on its network. Both go
//! with the run. `open` is the same network: on that one port the bot's egress proxy also
//! tunnels (`HTTPS_PROXY`) to public addresses and nowhere else (`crate::model::proxy`),
//! since Docker itself cannot keep a bridge off the host, its networks and cloud metadata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, EndpointSettings, HostConfig,
    HostConfigLogConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::policy::{NetworkMode, SandboxPolicy, SandboxSpec};
use super::{
    Exit, Launch, Leftover, RunHandle, Runtime, RuntimeError, Spawned, LABEL_AGENT, LABEL_INSTANCE,
    LABEL_JOB,
};

/// Where the workspace is mounted inside the container.
pub const WORKSPACE: &str = "/workspace";
/// The name and port the model endpoint has inside network mode `model`.
pub const MODEL_HOST: &str = "model";
pub const MODEL_PORT: u16 = 8080;
/// Connections one run's egress forwarder serves at once.
pub const EGRESS_CONNECTIONS: u32 = 64;
/// On a run's model network and forwarder: the job they serve.
const LABEL_MODEL_NET: &str = "threadwork.model-net";

pub struct DockerRuntime {
    docker: tokio::sync::OnceCell<Docker>,
    instance: String,
    /// The image the egress forwarder runs in (it needs `socat`).
    egress_image: String,
    model_endpoint: Option<String>,
    build_hint: String,
    /// Set by a graceful stop: runs (and their model networks) are left for the next
    /// process, not removed with their handles.
    leaving: Arc<AtomicBool>,
}

impl DockerRuntime {
    pub fn new(policy: &SandboxPolicy) -> Self {
        Self {
            docker: tokio::sync::OnceCell::new(),
            instance: policy.instance.clone(),
            egress_image: policy.image.clone(),
            model_endpoint: policy.model_endpoint.clone(),
            build_hint: policy.build_hint.clone(),
            leaving: Arc::new(AtomicBool::new(false)),
        }
    }

    fn handle(
        &self,
        docker: &Docker,
        name: &str,
        model_net: Option<(String, String)>,
    ) -> ContainerHandle {
        ContainerHandle {
            docker: docker.clone(),
            name: name.to_string(),
            removed: false,
            model_net,
            leaving: self.leaving.clone(),
        }
    }

    /// Connects on first use and agrees on an API version the engine speaks.
    pub async fn client(&self) -> Result<&Docker, RuntimeError> {
        self.docker
            .get_or_try_init(|| async {
                let docker = Docker::connect_with_local_defaults()
                    .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
                docker
                    .negotiate_version()
                    .await
                    .map_err(|e| RuntimeError::Unreachable(e.to_string()))
            })
            .await
    }

    pub fn container_name(&self, job_id: u64) -> String {
        format!("threadwork-{}-job-{job_id}", self.instance)
    }

    /// A run's own internal network under mode `model`, and its own egress forwarder.
    fn network_name(&self, job_id: u64) -> String {
        format!("threadwork-{}-job-{job_id}-model", self.instance)
    }

    fn egress_name(&self, job_id: u64) -> String {
        format!("threadwork-{}-job-{job_id}-egress", self.instance)
    }

    /// Removes the model networks and forwarders of this instance whose run's container is
    /// gone (a crash, a cancelled start), and the shared pair of earlier versions. At start-up
    /// (`Runtime::sweep`); tests and `bench` call it to clean up.
    pub async fn remove_model_network(&self) -> Result<(), RuntimeError> {
        let alive: Vec<u64> = self
            .leftovers()
            .await?
            .into_iter()
            .filter_map(|l| l.job_id)
            .collect();
        let docker = self.client().await?;
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_INSTANCE}={}", self.instance),
                LABEL_MODEL_NET.to_string(),
            ],
        )]);
        let containers = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(refused)?;
        let networks = docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(refused)?;
        let mut names: Vec<(String, String)> = Vec::new();
        for id in containers
            .iter()
            .filter_map(|c| c.labels.as_ref()?.get(LABEL_MODEL_NET).cloned())
            .chain(
                networks
                    .iter()
                    .filter_map(|n| n.labels.as_ref()?.get(LABEL_MODEL_NET).cloned()),
            )
        {
            let pair = match id.parse::<u64>() {
                Ok(job) if alive.contains(&job) => continue,
                Ok(job) => (self.egress_name(job), self.network_name(job)),
                Err(_) => (
                    format!("threadwork-{}-egress", self.instance),
                    format!("threadwork-{}-model", self.instance),
                ),
            };
            if !names.contains(&pair) {
                names.push(pair);
            }
        }
        // The shared pair of earlier versions carried no label.
        names.push((
            format!("threadwork-{}-egress", self.instance),
            format!("threadwork-{}-model", self.instance),
        ));
        for (egress, network) in names {
            tear_down(docker, &egress, &network).await?;
        }
        Ok(())
    }

    /// The image is on the host, or pulled when it names a registry; a local name that is
    /// missing says how to build it.
    async fn ensure_image(&self, docker: &Docker, image: &str) -> Result<(), RuntimeError> {
        match docker.inspect_image(image).await {
            Ok(_) => Ok(()),
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => match pull_reference(image) {
                Some((name, tag)) => pull(docker, image, name, tag).await,
                None => Err(RuntimeError::MissingImage {
                    image: image.to_string(),
                    build: self.build_hint.clone(),
                }),
            },
            Err(e) => Err(refused(e)),
        }
    }

    /// Creates a run's own internal network and egress forwarder (modes `model` and `open`): no run
    /// reaches another's ports, and the proxy sees each run as a client of its own. Returns
    /// the network and the forwarder's address on it.
    async fn model_network_for(
        &self,
        docker: &Docker,
        job_id: u64,
    ) -> Result<(String, String), RuntimeError> {
        let network = self.network_name(job_id);
        let egress = self.egress_name(job_id);
        let Some(upstream) = self.model_endpoint.clone() else {
            return Err(RuntimeError::Refused(
                "network modes `model` and `open` need `[sandbox] model_endpoint` (the bot's model proxy)".into(),
            ));
        };
        self.ensure_image(docker, &self.egress_image).await?;
        // What an earlier attempt of this job left is replaced.
        tear_down(docker, &egress, &network).await?;
        let labels = HashMap::from([
            (LABEL_INSTANCE.to_string(), self.instance.clone()),
            (LABEL_MODEL_NET.to_string(), job_id.to_string()),
        ]);
        let request = NetworkCreateRequest {
            name: network.clone(),
            driver: Some("bridge".into()),
            internal: Some(true),
            // No address for the host on this bridge: the host is unreachable from it.
            options: Some(HashMap::from([(
                "com.docker.network.bridge.inhibit_ipv4".to_string(),
                "true".to_string(),
            )])),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        docker.create_network(request).await.map_err(refused)?;
        let set_up = async {
            // The forwarder's other leg is on the default bridge (to reach the proxy on the
            // host): it serves only its own run's network.
            let subnet = docker
                .inspect_network(
                    &network,
                    None::<bollard::query_parameters::InspectNetworkOptions>,
                )
                .await
                .map_err(refused)?
                .ipam
                .and_then(|i| i.config)
                .and_then(|c| c.into_iter().find_map(|c| c.subnet))
                .ok_or_else(|| {
                    RuntimeError::Refused(format!("the network `{network}` has no subnet"))
                })?;
            let body = ContainerCreateBody {
                image: Some(self.egress_image.clone()),
                cmd: Some(vec![
                    "socat".into(),
                    // A run's connections to its model are few; a flood ends here, not in
                    // the bot or another run's forwarder.
                    format!(
                        "TCP-LISTEN:{MODEL_PORT},fork,reuseaddr,max-children={EGRESS_CONNECTIONS},range={subnet}"
                    ),
                    format!("TCP:{upstream}"),
                ]),
                user: Some("1000:1000".into()),
                labels: Some(labels.clone()),
                host_config: Some(HostConfig {
                    readonly_rootfs: Some(true),
                    cap_drop: Some(vec!["ALL".into()]),
                    security_opt: Some(vec!["no-new-privileges".into()]),
                    memory: Some(64 * 1024 * 1024),
                    pids_limit: Some(EGRESS_CONNECTIONS as i64 + 16),
                    network_mode: Some(network.clone()),
                    extra_hosts: Some(vec!["host.docker.internal:host-gateway".into()]),
                    ..Default::default()
                }),
                networking_config: Some(NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        network.clone(),
                        EndpointSettings {
                            aliases: Some(vec![MODEL_HOST.into()]),
                            ..Default::default()
                        },
                    )])),
                }),
                ..Default::default()
            };
            docker
                .create_container(
                    Some(
                        CreateContainerOptionsBuilder::default()
                            .name(&egress)
                            .build(),
                    ),
                    body,
                )
                .await
                .map_err(refused)?;
            // The second leg, to the default bridge, is how the forwarder reaches the upstream.
            docker
                .connect_network(
                    "bridge",
                    NetworkConnectRequest {
                        container: egress.clone(),
                        endpoint_config: None,
                    },
                )
                .await
                .map_err(refused)?;
            docker
                .start_container(&egress, None)
                .await
                .map_err(refused)?;
            docker
                .inspect_container(&egress, None)
                .await
                .map_err(refused)?
                .network_settings
                .and_then(|s| s.networks)
                .and_then(|mut n| n.remove(&network))
                .and_then(|e| e.ip_address)
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| {
                    RuntimeError::Refused(format!("the forwarder has no address on `{network}`"))
                })
        };
        match set_up.await {
            Ok(ip) => Ok((network, ip)),
            Err(e) => {
                let _ = tear_down(docker, &egress, &network).await;
                Err(e)
            }
        }
    }
}

/// Removes a run's egress forwarder and then its network (either may be gone already).
async fn tear_down(docker: &Docker, egress: &str, network: &str) -> Result<(), RuntimeError> {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    match docker.remove_container(egress, Some(options)).await {
        Ok(())
        | Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        // Someone else (the run's own cleanup, a sweep) is removing it: wait until it is gone.
        Err(DockerError::DockerResponseServerError {
            status_code: 409, ..
        }) => {
            for _ in 0..40 {
                if docker.inspect_container(egress, None).await.is_err() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
        Err(e) => return Err(refused(e)),
    }
    // A container whose removal is still in progress keeps its endpoint on the network for
    // a moment; wait that out (up to 10 s) rather than fail.
    let mut attempts = 0;
    loop {
        match docker.remove_network(network).await {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(()),
            Err(e) if attempts < 40 && e.to_string().contains("active endpoints") => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => return Err(refused(e)),
        }
    }
}

fn refused(e: DockerError) -> RuntimeError {
    match e {
        DockerError::DockerResponseServerError { message, .. } => RuntimeError::Refused(message),
        DockerError::HyperResponseError { .. } | DockerError::IOError { .. } => {
            RuntimeError::Unreachable(e.to_string())
        }
        other => RuntimeError::Refused(other.to_string()),
    }
}

/// The container for one run; pure, so its confinement is checked by unit tests.
/// The size of a run's /dev/shm: a quarter of its /tmp, at most an eighth of its memory,
/// at least 1 MB (tools that open shared memory still start).
pub fn shm_mb(spec: &SandboxSpec) -> u64 {
    (spec.tmp_mb / 4).min(spec.memory_mb / 8).max(1)
}

/// How long past its limit a run may go on inside its container when the bot does not end it.
pub const IN_CONTAINER_GRACE_SECS: u64 = 60;

/// How a sandbox on a `model` network finds the forwarder, and fails fast on any other name.
/// Docker's resolver on an internal network leaves a query for an outside name unanswered,
/// so every lookup a CLI makes (telemetry, update checks, downloads) hangs for 10–20 s; with
/// `model` in `/etc/hosts` and a resolver file naming a server that is not there, it fails at
/// once, as it would with no network.
#[derive(Debug, Clone)]
pub struct ModelDns {
    /// The forwarder's address on the run's network.
    pub ip: String,
    /// The resolver file to mount, when one could be written safely.
    pub resolv: Option<PathBuf>,
}

/// What a sandbox on a `model` network resolves with: a name server that is not there, one
/// attempt, one second (the file's options, in case something does answer).
const NO_RESOLVER: &str = "nameserver 127.0.0.1\noptions attempts:1 timeout:1 ndots:0\n";

/// Writes the resolver file beside the workspaces (in the jobs folder, which only the bot may
/// write: the agent's workspace is no place for a file the host mounts) and returns its path;
/// `None` when that folder is not the bot's alone (the sandbox then keeps Docker's resolver).
fn no_resolver_file(workspace: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = workspace.parent()?;
    let meta = std::fs::symlink_metadata(dir).ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        tracing::warn!(dir = %dir.display(), "the jobs folder is not a directory only the bot may write (a link, another owner, or group/world-writable): `model` sandboxes keep Docker's resolver, whose lookups of outside names are slow to fail");
        return None;
    }
    let path = dir.join(".sandbox-resolv.conf");
    if std::fs::read_to_string(&path).is_ok_and(|t| t == NO_RESOLVER) {
        return Some(path);
    }
    // A new file of this call's own, renamed into place: a run starting at the same time
    // never mounts half a file, and no two calls write the same temporary file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".sandbox-resolv.conf.{}.{n}", std::process::id()));
    let written = std::fs::write(&tmp, NO_RESOLVER)
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| std::fs::rename(&tmp, &path));
    match written {
        Ok(()) => Some(path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(error = %e, path = %path.display(), "cannot write the sandboxes' resolver file; lookups of outside names in `model` sandboxes will be slow to fail");
            None
        }
    }
}

pub fn container_body(
    launch: &Launch,
    instance: &str,
    network: &str,
    model_dns: Option<&ModelDns>,
) -> ContainerCreateBody {
    let spec: &SandboxSpec = &launch.spec;
    let mut binds = vec![format!("{}:{WORKSPACE}:rw", launch.workspace.display())];
    if let Some(resolv) = model_dns.and_then(|d| d.resolv.as_ref()) {
        binds.push(format!("{}:/etc/resolv.conf:ro", resolv.display()));
    }
    // The job's time limit holds inside the container too, so a run outlives neither a bot
    // that is down nor one that lost track of it; the bot's own limit (and its message)
    // normally comes first. `timeout -s KILL N` reads the same in coreutils and busybox.
    let mut cmd = vec![
        "timeout".to_string(),
        "-s".to_string(),
        "KILL".to_string(),
        (spec.timeout.as_secs() + IN_CONTAINER_GRACE_SECS).to_string(),
    ];
    // Standard input from a file: a shell opens it and becomes the program.
    if let Some(input) = &launch.stdin {
        cmd.extend([
            "sh".to_string(),
            "-c".to_string(),
            STDIN_FROM.to_string(),
            input.clone(),
        ]);
    }
    cmd.push(launch.program.clone());
    cmd.extend(launch.args.iter().cloned());
    let mb = |n: u64| (n * 1024 * 1024) as i64;
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(cmd),
        // The image's own entrypoint must not wrap the harness.
        entrypoint: Some(vec![]),
        env: Some(launch.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: Some(spec.user.clone()),
        working_dir: Some(WORKSPACE.into()),
        labels: Some(HashMap::from([
            (LABEL_JOB.to_string(), launch.job_id.to_string()),
            (LABEL_AGENT.to_string(), launch.agent.clone()),
            (LABEL_INSTANCE.to_string(), instance.to_string()),
        ])),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(false),
        tty: Some(false),
        network_disabled: Some(spec.network == NetworkMode::None),
        host_config: Some(HostConfig {
            binds: Some(binds),
            extra_hosts: model_dns.map(|d| vec![format!("{MODEL_HOST}:{}", d.ip)]),
            // A small init as PID 1: the harness gets ordinary signal semantics (a kill
            // from inside the sandbox works) and its shells' zombies are reaped.
            init: Some(true),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_string(),
                format!("rw,nosuid,nodev,size={}m,mode=1777", spec.tmp_mb),
            )])),
            // /dev/shm is another tmpfs: sized from the job's limits, not Docker's 64 MB.
            shm_size: Some(mb(shm_mb(spec))),
            nano_cpus: Some((spec.cpus * 1e9) as i64),
            memory: Some(mb(spec.memory_mb)),
            // No swap on top of the memory limit, so a bomb ends in an OOM kill.
            memory_swap: Some(mb(spec.memory_mb)),
            pids_limit: Some(spec.pids),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            network_mode: Some(network.to_string()),
            // A log the bot can read back from its first line (re-attach after a restart),
            // whatever the daemon's default driver; bounded, so output cannot fill the disk.
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::from([
                    ("max-size".to_string(), format!("{LOG_MAX_MB}m")),
                    ("max-file".to_string(), "1".to_string()),
                ])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `sh -c` script: the program (`"$@"`) with the file `$0` as its standard input.
pub const STDIN_FROM: &str = r#"exec "$@" < "$0""#;

/// The most of a run's output its container log keeps; a re-attached run whose output
/// went past it replays only the end.
pub const LOG_MAX_MB: u64 = 64;

struct ContainerHandle {
    docker: Docker,
    name: String,
    removed: bool,
    /// The run's own egress forwarder and network (mode `model`), removed after it.
    model_net: Option<(String, String)>,
    /// The bot is stopping gracefully: the run goes on for the next process to re-attach to.
    leaving: Arc<AtomicBool>,
}

impl ContainerHandle {
    fn leaving(&self) -> bool {
        self.leaving.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl RunHandle for ContainerHandle {
    async fn wait(&mut self) -> Result<Exit, RuntimeError> {
        // The wait stream reports a non-zero status as an error; the inspection below is the
        // one source of truth for how the container ended.
        let _ = self.docker.wait_container(&self.name, None).next().await;
        let mut attempt = 0;
        loop {
            let state = self
                .docker
                .inspect_container(&self.name, None)
                .await
                .map_err(refused)?
                .state
                .unwrap_or_default();
            let oom_killed = state.oom_killed.unwrap_or(false);
            // Docker records the OOM event apart from the exit and can record it a moment
            // later: a SIGKILL exit (137) is looked at again before it is called anything else.
            if oom_killed || state.exit_code != Some(137) || attempt == 5 {
                return Ok(Exit {
                    code: state.exit_code,
                    oom_killed,
                });
            }
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    async fn kill(&mut self) -> Result<(), RuntimeError> {
        // Leaving (a graceful stop): the runs are let go of only once every acked event (a
        // stop among them) is handled; what ends a run's follower now leaves it to the next
        // process.
        if self.leaving() {
            return Ok(());
        }
        let killed = self
            .docker
            .kill_container(
                &self.name,
                Some(
                    KillContainerOptionsBuilder::default()
                        .signal("KILL")
                        .build(),
                ),
            )
            .await;
        match killed {
            Ok(()) => Ok(()),
            // Gone, or not running: either way it has ended.
            Err(DockerError::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(e) => Err(refused(e)),
        }
    }

    async fn cleanup(&mut self) {
        if self.removed || self.leaving() {
            return;
        }
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        match self
            .docker
            .remove_container(&self.name, Some(options))
            .await
        {
            Ok(()) => self.removed = true,
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => self.removed = true,
            Err(e) => tracing::warn!(container = %self.name, error = %e, "cannot remove container"),
        }
        if let (true, Some((egress, network))) = (self.removed, self.model_net.take()) {
            if let Err(e) = tear_down(&self.docker, &egress, &network).await {
                tracing::warn!(network = %network, error = %e, "cannot remove a run's model network");
            }
        }
    }
}

impl Drop for ContainerHandle {
    fn drop(&mut self) {
        // A handle dropped without cleanup (a cancelled task) still removes its container,
        // unless the bot is leaving it to the next process.
        if (!self.removed || self.model_net.is_some()) && !self.leaving() {
            let docker = self.docker.clone();
            let name = self.name.clone();
            let model_net = self.model_net.take();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let options = RemoveContainerOptionsBuilder::default().force(true).build();
                    let _ = docker.remove_container(&name, Some(options)).await;
                    if let Some((egress, network)) = model_net {
                        let _ = tear_down(&docker, &egress, &network).await;
                    }
                });
            }
        }
    }
}

#[async_trait::async_trait]
impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn workspace_in_sandbox(&self, _host: &Path, _spec: &SandboxSpec) -> PathBuf {
        PathBuf::from(WORKSPACE)
    }

    fn model_address(&self, _spec: &SandboxSpec) -> Option<String> {
        self.model_endpoint
            .as_ref()
            .map(|_| format!("{MODEL_HOST}:{MODEL_PORT}"))
    }

    /// `open` goes out through the bot's egress proxy, on the same forwarder as the model.
    fn egress_address(&self, spec: &SandboxSpec) -> Option<String> {
        (spec.network == NetworkMode::Open)
            .then(|| self.model_address(spec))
            .flatten()
    }

    fn image_of(&self, spec: &SandboxSpec) -> Option<String> {
        Some(spec.image.clone())
    }

    async fn image_digest(&self, image: &str) -> Option<String> {
        let docker = self.client().await.ok()?;
        let info = docker.inspect_image(image).await.ok()?;
        info.repo_digests
            .and_then(|d| d.into_iter().next())
            .or(info.id)
    }

    async fn sweep(&self) -> Result<(), RuntimeError> {
        self.remove_model_network().await
    }

    async fn engine_versions(&self) -> Option<Vec<(String, String)>> {
        let docker = self.client().await.ok()?;
        let version = docker.version().await.ok()?;
        let mut out = vec![("Engine".to_string(), version.version?)];
        out.extend(
            version
                .components
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.name != "Engine")
                .map(|c| (c.name, c.version)),
        );
        Some(out)
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        docker.ping().await.map(|_| ()).map_err(refused)
    }

    async fn spawn(&self, launch: Launch) -> Result<Spawned, RuntimeError> {
        let docker = self.client().await?;
        self.ensure_image(docker, &launch.spec.image).await?;
        // The non-root user must be able to write its workspace.
        set_world_writable(&launch.workspace)?;
        let (network, model_dns) = match launch.spec.network {
            NetworkMode::None => ("none".to_string(), None),
            NetworkMode::Model | NetworkMode::Open => {
                let (network, ip) = self.model_network_for(docker, launch.job_id).await?;
                let resolv = no_resolver_file(&launch.workspace);
                (network, Some(ModelDns { ip, resolv }))
            }
        };
        let name = self.container_name(launch.job_id);
        let _ = docker
            .remove_container(
                &name,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await;
        let body = container_body(&launch, &self.instance, &network, model_dns.as_ref());
        if let Err(e) = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
        {
            if launch.spec.network != NetworkMode::None {
                let _ = tear_down(docker, &self.egress_name(launch.job_id), &network).await;
            }
            return Err(refused(e));
        }
        let mut handle = self.handle(
            docker,
            &name,
            (launch.spec.network != NetworkMode::None)
                .then(|| (self.egress_name(launch.job_id), network.clone())),
        );
        let attach = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdout(true)
            .stderr(true)
            .logs(true)
            .build();
        let attached = match docker.attach_container(&name, Some(attach)).await {
            Ok(a) => a,
            Err(e) => {
                handle.cleanup().await;
                return Err(refused(e));
            }
        };
        if let Err(e) = docker.start_container(&name, None).await {
            handle.cleanup().await;
            return Err(refused(e));
        }
        let (stdout, stderr) = pipe(attached.output);
        Ok(Spawned {
            stdout,
            stderr,
            handle: Box::new(handle),
        })
    }

    fn leave_runs(&self) {
        self.leaving.store(true, Ordering::SeqCst);
    }

    /// Follows a container a previous process left, from its first output line: its log
    /// replays what it printed while nobody listened, then follows it live; a container that
    /// ended meanwhile gives its whole output and its exit status.
    async fn attach(
        &self,
        leftover: &Leftover,
        _workspace: &Path,
    ) -> Result<Option<Spawned>, RuntimeError> {
        let docker = self.client().await?;
        let Some(job) = leftover.job_id else {
            return Ok(None);
        };
        let info = match docker.inspect_container(&leftover.name, None).await {
            Ok(info) => info,
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(refused(e)),
        };
        // Created but never started: the run did not begin, and nothing would end it.
        let status = info.state.as_ref().and_then(|s| s.status);
        if matches!(
            status,
            None | Some(ContainerStateStatusEnum::CREATED | ContainerStateStatusEnum::EMPTY)
        ) {
            return Ok(None);
        }
        let network = info.host_config.and_then(|h| h.network_mode);
        let model_net = (network.as_deref() == Some(self.network_name(job).as_str()))
            .then(|| (self.egress_name(job), self.network_name(job)));
        let handle = self.handle(docker, &leftover.name, model_net);
        let logs = docker.logs(
            &leftover.name,
            Some(
                LogsOptionsBuilder::default()
                    .follow(true)
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        let (stdout, stderr) = pipe(logs);
        Ok(Some(Spawned {
            stdout,
            stderr,
            handle: Box::new(handle),
        }))
    }

    async fn leftovers(&self) -> Result<Vec<Leftover>, RuntimeError> {
        let docker = self.client().await?;
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_INSTANCE}={}", self.instance),
                LABEL_JOB.to_string(),
            ],
        )]);
        let list = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(refused)?;
        Ok(list
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                Leftover {
                    runtime: super::policy::RuntimeKind::Docker,
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .or(c.id)
                        .unwrap_or_default(),
                    job_id: labels.get(LABEL_JOB).and_then(|j| j.parse().ok()),
                    agent: labels.get(LABEL_AGENT).cloned(),
                }
            })
            .collect())
    }

    async fn remove(&self, leftover: &Leftover) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        match docker
            .remove_container(
                &leftover.name,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await
        {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(refused(e)),
        }
        // Its model network, if it had one, goes with it.
        match leftover.job_id {
            Some(job) => tear_down(docker, &self.egress_name(job), &self.network_name(job)).await,
            None => Ok(()),
        }
    }
}

type Output = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// Splits a container's multiplexed output into its stdout and stderr streams.
fn pipe(
    mut output: impl futures::Stream<Item = Result<bollard::container::LogOutput, DockerError>>
        + Send
        + Unpin
        + 'static,
) -> (Output, Output) {
    let (mut out_w, out_r) = tokio::io::duplex(64 * 1024);
    let (mut err_w, err_r) = tokio::io::duplex(16 * 1024);
    tokio::spawn(async move {
        let mut out_open = true;
        let mut err_open = true;
        while let Some(frame) = output.next().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    // Said where the run's failure message looks (its stderr tail).
                    let line =
                        format!("threadwork: the container's output could not be read: {e}\n");
                    let _ = err_w.write_all(line.as_bytes()).await;
                    tracing::warn!(error = %e, "a container's output stream failed");
                    break;
                }
            };
            match frame {
                bollard::container::LogOutput::StdOut { message }
                | bollard::container::LogOutput::Console { message } => {
                    if out_open && out_w.write_all(&message).await.is_err() {
                        out_open = false;
                    }
                }
                bollard::container::LogOutput::StdErr { message } => {
                    if err_open && err_w.write_all(&message).await.is_err() {
                        err_open = false;
                    }
                }
                bollard::container::LogOutput::StdIn { .. } => {}
            }
            if !out_open && !err_open {
                break;
            }
        }
    });
    (Box::new(out_r), Box::new(err_r))
}

fn set_world_writable(dir: &Path) -> Result<(), RuntimeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).map_err(
            |source| RuntimeError::Workspace {
                path: dir.to_path_buf(),
                source,
            },
        )?;
    }
    Ok(())
}

/// The image names a registry, so a host that lacks it pulls it.
pub fn names_registry(image: &str) -> bool {
    pull_reference(image).is_some()
}

/// For an image that names a registry (its first part has a `.` or a `:`, or is `localhost`,
/// as Docker reads references): the name to pull and its tag or digest (`latest` when it has
/// neither, so a pull never fetches every tag). `None` for a local or Docker Hub name.
fn pull_reference(image: &str) -> Option<(&str, &str)> {
    let (first, _) = image.split_once('/')?;
    if !(first.contains('.') || first.contains(':') || first == "localhost") {
        return None;
    }
    if let Some((name, digest)) = image.split_once('@') {
        // A tag beside a digest says nothing more: the digest is what is pulled.
        let last = name.rfind('/').unwrap_or(0);
        let name = match name[last..].rfind(':') {
            Some(colon) => &name[..last + colon],
            None => name,
        };
        return Some((name, digest));
    }
    let last = image.rfind('/').unwrap_or(0);
    match image[last..].rfind(':') {
        Some(colon) => Some((&image[..last + colon], &image[last + colon + 1..])),
        None => Some((image, "latest")),
    }
}

/// How long a pull may take before the job fails: a registry that trickles must not hold a
/// job in "starting" for ever.
const PULL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Pulls `name:tag` anonymously (the API takes no logins from the client's `docker login`; a
/// private image is pulled on the host beforehand).
async fn pull(docker: &Docker, image: &str, name: &str, tag: &str) -> Result<(), RuntimeError> {
    match tokio::time::timeout(PULL_TIMEOUT, pull_once(docker, image, name, tag)).await {
        Ok(pulled) => pulled,
        Err(_) => Err(RuntimeError::PullFailed {
            image: image.to_string(),
            reason: format!("it took more than {} s", PULL_TIMEOUT.as_secs()),
        }),
    }
}

async fn pull_once(
    docker: &Docker,
    image: &str,
    name: &str,
    tag: &str,
) -> Result<(), RuntimeError> {
    tracing::info!(image, "pulling the sandbox image");
    let options = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_image(name)
        .tag(tag)
        .build();
    let mut progress = docker.create_image(Some(options), None, None);
    while let Some(step) = progress.next().await {
        if let Err(e) = step {
            let reason = match e {
                DockerError::DockerStreamError { error } => error,
                DockerError::DockerResponseServerError { message, .. } => message,
                other => other.to_string(),
            };
            return Err(RuntimeError::PullFailed {
                image: image.to_string(),
                reason: crate::text::first_line(&reason, 300),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_that_name_a_registry_are_pulled() {
        assert_eq!(pull_reference("threadwork/agents:dev"), None);
        assert_eq!(pull_reference("ubuntu"), None);
        assert_eq!(
            pull_reference("ghcr.io/acme/agents:1.2"),
            Some(("ghcr.io/acme/agents", "1.2"))
        );
        assert_eq!(
            pull_reference("registry.internal:5000/agents"),
            Some(("registry.internal:5000/agents", "latest"))
        );
        assert_eq!(
            pull_reference("localhost/a@sha256:abc"),
            Some(("localhost/a", "sha256:abc"))
        );
        assert_eq!(
            pull_reference("localhost:5000/a/b:tag@sha256:abc"),
            Some(("localhost:5000/a/b", "sha256:abc"))
        );
    }
    use std::time::Duration;

    fn launch(network: NetworkMode) -> Launch {
        Launch {
            stdin: None,
            job_id: 42,
            agent: "coder".into(),
            program: "node".into(),
            args: vec!["agent.js".into()],
            env: vec![("THREADWORK_JOB_ID".into(), "42".into())],
            workspace: PathBuf::from("/srv/jobs/job-42"),
            spec: SandboxSpec {
                image: "threadwork/harness:dev".into(),
                user: "1000:1000".into(),
                cpus: 0.5,
                memory_mb: 256,
                pids: 64,
                tmp_mb: 32,
                timeout: Duration::from_secs(60),
                disk_mb: 1024,
                network,
                runtime: super::super::policy::RuntimeKind::Docker,
                open_allow: vec![],
                open_deny: vec![],
            },
        }
    }

    #[test]
    fn container_is_confined() {
        let body = container_body(&launch(NetworkMode::None), "bot1", "none", None);
        let host = body.host_config.as_ref().unwrap();
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.init, Some(true));
        assert_eq!(
            host.binds.as_deref(),
            Some(&["/srv/jobs/job-42:/workspace:rw".to_string()][..])
        );
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.memory, Some(256 * 1024 * 1024));
        assert_eq!(host.memory_swap, host.memory);
        assert_eq!(host.pids_limit, Some(64));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert!(host.tmpfs.as_ref().unwrap()["/tmp"].contains("size=32m"));
        assert_eq!(
            host.shm_size,
            Some(8 * 1024 * 1024),
            "a quarter of /tmp, not 64 MB"
        );
        let log = host.log_config.as_ref().unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"), "readable back");
        assert_eq!(log.config.as_ref().unwrap()["max-size"], "64m");
        assert_eq!(body.user.as_deref(), Some("1000:1000"));
        assert_eq!(body.network_disabled, Some(true));
        assert_eq!(
            body.env.as_deref(),
            Some(&["THREADWORK_JOB_ID=42".to_string()][..])
        );
        let labels = body.labels.unwrap();
        assert_eq!(labels[LABEL_JOB], "42");
        assert_eq!(labels[LABEL_AGENT], "coder");
        assert_eq!(labels[LABEL_INSTANCE], "bot1");
        let limit = (launch(NetworkMode::None).spec.timeout.as_secs() + IN_CONTAINER_GRACE_SECS)
            .to_string();
        assert_eq!(
            body.cmd.unwrap(),
            ["timeout", "-s", "KILL", &limit, "node", "agent.js"],
            "the time limit holds inside the container too"
        );
    }

    #[test]
    fn the_resolver_file_is_written_only_where_the_bot_alone_writes() {
        use std::os::unix::fs::PermissionsExt;
        let jobs = tempfile::tempdir().unwrap();
        std::fs::set_permissions(jobs.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = no_resolver_file(&jobs.path().join("job-1")).expect("written");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NO_RESOLVER);
        assert_eq!(no_resolver_file(&jobs.path().join("job-2")), Some(path));
        std::fs::set_permissions(jobs.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(no_resolver_file(&jobs.path().join("job-3")), None);
    }

    #[test]
    fn model_mode_joins_the_named_network() {
        let dns = ModelDns {
            ip: "172.30.0.2".into(),
            resolv: Some("/srv/jobs/.sandbox-resolv.conf".into()),
        };
        let body = container_body(
            &launch(NetworkMode::Model),
            "bot1",
            "threadwork-bot1-model",
            Some(&dns),
        );
        assert_eq!(body.network_disabled, Some(false));
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("threadwork-bot1-model"));
        assert_eq!(
            host.extra_hosts.as_deref(),
            Some(&["model:172.30.0.2".to_string()][..])
        );
        assert_eq!(
            host.binds.unwrap()[1],
            "/srv/jobs/.sandbox-resolv.conf:/etc/resolv.conf:ro"
        );
    }
}
