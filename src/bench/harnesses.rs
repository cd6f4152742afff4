//! `threadwork bench harnesses`: each real CLI (Claude Code, Codex CLI, pi, Gemini CLI,
//! opencode, Copilot CLI) in its container,
//! against the mock model through the bot's model proxy, running a scripted 3-turn job
//! (edit a file, run a shell command, answer). Figures per harness: the job's wall time, the
//! container's peak memory, and the bot's own added latency per harness event (line read from
//! the container → card edit queued). The baseline, measured in the same run, is the CLI
//! printing its version in a bare `docker run`: what starting that CLI costs at all.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::{machine, ms, pct};
use crate::config::Config;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::harness::cli::{CliHarness, CliKind, CliSpec};
use crate::harness::{probe, Harness};
use crate::model::mock::{MockModel, Step};
use crate::model::proxy::{ProxyConfig, Upstream};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::Runtime;

const CLIS: [(CliKind, &str, &str); 6] = [
    (CliKind::Claude, "claude", "mock-sonnet"),
    (CliKind::Codex, "codex", "mock-gpt"),
    (CliKind::Pi, "pi", "mock-sonnet"),
    (CliKind::Gemini, "gemini", "mock-gemini"),
    (CliKind::Opencode, "opencode", "mock-sonnet"),
    (CliKind::Copilot, "copilot", "mock-sonnet"),
];

/// The three model turns of every job; the shell turn notes the container's peak memory.
fn script() -> Vec<Step> {
    vec![
        Step::WriteFile {
            path: "/workspace/hello.txt".into(),
            content: "hello".into(),
        },
        Step::Shell {
            command: "(cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes) > /workspace/peak".into(),
        },
        Step::Text {
            text: "done".into(),
        },
    ]
}

struct Figures {
    wall: Vec<Duration>,
    peak_mb: Vec<f64>,
    added: Vec<Duration>,
    baseline: Vec<Duration>,
}

