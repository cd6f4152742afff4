//! Nothing grows without bound: transcripts past `[jobs] transcript_days` are dropped, and a
//! finished thread's workspace (its checkout and the CLI's state) is removed after `[jobs]
//! workspace_days`, or once the PR the bot opened from it is merged or closed; what the
//! workspaces take is measured for `/metrics`, and past `[jobs] disk_budget_mb` new jobs are
//! refused. The decisions are pure (`expired_workspaces`, `transcripts_expired`); the sweep
//! does the I/O.
//!
//! A workspace leaves in two steps: under the run queue's lock, and only while no job of its
//! thread waits or runs, it is renamed into `<workdir>/.trash` (so a follow-up accepted later
//! finds none and starts a new one); then the trash is deleted, with nothing running in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

use super::Jobs;
use crate::forge::PrState;
use crate::job::{Job, JobId, JobState};

/// Jobs whose transcripts are past the retention (finished more than `days` ago).
pub fn transcripts_expired(jobs: &[Job], days: u32, now: chrono::DateTime<Utc>) -> Vec<JobId> {
    if days == 0 {
        return vec![];
    }
    // Days past the calendar's end keep everything.
    let Some(cutoff) = now.checked_sub_signed(chrono::Duration::days(i64::from(days))) else {
        return vec![];
    };
    jobs.iter()
        .filter(|j| j.finished_at.is_some_and(|f| f < cutoff))
        .map(|j| j.id)
        .collect()
}

/// A thread whose workspaces may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub channel: String,
    pub thread: String,
    /// The workspaces its jobs worked in (by the job that made each; normally one).
    pub workspaces: Vec<JobId>,
}

/// The threads whose workspaces may go: every job of the thread has ended, and either the PR
/// the bot last opened or updated there is merged or closed, or it has none open and its last
/// job ended more than `days` ago. A thread with an open PR keeps its workspace (a follow-up
/// pushes to that PR's branch). `days == 0` keeps them all.
pub fn expired_workspaces(jobs: &[Job], days: u32, now: DateTime<Utc>) -> Vec<Expired> {
    if days == 0 {
        return vec![];
    }
    let cutoff = now.checked_sub_signed(chrono::Duration::days(i64::from(days)));
    struct Thread<'a> {
        ended: bool,
        last: Option<DateTime<Utc>>,
        /// The PR on the thread's latest job that has one.
        pr: Option<(JobId, &'a crate::forge::PullRequest)>,
        workspaces: Vec<JobId>,
    }
    let mut threads: BTreeMap<(&str, &str), Thread> = BTreeMap::new();
    for job in jobs {
        let t = threads
            .entry((job.channel.as_str(), job.thread_ts.as_str()))
            .or_insert(Thread {
                ended: true,
                last: None,
                pr: None,
                workspaces: vec![],
            });
        t.ended &=
            !matches!(job.state, JobState::Queued | JobState::Running) && job.finished_at.is_some();
        t.last = t.last.max(job.finished_at);
        if let Some(pr) = &job.pr {
            if t.pr.is_none_or(|(id, _)| id < job.id) {
                t.pr = Some((job.id, pr));
            }
        }
        let w = job.workspace_job.unwrap_or(job.id);
        if !t.workspaces.contains(&w) {
            t.workspaces.push(w);
        }
    }
    threads
        .into_iter()
        .filter(|(_, t)| {
            let pr_state = t.pr.map(|(_, pr)| pr.state);
            let pr_done = matches!(pr_state, Some(PrState::Merged | PrState::Closed));
            let pr_open = matches!(pr_state, Some(PrState::Draft | PrState::Ready));
            let old = match (t.last, cutoff) {
                (Some(last), Some(cutoff)) => last < cutoff,
                _ => false,
            };
            t.ended && (pr_done || (old && !pr_open))
        })
        .map(|((channel, thread), t)| Expired {
            channel: channel.to_string(),
            thread: thread.to_string(),
            workspaces: t.workspaces,
        })
        .collect()
}

/// What a sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Workspaces taken away (each with its git folder).
    pub removed: usize,
    /// Bytes the workspaces take now; one the bot cannot read counts as its whole disk limit.
    pub bytes_left: u64,
}

/// The trash folder under the jobs folder.
const TRASH: &str = ".trash";

