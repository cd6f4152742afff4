//! The `command` harness: runs a configured CLI as a child process and reads its stdout.
//!
//! In `json` mode every stdout line is one `HarnessEvent` as JSON (the protocol in the README);
//! a line that does not parse becomes an error event naming the line, never a crash. In `text`
//! mode each line is progress and the whole output is the answer. The CLI runs in the
//! configured `Runtime` (a container by default) with an explicit environment (never the
//! bot's own), so no token reaches it.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::decode::Decoder;
use super::{Harness, HarnessError, HarnessEvent, HarnessRun};
use crate::runtime::process::ProcessRuntime;
use crate::runtime::RunHandle;
use crate::runtime::{Exit, Launch, NetworkMode, Runtime, Spawned};

/// Longest stdout line kept whole; the rest of a longer line is dropped with a notice.
pub const MAX_LINE_BYTES: usize = 256 * 1024;
/// Most output kept as a text-mode answer.
const MAX_TEXT_ANSWER_BYTES: usize = 1024 * 1024;
const STDERR_TAIL_LINES: usize = 10;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    #[default]
    Json,
    Text,
}

/// How to run the CLI; from the `[harness.<name>]` config table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub mode: OutputMode,
    /// Extra environment for the child, by value (never copied from the bot's environment).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

pub struct CommandHarness {
    spec: CommandSpec,
    runtime: Arc<dyn Runtime>,
}

impl CommandHarness {
    /// Runs the CLI as a local child process (the `process` runtime).
    pub fn new(spec: CommandSpec) -> Self {
        Self::with_runtime(spec, Arc::new(ProcessRuntime::new()))
    }

    pub fn with_runtime(spec: CommandSpec, runtime: Arc<dyn Runtime>) -> Self {
        Self { spec, runtime }
    }
}

fn fill(arg: &str, run: &HarnessRun, workdir: &str) -> String {
    arg.replace("{task}", &run.task)
        .replace("{model}", run.model.as_deref().unwrap_or(""))
        .replace("{agent}", &run.agent)
        .replace("{workdir}", workdir)
}

/// The child's whole environment: a fixed allow-list plus the job's own values.
fn child_env(
    spec: &CommandSpec,
    run: &HarnessRun,
    workdir: &str,
    model_address: Option<String>,
) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PATH".to_string(),
            "/usr/local/bin:/usr/bin:/bin".to_string(),
        ),
        ("HOME".to_string(), workdir.to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("THREADWORK_JOB_ID".to_string(), run.job_id.to_string()),
        ("THREADWORK_AGENT".to_string(), run.agent.clone()),
        ("THREADWORK_TASK".to_string(), run.task.clone()),
        (
            "THREADWORK_ROLE_PROMPT".to_string(),
            run.role_prompt.clone(),
        ),
        (
            "THREADWORK_MODEL".to_string(),
            run.model.clone().unwrap_or_default(),
        ),
    ];
    // A Docker run with `open` reaches its model through the same forwarder as `model`.
    if run.sandbox.network == NetworkMode::Model || run.egress_proxy.is_some() {
        if let Some(addr) = model_address {
            env.push(("THREADWORK_MODEL_ADDR".to_string(), addr));
        }
        // The job's own grant on the model proxy: `/anthropic/v1/…`, `/openai/v1/…` or
        // `/google/v1beta/…` follow, with any key (the proxy puts the real one in).
        if let Some(base) = &run.model_base {
            env.push(("THREADWORK_MODEL_URL".to_string(), base.clone()));
        }
    }
    env.extend(super::proxy_env(run));
    if !run.mcp.is_empty() {
        env.push((
            "THREADWORK_MCP_SERVERS".to_string(),
            crate::mcp::servers_json(&run.mcp),
        ));
    }
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Reads one line of at most `MAX_LINE_BYTES`; returns (line, truncated), or None at EOF.
async fn read_bounded_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let mut line = Vec::new();
    let mut truncated = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty() || truncated).then_some((line, truncated)));
        }
        let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        if chunk.len() > room {
            truncated = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = found.unwrap_or(buf.len());
        reader.consume(used);
        if found.is_some() {
            return Ok(Some((line, truncated)));
        }
    }
}

/// Maps one stdout line in json mode to an event.
pub fn parse_json_line(line_no: usize, line: &str) -> HarnessEvent {
    match serde_json::from_str::<HarnessEvent>(line) {
        Ok(event) => event,
        Err(e) => HarnessEvent::Error {
            message: format!(
                "harness printed a malformed line {line_no} ({e}): `{}`",
                crate::text::clip(line, 200)
            ),
        },
    }
}

