//! The similarity index: every job's terms in an inverted index, compared by TF-IDF cosine.
//! Pure (no I/O); `overlap::Overlaps` keeps it filled from the store.
//!
//! A score is the cosine of the two requests' term vectors — each term weighted by how often
//! it occurs in the request and how rare it is across all jobs, actions weighing
//! `ACTION_WEIGHT` — lowered when the actions undo each other and raised when the two name the
//! same repository or the same files.
//!
//! A query adds up its dot products from the postings of its own terms (never visiting a job
//! that shares no term), divides by norms cached per job, and runs the finer checks (opposed,
//! substituted, same repository or files, the window and the thread) only on the few jobs
//! whose cosine could still reach the threshold.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::terms::{Terms, Vocabulary, ACTION_WEIGHT};
use crate::job::JobId;

/// What the index keeps of one job (also its record in the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub job: JobId,
    pub at: DateTime<Utc>,
    pub channel: String,
    pub thread_ts: String,
    pub requester: String,
    pub agent: String,
    pub repo: Option<String>,
    /// A private channel, a DM or a group DM (or one whose kind could not be learnt): its
    /// details stay inside it.
    pub private: bool,
    /// The text the terms came from (request, PR title, files), for re-indexing when the
    /// vocabulary changes.
    pub text: String,
}

impl Doc {
    /// A doc of `text` alone (no place, no requester), for measuring scores.
    pub fn bare(job: JobId, text: &str) -> Self {
        Self {
            job,
            at: DateTime::<Utc>::MIN_UTC,
            channel: String::new(),
            thread_ts: String::new(),
            requester: String::new(),
            agent: String::new(),
            repo: None,
            private: false,
            text: text.to_string(),
        }
    }
}

/// Why two requests look like the same work, in the new request's words.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub job: JobId,
    pub score: f64,
    pub shared: Vec<String>,
    pub same_repo: bool,
    pub shared_paths: Vec<String>,
}

/// What a query is compared with: the window and what to leave out.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    /// Jobs created before this are left out.
    pub since: DateTime<Utc>,
    /// Jobs in this thread are the same conversation, not overlap.
    pub thread: Option<(&'a str, &'a str)>,
    pub exclude: Option<JobId>,
}

struct Slot {
    doc: Doc,
    terms: Vec<(u32, u32)>,
    paths: Vec<String>,
    /// The length of the doc's weighted term vector, as of the last `refresh_norms`.
    norm: f64,
}

/// The inverted index. Replacing a job's doc leaves its old postings behind as dead slots,
/// skipped on query and dropped when they outnumber the live ones.
#[derive(Default)]
pub struct Index {
    vocabulary: Vocabulary,
    ids: HashMap<String, u32>,
    names: Vec<String>,
    actions: Vec<bool>,
    df: Vec<u32>,
    /// Per term: (slot, count in that doc).
    postings: Vec<Vec<(u32, u32)>>,
    slots: Vec<Option<Slot>>,
    by_job: HashMap<JobId, u32>,
    live: usize,
    /// Puts and removes since the norms were last computed.
    changes: usize,
    /// Scratch for a query's dot products, one per slot, all zero between queries (kept to
    /// avoid an allocation and a clearing pass a query).
    dots: Vec<f64>,
    /// Counts every put and remove: what was computed from the index at one generation holds
    /// until the next.
    generation: u64,
}

/// Up to this many docs every change recomputes the norms before the next query (exact
/// scores); above it, once changes reach 1% of the docs (each doc's norm drifts only as the
/// term statistics of the whole index do).
const EXACT_NORMS_UP_TO: usize = 10_000;

