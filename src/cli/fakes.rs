//! The commands that come with the fakes (`--features fakes`): `dev`, `emulator`,
//! `mock-model` and `bench`. Not part of the product's build.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum FakesCmd {
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
    /// Run the mock model API (Anthropic Messages, OpenAI Responses, Gemini) replaying a script.
    MockModel {
        #[arg(long, default_value_t = 3760)]
        port: u16,
        /// One step per line: {"type":"shell","command":"…"}, {"type":"write_file","path":"…",
        /// "content":"…"}, {"type":"text","text":"…"}, {"type":"tool","name":"…","input":{…}} or
        /// {"type":"fail","status":529,"message":"…","times":1}. Default: a shell step, then a text.
        #[arg(long)]
        script: Option<PathBuf>,
        /// Print each request body as it arrives.
        #[arg(long)]
        verbose: bool,
        /// The address to listen on (a container reaching it needs the bridge's address).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
    },
}

#[derive(Subcommand)]
pub enum BenchCmd {
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
    /// The overlap check at intake against a store of past requests, beside a full scan;
    /// the index's memory; precision and recall on `tests/overlap/*.tsv`.
    Overlap {
        #[arg(long, default_value_t = 100_000)]
        requests: usize,
        #[arg(long, default_value_t = 2000)]
        queries: usize,
    },
    /// The floor of `bench slack`: a Socket Mode client that only acks (started by it).
    #[command(hide = true)]
    NullAcker,
    /// Mentions at a steady rate with runs going in Docker while the bot is stopped
    /// gracefully and started again, beside the same load with no restart.
    Restart {
        #[arg(long, default_value_t = 5)]
        restarts: usize,
        /// Mentions per second, over three channels.
        #[arg(long, default_value_t = 2)]
        rate: u32,
        #[arg(long, default_value = "threadwork/harness:dev")]
        image: String,
    },
    /// The eval path beside a job through Slack (Claude Code in its container), and a suite
    /// at max_running 4.
    Evals {
        /// Timed runs of each, after one warm-up.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Cases in the suite.
        #[arg(long, default_value_t = 20)]
        cases: usize,
        #[arg(long, default_value = "threadwork/agents:dev")]
        image: String,
    },
    /// Claude Code, Codex CLI and pi in their containers: a 3-turn job against the mock model.
    Harnesses {
        #[arg(long, default_value_t = 5)]
        jobs: usize,
        #[arg(long, default_value = "threadwork/agents:dev")]
        image: String,
    },
}

/// Runs a fakes command; `init_logs` sets up the log at the command's default level.
pub async fn run(cmd: FakesCmd, init_logs: impl FnOnce(&str)) -> anyhow::Result<()> {
    match cmd {
        FakesCmd::Dev {
            port,
            data_dir,
            agents_dir,
            config,
        } => {
            init_logs("warn");
            crate::dev::run(crate::dev::DevOptions {
                port,
                data_dir,
                agents_dir,
                config,
            })
            .await
        }
        FakesCmd::Bench {
            what:
                BenchCmd::Prompts {
                    appends,
                    amendments,
                },
        } => {
            init_logs("warn");
            crate::bench::prompts(appends, amendments)
        }
        FakesCmd::Bench {
            what: BenchCmd::Overlap { requests, queries },
        } => {
            init_logs("warn");
            crate::bench::overlap(requests, queries)
        }
        FakesCmd::Bench {
            what: BenchCmd::Sandbox { jobs, image },
        } => {
            init_logs("warn");
            crate::bench::sandbox(jobs, &image).await
        }
        FakesCmd::Bench {
            what:
                BenchCmd::Slack {
                    rate,
                    secs,
                    mentions,
                    jobs,
                    python,
                },
        } => {
            init_logs("warn");
            crate::bench::slack::slack(crate::bench::slack::Options {
                rate,
                secs,
                mentions,
                jobs,
                python,
            })
            .await
        }
        FakesCmd::Bench {
            what: BenchCmd::NullAcker,
        } => crate::bench::slack::null_acker().await,
        FakesCmd::Bench {
            what:
                BenchCmd::Restart {
                    restarts,
                    rate,
                    image,
                },
        } => {
            init_logs("error");
            crate::bench::restart(restarts, rate, &image).await
        }
        FakesCmd::Bench {
            what: BenchCmd::Evals { runs, cases, image },
        } => {
            init_logs("warn");
            crate::bench::evals(runs, cases, &image).await
        }
        FakesCmd::Bench {
            what: BenchCmd::Harnesses { jobs, image },
        } => {
            init_logs("warn");
            crate::bench::harnesses(jobs, &image).await
        }
        FakesCmd::MockModel {
            port,
            script,
            verbose,
            bind,
        } => {
            init_logs("info");
            serve_mock_model(bind, port, script, verbose).await
        }
        FakesCmd::Emulator { port } => {
            init_logs("info");
            serve_emulator(port).await
        }
    }
}

async fn serve_emulator(port: u16) -> anyhow::Result<()> {
    let emu = crate::emulator::Emulator::start(
        ([127, 0, 0, 1], port).into(),
        crate::emulator::EmulatorConfig::default(),
    )
    .await?;
    println!("SLACK_API_URL={}", emu.api_url());
    println!("SLACK_APP_TOKEN={}", crate::emulator::APP_TOKEN);
    println!("SLACK_BOT_TOKEN={}", crate::emulator::BOT_TOKEN);
    println!("control API: http://{}/_emu/", emu.addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn serve_mock_model(
    bind: std::net::IpAddr,
    port: u16,
    script: Option<PathBuf>,
    verbose: bool,
) -> anyhow::Result<()> {
    use crate::model::mock::{MockModel, Step};
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
    let mock = MockModel::start((bind, port).into(), steps).await?;
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
