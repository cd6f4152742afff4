//! Operability: the audit chain and its export (also through the CLI while the bot runs),
//! transcripts and redaction by value, `/metrics`, `/readyz` across a dropped socket, `doctor`
//! against the emulator, and the HTTP Events API transport with Slack's signature check.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::logs;
use crate::common::*;
use secrecy::SecretString;
use threadwork::chat::slack::Transport;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::{sign_request, EmulatorConfig, SIGNING_SECRET};
use threadwork::forge::{ForgeKind, HostConfig};
use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
use threadwork::harness::Harness;
use threadwork::job::JobState;
use threadwork::store::AuditRecord;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const ALICE: &str = "U0ALICE001";
/// A secret the bot holds (a forge token here) that the harness prints.
const CANARY: &str = "canary-secret-5e6f7a8b9c";

/// Fails on "fail", waits on "slow", prints the canary on "leak", else answers "done: <task>".
fn worker() -> HashMap<String, Arc<dyn Harness>> {
    let script = format!(
        r#"case "$1" in
  *fail*) echo "it broke" >&2; exit 3 ;;
  *slow*) sleep 30 ;;
  *leak*) echo "the token is {CANARY}" ;;
  *) echo "done: $1" ;;
esac"#
    );
    let spec = CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script, "sh".into(), "{task}".into()],
        mode: OutputMode::Text,
        env: Default::default(),
    };
    HashMap::from([(
        "scripted".to_string(),
        Arc::new(CommandHarness::new(spec)) as Arc<dyn Harness>,
    )])
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn world(emu: EmulatorConfig, transport: Transport) -> World {
    let mut w = World::new(emu).await;
    w.config.ops.listen = Some(free_addr());
    w.config.slack.transport = transport;
    w.config.slack.signing_secret = Some(SecretString::from(SIGNING_SECRET));
    w.config.forge.insert(
        "gh".into(),
        HostConfig {
            kind: ForgeKind::Github,
            api_url: "http://127.0.0.1:9/api/v3".into(),
            git_url: "http://127.0.0.1:9/git".into(),
            graphql_url: None,
            token: Some(SecretString::from(CANARY)),
            token_env: None,
            repos: vec!["acme/*".into()],
        },
    );
    w.start_bot(worker()).await;
    w
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn ops_url(w: &World) -> String {
    format!("http://{}", w.bot().ops_addr.unwrap())
}

async fn ask(w: &World, text: &str) -> String {
    w.emu
        .post_as(ALICE, CHANNEL, &format!("<@{BOT_USER_ID}> {text}"), None)
        .await
        .unwrap()
}

/// The job's terminal state in the store, once its final message is posted.
async fn settled(w: &World, id: u64) -> threadwork::job::Job {
    eventually(SECS(30), "the job settled", || async {
        let j = w.bot().bot.store().job(id).ok().flatten()?;
        j.terminal_posted.then_some(j)
    })
    .await
}

fn audit(w: &World) -> Vec<AuditRecord> {
    w.bot().bot.store().audit().unwrap()
}

/// Each sample line of the exposition: `name{labels} value` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value.parse().expect("the value is a number");
        assert!(
            key.starts_with("threadwork_")
                && key
                    .split('{')
                    .next()
                    .unwrap()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        out.insert(key.to_string(), value);
    }
    out
}

