//! A job's repository: which one it may use, the checkout before the run, the commit, push
//! and PR/MR after it, and the PR actions an approver's verdict asks for. The decisions are
//! pure (`forge`); this is their I/O. The Git token stays here: the sandbox only ever sees the
//! checked-out files.

use std::path::PathBuf;

use crate::forge::git::Checkout;
use crate::forge::{self, ForgeClient, OpenRequest, PrFacts, PrState, PullRequest};
use crate::store::AuditRecord;

use super::card::short_sha;
use super::*;
use crate::chat::mrkdwn;

/// Why a job's repository could not be checked out; the job fails with these words (git's
/// are redacted first).
#[derive(Debug, thiserror::Error)]
pub(super) enum CheckoutError {
    #[error("no forge host is configured for `{0}` any more")]
    NoHost(String),
    #[error("cannot check out `{repo}`{} from {kind} `{host}`: {message}", .branch.as_deref().map(|b| format!(" at `{b}`")).unwrap_or_default())]
    Failed {
        repo: String,
        branch: Option<String>,
        kind: &'static str,
        host: String,
        message: String,
    },
}

impl Jobs {
    pub(super) fn workspace(&self, workspace_job: JobId) -> PathBuf {
        super::plan::workspace_dir(&self.settings.workdir, workspace_job)
    }

    /// Clones the job's repository into its workspace, once per thread.
    pub(super) async fn prepare_repo(
        &self,
        job: &Job,
        workspace_job: JobId,
    ) -> Result<(), CheckoutError> {
        let Some(repo) = &job.repo else {
            return Ok(());
        };
        let host = self
            .forges
            .host_for(repo)
            .ok_or_else(|| CheckoutError::NoHost(repo.clone()))?;
        let checkout = Checkout::beside(&self.workspace(workspace_job));
        let branch = forge::branch_name(workspace_job);
        if checkout.is_prepared(&branch).await {
            return Ok(());
        }
        let url = host.clone_url(repo);
        match checkout
            .prepare(
                &url,
                job.branch.as_deref(),
                &branch,
                &host.git_auth_header(),
            )
            .await
        {
            Ok(base) => {
                tracing::info!(job = job.id, agent = %job.agent, %repo, %base, %branch, "repository checked out");
                Ok(())
            }
            Err(e) => {
                let message = forge::redact(&e.to_string(), &self.forges.secrets());
                tracing::warn!(job = job.id, agent = %job.agent, %repo, error = %message, "cannot check out the repository");
                Err(CheckoutError::Failed {
                    repo: repo.clone(),
                    branch: job.branch.clone(),
                    kind: host.kind.label(),
                    host: host.name.clone(),
                    message,
                })
            }
        }
    }

    /// After a successful run on a repository: commit what changed, push the thread's branch,
    /// open its draft PR (or tell the open one about the follow-up). What happened is kept on
    /// the job for its final message and card; nothing here fails the job.
    pub(super) async fn deliver(&self, id: JobId, card: Option<&CardUpdater>) {
        let Ok(Some(job)) = self.store.job(id) else {
            return;
        };
        let (Some(repo), Some(workspace_job)) = (job.repo.clone(), job.workspace_job) else {
            return;
        };
        let secrets = self.forges.secrets();
        let thread_pr = self
            .store
            .job(workspace_job)
            .ok()
            .flatten()
            .and_then(|w| w.pr)
            .or_else(|| {
                job.parent
                    .and_then(|p| self.store.job(p).ok().flatten()?.pr)
            });
        let (head, pr, delivery, audit) = match self
            .push_and_open(&job, &repo, workspace_job, thread_pr)
            .await
            .map(|(head, pr, delivery, audit)| {
                let pr = pr.map(|mut p| {
                    p.opened_by_agent.get_or_insert_with(|| job.agent.clone());
                    p
                });
                (head, pr, delivery, audit)
            }) {
            Ok(d) => d,
            Err(message) => {
                let message = forge::redact(&message, &secrets);
                tracing::warn!(job = id, agent = %job.agent, %repo, error = %message, "could not deliver the changes");
                (
                    None,
                    None,
                    // Git's and the forge's words may quote what the agent wrote: escaped.
                    format!(":warning: {}", mrkdwn::escape(&message)),
                    Some(("pr_failed", message)),
                )
            }
        };
        if let Some((action, detail)) = audit {
            let _ = self.audit(AuditRecord {
                job: Some(id),
                prompt_version: job.prompt_version.clone(),
                detail: Some(detail),
                ..AuditRecord::new(action, &job.requester, &job.agent)
            });
        }
        let saved = self
            .record(id, "the delivery", |j| {
                j.delivery = Some(delivery);
                if head.is_some() {
                    j.head = head.clone();
                }
                if pr.is_some() {
                    j.pr = pr.clone();
                }
            })
            .await;
        if let (Some(pr), true) = (&pr, workspace_job != id) {
            let pr = pr.clone();
            self.record(workspace_job, "the thread's PR", |w| w.pr = Some(pr))
                .await;
        }
        if let (Some(j), Some(c)) = (saved, card) {
            c.update(|v| {
                v.pr = j.pr.as_ref().map(|p| p.link());
                v.head = j.head.clone();
            });
        }
    }

