//! Durable state: the `Store` boundary and its sled implementation.
//!
//! Trees: `events` (event ids seen), `messages` (channel+ts of messages that started or were
//! kept with a job), `jobs` (JobId → JSON), `threads` (channel+thread → latest job),
//! `bot_messages` (channel+ts of our messages → job). Every write a user could later miss is
//! flushed before we tell anyone about it.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::amendments::Amendment;
use crate::job::{Job, JobId};

/// What one of our messages is, so a reaction on it can be routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageLink {
    /// A job's card.
    Card { job: JobId },
    /// A part of a job's result (its final answer).
    Result { job: JobId },
    /// Any other message about a job (failure notices, …).
    Notice { job: JobId },
    /// The announcement of a proposed amendment.
    Amendment { agent: String, number: u32 },
}

impl MessageLink {
    pub fn job(&self) -> Option<JobId> {
        match self {
            MessageLink::Card { job }
            | MessageLink::Result { job }
            | MessageLink::Notice { job } => Some(*job),
            MessageLink::Amendment { .. } => None,
        }
    }
}

/// One append-only audit entry: who decided what, when, about which job or amendment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    /// e.g. `result_approved`, `result_rejected`, `approval_withdrawn`, `amendment_adopted`.
    pub action: String,
    pub by: String,
    pub job: Option<JobId>,
    pub agent: String,
    pub amendment: Option<u32>,
    pub prompt_version: Option<String>,
    pub message_ts: Option<String>,
    /// What else the action concerns (a PR link, a forge's refusal).
    #[serde(default)]
    pub detail: Option<String>,
    /// The whole story of a finished job (`job_finished` records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Box<JobChain>>,
    /// Hex SHA-256 of the record before this one, exactly as stored (64 zeros for the first):
    /// set by the store, so a record changed, removed or slipped in breaks the chain
    /// (`threadwork audit --verify`). Records written before the chain existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

/// What the scheduler remembers across restarts, by key: a schedule's last instant (run or
/// skipped) and its job, a trigger key's last firing, an agent's recent runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub job: Option<JobId>,
    /// What the mark was made under (a schedule's expression and time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
}

/// What links the first record of the chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A decision written in one transaction with its audit record: both or neither.
pub enum Decided<'a> {
    Job(&'a Job),
    Amendment(&'a Amendment),
}

/// Where the audit chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// 1-based position of the record whose link does not match.
    pub position: usize,
    pub why: String,
}

/// Checks the chain over the records as stored (oldest first): each record's `prev` must be
/// the hash of the one before. Records from before the chain existed may only come first.
/// Returns how many records are chained.
pub fn verify_audit(raw: &[Vec<u8>]) -> Result<usize, BrokenLink> {
    let mut chained = 0;
    let mut before: Option<&[u8]> = None;
    for (i, bytes) in raw.iter().enumerate() {
        let broken = |why: String| BrokenLink {
            position: i + 1,
            why,
        };
        let record: AuditRecord = serde_json::from_slice(bytes)
            .map_err(|e| broken(format!("not an audit record: {e}")))?;
        match (&record.prev, chained) {
            (None, 0) => {}
            (None, _) => return Err(broken("a record without a link inside the chain".into())),
            (Some(prev), _) => {
                let expected = before.map_or_else(|| GENESIS.to_string(), hex_sha256);
                if *prev != expected {
                    return Err(broken(format!(
                        "it links to {}…, but the record before hashes to {}…",
                        &prev[..prev.len().min(12)],
                        &expected[..12]
                    )));
                }
                chained += 1;
            }
        }
        before = Some(bytes);
    }
    Ok(chained)
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Everything an operator asks about a finished job: who, where, what ran, with which prompt,
/// in which sandbox, how it ended, what it cost, and its PR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobChain {
    pub requester: String,
    pub channel: String,
    pub thread_ts: String,
    pub permalink: Option<String>,
    pub harness: String,
    pub model: Option<String>,
    pub task: String,
    pub amendments: Vec<u32>,
    pub sandbox: Option<crate::job::SandboxRecord>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub failure: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub pr: Option<String>,
    pub head: Option<String>,
    pub parent: Option<JobId>,
    /// The context-library passages the job's prompt received.
    #[serde(default)]
    pub context_passages: Vec<crate::context::PassageRef>,
    /// The schedule or trigger that started the job, when no one mentioned the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::job::Origin>,
}

/// One harness event of a job, as it arrived (secrets masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    pub at: DateTime<Utc>,
    pub event: crate::harness::HarnessEvent,
}

