//! A request becomes a job: who may start it, which agent, harness, model and repository,
//! the per-user limit — then `Jobs::accept`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::refusal::Refusal;
use super::{outbox, BotError, Handler};
use crate::agents::Agent;
use crate::authority;
use crate::forge::{self, Forges};
use crate::job::RequestOptions;
use crate::job::{Job, JobId, NewJob, ThreadMessage};
use crate::jobs::card;
use crate::jobs::Workplace;

/// The agent, harness and model a request runs with, or why it cannot run.
pub fn resolve_agent<'a>(
    options: &RequestOptions,
    channel: &str,
    user: &str,
    agents: &'a BTreeMap<String, Agent>,
    harnesses: &[&str],
    default_agent: &str,
) -> Result<(&'a Agent, String, Option<String>), Refusal> {
    let name = options.agent.as_deref().unwrap_or(default_agent);
    let agent = agents
        .get(name)
        .ok_or_else(|| unknown_agent(name, agents))?;
    if let Some(refusal) = access_refusal(agent, user, channel) {
        return Err(refusal);
    }
    let harness = options
        .harness
        .clone()
        .unwrap_or_else(|| agent.harness.clone());
    if !harnesses.contains(&harness.as_str()) {
        let mut configured: Vec<String> = harnesses.iter().map(|h| h.to_string()).collect();
        configured.sort_unstable();
        return Err(Refusal::UnknownHarness {
            harness,
            configured,
        });
    }
    if !agent.allows_harness(&harness) {
        return Err(Refusal::HarnessNotAllowed {
            agent: name.to_string(),
            harness,
            runs_on: agent.harness.clone(),
            also: agent.harnesses.clone(),
            file: agent.file.clone(),
        });
    }
    let model = options.model.clone().or_else(|| agent.model.clone());
    Ok((agent, harness, model))
}

/// Why `user` may not use `agent` in `channel` — start it, re-run it, or read its prompt,
/// amendments and library — or `None` when they may.
pub fn access_refusal(agent: &Agent, user: &str, channel: &str) -> Option<Refusal> {
    if !agent.allowed_user(user) {
        return Some(Refusal::RestrictedUsers {
            agent: agent.name.clone(),
            owners: agent.owners.clone(),
        });
    }
    if !agent.allowed_in(channel, None) {
        return Some(Refusal::NotInChannel {
            agent: agent.name.clone(),
            channels: agent.channels.clone(),
        });
    }
    None
}

/// An agent name that has no prompt file.
pub fn unknown_agent(name: &str, agents: &BTreeMap<String, Agent>) -> Refusal {
    Refusal::UnknownAgent {
        name: name.to_string(),
        available: agents.keys().cloned().collect(),
    }
}

