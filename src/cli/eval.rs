//! `threadwork eval <agent>` and `threadwork eval export <agent>`: an agent's suite run from
//! a terminal (or a team's CI) through the configured runtime, harnesses and a model proxy
//! of its own, and approved results written out as a suite file.
//!
//! Amendments, prompt versions and approved cases come from the store, or from the running
//! bot's ops server while it holds the store (as `audit` does).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::evals::run::{Evaluator, Progress};
use crate::evals::{self, case, PromptPick};
use crate::model::proxy::ModelProxy;
use crate::prompts::{PromptDirs, Registry};

/// What `threadwork eval` was asked.
#[derive(Debug, Clone, Default)]
pub struct EvalArgs {
    pub agent: String,
    /// `current`, `amendment:<n>`, `without:<n>`, `version:<v>`; the first is the baseline.
    pub prompts: Vec<String>,
    pub harnesses: Vec<String>,
    pub models: Vec<String>,
    pub runs: u32,
    pub json: bool,
}

/// Why a suite could not run (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Suite(#[from] case::SuiteError),
    #[error("`{agent}` has no suite: write {path} (see the README's *Evals*)")]
    NoSuite { agent: String, path: String },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Prompts(#[from] crate::prompts::PromptsError),
    #[error(transparent)]
    Read(#[from] super::audit::ReadError),
    #[error(transparent)]
    Proxy(#[from] crate::model::proxy::ProxyError),
    #[error("cannot write: {0}")]
    Write(#[from] std::io::Error),
}

/// The registry as the bot would load it.
fn registry(config: &Config) -> Result<Registry, EvalError> {
    let names: Vec<&str> = config.harness.keys().map(String::as_str).collect();
    let dirs = PromptDirs {
        agents: config.agents.dir.clone(),
        shared: config.agents.shared_dir.clone(),
    };
    Ok(Registry::load(&dirs, &names)?)
}

/// Runs the suite and writes the table (or JSON) to `out`; returns the exit status
/// (`report::Report::exit_code`).
pub async fn run(
    mut config: Config,
    args: EvalArgs,
    out: &mut dyn Write,
) -> Result<i32, EvalError> {
    let registry = registry(&config)?;
    let agent = registry.agents.get(&args.agent).cloned().ok_or_else(|| {
        EvalError::Refused(format!(
            "no agent `{}` in {}",
            args.agent,
            config.agents.dir.display()
        ))
    })?;
    let suite =
        case::load_suite(&config.evals.dir, &agent.name)?.ok_or_else(|| EvalError::NoSuite {
            agent: agent.name.clone(),
            path: case::suite_path(&config.evals.dir, &agent.name)
                .display()
                .to_string(),
        })?;
    let token = config.ops.bearer(&|k| std::env::var(k).ok());
    let source = super::audit::source(&config.store.path, config.ops.listen, token)?;
    let (amendments, _) = source.learning(&agent.name).await?;
    let picks: Vec<PromptPick> = if args.prompts.is_empty() {
        vec![PromptPick::Current]
    } else {
        args.prompts
            .iter()
            .map(|p| PromptPick::parse(p))
            .collect::<Result<_, _>>()
            .map_err(EvalError::Refused)?
    };
    let mut prompts = Vec::new();
    for pick in picks {
        let stored = match &pick {
            PromptPick::Version(v) => source.prompt_version(v).await?,
            _ => None,
        };
        let (text, version) =
            evals::pick_prompt(&pick, &agent, &registry.fragments, &amendments, &|_| {
                stored.clone()
            })
            .map_err(EvalError::Refused)?;
        prompts.push((pick, text, version));
    }
    // The store is not needed any more: a bot started meanwhile may take it.
    drop(source);
    let harness_names: Vec<String> = args
        .harnesses
        .iter()
        .flat_map(|h| h.split(','))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    for h in &harness_names {
        if config.harness.contains_key(h) && !agent.allows_harness(h) {
            return Err(EvalError::Refused(format!(
                "`{}` may not run on harness `{h}` (its `harness:` and `harnesses:`)",
                agent.name
            )));
        }
    }
    let variants = evals::variants(&agent, &prompts, &harness_names, &args.models, &|h| {
        config.harness.contains_key(h)
    })
    .map_err(EvalError::Refused)?;

    // Sandboxes of their own instance: a bot running beside this never takes them for its
    // leftovers, nor this process for its own.
    config.sandbox.instance = format!("{}-eval", config.sandbox.instance);
    let proxy = match config.model.clone() {
        Some(mut model) => {
            // A port of its own beside a running bot's; the sandboxes are pointed at it.
            model.listen.set_port(0);
            let gateway = (!config.mcp.is_empty())
                .then(|| Arc::new(crate::mcp::gateway::Gateway::new(&config.mcp)));
            let proxy = ModelProxy::start_with(model, gateway).await?;
            let port = proxy.addr().port();
            if let Some(endpoint) = &config.sandbox.model_endpoint {
                let host = endpoint
                    .rsplit_once(':')
                    .map_or(endpoint.as_str(), |(h, _)| h);
                config.sandbox.model_endpoint = Some(format!("{host}:{port}"));
            }
            config.kubernetes.proxy_port = Some(i32::from(port));
            Some(proxy)
        }
        None => None,
    };
    let runtime = crate::app::runtime(&config);
    let harnesses =
        crate::app::harnesses(&config, &runtime).map_err(|e| EvalError::Refused(e.to_string()))?;
    // The jobs directory is the bot's alone (0700), as when the bot makes it.
    crate::app::close_jobs_dir(&config.jobs.workdir)
        .map_err(|e| EvalError::Refused(e.to_string()))?;
    // Apart from the bot's own (`evals`, swept when it starts).
    let workdir = config.jobs.workdir.join("evals-cli");
    let evaluator = Evaluator {
        harnesses,
        runtime: Some(runtime),
        proxy: proxy.clone(),
        policy: config.sandbox.clone(),
        job_timeout: std::time::Duration::from_secs(config.jobs.timeout_secs.max(1)),
        workdir,
        max_running: config.jobs.max_running,
        judge: match (&config.evals.judge, &proxy) {
            (Some(settings), Some(proxy)) => Some(evals::judge::Judge {
                settings: settings.clone(),
                proxy: proxy.clone(),
            }),
            _ => None,
        },
        // Only a suite with repository cases needs the forges (and their tokens).
        forges: match suite.cases.iter().any(|c| c.start.repo.is_some()) {
            true => Some(Arc::new(
                crate::forge::Forges::from_config(&config.forge, &config.git, &|k| {
                    std::env::var(k).ok()
                })
                .map_err(|e| EvalError::Refused(e.to_string()))?,
            )),
            false => None,
        },
        redactor: None,
    };
    let progress: Progress = Arc::new(move |n, total, run| {
        eprintln!(
            "{} {n}/{total}  {} [{}] {} {:.1}s",
            bar(n, total),
            run.case,
            run.variant + 1,
            if run.passed { "pass" } else { "FAIL" },
            run.secs
        );
    });
    let report = evaluator
        .run_suite(
            &agent,
            &suite,
            &variants,
            args.runs.max(1),
            None,
            Some(progress),
        )
        .await;
    if let Some(p) = &proxy {
        p.stop();
    }
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )?;
    } else {
        write!(out, "{}", report.table())?;
    }
    Ok(report.exit_code())
}

/// `[#####-----]`: `done` of `total`, twenty wide.
fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(WIDTH - filled))
}