impl Jobs {
    /// Drops expired transcripts, takes away the workspaces that may go, and measures the rest
    /// (the `workspace_bytes` gauge and the disk budget read it).
    pub async fn sweep_workspaces(&self) -> Swept {
        let store = self.store.clone();
        let (transcript_days, workspace_days) =
            (self.settings.transcript_days, self.settings.workspace_days);
        let read = tokio::task::spawn_blocking(move || {
            let jobs = store.jobs()?;
            // Transcripts past `[jobs] transcript_days` go too.
            let old = transcripts_expired(&jobs, transcript_days, Utc::now());
            if let Err(e) = store.drop_transcripts(&old) {
                tracing::warn!(error = %e, "cannot drop expired transcripts");
            }
            Ok::<_, crate::store::StoreError>(expired_workspaces(&jobs, workspace_days, Utc::now()))
        })
        .await;
        let expired = match read {
            Ok(Ok(expired)) => expired,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "workspaces: cannot read the jobs; nothing removed");
                vec![]
            }
            Err(e) => {
                tracing::warn!(error = %e, "workspaces: the sweep failed");
                vec![]
            }
        };
        let root = self.settings.workdir.clone();
        let mut removed = 0;
        for thread in &expired {
            // Under the queue's lock: no job of the thread can be accepted meanwhile, and one
            // accepted after finds no workspace.
            let queue = self.queue.lock().expect("queue lock");
            if queue.thread_active(&thread.channel, &thread.thread) {
                continue;
            }
            for id in &thread.workspaces {
                match to_trash(&root, *id) {
                    Ok(true) => removed += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(workspace = id, error = %e, "workspaces: cannot move an expired workspace away")
                    }
                }
            }
            drop(queue);
        }
        let limit = self
            .settings
            .sandbox
            .defaults
            .disk_mb
            .unwrap_or(crate::runtime::policy::DEFAULT_DISK_MB)
            * 1024
            * 1024;
        let stop = self.sweep_stop.clone();
        let measured = tokio::task::spawn_blocking(move || {
            empty_trash(&root, &stop);
            measure(&root, limit, &stop)
        })
        .await;
        let bytes_left = match measured {
            Ok(Some(bytes)) => bytes,
            // Nothing measured: the last figure stands (never 0, which would lift the budget).
            _ => self.workspace_bytes.load(Ordering::Relaxed),
        };
        if removed > 0 {
            tracing::info!(removed, "workspaces: removed those of finished threads");
        }
        self.workspace_bytes.store(bytes_left, Ordering::Relaxed);
        self.metrics
            .workspace_bytes
            .set(i64::try_from(bytes_left).unwrap_or(i64::MAX));
        Swept {
            removed,
            bytes_left,
        }
    }

    /// A sweep under way stops walking folders (the bot is stopping: its runtime would wait
    /// for the walk).
    pub fn stop_sweeps(&self) {
        self.sweep_stop.store(true, Ordering::Relaxed);
    }

    /// `(used, budget)` in megabytes when the workspaces are past `[jobs] disk_budget_mb`.
    pub fn over_disk_budget(&self) -> Option<(u64, u64)> {
        let budget = self.settings.disk_budget_mb;
        let used = self.workspace_bytes.load(Ordering::Relaxed) / (1024 * 1024);
        (budget > 0 && used >= budget).then_some((used, budget))
    }
}

/// Renames workspace `id` and its git folder into the trash; `true` when there was one.
fn to_trash(root: &Path, id: JobId) -> std::io::Result<bool> {
    let tree = super::plan::workspace_dir(root, id);
    let git = root.join(format!("job-{id}.git"));
    let trash = root.join(TRASH);
    let stamp = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let mut any = false;
    for path in [tree, git] {
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        crate::runtime::hostfs::ensure_dir(root, Path::new(TRASH))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let to = trash.join(format!("{}-{stamp}", name.unwrap_or_default()));
        std::fs::rename(&path, to)?;
        any = true;
    }
    Ok(any)
}

/// Deletes what the trash holds (also what an earlier sweep could not delete), until `stop`.
fn empty_trash(root: &Path, stop: &AtomicBool) {
    let Ok(entries) = std::fs::read_dir(root.join(TRASH)) else {
        return;
    };
    for entry in entries.flatten() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let path = entry.path();
        if let Err(e) = remove_tree(&path) {
            tracing::warn!(path = %path.display(), error = %e, "workspaces: cannot delete a removed workspace; it stays in the trash and counts");
        }
    }
}

/// What the folders under `root` take. Each top-level folder is measured on its own, up to
/// `limit` (a workspace's disk limit), and one the bot cannot read counts as `limit` (a run can
/// make its folders unreadable; that must not make the workspaces look empty). `None` when
/// `root` cannot be listed, or `stop` came first (the bot is stopping).
pub fn measure(root: &Path, limit: u64, stop: &AtomicBool) -> Option<u64> {
    if !root.exists() {
        return Some(0);
    }
    let entries = std::fs::read_dir(root).ok()?;
    let mut total: u64 = 0;
    for entry in entries.flatten() {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let path: PathBuf = entry.path();
        let bytes = match entry.file_type() {
            Ok(t) if t.is_dir() => crate::runtime::hostfs::disk_usage(&path, limit)
                .map(|b| b.min(limit))
                .unwrap_or_else(|e| {
                    tracing::debug!(path = %path.display(), error = %e, "workspaces: a folder cannot be measured; counted at its limit");
                    limit
                }),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => limit,
        };
        total = total.saturating_add(bytes);
    }
    Some(total)
}