impl Index {
    pub fn new(vocabulary: Vocabulary) -> Self {
        Self {
            vocabulary,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    pub fn doc(&self, job: JobId) -> Option<&Doc> {
        let slot = *self.by_job.get(&job)?;
        self.slots[slot as usize].as_ref().map(|s| &s.doc)
    }

    pub fn docs(&self) -> impl Iterator<Item = &Doc> {
        self.slots.iter().flatten().map(|s| &s.doc)
    }

    fn term_id(&mut self, term: &str) -> u32 {
        if let Some(id) = self.ids.get(term) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(term.to_string(), id);
        self.names.push(term.to_string());
        self.actions.push(Terms::is_action(term));
        self.df.push(0);
        self.postings.push(Vec::new());
        id
    }

    /// Adds or replaces a job's doc.
    pub fn put(&mut self, doc: Doc) {
        self.remove(doc.job);
        let terms = self.vocabulary.terms(&doc.text);
        let slot = self.slots.len() as u32;
        let mut ids = Vec::with_capacity(terms.counts.len());
        for (term, n) in &terms.counts {
            let id = self.term_id(term);
            self.df[id as usize] += 1;
            self.postings[id as usize].push((slot, *n));
            ids.push((id, *n));
        }
        self.by_job.insert(doc.job, slot);
        // Its norm by today's statistics, so it is found at once; `refresh_norms` corrects
        // the drift of every norm later.
        let norm = ids
            .iter()
            .map(|(id, n)| self.weight(*id, *n).powi(2))
            .sum::<f64>()
            .sqrt();
        self.slots.push(Some(Slot {
            doc,
            terms: ids,
            paths: terms.paths,
            norm,
        }));
        self.live += 1;
        self.changes += 1;
        self.generation += 1;
    }

    pub fn remove(&mut self, job: JobId) {
        let Some(slot) = self.by_job.remove(&job) else {
            return;
        };
        if let Some(old) = self.slots[slot as usize].take() {
            for (id, _) in old.terms {
                self.df[id as usize] -= 1;
            }
            self.live -= 1;
            self.changes += 1;
            self.generation += 1;
        }
        if self.slots.len() > 1024 && self.live * 2 < self.slots.len() {
            self.compact();
        }
    }

    /// Rebuilds the postings without dead slots.
    fn compact(&mut self) {
        let docs: Vec<Doc> = self.slots.drain(..).flatten().map(|s| s.doc).collect();
        let vocabulary = std::mem::take(&mut self.vocabulary);
        let generation = self.generation;
        *self = Self::new(vocabulary);
        for doc in docs {
            self.put(doc);
        }
        self.generation += generation;
    }

    /// Recomputes every doc's norm when the term statistics have moved enough since the last
    /// time (see `EXACT_NORMS_UP_TO`).
    fn refresh_norms(&mut self) {
        let stale = if self.live <= EXACT_NORMS_UP_TO {
            self.changes > 0
        } else {
            self.changes * 100 >= self.live
        };
        if !stale {
            return;
        }
        let idf: Vec<f64> = (0..self.names.len() as u32)
            .map(|id| self.idf(id))
            .collect();
        let actions = &self.actions;
        for slot in self.slots.iter_mut().flatten() {
            slot.norm = slot
                .terms
                .iter()
                .map(|(id, tf)| {
                    let w = term_weight(*tf, idf[*id as usize], actions[*id as usize]);
                    w * w
                })
                .sum::<f64>()
                .sqrt();
        }
        self.changes = 0;
    }

    fn idf(&self, id: u32) -> f64 {
        let n = self.live as f64;
        let df = self.df.get(id as usize).copied().unwrap_or(0) as f64;
        ((n + 1.0) / (df + 1.0)).ln() + 1.0
    }

    fn weight(&self, id: u32, tf: u32) -> f64 {
        term_weight(tf, self.idf(id), self.actions[id as usize])
    }

    /// The jobs in `scope` whose score against `text` (for `repo`) is at least `threshold`,
    /// best first.
    pub fn query(
        &mut self,
        text: &str,
        repo: Option<&str>,
        scope: &Scope,
        threshold: f64,
        limit: usize,
    ) -> Vec<Match> {
        self.refresh_norms();
        let terms = self.vocabulary.terms(text);
        // Terms no job has are still part of the request's length.
        let unseen_idf = ((self.live as f64) + 1.0).ln() + 1.0;
        let query: Vec<(Option<u32>, f64)> = terms
            .counts
            .iter()
            .map(|(term, n)| match self.ids.get(term) {
                Some(id) => (Some(*id), self.weight(*id, *n)),
                None => (None, term_weight(*n, unseen_idf, Terms::is_action(term))),
            })
            .collect();
        let q_norm = query.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
        if q_norm == 0.0 {
            return Vec::new();
        }
        // Dot products from the postings: only jobs that share a term are ever visited.
        let mut dots = std::mem::take(&mut self.dots);
        dots.resize(self.slots.len(), 0.0);
        let mut touched: Vec<u32> = Vec::new();
        for (id, qw) in &query {
            let Some(id) = *id else { continue };
            let (idf, action) = (self.idf(id), self.actions[id as usize]);
            for (slot, tf) in &self.postings[id as usize] {
                let d = &mut dots[*slot as usize];
                if *d == 0.0 {
                    touched.push(*slot);
                }
                *d += qw * term_weight(*tf, idf, action);
            }
        }
        let q_weights: HashMap<u32, f64> = query
            .iter()
            .filter_map(|(id, w)| id.map(|i| (i, *w)))
            .collect();
        // The adjustments only lower a score, except these two.
        let reachable = threshold - SAME_REPO - SAME_FILES;
        let mut out = Vec::new();
        for &slot in &touched {
            let dot = std::mem::take(&mut dots[slot as usize]);
            let Some(s) = &self.slots[slot as usize] else {
                continue;
            };
            if s.norm == 0.0 {
                continue;
            }
            let cosine = dot / (q_norm * s.norm);
            if cosine < reachable {
                continue;
            }
            let d = &s.doc;
            if d.at < scope.since
                || scope.exclude == Some(d.job)
                || scope
                    .thread
                    .is_some_and(|(c, t)| d.channel == c && d.thread_ts == t)
            {
                continue;
            }
            let shared: Vec<String> = s
                .terms
                .iter()
                .filter(|(id, _)| q_weights.contains_key(id) && !self.actions[*id as usize])
                .map(|(id, _)| {
                    let name = &self.names[*id as usize];
                    terms.shown.get(name).unwrap_or(name).clone()
                })
                .collect();
            // Sharing only verbs ("fix", "add") is not the same work.
            if shared.is_empty() {
                continue;
            }
            let doc_terms = Terms {
                counts: s
                    .terms
                    .iter()
                    .map(|(id, n)| (self.names[*id as usize].clone(), *n))
                    .collect(),
                ..Terms::default()
            };
            let mut score = cosine;
            if terms.opposed(&doc_terms) {
                score *= OPPOSED;
            }
            if substituted(&terms, &doc_terms) {
                score *= SUBSTITUTED;
            }
            let same_repo =
                matches!((repo, &d.repo), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
            if same_repo {
                score += SAME_REPO;
            }
            let shared_paths: Vec<String> = terms
                .paths
                .iter()
                .filter(|p| s.paths.contains(p))
                .cloned()
                .collect();
            if !shared_paths.is_empty() {
                score += SAME_FILES;
            }
            let score = score.min(1.0);
            if score >= threshold {
                out.push(Match {
                    job: d.job,
                    score,
                    shared,
                    same_repo,
                    shared_paths,
                });
            }
        }
        self.dots = dots;
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.job.cmp(&a.job)));
        out.truncate(limit);
        out
    }

    /// The similarity of two texts against this index's term statistics (the labelled
    /// pairs are measured this way).
    pub fn score_pair(&mut self, a: &str, b: &str) -> f64 {
        let doc = Doc::bare(JobId::MAX, b);
        let had = self.by_job.contains_key(&JobId::MAX);
        self.put(doc);
        let scope = Scope {
            since: DateTime::<Utc>::MIN_UTC,
            thread: None,
            exclude: None,
        };
        let score = self
            .query(a, None, &scope, 0.0, usize::MAX)
            .into_iter()
            .find(|m| m.job == JobId::MAX)
            .map(|m| m.score)
            .unwrap_or(0.0);
        if !had {
            self.remove(JobId::MAX);
        }
        score
    }
}

/// A term's weight in one doc: its count dampened, times its rarity, actions lighter.
fn term_weight(tf: u32, idf: f64, action: bool) -> f64 {
    let action = if action { ACTION_WEIGHT } else { 1.0 };
    (1.0 + (tf as f64).ln()) * idf * action
}

/// The same request about a different thing ("… for the api image" / "… for the worker
/// image"): each side has one or two things of its own and shares the rest. Paraphrases of
/// one piece of work differ in more words than that, or on one side only.
fn substituted(a: &Terms, b: &Terms) -> bool {
    let only = |x: &Terms, y: &Terms| {
        x.counts
            .keys()
            .filter(|t| !Terms::is_action(t) && !y.counts.contains_key(*t))
            .count()
    };
    let (a_only, b_only) = (only(a, b), only(b, a));
    (1..=2).contains(&a_only) && (1..=2).contains(&b_only)
}

/// A request about a different thing in the same words keeps this share of its score.
pub const SUBSTITUTED: f64 = 0.6;

/// A request whose action undoes the other's keeps this share of its score.
pub const OPPOSED: f64 = 0.5;
/// Added when both name the same repository.
pub const SAME_REPO: f64 = 0.05;
/// Added when both name the same file.
pub const SAME_FILES: f64 = 0.05;

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn doc(job: JobId, text: &str) -> Doc {
        Doc {
            job,
            at: Utc::now(),
            channel: format!("C{job}"),
            thread_ts: "1.0".into(),
            requester: "U1".into(),
            agent: "coder".into(),
            repo: None,
            private: false,
            text: text.into(),
        }
    }

