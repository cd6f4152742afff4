//! Evals end to end: real CLIs in their containers against the mock model, which answers
//! differently depending on what a request holds (an amendment's words in the system prompt,
//! a case's task, the judge's question). A proposal is evaluated before anyone decides on it,
//! `@threadwork eval` is for owners and admins, an approved result becomes a case that replays
//! green, one suite runs on three harnesses with a judge, and a bad case file is named.
//! With `CI=true` the container tests fail when Docker or the image is missing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::cli::mock_proxy;
use crate::common::*;
use threadwork::cli::eval::{self, EvalArgs};
use threadwork::emulator::EmulatorConfig;
use threadwork::harness::cli::{CliHarness, CliKind, CliSpec};
use threadwork::harness::Harness;
use threadwork::model::mock::{MockModel, Rule, Step};
use threadwork::runtime::docker::DockerRuntime;
use threadwork::runtime::{Runtime, SandboxPolicy};

const IMAGE: &str = "threadwork/agents:dev";
const KEY: &str = "sk-eval-key-4d1c-never-in-a-sandbox";
const AMEND: &str = "AMEND-7731";
const SECS: fn(u64) -> Duration = Duration::from_secs;

async fn ready(test: &str) -> bool {
    docker_ready(test, IMAGE, "bash docker/build-images.sh agents").await
}

fn text(t: &str) -> Step {
    Step::Text { text: t.into() }
}

fn rule(words: &[&str], script: Vec<Step>) -> Rule {
    Rule {
        contains: words.iter().map(|w| w.to_string()).collect(),
        script,
    }
}

/// The model: with the amendment in force the greeting is right and the notes are not
/// written; without it, the other way round. The judge always says no.
fn rules() -> Vec<Rule> {
    let notes = vec![
        Step::WriteFile {
            path: "/workspace/notes.txt".into(),
            content: "done\n".into(),
        },
        text("wrote notes.txt"),
    ];
    vec![
        rule(
            &["evaluation judge"],
            vec![text(
                r#"{"pass": false, "reason": "mock judge: too short"}"#,
            )],
        ),
        rule(&[AMEND, "greet the team"], vec![text("Hello team, warmly")]),
        rule(&["greet the team"], vec![text("hi")]),
        rule(
            &[AMEND, "write the notes"],
            vec![text("I did not write anything")],
        ),
        rule(&["write the notes"], notes),
    ]
}

const SUITE: &str = "\
cases:
  - name: greets
    request: greet the team
    expect:
      answer: \"(?i)hello team\"
  - name: notes
    request: write the notes
    expect:
      changed: [notes.txt]
      command: grep -q done notes.txt
";

struct Setup {
    w: World,
    _mock: MockModel,
    docker: Arc<DockerRuntime>,
    harnesses: HashMap<String, Arc<dyn Harness>>,
}

/// A bot whose agent `helper` (owned by alice) runs on the first of `kinds`, may run on the
/// others, and has `suite` (when given) in `[evals] dir`.
async fn setup(instance: &str, kinds: &[(CliKind, &str)], suite: Option<&str>) -> Setup {
    setup_with(instance, kinds, suite, |_| {}).await
}

