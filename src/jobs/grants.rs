//! What a run is given from outside its sandbox: its model grant on the proxy (the models
//! and MCP servers its plan allows), the model base URL as the sandbox sees it, the usage
//! the proxy counted, and the record of where it runs (for the audit).

use super::*;
use crate::job::SandboxRecord;
use crate::model::proxy::GrantHandle;
use crate::runtime::SandboxSpec;

impl Jobs {
    /// The job's grant on the model proxy, allowing `models` (none named: any) and the MCP
    /// servers `mcp`; under `token` when one was given out before (a re-attached run).
    pub(super) fn grant(
        &self,
        job: &Job,
        models: Vec<String>,
        mcp: &[String],
        token: Option<String>,
    ) -> Option<GrantHandle> {
        let proxy = self.proxy.as_ref()?;
        let grant = match token {
            Some(t) => proxy.grant_as(t, job.id, &job.agent, models),
            None => proxy.grant(job.id, &job.agent, models),
        };
        // The token is a secret too: masked in Slack, transcripts and logs from now on.
        self.redactor.add(grant.token());
        if !mcp.is_empty() {
            grant.open_tools(mcp.to_vec());
        }
        Some(grant)
    }

    /// Lets a run with network `open` out through the egress proxy, where its runtime sends
    /// it there (Docker); the proxy URL its sandbox is given (`HTTPS_PROXY`), with its token.
    pub(super) fn open_egress(&self, grant: &GrantHandle, spec: &SandboxSpec) -> Option<String> {
        let url = open_egress(self.runtime.as_deref(), grant, spec)?;
        // A verbose client prints the proxy credentials base64-encoded: masked too.
        self.redactor.add(&proxy_credentials(grant));
        Some(url)
    }

    /// The job's model base URL as its sandbox sees it.
    pub(super) fn model_base(&self, grant: &GrantHandle, spec: &SandboxSpec) -> String {
        model_base(self.runtime.as_deref(), self.proxy.as_ref(), grant, spec)
    }

    /// Where a run happens (runtime, image and digest, limits), for its audit record.
    pub(super) async fn sandbox_record(&self, spec: &SandboxSpec) -> SandboxRecord {
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
        SandboxRecord {
            runtime,
            image,
            digest,
            limits: spec.summary(),
            network: Some(spec.network),
        }
    }
}

/// Opens the egress proxy to `grant` when its run has network `open` and its runtime goes
/// out through the proxy; the proxy URL as the sandbox sees it.
pub fn open_egress(
    runtime: Option<&dyn crate::runtime::Runtime>,
    grant: &GrantHandle,
    spec: &SandboxSpec,
) -> Option<String> {
    if spec.network != crate::runtime::NetworkMode::Open {
        return None;
    }
    let address = runtime?.egress_address(spec)?;
    grant.allow_egress(spec.open_allow.clone(), spec.open_deny.clone());
    Some(format!("http://threadwork:{}@{address}", grant.token()))
}

/// `Proxy-Authorization`'s value for `grant`'s egress proxy URL, as a client sends it.
pub fn proxy_credentials(grant: &GrantHandle) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("threadwork:{}", grant.token()))
}

/// A grant's model base URL as a sandbox with `spec` sees it: the runtime's model address
/// (a container's forwarder), or the proxy's own for a local process.
pub fn model_base(
    runtime: Option<&dyn crate::runtime::Runtime>,
    proxy: Option<&crate::model::proxy::ModelProxy>,
    grant: &GrantHandle,
    spec: &SandboxSpec,
) -> String {
    let host = match runtime.and_then(|r| r.model_address(spec)) {
        Some(addr) => addr,
        None => {
            let addr = proxy
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
