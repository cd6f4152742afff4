//! The `process` runtime: the harness as a local child process of the bot.
//!
//! UNSAFE FOR PRODUCTION: no filesystem, network, CPU or memory isolation. The child gets only
//! the job's environment and the workspace as its working directory; the wall-clock limit is
//! enforced by the job like everywhere else. For development machines without Docker.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::{Exit, Launch, Leftover, RunHandle, Runtime, RuntimeError, Spawned};

#[derive(Debug, Default)]
pub struct ProcessRuntime;

impl ProcessRuntime {
    pub fn new() -> Self {
        Self
    }
}

struct ChildHandle {
    child: Child,
}

#[async_trait::async_trait]
impl RunHandle for ChildHandle {
    async fn wait(&mut self) -> Result<Exit, RuntimeError> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|source| RuntimeError::Spawn {
                program: "child".into(),
                source,
            })?;
        Ok(Exit {
            code: status.code().map(i64::from),
            oom_killed: false,
        })
    }

    async fn kill(&mut self) -> Result<(), RuntimeError> {
        match self.child.kill().await {
            Ok(()) => Ok(()),
            // Already reaped: it has ended.
            Err(_) if matches!(self.child.try_wait(), Ok(Some(_))) => Ok(()),
            Err(e) => Err(RuntimeError::Refused(format!(
                "cannot kill the process: {e}"
            ))),
        }
    }

    async fn cleanup(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[async_trait::async_trait]
impl Runtime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    fn workspace_in_sandbox(&self, host: &Path, _spec: &super::SandboxSpec) -> PathBuf {
        host.to_path_buf()
    }

    fn model_address(&self, _spec: &super::SandboxSpec) -> Option<String> {
        None
    }

    async fn spawn(&self, launch: Launch) -> Result<Spawned, RuntimeError> {
        let stdin =
            match &launch.stdin {
                Some(path) => Stdio::from(std::fs::File::open(path).map_err(|source| {
                    RuntimeError::Spawn {
                        program: launch.program.clone(),
                        source,
                    }
                })?),
                None => Stdio::null(),
            };
        let mut child = Command::new(&launch.program)
            .args(&launch.args)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&launch.workspace)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| RuntimeError::Spawn {
                program: launch.program.clone(),
                source,
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        Ok(Spawned {
            stdout: Box::new(stdout),
            stderr: Box::new(stderr),
            handle: Box::new(ChildHandle { child }),
        })
    }

    async fn leftovers(&self) -> Result<Vec<Leftover>, RuntimeError> {
        // Children die with the bot (kill_on_drop, and the process group on a crash).
        Ok(Vec::new())
    }

    async fn remove(&self, _leftover: &Leftover) -> Result<(), RuntimeError> {
        Ok(())
    }
}
