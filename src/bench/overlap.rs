//! `threadwork bench overlap`: the intake check against a store-sized index (100,000 past
//! requests by default), one query at a time on one thread, each then recorded as intake does,
//! beside the same query without its threshold cut (the baseline, measured in the same run);
//! the index's memory; and, run from the project
//! root, the detector's precision and recall on the labelled pairs.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::{machine, ms, pct};
use crate::overlap::index::{Doc, Index, Scope};
use crate::overlap::quality;
use crate::overlap::{Vocabulary, DEFAULT_THRESHOLD};

const ACTIONS: &[&str] = &[
    "add", "remove", "fix", "upgrade", "refactor", "document", "cache", "log", "test", "migrate",
];
const THINGS: &[&str] = &[
    "webhook",
    "retry",
    "login",
    "invoice",
    "refund",
    "checkout",
    "search",
    "index",
    "queue",
    "worker",
    "cron",
    "export",
    "import",
    "report",
    "dashboard",
    "metric",
    "alert",
    "token",
    "session",
    "cookie",
    "header",
    "endpoint",
    "schema",
    "migration",
    "backup",
    "replica",
    "bucket",
    "image",
    "pipeline",
    "deploy",
    "flag",
    "toggle",
    "timeout",
    "limit",
    "page",
];
const PLACES: &[&str] = &[
    "billing",
    "payments",
    "auth",
    "api",
    "web",
    "mobile",
    "ios",
    "android",
    "infra",
    "data",
    "search",
    "notifications",
    "ledger",
    "gateway",
    "admin",
    "reports",
    "ml",
    "events",
];

/// A small deterministic generator, so every run indexes the same requests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() as usize) % from.len()]
    }
}

fn request(r: &mut Lcg, i: usize) -> String {
    format!(
        "{} the {} {} in the {} service for {} {} (ticket {})",
        r.pick(ACTIONS),
        r.pick(THINGS),
        r.pick(THINGS),
        r.pick(PLACES),
        r.pick(PLACES),
        r.pick(THINGS),
        i % 5000
    )
}

pub fn overlap(docs: usize, queries: usize) -> anyhow::Result<()> {
    println!(
        "bench overlap — {} — {docs} past requests, {queries} queries",
        machine()
    );
    let mut r = Lcg(7);
    let texts: Vec<String> = (0..docs).map(|i| request(&mut r, i)).collect();
    let before = super::slack::rss_kb(std::process::id());
    let started = Instant::now();
    let mut index = Index::new(Vocabulary::default());
    let now = Utc::now();
    for (i, text) in texts.iter().enumerate() {
        index.put(Doc {
            job: i as u64 + 1,
            at: now,
            channel: format!("C{:08}", i % 40),
            thread_ts: format!("{i}.0"),
            requester: format!("U{:08}", i % 300),
            agent: "default".into(),
            repo: Some(format!("acme/{}", PLACES[i % PLACES.len()])),
            private: i % 10 == 0,
            text: text.clone(),
        });
    }
    let build = started.elapsed();
    let memory = super::slack::rss_kb(std::process::id()).saturating_sub(before);
    println!(
        "index: built in {} ({:.1} µs per request), memory {:.1} MiB ({} bytes per request, texts included)",
        ms(build),
        build.as_secs_f64() * 1e6 / docs as f64,
        memory as f64 / 1024.0,
        memory * 1024 / docs.max(1) as u64
    );
    let scope = Scope {
        since: now - chrono::Duration::days(30),
        thread: Some(("C-new", "1.0")),
        exclude: None,
    };
    let mut r = Lcg(99);
    let asks: Vec<String> = (0..queries).map(|i| request(&mut r, i + docs)).collect();
    let mut times: Vec<Duration> = Vec::with_capacity(queries);
    let mut hits = 0usize;
    // As at intake: each request is checked, then recorded (so the norms' refresh, every
    // 1% of new docs, is inside the figures).
    for (i, q) in asks.iter().enumerate() {
        let t = Instant::now();
        let found = index.query(q, Some("acme/billing"), &scope, DEFAULT_THRESHOLD, 20);
        times.push(t.elapsed());
        hits += usize::from(!found.is_empty());
        index.put(Doc {
            job: (docs + i) as u64 + 1,
            at: now,
            channel: "C-new".into(),
            thread_ts: format!("{i}.1"),
            requester: "U-new".into(),
            agent: "default".into(),
            repo: Some("acme/billing".into()),
            private: false,
            text: q.clone(),
        });
    }
    times.sort();
    // The baseline: no threshold cut, so every job sharing a term gets the full scoring (what
    // the check costs without the cached norms' early cut).
    let scans = queries.min(20);
    let mut scan_times: Vec<Duration> = Vec::with_capacity(scans);
    for q in asks.iter().take(scans) {
        let t = Instant::now();
        let all = Scope {
            since: chrono::DateTime::<Utc>::MIN_UTC,
            ..scope.clone()
        };
        let _ = index.query(q, None, &all, 0.0, usize::MAX);
        scan_times.push(t.elapsed());
    }
    scan_times.sort();
    let (p50, p99) = (pct(&times, 50.0), pct(&times, 99.0));
    let scan50 = pct(&scan_times, 50.0);
    println!(
        "intake check (each request then recorded): p50 {}, p99 {}, max {} ({} of {queries} found a match at {DEFAULT_THRESHOLD:.2})",
        ms(p50),
        ms(p99),
        ms(times.last().copied().unwrap_or_default()),
        hits
    );
    println!(
        "baseline (no threshold cut: every job sharing a term fully scored, {scans} queries): p50 {} — the check's p50 is {:.2}× the baseline's",
        ms(scan50),
        p50.as_secs_f64() / scan50.as_secs_f64().max(1e-9)
    );
    println!(
        "target: p99 ≤ 20 ms on one core — {}",
        if p99 <= Duration::from_millis(20) {
            "met"
        } else {
            "NOT met"
        }
    );
    for set in ["tune", "holdout"] {
        let path = format!("tests/overlap/{set}.tsv");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("quality: {path} not found (run from the project root)");
            continue;
        };
        let pairs = quality::parse(&text).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        let scores = quality::scores(&pairs, Vocabulary::default());
        let f = quality::figures(&pairs, &scores, DEFAULT_THRESHOLD);
        println!(
            "quality on {set} ({} pairs) at {DEFAULT_THRESHOLD:.2}: precision {:.2}, recall {:.2} ({} found, {} false alarms, {} missed)",
            pairs.len(),
            f.precision,
            f.recall,
            f.true_pos,
            f.false_pos,
            f.false_neg
        );
    }
    Ok(())
}