    /// Commit, push, PR. Returns the new head, the PR, the words for the thread and the audit
    /// action with its detail; an error is the words for the thread.
    #[allow(clippy::type_complexity)]
    pub(super) async fn push_and_open(
        &self,
        job: &Job,
        repo: &str,
        workspace_job: JobId,
        thread_pr: Option<PullRequest>,
    ) -> Result<
        (
            Option<String>,
            Option<PullRequest>,
            String,
            Option<(&'static str, String)>,
        ),
        String,
    > {
        let host = self
            .forges
            .host_for(repo)
            .ok_or_else(|| format!("no forge host is configured for `{repo}` any more"))?;
        let checkout = Checkout::beside(&self.workspace(workspace_job));
        let branch = forge::branch_name(workspace_job);
        let permalink = self.thread_permalink(job).await;
        let requester = self.user_name(&job.requester).await;
        let facts = PrFacts {
            job: job.id,
            task: &job.task,
            requester: &requester,
            permalink: permalink.as_deref(),
            agent: &job.agent,
            harness: &job.harness,
            model: job.model.as_deref(),
            prompt_version: job.prompt_version.as_deref(),
        };
        let git = &self.forges.git;
        // What leaves for the forge passes the same redaction as what goes to Slack.
        let redact = |text: String| self.redactor.apply(&text).into_owned();
        let message = redact(forge::commit_message(
            &facts,
            self.forges.identity(&job.requester),
        ));
        let commit = checkout
            .commit(&message, &git.author_name, &git.author_email)
            .await
            .map_err(|e| format!("could not commit the changes in `{repo}`: {e}"))?;
        let Some(commit) = commit else {
            let words = match &thread_pr {
                Some(pr) => format!("No new changes in `{repo}`; {} stays as it was.", pr.link()),
                None => format!("No changes in `{repo}`, so no {}.", host.kind.noun()),
            };
            return Ok((None, None, words, None));
        };
        checkout
            .push(&host.clone_url(repo), &branch, &host.git_auth_header())
            .await
            .map_err(|e| {
                format!(
                    "the changes are committed (`{}`) but could not be pushed to `{repo}`: {e}",
                    short_sha(&commit.sha)
                )
            })?;
        let client = ForgeClient {
            host,
            http: &self.http,
        };
        let files = format!(
            "{} file{}",
            commit.files,
            if commit.files == 1 { "" } else { "s" }
        );
        if let Some(pr) = thread_pr.filter(|p| matches!(p.state, PrState::Draft | PrState::Ready)) {
            let note = redact(format!(
                "Follow-up from Slack (job {}, by {requester}): {}\n\nNew head: {} ({files}).{}",
                job.id,
                forge::pr_title(&job.task),
                commit.sha,
                permalink
                    .as_deref()
                    .map(|l| format!("\nSlack thread: {l}"))
                    .unwrap_or_default()
            ));
            if let Err(e) = client.comment(&pr, &note).await {
                tracing::warn!(job = job.id, agent = %job.agent, error = %e, "could not comment on the PR");
            }
            let words = format!(
                ":link: Pushed `{}` ({files}) to `{branch}`: {}",
                short_sha(&commit.sha),
                pr.link()
            );
            let detail = format!("{} head {}", pr.url, commit.sha);
            return Ok((
                Some(commit.sha),
                Some(pr),
                words,
                Some(("pr_updated", detail)),
            ));
        }
        let base = checkout.base().await.unwrap_or_else(|| "main".into());
        let title = redact(forge::pr_title(&job.task));
        let body = redact(forge::pr_body(&facts));
        let pr = client
            .open(&OpenRequest {
                repo,
                branch: &branch,
                base: &base,
                title: &title,
                body: &body,
            })
            .await
            .map_err(|e| {
                format!(
                    "the changes are on branch `{branch}` of `{repo}`, but the {} could not be opened: {e}",
                    host.kind.noun()
                )
            })?;
        let words = format!(
            ":link: {} · branch `{}` → `{}` · head `{}` ({files})",
            pr.link(),
            mrkdwn::escape(&branch),
            mrkdwn::escape(&base),
            short_sha(&commit.sha)
        );
        let detail = format!("{} head {}", pr.url, commit.sha);
        Ok((
            Some(commit.sha),
            Some(pr),
            words,
            Some(("pr_opened", detail)),
        ))
    }

    /// ✅ or ❌ on a result whose thread has an open PR: ready for review (or merge, when the
    /// agent says `merge_on_approve` and the judge is one of its approvers), or close. Each
    /// action, or the forge's refusal, goes to the thread and the audit log.
    pub async fn pr_verdict(&self, job: &Job, approved: bool, user: &str) {
        let workspace_job = job.workspace_job.unwrap_or(job.id);
        let thread_job = self.store.job(workspace_job).ok().flatten();
        let Some(pr) = thread_job
            .as_ref()
            .and_then(|w| w.pr.clone())
            .or_else(|| job.pr.clone())
        else {
            return;
        };
        if !matches!(pr.state, PrState::Draft | PrState::Ready) {
            return;
        }
        let Some(host) = self.forges.host(&pr.host) else {
            self.say(
                &job.channel,
                &job.thread_ts,
                &format!(":warning: {} is on forge `{}`, which is no longer configured; nothing was done.", pr.link(), pr.host),
            )
            .await;
            return;
        };
        // Merging is for an approver of the agent that opened the PR, not of a later one.
        let opener = pr
            .opened_by_agent
            .clone()
            .or_else(|| thread_job.as_ref().map(|w| w.agent.clone()))
            .unwrap_or_else(|| job.agent.clone());
        let agent = self.registry().agents.get(&opener).cloned();
        let merge = approved
            && agent
                .as_ref()
                .is_some_and(|a| a.merge_on_approve && a.approvers.iter().any(|u| u == user));
        let client = ForgeClient {
            host,
            http: &self.http,
        };
        let head = job
            .head
            .clone()
            .or_else(|| thread_job.as_ref().and_then(|w| w.head.clone()));
        let result = async {
            if !approved {
                client.close(&pr).await?;
                return Ok((PrState::Closed, "pr_closed", "closed"));
            }
            if pr.state == PrState::Draft {
                client.ready(&pr).await?;
            }
            if merge {
                let Some(head) = &head else {
                    return Ok((
                        PrState::Ready,
                        "pr_ready",
                        "marked ready for review (no known head to merge at)",
                    ));
                };
                client.merge(&pr, head).await?;
                return Ok((PrState::Merged, "pr_merged", "merged"));
            }
            Ok((PrState::Ready, "pr_ready", "marked ready for review"))
        }
        .await;
        let secrets = self.forges.secrets();
        let (text, action, detail) = match result {
            Ok((state, action, done)) => {
                let mut updated = pr.clone();
                updated.state = state;
                for id in [workspace_job, job.id] {
                    let u = updated.clone();
                    self.record(id, "the PR's state", |j| j.pr = Some(u)).await;
                }
                (
                    format!(
                        "{} {} {done} after <@{user}>'s {}.",
                        match state {
                            PrState::Merged => ":twisted_rightwards_arrows:",
                            PrState::Closed => ":wastebasket:",
                            _ => ":eyes:",
                        },
                        pr.link().replace("draft ", ""),
                        if approved {
                            ":white_check_mark:"
                        } else {
                            ":x:"
                        }
                    ),
                    action,
                    pr.url.clone(),
                )
            }
            Err::<_, forge::ForgeError>(e) => {
                let message = forge::redact(&e.to_string(), &secrets);
                let what = if !approved {
                    "close"
                } else if merge {
                    "merge"
                } else {
                    "mark ready for review"
                };
                (
                    format!(
                        ":warning: Could not {what} {}: {}",
                        pr.link().replace("draft ", ""),
                        mrkdwn::escape(&message)
                    ),
                    "pr_action_failed",
                    format!("{what} {}: {message}", pr.url),
                )
            }
        };
        tracing::info!(job = job.id, agent = %job.agent, action, pr = %pr.url, "PR verdict handled");
        let _ = self.audit(AuditRecord {
            job: Some(job.id),
            prompt_version: job.prompt_version.clone(),
            detail: Some(detail),
            ..AuditRecord::new(action, user, &job.agent)
        });
        self.say(&job.channel, &job.thread_ts, &text).await;
    }
}
