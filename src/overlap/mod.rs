//! Overlapping work: a new request compared, before it runs, with the work the bot already
//! knows about across every channel it serves — queued and running jobs, the jobs of the last
//! `[overlap] days`, and jobs whose PR is still open.
//!
//! `terms` and `index` are pure (words to terms, terms to scores); `notice` words what the
//! threads are told and keeps private channels' details inside them; `Overlaps` keeps the
//! index filled from the store and answers intake's question. The bot decides what to do
//! with a match (`bot::overlaps`).

pub mod agents;
pub mod index;
pub mod notice;
pub mod quality;
pub mod report;
pub mod terms;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use index::{Doc, Index, Match, Scope};
pub use terms::Vocabulary;

use crate::job::{Job, JobId, NewJob};
use crate::store::{Store, StoreError};

/// The score from which two requests count as the same work. Chosen on the tune set
/// (`tests/overlap/tune.tsv`) as the lowest score that keeps precision at
/// `quality::PRECISION_GOAL`; `tests/overlap_quality.rs` fails when it no longer is.
pub const DEFAULT_THRESHOLD: f64 = 0.60;

/// The longest window compared or listed (`[overlap] days`, `overlaps <days>`).
pub const MAX_DAYS: u32 = 365;

/// What intake does with a likely duplicate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The job waits for the requester to run it anyway or join the other thread.
    #[default]
    Ask,
    /// The job runs at once; the thread is told.
    Note,
    Off,
}

/// `[overlap]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlapSettings {
    #[serde(default)]
    pub mode: Mode,
    /// Finished jobs this recent are compared (open jobs and open PRs always are).
    #[serde(default = "default_days")]
    pub days: u32,
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The team's own words that mean one thing: `[["ledger", "bookkeeping service"]]`.
    #[serde(default)]
    pub synonyms: Vec<Vec<String>>,
    /// Every this many days the groups of similar work go to `[agents] admin_channel`; 0 sends
    /// none.
    #[serde(default = "default_digest_days")]
    pub digest_days: u32,
}

fn default_digest_days() -> u32 {
    7
}

fn default_days() -> u32 {
    30
}

fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}

impl Default for OverlapSettings {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            days: default_days(),
            threshold: DEFAULT_THRESHOLD,
            synonyms: Vec::new(),
            digest_days: default_digest_days(),
        }
    }
}

impl OverlapSettings {
    /// Why the section is unusable, for the config error.
    pub fn problem(&self) -> Option<String> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Some(format!(
                "overlap.threshold: {} is not in (0, 1]",
                self.threshold
            ));
        }
        if self.days == 0 {
            return Some("overlap.days: must be at least 1".into());
        }
        if self.days > MAX_DAYS || self.digest_days > MAX_DAYS {
            return Some(format!(
                "overlap.days and overlap.digest_days: at most {MAX_DAYS}"
            ));
        }
        if let Some(g) = self.synonyms.iter().find(|g| g.len() < 2) {
            return Some(format!(
                "overlap.synonyms: {g:?} needs at least two words that mean the same"
            ));
        }
        None
    }
}

/// A request held back until its requester runs it anyway or joins the other thread; kept
/// in the store so a restart does not lose it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Held {
    pub new: NewJob,
    pub repo: Option<String>,
    pub branch: Option<String>,
    /// The earlier job it looks like.
    pub like: JobId,
    pub score: f64,
    pub at: DateTime<Utc>,
}

/// The earlier job a new request looks like, as intake is told.
#[derive(Debug, Clone)]
pub struct Found {
    pub job: Job,
    pub doc: Doc,
    pub matched: Match,
}

/// The index, filled from the store, and what intake asks of it.
pub struct Overlaps {
    index: Mutex<Index>,
    store: Arc<dyn Store>,
    pub settings: OverlapSettings,
    /// The last grouping's pairs (`clusters`).
    pairs: Mutex<Option<Arc<Pairs>>>,
}

