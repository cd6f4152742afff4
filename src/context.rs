//! The context library: markdown files under `context/` (version-controlled with the prompts),
//! cut into passages at their headings and ranked for a request with BM25.
//!
//! Why BM25 and not embeddings: the library is a few hundred team-written pages whose words
//! match the words people use in requests (service names, commands, error texts); a lexical
//! index needs no model, no network and no extra service, ranks the same way every time (so a
//! job's recorded passages can be explained), and rebuilds in milliseconds when a file changes.
//!
//! Parsing, scoping and ranking are pure; `Library` only reads the folder, and re-indexes it
//! when a file's size or modification time changed, so an edit reaches the next job without a
//! restart.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The most text one passage brings into a prompt.
pub const PASSAGE_CHARS: usize = 1_500;

/// One section of a context file: the text under a heading, up to the next heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// Path relative to the library root, with `/` separators.
    pub file: String,
    /// The heading trail, outermost first (`Deploys › Rollbacks`); empty before the first heading.
    pub heading: String,
    /// 1-based line of the heading (or of the first line).
    pub line: usize,
    pub text: String,
}

/// A passage a job received, as recorded on the job and in its audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassageRef {
    pub file: String,
    pub heading: String,
    pub line: usize,
    pub score: f64,
}

/// Cuts a markdown file into passages at its ATX headings (`#` … `######`), ignoring `#`
/// lines inside fenced code blocks. Passages with no words are dropped.
pub fn passages(file: &str, text: &str) -> Vec<Passage> {
    let mut out = Vec::new();
    let mut trail: Vec<(usize, String)> = Vec::new();
    let mut body = String::new();
    let mut start = 1;
    let mut fence: Option<&str> = None;
    let flush = |out: &mut Vec<Passage>, trail: &[(usize, String)], body: &mut String, line| {
        let text = body.trim().to_string();
        body.clear();
        if text.is_empty() && trail.is_empty() {
            return;
        }
        let heading = trail
            .iter()
            .map(|(_, h)| h.as_str())
            .collect::<Vec<_>>()
            .join(" › ");
        if tokens(&text).next().is_none() && tokens(&heading).next().is_none() {
            return;
        }
        out.push(Passage {
            file: file.to_string(),
            heading,
            line,
            text,
        });
    };
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            body.push_str(line);
            body.push('\n');
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            body.push_str(line);
            body.push('\n');
            continue;
        }
        if let Some((level, title)) = heading(line) {
            flush(&mut out, &trail, &mut body, start);
            while trail.last().is_some_and(|(l, _)| *l >= level) {
                trail.pop();
            }
            trail.push((level, title));
            start = i + 1;
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    flush(&mut out, &trail, &mut body, start);
    out
}

/// `## Title ##` → (2, "Title"); only up to three spaces of indent, as CommonMark says.
fn heading(line: &str) -> Option<(usize, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let title = after.trim().trim_end_matches('#').trim_end();
    Some((level, title.to_string()))
}

/// Words common enough in English to carry no meaning for ranking.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "how", "i", "in", "is",
    "it", "of", "on", "or", "that", "the", "this", "to", "we", "what", "when", "with", "you",
];

/// Lower-cased words (letters and digits; `_` and `-` split), stopwords dropped.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
}

/// True when `file` (relative, `/`-separated) is inside one of an agent's scopes: `*` is the
/// whole library, a scope ending in `/` is a folder, anything else is one file.
pub fn in_scope(file: &str, scopes: &[String]) -> bool {
    scopes.iter().any(|s| {
        s == "*"
            || match s.strip_suffix('/') {
                Some(dir) => file.starts_with(&format!("{dir}/")),
                None => file == s,
            }
    })
}

/// Why a scope in an agent file cannot be used; `None` when it is fine.
pub fn scope_problem(scope: &str) -> Option<&'static str> {
    if scope.is_empty() {
        return Some("a scope is empty; use `*`, a folder such as `engineering/`, or a file");
    }
    if scope.starts_with('/') || scope.contains('\\') {
        return Some("scopes are paths relative to the context folder, with `/`");
    }
    if scope.split('/').any(|part| part == ".." || part == ".") {
        return Some("scopes may not contain `.` or `..`");
    }
    None
}