/// `setup`, with the config changed by `tweak` before the bot starts.
async fn setup_with(
    instance: &str,
    kinds: &[(CliKind, &str)],
    suite: Option<&str>,
    tweak: impl FnOnce(&mut threadwork::config::Config),
) -> Setup {
    let mock = MockModel::start(([127, 0, 0, 1], 0).into(), vec![text("(no rule)")])
        .await
        .unwrap();
    mock.set_rules(rules());
    let mut w = World::new(EmulatorConfig::default()).await;
    let others: Vec<&str> = kinds.iter().skip(1).map(|(_, n)| *n).collect();
    w.use_agents(&[(
        "helper.md",
        &format!(
            "---\nname: helper\ndescription: writes notes and greets\nharness: {}\nharnesses: [{}]\nmodel: mock-sonnet\nowners: [U0ALICE001]\nsandbox:\n  network: model\n---\nYou write notes and greet people.\n",
            kinds[0].1,
            others.join(", ")
        ),
    )]);
    w.config.agents.default = "helper".into();
    w.config.model = Some(mock_proxy(&mock.url(), KEY));
    w.config.evals.dir = w.dir.path().join("evals");
    std::fs::create_dir_all(&w.config.evals.dir).unwrap();
    if let Some(suite) = suite {
        std::fs::write(w.config.evals.dir.join("helper.yml"), suite).unwrap();
    }
    w.config.sandbox = SandboxPolicy {
        instance: instance.to_string(),
        image: IMAGE.into(),
        ..SandboxPolicy::default()
    };
    w.config.fill_defaults();
    let docker = Arc::new(DockerRuntime::new(&w.config.sandbox));
    let runtime: Arc<dyn Runtime> = docker.clone();
    let mut harnesses: HashMap<String, Arc<dyn Harness>> = HashMap::new();
    for (kind, name) in kinds {
        let spec = CliSpec {
            program: None,
            args: vec![],
            env: Default::default(),
        };
        harnesses.insert(
            name.to_string(),
            Arc::new(CliHarness::new(*kind, spec, runtime.clone())),
        );
        w.config.harness.insert(
            name.to_string(),
            toml::from_str(&format!("kind = \"{name}\"")).unwrap(),
        );
    }
    tweak(&mut w.config);
    w.start_bot_in(harnesses.clone(), Some(runtime)).await;
    Setup {
        w,
        _mock: mock,
        docker,
        harnesses,
    }
}

impl Setup {
    /// Stops the bot, so that the eval CLI reads the store itself.
    async fn stop_bot(&mut self) {
        self.w.settle().await;
        if let Some(bot) = self.w.bot.take() {
            bot.stop().await;
        }
        let _ = &self.harnesses;
    }

    async fn cleanup(&self) {
        self.docker.remove_model_network().await.unwrap();
        let mut eval_policy = self.w.config.sandbox.clone();
        eval_policy.instance = format!("{}-eval", eval_policy.instance);
        DockerRuntime::new(&eval_policy)
            .remove_model_network()
            .await
            .unwrap();
    }
}

