//! The agent directory, as the `agents` command's reply and the App Home tab.

use chrono::Utc;

use super::{directory, outbox, BotError, Handler};

impl Handler {
    /// The directory: a header, then one section per agent.
    pub(super) async fn directory_sections(&self) -> Result<Vec<String>, BotError> {
        let registry = self.jobs.registry();
        let jobs = self.store.jobs()?;
        let now = Utc::now();
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
                let link = match (job, ts) {
                    (Some(j), Some(ts)) => self.chat.permalink(&j.channel, &ts).await.ok(),
                    _ => None,
                };
                links.push(link);
            }
            sections.push(directory::render_entry(
                agent,
                &stats,
                &prompt.version,
                prompt.amendments.len(),
                &links,
            ));
        }
        Ok(sections)
    }

    pub(super) async fn publish_home(&self, user: &str) {
        let sections = match self.directory_sections().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the agent directory");
                return;
            }
        };
        if let Err(e) = outbox::with_retries(|| self.chat.publish_home(user, &sections)).await {
            tracing::warn!(error = %e, "could not publish the Home tab");
        }
    }
}
