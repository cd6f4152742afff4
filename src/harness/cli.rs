//! Harnesses for real coding-agent CLIs — Claude Code, Codex, pi, Gemini CLI, opencode,
//! GitHub Copilot CLI — run headless in the sandbox against the model proxy. Each adapter knows its CLI's command line (prompt, model,
//! session to resume, approvals off because the container is the boundary) and decodes its
//! JSON-lines stream into `HarnessEvent`s. Swapping one for another is a line in an agent's
//! prompt file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::command::stream;
use super::decode::Decoder;
use super::{
    claude, codex, copilot, gemini, opencode, pi, Harness, HarnessError, HarnessEvent, HarnessRun,
};
use crate::model::proxy::PLACEHOLDER_KEY;
use crate::model::Provider;
use crate::runtime::{Launch, Runtime};

/// Which CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CliKind {
    Claude,
    Codex,
    Pi,
    Gemini,
    Opencode,
    Copilot,
}

impl CliKind {
    pub fn label(self) -> &'static str {
        match self {
            CliKind::Claude => "Claude Code",
            CliKind::Codex => "Codex CLI",
            CliKind::Pi => "pi",
            CliKind::Gemini => "Gemini CLI",
            CliKind::Opencode => "opencode",
            CliKind::Copilot => "Copilot CLI",
        }
    }

    /// The model API the CLI speaks through the proxy.
    pub fn provider(self) -> Provider {
        match self {
            CliKind::Claude | CliKind::Pi | CliKind::Opencode | CliKind::Copilot => {
                Provider::Anthropic
            }
            CliKind::Codex => Provider::OpenAi,
            CliKind::Gemini => Provider::Google,
        }
    }

    fn default_program(self) -> &'static str {
        match self {
            CliKind::Claude => "claude",
            CliKind::Codex => "codex",
            CliKind::Pi => "pi",
            CliKind::Gemini => "gemini",
            CliKind::Opencode => "opencode",
            CliKind::Copilot => "copilot",
        }
    }

    /// The CLI refuses to start without a model named.
    pub fn needs_model(self) -> bool {
        matches!(self, CliKind::Opencode | CliKind::Copilot)
    }
}

/// `[harness.<name>] kind = "claude" | "codex" | "pi" | "gemini" | "opencode" | "copilot"` in
/// the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliSpec {
    /// The program inside the image; default `claude`, `codex`, `pi`, `gemini`, `opencode` or
    /// `copilot`.
    #[serde(default)]
    pub program: Option<String>,
    /// Extra arguments, before the task.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment, by value.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// What the adapter needs to start its CLI; pure inputs, so command lines are unit-tested.
#[derive(Debug, Clone)]
pub struct CliInvocation {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Files to write under the workspace before the start (relative path, content).
    pub files: Vec<(String, String)>,
    /// The file (as the sandbox sees it) the CLI reads its task from on standard input.
    pub stdin: Option<String>,
}

/// Where the CLI keeps its state: inside the workspace, so a follow-up finds its session
/// (also after a restart), and out of the project's own files.
pub const STATE_DIR: &str = ".threadwork/home";
/// Where a run's role prompt and endpoint settings go: files, not command-line arguments,
/// which every local user can read (`ps`, `/proc/<pid>/cmdline`) and a pod spec shows.
pub const RUN_DIR: &str = ".threadwork/run";
/// Where the agents image keeps Copilot CLI's unpacked payload (read-only in the sandbox).
pub const COPILOT_CACHE: &str = "/opt/copilot-cache";

pub struct CliHarness {
    kind: CliKind,
    spec: CliSpec,
    runtime: Arc<dyn Runtime>,
}

impl CliHarness {
    pub fn new(kind: CliKind, spec: CliSpec, runtime: Arc<dyn Runtime>) -> Self {
        Self {
            kind,
            spec,
            runtime,
        }
    }
}

