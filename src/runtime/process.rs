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
        let stdin = match &launch.stdin {
            Some(path) => Stdio::from(open_input(Path::new(path)).map_err(|e| {
                RuntimeError::Refused(format!(
                    "cannot open `{path}` as the standard input of `{}`: {e}",
                    launch.program
                ))
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

/// A regular file to read as a child's standard input: never through a link, and never a
/// FIFO or device that would block the opening thread.
fn open_input(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

#[cfg(test)]
mod input_tests {
    use super::*;

    #[test]
    fn standard_input_is_a_regular_file_reached_without_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let task = dir.path().join("task.md");
        std::fs::write(&task, "the task").unwrap();
        assert!(open_input(&task).is_ok());
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        assert!(open_input(&link).is_err());
        assert!(open_input(dir.path()).is_err());
    }
}
