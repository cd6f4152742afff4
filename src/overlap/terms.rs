//! From a request's words to the terms two requests are compared by. Pure.
//!
//! Lower-cased words, English stop words and request filler dropped ("please", "can you"),
//! Snowball-stemmed (`retries`, `retried`, `retry` → one term), then mapped through synonym
//! groups to one canonical term (`pg`, `postgres`, `postgresql`). Action verbs are kept but
//! weigh less than the things they act on: "add retries to the webhook client" and "remove
//! the retry loop from the email sender" share the action's object only, and two requests
//! that only share "add" and "fix" are not the same work.

use std::collections::{BTreeMap, HashMap};

use rust_stemmers::{Algorithm, Stemmer};

/// The built-in synonym groups: each line's words mean one thing in a request.
const BUILT_IN_SYNONYMS: &[&[&str]] = &[
    &["postgres", "postgresql", "pg", "psql"],
    &["kubernetes", "k8s", "kube"],
    &["database", "db"],
    &["remove", "delete", "drop", "rip", "strip", "get rid"],
    &[
        "add",
        "adding",
        "added",
        "introduce",
        "create",
        "implement",
        "support",
    ],
    &["upgrade", "bump", "update", "raise"],
    &["downgrade", "pin back", "roll back", "rollback", "revert"],
    &[
        "fix",
        "repair",
        "resolve",
        "stabilise",
        "stabilize",
        "deflake",
    ],
    &["flaky", "intermittent", "flake", "flakey", "sporadic"],
    &[
        "retry", "retries", "retried", "retrying", "backoff", "re-try",
    ],
    &["config", "configuration", "settings", "setting"],
    &[
        "docs",
        "documentation",
        "doc",
        "document",
        "readme",
        "runbook",
        "write up",
        "guide",
        "wiki",
    ],
    &["failover", "fail over", "fails over", "failing over"],
    &["dark mode", "dark theme"],
    &["index", "indexes", "indices"],
    &["expire", "expiry", "expiration", "ttl", "lifetime"],
    &["paginate", "pagination", "paging", "page"],
    &["prometheus", "prom"],
    &["metric", "metrics", "gauge", "counter", "histogram"],
    &["compress", "compression", "gzip", "brotli"],
    &["sso", "saml", "oidc", "single sign-on"],
    &["pin", "lock", "freeze"],
    &["docker", "dockerfile", "container image"],
    &["github", "gh"],
    &["message", "messages", "msg", "msgs"],
    &["slow", "sluggish"],
    &["dependabot", "renovate"],
    &["ci", "pipeline", "workflow"],
    &["pr", "pull request", "merge request", "mr"],
    &[
        "auth",
        "authentication",
        "login",
        "sign-in",
        "signin",
        "sso",
    ],
    &["repo", "repository"],
    &["test", "tests", "spec", "specs"],
    &["slow", "latency", "slowness", "perf", "performance"],
    &[
        "error",
        "errors",
        "exception",
        "failure",
        "failures",
        "crash",
    ],
    &["env", "environment"],
    &["stage", "staging", "preprod"],
    &["prod", "production"],
    &[
        "dependency",
        "dependencies",
        "deps",
        "dep",
        "package",
        "packages",
    ],
    &["tf", "terraform"],
    &["js", "javascript"],
    &["ts", "typescript"],
    &["cache", "caching", "memoize", "memoise"],
    &["log", "logs", "logging"],
    &["dashboard", "grafana"],
    &["timeout", "timeouts", "deadline"],
    &["send", "deliver", "delivery", "dispatch"],
    &["enable", "turn on", "switch on"],
    &["disable", "turn off", "switch off"],
    &["endpoint", "route"],
    &["screen", "view"],
    &["button", "btn"],
    &[
        "user",
        "users",
        "customer",
        "customers",
        "account",
        "accounts",
    ],
    &["email", "mail", "e-mail"],
    &["notification", "notifications", "alert", "alerts", "notify"],
    &[
        "rate limit",
        "ratelimit",
        "throttle",
        "throttling",
        "rate-limit",
    ],
    &["oncall", "on-call", "pager", "pagerduty"],
    &["migrate", "migration"],
];

