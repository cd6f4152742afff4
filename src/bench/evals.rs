//! `threadwork bench evals`: what the eval path costs beside a job. The same one-case task
//! (Claude Code in its container writes a file and answers, against the mock model) runs as
//! a job through Slack (mention → job ended, the baseline) and as an eval case (`run_case`:
//! fresh workspace, run, snapshot, checks), one at a time; then a suite of `cases` cases runs
//! at `max_running` 4, beside the time the same cases take one after another.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::{machine, ms, pct};
use crate::config::Config;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::evals::case::parse_suite;
use crate::evals::report::VariantInfo;
use crate::evals::run::{Evaluator, Variant};
use crate::harness::cli::{CliHarness, CliKind, CliSpec};
use crate::harness::Harness;
use crate::model::mock::{MockModel, Step};
use crate::model::proxy::{ModelProxy, ProxyConfig, Upstream};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::Runtime;

pub async fn evals(runs: usize, cases: usize, image: &str) -> anyhow::Result<()> {
    println!("threadwork bench evals — {}", machine());
    println!();
    let dir = tempfile::tempdir()?;
    let script = vec![
        Step::WriteFile {
            path: "/workspace/notes.txt".into(),
            content: "done\n".into(),
        },
        Step::Text {
            text: "done".into(),
        },
    ];
    let mock = MockModel::start(([127, 0, 0, 1], 0).into(), script).await?;
    let emu = Emulator::start(([127, 0, 0, 1], 0).into(), EmulatorConfig::default()).await?;
    let agents = dir.path().join("agents");
    std::fs::create_dir_all(&agents)?;
    let agent_text = "---\nname: claude\ndescription: bench\nharness: claude\nmodel: mock-sonnet\nsandbox:\n  network: model\n---\nYou help.\n";
    std::fs::write(agents.join("claude.md"), agent_text)?;
    let mut config = Config::default();
    config.agents.dir = agents.clone();
    config.agents.default = "claude".into();
    config.agents.shared_dir = dir.path().join("shared");
    config.agents.watch = false;
    config.store.path = dir.path().join("store");
    config.jobs.workdir = dir.path().join("jobs");
    config.jobs.max_running = 4;
    config.overlap.mode = crate::overlap::Mode::Off;
    config.sandbox.instance = "bench-evals".into();
    config.sandbox.image = image.to_string();
    let upstream = || Upstream {
        base_url: mock.url(),
        api_key: Some(SecretString::from("bench-key")),
    };
    let listen = std::net::TcpListener::bind("0.0.0.0:0")?.local_addr()?;
    let model = ProxyConfig {
        listen,
        anthropic: Some(upstream()),
        openai: None,
        google: None,
        agent_keys: BTreeMap::new(),
        // Priced, so the runs' cost is counted as in a real install.
        prices: BTreeMap::from([(
            "mock-sonnet".to_string(),
            crate::model::proxy::Price {
                input_per_mtok: 3.0,
                output_per_mtok: 15.0,
            },
        )]),
    };
    config.model = Some(model.clone());
    config.fill_defaults();
    let docker = Arc::new(DockerRuntime::new(&config.sandbox));
    let runtime: Arc<dyn Runtime> = docker.clone();
    let spec = CliSpec {
        program: None,
        args: vec![],
        env: Default::default(),
    };
    let claude: Arc<dyn Harness> =
        Arc::new(CliHarness::new(CliKind::Claude, spec, runtime.clone()));
    let harnesses: HashMap<String, Arc<dyn Harness>> = HashMap::from([("claude".into(), claude)]);

    // The baseline: the task as a job, mention to job ended (one warm-up, not counted).
    let settings = config.slack_settings(&emu.env())?;
    let running =
        crate::app::start_with(&config, &settings, harnesses.clone(), Some(runtime.clone()))
            .await?;
    emu.wait_for_connections(2, Duration::from_secs(10)).await;
    let store = running.bot.store();
    let mut jobs = Vec::new();
    for i in 0..=runs {
        let id = i as u64 + 1;
        let asked = Instant::now();
        super::job_to_end(
            &emu,
            store.as_ref(),
            id,
            &format!("bench job {i}: write the notes"),
        )
        .await?;
        if i > 0 {
            jobs.push(asked.elapsed());
        }
        running.bot.wait_idle().await;
        tokio::time::sleep_until((asked + Duration::from_millis(2200)).into()).await;
    }
    drop(store);
    running.stop().await;

    // The eval path, as `threadwork eval` runs it: its own proxy, the same runtime.
    let mut eval_model = model;
    eval_model.listen.set_port(0);
    let proxy = ModelProxy::start(eval_model).await?;
    let mut policy = config.sandbox.clone();
    policy.model_endpoint = Some(format!("host.docker.internal:{}", proxy.addr().port()));
    let eval_runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&policy));
    let spec = CliSpec {
        program: None,
        args: vec![],
        env: Default::default(),
    };
    let claude: Arc<dyn Harness> =
        Arc::new(CliHarness::new(CliKind::Claude, spec, eval_runtime.clone()));
    let workdir = config.jobs.workdir.join("evals");
    std::fs::create_dir_all(&workdir)?;
    let evaluator = Evaluator {
        harnesses: HashMap::from([("claude".into(), claude)]),
        runtime: Some(eval_runtime),
        proxy: Some(proxy.clone()),
        policy,
        job_timeout: Duration::from_secs(600),
        workdir,
        max_running: 4,
        judge: None,
        forges: None,
        redactor: None,
    };
    let agent = crate::agents::parse_agent(
        &agents.join("claude.md"),
        agent_text,
        crate::agents::Known {
            harnesses: &["claude"],
            fragments: &[],
        },
    )?;
    let mut suite_text = String::from("cases:\n");
    for i in 0..cases.max(1) {
        suite_text.push_str(&format!(
            "  - name: case-{i}\n    request: \"bench case {i}: write the notes\"\n    expect: {{answer: done, changed: [notes.txt]}}\n"
        ));
    }
    let suite = parse_suite(&dir.path().join("claude.yml"), "claude", &suite_text)?;
    let variant = Variant {
        info: VariantInfo {
            prompt: "current".into(),
            prompt_version: "bench".into(),
            harness: "claude".into(),
            model: None,
        },
        role_prompt: agent.prompt.clone(),
    };
    let mut one = Vec::new();
    for i in 0..=runs {
        let case = &suite.cases[i % suite.cases.len()];
        let t = Instant::now();
        let run = evaluator.run_case(&agent, case, &variant).await;
        anyhow::ensure!(run.passed, "eval case failed: {:?}", run.failures);
        if i > 0 {
            one.push(t.elapsed());
        }
    }
    let t = Instant::now();
    let report = evaluator
        .run_suite(
            &agent,
            &suite,
            std::slice::from_ref(&variant),
            1,
            None,
            None,
        )
        .await;
    let suite_wall = t.elapsed();
    let (passed, all) = report.pass_rate(0);
    proxy.stop();
    let _ = docker.remove_model_network().await;
    let _ = DockerRuntime::new(&evaluator.policy)
        .remove_model_network()
        .await;

    jobs.sort();
    one.sort();
    let (job50, eval50) = (pct(&jobs, 50.0), pct(&one, 50.0));
    println!("one case: Claude Code writes a file and answers, against the mock model; {runs} runs each after one warm-up");
    println!();
    println!("{:<34} {:>12} {:>12}", "", "p50", "p95");
    println!(
        "{:<34} {:>12} {:>12}",
        "job through Slack (baseline)",
        ms(job50),
        ms(pct(&jobs, 95.0))
    );
    println!(
        "{:<34} {:>12} {:>12}   {:+.1} % against the job",
        "eval case (run + checks)",
        ms(eval50),
        ms(pct(&one, 95.0)),
        (eval50.as_secs_f64() / job50.as_secs_f64().max(1e-9) - 1.0) * 100.0
    );
    println!();
    let serial = eval50.as_secs_f64() * suite.cases.len() as f64;
    println!(
        "suite of {} cases at max_running 4: {:.1} s wall ({passed}/{all} passed); one after another ≈ {:.1} s ({:.2}× faster)",
        suite.cases.len(),
        suite_wall.as_secs_f64(),
        serial,
        serial / suite_wall.as_secs_f64().max(1e-9)
    );
    Ok(())
}