pub async fn harnesses(jobs: usize, image: &str) -> anyhow::Result<()> {
    println!("threadwork bench harnesses — {}", machine());
    println!();
    let dir = tempfile::tempdir()?;
    let mock = MockModel::start(([127, 0, 0, 1], 0).into(), script()).await?;
    let emu = Emulator::start(([127, 0, 0, 1], 0).into(), EmulatorConfig::default()).await?;
    let agents = dir.path().join("agents");
    std::fs::create_dir_all(&agents)?;
    for (_, name, model) in CLIS {
        std::fs::write(
            agents.join(format!("{name}.md")),
            format!("---\nname: {name}\ndescription: bench\nharness: {name}\nmodel: {model}\nsandbox:\n  network: model\n---\nYou help.\n"),
        )?;
    }
    let mut config = Config::default();
    config.agents.dir = agents;
    config.agents.default = "claude".into();
    config.agents.shared_dir = dir.path().join("shared");
    config.agents.watch = false;
    config.store.path = dir.path().join("store");
    config.jobs.workdir = dir.path().join("jobs");
    // Twelve near-identical requests: the overlap check would hold each for a click.
    config.overlap.mode = crate::overlap::Mode::Off;
    config.sandbox.instance = "bench-harnesses".into();
    config.sandbox.image = image.to_string();
    let upstream = || Upstream {
        base_url: mock.url(),
        api_key: Some(SecretString::from("bench-key")),
    };
    let listen = std::net::TcpListener::bind("0.0.0.0:0")?.local_addr()?;
    config.model = Some(ProxyConfig {
        listen,
        anthropic: Some(upstream()),
        openai: Some(upstream()),
        google: Some(upstream()),
        agent_keys: BTreeMap::new(),
        // Priced, so the runs' cost is counted as in a real install (and nothing is logged
        // as unpriced).
        prices: ["mock-sonnet", "mock-gpt", "mock-gemini"]
            .into_iter()
            .map(|m| {
                let price = crate::model::proxy::Price {
                    input_per_mtok: 3.0,
                    output_per_mtok: 15.0,
                };
                (m.to_string(), price)
            })
            .collect(),
    });
    config.fill_defaults();
    let docker = Arc::new(DockerRuntime::new(&config.sandbox));
    let runtime: Arc<dyn Runtime> = docker.clone();
    let harnesses: HashMap<String, Arc<dyn Harness>> = CLIS
        .iter()
        .map(|(kind, name, _)| {
            let spec = CliSpec {
                program: None,
                args: vec![],
                env: Default::default(),
            };
            let h: Arc<dyn Harness> = Arc::new(CliHarness::new(*kind, spec, runtime.clone()));
            (name.to_string(), h)
        })
        .collect();
    let settings = config.slack_settings(&emu.env())?;
    let running =
        crate::app::start_with(&config, &settings, harnesses, Some(runtime.clone())).await?;
    emu.wait_for_connections(2, Duration::from_secs(10)).await;
    let store = running.bot.store();

    let mut results = Vec::new();
    let mut next_job = 1u64;
    for (_, name, _) in CLIS {
        let mut figures = Figures {
            wall: vec![],
            peak_mb: vec![],
            added: vec![],
            baseline: vec![],
        };
        // One warm-up job per CLI (its image layers into the page cache), not counted.
        for i in 0..=jobs {
            if i == 1 {
                probe::enable();
            }
            let id = next_job;
            next_job += 1;
            let asked = Instant::now();
            super::job_to_end(
                &emu,
                store.as_ref(),
                id,
                &format!("bench job {i} agent={name}"),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let wall = asked.elapsed();
            if i > 0 {
                figures.wall.push(wall);
                let peak = std::fs::read_to_string(
                    config.jobs.workdir.join(format!("job-{id}")).join("peak"),
                )?;
                figures
                    .peak_mb
                    .push(peak.trim().parse::<f64>()? / 1_048_576.0);
            }
            running.bot.wait_idle().await;
            // Two messages per job and Slack's one-a-second channel budget: keep pacing out
            // of the figure.
            tokio::time::sleep_until((asked + Duration::from_millis(2200)).into()).await;
        }
        figures.added = probe::take();
        for _ in 0..=jobs.min(5) {
            let t = Instant::now();
            let status = std::process::Command::new("docker")
                .args(["run", "--rm", "--init", "--network", "none", "-e"])
                // Copilot's payload, unpacked in the image (as the harness runs it).
                .arg(format!(
                    "COPILOT_CACHE_HOME={}",
                    crate::harness::cli::COPILOT_CACHE
                ))
                .args([image, name])
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()?;
            anyhow::ensure!(
                status.success(),
                "`docker run {image} {name} --version` failed"
            );
            figures.baseline.push(t.elapsed());
        }
        figures.baseline.remove(0);
        for list in [&mut figures.wall, &mut figures.added, &mut figures.baseline] {
            list.sort();
        }
        results.push((name, figures));
    }
    running.stop().await;
    let _ = docker.remove_model_network().await;

    println!("scripted 3-turn job (write a file, run a command, answer) against the mock model, {jobs} jobs per CLI after one warm-up");
    println!();
    println!(
        "{:<8} {:>12} {:>12} {:>16} {:>8} {:>22} {:>7}",
        "harness",
        "wall p50",
        "peak memory",
        "bot added p50/p95",
        "events",
        "baseline (--version)",
        "ratio"
    );
    for (name, f) in &results {
        let wall = pct(&f.wall, 50.0);
        let base = pct(&f.baseline, 50.0);
        let peak = f.peak_mb.iter().cloned().fold(0.0, f64::max);
        println!(
            "{:<8} {:>12} {:>9.0} MB {:>16} {:>8} {:>22} {:>6.1}×",
            name,
            ms(wall),
            peak,
            format!(
                "{:.0}/{:.0} µs",
                micros(pct(&f.added, 50.0)),
                micros(pct(&f.added, 95.0))
            ),
            f.added.len(),
            ms(base),
            wall.as_secs_f64() / base.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
