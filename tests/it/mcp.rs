//! MCP tools through the bot's gateway, with a real MCP server from npm
//! (`@modelcontextprotocol/server-everything`, installed by `scripts/test.sh`):
//!
//! - the gateway alone, driven by an MCP client: only permitted tools are listed, a denied
//!   tool is refused with a message the agent can read, every call is recorded, and a job's
//!   token reaches only its agent's servers;
//! - end to end: Claude Code and Codex in their container, driven by the mock model, call the
//!   server's `echo` tool through the gateway; the tool's output reaches the thread, the audit trail
//!   lists the call, and the server's credential (a canary) is in no container env, workspace
//!   file, Slack message or transcript.
//!
//! With `CI=true` a missing server, Docker or image fails the tests; elsewhere they skip.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::cli::{mock_proxy, start_cli_bot, CliBot};
use crate::common::*;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::EmulatorConfig;
use threadwork::harness::cli::CliKind;
use threadwork::mcp::gateway::Gateway;
use threadwork::mcp::ServerConfig;
use threadwork::model::mock::{MockModel, Step};
use threadwork::model::proxy::{ModelProxy, ProxyConfig};

const CANARY: &str = "canary-mcp-credential-5be1c0de";
const KEY: &str = "sk-real-key-mcp-test-never-in-a-sandbox";
const IMAGE: &str = "threadwork/agents:dev";
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The installed server's entry point, or None (a skip) off CI.
fn everything() -> Option<String> {
    let path = std::env::var("THREADWORK_MCP_EVERYTHING").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/test-npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
        )
        .to_string()
    });
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").is_err(),
        "the MCP server is not installed at {path}; run scripts/test.sh"
    );
    eprintln!("skipped: no MCP server at {path} (scripts/test.sh installs it)");
    None
}

fn servers(entry: &str) -> BTreeMap<String, ServerConfig> {
    let text = format!(
        "[everything]\ncommand = \"node\"\nargs = [{entry:?}, \"stdio\"]\nenv = {{ EVERYTHING_TOKEN = \"{CANARY}\" }}\ndeny = [\"get-env\"]\n"
    );
    let servers: BTreeMap<String, ServerConfig> = toml::from_str(&text).unwrap();
    threadwork::mcp::validate(&servers).unwrap();
    servers
}

#[tokio::test]
async fn the_gateway_lists_permitted_tools_refuses_denied_ones_and_records_calls() {
    let Some(entry) = everything() else { return };
    threadwork::init_tls();
    // The credential is among the values masked in logs, messages and transcripts.
    assert!(threadwork::mcp::secret_values(&servers(&entry)).contains(&CANARY.to_string()));
    let gateway = Arc::new(Gateway::new(&servers(&entry)));
    let config = ProxyConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        ..ProxyConfig::default()
    };
    let proxy = ModelProxy::start_with(config, Some(gateway.clone()))
        .await
        .unwrap();
    let grant = proxy.grant(7, "ops", vec![]);
    grant.open_tools(vec!["everything".into()]);
    let mut calls = grant.take_tool_calls().unwrap();
    let base = format!("http://{}/t/{}", proxy.addr(), grant.token());

    let client = ()
        .serve(StreamableHttpClientTransport::from_uri(format!(
            "{base}/mcp/everything"
        )))
        .await
        .expect("the gateway speaks MCP");
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"echo".to_string()), "{tools:?}");
    assert!(tools.contains(&"get-sum".to_string()), "{tools:?}");
    assert!(!tools.contains(&"get-env".to_string()), "{tools:?}");

    let mut echo = CallToolRequestParams::new("echo");
    echo.arguments = serde_json::json!({"message": "hi there"})
        .as_object()
        .cloned();
    let result = client.call_tool(echo).await.unwrap();
    let text = result.content[0].as_text().unwrap().text.clone();
    assert_eq!(text, "Echo: hi there");

    // The denied tool would print the server's environment, canary included.
    let denied = client
        .call_tool(CallToolRequestParams::new("get-env"))
        .await
        .unwrap();
    assert_eq!(denied.is_error, Some(true));
    let said = denied.content[0].as_text().unwrap().text.clone();
    assert!(said.contains("denied by the bot's administrator"), "{said}");
    assert!(!said.contains(CANARY));

    let first = calls.recv().await.unwrap();
    assert_eq!(
        (
            first.server.as_str(),
            first.tool.as_str(),
            first.outcome.as_str()
        ),
        ("everything", "echo", "ok")
    );
    assert_eq!(first.arguments, r#"{"message":"hi there"}"#);
    let second = calls.recv().await.unwrap();
    assert_eq!(second.tool, "get-env");
    assert!(second.outcome.starts_with("denied: "), "{}", second.outcome);
    client.cancel().await.ok();

    // Another agent's job gets its own connection (its own server process): nothing one
    // agent leaves in a server's state reaches the other's jobs. Jobs of one agent share it.
    assert_eq!(gateway.connections(), 1);
    let same_agent = proxy.grant(9, "ops", vec![]);
    same_agent.open_tools(vec!["everything".into()]);
    let other_agent = proxy.grant(10, "dev", vec![]);
    other_agent.open_tools(vec!["everything".into()]);
    for g in [&same_agent, &other_agent] {
        let client = ()
            .serve(StreamableHttpClientTransport::from_uri(format!(
                "http://{}/t/{}/mcp/everything",
                proxy.addr(),
                g.token()
            )))
            .await
            .expect("the gateway speaks MCP");
        assert!(!client.list_all_tools().await.unwrap().is_empty());
        client.cancel().await.ok();
    }
    assert_eq!(gateway.connections(), 2, "one per agent");

    // Another server name, a grant without tools, and a revoked grant get nothing.
    let http = reqwest::Client::new();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let status = |url: String| {
        let request = http.post(url).json(&body).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("{base}/mcp/warehouse")).await, 404);
    let plain = proxy.grant(8, "plain", vec![]);
    let plain_url = format!("http://{}/t/{}/mcp/everything", proxy.addr(), plain.token());
    assert_eq!(status(plain_url).await, 403);
    drop(grant);
    assert_eq!(status(format!("{base}/mcp/everything")).await, 403);
}

