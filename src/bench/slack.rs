//! `threadwork bench slack`: the bot against the Slack emulator over real sockets, and in the
//! same run the peer a team would otherwise write — a minimal Bolt for Python app in Socket
//! Mode (`scripts/bench/bolt_peer.py`) — against a fresh emulator of its own. Both run as
//! separate processes, so their memory and CPU are their own.
//!
//! - P1 envelope sent → ack received, at `rate` envelopes/s for `secs` s (plain channel
//!   messages: every one is acked, none is a job);
//! - P2 mention → first reply in the thread, one mention at a time;
//! - P4 harness event → card edit visible, with `jobs` concurrent jobs, and the 429s seen;
//! - P5 resident memory idle and at `jobs` jobs, CPU share under them;
//! - P6 parse-and-route throughput on one core (in this process).
//!
//! Inputs are generated here, deterministically; nothing is read from data files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use slack_morphism::events::SlackPushEventCallback;
use tokio::sync::broadcast::error::RecvError;

use super::{machine, pct};
use crate::bot::route::{decide, Facts};
use crate::chat::inbound::decode;
use crate::emulator::state::BOT_USER_ID;
use crate::emulator::{Change, Emulator, EmulatorConfig, APP_TOKEN, BOT_TOKEN};

/// Channels the load is spread over (Slack paces posting per channel).
const CHANNELS: usize = 50;

pub struct Options {
    pub rate: u32,
    pub secs: u64,
    pub mentions: usize,
    pub jobs: usize,
    pub python: PathBuf,
}

/// What one side (ours or the peer) measured.
#[derive(Default)]
struct Side {
    acks: Vec<Duration>,
    unacked: usize,
    first_reply: Vec<Duration>,
    rss_idle_kb: u64,
    rss_loaded_kb: u64,
}

fn channel(i: usize) -> (String, String) {
    (
        format!("C0BENCH{:03}", i % CHANNELS),
        format!("bench-{}", i % CHANNELS),
    )
}

/// An emulator with the bench channels and Slack's documented per-method limits.
async fn emulator() -> anyhow::Result<Emulator> {
    let emu = Emulator::start(([127, 0, 0, 1], 0).into(), EmulatorConfig::default()).await?;
    for i in 0..CHANNELS {
        let (id, name) = channel(i);
        emu.add_channel(&id, &name).await;
    }
    for (method, per_minute) in [
        ("chat.postMessage", 60), // per channel: about one a second
        ("chat.update", 50),      // tier 3
        ("reactions.add", 50),    // tier 3
        ("conversations.replies", 50),
        ("users.info", 100), // tier 4
    ] {
        emu.set_rate_limit(method, Some(per_minute)).await;
    }
    Ok(emu)
}

pub(super) fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start after the last ')'.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

fn slack_env(cmd: &mut Command, emu: &Emulator) {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("SLACK_API_URL", emu.api_url())
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN);
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The floor of P1: a Socket Mode client that does nothing but ack, as its own process
/// (`threadwork bench null-acker`). What the bot or the peer adds to an ack is above this.
pub async fn null_acker() -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let api = std::env::var("SLACK_API_URL")?;
    let token = std::env::var("SLACK_APP_TOKEN")?;
    let open: Value = reqwest::Client::new()
        .post(format!(
            "{}/apps.connections.open",
            api.trim_end_matches('/')
        ))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let url = open["url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("apps.connections.open gave no url: {open}"))?;
    // Nagle off, as in the bot's Socket Mode client: the floor is the sockets', not Nagle's.
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    let (mut sink, mut stream) = ws.split();
    while let Some(Ok(frame)) = stream.next().await {
        if let Message::Text(text) = frame {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if let Some(id) = v["envelope_id"].as_str() {
                let ack = json!({ "envelope_id": id }).to_string();
                sink.send(Message::Text(ack.into())).await?;
            }
        }
    }
    Ok(())
}