/// Removes a tree nothing runs in any more: whatever modes the run left (an unreadable folder
/// would stop `remove_dir_all`) are opened up first; links are removed, never followed.
fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return std::fs::remove_file(path),
        Ok(_) => {}
    }
    // Best effort: a folder the run made unreadable must be opened before it can be emptied.
    let _ = crate::runtime::hostfs::set_modes(path, 0o700, 0o600);
    std::fs::remove_dir_all(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: JobId, thread: &str, state: JobState, days_ago: Option<i64>) -> Job {
        let mut j = crate::job::sample_job(id);
        j.thread_ts = thread.into();
        j.state = state;
        j.finished_at = days_ago.map(|d| Utc::now() - chrono::Duration::days(d));
        j
    }

    fn pr(state: PrState) -> crate::forge::PullRequest {
        crate::forge::PullRequest {
            host: "main".into(),
            kind: crate::forge::ForgeKind::Github,
            repo: "acme/web".into(),
            number: 7,
            url: "https://example.com/pr/7".into(),
            branch: "threadwork/job-1".into(),
            base: "main".into(),
            title: "t".into(),
            node_id: None,
            state,
            opened_by_agent: None,
        }
    }

    fn threads(expired: &[Expired]) -> Vec<&str> {
        expired.iter().map(|e| e.thread.as_str()).collect()
    }

    #[test]
    fn a_thread_goes_when_all_its_jobs_ended_long_enough_ago_or_its_pr_is_done() {
        let now = Utc::now();
        let mut jobs = vec![
            // Thread a: its follow-up (3) ended recently.
            job(1, "a", JobState::Succeeded, Some(30)),
            job(3, "a", JobState::Succeeded, Some(2)),
            // Thread b: all old.
            job(2, "b", JobState::Failed, Some(20)),
            job(4, "b", JobState::Succeeded, Some(15)),
            // Thread c: old, but a follow-up is queued (not even planned: no workspace yet).
            job(5, "c", JobState::Succeeded, Some(40)),
            job(6, "c", JobState::Queued, None),
        ];
        jobs[1].workspace_job = Some(1);
        jobs[3].workspace_job = Some(2);
        let expired = expired_workspaces(&jobs, 14, now);
        assert_eq!(threads(&expired), vec!["b"]);
        assert_eq!(expired[0].workspaces, vec![2]);
        assert!(expired_workspaces(&jobs, 0, now).is_empty());
        // A huge number of days keeps everything and does not overflow.
        assert!(expired_workspaces(&jobs, u32::MAX, now).is_empty());

        // A merged PR on the thread's latest PR lets a recent thread go too.
        let mut merged = jobs.clone();
        merged[1].pr = Some(pr(PrState::Merged));
        assert_eq!(
            threads(&expired_workspaces(&merged, 14, now)),
            vec!["a", "b"]
        );
        // A later job's open PR is what counts, not an earlier closed one.
        merged[0].pr = Some(pr(PrState::Closed));
        merged[1].pr = Some(pr(PrState::Ready));
        assert_eq!(threads(&expired_workspaces(&merged, 14, now)), vec!["b"]);
        // An open PR keeps an old thread's workspace: a follow-up pushes to its branch.
        let mut open = jobs.clone();
        open[3].pr = Some(pr(PrState::Draft));
        assert!(expired_workspaces(&open, 14, now).is_empty());
    }

    #[test]
    fn unreadable_folders_and_links_are_removed_without_following() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep.txt"), "x").unwrap();
        std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ws = root.path().join("job-1");
        std::fs::create_dir_all(ws.join("locked/deep")).unwrap();
        std::fs::write(ws.join("locked/deep/f"), "y").unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.join("link")).unwrap();
        std::fs::set_permissions(ws.join("locked"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        // The git folder is a link the run planted: the link goes, not what it points at.
        std::os::unix::fs::symlink(outside.path(), root.path().join("job-1.git")).unwrap();
        assert!(to_trash(root.path(), 1).unwrap());
        assert!(!ws.exists());
        empty_trash(root.path(), &AtomicBool::new(false));
        assert_eq!(
            std::fs::read_dir(root.path().join(TRASH)).unwrap().count(),
            0
        );
        assert!(
            outside.path().join("keep.txt").exists(),
            "a link was followed"
        );
        let mode = std::fs::metadata(outside.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "the outside folder's modes changed");
        assert!(!to_trash(root.path(), 1).unwrap());
    }

    #[test]
    fn a_folder_that_cannot_be_read_counts_at_its_limit() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("job-1")).unwrap();
        std::fs::write(root.path().join("job-1/f"), vec![0u8; 4096]).unwrap();
        let go = AtomicBool::new(false);
        let readable = measure(root.path(), 1 << 40, &go).unwrap();
        assert!((4096..1 << 20).contains(&readable), "{readable}");
        assert_eq!(measure(root.path(), 1 << 40, &AtomicBool::new(true)), None);
        // Running as root, the bot reads everything: an unreadable folder cannot be made here.
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(root.path().join("job-2/hidden")).unwrap();
        std::fs::set_permissions(
            root.path().join("job-2/hidden"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        assert!(measure(root.path(), 1 << 40, &go).unwrap() >= 1 << 40);
        std::fs::set_permissions(
            root.path().join("job-2/hidden"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
    }
}