#[tokio::test]
async fn claude_code_calls_an_mcp_tool_through_the_gateway() {
    cli_calls_an_mcp_tool(
        CliKind::Claude,
        "claude",
        "mock-sonnet",
        "mcp__everything__echo",
    )
    .await;
}

#[tokio::test]
async fn codex_calls_an_mcp_tool_through_the_gateway() {
    cli_calls_an_mcp_tool(CliKind::Codex, "codex", "mock-gpt", "mcp__everything").await;
}

#[tokio::test]
async fn gemini_cli_calls_an_mcp_tool_through_the_gateway() {
    cli_calls_an_mcp_tool(
        CliKind::Gemini,
        "gemini",
        "mock-gemini",
        "mcp_everything_echo",
    )
    .await;
}

#[tokio::test]
async fn opencode_calls_an_mcp_tool_through_the_gateway() {
    cli_calls_an_mcp_tool(
        CliKind::Opencode,
        "opencode",
        "mock-sonnet",
        "everything_echo",
    )
    .await;
}

#[tokio::test]
async fn copilot_cli_calls_an_mcp_tool_through_the_gateway() {
    cli_calls_an_mcp_tool(
        CliKind::Copilot,
        "copilot",
        "mock-sonnet",
        "everything-echo",
    )
    .await;
}

