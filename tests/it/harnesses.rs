//! The real CLIs — Claude Code, Codex CLI, pi, Gemini CLI, opencode, GitHub Copilot CLI — in
//! their container, against the mock model through the bot's model proxy: a file edited in the
//! workspace, tool calls and the answer in the thread, the role prompt at the model, no API key
//! in the sandbox, and a follow-up that resumes the same session. With `CI=true` these fail when Docker or the image is missing.

use std::sync::Arc;
use std::time::Duration;

use crate::common::cli::{mock_proxy, start_cli_bot, CliBot};
use crate::common::*;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::EmulatorConfig;
use threadwork::harness::cli::CliKind;
use threadwork::harness::Harness;
use threadwork::model::mock::{MockModel, Step};
use threadwork::runtime::docker::DockerRuntime;
use threadwork::runtime::Runtime;

const IMAGE: &str = "threadwork/agents:dev";
const KEY: &str = "sk-real-key-9f2c71d4-never-in-a-sandbox";
const ROLE_MARKER: &str = "ROLE-PROMPT-MARKER-4471";
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The request carries the real key, in the header its API uses, from the proxy.
fn real_key(r: &threadwork::model::mock::LoggedRequest) -> bool {
    r.header("x-api-key") == Some(KEY)
        || r.header("authorization") == Some(&format!("Bearer {KEY}"))
        || r.header("x-goog-api-key") == Some(KEY)
}

async fn ready(test: &str) -> bool {
    docker_ready(test, IMAGE, "bash docker/build-images.sh agents").await
}

struct Setup {
    w: World,
    mock: MockModel,
    runtime: Arc<DockerRuntime>,
    harnesses: std::collections::HashMap<String, Arc<dyn Harness>>,
}

impl Setup {
    /// Stops the bot and starts a new one on the same store, config and runtime.
    async fn restart_bot(&mut self) {
        // Quiet first: a job's last task (its card's final edit) still holds the store.
        self.w.settle().await;
        if let Some(bot) = self.w.bot.take() {
            bot.stop().await;
        }
        let runtime: Arc<dyn Runtime> = self.runtime.clone();
        self.w
            .start_bot_in(self.harnesses.clone(), Some(runtime))
            .await;
    }
}

async fn setup(kind: CliKind, name: &str, instance: &str, model: &str, script: Vec<Step>) -> Setup {
    setup_in(IMAGE, kind, name, instance, model, script).await
}

async fn setup_in(
    image: &str,
    kind: CliKind,
    name: &str,
    instance: &str,
    model: &str,
    script: Vec<Step>,
) -> Setup {
    setup_with(image, kind, name, instance, model, script, |_| {}).await
}

/// `setup_in` with the config changed by `tweak` before the bot starts.
async fn setup_with(
    image: &str,
    kind: CliKind,
    name: &str,
    instance: &str,
    model: &str,
    script: Vec<Step>,
    tweak: impl FnOnce(&mut threadwork::config::Config),
) -> Setup {
    let mock = MockModel::start(([127, 0, 0, 1], 0).into(), script)
        .await
        .unwrap();
    let mut w = World::new(EmulatorConfig::default()).await;
    w.use_agents(&[(
        "default.md",
        &format!(
            "---\nname: default\ndescription: {name} in a container\nharness: {name}\nmodel: {model}\nowners: [U0ALICE001]\nsandbox:\n  network: model\n---\nYou are a careful engineer. {ROLE_MARKER}\n"
        ),
    )]);
    w.config.model = Some(mock_proxy(&mock.url(), KEY));
    tweak(&mut w.config);
    let CliBot {
        docker: runtime,
        harnesses,
    } = start_cli_bot(&mut w, kind, name, image, instance).await;
    Setup {
        w,
        mock,
        runtime,
        harnesses,
    }
}

fn script(cli: &str) -> Vec<Step> {
    vec![
        Step::WriteFile {
            path: "/workspace/hello.txt".into(),
            content: format!("hello from {cli}"),
        },
        Step::Shell {
            // Also every process's arguments in the sandbox, as `ps` on the host sees them.
            command: "env > /workspace/env.txt; cat /workspace/hello.txt; cat /proc/[0-9]*/cmdline > /workspace/procs.txt".into(),
        },
        Step::Text {
            text: format!("All done: {cli} wrote hello.txt"),
        },
    ]
}