/// Actions: words that say what to do rather than what to do it to. They count, but less.
const ACTIONS: &[&str] = &[
    "add",
    "remove",
    "upgrade",
    "downgrade",
    "fix",
    "change",
    "make",
    "improve",
    "refactor",
    "clean",
    "write",
    "set",
    "use",
    "check",
    "handle",
    "enable",
    "disable",
    "migrate",
    "replace",
    "rename",
    "investigate",
    "look",
    "build",
    "run",
    "allow",
    "increase",
    "decrease",
    "reduce",
];

/// Actions that undo each other: a request to do one is not the same work as the other.
const OPPOSITES: &[(&str, &str)] = &[
    ("add", "remove"),
    ("enable", "disable"),
    ("upgrade", "downgrade"),
    ("increase", "decrease"),
    ("increase", "reduce"),
];

/// Actions that take something away.
const UNDOING: &[&str] = &["remove", "disable", "downgrade"];

/// Words that carry nothing about the work.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "from",
    "by",
    "with",
    "without",
    "into",
    "onto",
    "over",
    "under",
    "about",
    "as",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "there",
    "here",
    "we",
    "our",
    "us",
    "you",
    "your",
    "i",
    "me",
    "my",
    "they",
    "them",
    "their",
    "he",
    "she",
    "can",
    "could",
    "would",
    "should",
    "will",
    "shall",
    "may",
    "might",
    "must",
    "do",
    "does",
    "did",
    "done",
    "please",
    "pls",
    "plz",
    "thanks",
    "thank",
    "thx",
    "hi",
    "hey",
    "hello",
    "so",
    "if",
    "then",
    "than",
    "also",
    "just",
    "some",
    "any",
    "all",
    "every",
    "each",
    "when",
    "where",
    "which",
    "what",
    "who",
    "how",
    "why",
    "not",
    "no",
    "yes",
    "up",
    "out",
    "off",
    "again",
    "now",
    "asap",
    "today",
    "tomorrow",
    "soon",
    "quick",
    "quickly",
    "need",
    "needs",
    "needed",
    "want",
    "wants",
    "like",
    "get",
    "gets",
    "got",
    "let",
    "lets",
    "let's",
    "via",
    "per",
    "one",
    "new",
    "so",
    "too",
    "very",
    "really",
    "still",
    "instead",
    "because",
    "since",
    "after",
    "before",
    "while",
    "other",
    "same",
    "more",
    "less",
    "most",
    "way",
    "thing",
    "things",
    "stuff",
    "bit",
    "someone",
    "anyone",
    "team",
    "folks",
    "guys",
    "agent",
    "bot",
    "threadwork",
    "job",
    "task",
    "ticket",
    "issue",
];

/// How much an action weighs against the thing it acts on.
pub const ACTION_WEIGHT: f64 = 0.35;

/// One request's terms: each canonical term with its count, and which of them are actions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terms {
    pub counts: BTreeMap<String, u32>,
    /// The surface word first seen for each term, to explain a match in words people wrote.
    pub shown: BTreeMap<String, String>,
    /// Paths named in the request (`src/billing/retry.rs`), lower-cased.
    pub paths: Vec<String>,
}

impl Terms {
    pub fn is_action(term: &str) -> bool {
        ACTIONS.contains(&term)
    }

    /// The actions of `self` and `other` undo each other (one adds, the other removes) and
    /// neither request has both.
    pub fn opposed(&self, other: &Terms) -> bool {
        // Taking something out is other work than anything but taking it out.
        let removes = |t: &Terms| UNDOING.iter().any(|u| t.counts.contains_key(*u));
        if removes(self) != removes(other) {
            return true;
        }
        OPPOSITES.iter().any(|(a, b)| {
            let (sa, sb) = (self.counts.contains_key(*a), self.counts.contains_key(*b));
            let (oa, ob) = (other.counts.contains_key(*a), other.counts.contains_key(*b));
            (sa && !sb && ob && !oa) || (sb && !sa && oa && !ob)
        })
    }
}