/// `threadwork eval export <agent>`: the agent's approved cases as a suite file, to `out`
/// or to a new file.
pub async fn export(
    config: &Config,
    agent: &str,
    file: Option<PathBuf>,
) -> Result<usize, EvalError> {
    let token = config.ops.bearer(&|k| std::env::var(k).ok());
    let source = super::audit::source(&config.store.path, config.ops.listen, token)?;
    let (_, approved) = source.learning(agent).await?;
    if approved.is_empty() {
        return Err(EvalError::Refused(format!(
            "`{agent}` has no approved results yet: a ✅ on a finished job's result by its requester or an approver keeps one"
        )));
    }
    let text = evals::export(&approved);
    match file {
        Some(path) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| {
                    EvalError::Refused(format!(
                        "cannot create {}: {e} (an existing file is never overwritten)",
                        path.display()
                    ))
                })?;
            f.write_all(text.as_bytes())?;
        }
        None => print!("{text}"),
    }
    Ok(approved.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_progress_bar_fills_with_the_runs_done() {
        assert_eq!(super::bar(0, 4), "[--------------------]");
        assert_eq!(super::bar(1, 4), "[#####---------------]");
        assert_eq!(super::bar(4, 4), "[####################]");
        assert_eq!(super::bar(1, 0), "[####################]");
    }
}
