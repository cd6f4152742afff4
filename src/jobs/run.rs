//! One run: the thread and prompt gathered, the workspace and repository prepared, the
//! harness started in its sandbox and followed to its end.

use super::*;
use crate::authority;
use crate::chat::mrkdwn;
use crate::harness::HarnessRun;

impl Jobs {
    pub(super) async fn run_job(self: Arc<Self>, id: JobId) -> Result<(), JobError> {
        // The job can be stopped (❌ on the card, `stop` in the thread) from the moment anyone
        // can see it running: its switch is registered before the state is written.
        let (stop, _unregister) = self.stop_switch(id);
        let mut bad_transition = None;
        let job = self
            .update_job(id, |j| {
                if let Err(e) = j.transition(JobState::Running, Utc::now()) {
                    bad_transition = Some(e);
                }
            })
            .await?;
        if let Some(e) = bad_transition {
            tracing::warn!(job = id, agent = %job.agent, error = %e, "not started");
            return Ok(());
        }
        self.count_state(&job, JobState::Running);
        let card = self.card(id);
        if let Some(c) = &card {
            c.update(|v| {
                v.state = JobState::Running;
                v.queue_position = None;
            });
        }
        let (context, task) = self.thread_context(&job).await;
        let agent = self.registry().agents.get(&job.agent).cloned();
        let prompt = match agent.as_ref().map(|a| self.effective(a)).transpose() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(job = id, agent = %job.agent, error = %e, "cannot assemble the prompt");
                None
            }
        };
        if let Some(p) = &prompt {
            self.store.put_prompt_version(&p.version, &p.text)?;
            if let Some(c) = &card {
                c.update(|v| v.prompt_version = Some(p.version.clone()));
            }
        }
        let found = match &agent {
            Some(a) => Some(self.passages(a, &task).await),
            None => None,
        };
        let passages = found.as_ref().map(Found::refs).unwrap_or_default();
        let job = self
            .update_job(id, |j| {
                j.context = context;
                j.context_passages = passages;
                j.prompt_version = prompt.as_ref().map(|p| p.version.clone());
                j.amendments = prompt
                    .as_ref()
                    .map(|p| p.amendments.clone())
                    .unwrap_or_default();
            })
            .await?;
        let library = found.as_ref().and_then(Found::prompt_block);
        let task = compose_task(&job, &task, library.as_deref());
        let outcome = match prompt {
            Some(p) => {
                self.drive(&job, &task, &p.text, card.as_deref(), &stop)
                    .await
            }
            None => Ending {
                state: JobState::Failed,
                answer: None,
                failure: Some(format!("agent `{}` is no longer configured", job.agent)),
            },
        };
        if outcome.state == JobState::Succeeded && job.repo.is_some() {
            self.deliver(id, card.as_deref()).await;
        }
        self.finish(id, outcome).await
    }

    /// Runs the harness and follows its events until the run ends.
    pub(super) async fn drive(
        &self,
        job: &Job,
        task: &str,
        role_prompt: &str,
        card: Option<&CardUpdater>,
        stop: &CancellationToken,
    ) -> Ending {
        // A failure's words may come from the harness, the runtime or a forge: escaped.
        let fail = |message: String| Ending {
            state: JobState::Failed,
            answer: None,
            failure: Some(mrkdwn::escape(&message)),
        };
        let Some(harness) = self.harnesses.get(&job.harness) else {
            return fail(format!("harness `{}` is no longer configured", job.harness));
        };
        let sandbox = match self.sandbox_for(job) {
            Ok(spec) => spec,
            Err(e) => return fail(e.to_string()),
        };
        let time_limit = sandbox.timeout;
        self.record_sandbox(job.id, &sandbox).await;
        // A follow-up works where its thread's first job worked, and resumes its CLI session.
        let parent = job.parent.and_then(|p| self.store.job(p).ok().flatten());
        let workspace_job = parent
            .as_ref()
            .map(|p| p.workspace_job.unwrap_or(p.id))
            .unwrap_or(job.id);
        let chain = self.thread_chain(job);
        let resume_session = authority::resumable_session(&chain, &job.agent, &job.harness);
        let _ = self
            .update_job(job.id, |j| j.workspace_job = Some(workspace_job))
            .await;
        let workdir = self.workspace(workspace_job);
        if let Err(e) = std::fs::create_dir_all(&workdir) {
            return fail(format!("cannot create the job's work directory: {e}"));
        }
        if let Err(message) = self.prepare_repo(job, workspace_job).await {
            return fail(message);
        }
        let grant = self.model_grant(job);
        if let (Some(g), crate::runtime::policy::RuntimeKind::Kubernetes) =
            (&grant, sandbox.runtime)
        {
            let token = g.token().to_string();
            let _ = self
                .update_job(job.id, |j| j.grant_token = Some(token))
                .await;
        }
        let model_base = grant.as_ref().map(|g| self.model_base(g, &sandbox));
        let mcp = match self.mcp_endpoints(job, model_base.as_deref()) {
            Ok(m) => m,
            Err(message) => return fail(message),
        };
        let run = HarnessRun {
            sandbox,
            resume_session,
            model_base,
            mcp,
            job_id: job.id,
            agent: job.agent.clone(),
            role_prompt: role_prompt.to_string(),
            task: task.to_string(),
            model: job.model.clone(),
            workdir,
        };
        let cancel = CancellationToken::new();
        let _stop_on_exit = cancel.clone().drop_guard();
        let events = match harness.start(run, cancel.clone()).await {
            Ok(rx) => rx,
            Err(e) => return fail(format!("the `{}` harness did not start: {e}", job.harness)),
        };
        let outcome = self
            .follow(job, events, &cancel, stop, card, time_limit, grant.as_ref())
            .await;
        // Nothing a run left may raise another local user to the sandbox's uid.
        let workspace = self.workspace(workspace_job);
        let cleared = tokio::task::spawn_blocking(move || {
            crate::runtime::hostfs::strip_special_bits(&workspace)
        })
        .await
        .unwrap_or(0);
        if cleared > 0 {
            tracing::warn!(job = job.id, agent = %job.agent, entries = cleared, "setuid/setgid bits cleared in the workspace");
        }
        outcome
    }
}
