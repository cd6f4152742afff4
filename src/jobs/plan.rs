//! A run planned as a value: from what `run` gathered (the job, the jobs before it in its
//! thread, the agent, the prompt in force, the thread and the library passages), everything a
//! run needs that can be decided without I/O. Pure, like `route::decide`; `run` carries it out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agents::Agent;
use crate::authority;
use crate::context::{Found, PassageRef};
use crate::job::{Job, JobId, ThreadMessage};
use crate::prompts::EffectivePrompt;
use crate::runtime::policy::{resolve, PolicyError};
use crate::runtime::{SandboxPolicy, SandboxSpec};

use super::thread::compose_task;

/// What a plan is made from.
pub struct PlanInputs<'a> {
    pub job: &'a Job,
    /// The jobs before it in its thread, newest first (`Jobs::thread_chain`).
    pub chain: &'a [Job],
    /// The job's agent, when it is still configured.
    pub agent: Option<&'a Agent>,
    /// The agent's prompt in force now.
    pub prompt: Option<&'a EffectivePrompt>,
    /// The thread's messages (names resolved, without our cards) and the request as plain
    /// text (`Jobs::thread_context`).
    pub context: Vec<ThreadMessage>,
    pub task: &'a str,
    /// The library passages picked for the task.
    pub found: Option<&'a Found>,
    /// The job's harness is still configured.
    pub harness_configured: bool,
    pub policy: &'a SandboxPolicy,
    pub job_timeout: Duration,
    /// Where every job's workspace lives (`[jobs] workdir`).
    pub workdir: &'a Path,
    /// The model proxy runs (MCP servers are reached through it).
    pub proxy: bool,
    /// The MCP gateway serves this server.
    pub mcp_configured: &'a dyn Fn(&str) -> bool,
    /// `[jobs] budget_usd` and `max_budget_usd`.
    pub budget_default: Option<f64>,
    pub budget_ceiling: Option<f64>,
}

/// One run, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub sandbox: SandboxSpec,
    /// The job whose workspace this run works in: its thread's first job's.
    pub workspace_job: JobId,
    pub workdir: PathBuf,
    /// The CLI session a follow-up continues.
    pub resume_session: Option<String>,
    /// The models the job's grant allows (none named: any).
    pub models: Vec<String>,
    /// The MCP servers the job may reach through the gateway.
    pub mcp_servers: Vec<String>,
    pub context: Vec<ThreadMessage>,
    pub passages: Vec<PassageRef>,
    pub role_prompt: String,
    pub prompt_version: String,
    pub amendments: Vec<u32>,
    /// The harness's task: the request, the thread and the passages (`compose_task`).
    pub task: String,
    /// What the job may spend on models (`jobs::budget`), held by its grant.
    pub budget_usd: Option<f64>,
}

/// Why a run cannot start; the job fails with these words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("agent `{0}` is no longer configured")]
    AgentGone(String),
    #[error("harness `{0}` is no longer configured")]
    HarnessGone(String),
    #[error(transparent)]
    Sandbox(#[from] PolicyError),
    #[error("agent `{agent}` lists MCP server `{server}`, which is not configured; an admin adds `[mcp.{server}]` to the config")]
    McpUnconfigured { agent: String, server: String },
    #[error("agent `{0}` uses MCP servers, which are reached through the model proxy; configure `[model]`")]
    McpWithoutProxy(String),
    #[error("{0}")]
    Budget(String),
}

/// The models an agent's jobs may use: its `models`, else its `model`; any when it names none.
pub fn allowed_models(agent: Option<&Agent>) -> Vec<String> {
    match agent {
        Some(a) if !a.models.is_empty() => a.models.clone(),
        Some(a) => a.model.iter().cloned().collect(),
        None => vec![],
    }
}

/// The sandbox an agent's jobs get: the admin's policy and the agent's `sandbox:` request.
pub fn sandbox_for(
    policy: &SandboxPolicy,
    agent_name: &str,
    agent: Option<&Agent>,
    job_timeout: Duration,
) -> Result<SandboxSpec, PolicyError> {
    let ask = agent.map(|a| a.sandbox.clone()).unwrap_or_default();
    resolve(policy, agent_name, &ask, job_timeout)
}

/// Plans one run of `inputs.job`.
pub fn plan_run(inputs: PlanInputs<'_>) -> Result<RunPlan, PlanError> {
    let job = inputs.job;
    let (Some(agent), Some(prompt)) = (inputs.agent, inputs.prompt) else {
        return Err(PlanError::AgentGone(job.agent.clone()));
    };
    if !inputs.harness_configured {
        return Err(PlanError::HarnessGone(job.harness.clone()));
    }
    let sandbox = sandbox_for(inputs.policy, &job.agent, Some(agent), inputs.job_timeout)?;
    if let Some(server) = crate::mcp::unconfigured(&agent.mcp, inputs.mcp_configured) {
        return Err(PlanError::McpUnconfigured {
            agent: agent.name.clone(),
            server: server.to_string(),
        });
    }
    if !agent.mcp.is_empty() && !inputs.proxy {
        return Err(PlanError::McpWithoutProxy(agent.name.clone()));
    }
    // Under the rules in force now (a ceiling lowered since the mention is applied).
    let budget_usd = super::budget::job_budget(
        job.options.budget.as_deref(),
        agent.budget_usd,
        inputs.budget_default,
        inputs.budget_ceiling,
    )
    .map_err(PlanError::Budget)?;
    if budget_usd.is_some() && !inputs.proxy {
        return Err(PlanError::Budget(
            "a job's budget is held by the model proxy, which is not configured (`[model]`)".into(),
        ));
    }
    // A follow-up works where its thread's first job worked, and resumes its CLI session.
    let workspace_job = inputs
        .chain
        .first()
        .map(|parent| parent.workspace_job.unwrap_or(parent.id))
        .unwrap_or(job.id);
    let library = inputs.found.and_then(Found::prompt_block);
    let task = compose_task(
        &job.request_ts,
        &inputs.context,
        inputs.task,
        library.as_deref(),
    );
    Ok(RunPlan {
        sandbox,
        workspace_job,
        workdir: workspace_dir(inputs.workdir, workspace_job),
        resume_session: authority::resumable_session(inputs.chain, &job.agent, &job.harness),
        models: allowed_models(Some(agent)),
        mcp_servers: agent.mcp.clone(),
        passages: inputs.found.map(Found::refs).unwrap_or_default(),
        context: inputs.context,
        role_prompt: prompt.text.clone(),
        prompt_version: prompt.version.clone(),
        amendments: prompt.amendments.clone(),
        task,
        budget_usd,
    })
}