impl Handler {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn accept(
        self: &Arc<Self>,
        channel: String,
        user: String,
        ts: String,
        thread_ts: String,
        task: String,
        options: RequestOptions,
        parent: Option<JobId>,
    ) -> Result<(), BotError> {
        let harness_names = self.jobs.harness_names();
        let registry = self.jobs.registry();
        let parent_job = parent.and_then(|p| self.store.job(p).ok().flatten());
        let mut options = options;
        if let Some(p) = &parent_job {
            let root = authority::thread_root(p, |id| self.store.job(id).ok().flatten());
            let thread_agent = registry.agents.get(&p.agent);
            let role = authority::role(&user, &root.requester, thread_agent, &self.settings.admins);
            if !role.may_act() {
                // Not theirs to run: kept as what they said, so the next job sees it.
                tracing::info!(job = p.id, %user, "follow-up refused: not allowed to act in the thread");
                let author = self.jobs.user_name(&user).await;
                let message = ThreadMessage {
                    ts,
                    user: Some(user.clone()),
                    author,
                    text: task,
                    from_bot: false,
                    role: authority::Role::Member.label().into(),
                    trusted: false,
                };
                self.jobs
                    .update_job(p.id, |j| j.keep_reply(message))
                    .await?;
                let text = authority::refusal("start a job", &root, thread_agent);
                self.refuse_in_background(channel, user, thread_ts, text);
                return Ok(());
            }
            // A follow-up keeps the thread's budget unless it names one.
            if options.budget.is_none() {
                options.budget = p.options.budget.clone();
            }
            // A follow-up keeps the thread's agent (and harness) unless it names another.
            if options.agent.is_none() {
                options.agent = Some(p.agent.clone());
                options.harness = options.harness.or_else(|| Some(p.harness.clone()));
            }
        }
        let (agent, harness, model) = match resolve_agent(
            &options,
            &channel,
            &user,
            &registry.agents,
            &harness_names,
            &self.settings.default_agent,
        ) {
            Ok(r) => match self.over_user_limit(&user) {
                None => r,
                Some(wait) => {
                    let reply = format!(
                    ":hourglass: You have started {} jobs in the last hour, the most one person may. Try again in {}. No job was started.",
                    self.settings.per_user_per_hour,
                    card::duration(wait.as_secs().max(1) as i64)
                );
                    self.say_in_background(channel, thread_ts, reply);
                    return Ok(());
                }
            },
            Err(refusal) => {
                self.say_in_background(channel, thread_ts, refusal.no_job());
                return Ok(());
            }
        };
        if let Err(why) = crate::jobs::budget::job_budget(
            options.budget.as_deref(),
            agent.budget_usd,
            self.settings.budget_usd,
            self.settings.max_budget_usd,
        ) {
            let reply = format!(
                ":warning: {}. No job was started.",
                crate::chat::mrkdwn::escape(&why)
            );
            self.say_in_background(channel, thread_ts, reply);
            return Ok(());
        }
        // Only someone who may start this job hears about the disk.
        if let Some((used, budget)) = self.jobs.over_disk_budget() {
            let reply = format!(
                ":warning: The job workspaces take {used} MB, past their budget of {budget} MB (`[jobs] disk_budget_mb`), so no job was started. Old threads' workspaces are removed after `[jobs] workspace_days`; an admin can also raise the budget."
            );
            self.say_in_background(channel, thread_ts, reply);
            return Ok(());
        }
        let (repo, branch) =
            match job_repo(agent, &options, parent_job.as_ref(), self.jobs.forges()) {
                Ok(r) => r,
                Err(refusal) => {
                    self.say_in_background(channel, thread_ts, refusal.no_job());
                    return Ok(());
                }
            };
        let (channel, ts) = (channel.clone(), ts.clone());
        let place = Workplace {
            repo,
            branch,
            pr: parent_job.as_ref().and_then(|p| p.pr.clone()),
            head: parent_job.as_ref().and_then(|p| p.head.clone()),
        };
        let new = NewJob {
            channel: channel.clone(),
            thread_ts,
            request_ts: ts.clone(),
            requester: user,
            task,
            options,
            agent: agent.name.clone(),
            harness,
            model,
            parent,
            rerun_of: None,
            origin: None,
        };
        // A new request (not a follow-up in its own thread) is compared with the work the
        // bot knows of first; in `ask` mode a likely duplicate waits for its requester.
        let seen = if parent.is_none() {
            match self.overlap_gate(&new, &place).await? {
                super::overlaps::Gate::Go(seen) => Some(seen),
                super::overlaps::Gate::Held => return Ok(()),
            }
        } else {
            None
        };
        let id = self.jobs.accept(new, place)?;
        if let Some(seen) = seen {
            self.record_request(id, seen);
        }
        let chat = self.chat.clone();
        self.jobs.spawn(async move {
            if let Err(e) = outbox::with_retries(|| chat.add_reaction(&channel, &ts, "eyes")).await
            {
                tracing::warn!(error = %e, "could not add the eyes reaction");
            }
        });
        Ok(())
    }