#[async_trait::async_trait]
impl Harness for CommandHarness {
    async fn start(
        &self,
        run: HarnessRun,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError> {
        let workdir = self
            .runtime
            .workspace_in_sandbox(&run.workdir, &run.sandbox)
            .display()
            .to_string();
        let program = fill(&self.spec.program, &run, &workdir);
        let memory_mb = run.sandbox.memory_mb;
        let launch = Launch {
            stdin: None,
            job_id: run.job_id,
            agent: run.agent.clone(),
            program: program.clone(),
            args: self
                .spec
                .args
                .iter()
                .map(|a| fill(a, &run, &workdir))
                .collect(),
            env: child_env(
                &self.spec,
                &run,
                &workdir,
                self.runtime.model_address(&run.sandbox),
            ),
            workspace: run.workdir.clone(),
            spec: run.sandbox.clone(),
        };
        stream(
            self.runtime.as_ref(),
            launch,
            self.decoder(),
            cancel,
            memory_mb,
        )
        .await
    }

    async fn reattach(
        &self,
        run: HarnessRun,
        spawned: Spawned,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError> {
        Ok(stream_spawned(
            spawned,
            self.spec.program.clone(),
            run.job_id,
            self.runtime.image_of(&run.sandbox),
            self.decoder(),
            cancel,
            run.sandbox.memory_mb,
        ))
    }

    fn runtime(&self) -> Option<Arc<dyn Runtime>> {
        Some(self.runtime.clone())
    }
}

impl CommandHarness {
    fn decoder(&self) -> Box<dyn Decoder> {
        match self.spec.mode {
            OutputMode::Json => Box::new(ProtocolDecoder),
            OutputMode::Text => Box::new(TextDecoder::default()),
        }
    }
}

/// The JSON-lines protocol of the README: each line is a `HarnessEvent`.
pub struct ProtocolDecoder;

impl Decoder for ProtocolDecoder {
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent> {
        if line.trim().is_empty() {
            return vec![];
        }
        vec![parse_json_line(n, line.trim())]
    }
}

/// Plain text: each line is progress, the whole output is the answer.
#[derive(Default)]
pub struct TextDecoder {
    answer: String,
}

impl Decoder for TextDecoder {
    fn line(&mut self, _n: usize, line: &str) -> Vec<HarnessEvent> {
        if self.answer.len() < MAX_TEXT_ANSWER_BYTES {
            self.answer.push_str(line);
            self.answer.push('\n');
        }
        vec![HarnessEvent::AssistantText {
            text: line.to_string(),
        }]
    }

    fn finish(&mut self) -> Option<HarnessEvent> {
        Some(HarnessEvent::Finished {
            answer: self.answer.trim_end().to_string(),
        })
    }
}

/// Starts `launch` in `runtime` and streams its decoded events. The channel closes after a
/// final event; cancelling kills the process and removes its sandbox.
pub async fn stream(
    runtime: &dyn Runtime,
    launch: Launch,
    decoder: Box<dyn Decoder>,
    cancel: CancellationToken,
    memory_mb: u64,
) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError> {
    let program = launch.program.clone();
    let job_id = launch.job_id;
    let image = runtime.image_of(&launch.spec);
    let spawned = runtime.spawn(launch).await?;
    Ok(stream_spawned(
        spawned, program, job_id, image, decoder, cancel, memory_mb,
    ))
}

/// Streams the decoded events of a run already started (or re-attached after a restart).
pub fn stream_spawned(
    spawned: Spawned,
    program: String,
    job_id: u64,
    image: Option<String>,
    mut decoder: Box<dyn Decoder>,
    cancel: CancellationToken,
    memory_mb: u64,
) -> mpsc::Receiver<HarnessEvent> {
    let mut child = spawned.handle;
    let stdout = spawned.stdout;
    let stderr = spawned.stderr;
    let (tx, rx) = mpsc::channel(256);

    let stderr_tail = tokio::spawn(async move {
        let mut tail = VecDeque::new();
        let mut reader = BufReader::new(stderr);
        while let Ok(Some((line, _))) = read_bounded_line(&mut reader).await {
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(String::from_utf8_lossy(&line).into_owned());
        }
        tail.into_iter().collect::<Vec<_>>().join("\n")
    });

    tokio::spawn(
        async move {
            let mut reader = BufReader::new(stdout);
            let mut line_no = 0;
            // The final event, held until the run's files are back (`RunHandle::settle`).
            let mut finished = None;
            let mut last_lines: VecDeque<String> = VecDeque::new();
            'read: loop {
                let next = tokio::select! {
                    _ = cancel.cancelled() => {
                        stop_run(child.as_mut(), &tx).await;
                        return;
                    }
                    next = read_bounded_line(&mut reader) => next,
                };
                let Ok(Some((bytes, truncated))) = next else {
                    break;
                };
                line_no += 1;
                let line = String::from_utf8_lossy(&bytes).into_owned();
                if last_lines.len() == 5 {
                    last_lines.pop_front();
                }
                last_lines.push_back(crate::text::clip(&line, 300));
                let events = if truncated {
                    vec![HarnessEvent::Error {
                        message: format!(
                            "harness printed line {line_no} longer than {MAX_LINE_BYTES} bytes"
                        ),
                    }]
                } else {
                    decoder.line(line_no, &line)
                };
                for event in events {
                    super::probe::read(job_id);
                    if event.is_final() {
                        finished = Some(event);
                        break 'read;
                    }
                    if tx.send(event).await.is_err() {
                        let _ = child.kill().await;
                        child.cleanup().await;
                        return;
                    }
                }
            }
            if let Some(event) = finished {
                // The answer goes out once the run's files are where delivery reads them (a
                // runtime that copies the workspace back is still at it), then the run is over:
                // a child that lingers is not waited for.
                let settled = tokio::select! {
                    _ = cancel.cancelled() => { stop_run(child.as_mut(), &tx).await; return; }
                    settled = child.settle() => settled,
                };
                let event = match settled {
                    Ok(()) => event,
                    Err(e) => HarnessEvent::Error {
                        message: format!(
                            "the run finished, but its workspace did not come back: {e}"
                        ),
                    },
                };
                let _ = tx.send(event).await;
                let _ = child.kill().await;
                child.cleanup().await;
                return;
            }
            let status = tokio::select! {
                _ = cancel.cancelled() => { stop_run(child.as_mut(), &tx).await; return; }
                status = child.wait() => status,
            };
            // Bounded: a process the run left behind may hold its stderr open.
            let stderr = tokio::time::timeout(std::time::Duration::from_secs(2), stderr_tail)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let last = last_lines.into_iter().collect::<Vec<_>>().join("\n");
            let event = match status {
                Ok(s) if s.success() => decoder.finish().unwrap_or_else(|| HarnessEvent::Error {
                    message: exit_message(&program, s, memory_mb, &last, &stderr),
                }),
                // A process of the run was killed for memory, yet the CLI itself finished
                // well: its answer stands, and the card says what happened.
                Ok(s) if s.code == Some(0) && s.oom_killed => match decoder.finish() {
                    Some(answer @ HarnessEvent::Finished { .. }) => {
                        let _ = tx
                            .send(HarnessEvent::ToolFinished {
                                id: None,
                                name: "sandbox".into(),
                                summary: format!(
                                    "a process ran out of memory (the limit is {memory_mb} MB) and was killed"
                                ),
                                ok: false,
                            })
                            .await;
                        answer
                    }
                    other => other.unwrap_or_else(|| HarnessEvent::Error {
                        message: exit_message(&program, s, memory_mb, &last, &stderr),
                    }),
                },
                // The container's init says so when it cannot exec the program; a script that
                // exits 127 for a command of its own is an ordinary failure.
                Ok(s)
                    if s.code == Some(NOT_FOUND)
                        && line_no == 0
                        && not_found(&program, &stderr) =>
                {
                    HarnessEvent::Error {
                        message: missing_program(&program, image.as_deref(), &stderr),
                    }
                }
                Ok(s) => HarnessEvent::Error {
                    message: exit_message(&program, s, memory_mb, &last, &stderr),
                },
                Err(e) => HarnessEvent::Error {
                    message: format!("`{program}` could not be waited for: {e}"),
                },
            };
            // The ending goes out before the sandbox is removed: a follower let go of by a
            // graceful stop finds it, or the sandbox is still there for the next process.
            let _ = tx.send(event).await;
            child.cleanup().await;
        }
        .in_current_span(),
    );
    rx
}

/// The exit status of an `exec` that found no such program (shells and the container's init).
const NOT_FOUND: i64 = 127;

/// Whether `stderr` is the container's init or its `timeout` wrapper (coreutils, busybox)
/// saying it found no `program`.
fn not_found(program: &str, stderr: &str) -> bool {
    stderr.contains(&format!("exec {program} failed"))
        || stderr.contains("exec timeout failed")
        || ((stderr.contains("failed to run command") || stderr.contains("can't execute"))
            && stderr.contains(program))
        // The shell that gives the program its standard input (`docker::STDIN_FROM`).
        || (stderr.contains("exec") && stderr.contains(&format!("{program}: not found")))
}

fn missing_program(program: &str, image: Option<&str>, stderr: &str) -> String {
    let mut msg = match image {
        Some(image) if stderr.contains("exec timeout failed") => format!(
            "the sandbox image `{image}` has no `timeout` program (coreutils or busybox), which \
             holds the job's time limit inside the container; use an image that has it"
        ),
        Some(image) => format!(
            "`{program}` is not installed in the sandbox image `{image}`; use an image that has it \
             (`bash docker/build-images.sh agents` builds `threadwork/agents:dev` with Claude Code, \
             Codex CLI and pi) or set the harness's `program`"
        ),
        None => format!("`{program}` was not found (exit status {NOT_FOUND}); install it or set the harness's `program`"),
    };
    if !stderr.is_empty() {
        msg.push_str(&format!("\nstderr:\n```\n{stderr}\n```"));
    }
    msg
}

fn exit_message(program: &str, status: Exit, memory_mb: u64, last: &str, stderr: &str) -> String {
    let how = if status.oom_killed {
        format!("ran out of memory (its limit is {memory_mb} MB) and was killed")
    } else if status.success() {
        "exited without a final answer".to_string()
    } else {
        match status.code {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        }
    };
    let mut msg = format!("`{program}` {how}");
    if !last.is_empty() {
        msg.push_str(&format!("\nlast output:\n```\n{last}\n```"));
    }
    if !stderr.is_empty() {
        msg.push_str(&format!("\nstderr:\n```\n{stderr}\n```"));
    }
    msg
}

/// Where a harness that needs a scratch directory works when no repo is checked out.
pub fn scratch_dir(base: &std::path::Path, job_id: u64) -> PathBuf {
    base.join(format!("job-{job_id}"))
}

/// Ends a run that was stopped. The driver waits for this task before it reports the job
/// stopped; a kill the runtime refused reaches it as `NotStopped` instead.
async fn stop_run(child: &mut dyn RunHandle, tx: &mpsc::Sender<HarnessEvent>) {
    let killed = child.kill().await;
    child.cleanup().await;
    if let Err(e) = killed {
        let _ = tx
            .send(HarnessEvent::NotStopped {
                message: format!("the sandbox could not be stopped: {e}"),
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &std::path::Path) -> HarnessRun {
        HarnessRun {
            mcp: vec![],
            egress_proxy: None,
            job_id: 7,
            agent: "default".into(),
            role_prompt: "role".into(),
            task: "the task".into(),
            model: Some("m1".into()),
            workdir: dir.to_path_buf(),
            sandbox: Default::default(),
            resume_session: None,
            model_base: None,
        }
    }

    async fn collect(spec: CommandSpec) -> Vec<HarnessEvent> {
        let dir = tempfile::tempdir().unwrap();
        let mut rx = CommandHarness::new(spec)
            .start(run(dir.path()), CancellationToken::new())
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(e) = rx.recv().await {
            out.push(e);
        }
        out
    }

    fn sh(script: &str, mode: OutputMode) -> CommandSpec {
        CommandSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            mode,
            env: BTreeMap::new(),
        }
    }

    /// The process runtime, except that every run is reported as having had a process killed
    /// for memory (as Docker reports any OOM kill in the container).
    struct OomReported;

    struct OomHandle(Box<dyn RunHandle>);

    #[async_trait::async_trait]
    impl RunHandle for OomHandle {
        async fn wait(&mut self) -> Result<crate::runtime::Exit, crate::runtime::RuntimeError> {
            let exit = self.0.wait().await?;
            Ok(crate::runtime::Exit {
                oom_killed: true,
                ..exit
            })
        }
        async fn kill(&mut self) -> Result<(), crate::runtime::RuntimeError> {
            self.0.kill().await
        }
        async fn cleanup(&mut self) {
            self.0.cleanup().await
        }
    }

    #[async_trait::async_trait]
    impl Runtime for OomReported {
        fn name(&self) -> &'static str {
            "process"
        }
        fn workspace_in_sandbox(
            &self,
            host: &std::path::Path,
            _spec: &crate::runtime::SandboxSpec,
        ) -> PathBuf {
            host.to_path_buf()
        }
        fn model_address(&self, _spec: &crate::runtime::SandboxSpec) -> Option<String> {
            None
        }
        async fn spawn(
            &self,
            launch: crate::runtime::Launch,
        ) -> Result<crate::runtime::Spawned, crate::runtime::RuntimeError> {
            let spawned = ProcessRuntime::new().spawn(launch).await?;
            Ok(crate::runtime::Spawned {
                handle: Box::new(OomHandle(spawned.handle)),
                ..spawned
            })
        }
        async fn leftovers(
            &self,
        ) -> Result<Vec<crate::runtime::Leftover>, crate::runtime::RuntimeError> {
            Ok(vec![])
        }
        async fn remove(
            &self,
            _leftover: &crate::runtime::Leftover,
        ) -> Result<(), crate::runtime::RuntimeError> {
            Ok(())
        }
    }

    // Guards (part 2, item 13): a child process killed for memory does not take the answer of
    // a CLI that finished well; the card is told. A CLI that itself fails still fails.
    #[tokio::test]
    async fn an_oom_killed_child_keeps_the_answer_of_a_finished_run() {
        let dir = tempfile::tempdir().unwrap();
        let harness = CommandHarness::with_runtime(
            sh("echo 'the answer'", OutputMode::Text),
            Arc::new(OomReported),
        );
        let mut rx = harness
            .start(run(dir.path()), CancellationToken::new())
            .await
            .unwrap();
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        assert_eq!(
            events.last(),
            Some(&HarnessEvent::Finished {
                answer: "the answer".into()
            })
        );
        assert!(
            events.iter().any(|e| matches!(e, HarnessEvent::ToolFinished { summary, ok: false, .. } if summary.contains("out of memory"))),
            "{events:?}"
        );

        let harness = CommandHarness::with_runtime(
            sh("echo partial; exit 3", OutputMode::Text),
            Arc::new(OomReported),
        );
        let mut rx = harness
            .start(run(dir.path()), CancellationToken::new())
            .await
            .unwrap();
        let mut last = None;
        while let Some(e) = rx.recv().await {
            last = Some(e);
        }
        assert!(
            matches!(&last, Some(HarnessEvent::Error { message }) if message.contains("out of memory")),
            "{last:?}"
        );
    }

    #[tokio::test]
    async fn json_lines_become_events() {
        let events = collect(sh(
            r#"echo '{"type":"started"}'; echo '{"type":"tool_started","name":"bash","summary":"ls"}'; echo "{\"type\":\"finished\",\"answer\":\"$THREADWORK_TASK/$THREADWORK_MODEL\"}""#,
            OutputMode::Json,
        ))
        .await;
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[2],
            HarnessEvent::Finished {
                answer: "the task/m1".into()
            }
        );
    }