async fn the_cli_runs_edits_answers_and_resumes(
    kind: CliKind,
    name: &str,
    model: &str,
    restart: bool,
) {
    if !ready(name).await {
        return;
    }
    let instance = format!("t-cli-{name}{}", if restart { "-restart" } else { "" });
    let mut s = setup(kind, name, &instance, model, script(name)).await;
    let w = &s.w;
    let ts = w.mention("please write hello.txt").await;
    let answer = wait_reply(w, &ts, SECS(120), |m| {
        m.text.contains("All done") || m.text.contains("failed")
    })
    .await;
    assert_eq!(
        answer.text,
        format!("All done: {name} wrote hello.txt"),
        "{}",
        answer.text
    );
    let workspace = w.config.jobs.workdir.join("job-1");
    assert_eq!(
        std::fs::read_to_string(workspace.join("hello.txt"))
            .unwrap()
            .trim(),
        format!("hello from {name}")
    );
    let card = eventually(SECS(10), "the card closed", || async {
        w.bot_replies(&ts)
            .await
            .into_iter()
            .next()
            .filter(|c| c.text.contains("succeeded"))
    })
    .await;
    assert!(card.text.contains("tool call"), "{}", card.text);
    assert!(
        card.text.contains("cat /workspace/hello.txt"),
        "{}",
        card.text
    );

    let requests = s.mock.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.body.to_string().contains(ROLE_MARKER)),
        "the role prompt reached the model"
    );
    assert!(requests.iter().all(real_key));
    assert!(
        requests
            .iter()
            .any(|r| r.body["model"] == model || r.path.contains(&format!("/{model}:"))),
        "the agent's model was asked for"
    );
    // The real key reached the model (above) but is nowhere in the sandbox: not in the
    // environment its tools saw (`env.txt`), nor in any file the CLI wrote.
    assert!(workspace.join("env.txt").exists(), "the shell step ran");
    // The task reached the model, and no process had it among its arguments (item 8).
    assert!(
        requests
            .iter()
            .any(|r| r.body.to_string().contains("please write hello.txt")),
        "the task reached the model"
    );
    let procs = String::from_utf8_lossy(&std::fs::read(workspace.join("procs.txt")).unwrap())
        .replace('\0', " ");
    assert!(
        procs.contains("KILL"),
        "the listing has the run's wrapper: {procs}"
    );
    assert!(
        !procs.contains("please write"),
        "the task is an argument: {procs}"
    );
    let holding = files_holding(&workspace, &[KEY]);
    assert!(holding.is_empty(), "the API key is in {holding:?}");
    let job = w.bot().bot.store().job(1).unwrap().unwrap();
    assert!(job.usage.input_tokens > 0, "{:?}", job.usage);
    let session = job.session_id.clone().expect("the CLI's session id");

    // A follow-up in the thread resumes the same session: the model sees the earlier turns.
    // The session id is in the store, so this holds across a restart of the bot too.
    if restart {
        s.restart_bot().await;
    }
    let w = &s.w;
    let before = s.mock.requests().len();
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> now say it again"),
            Some(&ts),
        )
        .await
        .unwrap();
    let terminal = |t: &str| t.starts_with("All done") || t.contains("failed");
    let ends = eventually(SECS(120), "the follow-up's answer", || async {
        let ends: Vec<String> = w
            .bot_replies(&ts)
            .await
            .into_iter()
            .map(|m| m.text)
            .filter(|t| terminal(t))
            .collect();
        (ends.len() >= 2).then_some(ends)
    })
    .await;
    assert!(ends[1].starts_with("All done"), "{ends:?}");
    let later: Vec<_> = s.mock.requests()[before..].to_vec();
    assert!(
        later.iter().any(|r| {
            let body = r.body.to_string();
            body.contains("now say it again") && body.contains(&format!("hello from {name}"))
        }),
        "the follow-up's request carries the earlier turns"
    );
    let second = w.bot().bot.store().job(2).unwrap().unwrap();
    assert_eq!(second.workspace_job, Some(1));
    assert_eq!(second.session_id.as_deref(), Some(session.as_str()));
    s.runtime.remove_model_network().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_in_its_container() {
    the_cli_runs_edits_answers_and_resumes(CliKind::Claude, "claude", "mock-sonnet", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_in_its_container() {
    the_cli_runs_edits_answers_and_resumes(CliKind::Codex, "codex", "mock-gpt", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pi_in_its_container() {
    the_cli_runs_edits_answers_and_resumes(CliKind::Pi, "pi", "mock-sonnet", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_in_its_container() {
    the_cli_runs_edits_answers_and_resumes(CliKind::Gemini, "gemini", "mock-gemini", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_in_its_container() {
    the_cli_runs_edits_answers_and_resumes(CliKind::Opencode, "opencode", "mock-sonnet", false)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_cli_in_its_container() {
    the_cli_runs_edits_answers_and_resumes(CliKind::Copilot, "copilot", "mock-sonnet", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_after_a_bot_restart_resumes_the_session() {
    the_cli_runs_edits_answers_and_resumes(CliKind::Claude, "claude", "mock-sonnet", true).await;
}

/// A graceful stop (SIGTERM's drain) in the middle of a CLI's run leaves its container going;
/// the next process re-attaches and restores the run's model-proxy grant, so the CLI's next
/// model call, made after the restart, goes through: the answer arrives once, and the model
/// sees the real key only from the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_drain_the_next_process_restores_the_runs_model_grant() {
    if !ready("cli_drain").await {
        return;
    }
    let instance = "t-cli-drain";
    let mut s = setup(
        CliKind::Claude,
        "claude",
        instance,
        "mock-sonnet",
        vec![
            // The CLI's next model call waits for the test's word, given after the restart.
            Step::Shell {
                command: "until [ -f /workspace/go ]; do sleep 0.2; done; echo went".into(),
            },
            Step::Text {
                text: "Answered after the restart".into(),
            },
        ],
    )
    .await;
    let ts = s.w.mention("sleep, then answer").await;
    eventually(SECS(120), "the CLI running its shell step", || async {
        let card = s.w.bot_replies(&ts).await.into_iter().next()?;
        card.text
            .contains("until [ -f /workspace/go ]")
            .then_some(())
    })
    .await;
    let before = s.mock.requests().len();
    s.w.bot.take().unwrap().drain().await;
    assert_eq!(
        s.runtime.leftovers().await.unwrap().len(),
        1,
        "the run outlives the drained bot"
    );
    assert_eq!(s.mock.requests().len(), before, "no model call yet");
    // The next process: a runtime of its own (the drained one leaves its runs), the same store
    // and the same proxy address.
    let CliBot { docker, harnesses } =
        start_cli_bot(&mut s.w, CliKind::Claude, "claude", IMAGE, instance).await;
    s.runtime = docker;
    s.harnesses = harnesses;
    let w = &s.w;
    std::fs::write(w.config.jobs.workdir.join("job-1/go"), "").unwrap();
    let answer = wait_reply(w, &ts, SECS(120), |m| {
        m.text.contains("Answered") || m.text.contains("failed") || m.text.contains("interrupted")
    })
    .await;
    assert_eq!(answer.text, "Answered after the restart");
    let later = s.mock.requests()[before..].to_vec();
    assert!(!later.is_empty(), "the model was called after the restart");
    assert!(later.iter().all(real_key));
    let replies = w.bot_replies(&ts).await;
    assert_eq!(
        replies.len(),
        2,
        "the card and the answer, once: {replies:?}"
    );
    let job = w.bot().bot.store().job(1).unwrap().unwrap();
    assert!(job.grant_token.is_none(), "the grant ends with the job");
    eventually(SECS(30), "the run's container removed", || async {
        s.runtime
            .leftovers()
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    s.runtime.remove_model_network().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_killed_mid_run_fails_with_its_last_output() {
    if !ready("cli_killed").await {
        return;
    }
    let s = setup(
        CliKind::Claude,
        "claude",
        "t-cli-killed",
        "mock-sonnet",
        vec![
            Step::Shell {
                command: "kill -9 -1".into(),
            },
            Step::Text {
                text: "never reached".into(),
            },
        ],
    )
    .await;
    let ts = s.w.mention("die").await;
    let reply = wait_reply(&s.w, &ts, SECS(120), |m| m.text.contains("failed")).await;
    assert!(
        reply.text.contains("`claude` exited with status 137") || reply.text.contains("killed"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("last output"), "{}", reply.text);
    s.runtime.remove_model_network().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_missing_from_the_image_is_named_with_the_image() {
    if !ready("cli_missing").await {
        return;
    }
    // The base harness image has Node.js and git but none of the CLIs.
    let s = setup_in(
        "threadwork/harness:dev",
        CliKind::Codex,
        "codex",
        "t-cli-missing",
        "mock-gpt",
        vec![],
    )
    .await;
    let ts = s.w.mention("anything").await;
    let reply = wait_reply(&s.w, &ts, SECS(60), |m| m.text.contains("failed")).await;
    assert!(
        reply
            .text
            .contains("`codex` is not installed in the sandbox image `threadwork/harness:dev`"),
        "{}",
        reply.text
    );
    s.runtime.remove_model_network().await.unwrap();
}

/// The model API fails: once with an overload the CLI retries (the run goes on and succeeds,
/// and the card says so where the CLI reports its retries), then with a request error it
/// cannot retry (the run fails with the API's own message in the thread).
async fn the_cli_retries_and_reports_api_errors(
    kind: CliKind,
    name: &str,
    model: &str,
    reports_retries: bool,
) {
    if !ready(name).await {
        return;
    }
    let instance = format!("t-cli-{name}-errors");
    let transient = vec![
        Step::Fail {
            status: 529,
            message: "scripted overload".into(),
            times: Some(1),
        },
        Step::Text {
            text: "All done after a retry".into(),
        },
    ];
    let s = setup(kind, name, &instance, model, transient).await;
    let w = &s.w;
    let ts = w.mention("answer once the model is back").await;
    let answer = wait_reply(w, &ts, SECS(120), |m| {
        m.text.contains("All done") || m.text.contains("failed")
    })
    .await;
    assert_eq!(answer.text, "All done after a retry", "{}", answer.text);
    let card = eventually(SECS(10), "the card closed", || async {
        w.bot_replies(&ts)
            .await
            .into_iter()
            .next()
            .filter(|c| c.text.contains("succeeded"))
    })
    .await;
    assert_eq!(s.mock.failures_served(), 1, "the overload was served");
    assert_eq!(
        card.text.contains(":repeat: retrying: "),
        reports_retries,
        "{}",
        card.text
    );

    s.mock.set_script(vec![Step::Fail {
        status: 400,
        message: "scripted: this request is not valid".into(),
        times: None,
    }]);
    let ts = w.mention("this one cannot work").await;
    let reply = wait_reply(w, &ts, SECS(120), |m| {
        m.text.contains("All done") || m.text.contains("failed")
    })
    .await;
    assert!(reply.text.contains("failed"), "{}", reply.text);
    assert!(
        reply.text.contains("scripted: this request is not valid"),
        "{}",
        reply.text
    );
    s.runtime.remove_model_network().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_retries_and_reports_api_errors() {
    the_cli_retries_and_reports_api_errors(CliKind::Claude, "claude", "mock-sonnet", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_retries_and_reports_api_errors() {
    the_cli_retries_and_reports_api_errors(CliKind::Codex, "codex", "mock-gpt", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pi_retries_and_reports_api_errors() {
    the_cli_retries_and_reports_api_errors(CliKind::Pi, "pi", "mock-sonnet", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_retries_and_reports_api_errors() {
    the_cli_retries_and_reports_api_errors(CliKind::Gemini, "gemini", "mock-gemini", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_retries_and_reports_api_errors() {
    the_cli_retries_and_reports_api_errors(CliKind::Opencode, "opencode", "mock-sonnet", false)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_cli_retries_and_reports_api_errors() {
    the_cli_retries_and_reports_api_errors(CliKind::Copilot, "copilot", "mock-sonnet", true).await;
}

// #21 item 4: a job stops at its budget. Claude Code's first model call is counted past a
// tiny budget; its next is refused by the proxy, and the job ends `over budget` with what it
// had done (the file it wrote) and its spend against the budget on the card. A budget over
// the admin's ceiling is refused before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stops_at_its_budget() {
    if !ready("claude").await {
        return;
    }
    let model = "mock-sonnet";
    let s = setup_with(
        IMAGE,
        CliKind::Claude,
        "claude",
        "t-cli-budget",
        model,
        script("claude"),
        |c| {
            if let Some(m) = c.model.as_mut() {
                m.prices.insert(
                    model.into(),
                    threadwork::model::proxy::Price {
                        input_per_mtok: 3.0,
                        output_per_mtok: 15.0,
                    },
                );
            }
            c.jobs.max_budget_usd = Some(1.0);
        },
    )
    .await;
    let w = &s.w;
    let over = w.mention("please write hello.txt budget=5").await;
    let refused = card_showing(w, &over, "No job was started", SECS(30)).await;
    assert!(refused.text.contains("max_budget_usd"), "{}", refused.text);

    let ts = w.mention("please write hello.txt budget=0.000001").await;
    let end = wait_reply(w, &ts, SECS(120), |m| {
        m.text.contains("stopped at its budget") || m.text.contains("All done")
    })
    .await;
    assert!(end.text.contains("stopped at its budget"), "{}", end.text);
    assert!(!end.text.contains("All done"), "{}", end.text);
    let workspace = w.config.jobs.workdir.join("job-1");
    assert!(
        workspace.join("hello.txt").exists(),
        "what it did before the budget ran out stays"
    );
    let card = eventually(SECS(10), "the card closed", || async {
        w.bot_replies(&ts)
            .await
            .into_iter()
            .next()
            .filter(|c| c.text.contains("over budget"))
    })
    .await;
    assert!(card.text.contains("budget"), "{}", card.text);
    // The model saw one call: the next was refused before it left the bot.
    assert_eq!(
        s.mock
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/messages"))
            .count(),
        1
    );
}
