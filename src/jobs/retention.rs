//! Nothing grows without bound: transcripts past `[jobs] transcript_days` are dropped, and a
//! finished thread's workspace (its checkout and the CLI's state) is removed after `[jobs]
//! workspace_days`, or once the PR the bot opened from it is merged or closed; what the rest
//! take is measured for `/metrics`, and past `[jobs] disk_budget_mb` new jobs are refused.
//! The decisions are pure (`expired_workspaces`, `transcripts_expired`); the sweep does the
//! I/O.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::Jobs;
use crate::forge::PrState;
use crate::job::{Job, JobId, JobState};

/// The workspaces (by the job that made them) that may go: every job working there has
/// finished, and either the last finished more than `days` ago or a PR the bot opened from it
/// is merged or closed. `days == 0` keeps them all.
pub fn expired_workspaces(jobs: &[Job], days: u32, now: DateTime<Utc>) -> Vec<JobId> {
    if days == 0 {
        return vec![];
    }
    let cutoff = now - chrono::Duration::days(i64::from(days));
    // Workspace → (all finished, last finish, PR done).
    let mut places: BTreeMap<JobId, (bool, Option<DateTime<Utc>>, bool)> = BTreeMap::new();
    for job in jobs {
        let place = places
            .entry(job.workspace_job.unwrap_or(job.id))
            .or_insert((true, None, false));
        let finished = !matches!(job.state, JobState::Queued | JobState::Running);
        place.0 &= finished && job.finished_at.is_some();
        place.1 = place.1.max(job.finished_at);
        place.2 |= job
            .pr
            .as_ref()
            .is_some_and(|pr| matches!(pr.state, PrState::Merged | PrState::Closed));
    }
    places
        .into_iter()
        .filter(|(_, (finished, last, pr_done))| {
            *finished && (*pr_done || last.is_some_and(|l| l < cutoff))
        })
        .map(|(id, _)| id)
        .collect()
}

/// What a sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Folders removed (a workspace and its git folder count as two).
    pub removed: usize,
    pub bytes_left: u64,
}

impl Jobs {
    /// Removes the workspaces that may go and measures what is left (the `workspace_bytes`
    /// gauge and the disk budget read it).
    pub async fn sweep_workspaces(&self) -> Swept {
        let jobs = match self.store.jobs() {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "workspaces: cannot read the jobs; nothing removed");
                return Swept::default();
            }
        };
        // Transcripts past `[jobs] transcript_days` go too (not only at start).
        let old =
            super::recover::transcripts_expired(&jobs, self.settings.transcript_days, Utc::now());
        if let Err(e) = self.store.drop_transcripts(&old) {
            tracing::warn!(error = %e, "cannot drop expired transcripts");
        }
        let expired = expired_workspaces(&jobs, self.settings.workspace_days, Utc::now());
        let root = self.settings.workdir.clone();
        // The work tree and, beside it, its git folder (`forge::git::Checkout::beside`).
        let dirs: Vec<_> = expired
            .iter()
            .flat_map(|id| {
                let tree = super::plan::workspace_dir(&root, *id);
                let git = root.join(format!("job-{id}.git"));
                [tree, git]
            })
            .collect();
        let swept = tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            for path in &dirs {
                match remove_tree(path) {
                    Ok(true) => removed += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "workspaces: cannot remove an expired workspace")
                    }
                }
            }
            let bytes_left = if root.exists() {
                crate::runtime::hostfs::disk_usage(&root, u64::MAX).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "workspaces: cannot measure the jobs folder");
                    0
                })
            } else {
                0
            };
            Swept {
                removed,
                bytes_left,
            }
        })
        .await
        .unwrap_or_default();
        if swept.removed > 0 {
            tracing::info!(
                removed = swept.removed,
                "workspaces: removed those of finished threads"
            );
        }
        self.workspace_bytes
            .store(swept.bytes_left, Ordering::Relaxed);
        self.metrics
            .workspace_bytes
            .set(i64::try_from(swept.bytes_left).unwrap_or(i64::MAX));
        swept
    }

    /// `(used, budget)` in megabytes when the workspaces are past `[jobs] disk_budget_mb`.
    pub fn over_disk_budget(&self) -> Option<(u64, u64)> {
        let budget = self.settings.disk_budget_mb;
        let used = self.workspace_bytes.load(Ordering::Relaxed) / (1024 * 1024);
        (budget > 0 && used >= budget).then_some((used, budget))
    }
}

/// Removes a tree the sandbox wrote: whatever modes the run left (an unreadable folder would
/// stop `remove_dir_all`) are opened up first, links are removed, never followed. `false` when
/// it was not there.
fn remove_tree(path: &std::path::Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => {
            std::fs::remove_file(path)?;
            return Ok(true);
        }
        Ok(_) => {}
    }
    // Best effort: a folder the run made unreadable must be opened before it can be emptied.
    let _ = crate::runtime::hostfs::set_modes(path, 0o700, 0o600);
    std::fs::remove_dir_all(path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: JobId, workspace: Option<JobId>, state: JobState, days_ago: Option<i64>) -> Job {
        let mut j = crate::job::sample_job(id);
        j.workspace_job = workspace;
        j.state = state;
        j.finished_at = days_ago.map(|d| Utc::now() - chrono::Duration::days(d));
        j
    }

    #[test]
    fn a_thread_goes_when_all_its_jobs_ended_long_enough_ago_or_its_pr_is_done() {
        let now = Utc::now();
        let jobs = vec![
            // Thread of job 1: its follow-up (3) ended recently.
            job(1, None, JobState::Succeeded, Some(30)),
            job(3, Some(1), JobState::Succeeded, Some(2)),
            // Thread of job 2: all old.
            job(2, None, JobState::Failed, Some(20)),
            job(4, Some(2), JobState::Succeeded, Some(15)),
            // Thread of job 5: old, but a follow-up is running.
            job(5, None, JobState::Succeeded, Some(40)),
            job(6, Some(5), JobState::Running, None),
        ];
        assert_eq!(expired_workspaces(&jobs, 14, now), vec![2]);
        assert_eq!(expired_workspaces(&jobs, 0, now), Vec::<JobId>::new());
        // A merged PR lets a recent thread go too.
        let mut merged = jobs.clone();
        merged[1].pr = Some(crate::forge::PullRequest {
            host: "main".into(),
            kind: crate::forge::ForgeKind::Github,
            repo: "acme/web".into(),
            number: 7,
            url: "https://example.com/pr/7".into(),
            branch: "threadwork/job-1".into(),
            base: "main".into(),
            title: "t".into(),
            node_id: None,
            state: PrState::Merged,
            opened_by_agent: None,
        });
        assert_eq!(expired_workspaces(&merged, 14, now), vec![1, 2]);
    }

    #[test]
    fn unreadable_folders_and_links_are_removed_without_following() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep.txt"), "x").unwrap();
        let ws = root.path().join("job-1");
        std::fs::create_dir_all(ws.join("locked/deep")).unwrap();
        std::fs::write(ws.join("locked/deep/f"), "y").unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.join("link")).unwrap();
        std::fs::set_permissions(ws.join("locked"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        assert!(remove_tree(&ws).unwrap());
        assert!(!ws.exists());
        assert!(
            outside.path().join("keep.txt").exists(),
            "a link was followed"
        );
        assert!(!remove_tree(&ws).unwrap());
    }
}
