//! The harness boundary: something that runs an agent for a job and reports typed events.
//!
//! The event model is the protocol of the system: the card, the final answer, the store (and
//! later the audit log and metrics) consume the same stream, and nothing downstream knows which
//! CLI produced an event. The `command` harness reads exactly these events as JSON lines.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub mod claude;
pub mod cli;
pub mod codex;
pub mod command;
pub mod copilot;
pub mod decode;
pub mod gemini;
pub mod opencode;
pub mod pi;
pub mod probe;
pub mod scripted;

/// One thing a harness reports while it works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HarnessEvent {
    Started {
        #[serde(default)]
        session_id: Option<String>,
    },
    AssistantText {
        text: String,
    },
    ToolStarted {
        #[serde(default)]
        id: Option<String>,
        name: String,
        #[serde(default)]
        summary: String,
    },
    ToolFinished {
        #[serde(default)]
        id: Option<String>,
        name: String,
        #[serde(default)]
        summary: String,
        #[serde(default = "yes")]
        ok: bool,
    },
    FileChanged {
        path: String,
    },
    Usage {
        #[serde(default)]
        input_tokens: u64,
        #[serde(default)]
        output_tokens: u64,
        #[serde(default)]
        cost_usd: f64,
    },
    Finished {
        answer: String,
    },
    /// The model API failed and the CLI tries again (its own retry, reported on the card; the
    /// run goes on).
    Retrying {
        message: String,
    },
    /// Ends the run as failed; `message` is shown in the thread.
    Error {
        message: String,
    },
    /// Sent by the harness itself (never read from a CLI's output) when a stopped run could
    /// not be ended: the job is not reported stopped.
    #[serde(skip)]
    NotStopped {
        message: String,
    },
}

fn yes() -> bool {
    true
}

impl HarnessEvent {
    /// The event's type name, as in its JSON (`assistant_text`, `tool_started`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            HarnessEvent::Started { .. } => "started",
            HarnessEvent::AssistantText { .. } => "assistant_text",
            HarnessEvent::ToolStarted { .. } => "tool_started",
            HarnessEvent::ToolFinished { .. } => "tool_finished",
            HarnessEvent::FileChanged { .. } => "file_changed",
            HarnessEvent::Retrying { .. } => "retrying",
            HarnessEvent::NotStopped { .. } => "not_stopped",
            HarnessEvent::Usage { .. } => "usage",
            HarnessEvent::Finished { .. } => "finished",
            HarnessEvent::Error { .. } => "error",
        }
    }

    /// Applies `f` to every text the event carries (masking secrets, clipping for storage).
    pub fn map_text(self, f: impl Fn(&str) -> String) -> Self {
        use HarnessEvent::*;
        match self {
            Started { session_id } => Started { session_id },
            AssistantText { text } => AssistantText { text: f(&text) },
            ToolStarted { id, name, summary } => ToolStarted {
                id,
                name: f(&name),
                summary: f(&summary),
            },
            ToolFinished {
                id,
                name,
                summary,
                ok,
            } => ToolFinished {
                id,
                name: f(&name),
                summary: f(&summary),
                ok,
            },
            FileChanged { path } => FileChanged { path: f(&path) },
            Retrying { message } => Retrying {
                message: f(&message),
            },
            u @ Usage { .. } => u,
            Finished { answer } => Finished { answer: f(&answer) },
            Error { message } => Error {
                message: f(&message),
            },
            NotStopped { message } => NotStopped {
                message: f(&message),
            },
        }
    }

    /// Events after which the harness has nothing more to say.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            HarnessEvent::Finished { .. } | HarnessEvent::Error { .. }
        )
    }
}

/// Everything a harness needs to run one job.
#[derive(Debug, Clone)]
pub struct HarnessRun {
    pub job_id: u64,
    pub agent: String,
    /// The agent's role prompt.
    pub role_prompt: String,
    /// The task, with the thread's conversation as context.
    pub task: String,
    pub model: Option<String>,
    /// The job's workspace on the bot's machine: the one place the harness may write.
    pub workdir: PathBuf,
    /// Where and how confined the harness runs.
    pub sandbox: crate::runtime::SandboxSpec,
    /// The CLI session to continue (a follow-up in the same thread).
    pub resume_session: Option<String>,
    /// Base URL of this job's model access through the proxy, as the sandbox sees it
    /// (`http://model:8080/t/<token>`); `/anthropic` or `/openai/v1` follow.
    pub model_base: Option<String>,
    /// The agent's MCP servers through the gateway: (name, URL as the sandbox sees it).
    pub mcp: Vec<(String, String)>,
    /// The egress proxy a run with network `open` goes out through (Docker), with the job's
    /// token: `http://threadwork:<token>@model:8080`.
    pub egress_proxy: Option<String>,
}

/// The proxy variables of a run that goes out through the egress proxy: the usual names in
/// both cases (tools read one or the other), and the model forwarder kept direct.
pub fn proxy_env(run: &HarnessRun) -> Vec<(String, String)> {
    let Some(url) = &run.egress_proxy else {
        return vec![];
    };
    let direct = format!("{},localhost,127.0.0.1", crate::runtime::docker::MODEL_HOST);
    [
        ("HTTPS_PROXY", url.as_str()),
        ("https_proxy", url.as_str()),
        ("HTTP_PROXY", url.as_str()),
        ("http_proxy", url.as_str()),
        ("NO_PROXY", direct.as_str()),
        ("no_proxy", direct.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error("{0}")]
    Other(String),
}

#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    /// Starts a run. Events arrive on the returned channel, which closes after the last one;
    /// cancelling `cancel` stops the run and ends the stream.
    async fn start(
        &self,
        run: HarnessRun,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError>;

    /// Follows a run a previous bot process started (its output from the beginning), when
    /// the runtime could re-attach to it.
    async fn reattach(
        &self,
        _run: HarnessRun,
        _spawned: crate::runtime::Spawned,
        _cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError> {
        Err(HarnessError::Other(
            "this harness cannot follow a run it did not start".into(),
        ))
    }

    /// The runtime its runs go to, for re-attaching after a restart.
    fn runtime(&self) -> Option<std::sync::Arc<dyn crate::runtime::Runtime>> {
        None
    }
}