impl AuditRecord {
    /// A record of `action` by `by` on `agent`, now; the optional fields are set by the caller.
    pub fn new(action: &str, by: &str, agent: &str) -> Self {
        Self {
            at: Utc::now(),
            action: action.to_string(),
            by: by.to_string(),
            job: None,
            agent: agent.to_string(),
            amendment: None,
            prompt_version: None,
            message_ts: None,
            detail: None,
            chain: None,
            prev: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Why a backup could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BackupFailed {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Write(#[from] crate::backup::BackupError),
}

/// What the bot keeps across restarts.
pub trait Store: Send + Sync {
    /// Records an event id; true the first time it is seen (atomic across sockets and tasks).
    fn claim_event(&self, event_id: &str) -> Result<bool, StoreError>;
    /// Records a message by channel+ts; true the first time it is seen.
    fn claim_message(&self, channel: &str, ts: &str) -> Result<bool, StoreError>;
    /// Drops event and message claims made before `before` (Slack redelivers for about an
    /// hour; older claims only take room). Returns how many were dropped.
    fn prune_claims(&self, before: chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError>;
    fn next_job_id(&self) -> Result<JobId, StoreError>;
    /// Writes everything to disk (a graceful stop's last step).
    fn flush(&self) -> Result<(), StoreError>;
    /// Writes every record of every tree to `out` in the backup format (`crate::backup`),
    /// tree by tree in key order, while the bot goes on writing: each record is copied whole,
    /// and one written during the copy may or may not be in it. Returns the record count.
    fn backup(&self, out: &mut dyn std::io::Write) -> Result<u64, BackupFailed>;
    /// Writes the job and flushes, together with its thread index.
    fn put_job(&self, job: &Job) -> Result<(), StoreError>;
    fn job(&self, id: JobId) -> Result<Option<Job>, StoreError>;
    /// The latest job whose thread is `channel`/`thread_ts`.
    fn job_for_thread(&self, channel: &str, thread_ts: &str) -> Result<Option<JobId>, StoreError>;
    /// Remembers what our message `channel`/`ts` is.
    fn link_message(&self, channel: &str, ts: &str, link: &MessageLink) -> Result<(), StoreError>;
    fn message_link(&self, channel: &str, ts: &str) -> Result<Option<MessageLink>, StoreError>;
    /// Every job, oldest first.
    fn jobs(&self) -> Result<Vec<Job>, StoreError>;

    /// The next amendment number for `agent` (1, 2, …).
    fn next_amendment_number(&self, agent: &str) -> Result<u32, StoreError>;
    /// Writes an amendment and flushes: once this returns, it survives a crash.
    fn put_amendment(&self, amendment: &Amendment) -> Result<(), StoreError>;
    fn amendment(&self, agent: &str, number: u32) -> Result<Option<Amendment>, StoreError>;
    /// An agent's amendments in number order.
    fn amendments(&self, agent: &str) -> Result<Vec<Amendment>, StoreError>;

    /// Keeps the text of an effective prompt under its version (for `diff`).
    fn put_prompt_version(&self, version: &str, text: &str) -> Result<(), StoreError>;
    fn prompt_version(&self, version: &str) -> Result<Option<String>, StoreError>;

    /// Appends an audit record, linked to the one before (flushed); records are never
    /// rewritten.
    fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError>;
    /// Writes a decision (a job's verdict, an amendment's status), then its audit record, and
    /// flushes: a crash leaves both, neither, or the decision alone, whose record
    /// `bot::reconcile` writes at the next start.
    fn record_decision(&self, decided: Decided, record: &AuditRecord) -> Result<(), StoreError>;
    fn audit(&self) -> Result<Vec<AuditRecord>, StoreError>;
    /// The audit records exactly as stored, oldest first (for `verify_audit`).
    fn audit_raw(&self) -> Result<Vec<Vec<u8>>, StoreError>;

    /// Appends event `seq` of a job's transcript (not flushed: a transcript is a record of
    /// what happened, not a promise made to a user).
    fn append_transcript(
        &self,
        job: JobId,
        seq: u32,
        entry: &TranscriptEntry,
    ) -> Result<(), StoreError>;
    fn transcript(&self, job: JobId) -> Result<Vec<TranscriptEntry>, StoreError>;
    /// Drops the transcripts of `jobs`.
    fn drop_transcripts(&self, jobs: &[JobId]) -> Result<(), StoreError>;

    /// The mark under `key`; one that cannot be read counts as none (and is logged).
    fn mark(&self, key: &str) -> Result<Option<Mark>, StoreError>;
    /// Writes a mark and flushes: a schedule's run is not repeated after a crash.
    fn put_mark(&self, key: &str, mark: &Mark) -> Result<(), StoreError>;
    /// Every mark whose key starts with `prefix`, in key order.
    fn marks(&self, prefix: &str) -> Result<Vec<(String, Mark)>, StoreError>;
    fn drop_mark(&self, key: &str) -> Result<(), StoreError>;

    /// Records a request's overlap doc (replacing the job's earlier one).
    fn put_overlap_doc(&self, doc: &crate::overlap::Doc) -> Result<(), StoreError>;
    /// Every overlap doc; one that cannot be read is logged with its key and skipped.
    fn overlap_docs(&self) -> Result<Vec<crate::overlap::Doc>, StoreError>;
    /// Holds a request until its requester chooses (flushed: a held request survives a crash).
    fn put_held(
        &self,
        channel: &str,
        thread_ts: &str,
        held: &crate::overlap::Held,
    ) -> Result<(), StoreError>;
    fn held(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Option<crate::overlap::Held>, StoreError>;
    /// Removes and returns the held request: of two people choosing at once, one gets it.
    fn take_held(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Option<crate::overlap::Held>, StoreError>;
    /// True the first time `key` is claimed (an overlap pair told once).
    fn claim_overlap(&self, key: &str) -> Result<bool, StoreError>;

    /// Keeps an approved result as a regression case of its agent (flushed: the approver was
    /// told); one per job, a later approval of the same job replaces it.
    fn put_eval_case(&self, case: &crate::evals::ApprovedCase) -> Result<(), StoreError>;
    /// Forgets the approved case of `job` (its verdict was withdrawn or turned); flushed.
    fn drop_eval_case(&self, agent: &str, job: u64) -> Result<(), StoreError>;
    /// An agent's approved cases, oldest job first.
    fn eval_cases(&self, agent: &str) -> Result<Vec<crate::evals::ApprovedCase>, StoreError>;
    /// Records how a prompt version did on its agent's suite (the latest run replaces it).
    fn put_eval_result(&self, result: &crate::evals::VersionResult) -> Result<(), StoreError>;
    /// Every prompt version's latest result for `agent`.
    fn eval_results(&self, agent: &str) -> Result<Vec<crate::evals::VersionResult>, StoreError>;
}

pub struct SledStore {
    trees: Option<Trees>,
    /// One appender at a time: a record's link is the hash of the tree's last record.
    audit_lock: std::sync::Mutex<()>,
}

/// The open database; `Option` in `SledStore` so closing can move it to its own thread.
struct Trees {
    db: sled::Db,
    events: sled::Tree,
    messages: sled::Tree,
    jobs: sled::Tree,
    threads: sled::Tree,
    bot_messages: sled::Tree,
    meta: sled::Tree,
    amendments: sled::Tree,
    prompt_versions: sled::Tree,
    audit: sled::Tree,
    transcripts: sled::Tree,
    marks: sled::Tree,
    /// Overlap docs (`doc/<id>`), held requests (`held/<channel>\0<ts>`), pairs told (`told/…`).
    overlap: sled::Tree,
    /// Approved results kept as cases (`case/<agent>\0<job>`) and each prompt version's suite
    /// result (`result/<agent>\0<version>`).
    evals: sled::Tree,
    /// Records that could not be decoded, moved here as they were: `<tree>/<hex of key>`.
    quarantine: sled::Tree,
}

impl SledStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::open(path)?;
        Ok(Self {
            audit_lock: std::sync::Mutex::new(()),
            trees: Some(Trees {
                events: db.open_tree("events")?,
                messages: db.open_tree("messages")?,
                jobs: db.open_tree("jobs")?,
                threads: db.open_tree("threads")?,
                bot_messages: db.open_tree("bot_messages")?,
                meta: db.open_tree("meta")?,
                amendments: db.open_tree("amendments")?,
                prompt_versions: db.open_tree("prompt_versions")?,
                audit: db.open_tree("audit")?,
                transcripts: db.open_tree("transcripts")?,
                marks: db.open_tree("marks")?,
                overlap: db.open_tree("overlap")?,
                evals: db.open_tree("evals")?,
                quarantine: db.open_tree("quarantine")?,
                db,
            }),
        })
    }

    fn t(&self) -> &Trees {
        self.trees
            .as_ref()
            .expect("the store is open until dropped")
    }

    /// Writes one record of a backup (`crate::backup`) as it was; `cli::store::restore`
    /// fills a new store with them and flushes.
    pub fn restore_record(&self, r: &crate::backup::Record) -> Result<(), StoreError> {
        self.t()
            .db
            .open_tree(&r.tree)?
            .insert(&r.key[..], &r.value[..])?;
        Ok(())
    }

    /// Increments a counter in `meta` and returns the new value.
    fn bump(&self, key: &[u8]) -> Result<u64, StoreError> {
        let next = self.t().meta.update_and_fetch(key, |old| {
            let current = old.and_then(decode_id).unwrap_or(0);
            Some((current + 1).to_be_bytes().to_vec())
        })?;
        Ok(next.as_deref().and_then(decode_id).unwrap_or(1))
    }

    /// Appends `record` linked to the last record of the tree (its `prev` is that record's
    /// hash, or `GENESIS`), in one insert; the caller holds `audit_lock`.
    fn link_and_append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let t = self.t();
        let last = t.audit.last()?;
        let mut linked = record.clone();
        linked.prev = Some(match &last {
            Some((_, bytes)) => hex_sha256(bytes),
            None => GENESIS.to_string(),
        });
        let seq = last.as_ref().and_then(|(k, _)| decode_id(k)).unwrap_or(0) + 1;
        t.audit
            .insert(seq.to_be_bytes(), serde_json::to_vec(&linked)?)?;
        Ok(())
    }

    /// Decodes a record of `tree`; readers go on without one that does not decode. Bytes
    /// that are not JSON at all (cut short, garbled) are moved to the quarantine tree; a
    /// well-formed record of another shape (written by a newer version, say) stays where it
    /// is, so a rollback and an upgrade lose nothing, and is only logged.
    fn read<T: serde::de::DeserializeOwned>(
        &self,
        tree: Tree,
        key: &[u8],
        value: &[u8],
    ) -> Option<T> {
        match serde_json::from_slice(value) {
            Ok(v) => Some(v),
            Err(e) if matches!(e.classify(), serde_json::error::Category::Data) => {
                tracing::error!(tree = tree.name(), key = %hex::encode(key), error = %e, "a record of another shape (another version?) skipped and kept");
                None
            }
            Err(e) => {
                self.quarantine(tree, key, value, &e);
                None
            }
        }
    }

    /// Moves a record to `quarantine/<tree>/<hex key>/<nanos>` if it still holds `value`.
    fn quarantine(&self, tree: Tree, key: &[u8], value: &[u8], error: &dyn std::fmt::Display) {
        let t = self.t();
        let moved_key = format!(
            "{}/{}/{}",
            tree.name(),
            hex::encode(key),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let moved = (|| -> Result<bool, sled::Error> {
            t.quarantine.insert(moved_key.as_bytes(), value)?;
            // Only if it is still the same bytes: a record rewritten meanwhile stays.
            let taken = t
                .tree(tree)
                .compare_and_swap(key, Some(value), None as Option<&[u8]>)?
                .is_ok();
            if !taken {
                t.quarantine.remove(moved_key.as_bytes())?;
            }
            t.db.flush()?;
            Ok(taken)
        })();
        match moved {
            Ok(true) => {
                tracing::error!(key = %moved_key, error = %error, "unreadable record moved to the quarantine tree; going on without it")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(key = %moved_key, error = %e, "cannot move an unreadable record to quarantine; it stays and is skipped")
            }
        }
    }

    /// Every quarantined record's key (`<tree>/<hex of key>`).
    pub fn quarantined(&self) -> Result<Vec<String>, StoreError> {
        self.t()
            .quarantine
            .iter()
            .map(|entry| Ok(String::from_utf8_lossy(&entry?.0).into_owned()))
            .collect()
    }

    /// Decodes every record and checks the audit chain, changing nothing: what
    /// `threadwork store verify` prints.
    pub fn verify(&self) -> Result<Verified, StoreError> {
        let t = self.t();
        let mut out = Verified::default();
        let mut check = |tree: Tree, ok: &dyn Fn(&[u8]) -> bool| -> Result<(), StoreError> {
            let mut n = 0;
            for entry in t.tree(tree).iter() {
                let (key, value) = entry?;
                n += 1;
                if !ok(&value) {
                    out.unreadable
                        .push(format!("{}/{}", tree.name(), hex::encode(&key)));
                }
            }
            out.records.push((tree.name(), n));
            Ok(())
        };
        fn decodes<T: serde::de::DeserializeOwned>(v: &[u8]) -> bool {
            serde_json::from_slice::<T>(v).is_ok()
        }
        check(Tree::Jobs, &decodes::<Job>)?;
        check(Tree::Amendments, &decodes::<Amendment>)?;
        check(Tree::BotMessages, &decodes::<MessageLink>)?;
        check(Tree::Transcripts, &decodes::<TranscriptEntry>)?;
        check(Tree::Marks, &decodes::<Mark>)?;
        check(Tree::Audit, &decodes::<AuditRecord>)?;
        check(Tree::Overlap, &|_| true)?;
        check(Tree::Evals, &|_| true)?;
        for entry in t.evals.iter() {
            let (key, value) = entry?;
            let ok = if key.starts_with(b"case/") {
                decodes::<crate::evals::ApprovedCase>(&value)
            } else {
                key.starts_with(b"result/") && decodes::<crate::evals::VersionResult>(&value)
            };
            if !ok {
                out.unreadable.push(format!("evals/{}", hex::encode(&key)));
            }
        }
        for entry in t.overlap.iter() {
            let (key, value) = entry?;
            let ok = if key.starts_with(b"doc/") {
                decodes::<crate::overlap::Doc>(&value)
            } else if key.starts_with(b"held/") {
                decodes::<crate::overlap::Held>(&value)
            } else {
                // A pair told (`told/…`): its claim time.
                key.starts_with(b"told/") && value.len() == 8
            };
            if !ok {
                out.unreadable
                    .push(format!("overlap/{}", hex::encode(&key)));
            }
        }
        // The trees of raw values: a job id or a counter (8 bytes), a prompt's text (UTF-8),
        // a claim's time (8 bytes; a claim of an older version has none, and is only old).
        let eight = |v: &[u8]| v.len() == 8;
        let text = |v: &[u8]| std::str::from_utf8(v).is_ok();
        for (name, tree, ok) in [
            ("threads", &t.threads, &eight as &dyn Fn(&[u8]) -> bool),
            ("meta", &t.meta, &eight),
            ("prompt_versions", &t.prompt_versions, &text),
            ("events", &t.events, &|_: &[u8]| true),
            ("messages", &t.messages, &|_: &[u8]| true),
        ] {
            let mut n = 0;
            for entry in tree.iter() {
                let (key, value) = entry?;
                n += 1;
                if !ok(&value) {
                    out.unreadable.push(format!("{name}/{}", hex::encode(&key)));
                }
            }
            out.records.push((name, n));
        }
        out.audit_chain = verify_audit(&self.audit_raw()?)
            .map_err(|b| format!("record {}: {}", b.position, b.why));
        out.quarantined = self.quarantined()?;
        Ok(out)
    }

    fn claim(tree: &sled::Tree, key: &[u8]) -> Result<bool, StoreError> {
        let now = chrono::Utc::now().timestamp().to_be_bytes();
        let claimed = tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(&now[..]))?
            .is_ok();
        Ok(claimed)
    }
}

/// The trees whose records are decoded (and so can be quarantined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tree {
    Jobs,
    Amendments,
    BotMessages,
    Transcripts,
    Marks,
    Audit,
    Overlap,
    Evals,
}

impl Tree {
    fn name(self) -> &'static str {
        match self {
            Tree::Jobs => "jobs",
            Tree::Amendments => "amendments",
            Tree::BotMessages => "bot_messages",
            Tree::Transcripts => "transcripts",
            Tree::Marks => "marks",
            Tree::Audit => "audit",
            Tree::Overlap => "overlap",
            Tree::Evals => "evals",
        }
    }
}

impl Trees {
    fn tree(&self, tree: Tree) -> &sled::Tree {
        match tree {
            Tree::Jobs => &self.jobs,
            Tree::Amendments => &self.amendments,
            Tree::BotMessages => &self.bot_messages,
            Tree::Transcripts => &self.transcripts,
            Tree::Marks => &self.marks,
            Tree::Audit => &self.audit,
            Tree::Overlap => &self.overlap,
            Tree::Evals => &self.evals,
        }
    }
}

/// What `SledStore::verify` found.
#[derive(Debug)]
pub struct Verified {
    /// Records per tree.
    pub records: Vec<(&'static str, usize)>,
    /// Records that do not decode, as `<tree>/<hex of key>`.
    pub unreadable: Vec<String>,
    /// The audit chain: how many records it links, or where it breaks.
    pub audit_chain: Result<usize, String>,
    pub quarantined: Vec<String>,
}

impl Default for Verified {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            unreadable: Vec::new(),
            audit_chain: Ok(0),
            quarantined: Vec::new(),
        }
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
        Self::claim(&self.t().events, event_id.as_bytes())
    }

    fn claim_message(&self, channel: &str, ts: &str) -> Result<bool, StoreError> {
        Self::claim(&self.t().messages, &pair_key(channel, ts))
    }

    fn prune_claims(&self, before: chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError> {
        let before = before.timestamp();
        let mut dropped = 0;
        for tree in [&self.t().events, &self.t().messages] {
            for entry in tree.iter() {
                let (key, value) = entry?;
                let at = <[u8; 8]>::try_from(value.as_ref()).map(i64::from_be_bytes);
                // A claim without a readable time is old by definition.
                if at.is_ok_and(|at| at >= before) {
                    continue;
                }
                // Unless it was claimed again meanwhile.
                if tree
                    .compare_and_swap(&key, Some(value), None as Option<&[u8]>)?
                    .is_ok()
                {
                    dropped += 1;
                }
            }
        }
        Ok(dropped)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.t().db.flush()?;
        Ok(())
    }

    fn backup(&self, out: &mut dyn std::io::Write) -> Result<u64, BackupFailed> {
        let db = &self.t().db;
        let mut writer = crate::backup::Writer::new(out, chrono::Utc::now())?;
        // Records that point at jobs first, then jobs, amendments and prompt versions, and
        // the counters last: a record written while the copy runs can leave a job without its
        // thread index or transcript, never an index or a counter behind the job it names.
        let rank = |name: &[u8]| match name {
            b"jobs" => 1,
            b"amendments" => 2,
            b"prompt_versions" => 3,
            b"meta" => 4,
            _ => 0,
        };
        let mut names = db.tree_names();
        names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
        for name in names {
            let tree = db.open_tree(&name).map_err(StoreError::from)?;
            let name = String::from_utf8_lossy(&name).into_owned();
            for kv in tree.iter() {
                let (k, v) = kv.map_err(StoreError::from)?;
                writer.record(&name, &k, &v)?;
            }
        }
        Ok(writer.finish()?)
    }

    fn next_job_id(&self) -> Result<JobId, StoreError> {
        // A counter of our own: sled's generate_id jumps by a million after a crash, and job
        // numbers are shown to people. A crash before the job is written only skips a number.
        self.bump(b"next_job_id")
    }

    fn put_job(&self, job: &Job) -> Result<(), StoreError> {
        let value = serde_json::to_vec(job)?;
        self.t().jobs.insert(job.id.to_be_bytes(), value)?;
        let thread = pair_key(&job.channel, &job.thread_ts);
        // The thread points at its latest job: never move it back to an older one.
        let newer = match self
            .t()
            .threads
            .get(&thread)?
            .as_deref()
            .and_then(decode_id)
        {
            Some(current) => current <= job.id,
            None => true,
        };
        if newer {
            self.t().threads.insert(thread, &job.id.to_be_bytes())?;
        }
        self.t().db.flush()?;
        Ok(())
    }

    fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let key = id.to_be_bytes();
        Ok(match self.t().jobs.get(key)? {
            Some(bytes) => self.read(Tree::Jobs, &key, &bytes),
            None => None,
        })
    }

    fn job_for_thread(&self, channel: &str, thread_ts: &str) -> Result<Option<JobId>, StoreError> {
        Ok(self
            .t()
            .threads
            .get(pair_key(channel, thread_ts))?
            .as_deref()
            .and_then(decode_id))
    }

    fn link_message(&self, channel: &str, ts: &str, link: &MessageLink) -> Result<(), StoreError> {
        self.t()
            .bot_messages
            .insert(pair_key(channel, ts), serde_json::to_vec(link)?)?;
        self.t().db.flush()?;
        Ok(())
    }

    fn message_link(&self, channel: &str, ts: &str) -> Result<Option<MessageLink>, StoreError> {
        let key = pair_key(channel, ts);
        Ok(match self.t().bot_messages.get(&key)? {
            Some(bytes) => self.read(Tree::BotMessages, &key, &bytes),
            None => None,
        })
    }

    fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t().jobs.iter() {
            let (key, value) = entry?;
            out.extend(self.read(Tree::Jobs, &key, &value));
        }
        Ok(out)
    }

