//! `threadwork bench`: figures, never pass/fail. Each figure comes with a baseline measured in
//! the same run on the same machine, and the ratio between them.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::agents::{parse_agent, Known};
use crate::amendments::{Amendment, AmendmentStatus};
use crate::prompts::effective_prompt;
use crate::store::{SledStore, Store};

mod evals;
mod harnesses;
mod overlap;
mod restart;
pub use overlap::overlap;
pub use restart::restart;
pub mod slack;
pub use evals::evals;
pub use harnesses::harnesses;

/// A bot whose one agent, `default`, runs harness `sh` in Docker (`instance`, `image`), with
/// its agents, store and jobs under `dir`.
fn docker_config(
    dir: &std::path::Path,
    instance: &str,
    image: &str,
) -> anyhow::Result<crate::config::Config> {
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents)?;
    std::fs::write(
        agents.join("default.md"),
        "---\nname: default\ndescription: bench\nharness: sh\n---\nYou help.\n",
    )?;
    let mut config = crate::config::Config::default();
    config.agents.dir = agents;
    config.agents.shared_dir = dir.join("shared");
    config.agents.watch = false;
    config.store.path = dir.join("store");
    config.jobs.workdir = dir.join("jobs");
    config.sandbox.instance = instance.into();
    config.sandbox.image = image.to_string();
    Ok(config)
}

