//! The `threadwork` command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use threadwork::config::Config;
use threadwork::{app, dev, emulator};

#[derive(Parser)]
#[command(
    name = "threadwork",
    version,
    about = "A Slack-first agent bot that runs coding-agent harnesses"
)]
struct Cli {
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bot against Slack (SLACK_APP_TOKEN, SLACK_BOT_TOKEN, optional SLACK_API_URL).
    Run {
        /// The config file.
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
    },
    /// Chat with the bot in the terminal: emulated Slack, scripted harness, no tokens needed.
    Dev {
        /// Port for the emulated Slack (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Where dev mode keeps its store and job directories.
        #[arg(long, default_value = "data/dev")]
        data_dir: PathBuf,
        #[arg(long, default_value = "prompts/agents")]
        agents_dir: PathBuf,
        /// Use this config's harnesses, jobs and agents sections.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the audit log: every job's chain (who, where, agent, harness, prompt version,
    /// sandbox, outcome, cost, PR) and every approval, rejection, cancel and PR action.
    /// Reads the store, or the running bot's ops server when the bot holds the store.
    Audit {
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
        #[arg(long)]
        agent: Option<String>,
        /// A Slack user id: records by them or about jobs they asked for.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        /// A time (RFC 3339) or a span back from now: 30m, 24h, 7d.
        #[arg(long)]
        since: Option<String>,
        /// succeeded, failed, cancelled, timed_out.
        #[arg(long)]
        outcome: Option<String>,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// Check the hash chain instead: report the first record whose link is broken.
        #[arg(long, conflicts_with_all = ["agent", "user", "channel", "since", "outcome", "json"])]
        verify: bool,
    },
    /// Jobs: `jobs show <id>` prints a job and replays its transcript.
    Jobs {
        #[command(subcommand)]
        what: JobsCmd,
    },
    /// Check a deployment before it goes live: tokens, scopes, transport, prompt files,
    /// container runtime and images, store, model keys. Exits 1 when a check fails.
    Doctor {
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
        /// The Slack app manifest whose scopes the token must have.
        #[arg(long, default_value = "manifest.yml")]
        manifest: PathBuf,
    },
    /// Print benchmark figures (with a baseline from the same run).
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Run only the Slack emulator (for SDK tests or other bots).
    Emulator {
        #[arg(long, default_value_t = 3750)]
        port: u16,
    },
    /// Run the mock model API (Anthropic Messages, OpenAI Responses) replaying a script.
    MockModel {
        #[arg(long, default_value_t = 3760)]
        port: u16,
        /// One step per line: {"type":"shell","command":"…"}, {"type":"write_file","path":"…",
        /// "content":"…"} or {"type":"text","text":"…"}. Default: a shell step, then a text.
        #[arg(long)]
        script: Option<PathBuf>,
        /// Print each request body as it arrives.
        #[arg(long)]
        verbose: bool,
    },
}

#[derive(Subcommand)]
enum JobsCmd {
    Show {
        id: u64,
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Durable amendment appends and effective-prompt assembly.
    Prompts {
        #[arg(long, default_value_t = 500)]
        appends: usize,
        #[arg(long, default_value_t = 1000)]
        amendments: usize,
    },
    /// Mention → harness running in a Docker container, beside bare `docker run`.
    Sandbox {
        #[arg(long, default_value_t = 20)]
        jobs: usize,
        #[arg(long, default_value = "threadwork/harness:dev")]
        image: String,
    },
    /// The bot against the Slack emulator beside a Bolt for Python peer: acks, first
    /// replies, card edits under load, memory and CPU, parse-and-route throughput.
    Slack {
        /// Envelopes per second for P1.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds of P1 load.
        #[arg(long, default_value_t = 10)]
        secs: u64,
        /// Mentions for P2, one at a time.
        #[arg(long, default_value_t = 30)]
        mentions: usize,
        /// Concurrent jobs for P4 and P5.
        #[arg(long, default_value_t = 200)]
        jobs: usize,
        /// Python with slack_bolt (scripts/bench.sh makes .venv/bin/python).
        #[arg(long, default_value = ".venv/bin/python")]
        python: PathBuf,
    },
    /// The floor of `bench slack`: a Socket Mode client that only acks (started by it).
    #[command(hide = true)]
    NullAcker,
    /// Claude Code, Codex CLI and pi in their containers: a 3-turn job against the mock model.
    Harnesses {
        #[arg(long, default_value_t = 5)]
        jobs: usize,
        #[arg(long, default_value = "threadwork/agents:dev")]
        image: String,
    },
}

fn init_logs(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every line passes the redactor: a secret the bot holds never reaches the log.
        .with_writer(|| threadwork::ops::redact::RedactingWriter(std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    threadwork::init_tls();
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run { config } => {
            init_logs(cli.log_json, "info");
            run(config).await
        }
        Cmd::Dev {
            port,
            data_dir,
            agents_dir,
            config,
        } => {
            init_logs(cli.log_json, "warn");
            dev::run(dev::DevOptions {
                port,
                data_dir,
                agents_dir,
                config,
            })
            .await
        }
        Cmd::Bench {
            what:
                BenchCmd::Prompts {
                    appends,
                    amendments,
                },
        } => {
            init_logs(cli.log_json, "warn");
            threadwork::bench::prompts(appends, amendments)
        }
        Cmd::Bench {
            what: BenchCmd::Sandbox { jobs, image },
        } => {
            init_logs(cli.log_json, "warn");
            threadwork::bench::sandbox(jobs, &image).await
        }
        Cmd::Bench {
            what:
                BenchCmd::Slack {
                    rate,
                    secs,
                    mentions,
                    jobs,
                    python,
                },
        } => {
            init_logs(cli.log_json, "warn");
            threadwork::bench::slack::slack(threadwork::bench::slack::Options {
                rate,
                secs,
                mentions,
                jobs,
                python,
            })
            .await
        }
        Cmd::Bench {
            what: BenchCmd::NullAcker,
        } => threadwork::bench::slack::null_acker().await,
        Cmd::Bench {
            what: BenchCmd::Harnesses { jobs, image },
        } => {
            init_logs(cli.log_json, "warn");
            threadwork::bench::harnesses(jobs, &image).await
        }
        Cmd::MockModel {
            port,
            script,
            verbose,
        } => {
            init_logs(cli.log_json, "info");
            serve_mock_model(port, script, verbose).await
        }
        Cmd::Audit {
            config,
            agent,
            user,
            channel,
            since,
            outcome,
            json,
            verify,
        } => {
            init_logs(cli.log_json, "warn");
            if verify {
                verify_audit(config).await
            } else {
                audit(config, agent, user, channel, since, outcome, json).await
            }
        }
        Cmd::Jobs {
            what: JobsCmd::Show { id, config },
        } => {
            init_logs(cli.log_json, "warn");
            show_job(config, id).await
        }
        Cmd::Doctor { config, manifest } => {
            init_logs(cli.log_json, "warn");
            doctor(config, manifest).await
        }
        Cmd::Emulator { port } => {
            init_logs(cli.log_json, "info");
            serve_emulator(port).await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("threadwork: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config_path: PathBuf) -> anyhow::Result<()> {
    let mut config = Config::load(&config_path)?;
    config.model_keys_from_env(&|k| std::env::var(k).ok());
    let settings = config.slack_settings(&|k| std::env::var(k).ok())?;
    tracing::info!(api_url = %settings.api_url, "starting");
    let running = app::start(&config, &settings).await?;
    running.serve_until_signal().await;
    Ok(())
}

/// The config file, or the defaults when it does not exist (as `run` would need it to).
fn config_or_default(path: &std::path::Path) -> anyhow::Result<Config> {
    if path.exists() {
        let mut config = Config::load(path)?;
        config.model_keys_from_env(&|k| std::env::var(k).ok());
        Ok(config)
    } else {
        let mut config = Config::default();
        config.fill_defaults();
        Ok(config)
    }
}

async fn audit(
    config: PathBuf,
    agent: Option<String>,
    user: Option<String>,
    channel: Option<String>,
    since: Option<String>,
    outcome: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    use threadwork::cli::audit;
    let config = config_or_default(&config)?;
    let since = since
        .map(|s| audit::parse_since(&s, chrono::Utc::now()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let filter = audit::Filter {
        agent,
        user,
        channel,
        since,
        outcome,
    };
    let token = config.ops.bearer(&|k| std::env::var(k).ok());
    let records = audit::source(&config.store.path, config.ops.listen, token)?
        .audit()
        .await?;
    let picked = audit::select(&records, &filter);
    print!(
        "{}",
        if json {
            audit::json_lines(&picked)
        } else {
            audit::table(&picked)
        }
    );
    Ok(())
}

async fn verify_audit(config: PathBuf) -> anyhow::Result<()> {
    use threadwork::cli::audit;
    let config = config_or_default(&config)?;
    let token = config.ops.bearer(&|k| std::env::var(k).ok());
    let raw = audit::source(&config.store.path, config.ops.listen, token)?
        .audit_raw()
        .await?;
    match threadwork::store::verify_audit(&raw) {
        Ok(chained) => {
            println!(
                "audit chain intact: {} records, {chained} linked{}",
                raw.len(),
                if chained < raw.len() {
                    format!(" ({} from before the chain)", raw.len() - chained)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Err(broken) => anyhow::bail!(
            "audit chain broken at record {} of {}: {}",
            broken.position,
            raw.len(),
            broken.why
        ),
    }
}

async fn show_job(config: PathBuf, id: u64) -> anyhow::Result<()> {
    use threadwork::cli::audit;
    let config = config_or_default(&config)?;
    let token = config.ops.bearer(&|k| std::env::var(k).ok());
    let (job, transcript) = audit::source(&config.store.path, config.ops.listen, token)?
        .job(id)
        .await?;
    let job = job.without_secrets();
    print!("{}", audit::show_job(&job, &transcript));
    Ok(())
}

async fn doctor(config: PathBuf, manifest: PathBuf) -> anyhow::Result<()> {
    use threadwork::cli::doctor;
    let config = config_or_default(&config)?;
    let checks = doctor::run(&config, &manifest).await;
    print!("{}", doctor::render(&checks));
    let failed = checks.iter().filter(|c| c.result.is_err()).count();
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed");
    }
    println!("all checks passed");
    Ok(())
}

async fn serve_emulator(port: u16) -> anyhow::Result<()> {
    let emu = emulator::Emulator::start(
        ([127, 0, 0, 1], port).into(),
        emulator::EmulatorConfig::default(),
    )
    .await?;
    println!("SLACK_API_URL={}", emu.api_url());
    println!("SLACK_APP_TOKEN={}", emulator::APP_TOKEN);
    println!("SLACK_BOT_TOKEN={}", emulator::BOT_TOKEN);
    println!("control API: http://{}/_emu/", emu.addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn serve_mock_model(port: u16, script: Option<PathBuf>, verbose: bool) -> anyhow::Result<()> {
    use threadwork::model::mock::{MockModel, Step};
    let steps = match script {
        Some(path) => std::fs::read_to_string(&path)?
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str::<Step>(l)
                    .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![
            Step::Shell {
                command: "ls -la".into(),
            },
            Step::Text {
                text: "Done: I listed the workspace.".into(),
            },
        ],
    };
    let mock = MockModel::start(([0, 0, 0, 0], port).into(), steps).await?;
    println!("mock model API at {}", mock.url());
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
        }
        let requests = mock.requests();
        for r in &requests[seen..] {
            println!("{} {}", r.method, r.path);
            if verbose {
                println!("{}", serde_json::to_string_pretty(&r.body)?);
            }
        }
        seen = requests.len();
    }
}