async fn run_cli(config: &threadwork::config::Config, args: EvalArgs) -> (i32, String) {
    let mut out = Vec::new();
    let code = eval::run(config.clone(), args, &mut out)
        .await
        .expect("the suite runs");
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposed_amendment_is_evaluated_before_anyone_decides_regression_first() {
    if !ready("evals").await {
        return;
    }
    let mut s = setup("t-eval-amend", &[(CliKind::Claude, "claude")], Some(SUITE)).await;
    let w = &s.w;

    // bob is no owner: his eval is refused; alice's runs and is posted.
    let asked = w
        .emu
        .post_as(
            "bob",
            CHANNEL,
            &format!("<@{}> eval helper", w.emu.bot_user_id()),
            None,
        )
        .await
        .unwrap();
    eventually(SECS(10), "bob's refusal", || async {
        w.emu.ephemerals().await.into_iter().find(|e| {
            e.user == "U0BOB00001"
                && e.text
                    .contains("Only the owners of `helper` or an admin can run its evals")
        })
    })
    .await;
    let ts = w.mention("eval helper").await;
    let table = wait_reply(w, &ts, SECS(240), |m| {
        m.text.starts_with("Eval of `helper`")
    })
    .await;
    assert!(table.text.contains("*1/2* passed"), "{}", table.text);
    assert!(
        table.text.contains("greets [1]: the answer does not match"),
        "{}",
        table.text
    );
    assert!(
        w.bot_replies(&asked)
            .await
            .iter()
            .all(|m| !m.text.contains("Eval of")),
        "nothing ran for bob"
    );

    // A proposal: the suite runs with and without it, and the thread hears which case broke
    // (first) and which it fixed, before anyone adopts it.
    let ts = w
        .mention(&format!(
            "remember agent=helper: {AMEND} greet people warmly"
        ))
        .await;
    let compared = wait_reply(w, &ts, SECS(240), |m| {
        m.text.contains("Eval of amendment #1")
    })
    .await;
    let text = &compared.text;
    let regressed = text
        .find(":x: *regressed* `notes` under [2]")
        .unwrap_or_else(|| panic!("{text}"));
    let fixed = text
        .find(":white_check_mark: *fixed* `greets` under [2]")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(regressed < fixed, "the regression first: {text}");
    assert!(
        text.contains("notes [2]: ˋnotes.txtˋ was not changed; the command check exited 2: grep: notes.txt: No such file or directory"),
        "{text}"
    );
    let store = w.bot().bot.store();
    let evaluated = store
        .audit()
        .unwrap()
        .into_iter()
        .find(|r| r.action == "amendment_evaluated")
        .expect("an audit record");
    assert_eq!(
        evaluated.detail.as_deref(),
        Some("1/2 → 1/2 passed, 1 regressed")
    );
    let results = store.eval_results("helper").unwrap();
    assert_eq!(
        results.len(),
        2,
        "a pass rate per prompt version: {results:?}"
    );
    drop(store);

    // The same comparison from the command line exits 1: a regression.
    s.stop_bot().await;
    let (code, table) = run_cli(
        &s.w.config,
        EvalArgs {
            agent: "helper".into(),
            prompts: vec!["current".into(), "amendment:1".into()],
            runs: 1,
            ..EvalArgs::default()
        },
    )
    .await;
    assert_eq!(code, 1, "{table}");
    assert!(table.contains("REGRESSED `notes` under [2]"), "{table}");
    assert!(table.contains("fixed `greets` under [2]"), "{table}");
    s.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_prompt_file_is_evaluated_for_the_admin_channel() {
    if !ready("evals").await {
        return;
    }
    let s = setup_with(
        "t-eval-prompt",
        &[(CliKind::Claude, "claude")],
        Some(SUITE),
        |c| {
            c.evals.on_prompt_change = true;
            c.agents.admin_channel = Some(CHANNEL.into());
        },
    )
    .await;
    let w = &s.w;
    let file = w.config.agents.dir.join("helper.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("greet people.", &format!("greet people. {AMEND}")),
    )
    .unwrap();
    let posted = eventually(SECS(240), "the comparison in the admin channel", || async {
        w.emu
            .channel_messages(CHANNEL)
            .await
            .into_iter()
            .find(|m| m.text.contains("The prompt file of `helper` changed"))
    })
    .await;
    let text = shown(&posted.text);
    let regressed = text
        .find("*regressed* `notes` under [2]")
        .unwrap_or_else(|| panic!("{text}"));
    let fixed = text
        .find("*fixed* `greets` under [2]")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(regressed < fixed, "{text}");
    s.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_result_becomes_a_case_that_replays_green() {
    if !ready("evals").await {
        return;
    }
    let mut s = setup("t-eval-approved", &[(CliKind::Claude, "claude")], None).await;
    let w = &s.w;
    let ts = w.mention("please write the notes").await;
    let result = wait_reply(w, &ts, SECS(120), |m| m.text.contains("wrote notes.txt")).await;
    // bob's ✅ does not count (not requester or approver); alice's does.
    w.emu
        .react_as("bob", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    w.emu
        .react_as("alice", CHANNEL, &result.ts, "white_check_mark", true)
        .await
        .unwrap();
    let store = w.bot().bot.store();
    let case = eventually(SECS(10), "the approved case", || async {
        store.eval_cases("helper").unwrap().into_iter().next()
    })
    .await;
    assert_eq!(case.by, "U0ALICE001");
    assert_eq!(case.changed, ["notes.txt"]);
    assert_eq!(case.request, "please write the notes");
    drop(store);

    s.stop_bot().await;
    let file = s.w.config.evals.dir.join("helper.yml");
    assert_eq!(
        eval::export(&s.w.config, "helper", Some(file.clone()))
            .await
            .unwrap(),
        1
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("name: approved-job-1"), "{written}");
    let again = eval::export(&s.w.config, "helper", Some(file.clone())).await;
    assert!(
        again.unwrap_err().to_string().contains("never overwritten"),
        "an existing file stays"
    );
    let (code, table) = run_cli(
        &s.w.config,
        EvalArgs {
            agent: "helper".into(),
            runs: 1,
            ..EvalArgs::default()
        },
    )
    .await;
    assert_eq!(code, 0, "{table}");
    assert!(table.contains("approved-job-1  pass"), "{table}");
    s.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_suite_runs_on_all_six_harnesses_and_a_judge_scores_the_rubric() {
    if !ready("evals").await {
        return;
    }
    let suite = "\
cases:
  - name: notes
    request: write the notes
    expect:
      changed: [notes.txt]
      command: grep -q done notes.txt
      rubric: The notes say the work is done.
";
    let mut s = setup(
        "t-eval-harnesses",
        &[
            (CliKind::Claude, "claude"),
            (CliKind::Codex, "codex"),
            (CliKind::Pi, "pi"),
            (CliKind::Gemini, "gemini"),
            (CliKind::Opencode, "opencode"),
            (CliKind::Copilot, "copilot"),
        ],
        Some(suite),
    )
    .await;
    s.stop_bot().await;
    s.w.config.evals.judge = Some(threadwork::evals::judge::JudgeSettings {
        model: "mock-judge".into(),
    });
    let (code, out) = run_cli(
        &s.w.config,
        EvalArgs {
            agent: "helper".into(),
            harnesses: vec!["claude,codex,pi,gemini,opencode,copilot".into()],
            runs: 1,
            json: true,
            ..EvalArgs::default()
        },
    )
    .await;
    let report: threadwork::evals::report::Report = serde_json::from_str(&out).unwrap();
    let harnesses: Vec<&str> = report.variants.iter().map(|v| v.harness.as_str()).collect();
    assert_eq!(
        harnesses,
        ["claude", "codex", "pi", "gemini", "opencode", "copilot"]
    );
    for run in &report.runs {
        // The files and the command check hold on every harness; only the judge says no.
        assert_eq!(
            run.failures,
            ["the judge: mock judge: too short"],
            "{}: {run:?}",
            harnesses[run.variant]
        );
        assert_eq!(run.judge.as_deref(), Some("mock judge: too short"));
    }
    assert_eq!(code, 0, "the same everywhere: no regression");
    s.cleanup().await;
}

#[tokio::test]
async fn a_bad_case_file_is_named_by_line_and_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let agents = write_agents(
        dir.path(),
        &[(
            "helper.md",
            "---\nname: helper\ndescription: d\nharness: scripted\n---\nrole\n",
        )],
    );
    let evals = dir.path().join("evals");
    std::fs::create_dir_all(&evals).unwrap();
    std::fs::write(
        evals.join("helper.yml"),
        "cases:\n  - name: a\n    request: x\n    expect:\n      answer: \"(unclosed\"\n",
    )
    .unwrap();
    let config = dir.path().join("threadwork.toml");
    std::fs::write(
        &config,
        format!(
            "[agents]\ndir = {:?}\nshared_dir = {:?}\n[evals]\ndir = {:?}\n[store]\npath = {:?}\n[jobs]\nworkdir = {:?}\n",
            agents,
            dir.path().join("shared"),
            evals,
            dir.path().join("store"),
            dir.path().join("jobs"),
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadwork"))
        .args(["eval", "helper", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("helper.yml:5: cases[0].expect.answer: not a valid pattern"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_members_proposals_are_evaluated_three_times_an_hour() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.use_agents(&[(
        "helper.md",
        "---\nname: helper\ndescription: d\nharness: scripted\nowners: [U0ALICE001]\n---\nrole\n",
    )]);
    w.config.agents.default = "helper".into();
    w.config.evals.dir = w.dir.path().join("evals");
    std::fs::create_dir_all(&w.config.evals.dir).unwrap();
    std::fs::write(
        w.config.evals.dir.join("helper.yml"),
        "cases:\n  - name: answers\n    request: say done\n    expect: {answer: done}\n",
    )
    .unwrap();
    w.start_bot(scripted(script("done", 0))).await;
    let ts = w
        .emu
        .post_as(
            "bob",
            CHANNEL,
            &format!("<@{}> remember agent=helper: rule one", w.emu.bot_user_id()),
            None,
        )
        .await
        .unwrap();
    // One at a time: each evaluation ends (and gives its slot back) before the next proposal.
    w.settle().await;
    for n in 2..=4 {
        w.emu
            .post_as(
                "bob",
                CHANNEL,
                &format!("<@{}> remember agent=helper: rule {n}", w.emu.bot_user_id()),
                Some(&ts),
            )
            .await
            .unwrap();
        w.settle().await;
    }
    let replies: Vec<String> = w
        .bot_replies(&ts)
        .await
        .into_iter()
        .map(|m| m.text)
        .collect();
    let evaluated = replies
        .iter()
        .filter(|t| t.contains(":test_tube: Eval of amendment #"))
        .count();
    assert_eq!(evaluated, 3, "{replies:#?}");
    let refused: Vec<&String> = replies
        .iter()
        .filter(|t| t.contains("Amendment #4 is not evaluated automatically: <@U0BOB00001>'s proposals had their 3 evaluations this hour; an owner can run `@threadwork eval helper amendment:4`"))
        .collect();
    assert_eq!(refused.len(), 1, "{replies:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_starts_from_a_repository_at_its_commit() {
    use crate::common::forge::{Forge, Kind};
    let root = tempfile::tempdir().unwrap();
    let forge = Forge::start(Kind::Github, "forge-eval-token-5e4d", root.path()).await;
    forge.create_repo("acme/web", &[("README.md", "# web\n")]);
    let first = forge.git_in("acme/web", &["rev-parse", "main"]);
    forge.commit_to("acme/web", &[("README.md", "# web v2\n")]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = threadwork::config::Config::default();
    config.agents.dir = write_agents(
        dir.path(),
        &[(
            "helper.md",
            "---\nname: helper\ndescription: d\nharness: look\nrepos: [acme/web]\n---\nrole\n",
        )],
    );
    config.agents.shared_dir = dir.path().join("shared");
    config.store.path = dir.path().join("store");
    config.jobs.workdir = dir.path().join("jobs");
    config.evals.dir = dir.path().join("evals");
    config.sandbox.runtime = threadwork::runtime::policy::RuntimeKind::Process;
    config.harness.insert(
        "look".into(),
        toml::from_str(
            "kind = \"command\"\nprogram = \"/bin/sh\"\nargs = [\"-c\", \"printf 'seen: %s' \\\"$(cat README.md)\\\"\"]\nmode = \"text\"\n",
        )
        .unwrap(),
    );
    config.forge.insert(
        "main".into(),
        threadwork::forge::HostConfig {
            kind: threadwork::forge::ForgeKind::Github,
            api_url: forge.api_url(),
            git_url: forge.git_url(),
            graphql_url: None,
            token: Some(secrecy::SecretString::from(forge.token.clone())),
            token_env: None,
            repos: vec!["acme/*".into()],
        },
    );
    std::fs::create_dir_all(&config.evals.dir).unwrap();
    std::fs::write(
        config.evals.dir.join("helper.yml"),
        format!(
            "cases:\n  - name: at-first\n    request: look\n    repo: acme/web\n    commit: {first}\n    expect:\n      answer: \"^seen: # web$\"\n      command: grep -qx '# web' README.md && test $(git rev-list --all | wc -l) -eq 1\n  - name: at-tip\n    request: look\n    repo: acme/web\n    branch: main\n    expect: {{answer: \"^seen: # web v2$\"}}\n  - name: elsewhere\n    request: look\n    repo: other/thing\n"
        ),
    )
    .unwrap();
    let (code, table) = run_cli(
        &config,
        EvalArgs {
            agent: "helper".into(),
            runs: 1,
            ..EvalArgs::default()
        },
    )
    .await;
    // At its commit, and with nothing of the branch after it in the workspace's history.
    assert!(table.contains("at-first   pass"), "{table}");
    assert!(table.contains("at-tip     pass"), "{table}");
    assert!(
        table.contains("elsewhere [1]: the run failed: `helper` may not work on `other/thing`"),
        "{table}"
    );
    assert!(!table.contains(&forge.token), "{table}");
    assert_eq!(code, 1, "one case failed");
    let left: Vec<_> = std::fs::read_dir(config.jobs.workdir.join("evals-cli"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "workspaces and clones removed: {left:?}");
}