    fn scope() -> Scope<'static> {
        Scope {
            since: Utc::now() - chrono::Duration::days(30),
            thread: None,
            exclude: None,
        }
    }

    #[test]
    fn paraphrase_beats_hard_negative() {
        let mut index = Index::default();
        for (i, t) in [
            "add retry logic to webhook delivery",
            "remove the retry loop from the email sender",
            "upgrade redis to 7 in staging",
            "add dark mode to the settings page",
        ]
        .iter()
        .enumerate()
        {
            index.put(doc(i as JobId + 1, t));
        }
        let hits = index.query(
            "webhook sends should be retried on failure",
            None,
            &scope(),
            0.0,
            10,
        );
        assert_eq!(hits[0].job, 1, "{hits:?}");
        assert!(hits[0].shared.iter().any(|s| s == "webhook"));
        let near = index.score_pair(
            "add retries to the webhook client",
            "add retry logic to webhook delivery",
        );
        let far = index.score_pair(
            "add retries to the webhook client",
            "remove the retry loop from the email sender",
        );
        assert!(near > 2.0 * far, "{near} vs {far}");
    }

    #[test]
    fn a_new_doc_is_found_at_once_in_a_large_index() {
        let mut index = Index::default();
        for i in 0..(EXACT_NORMS_UP_TO as u64 + 50) {
            index.put(doc(i, &format!("task {i} for service{}", i % 97)));
        }
        assert!(index.query("service3 task", None, &scope(), 0.1, 1).len() == 1);
        // Well under 1% of the docs changed since the norms were refreshed.
        index.put(doc(1_000_000, "rotate the zebra quantum flux keys"));
        let hits = index.query("rotate zebra quantum flux keys", None, &scope(), 0.5, 5);
        assert_eq!(hits.first().map(|m| m.job), Some(1_000_000), "{hits:?}");
    }

    #[test]
    fn sharing_only_a_verb_is_not_a_match() {
        let mut index = Index::default();
        index.put(doc(1, "fix"));
        index.put(doc(2, "fix the login page"));
        let hits = index.query("fix", None, &scope(), 0.0, 10);
        assert!(hits.is_empty(), "{hits:?}");
        let hits = index.query("fix login", None, &scope(), 0.0, 10);
        assert_eq!(hits.iter().map(|m| m.job).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn scope_leaves_out_old_and_same_thread_jobs() {
        let mut index = Index::default();
        let mut old = doc(1, "rotate the api keys for billing");
        old.at = Utc::now() - chrono::Duration::days(90);
        index.put(old.clone());
        assert!(index
            .query("rotate billing api keys", None, &scope(), 0.1, 5)
            .is_empty());
        old.at = Utc::now();
        index.put(old);
        assert_eq!(index.len(), 1);
        assert_eq!(
            index
                .query("rotate billing api keys", None, &scope(), 0.1, 5)
                .len(),
            1
        );
        let s = Scope {
            thread: Some(("C1", "1.0")),
            ..scope()
        };
        assert!(index
            .query("rotate billing api keys", None, &s, 0.1, 5)
            .is_empty());
    }

    #[test]
    fn replacing_and_compacting_keep_answers() {
        let mut index = Index::default();
        for i in 0..3000 {
            index.put(doc(i, &format!("task number {i} for service{}", i % 50)));
        }
        for i in 0..2000 {
            index.remove(i);
        }
        assert_eq!(index.len(), 1000);
        assert!(index.slots.len() < 3000, "compacted");
        let hits = index.query("service7 task", None, &scope(), 0.1, 100);
        assert!(hits.iter().all(|m| m.job >= 2000 && m.job % 50 == 7));
        assert_eq!(hits.len(), 20);
    }
}
