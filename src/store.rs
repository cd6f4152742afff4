//! Durable state: the `Store` boundary and its sled implementation.
//!
//! Trees: `events` (event ids seen), `messages` (channel+ts of messages that started or were
//! kept with a job), `jobs` (JobId → JSON), `threads` (channel+thread → latest job),
//! `bot_messages` (channel+ts of our messages → job). Every write a user could later miss is
//! flushed before we tell anyone about it.

use std::path::Path;

use crate::job::{Job, JobId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: corrupt job record {id}: {source}")]
    Corrupt {
        id: JobId,
        source: serde_json::Error,
    },
    #[error("store: {0}")]
    Encode(#[from] serde_json::Error),
}

/// What the bot keeps across restarts.
pub trait Store: Send + Sync {
    /// Records an event id; true the first time it is seen (atomic across sockets and tasks).
    fn claim_event(&self, event_id: &str) -> Result<bool, StoreError>;
    /// Records a message by channel+ts; true the first time it is seen.
    fn claim_message(&self, channel: &str, ts: &str) -> Result<bool, StoreError>;
    fn next_job_id(&self) -> Result<JobId, StoreError>;
    /// Writes the job and flushes, together with its thread index.
    fn put_job(&self, job: &Job) -> Result<(), StoreError>;
    fn job(&self, id: JobId) -> Result<Option<Job>, StoreError>;
    /// The latest job whose thread is `channel`/`thread_ts`.
    fn job_for_thread(&self, channel: &str, thread_ts: &str) -> Result<Option<JobId>, StoreError>;
    /// Remembers that our message `channel`/`ts` belongs to `job`.
    fn link_message(&self, channel: &str, ts: &str, job: JobId) -> Result<(), StoreError>;
    fn job_for_message(&self, channel: &str, ts: &str) -> Result<Option<JobId>, StoreError>;
    /// Every job, oldest first.
    fn jobs(&self) -> Result<Vec<Job>, StoreError>;
}

pub struct SledStore {
    db: sled::Db,
    events: sled::Tree,
    messages: sled::Tree,
    jobs: sled::Tree,
    threads: sled::Tree,
    bot_messages: sled::Tree,
    meta: sled::Tree,
}

impl SledStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::open(path)?;
        Ok(Self {
            events: db.open_tree("events")?,
            messages: db.open_tree("messages")?,
            jobs: db.open_tree("jobs")?,
            threads: db.open_tree("threads")?,
            bot_messages: db.open_tree("bot_messages")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    fn claim(tree: &sled::Tree, key: &[u8]) -> Result<bool, StoreError> {
        let now = chrono::Utc::now().timestamp().to_be_bytes();
        let claimed = tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(&now[..]))?
            .is_ok();
        Ok(claimed)
    }
}

fn pair_key(a: &str, b: &str) -> Vec<u8> {
    // Channel ids and ts never contain NUL, so it separates them unambiguously.
    let mut key = Vec::with_capacity(a.len() + b.len() + 1);
    key.extend_from_slice(a.as_bytes());
    key.push(0);
    key.extend_from_slice(b.as_bytes());
    key
}

fn decode_id(bytes: &[u8]) -> Option<JobId> {
    bytes.try_into().ok().map(JobId::from_be_bytes)
}

impl Store for SledStore {
    fn claim_event(&self, event_id: &str) -> Result<bool, StoreError> {
        Self::claim(&self.events, event_id.as_bytes())
    }

    fn claim_message(&self, channel: &str, ts: &str) -> Result<bool, StoreError> {
        Self::claim(&self.messages, &pair_key(channel, ts))
    }

    fn next_job_id(&self) -> Result<JobId, StoreError> {
        // A counter of our own: sled's generate_id jumps by a million after a crash, and job
        // numbers are shown to people. A crash before the job is written only skips a number.
        let next = self.meta.update_and_fetch(b"next_job_id", |old| {
            let current = old.and_then(decode_id).unwrap_or(0);
            Some((current + 1).to_be_bytes().to_vec())
        })?;
        Ok(next.as_deref().and_then(decode_id).unwrap_or(1))
    }

    fn put_job(&self, job: &Job) -> Result<(), StoreError> {
        let value = serde_json::to_vec(job)?;
        self.jobs.insert(job.id.to_be_bytes(), value)?;
        let thread = pair_key(&job.channel, &job.thread_ts);
        // The thread points at its latest job: never move it back to an older one.
        let newer = match self.threads.get(&thread)?.as_deref().and_then(decode_id) {
            Some(current) => current <= job.id,
            None => true,
        };
        if newer {
            self.threads.insert(thread, &job.id.to_be_bytes())?;
        }
        self.db.flush()?;
        Ok(())
    }

    fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        match self.jobs.get(id.to_be_bytes())? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Corrupt { id, source }),
            None => Ok(None),
        }
    }

    fn job_for_thread(&self, channel: &str, thread_ts: &str) -> Result<Option<JobId>, StoreError> {
        Ok(self
            .threads
            .get(pair_key(channel, thread_ts))?
            .as_deref()
            .and_then(decode_id))
    }

    fn link_message(&self, channel: &str, ts: &str, job: JobId) -> Result<(), StoreError> {
        self.bot_messages
            .insert(pair_key(channel, ts), &job.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    fn job_for_message(&self, channel: &str, ts: &str) -> Result<Option<JobId>, StoreError> {
        Ok(self
            .bot_messages
            .get(pair_key(channel, ts))?
            .as_deref()
            .and_then(decode_id))
    }

    fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.jobs
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                let id = decode_id(&key).unwrap_or_default();
                serde_json::from_slice(&value).map_err(|source| StoreError::Corrupt { id, source })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::sample_job;

    #[test]
    fn claims_are_first_time_only_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert!(store.claim_event("Ev1").unwrap());
            assert!(!store.claim_event("Ev1").unwrap());
            assert!(store.claim_message("C1", "1.1").unwrap());
            assert!(!store.claim_message("C1", "1.1").unwrap());
            assert!(store.claim_message("C2", "1.1").unwrap());
            let mut job = sample_job(store.next_job_id().unwrap());
            job.task = "persist me".into();
            store.put_job(&job).unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert!(!store.claim_event("Ev1").unwrap());
        let jobs = store.jobs().unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].task, "persist me");
        assert_eq!(jobs[0].id, 1);
        assert_eq!(store.next_job_id().unwrap(), 2);
    }

    #[test]
    fn thread_points_at_latest_job_and_messages_link() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let first = sample_job(5);
        let second = sample_job(6);
        store.put_job(&second).unwrap();
        store.put_job(&first).unwrap();
        assert_eq!(store.job_for_thread("C1", "1.000001").unwrap(), Some(6));
        assert_eq!(store.job_for_thread("C1", "9.9").unwrap(), None);
        store.link_message("C1", "2.2", 5).unwrap();
        assert_eq!(store.job_for_message("C1", "2.2").unwrap(), Some(5));
        assert_eq!(store.job(6).unwrap().map(|j| j.id), Some(6));
    }
}
