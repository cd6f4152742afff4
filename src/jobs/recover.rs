//! After a restart: decisions whose audit record a crash lost, leftover sandboxes removed
//! or re-attached, queued jobs re-queued and interrupted ones ended.

use super::*;
use crate::harness::HarnessRun;
use crate::model::proxy::GrantHandle;

impl Jobs {
    /// Appends the audit records a crash lost after their decisions were stored
    /// (`reconcile`).
    pub(super) fn record_lost_decisions(&self, jobs: &[Job]) {
        let registry = self.registry();
        let mut amendments = Vec::new();
        for agent in registry.agents.keys() {
            amendments.extend(self.store.amendments(agent).unwrap_or_default());
        }
        let (audit, raw) = match (self.store.audit(), self.store.audit_raw()) {
            (Ok(a), Ok(raw)) => (a, raw),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot read the audit trail to check decisions");
                return;
            }
        };
        // A record that does not decode may be the one a decision has: adding another would
        // double it.
        if audit.len() != raw.len() {
            tracing::error!(
                unreadable = raw.len() - audit.len(),
                "audit records that cannot be read; not checking for lost decision records (see `threadwork store verify`)"
            );
            return;
        }
        for record in reconcile::missing_records(jobs, &amendments, &audit) {
            tracing::warn!(action = %record.action, job = ?record.job, amendment = ?record.amendment, "a decision's audit record was lost in a crash; recorded now");
            let _ = self.audit(record);
        }
    }

    /// Finishes what a previous process left: re-queues waiting jobs, ends interrupted ones,
    /// and posts terminal messages that never reached their thread.
    pub async fn recover(self: &Arc<Self>) {
        let jobs = match self.store.jobs() {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "cannot read jobs to recover");
                self.remove_leftovers(&[]).await;
                if let Some(proxy) = &self.proxy {
                    proxy.recovered();
                }
                return;
            }
        };
        self.record_lost_decisions(&jobs);
        let running: Vec<JobId> = jobs
            .iter()
            .filter(|j| j.state == JobState::Running)
            .map(|j| j.id)
            .collect();
        let mut kept = self.remove_leftovers(&running).await;
        // The grants of the runs to follow come back first, all at once: only then may the
        // proxy call unknown tokens ended (the Slack work below takes its time).
        let mut grants: HashMap<JobId, Option<GrantHandle>> = jobs
            .iter()
            .filter(|j| kept.contains_key(&j.id))
            .map(|j| (j.id, self.restore_grant(j)))
            .collect();
        if let Some(proxy) = &self.proxy {
            proxy.recovered();
        }
        // Expired transcripts and workspaces go in the sweep that starts beside this
        // (`retention`), not on the way to serving events.
        for job in jobs {
            let result = match job.state {
                JobState::Queued => {
                    self.queue.lock().expect("queue lock").push(
                        job.id,
                        &job.channel,
                        &job.thread_ts,
                    );
                    self.open_card(&job).await;
                    self.mark_ready(job.id);
                    Ok(())
                }
                JobState::Running if kept.contains_key(&job.id) => {
                    let Some(leftover) = kept.remove(&job.id) else {
                        continue;
                    };
                    // A re-attached run holds its slot and its thread like any running job,
                    // so a queued follow-up does not start beside it on the same workspace.
                    self.queue.lock().expect("queue lock").hold_running(
                        job.id,
                        &job.channel,
                        &job.thread_ts,
                    );
                    let grant = grants.remove(&job.id).flatten();
                    let jobs = self.clone();
                    let span = tracing::info_span!("job", job = job.id, agent = %job.agent);
                    self.tasks.spawn(
                        async move { jobs.reattach_job(job, leftover, grant).await }
                            .instrument(span),
                    );
                    continue;
                }
                JobState::Running => {
                    let outcome = Ending {
                        state: JobState::Failed,
                        answer: None,
                        failure: Some(
                            "interrupted by a restart of the bot; ask again to re-run it".into(),
                        ),
                    };
                    self.finish(job.id, outcome).await
                }
                _ if !job.terminal_posted => self.post_terminal(job.clone()).await,
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::error!(job = job.id, agent = %job.agent, error = %e, "recovery failed");
            }
        }
    }

    /// The model-proxy grant a re-attached run had, under its old token.
    fn restore_grant(&self, job: &Job) -> Option<GrantHandle> {
        let token = job.grant_token.clone()?;
        let agent = self.registry().agents.get(&job.agent).cloned();
        let models = super::plan::allowed_models(agent.as_ref());
        let mcp = agent.as_ref().map(|a| a.mcp.clone()).unwrap_or_default();
        let grant = self.grant(job, models, &mcp, Some(token))?;
        // The budget under the rules in force; an amount over a ceiling lowered meanwhile is
        // held to it.
        let ceiling = self.settings.max_budget_usd;
        match super::budget::job_budget(
            job.options.budget.as_deref(),
            agent.as_ref().and_then(|a| a.budget_usd),
            self.settings.budget_usd,
            ceiling,
        ) {
            Ok(Some(usd)) => grant.set_budget(usd, job.usage.cost_usd),
            Ok(None) => {}
            Err(_) => grant.set_budget(ceiling.unwrap_or(0.0), job.usage.cost_usd),
        }
        let now = super::plan::sandbox_for(
            &self.settings.sandbox,
            &job.agent,
            agent.as_ref(),
            self.settings.job_timeout,
        );
        if let Ok(spec) = now {
            if egress_goes_on(job.sandbox.as_ref().and_then(|s| s.network), &spec) {
                self.open_egress(&grant, &spec);
            }
        }
        Some(grant)
    }

    /// Removes sandboxes a previous process left, except those of `running` jobs, which
    /// are returned to be re-attached.
    pub(super) async fn remove_leftovers(
        &self,
        running: &[JobId],
    ) -> HashMap<JobId, crate::runtime::Leftover> {
        let mut kept = HashMap::new();
        let Some(runtime) = &self.runtime else {
            return kept;
        };
        let leftovers = match runtime.leftovers().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(runtime = runtime.name(), error = %e, "cannot list leftover sandboxes");
                return kept;
            }
        };
        for leftover in leftovers {
            if let Some(id) = leftover.job_id.filter(|id| running.contains(id)) {
                kept.insert(id, leftover);
                continue;
            }
            match runtime.remove(&leftover).await {
                Ok(()) => tracing::info!(
                    sandbox = %leftover.name,
                    job = ?leftover.job_id,
                    agent = ?leftover.agent,
                    "removed a sandbox left by a previous run"
                ),
                Err(e) => {
                    tracing::warn!(sandbox = %leftover.name, error = %e, "cannot remove leftover sandbox")
                }
            }
        }
        if let Err(e) = runtime.sweep().await {
            tracing::warn!(runtime = runtime.name(), error = %e, "cannot remove what runs left beside their sandboxes");
        }
        kept
    }

    /// Follows a run a previous process started and the runtime kept (a Kubernetes Job),
    /// then ends the job as if this process had started it. A run that cannot be followed
    /// is removed and the job reported as interrupted.
    pub(super) async fn reattach_job(
        self: Arc<Self>,
        job: Job,
        leftover: crate::runtime::Leftover,
        grant: Option<GrantHandle>,
    ) {
        let id = job.id;
        self.count_state(&job, JobState::Running);
        let (stop, _unregister) = self.stop_switch(id);
        self.open_card(&job).await;
        let card = self.card(id);
        let followed = self
            .follow_again(&job, &leftover, card.as_deref(), &stop, grant)
            .await;
        if followed.as_ref().is_some_and(Ending::is_left) {
            tracing::info!(job = id, agent = %job.agent, "run left to the next process");
            return;
        }
        let outcome = match followed {
            Some(outcome) => outcome,
            None => {
                if let Some(runtime) = &self.runtime {
                    let _ = runtime.remove(&leftover).await;
                }
                Ending {
                    state: JobState::Failed,
                    answer: None,
                    failure: Some(
                        "interrupted by a restart of the bot; ask again to re-run it".into(),
                    ),
                }
            }
        };
        tracing::info!(state = outcome.state.label(), "re-attached run ended");
        if outcome.state == JobState::Succeeded && job.repo.is_some() {
            self.deliver(id, card.as_deref()).await;
        }
        // The last reference to the card goes to `finish`, which waits for its final edit.
        drop(card);
        if let Err(e) = self.finish(id, outcome).await {
            tracing::error!(job = id, agent = %job.agent, error = %e, "cannot finish a re-attached job");
        }
        // Its slot (and its thread) in the queue are free now.
        self.queue.lock().expect("queue lock").finish(id);
        self.pump();
    }

    /// The outcome of a re-attached run; `None` when it cannot be followed.
    pub(super) async fn follow_again(
        &self,
        job: &Job,
        leftover: &crate::runtime::Leftover,
        card: Option<&CardUpdater>,
        stop: &CancellationToken,
        grant: Option<GrantHandle>,
    ) -> Option<Ending> {
        let harness = self.harnesses.get(&job.harness)?;
        let runtime = harness.runtime()?;
        let agent = self.registry().agents.get(&job.agent).cloned();
        let sandbox = super::plan::sandbox_for(
            &self.settings.sandbox,
            &job.agent,
            agent.as_ref(),
            self.settings.job_timeout,
        )
        .ok()?;
        let workspace_job = job.workspace_job.unwrap_or(job.id);
        let workdir = self.workspace(workspace_job);
        let spawned = match runtime.attach(leftover, &workdir).await {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(job = job.id, agent = %job.agent, error = %e, "cannot re-attach");
                return None;
            }
        };
        let disk = super::progress::DiskLimit::of(&sandbox, &workdir);
        // The wall clock started with the run, not with this process.
        let elapsed = job
            .started_at
            .map(|s| (Utc::now() - s).to_std().unwrap_or_default())
            .unwrap_or_default();
        let time_limit = sandbox
            .timeout
            .saturating_sub(elapsed)
            .max(Duration::from_secs(1));
        let run = HarnessRun {
            sandbox,
            resume_session: None,
            model_base: None,
            mcp: vec![],
            egress_proxy: None,
            job_id: job.id,
            agent: job.agent.clone(),
            role_prompt: String::new(),
            task: job.task.clone(),
            model: job.model.clone(),
            workdir,
        };
        let cancel = CancellationToken::new();
        let _stop_on_exit = cancel.clone().drop_guard();
        let events = harness.reattach(run, spawned, cancel.clone()).await.ok()?;
        tracing::info!(job = job.id, agent = %job.agent, sandbox = %leftover.name, "re-attached to a run left by a previous process");
        // The log replays from the start, so the transcript is written again from its first
        // event: what the earlier process kept goes first, so nothing is kept twice or left
        // over (its MCP tool calls stay in the audit trail).
        if let Err(e) = self.store.drop_transcripts(&[job.id]) {
            tracing::warn!(job = job.id, agent = %job.agent, error = %e, "cannot clear the transcript before its replay");
        }
        Some(
            self.follow(
                job,
                events,
                &cancel,
                stop,
                card,
                time_limit,
                disk,
                grant.as_ref(),
            )
            .await,
        )
    }
}

/// Whether a re-attached run gets network `open` back: only one that started with it (a
/// record without its network gets none), and only if the rules in force still give it.
fn egress_goes_on(
    started_with: Option<crate::runtime::NetworkMode>,
    now: &crate::runtime::SandboxSpec,
) -> bool {
    use crate::runtime::NetworkMode::Open;
    started_with == Some(Open) && now.network == Open
}

#[cfg(test)]
mod egress_tests {
    use super::*;
    use crate::runtime::{NetworkMode, SandboxSpec};

    #[test]
    fn only_a_run_that_started_open_gets_open_back() {
        let open = SandboxSpec {
            network: NetworkMode::Open,
            ..SandboxSpec::default()
        };
        let model = SandboxSpec {
            network: NetworkMode::Model,
            ..SandboxSpec::default()
        };
        assert!(egress_goes_on(Some(NetworkMode::Open), &open));
        // Switched to `open` while a `model` run went on: it stays without.
        assert!(!egress_goes_on(Some(NetworkMode::Model), &open));
        assert!(!egress_goes_on(None, &open));
        // `open` taken away meanwhile.
        assert!(!egress_goes_on(Some(NetworkMode::Open), &model));
    }
}