/// A BM25 index over passages (k1 = 1.2, b = 0.75, the usual defaults).
#[derive(Debug, Default)]
pub struct Index {
    passages: Vec<Passage>,
    /// Term counts per passage (heading words count like body words).
    terms: Vec<HashMap<String, u32>>,
    lengths: Vec<usize>,
    /// In how many passages each term occurs.
    df: HashMap<String, u32>,
    avg_len: f64,
}

const K1: f64 = 1.2;
const B: f64 = 0.75;

impl Index {
    pub fn new(passages: Vec<Passage>) -> Self {
        let mut terms = Vec::with_capacity(passages.len());
        let mut lengths = Vec::with_capacity(passages.len());
        let mut df: HashMap<String, u32> = HashMap::new();
        for p in &passages {
            let mut counts: HashMap<String, u32> = HashMap::new();
            let mut len = 0;
            for t in tokens(&p.heading).chain(tokens(&p.text)) {
                *counts.entry(t).or_default() += 1;
                len += 1;
            }
            for t in counts.keys() {
                *df.entry(t.clone()).or_default() += 1;
            }
            terms.push(counts);
            lengths.push(len);
        }
        let avg_len = if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().sum::<usize>() as f64 / lengths.len() as f64
        };
        Self {
            passages,
            terms,
            lengths,
            df,
            avg_len,
        }
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// Files in the index, each once.
    pub fn files(&self) -> usize {
        let mut files: Vec<&str> = self.passages.iter().map(|p| p.file.as_str()).collect();
        files.dedup();
        files.len()
    }