impl Overlaps {
    /// Loads every recorded request into the index (a bad record is logged and skipped by
    /// the store).
    pub fn load(store: Arc<dyn Store>, settings: OverlapSettings) -> Result<Self, StoreError> {
        let mut index = Index::new(Vocabulary::new(&settings.synonyms));
        for doc in store.overlap_docs()? {
            index.put(doc);
        }
        Ok(Self {
            index: Mutex::new(index),
            store,
            settings,
            pairs: Mutex::new(None),
        })
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.index().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a request (or its job's later PR title) in the store and the index.
    pub fn record(&self, doc: Doc) -> Result<(), StoreError> {
        self.store.put_overlap_doc(&doc)?;
        self.index().put(doc);
        Ok(())
    }

    /// A finished job's PR title joins its request's terms.
    pub fn job_ended(&self, job: &Job) {
        let Some(pr) = &job.pr else { return };
        let Some(mut doc) = self.index().doc(job.id).cloned() else {
            return;
        };
        if doc.text.contains(&pr.title) {
            return;
        }
        doc.text = format!("{}\n{}", doc.text, pr.title);
        if let Err(e) = self.record(doc) {
            tracing::error!(job = job.id, error = %e, "cannot record the PR title for overlap checks");
        }
    }

    /// The earlier job a new request (in `channel`, thread `thread_ts`) most looks like:
    /// compared with open jobs, open PRs and the jobs of the last `days`, in every channel;
    /// never with its own thread.
    pub fn check(
        &self,
        text: &str,
        repo: Option<&str>,
        channel: &str,
        thread_ts: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Found>, StoreError> {
        let since = now - Duration::days(self.settings.days.into());
        let scope = Scope {
            since: DateTime::<Utc>::MIN_UTC,
            thread: Some((channel, thread_ts)),
            exclude: None,
        };
        let matches = self
            .index()
            .query(text, repo, &scope, self.settings.threshold, 20);
        for matched in matches {
            let Some(doc) = self.index().doc(matched.job).cloned() else {
                continue;
            };
            let Some(job) = self.store.job(matched.job)? else {
                continue;
            };
            let open = !job.state.is_terminal();
            let pr_open = job.pr.as_ref().is_some_and(|p| {
                matches!(
                    p.state,
                    crate::forge::PrState::Draft | crate::forge::PrState::Ready
                )
            });
            if open || pr_open || doc.at >= since {
                return Ok(Some(Found { job, doc, matched }));
            }
        }
        Ok(None)
    }

    /// The recorded request of `job`.
    pub fn doc(&self, job: JobId) -> Option<Doc> {
        self.index().doc(job).cloned()
    }

    /// The requests of the window that look like the same work, grouped (oldest first in
    /// each group, biggest group first), among the requests `visible` keeps: a request left
    /// out neither shows nor links two others.
    pub fn clusters(&self, since: DateTime<Utc>, visible: impl Fn(&Doc) -> bool) -> Vec<Vec<Doc>> {
        let pairs = self.pairs(since);
        let mut parent: Vec<usize> = (0..pairs.docs.len()).collect();
        fn root(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        let shown: Vec<bool> = pairs.docs.iter().map(&visible).collect();
        for &(i, j) in &pairs.edges {
            if shown[i] && shown[j] {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a] = b;
                }
            }
        }
        let mut groups: std::collections::BTreeMap<usize, Vec<Doc>> = Default::default();
        for (i, d) in pairs.docs.iter().enumerate() {
            if shown[i] {
                let r = root(&mut parent, i);
                groups.entry(r).or_default().push(d.clone());
            }
        }
        let mut out: Vec<Vec<Doc>> = groups
            .into_values()
            .filter(|g| g.len() > 1)
            .map(|mut g| {
                g.sort_by_key(|d| (d.at, d.job));
                g
            })
            .collect();
        out.sort_by_key(|g| std::cmp::Reverse(g.len()));
        out
    }

    /// Every pair of requests of the window that look like the same work. One query per
    /// request, each under the lock alone (intake's checks go between them); kept while the
    /// index is unchanged, or for `PAIRS_FRESH`, for windows starting within an hour.
    fn pairs(&self, since: DateTime<Utc>) -> Arc<Pairs> {
        let generation = self.index().generation();
        if let Some(p) = self
            .pairs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let fresh = p.generation == generation || Utc::now() - p.computed < PAIRS_FRESH;
            if fresh && (p.since - since).num_minutes().abs() < 60 {
                return p.clone();
            }
        }
        let docs: Vec<Doc> = self
            .index()
            .docs()
            .filter(|d| d.at >= since)
            .cloned()
            .collect();
        let pos: std::collections::HashMap<JobId, usize> =
            docs.iter().enumerate().map(|(i, d)| (d.job, i)).collect();
        let mut edges = Vec::new();
        for (i, d) in docs.iter().enumerate() {
            let scope = Scope {
                since,
                thread: Some((&d.channel, &d.thread_ts)),
                exclude: Some(d.job),
            };
            let hits = self.index().query(
                &d.text,
                d.repo.as_deref(),
                &scope,
                self.settings.threshold,
                20,
            );
            edges.extend(
                hits.iter()
                    .filter_map(|m| pos.get(&m.job))
                    .map(|&j| (i.min(j), i.max(j))),
            );
        }
        let pairs = Arc::new(Pairs {
            generation,
            computed: Utc::now(),
            since,
            docs,
            edges,
        });
        *self.pairs.lock().unwrap_or_else(|p| p.into_inner()) = Some(pairs.clone());
        pairs
    }
}

/// How long grouped pairs are reused although requests came in since.
const PAIRS_FRESH: Duration = Duration::minutes(10);

struct Pairs {
    generation: u64,
    computed: DateTime<Utc>,
    since: DateTime<Utc>,
    docs: Vec<Doc>,
    edges: Vec<(usize, usize)>,
}

/// The doc a new job's request becomes.
pub fn doc_for(job: &Job, private: bool) -> Doc {
    let mut text = job.task.clone();
    if let Some(pr) = &job.pr {
        text.push('\n');
        text.push_str(&pr.title);
    }
    Doc {
        job: job.id,
        at: job.created_at,
        channel: job.channel.clone(),
        thread_ts: job.thread_ts.clone(),
        requester: job.requester.clone(),
        agent: job.agent.clone(),
        repo: job.repo.clone(),
        private,
        text,
    }
}