#[test]
fn audit_chain_transcripts_redaction_metrics_and_the_cli() {
    logs::captured(logs::Writer::Redacting, async {
        let w = world(EmulatorConfig::default(), Transport::Socket).await;

        // A succeeded job that prints a secret the bot holds, approved by its requester.
        let ok_ts = ask(&w, "leak the token please").await;
        let ok = settled(&w, 1).await;
        assert_eq!(ok.state, JobState::Succeeded);
        let answer = wait_reply(&w, &ok_ts, SECS(10), |m| m.text.contains("the token is")).await;
        assert_eq!(answer.text, "the token is [redacted]");
        w.emu
            .react_as(ALICE, CHANNEL, &answer.ts, "white_check_mark", true)
            .await
            .unwrap();
        // A failed job.
        ask(&w, "fail now").await;
        let failed = settled(&w, 2).await;
        assert_eq!(failed.state, JobState::Failed);
        // A cancelled job: `stop` in its thread while it runs.
        let slow_ts = ask(&w, "slow work").await;
        eventually(SECS(10), "the slow job running", || async {
            let j = w.bot().bot.store().job(3).ok().flatten()?;
            (j.state == JobState::Running).then_some(())
        })
        .await;
        w.emu
            .post_as(
                ALICE,
                CHANNEL,
                &format!("<@{BOT_USER_ID}> stop"),
                Some(&slow_ts),
            )
            .await
            .unwrap();
        let cancelled = settled(&w, 3).await;
        assert_eq!(cancelled.state, JobState::Cancelled);

        let records = eventually(SECS(10), "the approval recorded", || async {
            let r = audit(&w);
            r.iter().any(|r| r.action == "result_approved").then_some(r)
        })
        .await;
        let chain = |job: u64| {
            records
                .iter()
                .find(|r| r.action == "job_finished" && r.job == Some(job))
                .and_then(|r| r.chain.clone())
                .unwrap_or_else(|| panic!("no job_finished record for job {job}"))
        };
        let c1 = chain(1);
        assert_eq!(c1.requester, ALICE);
        assert_eq!(c1.channel, CHANNEL);
        assert!(c1
            .permalink
            .as_deref()
            .is_some_and(|p| p.starts_with("https://emulated.slack.local/archives/")));
        assert_eq!(c1.harness, "scripted");
        assert_eq!(c1.outcome, "succeeded");
        assert!(c1.started_at.is_some() && c1.finished_at.is_some());
        let sandbox = c1.sandbox.clone().expect("the sandbox is recorded");
        assert!(sandbox.limits.contains("network"), "{}", sandbox.limits);
        let r1 = records
            .iter()
            .find(|r| r.action == "job_finished" && r.job == Some(1))
            .unwrap();
        assert_eq!(r1.prompt_version, ok.prompt_version);
        assert_eq!(chain(2).outcome, "failed");
        assert!(chain(2).failure.unwrap().contains("it broke"));
        assert_eq!(chain(3).outcome, "cancelled");
        assert!(records
            .iter()
            .any(|r| r.action == "job_cancelled" && r.job == Some(3) && r.by == ALICE));
        assert!(records
            .iter()
            .any(|r| r.action == "result_approved" && r.job == Some(1) && r.by == ALICE));

        // The transcript replays the run, redacted.
        let transcript = w.bot().bot.store().transcript(1).unwrap();
        assert!(!transcript.is_empty());
        let text = serde_json::to_string(&transcript).unwrap();
        assert!(
            text.contains("[redacted]") && !text.contains(CANARY),
            "{text}"
        );

        // The CLI reads the audit log and the transcript from the running bot's ops server.
        let config = w.dir.path().join("cli.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\npath = {:?}\n\n[ops]\nlisten = \"{}\"\n",
                w.config.store.path,
                w.bot().ops_addr.unwrap()
            ),
        )
        .unwrap();
        let bin = env!("CARGO_BIN_EXE_threadwork");
        let out = std::process::Command::new(bin)
            .args(["audit", "--json", "--outcome", "succeeded", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<AuditRecord> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is a record"))
            .collect();
        assert!(lines.iter().all(|r| r.job == Some(1)), "{lines:?}");
        assert!(lines.iter().any(|r| r.action == "job_finished"));
        assert!(lines.iter().any(|r| r.action == "result_approved"));
        let out = std::process::Command::new(bin)
            .args(["jobs", "show", "1", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(shown.contains("job 1 · succeeded"), "{shown}");
        assert!(shown.contains("the token is [redacted]"), "{shown}");

        // The audit log's hash chain, checked through the ops server as stored.
        let out = std::process::Command::new(bin)
            .args(["audit", "--verify", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && said.contains("audit chain intact"),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // The whole store holds live tokens: not served without an `[ops] token`, not even
        // to a local client of a loopback listener (which `/audit` answers), and the CLI
        // says why.
        let (status, why) = get(&format!("{}/store/backup", ops_url(&w))).await;
        assert_eq!(status, 401);
        assert!(why.contains("set `[ops] token`"), "{why}");
        let out = std::process::Command::new(bin)
            .args(["store", "backup"])
            .arg(w.dir.path().join("refused.backup"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("set `[ops] token`"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!w.dir.path().join("refused.backup").exists());
        assert!(!w.dir.path().join("refused.backup.partial").exists());

        // Metrics: Prometheus text whose job counts match what ran.
        let (status, text) = get(&format!("{}/metrics", ops_url(&w))).await;
        assert_eq!(status, 200);
        assert!(text.ends_with("# EOF\n"));
        let m = samples(&text);
        let jobs = |state: &str| {
            m.get(&format!(
                "threadwork_jobs_total{{agent=\"default\",state=\"{state}\"}}"
            ))
            .copied()
            .unwrap_or(0.0)
        };
        assert_eq!(jobs("queued"), 3.0, "{text}");
        assert_eq!(jobs("running"), 3.0);
        assert_eq!(jobs("succeeded"), 1.0);
        assert_eq!(jobs("failed"), 1.0);
        assert_eq!(jobs("cancelled"), 1.0);
        assert!(m["threadwork_events_received_total"] >= 5.0);
        assert_eq!(
            m["threadwork_events_received_total"],
            m["threadwork_events_acked_total"]
        );
        assert!(m["threadwork_slack_api_calls_total{method=\"chat.postMessage\"}"] >= 3.0);
        assert!(
            m.contains_key("threadwork_harness_events_total{agent=\"default\",kind=\"finished\"}")
        );

        // The logs never held the canary.
        let logs = crate::common::logs::text();
        assert!(!logs.is_empty());
        assert!(!logs.contains(CANARY), "a log line holds the canary");
        // Every line about a job (a `job` field, or inside a job's span) names its agent.
        let about_jobs: Vec<&str> = logs.lines().filter(|l| l.contains("\"job\":")).collect();
        assert!(about_jobs.len() >= 5, "{}", about_jobs.len());
        for line in about_jobs {
            assert!(line.contains("\"agent\":"), "no agent on: {line}");
        }
    });
}

#[test]
fn readyz_follows_the_socket() {
    logs::captured(logs::Writer::Redacting, async {
        let mut w = world(EmulatorConfig::default(), Transport::Socket).await;
        let url = format!("{}/readyz", ops_url(&w));
        assert_eq!(get(&format!("{}/healthz", ops_url(&w))).await.0, 200);
        eventually(SECS(10), "ready", || async {
            (get(&url).await.0 == 200).then_some(())
        })
        .await;
        // The network fails: sockets drop and new ones cannot be opened until the test has seen
        // the bot unready (the outage ends there, not after a fixed time the poll could miss).
        w.emu
            .set_faults(threadwork::emulator::Faults {
                refuse_connections_ms: 120_000,
                ..Default::default()
            })
            .await;
        w.emu.drop_sockets().await;
        let (_, body) = eventually(SECS(30), "unready after the drop", || async {
            let (status, body) = get(&url).await;
            (status == 503).then_some((status, body))
        })
        .await;
        assert!(body.contains("\"slack_connected\":false"), "{body}");
        w.emu
            .set_faults(threadwork::emulator::Faults::default())
            .await;
        eventually(SECS(30), "ready again after the reconnect", || async {
            (get(&url).await.0 == 200).then_some(())
        })
        .await;
        w.bot.take().unwrap().stop().await;
    });
}

#[test]
fn doctor_names_a_missing_scope() {
    logs::captured(logs::Writer::Redacting, async {
        let scopes: Vec<String> = threadwork::emulator::MANIFEST_SCOPES
            .iter()
            .filter(|s| **s != "reactions:write")
            .map(|s| s.to_string())
            .collect();
        let mut w = World::new(EmulatorConfig {
            scopes,
            ..Default::default()
        })
        .await;
        w.config.slack.api_url = Some(w.emu.api_url());
        w.config.slack.bot_token = Some(SecretString::from(threadwork::emulator::BOT_TOKEN));
        w.config.slack.app_token = Some(SecretString::from(threadwork::emulator::APP_TOKEN));
        w.config.fill_defaults();
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.yml");
        let checks = threadwork::cli::doctor::run(&w.config, &manifest).await;
        let text = threadwork::cli::doctor::render(&checks);
        assert!(text.contains("ok    auth.test: bot token valid"), "{text}");
        assert!(text.contains("ok    socket mode"), "{text}");
        assert!(
            text.contains("FAIL  scopes: the bot token lacks reactions:write"),
            "{text}"
        );
        assert!(text.contains("ok    prompt files"), "{text}");
        assert!(
            text.contains("ok    eval suites: 0 suites with 0 cases in prompts/evals; no judge"),
            "{text}"
        );
        assert!(text.contains("ok    store"), "{text}");
        // A bad bot token is named too.
        w.config.slack.bot_token = Some(SecretString::from("xoxb-wrong"));
        let text = threadwork::cli::doctor::render(
            &threadwork::cli::doctor::run(&w.config, &manifest).await,
        );
        assert!(
            text.contains("FAIL  auth.test: Slack refused the bot token: invalid_auth"),
            "{text}"
        );
        // The admin channel: the bot must be in it to post there.
        w.config.slack.bot_token = Some(SecretString::from(threadwork::emulator::BOT_TOKEN));
        w.config.agents.admin_channel = Some(CHANNEL.into());
        let doctor = || async {
            threadwork::cli::doctor::render(
                &threadwork::cli::doctor::run(&w.config, &manifest).await,
            )
        };
        let text = doctor().await;
        assert!(
            text.contains(&format!("ok    admin channel: the bot is in {CHANNEL}")),
            "{text}"
        );
        w.emu.remove_bot_from(CHANNEL).await;
        let text = doctor().await;
        assert!(
            text.contains(&format!(
                "FAIL  admin channel: the bot is not a member of {CHANNEL}"
            )) && text.contains("/invite @threadwork"),
            "{text}"
        );
    });
}

#[test]
fn http_events_transport_checks_signatures() {
    logs::captured(logs::Writer::Redacting, async {
        let addr = free_addr();
        let mut w = World::new(EmulatorConfig {
            request_url: Some(format!("http://{addr}/slack/events")),
            ..Default::default()
        })
        .await;
        w.config.ops.events_listen = Some(addr);
        w.config.ops.listen = Some(free_addr());
        w.config.slack.transport = Transport::Http;
        w.config.slack.signing_secret = Some(SecretString::from(SIGNING_SECRET));
        w.start_bot(worker()).await;
        let url = format!("http://{addr}/slack/events");
        let client = reqwest::Client::new();
        let now = || chrono::Utc::now().timestamp().to_string();

        // The URL check Slack makes when the Request URL is saved.
        let body = r#"{"type":"url_verification","token":"t","challenge":"c-123"}"#;
        let ts = now();
        let r = client
            .post(&url)
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", sign_request(SIGNING_SECRET, &ts, body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), r#"{"challenge":"c-123"}"#);

        // A mention delivered by the emulator over HTTP, signed: the job runs.
        let ts = ask(&w, "over http").await;
        let reply = wait_reply(&w, &ts, SECS(15), |m| m.text.contains("done: over http")).await;
        assert!(reply.text.starts_with("done"));

        // Forged and stale requests are refused and counted; no job comes of them.
        let event = serde_json::json!({
            "token": "t", "team_id": "T0EMULATE1", "api_app_id": "A0EMULATE1", "type": "event_callback",
            "event_id": "Ev0FORGED01", "event_time": 1_700_000_000,
            "event": {"type": "app_mention", "user": ALICE, "channel": CHANNEL, "ts": "1700000000.000100",
                      "event_ts": "1700000000.000100", "text": format!("<@{BOT_USER_ID}> forged work")}
        })
        .to_string();
        let ts = now();
        let forged = client
            .post(&url)
            .header("x-slack-request-timestamp", &ts)
            .header(
                "x-slack-signature",
                sign_request("not-the-secret", &ts, &event),
            )
            .body(event.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
        let old = (chrono::Utc::now().timestamp() - 600).to_string();
        let stale = client
            .post(&url)
            .header("x-slack-request-timestamp", &old)
            .header(
                "x-slack-signature",
                sign_request(SIGNING_SECRET, &old, &event),
            )
            .body(event.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 401);
        let unsigned = client.post(&url).body(event).send().await.unwrap();
        assert_eq!(unsigned.status(), 401);
        // The events listener serves nothing else; the metrics are on the ops listener.
        let (status, _) = get(&format!("http://{addr}/metrics")).await;
        assert_eq!(
            status, 404,
            "the port Slack reaches exposes only /slack/events"
        );
        let (status, _) = get(&format!("http://{addr}/audit")).await;
        assert_eq!(status, 404);
        let (_, text) = get(&format!("{}/metrics", ops_url(&w))).await;
        let m = samples(&text);
        assert_eq!(
            m["threadwork_http_events_rejected_total{reason=\"bad_signature\"}"],
            1.0
        );
        assert_eq!(
            m["threadwork_http_events_rejected_total{reason=\"stale_timestamp\"}"],
            1.0
        );
        assert_eq!(
            m["threadwork_http_events_rejected_total{reason=\"missing_signature\"}"],
            1.0
        );
        // Refused requests were answered 401 above, before any handling: nothing to wait for.
        assert_eq!(
            w.bot().bot.store().jobs().unwrap().len(),
            1,
            "only the signed mention made a job"
        );
        w.bot.take().unwrap().stop().await;
    });
}
