//! The bot's settings as the config file gives them: who may use it, how many jobs run,
//! their limits and where they work. Read by `bot` (events) and `jobs` (a job's life).

use std::path::PathBuf;
use std::time::Duration;

use crate::runtime::SandboxPolicy;

#[derive(Debug, Clone)]
pub struct BotSettings {
    pub default_agent: String,
    /// Bots whose messages the bot acts on (others are ignored): a message matches by its bot
    /// id (B…) or bot user id (U…), a mention by the bot user id only.
    pub allowed_bots: Vec<String>,
    pub max_running: usize,
    pub per_channel: usize,
    pub job_timeout: Duration,
    /// A harness that reports nothing for this long is stopped.
    pub idle_timeout: Duration,
    /// Jobs one user may start per hour (0: no limit).
    pub per_user_per_hour: u32,
    /// Least time between two edits of one card.
    pub card_interval: Duration,
    /// Where each job gets a scratch directory.
    pub workdir: PathBuf,
    /// Slack user ids who may adopt, reject and revert any agent's amendments.
    pub admins: Vec<String>,
    /// Guests may start jobs and use commands.
    pub allow_guests: bool,
    /// Other teams whose people may use the bot (Slack Connect).
    pub external_teams: Vec<String>,
    /// Where prompt-file errors found while running are reported.
    pub admin_channel: Option<String>,
    /// Library passages a job's prompt gets at most.
    pub context_passages: usize,
    /// The admin's sandbox defaults and limits.
    pub sandbox: SandboxPolicy,
    /// Harness events kept per job; later ones are counted, not kept.
    pub transcript_max_events: u32,
    /// Days a finished job's transcript is kept (0: forever).
    pub transcript_days: u32,
    /// Days a finished thread's workspace is kept (0: forever).
    pub workspace_days: u32,
    /// Most megabytes all workspaces may take before new jobs are refused (0: no budget).
    pub disk_budget_mb: u64,
    /// `[jobs] budget_usd` and `max_budget_usd` (`jobs::budget`).
    pub budget_usd: Option<f64>,
    pub max_budget_usd: Option<f64>,
    /// Overlap checks at intake.
    pub overlap: crate::overlap::OverlapSettings,
    /// Eval suites and the comparisons the bot runs by itself.
    pub evals: crate::evals::EvalSettings,
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            default_agent: "default".into(),
            allowed_bots: vec![],
            max_running: 4,
            per_channel: 2,
            job_timeout: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(10 * 60),
            per_user_per_hour: 0,
            allow_guests: true,
            external_teams: vec![],
            card_interval: Duration::from_millis(1000),
            workdir: std::env::temp_dir().join("threadwork-jobs"),
            admins: vec![],
            admin_channel: None,
            context_passages: 3,
            sandbox: SandboxPolicy::default(),
            transcript_max_events: 5000,
            transcript_days: 30,
            workspace_days: 14,
            disk_budget_mb: 0,
            budget_usd: None,
            max_budget_usd: None,
            overlap: crate::overlap::OverlapSettings::default(),
            evals: crate::evals::EvalSettings::default(),
        }
    }
}
