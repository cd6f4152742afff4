//! `threadwork bench restart`: mentions at a steady rate across three channels, runs going in
//! Docker containers, and the bot stopped gracefully (`Running::drain`, what SIGTERM does)
//! and started again on the same store several times, in this process. Beside it, the same
//! load on a bot that is never restarted, measured in the same run: how many mentions got
//! exactly one answer, how many runs were interrupted, and how long events waited for their
//! ack (across the restarts, Slack's redeliveries included).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::emulator::state::BOT_USER_ID;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::harness::command::{CommandHarness, CommandSpec, OutputMode};
use crate::harness::Harness;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::Runtime;

use super::{machine, ms, pct};

/// Seconds between restarts (and of load per restart in the baseline).
const SPELL: u64 = 3;

struct Phase {
    mentions: usize,
    answered_once: usize,
    answered_twice: usize,
    interrupted: usize,
    unanswered: usize,
    waits: Vec<Duration>,
    took: Duration,
}

pub async fn restart(restarts: usize, rate: u32, image: &str) -> anyhow::Result<()> {
    println!("threadwork bench restart — {}", machine());
    println!(
        "{rate} mentions/s over three channels, runs of about 5 s in Docker ({image}); {restarts} graceful restarts every {SPELL} s, beside no restart"
    );
    println!();
    let baseline = phase(0, restarts, rate, image).await?;
    let restarted = phase(restarts, restarts, rate, image).await?;
    println!(
        "{:<14} {:>8} {:>13} {:>6} {:>11} {:>10} {:>22} {:>8}",
        "",
        "mentions",
        "answered once",
        "twice",
        "interrupted",
        "unanswered",
        "event→ack p50 / max",
        "took"
    );
    for (name, p) in [
        ("no restart", &baseline),
        (&*format!("{restarts} restarts"), &restarted),
    ] {
        let mut waits = p.waits.clone();
        waits.sort();
        println!(
            "{:<14} {:>8} {:>13} {:>6} {:>11} {:>10} {:>22} {:>8}",
            name,
            p.mentions,
            p.answered_once,
            p.answered_twice,
            p.interrupted,
            p.unanswered,
            format!("{} / {}", ms(pct(&waits, 50.0)), ms(pct(&waits, 100.0))),
            format!("{:.1} s", p.took.as_secs_f64())
        );
    }
    let max = |p: &Phase| p.waits.iter().max().copied().unwrap_or_default();
    let base = max(&baseline).as_secs_f64().max(1e-6);
    println!();
    println!(
        "longest event→ack wait: {} with restarts, {} without ({:.1}×)",
        ms(max(&restarted)),
        ms(max(&baseline)),
        max(&restarted).as_secs_f64() / base
    );
    Ok(())
}

/// One run of the load: `restarts` restarts, over as long as `spell_count` restarts take.
async fn phase(restarts: usize, spells: usize, rate: u32, image: &str) -> anyhow::Result<Phase> {
    let dir = tempfile::tempdir()?;
    let emu = Emulator::start(([127, 0, 0, 1], 0).into(), EmulatorConfig::default()).await?;
    let mut config = super::docker_config(dir.path(), "bench-restart", image)?;
    config.jobs.max_running = 16;
    config.jobs.per_channel = 8;
    config.jobs.card_interval_ms = 500;
    config.overlap.mode = crate::overlap::Mode::Off;
    // Slack's update budget is not what this measures: at its defaults sixteen cards' final
    // edits wait their turn past a drain.
    config.slack.limits.update_per_minute = 6000;
    config.slack.limits.update_burst = 100;
    config.slack.limits.post_per_minute = 6000;
    config.slack.limits.post_burst = 100;
    config.slack.limits.tier3_per_minute = 6000;
    let settings = config.slack_settings(&emu.env())?;
    let spec = CommandSpec {
        program: "bash".into(),
        args: vec![
            "-c".into(),
            "for i in $(seq 1 12); do echo step $i; sleep 0.4; done".into(),
        ],
        mode: OutputMode::Text,
        env: Default::default(),
    };
    let start = || async {
        // A fresh runtime per process, as a restarted binary has.
        let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&config.sandbox));
        let harness: Arc<dyn Harness> =
            Arc::new(CommandHarness::with_runtime(spec.clone(), runtime.clone()));
        let running = crate::app::start_with(
            &config,
            &settings,
            HashMap::from([("sh".to_string(), harness)]),
            Some(runtime),
        )
        .await?;
        emu.wait_for_connections(2, Duration::from_secs(20)).await;
        anyhow::Ok(running)
    };
    emu.measure_acks();
    let began = Instant::now();
    let mut running = start().await?;
    let stop_posting = tokio_util::sync::CancellationToken::new();
    let poster = {
        let emu = emu.clone();
        let stop = stop_posting.clone();
        tokio::spawn(async move {
            let channels = ["general", "random", "dev"];
            let mut posted = Vec::new();
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
            for i in 0.. {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let channel = channels[i % channels.len()];
                let text = format!("<@{BOT_USER_ID}> bench restart job {i}");
                if let Ok(ts) = emu.post_as("alice", channel, &text, None).await {
                    posted.push((channel, ts));
                }
            }
            posted
        })
    };
    for r in 0..spells {
        tokio::time::sleep(Duration::from_secs(SPELL)).await;
        if r < restarts {
            running.drain().await;
            running = start().await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(SPELL)).await;
    stop_posting.cancel();
    let posted = poster.await?;
    // Every mention answered, or a minute without progress.
    let answer = |m: &crate::emulator::state::Message| {
        m.user == BOT_USER_ID && m.text.starts_with("step 1\n")
    };
    let mut waiting_since = Instant::now();
    let mut last = 0;
    loop {
        let mut answered = 0;
        for (channel, ts) in &posted {
            if emu.thread(channel, ts).await.iter().any(answer) {
                answered += 1;
            }
        }
        if answered == posted.len() || waiting_since.elapsed() > Duration::from_secs(60) {
            break;
        }
        if answered > last {
            last = answered;
            waiting_since = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let took = began.elapsed();
    let waits = emu.take_event_ack_waits();
    running.drain().await;
    let mut p = Phase {
        mentions: posted.len(),
        answered_once: 0,
        answered_twice: 0,
        interrupted: 0,
        unanswered: 0,
        waits,
        took,
    };
    for (channel, ts) in &posted {
        let thread = emu.thread(channel, ts).await;
        match thread.iter().filter(|m| answer(m)).count() {
            0 => p.unanswered += 1,
            1 => p.answered_once += 1,
            _ => p.answered_twice += 1,
        }
        if thread
            .iter()
            .any(|m| m.user == BOT_USER_ID && m.text.contains("interrupted"))
        {
            p.interrupted += 1;
        }
    }
    // What the runs left in Docker goes with the bench.
    let docker = DockerRuntime::new(&config.sandbox);
    for leftover in docker.leftovers().await.unwrap_or_default() {
        let _ = docker.remove(&leftover).await;
    }
    let _ = docker.remove_model_network().await;
    Ok(p)
}
