//! One run: what it needs gathered (the thread, the prompt in force, the library passages),
//! planned as a value (`plan`), recorded on the job once, then carried out — the workspace
//! and repository prepared, the model grant given, the harness started in its sandbox and
//! followed to its end.

use std::path::PathBuf;

use super::plan::{plan_run, PlanError, PlanInputs, RunPlan};
use super::progress::DiskLimit;
use super::*;
use crate::chat::mrkdwn;
use crate::harness::HarnessRun;
use crate::runtime::policy::RuntimeKind;

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
        let ending = match self.plan(&job).await {
            Ok(plan) => {
                if let Some(c) = &card {
                    c.update(|v| v.prompt_version = Some(plan.prompt_version.clone()));
                }
                self.carry_out(&job, plan, card.as_deref(), &stop).await
            }
            Err(e) => Ending::failed(e.to_string()),
        };
        if ending.is_left() {
            return Ok(());
        }
        if ending.state == JobState::Succeeded && job.repo.is_some() {
            self.deliver(id, card.as_deref()).await;
        }
        // The last reference to the card goes to `finish`, which waits for its final edit.
        drop(card);
        self.finish(id, ending).await
    }

    /// Gathers what the run needs (the thread, the prompt in force, the library passages,
    /// the jobs before it) and plans it; on failure, what the job fails with.
    async fn plan(&self, job: &Job) -> Result<RunPlan, PlanError> {
        let (context, task) = self.thread_context(job).await;
        let agent = self.registry().agents.get(&job.agent).cloned();
        let prompt = match agent.as_ref().map(|a| self.effective(a)).transpose() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(job = job.id, agent = %job.agent, error = %e, "cannot assemble the prompt");
                None
            }
        };
        let found = match &agent {
            Some(a) => Some(self.passages(a, &task).await),
            None => None,
        };
        let chain = self.thread_chain(job);
        let gateway = self.proxy.as_ref().and_then(|p| p.gateway());
        let kept_context = context.clone();
        let planned = plan_run(PlanInputs {
            job,
            chain: &chain,
            agent: agent.as_ref(),
            prompt: prompt.as_ref(),
            context,
            task: &task,
            found: found.as_ref(),
            harness_configured: self.harnesses.contains_key(&job.harness),
            policy: &self.settings.sandbox,
            job_timeout: self.settings.job_timeout,
            workdir: &self.settings.workdir,
            proxy: self.proxy.is_some(),
            mcp_configured: &|m| gateway.is_some_and(|g| g.has(m)),
            budget_default: self.settings.budget_usd,
            budget_ceiling: self.settings.max_budget_usd,
        });
        let Err(e) = planned else {
            // A thread whose workspace was removed (`retention`) starts a fresh one: the CLI's
            // session lived in it, so there is nothing to resume; the thread is the context.
            return planned.map(|mut plan| {
                if plan.resume_session.is_some() && !plan.workdir.exists() {
                    tracing::info!(job = job.id, agent = %job.agent, "the thread's workspace was removed; a new session starts");
                    plan.resume_session = None;
                }
                plan
            });
        };
        // A run that cannot start keeps what was gathered for it, for its audit record: the
        // thread, the passages and the prompt it would have run with.
        if let Some(p) = &prompt {
            if let Err(e) = self.store.put_prompt_version(&p.version, &p.text) {
                tracing::error!(job = job.id, agent = %job.agent, error = %e, "cannot keep the prompt version");
            }
        }
        let passages = found.as_ref().map(Found::refs).unwrap_or_default();
        let kept = self
            .update_job(job.id, |j| {
                j.context = kept_context;
                j.context_passages = passages;
                j.prompt_version = prompt.as_ref().map(|p| p.version.clone());
                j.amendments = prompt
                    .as_ref()
                    .map(|p| p.amendments.clone())
                    .unwrap_or_default();
            })
            .await;
        if let Err(w) = kept {
            tracing::error!(job = job.id, agent = %job.agent, error = %w, "cannot record what the job gathered");
        }
        Err(e)
    }

    /// Records the plan on the job (one write), then runs the harness and follows its events
    /// until the run ends. A failed write of the plan fails the job before it starts: a run
    /// its record does not describe could be neither recovered nor audited.
    async fn carry_out(
        &self,
        job: &Job,
        plan: RunPlan,
        card: Option<&CardUpdater>,
        stop: &CancellationToken,
    ) -> Ending {
        let Some(harness) = self.harnesses.get(&job.harness).cloned() else {
            return Ending::failed(format!("harness `{}` is no longer configured", job.harness));
        };
        if let Err(e) = self
            .store
            .put_prompt_version(&plan.prompt_version, &plan.role_prompt)
        {
            tracing::error!(job = job.id, agent = %job.agent, error = %e, "cannot keep the prompt version the job runs with");
            return Ending::unrecorded(&e.into());
        }
        let sandbox = self.sandbox_record(&plan.sandbox).await;
        let grant = self.grant(job, plan.models.clone(), &plan.mcp_servers, None);
        if let (Some(g), Some(usd)) = (&grant, plan.budget_usd) {
            g.set_budget(usd, 0.0);
        }
        // The card's header says what runs where, and within what budget.
        if let Some(c) = card {
            let sandbox = format!(
                "{} · network {}",
                plan.sandbox.runtime.label(),
                plan.sandbox.network.label()
            );
            c.update(|v| {
                v.sandbox = Some(sandbox);
                v.budget_usd = plan.budget_usd.filter(|_| grant.is_some());
            });
        }
        // A container or Kubernetes run outlives the bot: its grant is restored under the
        // same token by the process that re-attaches to it.
        let grant_token = grant
            .as_ref()
            .filter(|_| plan.sandbox.runtime != RuntimeKind::Process)
            .map(|g| g.token().to_string());
        let recorded = self
            .update_job(job.id, |j| {
                j.context = plan.context.clone();
                j.context_passages = plan.passages.clone();
                j.prompt_version = Some(plan.prompt_version.clone());
                j.amendments = plan.amendments.clone();
                j.workspace_job = Some(plan.workspace_job);
                j.sandbox = Some(sandbox);
                if grant_token.is_some() {
                    j.grant_token = grant_token;
                }
            })
            .await;
        // From here on the job as recorded with its plan (its prompt version goes into the
        // tool calls' audit records).
        let job = match recorded {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job = job.id, agent = %job.agent, error = %e, "cannot record the run's plan; not starting it");
                return Ending::unrecorded(&e);
            }
        };
        let job = &job;
        if let Err(e) = std::fs::create_dir_all(&plan.workdir) {
            return Ending::failed(format!("cannot create the job's work directory: {e}"));
        }
        if let Err(e) = self.prepare_repo(job, plan.workspace_job).await {
            return Ending::failed(e.to_string());
        }
        let model_base = grant.as_ref().map(|g| self.model_base(g, &plan.sandbox));
        let egress_proxy = grant
            .as_ref()
            .and_then(|g| self.open_egress(g, &plan.sandbox));
        let mcp = match &model_base {
            Some(base) => crate::mcp::endpoints(base, &plan.mcp_servers),
            None => vec![],
        };
        let time_limit = plan.sandbox.timeout;
        let disk = DiskLimit::of(&plan.sandbox, &plan.workdir);
        let run = HarnessRun {
            sandbox: plan.sandbox,
            resume_session: plan.resume_session,
            model_base,
            mcp,
            egress_proxy,
            job_id: job.id,
            agent: job.agent.clone(),
            role_prompt: plan.role_prompt,
            task: plan.task,
            model: job.model.clone(),
            workdir: plan.workdir.clone(),
        };
        // What the workspace holds before the run, to see afterwards what it changed.
        let listed = {
            let dir = plan.workdir.clone();
            tokio::task::spawn_blocking(move || changes::listing(&dir))
                .await
                .ok()
                .flatten()
        };
        let cancel = CancellationToken::new();
        let _stop_on_exit = cancel.clone().drop_guard();
        let events = match harness.start(run, cancel.clone()).await {
            Ok(rx) => rx,
            Err(e) => {
                return Ending::failed(format!("the `{}` harness did not start: {e}", job.harness))
            }
        };
        // A graceful stop lets go of the run only here, once it has started (`follow`): a
        // container half made would not be re-attached.
        let ending = self
            .follow(
                job,
                events,
                &cancel,
                stop,
                card,
                time_limit,
                disk,
                grant.as_ref(),
            )
            .await;
        if ending.is_left() {
            tracing::info!(job = job.id, agent = %job.agent, "run left to the next process");
            // Nothing may stop it on the way out: the drop guard's cancel must not kill it.
            _stop_on_exit.disarm();
            return ending;
        }
        strip_special_bits(job, plan.workdir.clone()).await;
        // Files changed by any means (a shell command reports none), on the card.
        if let (Some(before), Some(c)) = (listed, card) {
            let dir = plan.workdir.clone();
            let after = tokio::task::spawn_blocking(move || changes::listing(&dir))
                .await
                .ok()
                .flatten();
            if let Some(after) = after {
                let changed = changes::changed(&before, &after);
                c.update(|v| {
                    // A file the CLI reported is there already, by its path in the sandbox.
                    for path in changed {
                        let suffix = format!("/{path}");
                        if !v.files.iter().any(|f| *f == path || f.ends_with(&suffix)) {
                            v.files.insert(path);
                        }
                    }
                });
            }
        }
        ending
    }
}