/// Posts `text` as alice in #general and waits (at most 180 s) for job `id` to end with the
/// answer "done"; the job as it ended.
async fn job_to_end(
    emu: &crate::emulator::Emulator,
    store: &dyn Store,
    id: u64,
    text: &str,
) -> anyhow::Result<crate::job::Job> {
    let asked = Instant::now();
    emu.post_as(
        "alice",
        "general",
        &format!("<@{}> {text}", crate::emulator::state::BOT_USER_ID),
        None,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let deadline = asked + Duration::from_secs(180);
    let job = loop {
        if let Some(job) = store.job(id)?.filter(|j| j.state.is_terminal()) {
            break job;
        }
        anyhow::ensure!(Instant::now() < deadline, "job {id} did not finish");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    anyhow::ensure!(
        job.answer.as_deref() == Some("done"),
        "job {id} ended {}: {}",
        job.state.label(),
        job.failure.clone().unwrap_or_default()
    );
    Ok(job)
}

/// Percentile (0–100) of sorted durations.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

fn amendment(agent: &str, number: u32, status: AmendmentStatus) -> Amendment {
    Amendment {
        agent: agent.into(),
        number,
        text: format!(
            "Amendment {number}: when a test is flaky, find the race before adding a retry."
        ),
        author: "U0BENCH001".into(),
        permalink: Some(format!(
            "https://example.slack.com/archives/C1/p{number:016}"
        )),
        job: Some(u64::from(number)),
        channel: "C1".into(),
        message_ts: Some(format!("1700000000.{number:06}")),
        created_at: Utc::now(),
        status,
        decided_by: None,
        decided_at: None,
    }
}

/// Durable amendment appends and effective-prompt assembly (the learning loop's hot paths).
pub fn prompts(appends: usize, amendments: usize) -> anyhow::Result<()> {
    println!("threadwork bench prompts — {}", machine());
    println!();

    // Durable append: ours (store API, flushed) vs. a raw sled insert + flush of the same bytes.
    let dir = tempfile::tempdir()?;
    let store = SledStore::open(&dir.path().join("ours"))?;
    let raw = sled::open(dir.path().join("raw"))?;
    let raw_tree = raw.open_tree("t")?;
    let mut ours = Vec::with_capacity(appends);
    let mut base = Vec::with_capacity(appends);
    for i in 0..appends {
        let a = amendment("bench", 0, AmendmentStatus::Proposed);
        let bytes = serde_json::to_vec(&a)?;
        let t = Instant::now();
        raw_tree.insert((i as u64).to_be_bytes(), bytes)?;
        raw.flush()?;
        base.push(t.elapsed());

        let t = Instant::now();
        let n = store.next_amendment_number("bench")?;
        store.put_amendment(&amendment("bench", n, AmendmentStatus::Proposed))?;
        ours.push(t.elapsed());
    }
    ours.sort();
    base.sort();
    println!("durable amendment append ({appends} appends, each flushed before it returns)");
    println!(
        "  ours     p50 {}  p99 {}",
        ms(pct(&ours, 50.0)),
        ms(pct(&ours, 99.0))
    );
    println!(
        "  baseline p50 {}  p99 {}  (raw sled insert + flush, same record)",
        ms(pct(&base, 50.0)),
        ms(pct(&base, 99.0))
    );
    println!(
        "  ratio p99 {:.2}×   goal: p99 ≤ 5 ms",
        pct(&ours, 99.0).as_secs_f64() / pct(&base, 99.0).as_secs_f64().max(1e-9)
    );
    println!();

    // Assembly with many active amendments: ours vs. concatenating the same texts.
    let agent = parse_agent(
        std::path::Path::new("bench.md"),
        "---\nname: bench\ndescription: bench\nharness: scripted\n---\nYou are a careful engineer.",
        Known {
            harnesses: &["scripted"],
            fragments: &[],
        },
    )?;
    let list: Vec<Amendment> = (1..=amendments as u32)
        .map(|n| amendment("bench", n, AmendmentStatus::Active))
        .collect();
    let runs = 200;
    let mut ours = Vec::with_capacity(runs);
    let mut base = Vec::with_capacity(runs);
    let mut sink = 0usize;
    for _ in 0..runs {
        let t = Instant::now();
        let p = effective_prompt(&agent, &Default::default(), &list);
        ours.push(t.elapsed());
        sink += p.text.len();
        let t = Instant::now();
        let mut text = agent.prompt.clone();
        for a in &list {
            text.push_str("\n- ");
            text.push_str(&a.text);
        }
        base.push(t.elapsed());
        sink += text.len();
    }
    ours.sort();
    base.sort();
    println!("effective prompt with {amendments} active amendments ({runs} runs)");
    println!(
        "  ours     p50 {}  p99 {}",
        ms(pct(&ours, 50.0)),
        ms(pct(&ours, 99.0))
    );
    println!(
        "  baseline p50 {}  p99 {}  (plain concatenation, no ordering or version hash)",
        ms(pct(&base, 50.0)),
        ms(pct(&base, 99.0))
    );
    println!(
        "  ratio p50 {:.2}×   goal: ≤ 1 ms   (checksum {sink})",
        pct(&ours, 50.0).as_secs_f64() / pct(&base, 50.0).as_secs_f64().max(1e-9)
    );
    Ok(())
}

/// `threadwork bench sandbox`: mention → harness process running in its container, over
/// `jobs` sequential jobs through the emulator and the Docker runtime, beside bare
/// `docker run --rm <image> true` measured in the same run.
pub async fn sandbox(jobs: usize, image: &str) -> anyhow::Result<()> {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::SystemTime;

    use crate::emulator::state::BOT_USER_ID;
    use crate::emulator::{Emulator, EmulatorConfig};
    use crate::harness::command::{CommandHarness, CommandSpec, OutputMode};
    use crate::harness::Harness;
    use crate::runtime::docker::DockerRuntime;
    use crate::runtime::Runtime;

    println!("threadwork bench sandbox — {}", machine());
    println!();
    let dir = tempfile::tempdir()?;
    let emu = Emulator::start(([127, 0, 0, 1], 0).into(), EmulatorConfig::default()).await?;
    let config = docker_config(dir.path(), "bench", image)?;
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&config.sandbox));
    // The harness's first act is to note the time it started running.
    let spec = CommandSpec {
        program: "bash".into(),
        args: vec![
            "-c".into(),
            "date +%s%N > /workspace/started; echo '{\"type\":\"finished\",\"answer\":\"ok\"}'"
                .into(),
        ],
        mode: OutputMode::Json,
        env: Default::default(),
    };
    let harness: Arc<dyn Harness> = Arc::new(CommandHarness::with_runtime(spec, runtime.clone()));
    let settings = config.slack_settings(&emu.env())?;
    let running = crate::app::start_with(
        &config,
        &settings,
        HashMap::from([("sh".to_string(), harness)]),
        Some(runtime),
    )
    .await?;
    emu.wait_for_connections(2, Duration::from_secs(10)).await;

    let nanos = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    };
    let mut latencies = Vec::new();
    // One warm-up job (image layers into the page cache), not counted.
    for i in 0..=jobs {
        let marker = config
            .jobs
            .workdir
            .join(format!("job-{}", i + 1))
            .join("started");
        let asked = SystemTime::now();
        let asked_at = Instant::now();
        emu.post_as(
            "alice",
            "general",
            &format!("<@{BOT_USER_ID}> bench job {i}"),
            None,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let started: u128 = loop {
            if let Some(n) = std::fs::read_to_string(&marker)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break n;
            }
            anyhow::ensure!(Instant::now() < deadline, "job {} never started", i + 1);
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        running.bot.wait_idle().await;
        // Each job posts two messages (card, answer); Slack allows about one a second per
        // channel. Spacing the mentions keeps that budget full, so pacing is not what this
        // measures.
        tokio::time::sleep_until((asked_at + Duration::from_millis(2200)).into()).await;
        if i > 0 {
            latencies.push(Duration::from_nanos(
                started.saturating_sub(nanos(asked)) as u64
            ));
        }
    }
    running.stop().await;
    latencies.sort();

    let mut bare = Vec::new();
    for _ in 0..=jobs.min(10) {
        let t = Instant::now();
        let status = std::process::Command::new("docker")
            .args(["run", "--rm", image, "true"])
            .stdout(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "`docker run --rm {image} true` failed");
        bare.push(t.elapsed());
    }
    bare.remove(0);
    bare.sort();

    let p50 = pct(&latencies, 50.0);
    println!(
        "mention → harness running in its container ({jobs} jobs, one at a time, 2.2 s apart)"
    );
    println!(
        "  threadwork      p50 {}   p95 {}",
        ms(p50),
        ms(pct(&latencies, 95.0))
    );
    println!(
        "  baseline        p50 {}   (`docker run --rm {image} true`, {} runs)",
        ms(pct(&bare, 50.0)),
        bare.len()
    );
    println!(
        "  ratio           {:.2}× (goal ≤ 1.2)",
        p50.as_secs_f64() / pct(&bare, 50.0).as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(pct(&d, 50.0), Duration::from_millis(51));
        assert_eq!(pct(&d, 99.0), Duration::from_millis(99));
        assert_eq!(pct(&[], 99.0), Duration::ZERO);
    }
}