/// Turns words into terms: the stemmer and the synonym table (built-in groups plus the
/// team's own from `[overlap] synonyms`).
pub struct Vocabulary {
    stemmer: Stemmer,
    /// Stemmed single word → canonical term.
    words: HashMap<String, String>,
    /// Stemmed two-word phrase ("rate limit") → canonical term.
    phrases: HashMap<(String, String), String>,
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("words", &self.words.len())
            .field("phrases", &self.phrases.len())
            .finish()
    }
}

impl Default for Vocabulary {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Vocabulary {
    /// The built-in synonyms, then `team`'s groups (a team's group wins for a word in both).
    pub fn new(team: &[Vec<String>]) -> Self {
        let mut v = Self {
            stemmer: Stemmer::create(Algorithm::English),
            words: HashMap::new(),
            phrases: HashMap::new(),
        };
        let built_in = BUILT_IN_SYNONYMS
            .iter()
            .map(|g| g.iter().map(|w| w.to_string()).collect::<Vec<_>>());
        let groups: Vec<Vec<String>> = built_in.chain(team.iter().cloned()).collect();
        for group in &groups {
            let Some(first) = group.first() else { continue };
            // The canonical term is the group's first word, stemmed: actions stay recognisable.
            let canonical = v.stem_phrase(first).join(" ");
            let canonical = ACTIONS
                .iter()
                .find(|a| first.eq_ignore_ascii_case(a))
                .map(|a| a.to_string())
                .unwrap_or(canonical);
            for word in group {
                match v.stem_phrase(word).as_slice() {
                    [one] => {
                        v.words.insert(one.clone(), canonical.clone());
                    }
                    [a, b] => {
                        v.phrases.insert((a.clone(), b.clone()), canonical.clone());
                    }
                    _ => {}
                }
            }
        }
        for action in ACTIONS {
            let stem = v.stemmer.stem(action).into_owned();
            v.words.entry(stem).or_insert_with(|| action.to_string());
        }
        v
    }

    fn stem_phrase(&self, phrase: &str) -> Vec<String> {
        words(phrase)
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }

    /// The terms of a request (and of what else describes the work: a PR title, a path).
    pub fn terms(&self, text: &str) -> Terms {
        let mut terms = Terms {
            paths: paths(text),
            ..Terms::default()
        };
        let raw: Vec<String> = words(text).collect();
        let stems: Vec<String> = raw
            .iter()
            .map(|w| self.stemmer.stem(w).into_owned())
            .collect();
        let mut i = 0;
        while i < raw.len() {
            if let Some(next) = stems.get(i + 1) {
                if let Some(term) = self.phrases.get(&(stems[i].clone(), next.clone())) {
                    add(&mut terms, term, &format!("{} {}", raw[i], raw[i + 1]));
                    i += 2;
                    continue;
                }
            }
            let word = &raw[i];
            i += 1;
            if STOP_WORDS.contains(&word.as_str()) || word.len() < 2 {
                continue;
            }
            let stem = &stems[i - 1];
            let term = self
                .words
                .get(word)
                .or_else(|| self.words.get(stem))
                .cloned()
                .unwrap_or_else(|| stem.clone());
            add(&mut terms, &term, word);
        }
        terms
    }
}

fn add(terms: &mut Terms, term: &str, shown: &str) {
    *terms.counts.entry(term.to_string()).or_insert(0) += 1;
    terms
        .shown
        .entry(term.to_string())
        .or_insert_with(|| shown.to_string());
}

/// Lower-cased words: runs of letters and digits; a word's inner `-`, `'` and `.` (k8s,
/// e-mail, v1.2) stay, other punctuation splits. Slack's `<@U…>` mentions and `<url|label>`
/// links are dropped first.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut cleaned = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => {
                depth -= 1;
                cleaned.push(' ');
            }
            _ if depth > 0 => {}
            _ => cleaned.extend(c.to_lowercase()),
        }
    }
    let split: Vec<String> = cleaned
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '\'' | '.' | '_')))
        .map(|w| w.trim_matches(|c: char| matches!(c, '-' | '\'' | '.' | '_')))
        .filter(|w| !w.is_empty())
        .flat_map(|w| {
            // `payments-db`, `retry.rs` and `test_checkout_total` are several words to people:
            // their parts count, and an identifier (`_`) counts whole too, so two different
            // identifiers that share parts stay apart.
            let mut out = Vec::new();
            if w.contains('_') {
                out.push(w.to_string());
            }
            if w.contains(['.', '_', '-']) && !w.chars().any(|c| c.is_ascii_digit()) {
                out.extend(
                    w.split(['.', '_', '-'])
                        .filter(|p| !p.is_empty())
                        .map(str::to_string),
                );
            } else {
                out.push(w.to_string());
            }
            out
        })
        .collect();
    split.into_iter()
}