    fn next_amendment_number(&self, agent: &str) -> Result<u32, StoreError> {
        let n = self.bump(&pair_key("amendment", agent))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn put_amendment(&self, a: &Amendment) -> Result<(), StoreError> {
        self.t()
            .amendments
            .insert(amendment_key(&a.agent, a.number), serde_json::to_vec(a)?)?;
        self.t().db.flush()?;
        Ok(())
    }

    fn amendment(&self, agent: &str, number: u32) -> Result<Option<Amendment>, StoreError> {
        let key = amendment_key(agent, number);
        Ok(match self.t().amendments.get(&key)? {
            Some(bytes) => self.read(Tree::Amendments, &key, &bytes),
            None => None,
        })
    }

    fn amendments(&self, agent: &str) -> Result<Vec<Amendment>, StoreError> {
        let mut prefix = agent.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for entry in self.t().amendments.scan_prefix(prefix) {
            let (key, value) = entry?;
            out.extend(self.read(Tree::Amendments, &key, &value));
        }
        Ok(out)
    }

    fn put_prompt_version(&self, version: &str, text: &str) -> Result<(), StoreError> {
        if !self.t().prompt_versions.contains_key(version)? {
            self.t().prompt_versions.insert(version, text.as_bytes())?;
            self.t().db.flush()?;
        }
        Ok(())
    }

    fn prompt_version(&self, version: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .t()
            .prompt_versions
            .get(version)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let _one = self.audit_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.link_and_append(record)?;
        self.t().db.flush()?;
        Ok(())
    }

    fn record_decision(&self, decided: Decided, record: &AuditRecord) -> Result<(), StoreError> {
        // No sled transaction (they can hang beside concurrent flushes under load): the
        // decision, then its record, then one flush. sled recovers a prefix of its log, so a
        // crash keeps both, neither, or the decision alone — never a record of a decision
        // that was not stored.
        let _one = self.audit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let t = self.t();
        match decided {
            Decided::Job(job) => {
                t.jobs
                    .insert(job.id.to_be_bytes(), serde_json::to_vec(job)?)?;
            }
            Decided::Amendment(a) => {
                t.amendments
                    .insert(amendment_key(&a.agent, a.number), serde_json::to_vec(a)?)?;
            }
        }
        self.link_and_append(record)?;
        t.db.flush()?;
        Ok(())
    }

    fn audit_raw(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.t()
            .audit
            .iter()
            .map(|entry| Ok(entry?.1.to_vec()))
            .collect()
    }

    fn audit(&self) -> Result<Vec<AuditRecord>, StoreError> {
        // Audit records are never moved or rewritten (that would hide a change from the
        // chain): an unreadable one is skipped here and reported by `audit --verify` and
        // `store verify`.
        let mut out = Vec::new();
        for entry in self.t().audit.iter() {
            let (key, value) = entry?;
            match serde_json::from_slice(&value) {
                Ok(record) => out.push(record),
                Err(e) => {
                    tracing::error!(key = %hex::encode(&key), error = %e, "unreadable audit record skipped")
                }
            }
        }
        Ok(out)
    }

    fn append_transcript(
        &self,
        job: JobId,
        seq: u32,
        entry: &TranscriptEntry,
    ) -> Result<(), StoreError> {
        let mut key = job.to_be_bytes().to_vec();
        key.extend_from_slice(&seq.to_be_bytes());
        self.t()
            .transcripts
            .insert(key, serde_json::to_vec(entry)?)?;
        Ok(())
    }

    fn transcript(&self, job: JobId) -> Result<Vec<TranscriptEntry>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t().transcripts.scan_prefix(job.to_be_bytes()) {
            let (key, value) = entry?;
            out.extend(self.read(Tree::Transcripts, &key, &value));
        }
        Ok(out)
    }