    /// How long until `user` may start another job; `None` when they may now (and the start
    /// is counted).
    pub(super) fn over_user_limit(&self, user: &str) -> Option<Duration> {
        use governor::clock::Clock;
        let limiter = self.user_limiter.as_ref()?;
        match limiter.check_key(&user.to_string()) {
            Ok(()) => None,
            Err(not_until) => {
                Some(not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
            }
        }
    }
}

/// The repository and base branch a new job works on, or why it may not (for the thread).
/// A follow-up works on its thread's repository.
pub(super) fn job_repo(
    agent: &Agent,
    options: &RequestOptions,
    parent: Option<&Job>,
    forges: &Forges,
) -> Result<(Option<String>, Option<String>), Refusal> {
    if let Some(p) = parent {
        return match (&options.repo, &p.repo) {
            (Some(asked), Some(here)) if !asked.eq_ignore_ascii_case(here) => {
                Err(Refusal::OtherThreadRepo {
                    here: here.clone(),
                    asked: asked.clone(),
                })
            }
            (Some(asked), None) => Err(Refusal::NoThreadRepo {
                asked: asked.clone(),
            }),
            // The thread's repository needs the agent's leave now: another agent named in
            // the thread, or the same one after its `repos:` changed.
            (_, Some(here)) if !forge::agent_may_use(agent.repo.as_deref(), &agent.repos, here) => {
                Err(Refusal::ThreadRepoNotAllowed {
                    agent: agent.name.clone(),
                    here: here.clone(),
                })
            }
            _ => Ok((p.repo.clone(), p.branch.clone())),
        };
    }
    let Some(repo) = options.repo.clone().or_else(|| agent.repo.clone()) else {
        return Ok((None, None));
    };
    if !forge::agent_may_use(agent.repo.as_deref(), &agent.repos, &repo) {
        let mut may: Vec<String> = agent.repo.iter().cloned().collect();
        may.extend(agent.repos.iter().cloned());
        return Err(Refusal::RepoNotAllowed {
            agent: agent.name.clone(),
            repo,
            may,
        });
    }
    if forges.host_for(&repo).is_none() {
        return Err(Refusal::NoForgeHost { repo });
    }
    Ok((Some(repo), options.branch.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn agents() -> BTreeMap<String, Agent> {
        let text = "---\nname: default\ndescription: d\nharness: scripted\nchannels: [C1]\nusers: [U0USER001, U0USER002]\nowners: [U0OWNER9]\n---\nrole";
        let known = crate::agents::Known {
            harnesses: &["scripted"],
            fragments: &[],
        };
        let a = crate::agents::parse_agent(Path::new("default.md"), text, known).unwrap();
        BTreeMap::from([("default".to_string(), a)])
    }

    #[test]
    fn resolve_checks_agent_user_channel_and_harness() {
        let agents = agents();
        let resolve = |o: &RequestOptions, channel, user, harnesses: &[&str]| {
            resolve_agent(o, channel, user, &agents, harnesses, "default")
        };
        let default = RequestOptions::default();
        let ok = resolve(&default, "C1", "U0USER001", &["scripted"]).unwrap();
        assert_eq!((ok.0.name.as_str(), ok.1.as_str()), ("default", "scripted"));
        let o = RequestOptions {
            agent: Some("nope".into()),
            ..Default::default()
        };
        assert!(resolve(&o, "C1", "U0USER001", &["scripted"])
            .unwrap_err()
            .to_string()
            .contains("unknown agent `nope`; available: `default`"));
        assert!(resolve(&default, "C2", "U0USER001", &["scripted"])
            .unwrap_err()
            .to_string()
            .contains("does not run in this channel"));
        assert!(resolve(&default, "C1", "U0USER003", &["scripted"])
            .unwrap_err()
            .to_string()
            .contains("restricted to some users; ask one of its owners (<@U0OWNER9>)"));
        let o = RequestOptions {
            harness: Some("codex".into()),
            ..Default::default()
        };
        assert!(resolve(&o, "C1", "U0USER001", &["scripted", "command"])
            .unwrap_err()
            .to_string()
            .contains("unknown harness `codex`; configured: `command`, `scripted`"));
        let err = resolve(&o, "C1", "U0USER001", &["scripted", "codex"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("agent `default` runs on `scripted` only; its owners can allow `codex` with `harnesses:` in default.md"),
            "{err}"
        );
        let mut open = agents.clone();
        open.get_mut("default").unwrap().harnesses = vec!["codex".into()];
        let ok = resolve_agent(
            &o,
            "C1",
            "U0USER001",
            &open,
            &["scripted", "codex"],
            "default",
        )
        .unwrap();
        assert_eq!(ok.1, "codex");
    }
}