/// The bot's config: every job runs a small script that prints five progress events a
/// second apart, each carrying the time it was printed, then an answer.
fn write_bot_files(dir: &Path, jobs: usize) -> anyhow::Result<PathBuf> {
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents)?;
    std::fs::write(
        agents.join("default.md"),
        "---\nname: default\ndescription: bench\nharness: ticker\n---\nYou help.\n",
    )?;
    let script = r#"for i in 1 2 3 4 5; do printf '{"type":"assistant_text","text":"mark %s"}\n' "$(date +%s%N)"; sleep 1; done; echo '{"type":"finished","answer":"done"}'"#;
    let config = format!(
        r#"[agents]
dir = "{agents}"
shared_dir = "{shared}"
watch = false

[store]
path = "{store}"

[jobs]
workdir = "{work}"
max_running = {jobs}
per_channel = {jobs}

[sandbox]
runtime = "process"

[harness.ticker]
kind = "command"
program = "sh"
args = ["-c", {script}]
mode = "json"
"#,
        agents = agents.display(),
        shared = dir.join("shared").display(),
        store = dir.join("store").display(),
        work = dir.join("jobs").display(),
        jobs = jobs + 50,
        script = toml_string(script),
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// P1: plain channel messages at `rate`/s for `secs` s; every envelope's send → ack.
async fn p1(emu: &Emulator, rate: u32, secs: u64, side: &mut Side) -> anyhow::Result<()> {
    emu.measure_acks();
    let total = rate as u64 * secs;
    let started = Instant::now();
    for n in 0..total {
        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let (ch, _) = channel(n as usize);
        emu.post_as("alice", &ch, &format!("chatter {n}"), None)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (mut acks, unacked) = emu.take_ack_latencies();
    acks.sort();
    side.acks = acks;
    side.unacked = unacked;
    Ok(())
}

/// P2: `n` mentions, one at a time in distinct channels; mention → first bot reply in the thread.
async fn p2(emu: &Emulator, n: usize, side: &mut Side) -> anyhow::Result<()> {
    let mut changes = emu.subscribe();
    for i in 0..n {
        let (ch, _) = channel(i);
        let asked = Instant::now();
        let ts = emu
            .post_as(
                "alice",
                &ch,
                &format!("<@{BOT_USER_ID}> bench p2 {i}"),
                None,
            )
            .await
            .map_err(anyhow::Error::msg)?;
        let deadline = asked + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, changes.recv()).await {
                Ok(Ok(Change::Posted { message }))
                    if message.user == BOT_USER_ID
                        && message.thread_ts.as_deref() == Some(ts.as_str()) =>
                {
                    side.first_reply.push(asked.elapsed());
                    break;
                }
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) => anyhow::bail!("the emulator stopped"),
                Err(_) => anyhow::bail!("no reply to mention {i} within 10 s"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    side.first_reply.sort();
    Ok(())
}

struct P4 {
    visible: Vec<Duration>,
    marks_seen: usize,
    answers: usize,
    ratelimited: u64,
    ratelimited_by: String,
    rss_peak_kb: u64,
    cpu_share: f64,
    wall: Duration,
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// P4/P5: `jobs` mentions at once over the bench channels; every `mark <nanos>` printed by a
/// job's harness → the first card edit that shows it.
async fn p4(emu: &Emulator, pid: u32, jobs: usize) -> anyhow::Result<P4> {
    let limited_before = emu.stats().await.ratelimited;
    let mut changes = emu.subscribe();
    let started = Instant::now();
    let ticks_before = cpu_ticks(pid);
    for i in 0..jobs {
        let (ch, _) = channel(i);
        emu.post_as(
            "alice",
            &ch,
            &format!("<@{BOT_USER_ID}> bench p4 {i}"),
            None,
        )
        .await
        .map_err(anyhow::Error::msg)?;
    }
    let mut seen: HashSet<u128> = HashSet::new();
    let mut visible = Vec::new();
    let mut answers = 0;
    let mut rss_peak_kb = 0;
    let mut sample = tokio::time::interval(Duration::from_millis(100));
    let deadline = started + Duration::from_secs(600);
    while answers < jobs && Instant::now() < deadline {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(Change::Updated { message }) if message.user == BOT_USER_ID => {
                    let now = now_nanos();
                    for mark in message.text.split("mark ").skip(1) {
                        let digits: String = mark.chars().take_while(char::is_ascii_digit).collect();
                        if let Ok(at) = digits.parse::<u128>() {
                            if seen.insert(at) {
                                visible.push(Duration::from_nanos(now.saturating_sub(at) as u64));
                            }
                        }
                    }
                }
                Ok(Change::Posted { message }) if message.user == BOT_USER_ID && message.text == "done" => {
                    answers += 1;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => anyhow::bail!("the emulator stopped"),
            },
            _ = sample.tick() => rss_peak_kb = rss_peak_kb.max(rss_kb(pid)),
        }
    }
    let wall = started.elapsed();
    let ticks = cpu_ticks(pid).saturating_sub(ticks_before);
    let limited_after = emu.stats().await.ratelimited;
    let by: Vec<(String, u64)> = limited_after
        .iter()
        .map(|(m, n)| (m.clone(), n - limited_before.get(m).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    visible.sort();
    Ok(P4 {
        marks_seen: visible.len(),
        visible,
        answers,
        ratelimited: by.iter().map(|(_, n)| n).sum(),
        ratelimited_by: by
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        rss_peak_kb,
        // Linux reports CPU time in ticks of 1/100 s.
        cpu_share: ticks as f64 / 100.0 / wall.as_secs_f64(),
        wall,
    })
}

/// P6 inputs: Events API payloads as Slack sends them — mentions with options, thread
/// replies, channel chatter, reactions — from a fixed seed.
pub fn generate_payloads(n: usize) -> Vec<String> {
    let mut state: u64 = 0x5EED_CAFE;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|i| {
            let r = next();
            let ts = format!("1700000000.{:06}", i % 1_000_000);
            let ch = format!("C0BENCH{:03}", r % 50);
            let event = match r % 4 {
                0 => json!({"type": "app_mention", "channel": ch, "user": "U0ALICE001", "ts": ts, "event_ts": ts,
                    "text": format!("<@{BOT_USER_ID}> fix the flaky test in `src/lib.rs` repo=acme/web branch=main model=m{} please", r % 7)}),
                1 => json!({"type": "message", "channel": ch, "user": "U0BOB00001", "ts": ts, "event_ts": ts,
                    "thread_ts": "1700000000.000001", "text": "also check the *login* page, see <https://example.test|the ticket>"}),
                2 => json!({"type": "message", "channel": ch, "user": "U0BOB00001", "ts": ts, "event_ts": ts,
                    "text": format!("chatter {i}")}),
                _ => json!({"type": "reaction_added", "user": "U0ALICE001", "reaction": "white_check_mark", "event_ts": ts,
                    "item": {"type": "message", "channel": ch, "ts": "1700000000.000002"}}),
            };
            json!({"team_id": "T0BENCH", "api_app_id": "A0BENCH", "event": event, "type": "event_callback",
                "event_id": format!("Ev{i:010}"), "event_time": 1_700_000_000u64})
            .to_string()
        })
        .collect()
}

/// P6: payload → typed event → routing decision, on this thread; beside parsing the same
/// JSON into an untyped value (the floor any handler pays).
fn p6(n: usize) -> anyhow::Result<(f64, f64)> {
    let payloads = generate_payloads(n);
    let facts = Facts {
        bot_user_id: BOT_USER_ID,
        bot_name: "threadwork",
        bot_id: None,
        allowed_bots: &[],
        sender_is_bot: false,
        thread_job: None,
        message_link: None,
        trigger: None,
        held: false,
    };
    let t = Instant::now();
    let mut routed = 0usize;
    for p in &payloads {
        let cb: SlackPushEventCallback = serde_json::from_str(p)?;
        let inbound = decode(&cb);
        if !matches!(
            decide(&inbound.kind, &facts),
            crate::bot::route::Decision::Ignore(_)
        ) {
            routed += 1;
        }
    }
    let ours = n as f64 / t.elapsed().as_secs_f64();
    anyhow::ensure!(routed > 0, "nothing was routed");
    let t = Instant::now();
    let mut fields = 0usize;
    for p in &payloads {
        let v: Value = serde_json::from_str(p)?;
        fields += v.as_object().map_or(0, |o| o.len());
    }
    let baseline = n as f64 / t.elapsed().as_secs_f64();
    anyhow::ensure!(fields > 0);
    Ok((ours, baseline))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn three(v: &[Duration]) -> String {
    format!(
        "{} / {} / {}",
        ms(pct(v, 50.0)),
        ms(pct(v, 95.0)),
        ms(pct(v, 99.0))
    )
}

fn ratio(peer: Duration, ours: Duration) -> String {
    if ours.is_zero() {
        return "—".into();
    }
    format!("{:.1}×", peer.as_secs_f64() / ours.as_secs_f64())
}

pub async fn slack(opts: Options) -> anyhow::Result<()> {
    let peer_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/bolt_peer.py");
    let check = Command::new(&opts.python)
        .args(["-c", "import slack_bolt"])
        .status();
    anyhow::ensure!(
        matches!(check, Ok(s) if s.success()),
        "the peer needs Python with slack_bolt at {}: run `bash scripts/bench.sh` (it installs it from PyPI)",
        opts.python.display()
    );
    println!("threadwork bench slack — {}", machine());
    println!();

    // Ours: the release binary as its own process.
    let dir = tempfile::tempdir()?;
    let config = write_bot_files(dir.path(), opts.jobs)?;
    let emu = emulator().await?;
    let log = std::fs::File::create(dir.path().join("bot.log"))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["run", "--config"]).arg(&config);
    slack_env(&mut cmd, &emu);
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    let bot = Killed(cmd.spawn()?);
    let pid = bot.0.id();
    anyhow::ensure!(
        emu.wait_for_connections(2, Duration::from_secs(20)).await,
        "the bot did not connect; see {}",
        dir.path().join("bot.log").display()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut ours = Side {
        rss_idle_kb: rss_kb(pid),
        ..Side::default()
    };
    p1(&emu, opts.rate, opts.secs, &mut ours).await?;
    ours.rss_loaded_kb = rss_kb(pid);
    p2(&emu, opts.mentions, &mut ours).await?;
    // Let P2's jobs finish so P4 starts from an idle bot.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let p4 = p4(&emu, pid, opts.jobs).await?;
    drop(bot);

    // The floor: a client that only acks, against a fresh emulator.
    let emu = emulator().await?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["bench", "null-acker"]);
    slack_env(&mut cmd, &emu);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let acker = Killed(cmd.spawn()?);
    anyhow::ensure!(
        emu.wait_for_connections(1, Duration::from_secs(10)).await,
        "the null acker did not connect"
    );
    let mut floor = Side::default();
    p1(&emu, opts.rate, opts.secs, &mut floor).await?;
    drop(acker);

    // The peer: Bolt for Python, against a fresh emulator.
    let emu = emulator().await?;
    let mut cmd = Command::new(&opts.python);
    cmd.arg(&peer_script);
    slack_env(&mut cmd, &emu);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let peer = Killed(cmd.spawn()?);
    let peer_pid = peer.0.id();
    anyhow::ensure!(
        emu.wait_for_connections(1, Duration::from_secs(30)).await,
        "the Bolt peer did not connect"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut theirs = Side {
        rss_idle_kb: rss_kb(peer_pid),
        ..Side::default()
    };
    p1(&emu, opts.rate, opts.secs, &mut theirs).await?;
    theirs.rss_loaded_kb = rss_kb(peer_pid);
    p2(&emu, opts.mentions, &mut theirs).await?;
    drop(peer);

    let p6_events = 200_000;
    let (p6_ours, p6_base) = p6(p6_events)?;

    let mb = |kb: u64| format!("{:.1} MB", kb as f64 / 1024.0);
    println!("| figure | threadwork | Bolt for Python peer | ratio (peer / ours) | goal |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| P1 envelope → ack, p50 / p95 / p99 ({} /s for {} s; unacked: {} / {}) | {} | {} | {} (p99) | p99 ≤ 2 ms, ≥ 10× |",
        opts.rate,
        opts.secs,
        ours.unacked,
        theirs.unacked,
        three(&ours.acks),
        three(&theirs.acks),
        ratio(pct(&theirs.acks, 99.0), pct(&ours.acks, 99.0)),
    );
    println!(
        "| P1 floor: a client that only acks (p50 / p95 / p99) | {} | — | — | — |",
        three(&floor.acks)
    );
    let above = |side: &Side| pct(&side.acks, 99.0).saturating_sub(pct(&floor.acks, 99.0));
    println!(
        "| P1 added above the floor, p99 | {} | {} | {} | ≥ 10× |",
        ms(above(&ours)),
        ms(above(&theirs)),
        ratio(above(&theirs), above(&ours)),
    );
    println!(
        "| P2 mention → first reply in the thread, p50 / p95 / p99 ({} mentions) | {} | {} | {} (p50) | p50 ≤ 20 ms |",
        opts.mentions,
        three(&ours.first_reply),
        three(&theirs.first_reply),
        ratio(pct(&theirs.first_reply, 50.0), pct(&ours.first_reply, 50.0)),
    );
    println!(
        "| P4 harness event → card edit visible, p50 / p95 / p99 ({} jobs; {} of {} events shown, the rest coalesced; {} answers in {:.0} s) | {} | — | — | p95 ≤ 1.5 s |",
        opts.jobs,
        p4.marks_seen,
        opts.jobs * 5,
        p4.answers,
        p4.wall.as_secs_f64(),
        three(&p4.visible),
    );
    println!(
        "| P4 429 answers from the emulator | {}{} | — | — | 0 |",
        p4.ratelimited,
        if p4.ratelimited > 0 {
            format!(" ({})", p4.ratelimited_by)
        } else {
            String::new()
        }
    );
    println!(
        "| P5 resident memory idle | {} | {} | {:.1}× | ≤ 30 MB |",
        mb(ours.rss_idle_kb),
        mb(theirs.rss_idle_kb),
        theirs.rss_idle_kb as f64 / ours.rss_idle_kb.max(1) as f64
    );
    println!(
        "| P5 resident memory after P1's load | {} | {} | {:.1}× | — |",
        mb(ours.rss_loaded_kb),
        mb(theirs.rss_loaded_kb),
        theirs.rss_loaded_kb as f64 / ours.rss_loaded_kb.max(1) as f64
    );
    println!(
        "| P5 resident memory at {} jobs (peak) / CPU share | {} / {:.1} % of a core | — | — | ≤ 100 MB, ≤ 10 % |",
        opts.jobs,
        mb(p4.rss_peak_kb),
        p4.cpu_share * 100.0
    );
    println!(
        "| P6 parse-and-route on one core ({p6_events} generated payloads) | {:.0} events/s | {:.0} events/s (untyped JSON parse only) | {:.2}× of the floor | ≥ 10,000 /s |",
        p6_ours,
        p6_base,
        p6_ours / p6_base
    );
    Ok(())
}