    fn drop_transcripts(&self, jobs: &[JobId]) -> Result<(), StoreError> {
        let t = &self.t().transcripts;
        for job in jobs {
            let keys: Vec<sled::IVec> = t
                .scan_prefix(job.to_be_bytes())
                .keys()
                .collect::<Result<_, _>>()?;
            for k in keys {
                t.remove(k)?;
            }
        }
        Ok(())
    }

    fn mark(&self, key: &str) -> Result<Option<Mark>, StoreError> {
        let Some(bytes) = self.t().marks.get(key.as_bytes())? else {
            return Ok(None);
        };
        // An unreadable mark counts as none: that schedule starts afresh.
        Ok(self.read(Tree::Marks, key.as_bytes(), &bytes))
    }

    fn put_mark(&self, key: &str, mark: &Mark) -> Result<(), StoreError> {
        self.t()
            .marks
            .insert(key.as_bytes(), serde_json::to_vec(mark)?)?;
        self.t().db.flush()?;
        Ok(())
    }

    fn marks(&self, prefix: &str) -> Result<Vec<(String, Mark)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t().marks.scan_prefix(prefix.as_bytes()) {
            let (key, value) = entry?;
            let key = String::from_utf8_lossy(&key).into_owned();
            match serde_json::from_slice(&value) {
                Ok(mark) => out.push((key, mark)),
                Err(e) => tracing::error!(%key, error = %e, "unreadable schedule mark skipped"),
            }
        }
        Ok(out)
    }

    fn drop_mark(&self, key: &str) -> Result<(), StoreError> {
        self.t().marks.remove(key.as_bytes())?;
        Ok(())
    }

    fn put_eval_case(&self, case: &crate::evals::ApprovedCase) -> Result<(), StoreError> {
        let mut key = eval_key("case", &case.agent);
        key.extend_from_slice(&case.job.to_be_bytes());
        self.t().evals.insert(key, serde_json::to_vec(case)?)?;
        self.t().db.flush()?;
        Ok(())
    }

    fn drop_eval_case(&self, agent: &str, job: u64) -> Result<(), StoreError> {
        let mut key = eval_key("case", agent);
        key.extend_from_slice(&job.to_be_bytes());
        if self.t().evals.remove(key)?.is_some() {
            self.t().db.flush()?;
        }
        Ok(())
    }

    fn eval_cases(&self, agent: &str) -> Result<Vec<crate::evals::ApprovedCase>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t().evals.scan_prefix(eval_key("case", agent)) {
            let (key, value) = entry?;
            out.extend(self.read(Tree::Evals, &key, &value));
        }
        Ok(out)
    }

    fn put_eval_result(&self, result: &crate::evals::VersionResult) -> Result<(), StoreError> {
        let mut key = eval_key("result", &result.agent);
        key.extend_from_slice(result.version.as_bytes());
        self.t().evals.insert(key, serde_json::to_vec(result)?)?;
        Ok(())
    }

    fn eval_results(&self, agent: &str) -> Result<Vec<crate::evals::VersionResult>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t().evals.scan_prefix(eval_key("result", agent)) {
            let (key, value) = entry?;
            out.extend(self.read(Tree::Evals, &key, &value));
        }
        Ok(out)
    }

    fn put_overlap_doc(&self, doc: &crate::overlap::Doc) -> Result<(), StoreError> {
        let mut key = b"doc/".to_vec();
        key.extend_from_slice(&doc.job.to_be_bytes());
        self.t().overlap.insert(key, serde_json::to_vec(doc)?)?;
        Ok(())
    }

    fn overlap_docs(&self) -> Result<Vec<crate::overlap::Doc>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t().overlap.scan_prefix(b"doc/") {
            let (key, value) = entry?;
            out.extend(self.read(Tree::Overlap, &key, &value));
        }
        Ok(out)
    }

    fn put_held(
        &self,
        channel: &str,
        thread_ts: &str,
        held: &crate::overlap::Held,
    ) -> Result<(), StoreError> {
        self.t()
            .overlap
            .insert(held_key(channel, thread_ts), serde_json::to_vec(held)?)?;
        self.t().db.flush()?;
        Ok(())
    }

    fn held(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Option<crate::overlap::Held>, StoreError> {
        let key = held_key(channel, thread_ts);
        let Some(bytes) = self.t().overlap.get(&key)? else {
            return Ok(None);
        };
        Ok(self.read(Tree::Overlap, &key, &bytes))
    }

    fn take_held(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Option<crate::overlap::Held>, StoreError> {
        let Some(bytes) = self.t().overlap.remove(held_key(channel, thread_ts))? else {
            return Ok(None);
        };
        self.t().db.flush()?;
        Ok(decode_held(channel, thread_ts, &bytes))
    }

    fn claim_overlap(&self, key: &str) -> Result<bool, StoreError> {
        let claimed = Self::claim(&self.t().overlap, format!("told/{key}").as_bytes())?;
        self.t().db.flush()?;
        Ok(claimed)
    }
}

fn held_key(channel: &str, thread_ts: &str) -> Vec<u8> {
    let mut key = b"held/".to_vec();
    key.extend(pair_key(channel, thread_ts));
    key
}

/// `<kind>/<agent>\0`: an agent's records of one kind, found by prefix (an agent's name has
/// no NUL, so one agent's prefix never covers another's).
fn eval_key(kind: &str, agent: &str) -> Vec<u8> {
    format!("{kind}/{agent}\0").into_bytes()
}

fn decode_held(channel: &str, thread_ts: &str, bytes: &[u8]) -> Option<crate::overlap::Held> {
    match serde_json::from_slice(bytes) {
        Ok(held) => Some(held),
        Err(e) => {
            tracing::error!(%channel, %thread_ts, error = %e, "unreadable held request dropped");
            None
        }
    }
}

/// Amendments sort by agent, then number (big-endian keeps numeric order).
fn amendment_key(agent: &str, number: u32) -> Vec<u8> {
    let mut key = agent.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&number.to_be_bytes());
    key
}

