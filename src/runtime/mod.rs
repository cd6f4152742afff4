//! The container-runtime boundary: where a harness process runs.
//!
//! A `Runtime` starts one command per job with an explicit environment and a workspace,
//! streams its stdout/stderr, waits for it, kills it and cleans up after it. The job code
//! sees only this trait: `docker` (the default, through the Docker Engine API) and `process`
//! (a local child, unsafe for production) implement it, and Kubernetes Jobs will too.
//!
//! The limits a run gets are decided here, purely, from the admin's `[sandbox]` policy and
//! the agent's own `sandbox:` request (`policy::resolve`).

use std::path::{Path, PathBuf};

use tokio::io::AsyncRead;

pub mod docker;
pub mod hostfs;
pub mod kubernetes;
pub mod open;
pub mod policy;
pub mod process;
pub mod set;

pub use policy::{NetworkMode, SandboxOverride, SandboxPolicy, SandboxSpec};

/// Labels every container carries, so a restarted bot can find what a crashed one left.
pub const LABEL_JOB: &str = "threadwork.job";
pub const LABEL_AGENT: &str = "threadwork.agent";
pub const LABEL_INSTANCE: &str = "threadwork.instance";

/// One harness process to start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub job_id: u64,
    pub agent: String,
    pub program: String,
    pub args: Vec<String>,
    /// The whole environment of the process: built by the job, never inherited.
    pub env: Vec<(String, String)>,
    /// The job's workspace on the bot's machine; the only writable place for the run.
    pub workspace: PathBuf,
    pub spec: SandboxSpec,
    /// A file, as the run sees it, that becomes the program's standard input (the task, kept
    /// out of the arguments that `ps` on the host and a pod's spec show); else empty input.
    pub stdin: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit status, when the process exited by itself.
    pub code: Option<i64>,
    /// The kernel killed it for going over its memory limit.
    pub oom_killed: bool,
}

impl Exit {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.oom_killed
    }
}

/// A started run: its output streams and a handle to control it.
pub struct Spawned {
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
    pub handle: Box<dyn RunHandle>,
}

#[async_trait::async_trait]
pub trait RunHandle: Send {
    /// Waits until the process has ended.
    async fn wait(&mut self) -> Result<Exit, RuntimeError>;
    /// Ends the process now (SIGKILL); a run that already ended is left as it is. An error
    /// means the run may still be going: a stop is not reported as done on it.
    async fn kill(&mut self) -> Result<(), RuntimeError>;
    /// Removes what the run left behind in the runtime (the container); idempotent.
    async fn cleanup(&mut self);
    /// Waits until what the run wrote is in the workspace on the bot's side, once its final
    /// event is in: a runtime that copies the workspace back (Kubernetes) finishes that here.
    /// A bind-mounted workspace is there already.
    async fn settle(&mut self) -> Result<(), RuntimeError> {
        Ok(())
    }
}

/// Something a previous bot process left running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The runtime it is in.
    pub runtime: policy::RuntimeKind,
    /// The runtime's own name for it (a container name).
    pub name: String,
    pub job_id: Option<u64>,
    pub agent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "the sandbox image `{image}` is not present on the Docker host; build it with `{build}`"
    )]
    MissingImage { image: String, build: String },
    #[error("cannot pull the sandbox image `{image}`: {reason}; the bot pulls anonymously: check the registry's address, or pull a private image on the Docker host beforehand (`docker pull {image}` after `docker login`)")]
    PullFailed { image: String, reason: String },
    #[error("the Docker Engine is not reachable ({0}); start `dockerd` or set `[sandbox] runtime = \"process\"` on a development machine")]
    Unreachable(String),
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("the container runtime refused the run: {0}")]
    Refused(String),
    #[error("cannot prepare the workspace {}: {source}", path.display())]
    Workspace {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[async_trait::async_trait]
pub trait Runtime: Send + Sync {
    /// `docker`, `process`, …: shown in logs and on the audit record.
    fn name(&self) -> &'static str;
    /// Where the run sees its workspace (`/workspace` in a container).
    fn workspace_in_sandbox(&self, host: &Path, spec: &SandboxSpec) -> PathBuf;
    /// The model endpoint the run reaches under network mode `model`, as `host:port`.
    fn model_address(&self, spec: &SandboxSpec) -> Option<String>;
    /// The egress proxy (`host:port`) a run with network `open` goes out through, for
    /// runtimes that fence `open` that way (Docker); `None` where it goes out directly.
    fn egress_address(&self, _spec: &SandboxSpec) -> Option<String> {
        None
    }
    /// The image a run with `spec` starts from, for runtimes that use images: named when a
    /// program is missing from it.
    fn image_of(&self, _spec: &SandboxSpec) -> Option<String> {
        None
    }
    /// The content digest of `image` (for the audit chain), when the runtime has one.
    async fn image_digest(&self, _image: &str) -> Option<String> {
        None
    }
    /// Removes what runs left beside their sandboxes (a Docker run's network), once the
    /// leftovers are dealt with at start-up.
    async fn sweep(&self) -> Result<(), RuntimeError> {
        Ok(())
    }
    /// The container engine's components and their versions (`Engine`, `runc`, …), when the
    /// runtime has them (for `doctor`).
    async fn engine_versions(&self) -> Option<Vec<(String, String)>> {
        None
    }
    /// Whether the runtime answers (for `/readyz` and `doctor`).
    async fn ping(&self) -> Result<(), RuntimeError> {
        Ok(())
    }
    async fn spawn(&self, launch: Launch) -> Result<Spawned, RuntimeError>;
    /// Follows a run a previous bot process left (`leftovers`), from its first output line,
    /// bringing its workspace back to `workspace` when it ends; `None` when this runtime
    /// cannot (its runs end with the bot) or the run is gone.
    async fn attach(
        &self,
        _leftover: &Leftover,
        _workspace: &Path,
    ) -> Result<Option<Spawned>, RuntimeError> {
        Ok(None)
    }
    /// From now on, runs whose handles are dropped are left running, for the next process
    /// to re-attach to (a graceful stop). Runtimes whose runs end with the bot ignore it.
    fn leave_runs(&self) {}
    /// Runs this bot instance left behind (after a crash).
    async fn leftovers(&self) -> Result<Vec<Leftover>, RuntimeError>;
    /// Kills and removes a leftover.
    async fn remove(&self, leftover: &Leftover) -> Result<(), RuntimeError>;
}
