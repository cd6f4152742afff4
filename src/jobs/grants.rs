//! What a run may use: its sandbox (the admin's policy and the agent's request), its model
//! access through the proxy, its MCP endpoints, and what of it is kept for the audit.

use super::card::CardUpdater;
use super::*;
use crate::model::proxy::GrantHandle;
use crate::runtime::policy::resolve as resolve_sandbox;

impl Jobs {
    /// The sandbox a job's runs get: the admin's policy and its agent's `sandbox:` request.
    pub(super) fn sandbox_for(
        &self,
        job: &Job,
    ) -> Result<crate::runtime::SandboxSpec, crate::runtime::policy::PolicyError> {
        let ask = self
            .registry()
            .agents
            .get(&job.agent)
            .map(|a| a.sandbox.clone())
            .unwrap_or_default();
        resolve_sandbox(
            &self.settings.sandbox,
            &job.agent,
            &ask,
            self.settings.job_timeout,
        )
    }

    /// Model access for a job through the proxy: the agent's allowed models (its `models`,
    /// else its `model`; any when it names none).
    pub(super) fn model_grant(&self, job: &Job) -> Option<GrantHandle> {
        self.model_grant_as(job, None)
    }

    /// The job's grant; under `token` when one was given out before.
    pub(super) fn model_grant_as(&self, job: &Job, token: Option<String>) -> Option<GrantHandle> {
        let proxy = self.proxy.as_ref()?;
        let agent = self.registry().agents.get(&job.agent).cloned();
        let models = match &agent {
            Some(a) if !a.models.is_empty() => a.models.clone(),
            Some(a) => a.model.iter().cloned().collect(),
            None => vec![],
        };
        let grant = match token {
            Some(t) => proxy.grant_as(t, job.id, &job.agent, models),
            None => proxy.grant(job.id, &job.agent, models),
        };
        // The token is a secret too: masked in Slack, transcripts and logs from now on.
        self.redactor.add(grant.token());
        if let Some(a) = agent.filter(|a| !a.mcp.is_empty()) {
            grant.open_tools(a.mcp);
        }
        Some(grant)
    }

    /// The MCP endpoints of the job's agent as its sandbox sees them, or why it cannot have
    /// them (a server its prompt file names is not configured).
    pub(super) fn mcp_endpoints(
        &self,
        job: &Job,
        model_base: Option<&str>,
    ) -> Result<Vec<(String, String)>, String> {
        let Some(agent) = self.registry().agents.get(&job.agent).cloned() else {
            return Ok(vec![]);
        };
        if agent.mcp.is_empty() {
            return Ok(vec![]);
        }
        let gateway = self.proxy.as_ref().and_then(|p| p.gateway());
        if let Some(server) =
            crate::mcp::unconfigured(&agent.mcp, |m| gateway.is_some_and(|g| g.has(m)))
        {
            return Err(format!(
                "agent `{}` lists MCP server `{server}`, which is not configured; an admin adds `[mcp.{server}]` to the config",
                agent.name
            ));
        }
        match model_base {
            Some(base) => Ok(crate::mcp::endpoints(base, &agent.mcp)),
            None => Err(format!(
                "agent `{}` uses MCP servers, which are reached through the model proxy; configure `[model]`",
                agent.name
            )),
        }
    }

    /// The job's model base URL as its sandbox sees it.
    pub(super) fn model_base(
        &self,
        grant: &GrantHandle,
        spec: &crate::runtime::SandboxSpec,
    ) -> String {
        let host = match self.runtime.as_ref().and_then(|r| r.model_address(spec)) {
            Some(addr) => addr,
            // A local process reaches the proxy directly.
            None => {
                let addr = self
                    .proxy
                    .as_ref()
                    .map(|p| p.addr())
                    .unwrap_or(([127, 0, 0, 1], 0).into());
                let ip = if addr.ip().is_unspecified() {
                    std::net::IpAddr::from([127, 0, 0, 1])
                } else {
                    addr.ip()
                };
                format!("{ip}:{}", addr.port())
            }
        };
        format!("http://{host}/t/{}", grant.token())
    }

    /// Copies what the proxy counted for the job onto the job and its card.
    pub(super) async fn record_model_usage(
        &self,
        id: JobId,
        grant: Option<&GrantHandle>,
        card: Option<&CardUpdater>,
    ) {
        let Some(grant) = grant else {
            return;
        };
        let used = grant.usage();
        if used.requests == 0 {
            return;
        }
        let usage = crate::job::Usage {
            input_tokens: used.tokens.input,
            output_tokens: used.tokens.output,
            cost_usd: used.cost_usd,
        };
        if self.update_job(id, |j| j.usage = usage).await.is_ok() {
            if let Some(c) = card {
                c.update(|v| v.usage = usage);
            }
        }
    }

    /// Keeps where the job runs (runtime, image and digest, limits) for its audit record.
    pub(super) async fn record_sandbox(&self, id: JobId, spec: &crate::runtime::SandboxSpec) {
        let (runtime, image, digest) = match &self.runtime {
            Some(r) => {
                let image = r.image_of(spec);
                let digest = match &image {
                    Some(i) => r.image_digest(i).await,
                    None => None,
                };
                (spec.runtime.label().to_string(), image, digest)
            }
            None => ("none".to_string(), None, None),
        };
        let record = crate::job::SandboxRecord {
            runtime,
            image,
            digest,
            limits: spec.summary(),
        };
        let _ = self.update_job(id, |j| j.sandbox = Some(record)).await;
    }
}