    /// The best `k` passages for `query` among those `keep` accepts, best first; passages
    /// sharing no word with the query are never returned. Ties keep library order.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        keep: impl Fn(&Passage) -> bool,
    ) -> Vec<(f64, &Passage)> {
        let mut query_terms: Vec<String> = tokens(query).collect();
        query_terms.sort();
        query_terms.dedup();
        let n = self.passages.len() as f64;
        let mut scored: Vec<(f64, usize)> = Vec::new();
        for (i, p) in self.passages.iter().enumerate() {
            if !keep(p) {
                continue;
            }
            let mut score = 0.0;
            for t in &query_terms {
                let Some(&tf) = self.terms[i].get(t) else {
                    continue;
                };
                let df = f64::from(self.df[t]);
                let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                let tf = f64::from(tf);
                let norm = 1.0 - B + B * self.lengths[i] as f64 / self.avg_len.max(1.0);
                score += idf * tf * (K1 + 1.0) / (tf + K1 * norm);
            }
            if score > 0.0 {
                scored.push((score, i));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(k)
            .map(|(s, i)| (s, &self.passages[i]))
            .collect()
    }
}

/// The passages for a prompt, each under its file and heading.
pub fn render(passages: &[(f64, &Passage)]) -> String {
    let mut out = String::from(
        "Context from the team's library (most relevant first; cite the file when you use it):",
    );
    for (_, p) in passages {
        out.push_str(&format!("\n\n--- {} › {}\n", p.file, heading_or_top(p)));
        out.push_str(&crate::text::clip(&p.text, PASSAGE_CHARS));
    }
    out
}

fn heading_or_top(p: &Passage) -> &str {
    if p.heading.is_empty() {
        "(top)"
    } else {
        &p.heading
    }
}

/// What a query found for an agent: the passages and how big the library was, for
/// `@threadwork context` and for the job record.
#[derive(Debug, Default)]
pub struct Found {
    pub passages: Vec<(f64, Passage)>,
    pub files: usize,
    pub total: usize,
}

impl Found {
    pub fn refs(&self) -> Vec<PassageRef> {
        self.passages
            .iter()
            .map(|(score, p)| PassageRef {
                file: p.file.clone(),
                heading: p.heading.clone(),
                line: p.line,
                score: (score * 1000.0).round() / 1000.0,
            })
            .collect()
    }

    /// The block appended to the task, or `None` when nothing matched.
    pub fn prompt_block(&self) -> Option<String> {
        if self.passages.is_empty() {
            return None;
        }
        let refs: Vec<(f64, &Passage)> = self.passages.iter().map(|(s, p)| (*s, p)).collect();
        Some(render(&refs))
    }
}

/// The reply to `@threadwork context <query>`: what the agent would receive, or why nothing.
pub fn describe(agent: &str, scopes: &[String], query: &str, found: &Found, root: &Path) -> String {
    if scopes.is_empty() {
        return format!(
            "`{agent}` reads no part of the context library; its owners can add `context: [<folder>/, <file>.md]` (or `[\"*\"]`) to its prompt file."
        );
    }
    let scope_list = crate::text::code_list(scopes);
    if found.total == 0 {
        return format!(
            "The context library (`{}`) is empty: add markdown files there (scopes of `{agent}`: {scope_list}).",
            root.display()
        );
    }
    if found.passages.is_empty() {
        let query = crate::chat::mrkdwn::escape(query);
        return format!(
            "No passage in `{agent}`'s scopes ({scope_list}) matches “{query}” ({} passages in {} files indexed); a job would get no library context.",
            found.total, found.files
        );
    }
    let query = crate::chat::mrkdwn::escape(query);
    let mut out = format!(
        "For “{query}”, a job of `{agent}` would receive {} passage{} (scopes {scope_list}):",
        found.passages.len(),
        if found.passages.len() == 1 { "" } else { "s" }
    );
    for (i, (score, p)) in found.passages.iter().enumerate() {
        let preview =
            crate::chat::mrkdwn::escape(&crate::text::clip(&p.text.replace('\n', " "), 300));
        out.push_str(&format!(
            "\n{}. `{}:{}` › {} (score {score:.2})\n> {preview}",
            i + 1,
            crate::chat::mrkdwn::escape(&p.file),
            p.line,
            crate::chat::mrkdwn::escape(heading_or_top(p))
        ));
    }
    out
}

/// Sizes and modification times of the library's files: a change in any re-indexes it.
type Signature = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

/// The library on disk, indexed; re-indexed when its files change.
pub struct Library {
    root: PathBuf,
    state: Mutex<(Signature, std::sync::Arc<Index>)>,
}

impl Library {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let library = Self {
            root: root.into(),
            state: Mutex::new((Signature::new(), std::sync::Arc::new(Index::default()))),
        };
        library.index();
        library
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current index, rebuilt first when a file was added, removed or changed.
    pub fn index(&self) -> std::sync::Arc<Index> {
        let files = markdown_files(&self.root);
        let signature: Signature = files
            .iter()
            .map(|f| {
                let meta = std::fs::metadata(f).ok();
                let key = (
                    meta.as_ref().map(|m| m.len()).unwrap_or(0),
                    meta.and_then(|m| m.modified().ok()),
                );
                (f.clone(), key)
            })
            .collect();
        let mut state = self.state.lock().expect("library lock");
        if state.0 != signature || (state.1.is_empty() && !signature.is_empty()) {
            let mut all = Vec::new();
            for f in signature.keys() {
                let rel = relative(&self.root, f);
                match std::fs::read_to_string(f) {
                    Ok(text) => all.extend(passages(&rel, &text)),
                    Err(e) => {
                        tracing::warn!(file = %f.display(), error = %e, "cannot read a context file")
                    }
                }
            }
            tracing::debug!(
                files = signature.len(),
                passages = all.len(),
                "context library indexed"
            );
            *state = (signature, std::sync::Arc::new(Index::new(all)));
        }
        state.1.clone()
    }

    /// The best `k` passages for `query` inside `scopes`.
    pub fn find(&self, query: &str, scopes: &[String], k: usize) -> Found {
        let index = self.index();
        let passages = if scopes.is_empty() || k == 0 {
            Vec::new()
        } else {
            index
                .search(query, k, |p| in_scope(&p.file, scopes))
                .into_iter()
                .map(|(s, p)| (s, p.clone()))
                .collect()
        };
        Found {
            passages,
            files: index.files(),
            total: index.len(),
        }
    }
}

/// `*.md` files under `root`, sorted; hidden entries (`.git`) skipped.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(path),
                Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "md") => {
                    out.push(path)
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYS: &str = "# Deploys\nWe deploy with `make ship` from main.\n\n## Rollbacks\nRoll back with `make rollback VERSION=…`; tell #ops first.\n\n```sh\n# not a heading\nmake rollback\n```\n\n## Freeze\nNo deploys on Fridays after 15:00.\n";

    #[test]
    fn passages_follow_headings_and_ignore_fenced_hashes() {
        let p = passages("ops/deploys.md", DEPLOYS);
        let headings: Vec<&str> = p.iter().map(|p| p.heading.as_str()).collect();
        assert_eq!(
            headings,
            ["Deploys", "Deploys › Rollbacks", "Deploys › Freeze"]
        );
        assert_eq!(p[1].line, 4);
        assert!(p[1].text.contains("# not a heading"));
        assert_eq!(p[2].file, "ops/deploys.md");
    }

    #[test]
    fn text_before_the_first_heading_is_a_passage() {
        let p = passages("a.md", "Intro words here.\n# Title\nbody\n");
        assert_eq!(p[0].heading, "");
        assert_eq!(p[0].line, 1);
        assert_eq!(p[1].heading, "Title");
    }

    #[test]
    fn headings_need_a_space_and_little_indent() {
        assert_eq!(heading("## Two ##"), Some((2, "Two".into())));
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(heading("    # code"), None);
        assert_eq!(heading("####### seven"), None);
        assert_eq!(heading("#"), Some((1, String::new())));
    }

    #[test]
    fn bm25_ranks_the_passage_that_shares_the_rare_words() {
        let mut all = passages("ops/deploys.md", DEPLOYS);
        all.extend(passages(
            "eng/reviews.md",
            "# Reviews\nEvery PR needs one approval; deploy after merge.\n",
        ));
        let index = Index::new(all);
        let hits = index.search("how do I roll back a bad deploy? rollback", 2, |_| true);
        assert_eq!(hits[0].1.heading, "Deploys › Rollbacks");
        assert!(hits[0].0 > hits[1].0);
        assert!(index.search("kubernetes", 3, |_| true).is_empty());
    }

    #[test]
    fn scopes_are_folders_files_or_everything() {
        let scopes = vec!["eng/".to_string(), "ops/deploys.md".to_string()];
        assert!(in_scope("eng/reviews.md", &scopes));
        assert!(in_scope("eng/deep/x.md", &scopes));
        assert!(!in_scope("engineering/x.md", &scopes));
        assert!(in_scope("ops/deploys.md", &scopes));
        assert!(!in_scope("ops/other.md", &scopes));
        assert!(in_scope("x.md", &["*".to_string()]));
        assert!(!in_scope("x.md", &[]));
        assert!(scope_problem("../secrets/").is_some());
        assert!(scope_problem("/etc/").is_some());
        assert!(scope_problem("eng/").is_none());
    }

    #[test]
    fn render_names_file_and_heading_and_clips() {
        let long = Passage {
            file: "a.md".into(),
            heading: String::new(),
            line: 1,
            text: "x".repeat(PASSAGE_CHARS + 10),
        };
        let text = render(&[(1.0, &long)]);
        assert!(text.contains("--- a.md › (top)"));
        assert!(text.ends_with('…'));
    }

    #[test]
    fn the_library_reindexes_an_edited_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("eng")).unwrap();
        let file = dir.path().join("eng/flaky.md");
        std::fs::write(&file, "# Flaky tests\nQuarantine with the `flaky` tag.\n").unwrap();
        let library = Library::new(dir.path());
        let scopes = vec!["eng/".to_string()];
        let found = library.find("flaky quarantine", &scopes, 3);
        assert_eq!(found.passages.len(), 1);
        assert_eq!(found.refs()[0].file, "eng/flaky.md");
        // A different size is enough to notice the edit even within one mtime tick.
        std::fs::write(
            &file,
            "# Flaky tests\nRetry them twice, then open an issue.\n",
        )
        .unwrap();
        let found = library.find("quarantine", &scopes, 3);
        assert!(found.passages.is_empty());
        assert_eq!(library.find("retry", &scopes, 3).passages.len(), 1);
        assert!(library.find("retry", &[], 3).passages.is_empty());
    }
}
