//! Several runtimes behind one: each run goes to the runtime its sandbox spec names (the
//! admin's `[sandbox] runtime`, or an agent's `sandbox: {runtime: …}` among
//! `[sandbox] runtimes`), so light agents can run on the bot's Docker and heavy ones on the
//! cluster with the same harnesses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::policy::RuntimeKind;
use super::{Launch, Leftover, Runtime, RuntimeError, SandboxSpec, Spawned};

pub struct Runtimes {
    default: RuntimeKind,
    all: BTreeMap<RuntimeKind, Arc<dyn Runtime>>,
}

impl Runtimes {
    /// The default runtime and the others agents may pick.
    pub fn new(
        default: (RuntimeKind, Arc<dyn Runtime>),
        others: impl IntoIterator<Item = (RuntimeKind, Arc<dyn Runtime>)>,
    ) -> Self {
        let mut all: BTreeMap<_, _> = others.into_iter().collect();
        all.insert(default.0, default.1);
        Self {
            default: default.0,
            all,
        }
    }

    fn pick(&self, kind: RuntimeKind) -> Result<&Arc<dyn Runtime>, RuntimeError> {
        self.all.get(&kind).ok_or_else(|| {
            RuntimeError::Refused(format!(
                "the `{}` runtime is not enabled (`[sandbox] runtimes`)",
                kind.label()
            ))
        })
    }

    fn default_runtime(&self) -> Option<&Arc<dyn Runtime>> {
        self.all.get(&self.default)
    }
}

#[async_trait::async_trait]
impl Runtime for Runtimes {
    fn name(&self) -> &'static str {
        self.default.label()
    }

    fn workspace_in_sandbox(&self, host: &Path, spec: &SandboxSpec) -> PathBuf {
        match self.pick(spec.runtime).ok().or(self.default_runtime()) {
            Some(r) => r.workspace_in_sandbox(host, spec),
            None => host.to_path_buf(),
        }
    }

    fn model_address(&self, spec: &SandboxSpec) -> Option<String> {
        self.pick(spec.runtime).ok()?.model_address(spec)
    }

    fn egress_address(&self, spec: &SandboxSpec) -> Option<String> {
        self.pick(spec.runtime).ok()?.egress_address(spec)
    }

    fn image_of(&self, spec: &SandboxSpec) -> Option<String> {
        self.pick(spec.runtime).ok()?.image_of(spec)
    }

    async fn image_digest(&self, image: &str) -> Option<String> {
        for r in self.all.values() {
            if let Some(d) = r.image_digest(image).await {
                return Some(d);
            }
        }
        None
    }

    async fn sweep(&self) -> Result<(), RuntimeError> {
        for r in self.all.values() {
            r.sweep().await?;
        }
        Ok(())
    }

    async fn engine_versions(&self) -> Option<Vec<(String, String)>> {
        let mut all = Vec::new();
        for r in self.all.values() {
            all.extend(r.engine_versions().await.unwrap_or_default());
        }
        (!all.is_empty()).then_some(all)
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        for r in self.all.values() {
            r.ping().await?;
        }
        Ok(())
    }

    async fn spawn(&self, launch: Launch) -> Result<Spawned, RuntimeError> {
        self.pick(launch.spec.runtime)?.spawn(launch).await
    }

    async fn attach(
        &self,
        leftover: &Leftover,
        workspace: &Path,
    ) -> Result<Option<Spawned>, RuntimeError> {
        self.pick(leftover.runtime)?
            .attach(leftover, workspace)
            .await
    }

    fn leave_runs(&self) {
        for r in self.all.values() {
            r.leave_runs();
        }
    }

    async fn leftovers(&self) -> Result<Vec<Leftover>, RuntimeError> {
        let mut out = Vec::new();
        for r in self.all.values() {
            out.extend(r.leftovers().await?);
        }
        Ok(out)
    }

    async fn remove(&self, leftover: &Leftover) -> Result<(), RuntimeError> {
        self.pick(leftover.runtime)?.remove(leftover).await
    }
}