/// The invocation of `kind` for `run`, with the workspace at `workdir` inside the sandbox.
pub fn invocation(kind: CliKind, spec: &CliSpec, run: &HarnessRun, workdir: &str) -> CliInvocation {
    let home = format!("{workdir}/{STATE_DIR}");
    let role_file = format!("{RUN_DIR}/role.md");
    let role_path = format!("{workdir}/{role_file}");
    let base = run.model_base.clone().unwrap_or_default();
    // Every CLI reads its task from standard input, a file: never an argument, which `ps` on
    // the host and a pod's spec show (and which a task starting with `-` could turn into an
    // option).
    let task_file = format!("{RUN_DIR}/task.md");
    let mut env = vec![
        (
            "PATH".to_string(),
            "/usr/local/bin:/usr/bin:/bin".to_string(),
        ),
        ("HOME".to_string(), home.clone()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("THREADWORK_JOB_ID".to_string(), run.job_id.to_string()),
        ("THREADWORK_AGENT".to_string(), run.agent.clone()),
    ];
    let program = spec
        .program
        .clone()
        .unwrap_or_else(|| kind.default_program().to_string());
    let mut args = spec.args.clone();
    let mut files = vec![];
    match kind {
        CliKind::Claude => {
            env.extend([
                ("ANTHROPIC_BASE_URL".into(), format!("{base}/anthropic")),
                ("ANTHROPIC_API_KEY".into(), PLACEHOLDER_KEY.into()),
                (
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                    "1".into(),
                ),
                ("DISABLE_AUTOUPDATER".into(), "1".into()),
                ("DISABLE_TELEMETRY".into(), "1".into()),
            ]);
            args.extend(
                [
                    "-p",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                    "--dangerously-skip-permissions",
                    "--append-system-prompt-file",
                    &role_path,
                ]
                .map(String::from),
            );
            files.push((role_file.clone(), run.role_prompt.clone()));
            if let Some(m) = &run.model {
                args.extend(["--model".into(), m.clone()]);
            }
            if let Some(s) = resumable(run) {
                args.extend(["--resume".into(), s.clone()]);
            }
            if !run.mcp.is_empty() {
                // All of the gateway's tools offered up front (not deferred behind Claude
                // Code's tool search), and only them: nothing from files in the workspace.
                // The endpoints hold the job's token: a file, not an argument.
                env.push(("ENABLE_TOOL_SEARCH".into(), "false".into()));
                let mcp_file = format!("{RUN_DIR}/mcp.json");
                args.extend([
                    "--mcp-config".into(),
                    format!("{workdir}/{mcp_file}"),
                    "--strict-mcp-config".into(),
                ]);
                files.push((mcp_file, crate::mcp::claude_config(&run.mcp)));
            }
        }
        CliKind::Codex => {
            env.extend([
                ("OPENAI_API_KEY".into(), PLACEHOLDER_KEY.into()),
                ("CODEX_HOME".into(), format!("{home}/.codex")),
            ]);
            // The endpoint (with the job's token), the role prompt and the MCP servers go in
            // CODEX_HOME's config.toml, not on the command line.
            let mut config = format!(
                "model_provider = \"threadwork\"\ndeveloper_instructions = {}\n\n\
                 [model_providers.threadwork]\nname = \"threadwork\"\nbase_url = {}\n\
                 wire_api = \"responses\"\nenv_key = \"OPENAI_API_KEY\"\n",
                toml_string(&run.role_prompt),
                toml_string(&format!("{base}/openai/v1")),
            );
            for (name, url) in &run.mcp {
                config.push_str(&format!(
                    "\n[mcp_servers.{}]\nurl = {}\n",
                    toml_string(name),
                    toml_string(url)
                ));
            }
            files.push((format!("{STATE_DIR}/.codex/config.toml"), config));
            args.extend(
                [
                    "exec",
                    "--json",
                    "--skip-git-repo-check",
                    "--dangerously-bypass-approvals-and-sandbox",
                    // Also as an argument (no secret in it), which no other config overrides.
                    "-c",
                    "model_provider=threadwork",
                ]
                .map(String::from),
            );
            if let Some(m) = &run.model {
                args.extend(["-m".into(), m.clone()]);
            }
            if let Some(s) = resumable(run) {
                args.extend(["resume".into(), s.clone()]);
            }
            // `-`: the prompt is standard input.
            args.push("-".into());
        }
        CliKind::Pi => {
            env.extend([
                ("ANTHROPIC_API_KEY".into(), PLACEHOLDER_KEY.into()),
                ("PI_OFFLINE".into(), "1".into()),
            ]);
            files.push((
                format!("{STATE_DIR}/.pi/agent/models.json"),
                serde_json::json!({"providers": {"anthropic": {"baseUrl": format!("{base}/anthropic")}}})
                    .to_string(),
            ));
            args.extend(
                [
                    "--mode",
                    "json",
                    "-p",
                    "--provider",
                    "anthropic",
                    // pi reads the file when the argument names one.
                    "--append-system-prompt",
                    &role_path,
                ]
                .map(String::from),
            );
            files.push((role_file.clone(), run.role_prompt.clone()));
            if let Some(m) = &run.model {
                args.extend(["--model".into(), m.clone()]);
            }
            if let Some(s) = resumable(run) {
                args.extend(["--session".into(), s.clone()]);
            }
        }
        CliKind::Gemini => {
            env.extend([
                ("GEMINI_CLI_HOME".into(), home.clone()),
                ("GOOGLE_GEMINI_BASE_URL".into(), format!("{base}/google")),
                ("GEMINI_API_KEY".into(), PLACEHOLDER_KEY.into()),
                // Runs in this process instead of re-launching itself with more memory.
                ("GEMINI_CLI_NO_RELAUNCH".into(), "true".into()),
            ]);
            // The endpoint's key kind, nothing sent home, no trust prompt that would quietly
            // turn approvals back on, and few retries (the proxy's refusals are final).
            let mut settings = serde_json::json!({
                "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": false}},
                "privacy": {"usageStatisticsEnabled": false},
                "telemetry": {"enabled": false},
                "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false, "maxAttempts": 3},
                "tools": {"sandbox": false},
                "ide": {"enabled": false},
            });
            if !run.mcp.is_empty() {
                settings["mcpServers"] = run
                    .mcp
                    .iter()
                    .map(|(name, url)| (name.clone(), serde_json::json!({"httpUrl": url})))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            files.push((
                format!("{STATE_DIR}/.gemini/settings.json"),
                settings.to_string(),
            ));
            // The user-level context file: it comes after the CLI's own system prompt, which
            // stays whole (`GEMINI_SYSTEM_MD` would replace it), and outside the project.
            files.push((
                format!("{STATE_DIR}/.gemini/GEMINI.md"),
                run.role_prompt.clone(),
            ));
            args.extend(["--output-format", "stream-json", "--yolo"].map(String::from));
            if let Some(m) = &run.model {
                args.extend(["--model".into(), m.clone()]);
            }
            if let Some(s) = resumable(run) {
                args.extend(["--resume".into(), s.clone()]);
            }
        }
        CliKind::Opencode => {
            // The endpoint (with the job's token), the model, approvals off and the role
            // prompt go in its config file; nothing is fetched or shared at start.
            let config_file = format!("{RUN_DIR}/opencode.json");
            env.extend([
                ("OPENCODE_CONFIG".into(), format!("{workdir}/{config_file}")),
                ("OPENCODE_DISABLE_MODELS_FETCH".into(), "1".into()),
                ("OPENCODE_DISABLE_AUTOUPDATE".into(), "1".into()),
                ("OPENCODE_DISABLE_SHARE".into(), "1".into()),
                ("OPENCODE_DISABLE_LSP_DOWNLOAD".into(), "1".into()),
            ]);
            // Checked before the start (`CliHarness::start`): opencode needs a model named.
            let model = run.model.clone().unwrap_or_default();
            let mut config = serde_json::json!({
                "model": format!("threadwork/{model}"),
                "small_model": format!("threadwork/{model}"),
                "permission": {"*": "allow"},
                "share": "disabled",
                "autoupdate": false,
                "instructions": [role_path],
                "provider": {"threadwork": {
                    "npm": "@ai-sdk/anthropic",
                    "options": {"baseURL": format!("{base}/anthropic/v1"), "apiKey": PLACEHOLDER_KEY},
                    "models": {model.clone(): {}},
                }},
            });
            if !run.mcp.is_empty() {
                config["mcp"] = run
                    .mcp
                    .iter()
                    .map(|(name, url)| {
                        let server =
                            serde_json::json!({"type": "remote", "url": url, "enabled": true});
                        (name.clone(), server)
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            files.push((config_file, config.to_string()));
            files.push((role_file.clone(), run.role_prompt.clone()));
            // Approvals off here too: a project's own config may ask for them again.
            args.extend(["run", "--format", "json", "--auto"].map(String::from));
            if let Some(s) = resumable(run) {
                args.extend(["--session".into(), s.clone()]);
            }
        }
        CliKind::Copilot => {
            // Bring-your-own-key mode: Anthropic's API at the proxy, and nothing else reached
            // (no GitHub sign-in, no policy fetch). The payload it unpacks on a first start is
            // unpacked in the image already.
            env.extend([
                ("COPILOT_HOME".into(), format!("{home}/.copilot")),
                ("COPILOT_CACHE_HOME".into(), COPILOT_CACHE.into()),
                ("COPILOT_OFFLINE".into(), "true".into()),
                ("COPILOT_PROVIDER_TYPE".into(), "anthropic".into()),
                (
                    "COPILOT_PROVIDER_BASE_URL".into(),
                    format!("{base}/anthropic"),
                ),
                ("COPILOT_PROVIDER_API_KEY".into(), PLACEHOLDER_KEY.into()),
                // Checked before the start (`CliHarness::start`): it needs a model named.
                (
                    "COPILOT_MODEL".into(),
                    run.model.clone().unwrap_or_default(),
                ),
            ]);
            // The role prompt as a user-level custom agent, outside the project's files.
            files.push((
                format!("{STATE_DIR}/.copilot/agents/threadwork.agent.md"),
                format!(
                    "---\nname: threadwork\ndescription: the agent this job runs\n---\n{}\n",
                    run.role_prompt
                ),
            ));
            args.extend(
                [
                    "--output-format",
                    "json",
                    "--yolo",
                    "--no-ask-user",
                    "--agent",
                    "threadwork",
                ]
                .map(String::from),
            );
            if let Some(s) = resumable(run) {
                args.push(format!("--resume={s}"));
            }
            // The gateway's servers for this run only (a file in the run's folder, so a later
            // run without them keeps none); no built-in GitHub servers, which need GitHub.
            args.push("--disable-builtin-mcps".into());
            if !run.mcp.is_empty() {
                let mcp_file = format!("{RUN_DIR}/mcp.json");
                args.push(format!("--additional-mcp-config=@{workdir}/{mcp_file}"));
                files.push((mcp_file, crate::mcp::claude_config(&run.mcp)));
            }
        }
    }
    // Every CLI also gets the gateway's endpoints by name (pi has no MCP client of its own;
    // an extension of the team's can read them).
    if !run.mcp.is_empty() {
        env.push((
            "THREADWORK_MCP_SERVERS".into(),
            crate::mcp::servers_json(&run.mcp),
        ));
    }
    env.extend(super::proxy_env(run));
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let stdin = Some(format!("{workdir}/{task_file}"));
    files.push((task_file, run.task.clone()));
    CliInvocation {
        program,
        args,
        env,
        files,
        stdin,
    }
}

/// The session to resume, unless it could be read as an option or carries control
/// characters: it comes from the sandbox's own output.
fn resumable(run: &HarnessRun) -> Option<&String> {
    run.resume_session
        .as_ref()
        .filter(|s| !s.is_empty() && !s.starts_with('-') && s.len() <= 512)
        .filter(|s| !s.chars().any(char::is_control))
}

/// A TOML basic string (Codex parses `-c key=value` values as TOML).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn decoder(kind: CliKind) -> Box<dyn Decoder> {
    match kind {
        CliKind::Claude => Box::new(claude::ClaudeDecoder::default()),
        CliKind::Codex => Box::new(codex::CodexDecoder::default()),
        CliKind::Pi => Box::new(pi::PiDecoder::default()),
        CliKind::Gemini => Box::new(gemini::GeminiDecoder::default()),
        CliKind::Opencode => Box::new(opencode::OpencodeDecoder::default()),
        CliKind::Copilot => Box::new(copilot::CopilotDecoder::default()),
    }
}

/// Writes the CLI's state into the workspace without following any link the agent planted
/// there (`runtime::hostfs`), then lets the sandbox user own it.
fn write_files(workdir: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    use crate::runtime::hostfs;
    for (rel, content) in files {
        hostfs::write(workdir, Path::new(rel), content.as_bytes())?;
    }
    // The sandbox user must own its state; on a shared host the bot may be another user.
    hostfs::set_modes(&workdir.join(".threadwork"), 0o777, 0o666)
}

#[async_trait::async_trait]
impl Harness for CliHarness {
    async fn start(
        &self,
        run: HarnessRun,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError> {
        if run.model_base.is_none() {
            return Err(HarnessError::Other(format!(
                "{} needs a model: configure the model proxy (`[model]`) and give the agent network `model`",
                self.kind.label()
            )));
        }
        if self.kind.needs_model() && run.model.is_none() {
            return Err(HarnessError::Other(format!(
                "{} needs the agent's model named: add `model:` to `{}`'s prompt file",
                self.kind.label(),
                run.agent
            )));
        }
        let workdir = self
            .runtime
            .workspace_in_sandbox(&run.workdir, &run.sandbox)
            .display()
            .to_string();
        let inv = invocation(self.kind, &self.spec, &run, &workdir);
        write_files(&run.workdir, &inv.files).map_err(|e| {
            HarnessError::Other(format!("cannot prepare the CLI's state directory: {e}"))
        })?;
        let launch = Launch {
            job_id: run.job_id,
            agent: run.agent.clone(),
            program: inv.program,
            args: inv.args,
            env: inv.env,
            workspace: run.workdir.clone(),
            spec: run.sandbox.clone(),
            stdin: inv.stdin,
        };
        stream(
            self.runtime.as_ref(),
            launch,
            decoder(self.kind),
            cancel,
            run.sandbox.memory_mb,
        )
        .await
    }

    async fn reattach(
        &self,
        run: HarnessRun,
        spawned: crate::runtime::Spawned,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<HarnessEvent>, HarnessError> {
        Ok(super::command::stream_spawned(
            spawned,
            self.kind.label().to_string(),
            run.job_id,
            self.runtime.image_of(&run.sandbox),
            decoder(self.kind),
            cancel,
            run.sandbox.memory_mb,
        ))
    }

    fn runtime(&self) -> Option<Arc<dyn Runtime>> {
        Some(self.runtime.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec of a harness table with nothing but its `kind`.
    fn plain_spec() -> CliSpec {
        CliSpec {
            program: None,
            args: vec![],
            env: BTreeMap::new(),
        }
    }

    fn run() -> HarnessRun {
        HarnessRun {
            mcp: vec![],
            egress_proxy: None,
            job_id: 3,
            agent: "coder".into(),
            role_prompt: "Be \"careful\".\nAlways test.".into(),
            task: "fix it".into(),
            model: Some("m1".into()),
            workdir: "/srv/jobs/job-3".into(),
            sandbox: Default::default(),
            resume_session: Some("s-1".into()),
            model_base: Some("http://model:8080/t/abc".into()),
        }
    }

    #[test]
    fn claude_command_line() {
        let inv = invocation(CliKind::Claude, &plain_spec(), &run(), "/workspace");
        assert_eq!(inv.program, "claude");
        let a = inv.args.join(" ");
        assert!(a.starts_with("-p --output-format stream-json --verbose --dangerously-skip-permissions --append-system-prompt-file /workspace/.threadwork/run/role.md"), "{a}");
        assert!(a.ends_with("--model m1 --resume s-1"), "{a}");
        // Neither the role prompt nor the token is an argument (`ps` shows arguments).
        assert!(!a.contains("careful") && !a.contains("/t/abc"), "{a}");
        assert_eq!(
            inv.files,
            [
                (".threadwork/run/role.md".to_string(), run().role_prompt),
                (".threadwork/run/task.md".to_string(), run().task)
            ]
        );
        let env: BTreeMap<_, _> = inv.env.into_iter().collect();
        assert_eq!(
            env["ANTHROPIC_BASE_URL"],
            "http://model:8080/t/abc/anthropic"
        );
        assert_eq!(env["ANTHROPIC_API_KEY"], PLACEHOLDER_KEY);
        assert_eq!(env["HOME"], "/workspace/.threadwork/home");
    }

    #[test]
    fn codex_gets_its_endpoint_and_role_prompt_in_its_config_file() {
        let spec = plain_spec();
        let mut r = run();
        r.mcp = vec![(
            "everything".into(),
            "http://model:8080/t/abc/mcp/everything".into(),
        )];
        let inv = invocation(CliKind::Codex, &spec, &r, "/workspace");
        let a = inv.args.join(" ");
        assert!(!a.contains("careful") && !a.contains("/t/abc"), "{a}");
        let (path, config) = &inv.files[0];
        assert_eq!(path, ".threadwork/home/.codex/config.toml");
        let parsed: toml::Value = toml::from_str(config).unwrap();
        assert_eq!(parsed["model_provider"].as_str(), Some("threadwork"));
        assert_eq!(
            parsed["developer_instructions"].as_str(),
            Some("Be \"careful\".\nAlways test.")
        );
        let provider = &parsed["model_providers"]["threadwork"];
        assert_eq!(
            provider["base_url"].as_str(),
            Some("http://model:8080/t/abc/openai/v1")
        );
        assert_eq!(provider["wire_api"].as_str(), Some("responses"));
        assert_eq!(
            parsed["mcp_servers"]["everything"]["url"].as_str(),
            Some("http://model:8080/t/abc/mcp/everything")
        );
        let tail = &inv.args[inv.args.len() - 3..];
        assert_eq!(tail, ["resume", "s-1", "-"]);
    }

    #[test]
    fn pi_gets_its_endpoint_in_models_json() {
        let spec = CliSpec {
            program: Some("/opt/pi/bin/pi".into()),
            args: vec![],
            env: BTreeMap::new(),
        };
        let inv = invocation(CliKind::Pi, &spec, &run(), "/workspace");
        assert_eq!(inv.program, "/opt/pi/bin/pi");
        let (path, content) = &inv.files[0];
        assert_eq!(path, ".threadwork/home/.pi/agent/models.json");
        assert!(content.contains("http://model:8080/t/abc/anthropic"));
        assert!(inv
            .files
            .contains(&(".threadwork/run/role.md".to_string(), run().role_prompt)));
        assert!(!inv.args.join(" ").contains("careful"));
        assert!(inv.args.ends_with(&["--session".into(), "s-1".into()]));
    }

    #[test]
    fn gemini_gets_its_endpoint_in_the_environment_and_its_role_as_user_context() {
        let spec = plain_spec();
        let mut r = run();
        r.mcp = vec![(
            "everything".into(),
            "http://model:8080/t/abc/mcp/everything".into(),
        )];
        let inv = invocation(CliKind::Gemini, &spec, &r, "/workspace");
        assert_eq!(inv.program, "gemini");
        let a = inv.args.join(" ");
        assert_eq!(
            a,
            "--output-format stream-json --yolo --model m1 --resume s-1"
        );
        let env: BTreeMap<_, _> = inv.env.into_iter().collect();
        assert_eq!(
            env["GOOGLE_GEMINI_BASE_URL"],
            "http://model:8080/t/abc/google"
        );
        assert_eq!(env["GEMINI_API_KEY"], PLACEHOLDER_KEY);
        assert_eq!(env["GEMINI_CLI_HOME"], "/workspace/.threadwork/home");
        let file = |name: &str| {
            inv.files
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, c)| c.clone())
                .unwrap()
        };
        assert_eq!(file(".threadwork/home/.gemini/GEMINI.md"), r.role_prompt);
        let settings: serde_json::Value =
            serde_json::from_str(&file(".threadwork/home/.gemini/settings.json")).unwrap();
        assert_eq!(
            settings["security"]["auth"]["selectedType"],
            "gemini-api-key"
        );
        assert_eq!(settings["security"]["folderTrust"]["enabled"], false);
        assert_eq!(settings["privacy"]["usageStatisticsEnabled"], false);
        assert_eq!(
            settings["mcpServers"]["everything"]["httpUrl"],
            "http://model:8080/t/abc/mcp/everything"
        );
    }

    #[test]
    fn opencode_gets_its_endpoint_model_and_role_in_its_config_file() {
        let spec = plain_spec();
        let inv = invocation(CliKind::Opencode, &spec, &run(), "/workspace");
        assert_eq!(inv.program, "opencode");
        assert_eq!(inv.args.join(" "), "run --format json --auto --session s-1");
        let env: BTreeMap<_, _> = inv.env.into_iter().collect();
        assert_eq!(
            env["OPENCODE_CONFIG"],
            "/workspace/.threadwork/run/opencode.json"
        );
        let (path, config) = &inv.files[0];
        assert_eq!(path, ".threadwork/run/opencode.json");
        let config: serde_json::Value = serde_json::from_str(config).unwrap();
        assert_eq!(config["model"], "threadwork/m1");
        assert_eq!(config["permission"]["*"], "allow");
        let provider = &config["provider"]["threadwork"];
        assert_eq!(
            provider["options"]["baseURL"],
            "http://model:8080/t/abc/anthropic/v1"
        );
        assert_eq!(provider["options"]["apiKey"], PLACEHOLDER_KEY);
        assert!(provider["models"].get("m1").is_some());
        assert_eq!(
            config["instructions"][0],
            "/workspace/.threadwork/run/role.md"
        );
        assert!(inv
            .files
            .contains(&(".threadwork/run/role.md".to_string(), run().role_prompt)));
    }

    #[test]
    fn copilot_runs_bring_your_own_key_against_the_proxy() {
        let spec = plain_spec();
        let inv = invocation(CliKind::Copilot, &spec, &run(), "/workspace");
        assert_eq!(inv.program, "copilot");
        assert_eq!(
            inv.args.join(" "),
            "--output-format json --yolo --no-ask-user --agent threadwork --resume=s-1 --disable-builtin-mcps"
        );
        let env: BTreeMap<_, _> = inv.env.into_iter().collect();
        assert_eq!(
            env["COPILOT_PROVIDER_BASE_URL"],
            "http://model:8080/t/abc/anthropic"
        );
        assert_eq!(env["COPILOT_PROVIDER_TYPE"], "anthropic");
        assert_eq!(env["COPILOT_PROVIDER_API_KEY"], PLACEHOLDER_KEY);
        assert_eq!(env["COPILOT_OFFLINE"], "true");
        assert_eq!(env["COPILOT_MODEL"], "m1");
        assert_eq!(env["COPILOT_HOME"], "/workspace/.threadwork/home/.copilot");
        let (path, agent) = &inv.files[0];
        assert_eq!(path, ".threadwork/home/.copilot/agents/threadwork.agent.md");
        assert!(agent.starts_with("---\nname: threadwork\n"));
        assert!(agent.contains(&run().role_prompt));
        assert!(!inv.args.join(" ").contains("careful"));
    }

    // Guards (part 2, item 8): the task is standard input, a file in the run's folder; no
    // argument holds any of it (`ps` on the host, a pod's spec), so one starting with `-` is
    // never an option either.
    #[test]
    fn the_task_is_standard_input_never_an_argument() {
        let spec = plain_spec();
        let mut r = run();
        r.task = "--system-prompt obey me".into();
        for kind in [
            CliKind::Claude,
            CliKind::Codex,
            CliKind::Pi,
            CliKind::Gemini,
            CliKind::Opencode,
            CliKind::Copilot,
        ] {
            let inv = invocation(kind, &spec, &r, "/workspace");
            assert!(
                !inv.args.iter().any(|a| a.contains("obey me")),
                "{kind:?}: {:?}",
                inv.args
            );
            assert_eq!(
                inv.stdin.as_deref(),
                Some("/workspace/.threadwork/run/task.md"),
                "{kind:?}"
            );
            assert!(
                inv.files
                    .contains(&(".threadwork/run/task.md".into(), r.task.clone())),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_session_that_looks_like_an_option_is_not_resumed() {
        let mut r = run();
        r.resume_session = Some("--dangerously-load-plugins".into());
        for kind in [
            CliKind::Claude,
            CliKind::Codex,
            CliKind::Pi,
            CliKind::Gemini,
        ] {
            let args = invocation(kind, &plain_spec(), &r, "/workspace").args;
            assert!(
                !args.iter().any(|a| a.contains("plugins")),
                "{kind:?}: {args:?}"
            );
        }
    }

    #[test]
    fn mcp_servers_reach_each_cli_its_own_way() {
        let spec = plain_spec();
        let mut r = run();
        r.mcp = vec![(
            "everything".into(),
            "http://model:8080/t/abc/mcp/everything".into(),
        )];
        let claude = invocation(CliKind::Claude, &spec, &r, "/workspace");
        let at = claude
            .args
            .iter()
            .position(|a| a == "--mcp-config")
            .unwrap();
        assert_eq!(claude.args[at + 1], "/workspace/.threadwork/run/mcp.json");
        assert_eq!(claude.args[at + 2], "--strict-mcp-config");
        assert!(claude.files.contains(&(
            ".threadwork/run/mcp.json".to_string(),
            r#"{"mcpServers":{"everything":{"type":"http","url":"http://model:8080/t/abc/mcp/everything"}}}"#.to_string()
        )));
        let pi = invocation(CliKind::Pi, &spec, &r, "/workspace");
        let env: BTreeMap<_, _> = pi.env.into_iter().collect();
        assert_eq!(
            env["THREADWORK_MCP_SERVERS"],
            r#"{"everything":"http://model:8080/t/abc/mcp/everything"}"#
        );
        let copilot = invocation(CliKind::Copilot, &spec, &r, "/workspace");
        assert!(copilot
            .args
            .contains(&"--additional-mcp-config=@/workspace/.threadwork/run/mcp.json".to_string()));
        assert!(copilot
            .files
            .iter()
            .any(|(f, _)| f == ".threadwork/run/mcp.json"));
        let gemini = invocation(CliKind::Gemini, &spec, &r, "/workspace");
        assert!(gemini.files.iter().any(
            |(_, text)| text.contains(r#""httpUrl":"http://model:8080/t/abc/mcp/everything""#)
        ));
        let opencode = invocation(CliKind::Opencode, &spec, &r, "/workspace");
        assert!(opencode
            .files
            .iter()
            .any(|(_, text)| text.contains(r#""type":"remote""#)));
        // Without servers, no MCP flags at all.
        let plain = invocation(CliKind::Claude, &spec, &run(), "/workspace").args;
        assert!(!plain.iter().any(|a| a.contains("mcp")));
    }
}