impl Ending {
    /// A graceful stop let go of the run: its job stays running in the store, and the next
    /// process re-attaches to its container (or reports it interrupted). Nothing is finished.
    pub(super) fn left() -> Self {
        Self {
            state: JobState::Running,
            answer: None,
            failure: None,
        }
    }

    pub(super) fn is_left(&self) -> bool {
        self.state == JobState::Running
    }

    /// The store refused the run's record: the job ends before it starts.
    fn unrecorded(e: &JobError) -> Self {
        Self::failed(format!(
            "the bot could not record the run in its store ({e}), so it did not start it"
        ))
    }

    /// A failure whose words may come from the harness, the runtime or a forge: escaped.
    pub(super) fn failed(message: String) -> Self {
        Self {
            state: JobState::Failed,
            answer: None,
            failure: Some(mrkdwn::escape(&message)),
        }
    }
}

/// Nothing a run left may raise another local user to the sandbox's uid.
async fn strip_special_bits(job: &Job, workspace: PathBuf) {
    let cleared =
        tokio::task::spawn_blocking(move || crate::runtime::hostfs::strip_special_bits(&workspace))
            .await
            .unwrap_or(0);
    if cleared > 0 {
        tracing::warn!(job = job.id, agent = %job.agent, entries = cleared, "setuid/setgid bits cleared in the workspace");
    }
}