/// Paths a request names: words with a `/` and a file extension or two `/`.
fn paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '(' | ')' | ',' | '<' | '>'))
        .map(|w| w.trim_end_matches(['.', ':', ';']))
        .filter(|w| {
            w.contains('/')
                && !w.contains("://")
                && (w.matches('/').count() >= 2
                    || w.rsplit('/').next().is_some_and(|f| f.contains('.')))
        })
        .map(|w| w.to_lowercase())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(t: &Terms) -> Vec<&str> {
        t.counts.keys().map(String::as_str).collect()
    }

    #[test]
    fn stems_and_synonyms_meet_in_one_term() {
        let v = Vocabulary::default();
        let a = v.terms("Please add retries to the webhook client");
        let b = v.terms("webhook sends should be retried on failure");
        assert!(a.counts.contains_key("retri") || a.counts.contains_key("retry"));
        let shared: Vec<_> = a
            .counts
            .keys()
            .filter(|k| b.counts.contains_key(*k))
            .collect();
        assert_eq!(shared.len(), 2, "{a:?} {b:?}");
        let pg = v.terms("upgrade pg to 16");
        let postgres = v.terms("bump PostgreSQL to 16");
        assert_eq!(keys(&pg), keys(&postgres));
    }

    #[test]
    fn phrases_and_team_words() {
        let v = Vocabulary::new(&[vec!["ledger".into(), "bookkeeping service".into()]]);
        assert_eq!(
            keys(&v.terms("add a rate limit to the ledger")),
            keys(&v.terms("throttle bookkeeping service calls, add"))
                .into_iter()
                .filter(|k| *k != "call")
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn opposite_actions_and_paths() {
        let v = Vocabulary::default();
        let add = v.terms("add the retry loop");
        let remove = v.terms("delete the retry loop");
        assert!(add.opposed(&remove));
        assert!(!add.opposed(&add));
        let both = v.terms("remove the old loop and add a new one");
        assert!(!both.opposed(&remove));
        let cache = v.terms("cache the rate lookups");
        assert!(cache.opposed(&v.terms("remove the rate caching")));
        assert!(!cache.opposed(&v.terms("memoize rate lookups")));
        let t = v.terms("fix `src/billing/retry.rs` and docs/a/b, see https://x.test/a/b.rs");
        assert_eq!(t.paths, vec!["docs/a/b", "src/billing/retry.rs"]);
        assert!(t.counts.contains_key("bill"));
    }

    #[test]
    fn slack_markup_and_filler_are_dropped() {
        let v = Vocabulary::default();
        let t = v.terms("<@U0BOT> hey can you please look at <https://x.test|this> thanks");
        assert_eq!(keys(&t), vec!["look"]);
    }
}
