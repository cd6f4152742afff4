//! The `threadwork` command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use threadwork::app;
use threadwork::config::Config;

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
    /// Run an agent's eval suite (`eval <agent>`), or write its approved results as a suite
    /// file (`eval export <agent>`). Exits 1 when a variant regresses against the first (or,
    /// with one variant, when a case fails), 2 when the suite cannot run.
    Eval {
        /// `<agent>`, or `export <agent>`.
        #[arg(num_args = 1..=2, required = true)]
        target: Vec<String>,
        /// The prompt: current, amendment:<n>, without:<n> or version:<v>; repeat to compare
        /// (the first is the baseline).
        #[arg(long = "prompt")]
        prompts: Vec<String>,
        /// Harnesses to compare, comma-separated (default: the agent's own).
        #[arg(long = "harness")]
        harnesses: Vec<String>,
        /// Models to compare, comma-separated (default: the agent's own).
        #[arg(long = "model", value_delimiter = ',')]
        models: Vec<String>,
        /// Runs of each case per variant.
        #[arg(long, default_value_t = 1)]
        runs: u32,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
        /// `export`: write a new file instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
    },
    /// Jobs: `jobs show <id>` prints a job and replays its transcript.
    Jobs {
        #[command(subcommand)]
        what: JobsCmd,
    },
    /// The store: `store verify` decodes every record and checks the audit chain (exits 1
    /// when a record does not decode or the chain is broken).
    Store {
        #[command(subcommand)]
        what: StoreCmd,
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
    #[cfg(feature = "fakes")]
    #[command(flatten)]
    Fakes(threadwork::cli::fakes::FakesCmd),
    /// Without the fakes: `dev`, `emulator`, `mock-model` and `bench` are explained, not run.
    #[cfg(not(feature = "fakes"))]
    #[command(external_subcommand)]
    Other(Vec<String>),
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
enum StoreCmd {
    /// Decode every record and check the audit chain (with the bot stopped).
    Verify {
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
    },
    /// Write a checked copy of the store to FILE (a new file, 0600); while a bot holds the
    /// store, through its ops server.
    Backup {
        file: PathBuf,
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
    },
    /// Fill the config's (new, empty) store from a backup FILE, then verify it (with the bot
    /// stopped).
    Restore {
        file: PathBuf,
        #[arg(long, env = "THREADWORK_CONFIG", default_value = "threadwork.toml")]
        config: PathBuf,
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

/// A command this build does not have: the fakes' own, or a typo.
#[cfg(not(feature = "fakes"))]
fn not_in_this_build(args: &[String]) -> anyhow::Error {
    let name = args.first().map(String::as_str).unwrap_or_default();
    match name {
        "dev" | "emulator" | "mock-model" | "bench" => anyhow::anyhow!(
            "`{name}` comes with the development tools, which this build leaves out; from a checkout: `cargo run --features fakes -- {name}`"
        ),
        _ => anyhow::anyhow!("unknown command `{name}`; see `threadwork --help`"),
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
        Cmd::Store {
            what: StoreCmd::Verify { config },
        } => {
            init_logs(cli.log_json, "warn");
            // The store named by a config that exists: never a default one made up here.
            Config::load(&config)
                .map_err(anyhow::Error::from)
                .and_then(|c| {
                    if threadwork::cli::store::verify(&c.store.path)? {
                        Ok(())
                    } else {
                        anyhow::bail!("the store is not sound (see above)")
                    }
                })
        }
        Cmd::Store {
            what: StoreCmd::Backup { file, config },
        } => {
            init_logs(cli.log_json, "warn");
            match Config::load(&config) {
                Ok(c) => threadwork::cli::store::backup(&c, &file).await.map(|n| {
                    println!("backed up {n} records to {}", file.display());
                }),
                Err(e) => Err(e.into()),
            }
        }
        Cmd::Store {
            what: StoreCmd::Restore { file, config },
        } => {
            init_logs(cli.log_json, "warn");
            Config::load(&config)
                .map_err(anyhow::Error::from)
                .and_then(|c| {
                    if threadwork::cli::store::restore(&c, &file)? {
                        Ok(())
                    } else {
                        anyhow::bail!("the restored store is not sound (see above)")
                    }
                })
        }
        Cmd::Eval {
            target,
            prompts,
            harnesses,
            models,
            runs,
            json,
            out,
            config,
        } => {
            init_logs(cli.log_json, "warn");
            return eval(config, target, prompts, harnesses, models, runs, json, out).await;
        }
        Cmd::Doctor { config, manifest } => {
            init_logs(cli.log_json, "warn");
            doctor(config, manifest).await
        }
        #[cfg(feature = "fakes")]
        Cmd::Fakes(cmd) => {
            threadwork::cli::fakes::run(cmd, |level| init_logs(cli.log_json, level)).await
        }
        #[cfg(not(feature = "fakes"))]
        Cmd::Other(args) => Err(not_in_this_build(&args)),
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
    // Refused here rather than half-applied later: a wrong proxy or certificate file.
    let outbound = threadwork::net::Outbound::from_env()
        .map_err(|e| anyhow::anyhow!("outbound connections: {e}"))?;
    if let Some(why) = &outbound.roots().system_problem {
        tracing::warn!(problem = %why, "the system's trust store could not be read; only the built-in roots are trusted");
    }
    tracing::info!(network = %outbound.describe(), "outbound connections");
    if !threadwork::net::install(outbound) {
        tracing::warn!("outbound connections were set up before start; the first setup stays");
    }
    tracing::info!(api_url = %settings.api_url, "starting");
    let running = app::start(&config, &settings).await?;
    if !running.serve_until_signal().await {
        // Tasks still holding the store are not waited for: exit now, as asked.
        std::process::exit(1);
    }
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
        .transpose()?;
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

#[allow(clippy::too_many_arguments)] // one per flag of the command
async fn eval(
    config: PathBuf,
    target: Vec<String>,
    prompts: Vec<String>,
    harnesses: Vec<String>,
    models: Vec<String>,
    runs: u32,
    json: bool,
    out: Option<PathBuf>,
) -> std::process::ExitCode {
    use threadwork::cli::eval;
    let failed = |e: &dyn std::fmt::Display| {
        eprintln!("threadwork eval: {e}");
        std::process::ExitCode::from(2)
    };
    let config = match config_or_default(&config) {
        Ok(c) => c,
        Err(e) => return failed(&format!("{e:#}")),
    };
    match threadwork::net::Outbound::from_env() {
        Ok(outbound) => {
            threadwork::net::install(outbound);
        }
        Err(e) => return failed(&format!("outbound connections: {e}")),
    }
    match target.as_slice() {
        [export, agent] if export == "export" => match eval::export(&config, agent, out).await {
            Ok(n) => {
                eprintln!("{n} approved case(s) of `{agent}` written");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => failed(&e),
        },
        [agent] => {
            let args = eval::EvalArgs {
                agent: agent.clone(),
                prompts,
                harnesses,
                models,
                runs,
                json,
            };
            match eval::run(config, args, &mut std::io::stdout()).await {
                Ok(code) => std::process::ExitCode::from(code as u8),
                Err(e) => failed(&e),
            }
        }
        _ => failed(&"write `threadwork eval <agent>` or `threadwork eval export <agent>`"),
    }
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