/// sled flushes when its last handle drops, and that flush can deadlock when it runs while a
/// tokio runtime shuts down (seen in our tests; sled 0.34's known flush deadlocks). Every write
/// that must survive was flushed when it was made, so the store closes on a thread of its own
/// and is waited for a few seconds at most; a close that hangs is then like a crash, which
/// sled recovers from.
impl Drop for SledStore {
    fn drop(&mut self) {
        let Some(trees) = self.trees.take() else {
            return;
        };
        let (done, closed) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("store-close".into())
            .spawn(move || {
                drop(trees);
                let _ = done.send(());
            });
        if spawned.is_ok()
            && closed
                .recv_timeout(std::time::Duration::from_secs(5))
                .is_err()
        {
            tracing::warn!(
                "the store did not close within 5 s; its writes were flushed as they were made"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::sample_job;

    #[test]
    fn an_unreadable_record_is_quarantined_and_readers_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for id in 1..=3 {
            store.put_job(&sample_job(id)).unwrap();
        }
        store
            .t()
            .jobs
            .insert(2u64.to_be_bytes(), &b"{half a rec"[..])
            .unwrap();
        store
            .t()
            .audit
            .insert(9u64.to_be_bytes(), &b"garbage"[..])
            .unwrap();
        // `verify` reports without moving anything.
        let found = store.verify().unwrap();
        assert_eq!(
            found.unreadable,
            vec!["jobs/0000000000000002", "audit/0000000000000009"]
        );
        assert!(found.quarantined.is_empty());
        // Readers skip it and move it aside, bytes kept.
        let ids: Vec<JobId> = store.jobs().unwrap().iter().map(|j| j.id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert!(store.job(2).unwrap().is_none());
        let moved = store.quarantined().unwrap();
        assert_eq!(moved.len(), 1);
        assert!(moved[0].starts_with("jobs/0000000000000002/"), "{moved:?}");
        assert_eq!(
            store.t().quarantine.get(&moved[0]).unwrap().as_deref(),
            Some(&b"{half a rec"[..])
        );
        // An audit record is never moved: skipped, and still reported.
        assert!(store.audit().unwrap().is_empty());
        let found = store.verify().unwrap();
        assert_eq!(found.unreadable, vec!["audit/0000000000000009"]);
        assert_eq!(found.quarantined, moved);
        // A job written again under the same id is read as usual.
        store.put_job(&sample_job(2)).unwrap();
        assert!(store.job(2).unwrap().is_some());
        // Well-formed JSON of another shape (a newer version's) is skipped but kept.
        store
            .t()
            .jobs
            .insert(7u64.to_be_bytes(), &br#"{"id": 7, "state": "someday"}"#[..])
            .unwrap();
        assert_eq!(store.jobs().unwrap().len(), 3);
        assert!(store.t().jobs.get(7u64.to_be_bytes()).unwrap().is_some());
        assert_eq!(store.quarantined().unwrap().len(), 1);
    }

    #[test]
    fn verify_reads_the_trees_of_raw_values_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.put_job(&sample_job(1)).unwrap();
        store.put_prompt_version("v1", "You help.").unwrap();
        assert!(store.claim_event("Ev1").unwrap());
        let found = store.verify().unwrap();
        assert!(found.unreadable.is_empty(), "{:?}", found.unreadable);
        for tree in ["threads", "meta", "prompt_versions", "events", "messages"] {
            assert!(found.records.iter().any(|(t, _)| *t == tree), "{tree}");
        }
        store.t().threads.insert(b"C1/1.2", &b"xyz"[..]).unwrap();
        store.t().meta.insert(b"next_job_id", &b"1"[..]).unwrap();
        store
            .t()
            .prompt_versions
            .insert(b"v2", &[0xff, 0xfe][..])
            .unwrap();
        let found = store.verify().unwrap();
        assert_eq!(
            found.unreadable,
            vec![
                format!("threads/{}", hex::encode(b"C1/1.2")),
                format!("meta/{}", hex::encode(b"next_job_id")),
                format!("prompt_versions/{}", hex::encode(b"v2")),
            ]
        );
    }

    // Guards: the audit log is a hash chain, so a record changed, removed or inserted is
    // found by `verify_audit`, and a decision is stored together with its record.
    #[test]
    fn the_audit_log_is_a_chain_that_shows_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        // Records from before the chain existed, as an older version wrote them.
        for n in 1..=2u64 {
            let legacy = AuditRecord::new("result_approved", "U1", "coder");
            store
                .t()
                .audit
                .insert(n.to_be_bytes(), serde_json::to_vec(&legacy).unwrap())
                .unwrap();
            store
                .t()
                .meta
                .insert(b"audit_seq", &n.to_be_bytes())
                .unwrap();
        }
        for action in ["job_finished", "result_approved", "amendment_adopted"] {
            store
                .append_audit(&AuditRecord::new(action, "U1", "coder"))
                .unwrap();
        }
        let mut job = sample_job(store.next_job_id().unwrap());
        store.put_job(&job).unwrap();
        job.verdict = Some(crate::job::Verdict {
            approved: true,
            by: "U2".into(),
            at: Utc::now(),
        });
        store
            .record_decision(
                Decided::Job(&job),
                &AuditRecord::new("result_approved", "U2", "coder"),
            )
            .unwrap();
        assert!(store.job(job.id).unwrap().unwrap().verdict.is_some());
        let raw = store.audit_raw().unwrap();
        assert_eq!(raw.len(), 6);
        assert_eq!(
            verify_audit(&raw),
            Ok(4),
            "two legacy records, then four linked"
        );
        assert_eq!(
            store.audit().unwrap()[2].prev.as_deref().map(str::len),
            Some(64)
        );

        // Changed: one field of the fourth record.
        let mut changed = raw.clone();
        changed[3] = String::from_utf8(changed[3].clone())
            .unwrap()
            .replace("\"U1\"", "\"U9\"")
            .into_bytes();
        assert_eq!(verify_audit(&changed).unwrap_err().position, 5);
        // Removed: the third.
        let mut removed = raw.clone();
        removed.remove(2);
        assert_eq!(verify_audit(&removed).unwrap_err().position, 3);
        // Inserted: an unlinked record inside the chain.
        let mut inserted = raw.clone();
        inserted.insert(
            4,
            serde_json::to_vec(&AuditRecord::new("x", "U3", "coder")).unwrap(),
        );
        assert_eq!(verify_audit(&inserted).unwrap_err().position, 5);
        // Reordered.
        let mut swapped = raw;
        swapped.swap(3, 4);
        assert!(verify_audit(&swapped).is_err());
    }

    #[test]
    fn claims_are_first_time_only_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert!(store.claim_event("Ev1").unwrap());
            assert!(!store.claim_event("Ev1").unwrap());
            // Claims younger than the cut stay.
            let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
            assert_eq!(store.prune_claims(hour_ago).unwrap(), 0);
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
        // Past the cut, every claim goes (three here), and the same ids claim afresh.
        let later = chrono::Utc::now() + chrono::Duration::seconds(2);
        assert_eq!(store.prune_claims(later).unwrap(), 3);
        assert!(store.claim_event("Ev1").unwrap());
        assert!(store.claim_message("C1", "1.1").unwrap());
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
        store
            .link_message("C1", "2.2", &MessageLink::Card { job: 5 })
            .unwrap();
        assert_eq!(
            store.message_link("C1", "2.2").unwrap(),
            Some(MessageLink::Card { job: 5 })
        );
        assert_eq!(store.message_link("C1", "2.3").unwrap(), None);
        assert_eq!(store.job(6).unwrap().map(|j| j.id), Some(6));
    }

    #[test]
    fn amendments_are_numbered_per_agent_and_ordered() {
        use crate::amendments::AmendmentStatus;
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mk = |agent: &str, number: u32| Amendment {
            agent: agent.into(),
            number,
            text: format!("{agent} {number}"),
            author: "U1".into(),
            permalink: None,
            job: None,
            channel: "C".into(),
            message_ts: None,
            created_at: Utc::now(),
            status: AmendmentStatus::Proposed,
            decided_by: None,
            decided_at: None,
        };
        for _ in 0..11 {
            let n = store.next_amendment_number("coder").unwrap();
            store.put_amendment(&mk("coder", n)).unwrap();
        }
        assert_eq!(
            store.next_amendment_number("coderx").unwrap(),
            1,
            "per agent"
        );
        store.put_amendment(&mk("coderx", 1)).unwrap();
        let list = store.amendments("coder").unwrap();
        assert_eq!(
            list.iter().map(|a| a.number).collect::<Vec<_>>(),
            (1..=11).collect::<Vec<_>>()
        );
        assert_eq!(
            store.amendment("coderx", 1).unwrap().unwrap().text,
            "coderx 1"
        );
    }
}