    #[tokio::test]
    async fn malformed_line_is_an_error_event() {
        let events = collect(sh(
            "echo '{\"type\":\"started\"}'; echo 'garbage here'; sleep 5",
            OutputMode::Json,
        ))
        .await;
        assert!(
            matches!(&events[1], HarnessEvent::Error { message } if message.contains("malformed line 2") && message.contains("garbage here"))
        );
        assert_eq!(events.len(), 2);
    }

    #[tokio::test]
    async fn crash_reports_status_and_stderr() {
        let events = collect(sh(
            "echo '{\"type\":\"started\"}'; echo boom >&2; exit 3",
            OutputMode::Json,
        ))
        .await;
        match events.last() {
            Some(HarnessEvent::Error { message }) => {
                assert!(message.contains("exited with status 3"), "{message}");
                assert!(message.contains("boom"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn text_mode_answers_with_all_output() {
        let events = collect(sh("echo one; echo two", OutputMode::Text)).await;
        assert_eq!(
            events.last(),
            Some(&HarnessEvent::Finished {
                answer: "one\ntwo".into()
            })
        );
    }

    #[tokio::test]
    async fn environment_is_an_allow_list() {
        std::env::set_var("THREADWORK_TEST_CANARY", "canary-secret-123");
        let events = collect(sh("env", OutputMode::Text)).await;
        let Some(HarnessEvent::Finished { answer }) = events.last() else {
            panic!()
        };
        assert!(!answer.contains("canary-secret-123"));
        assert!(answer.contains("THREADWORK_TASK=the task"));
    }

    #[tokio::test]
    async fn huge_line_is_cut_with_a_notice() {
        let events = collect(sh(
            "head -c 600000 /dev/zero | tr '\\0' 'a'; echo",
            OutputMode::Json,
        ))
        .await;
        assert!(
            matches!(&events[0], HarnessEvent::Error { message } if message.contains("longer than"))
        );
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CommandSpec {
            program: "/nonexistent/cli".into(),
            args: vec![],
            mode: OutputMode::Json,
            env: BTreeMap::new(),
        };
        let err = CommandHarness::new(spec)
            .start(run(dir.path()), CancellationToken::new())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cli"));
    }
}