/// The directory of the workspace of `workspace_job`.
pub fn workspace_dir(root: &Path, workspace_job: JobId) -> PathBuf {
    root.join(format!("job-{workspace_job}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::sample_job;

    fn agent(extra: &str) -> Agent {
        let text = format!(
            "---\nname: default\ndescription: d\nharness: scripted\nmodels: [m1, m2]\n{extra}---\nrole"
        );
        let known = crate::agents::Known {
            harnesses: &["scripted"],
            fragments: &[],
        };
        crate::agents::parse_agent(Path::new("default.md"), &text, known).unwrap()
    }

    fn prompt() -> EffectivePrompt {
        EffectivePrompt {
            text: "role".into(),
            version: "v000000000001".into(),
            amendments: vec![2],
        }
    }

    fn inputs<'a>(
        job: &'a Job,
        chain: &'a [Job],
        agent: Option<&'a Agent>,
        prompt: Option<&'a EffectivePrompt>,
        policy: &'a SandboxPolicy,
    ) -> PlanInputs<'a> {
        PlanInputs {
            job,
            chain,
            agent,
            prompt,
            context: vec![],
            task: "fix it",
            found: None,
            harness_configured: true,
            policy,
            job_timeout: Duration::from_secs(600),
            workdir: Path::new("/srv/jobs"),
            proxy: true,
            mcp_configured: &|_| true,
            budget_default: None,
            budget_ceiling: None,
        }
    }

    #[test]
    fn a_first_job_works_in_its_own_workspace_with_the_agents_models() {
        let (job, a, p, policy) = (sample_job(7), agent(""), prompt(), SandboxPolicy::default());
        let plan = plan_run(inputs(&job, &[], Some(&a), Some(&p), &policy)).unwrap();
        assert_eq!(plan.workspace_job, 7);
        assert_eq!(plan.workdir, Path::new("/srv/jobs/job-7"));
        assert_eq!(plan.models, vec!["m1", "m2"]);
        assert_eq!(plan.resume_session, None);
        assert_eq!(plan.task, "fix it");
        assert_eq!(
            (plan.prompt_version.as_str(), plan.amendments.as_slice()),
            ("v000000000001", &[2][..])
        );
        assert_eq!(plan.sandbox.timeout, Duration::from_secs(600));
    }

    #[test]
    fn a_follow_up_works_in_its_threads_workspace_and_resumes_its_session() {
        let (a, p, policy) = (agent(""), prompt(), SandboxPolicy::default());
        let mut root = sample_job(3);
        root.session_id = Some("s-3".into());
        root.harness = "scripted".into();
        let mut middle = sample_job(5);
        middle.workspace_job = Some(3);
        middle.harness = "other".into();
        middle.session_id = Some("s-5".into());
        let mut job = sample_job(8);
        job.harness = "scripted".into();
        let chain = [middle, root];
        let plan = plan_run(inputs(&job, &chain, Some(&a), Some(&p), &policy)).unwrap();
        assert_eq!(plan.workspace_job, 3);
        // The newest session of the same agent on the same harness.
        assert_eq!(plan.resume_session.as_deref(), Some("s-3"));
    }

    #[test]
    fn what_cannot_run_is_named() {
        let (job, p, policy) = (sample_job(1), prompt(), SandboxPolicy::default());
        let a = agent("");
        assert_eq!(
            plan_run(inputs(&job, &[], None, Some(&p), &policy)),
            Err(PlanError::AgentGone(job.agent.clone()))
        );
        let mut i = inputs(&job, &[], Some(&a), Some(&p), &policy);
        i.harness_configured = false;
        assert_eq!(
            plan_run(i),
            Err(PlanError::HarnessGone(job.harness.clone()))
        );
        let with_mcp = agent("mcp: [tickets]\n");
        let mut i = inputs(&job, &[], Some(&with_mcp), Some(&p), &policy);
        i.mcp_configured = &|s| s != "tickets";
        assert!(matches!(
            plan_run(i),
            Err(PlanError::McpUnconfigured { server, .. }) if server == "tickets"
        ));
        let mut i = inputs(&job, &[], Some(&with_mcp), Some(&p), &policy);
        i.proxy = false;
        assert_eq!(
            plan_run(i).unwrap_err().to_string(),
            "agent `default` uses MCP servers, which are reached through the model proxy; configure `[model]`"
        );
    }
}
