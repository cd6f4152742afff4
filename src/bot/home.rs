//! The agent directory, as the `agents` command's reply and the App Home tab.

use chrono::Utc;

use super::{directory, outbox, BotError, Handler};

impl Handler {
    /// The directory: a header, then one section per agent.
    pub(super) async fn directory_sections(&self, viewer: &str) -> Result<Vec<String>, BotError> {
        let tz = self.viewer_tz(viewer).await;
        let planned = self.planned();
        let registry = self.jobs.registry();
        let jobs = self.store.jobs()?;
        let now = Utc::now();
        let twins = self.agent_twins();
        let mut sections = vec![format!(
            "*Agents* ({}) — mention me with `agent=<name>` to pick one.",
            registry.agents.len()
        )];
        for agent in registry.agents.values() {
            let stats = directory::stats(&agent.name, &jobs, now);
            let prompt = self.jobs.effective(agent)?;
            let mut links = Vec::new();
            for (id, _) in &stats.recent {
                let job = jobs.iter().find(|j| j.id == *id);
                let ts = job.and_then(|j| j.result_ts.clone().or(j.card_ts.clone()));
                // The directory is shown anywhere: a private conversation's result is named,
                // never linked (a permalink tells where it was asked).
                let link = match (job, ts) {
                    (Some(j), Some(ts)) if !self.place_of(&j.channel).await.private => {
                        self.chat.permalink(&j.channel, &ts).await.ok()
                    }
                    _ => None,
                };
                links.push(link);
            }
            let mut entry = directory::render_entry(
                agent,
                &stats,
                &prompt.version,
                prompt.amendments.len(),
                &links,
            );
            let alike: Vec<String> = twins
                .iter()
                .filter_map(|t| {
                    (t.a == agent.name)
                        .then_some(&t.b)
                        .or((t.b == agent.name).then_some(&t.a))
                })
                .map(|other| format!("`{other}`"))
                .collect();
            if !alike.is_empty() {
                entry.push_str(&format!(
                    "\n:busts_in_silhouette: looks like {}",
                    alike.join(", ")
                ));
            }
            let has_suite =
                crate::evals::case::suite_path(&self.settings.evals.dir, &agent.name).is_file();
            let results = self.store.eval_results(&agent.name)?;
            if let Some(line) = directory::render_evals(has_suite, &prompt.version, &results) {
                entry.push('\n');
                entry.push_str(&line);
            }
            let last = last_automated(&jobs, &agent.name);
            if let Some(on_its_own) = directory::render_automation(agent, &planned, &last, tz) {
                entry.push('\n');
                entry.push_str(&on_its_own);
            }
            sections.push(entry);
        }
        Ok(sections)
    }

    pub(super) async fn publish_home(&self, user: &str) {
        let sections = match self.directory_sections(user).await {
            Ok(mut s) => {
                if let Some(overlaps) = self.overlap_home_section(user).await {
                    s.push(overlaps);
                }
                s
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot build the agent directory");
                return;
            }
        };
        if let Err(e) = outbox::with_retries(|| self.chat.publish_home(user, &sections)).await {
            tracing::warn!(error = %e, "could not publish the Home tab");
        }
    }

    /// `@threadwork schedules`: every agent that runs on its own, next runs in the viewer's
    /// time zone.
    pub(super) async fn schedules_text(&self, viewer: &str) -> String {
        let tz = self.viewer_tz(viewer).await;
        let planned = self.planned();
        let registry = self.jobs.registry();
        let jobs = match self.store.jobs() {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "cannot read jobs for the schedules list");
                Vec::new()
            }
        };
        let entries: Vec<String> = registry
            .agents
            .values()
            .filter_map(|agent| {
                let last = last_automated(&jobs, &agent.name);
                directory::render_automation(agent, &planned, &last, tz)
                    .map(|text| format!("*{}*\n{text}", agent.name))
            })
            .collect();
        if entries.is_empty() {
            return "No agent runs on its own: add `schedule:` or `triggers:` to an agent's header (see the README).".into();
        }
        format!(
            "*Agents that run on their own* (times in {}):\n\n{}",
            tz.name(),
            entries.join("\n\n")
        )
    }

    /// The viewer's time zone from their Slack profile; UTC when unknown.
    async fn viewer_tz(&self, user: &str) -> chrono_tz::Tz {
        self.chat
            .user(user)
            .await
            .ok()
            .and_then(|u| u.tz)
            .and_then(|tz| tz.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }
}

/// An agent's last three scheduled or triggered jobs, newest first.
fn last_automated<'a>(jobs: &'a [crate::job::Job], agent: &str) -> Vec<&'a crate::job::Job> {
    jobs.iter()
        .rev()
        .filter(|j| j.agent == agent && j.origin.is_some())
        .take(3)
        .collect()
}