/// A job of `kind` whose model calls the server's `echo` tool (offered as `tool_name`).
async fn cli_calls_an_mcp_tool(kind: CliKind, name: &str, model: &str, tool_name: &str) {
    let Some(entry) = everything() else { return };
    if !docker_ready(
        &format!("{name}_calls_an_mcp_tool_through_the_gateway"),
        IMAGE,
        "bash docker/build-images.sh agents",
    )
    .await
    {
        return;
    }
    let script = vec![
        Step::Shell {
            command: "env > /workspace/env.txt; echo done".into(),
        },
        Step::Tool {
            name: "echo".into(),
            input: serde_json::json!({"message": "hello through the gateway"}),
        },
        Step::Text {
            text: "The tool answered: {tool_result}".into(),
        },
    ];
    let mock = MockModel::start(([127, 0, 0, 1], 0).into(), script)
        .await
        .unwrap();
    let mut w = World::new(EmulatorConfig::default()).await;
    w.use_agents(&[(
        "default.md",
        &format!("---\nname: default\ndescription: {name} with tools\nharness: {name}\nmodel: {model}\nmcp: [everything]\nsandbox:\n  network: model\n---\nUse your tools.\n"),
    )]);
    w.config.model = Some(mock_proxy(&mock.url(), KEY));
    w.config.mcp = servers(&entry);
    let CliBot { docker, .. } =
        start_cli_bot(&mut w, kind, name, IMAGE, &format!("mcp-test-{name}")).await;

    let ts = w
        .emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> say hello with your echo tool"),
            None,
        )
        .await
        .unwrap();
    let answer = wait_reply(&w, &ts, SECS(180), |_| true).await;
    // Tool names offered to the model, with those inside Codex's namespace tools and the
    // Gemini API's function declarations.
    let offered: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.body["tools"].as_array().cloned())
        .flatten()
        .flat_map(|t| {
            let mut nested = t["tools"].as_array().cloned().unwrap_or_default();
            nested.extend(
                t["functionDeclarations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            std::iter::once(t).chain(nested)
        })
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    assert!(
        answer.text.contains("Echo: hello through the gateway"),
        "{} (tools offered: {offered:?})",
        answer.text
    );

    // The model saw the gateway's tools natively, without the denied one.
    assert!(offered.iter().any(|n| n == tool_name), "{offered:?}");
    assert!(offered.iter().any(|n| n.ends_with("echo")), "{offered:?}");
    assert!(
        !offered
            .iter()
            .any(|n| n.ends_with("get-env") || n.ends_with("get_env")),
        "{offered:?}"
    );

    let store = w.bot().bot.store();
    let audit = store.audit().unwrap();
    let call = audit
        .iter()
        .find(|r| r.action == "mcp_tool_call")
        .expect("the tool call is in the audit trail");
    let detail = call.detail.clone().unwrap();
    assert!(detail.contains(r#""tool":"echo""#), "{detail}");
    assert!(detail.contains(r#""outcome":"ok""#), "{detail}");
    assert_eq!(call.job, Some(1));
    // The record names the prompt version the job ran with.
    let job = store.job(1).unwrap().unwrap();
    assert!(job.prompt_version.is_some());
    assert_eq!(call.prompt_version, job.prompt_version);
    let transcript = store.transcript(1).unwrap();
    assert!(
        transcript
            .iter()
            .any(|e| format!("{:?}", e.event).contains("mcp everything/echo")),
        "{transcript:?}"
    );

    // The credential stayed with the bot.
    let workspace = w.config.jobs.workdir.join("job-1");
    let env = std::fs::read_to_string(workspace.join("env.txt")).unwrap();
    assert!(env.contains("HOME="), "the shell step ran: {env}");
    let holding = files_holding(&workspace, &[CANARY]);
    assert!(holding.is_empty(), "the canary is in {holding:?}");
    for m in w.thread(&ts).await {
        assert!(!m.text.contains(CANARY));
    }
    assert!(!format!("{transcript:?}").contains(CANARY));
    assert!(!format!("{audit:?}").contains(CANARY));
    if let Some(bot) = w.bot.take() {
        bot.stop().await;
    }
    docker.remove_model_network().await.unwrap();
}

#[tokio::test]
async fn doctor_starts_each_server_and_names_missing_ones() {
    let Some(entry) = everything() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut config = threadwork::config::Config::default();
    config.agents.dir = write_agents(
        dir.path(),
        &[(
            "default.md",
            "---\nname: default\ndescription: Tools\nharness: scripted\nmcp: [everything, warehouse]\n---\nUse tools.\n",
        )],
    );
    config.agents.shared_dir = dir.path().join("shared");
    config.store.path = dir.path().join("store");
    config.mcp = servers(&entry);
    let broken: BTreeMap<String, ServerConfig> =
        toml::from_str("[broken]\ncommand = \"/nonexistent/mcp-server\"\n").unwrap();
    config.mcp.extend(broken);
    config.fill_defaults();
    let checks = threadwork::cli::doctor::run(&config, std::path::Path::new("manifest.yml")).await;
    let text = threadwork::cli::doctor::render(&checks);
    assert!(
        text.contains(
            "FAIL  mcp server: agent `default` lists `warehouse`, which is not configured"
        ),
        "{text}"
    );
    assert!(text.contains("ok    mcp server: `everything`: "), "{text}");
    assert!(text.contains("offered to agents"), "{text}");
    assert!(
        text.contains("FAIL  mcp server: cannot start MCP server `broken`"),
        "{text}"
    );
    assert!(!text.contains(CANARY));
}
