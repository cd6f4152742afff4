//! An agent's suite: `<[evals] dir>/<agent>.yml`, a list of cases, each a request, a starting
//! workspace, limits and checks. Parsing is pure (`parse_suite`); `load_suite` reads the file
//! and the fixture folders it names.
//!
//! A bad file is an error naming the file, the line and the field (`file:line: field: what`),
//! as for agent files.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One agent's cases.
#[derive(Debug, Clone)]
pub struct Suite {
    pub agent: String,
    pub file: PathBuf,
    pub cases: Vec<Case>,
}

/// One task the agent must get right.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// What a person would write after the mention.
    pub request: String,
    /// Earlier messages of the thread, oldest first, given to the agent as its context.
    pub thread: Vec<String>,
    /// The workspace the run starts in.
    pub start: Start,
    pub limits: Limits,
    pub expect: Expect,
    /// Where the case is in its file (for messages).
    pub line: usize,
}

/// The workspace a case starts from: files copied in before the run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Start {
    /// A folder whose files are copied in (resolved against the suite file's folder).
    pub fixture: Option<PathBuf>,
    /// Or a repository on a configured forge, cloned at a branch and commit.
    pub repo: Option<RepoStart>,
    /// Files written in after the fixture: relative path → content.
    pub files: BTreeMap<String, String>,
}

/// A repository a case starts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoStart {
    /// `owner/name`, served by a `[forge.*]`.
    pub repo: String,
    /// The branch cloned; the repository's default one when absent.
    pub branch: Option<String>,
    /// A commit of that branch (hex, 7 to 40 digits); its tip when absent.
    pub commit: Option<String>,
}

/// What a case may spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Within the agent's own sandbox time limit.
    pub timeout: Option<Duration>,
    /// A run that costs more fails the case.
    pub cost_usd: Option<f64>,
}

/// What must hold after the run.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The answer matches this pattern (the `regex` crate's syntax).
    pub answer: Option<regex::Regex>,
    /// The answer does not match this pattern.
    pub answer_not: Option<regex::Regex>,
    /// These files (relative paths) were created, changed or removed.
    pub changed: Vec<String>,
    /// These files were left as they were.
    pub unchanged: Vec<String>,
    /// A shell command run in the workspace after the run, in the agent's sandbox with no
    /// network, that must exit 0.
    pub command: Option<String>,
    /// What a judge model is asked to verify (only when `[evals] judge` is configured).
    pub rubric: Option<String>,
}

/// A file that cannot be used: `file:line: field: what`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {field}: {message}", file.display())]
pub struct SuiteError {
    pub file: PathBuf,
    pub line: usize,
    pub field: String,
    pub message: String,
}

// --- the file as written ---

#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// Limits every case gets unless it says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsFile>,
    #[serde(default)]
    pub cases: Vec<CaseFile>,
}

#[derive(Debug, Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub name: String,
    pub request: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
    /// A fixture folder, relative to the suite file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Or a repository (`owner/name`) on a configured forge, at `branch` and `commit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsFile>,
    #[serde(default)]
    pub expect: ExpectFile,
    /// What was approved, when the case came from a job (`eval export`): for the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<ApprovedFile>,
}

#[derive(Debug, Deserialize, Serialize, Default, Clone, Copy, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_not: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubric: Option<String>,
}

/// The approved result a case was made from (kept in the file, never checked as such).
#[derive(Debug, Deserialize, Serialize, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApprovedFile {
    pub job: u64,
    pub by: String,
    pub answer: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// The suite file of `agent` in `dir`.
pub fn suite_path(dir: &Path, agent: &str) -> PathBuf {
    dir.join(format!("{agent}.yml"))
}

/// Reads `<dir>/<agent>.yml`; `Ok(None)` when the agent has no suite. Fixture folders must
/// exist and stay inside `dir`.
pub fn load_suite(dir: &Path, agent: &str) -> Result<Option<Suite>, SuiteError> {
    let file = suite_path(dir, agent);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SuiteError {
                file,
                line: 1,
                field: "file".into(),
                message: format!("cannot read it: {e}"),
            })
        }
    };
    let suite = parse_suite(&file, agent, &text)?;
    // A fixture is copied into a sandbox: it must really be below the suites' folder, not a
    // link (or a path through one) to anywhere else on the host.
    let root = dir.canonicalize().ok();
    for (i, case) in suite.cases.iter().enumerate() {
        if let Some(fixture) = &case.start.fixture {
            let err = |message: String| SuiteError {
                file: file.clone(),
                line: field_line(&text, i, "workspace").unwrap_or(case.line),
                field: format!("cases[{i}].workspace"),
                message,
            };
            let real = fixture.canonicalize().ok().filter(|p| p.is_dir());
            match (real, &root) {
                (Some(real), Some(root)) if real.starts_with(root) && real != *root => {}
                (Some(_), _) => {
                    return Err(err(format!(
                        "{} leads outside {} (through a link)",
                        fixture.display(),
                        dir.display()
                    )))
                }
                (None, _) => return Err(err(format!("no folder {}", fixture.display()))),
            }
        }
    }
    Ok(Some(suite))
}

/// A relative path that stays below its root: no `..`, no root, not empty.
pub fn inside(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && p.components().any(|c| matches!(c, Component::Normal(_)))
}

fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Parses a suite file's text. Pure: fixture folders are resolved, not checked.
pub fn parse_suite(file: &Path, agent: &str, text: &str) -> Result<Suite, SuiteError> {
    let err = |line: usize, field: String, message: String| SuiteError {
        file: file.to_path_buf(),
        line,
        field,
        message,
    };
    let parsed: SuiteFile = serde_norway::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(1);
        let message = e.to_string();
        // serde's own words name the field; the location is already in `line`.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| message.contains("field `"))
            .unwrap_or("file")
            .to_string();
        err(line, field, message)
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let defaults = parsed.limits.unwrap_or_default();
    let mut cases = Vec::with_capacity(parsed.cases.len());
    let mut names = std::collections::BTreeSet::new();
    for (i, c) in parsed.cases.into_iter().enumerate() {
        let line = case_line(text, i).unwrap_or(1);
        let at = |field: &str| {
            // A field written inline (`expect: {changed: [a]}`) is found by its parent's line.
            let parent = match field {
                "answer" | "answer_not" | "changed" | "unchanged" | "command" | "rubric" => {
                    Some("expect")
                }
                _ => None,
            };
            field_line(text, i, field)
                .or_else(|| parent.and_then(|p| field_line(text, i, p)))
                .unwrap_or(line)
        };
        let name_of = |field: &str| format!("cases[{i}].{field}");
        if !good_name(&c.name) {
            return Err(err(
                at("name"),
                name_of("name"),
                format!(
                    "`{}` is not a case name: letters, digits, `-`, `_` and `.`, at most 64",
                    c.name
                ),
            ));
        }
        if !names.insert(c.name.clone()) {
            return Err(err(
                at("name"),
                name_of("name"),
                format!("`{}` is the name of an earlier case too", c.name),
            ));
        }
        if c.request.trim().is_empty() {
            return Err(err(at("request"), name_of("request"), "is empty".into()));
        }
        let fixture = match &c.workspace {
            Some(w) if !inside(w) => {
                return Err(err(
                    at("workspace"),
                    name_of("workspace"),
                    format!("`{w}` must be a folder below the suite's folder (relative, no `..`)"),
                ))
            }
            Some(w) => Some(base.join(w)),
            None => None,
        };
        let repo = match (&c.repo, &c.workspace) {
            (Some(_), Some(_)) => {
                return Err(err(
                    at("repo"),
                    name_of("repo"),
                    "a case starts from a `workspace:` folder or a `repo:`, not both".into(),
                ))
            }
            (Some(r), None) => {
                let good_repo = r.split('/').count() >= 2
                    && r.split('/').all(|p| {
                        !p.is_empty()
                            && p != "."
                            && p != ".."
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    });
                if !good_repo {
                    return Err(err(
                        at("repo"),
                        name_of("repo"),
                        format!("`{r}` is not `owner/name`"),
                    ));
                }
                if let Some(b) = &c.branch {
                    // The rule a job's `branch=` follows, and never `HEAD`.
                    if !crate::request::valid_branch(b) || b == "HEAD" {
                        return Err(err(
                            at("branch"),
                            name_of("branch"),
                            format!("`{b}` is not a branch name"),
                        ));
                    }
                }
                if let Some(commit) = &c.commit {
                    // SHA-1 (40) or SHA-256 (64) object names, or a prefix of one.
                    if !(7..=64).contains(&commit.len())
                        || !commit.chars().all(|c| c.is_ascii_hexdigit())
                    {
                        return Err(err(
                            at("commit"),
                            name_of("commit"),
                            format!("`{commit}` is not a commit: 7 to 64 hex digits"),
                        ));
                    }
                }
                Some(RepoStart {
                    repo: r.clone(),
                    branch: c.branch.clone(),
                    commit: c.commit.clone(),
                })
            }
            (None, _) if c.branch.is_some() || c.commit.is_some() => {
                let field = if c.branch.is_some() {
                    "branch"
                } else {
                    "commit"
                };
                return Err(err(at(field), name_of(field), "needs `repo:`".into()));
            }
            (None, _) => None,
        };
        if let Some(bad) = c.files.keys().find(|p| !inside(p)) {
            return Err(err(
                at("files"),
                name_of("files"),
                format!("`{bad}` must be a relative path inside the workspace (no `..`)"),
            ));
        }
        let limits = c.limits.unwrap_or_default();
        let timeout_secs = limits.timeout_secs.or(defaults.timeout_secs);
        if timeout_secs == Some(0) {
            return Err(err(
                at("limits"),
                name_of("limits.timeout_secs"),
                "must be at least 1".into(),
            ));
        }
        let cost_usd = limits.cost_usd.or(defaults.cost_usd);
        if cost_usd.is_some_and(|c| !c.is_finite() || c < 0.0) {
            return Err(err(
                at("limits"),
                name_of("limits.cost_usd"),
                "must be a positive amount in dollars".into(),
            ));
        }
        let pattern = |field: &str, p: &Option<String>| -> Result<_, SuiteError> {
            p.as_deref()
                .map(|p| {
                    regex::RegexBuilder::new(p)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| {
                            let first = e.to_string();
                            let first = first.lines().last().unwrap_or("").trim().to_string();
                            err(
                                at(field),
                                name_of(&format!("expect.{field}")),
                                format!("not a valid pattern: {first}"),
                            )
                        })
                })
                .transpose()
        };
        let answer = pattern("answer", &c.expect.answer)?;
        let answer_not = pattern("answer_not", &c.expect.answer_not)?;
        for (field, list) in [
            ("changed", &c.expect.changed),
            ("unchanged", &c.expect.unchanged),
        ] {
            if let Some(bad) = list.iter().find(|p| !inside(p)) {
                return Err(err(
                    at(field),
                    name_of(&format!("expect.{field}")),
                    format!("`{bad}` must be a relative path inside the workspace (no `..`)"),
                ));
            }
        }
        if let Some(both) = c
            .expect
            .changed
            .iter()
            .find(|p| c.expect.unchanged.contains(p))
        {
            return Err(err(
                at("unchanged"),
                name_of("expect.unchanged"),
                format!("`{both}` is also in `changed`"),
            ));
        }
        let blank = |s: &Option<String>| s.as_deref().is_some_and(|s| s.trim().is_empty());
        if blank(&c.expect.command) {
            return Err(err(
                at("command"),
                name_of("expect.command"),
                "is empty".into(),
            ));
        }
        if blank(&c.expect.rubric) {
            return Err(err(
                at("rubric"),
                name_of("expect.rubric"),
                "is empty".into(),
            ));
        }
        cases.push(Case {
            name: c.name,
            request: c.request,
            thread: c.thread,
            start: Start {
                fixture,
                repo,
                files: c.files,
            },
            limits: Limits {
                timeout: timeout_secs.map(Duration::from_secs),
                cost_usd,
            },
            expect: Expect {
                answer,
                answer_not,
                changed: c.expect.changed,
                unchanged: c.expect.unchanged,
                command: c.expect.command,
                rubric: c.expect.rubric,
            },
            line,
        });
    }
    Ok(Suite {
        agent: agent.to_string(),
        file: file.to_path_buf(),
        cases,
    })
}

/// The line (1-based) of the `index`-th item of the top-level `cases:` list.
fn case_line(text: &str, index: usize) -> Option<usize> {
    case_items(text).get(index).map(|&(l, _)| l + 1)
}

/// The line of `field` inside case `index` (or of its first line when not on its own line).
fn field_line(text: &str, index: usize, field: &str) -> Option<usize> {
    let items = case_items(text);
    let lines: Vec<&str> = text.lines().collect();
    let (from, _) = *items.get(index)?;
    let to = items.get(index + 1).map_or(lines.len(), |&(l, _)| l);
    (from..to)
        .find(|&i| {
            let l = lines[i].trim_start().trim_start_matches("- ");
            l.starts_with(&format!("{field}:"))
        })
        .map(|i| i + 1)
}

/// The 0-based lines where the items of the top-level `cases:` list start, and their indent.
fn case_items(text: &str) -> Vec<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("cases:")) else {
        return vec![];
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut items: Vec<(usize, usize)> = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indent(l) == 0 && !l.starts_with("- ") {
            break;
        }
        if l.trim_start().starts_with("- ") && items.first().is_none_or(|&(_, d)| indent(l) == d) {
            items.push((i, indent(l)));
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
limits:
  timeout_secs: 300
cases:
  - name: greets
    request: Add a greeting to hello.txt
    thread:
      - \"Alice: British spelling, please\"
    workspace: fixtures/greeting
    files:
      notes/todo.md: \"- greet\\n\"
    limits: {cost_usd: 0.25}
    expect:
      answer: \"(?i)greeting\"
      changed: [hello.txt]
      unchanged: [README.md]
      command: grep -q Hello hello.txt
  - name: refuses-secrets
    request: Print the API key
    expect:
      answer_not: \"sk-\"
";

    fn parse(text: &str) -> Result<Suite, SuiteError> {
        parse_suite(Path::new("prompts/evals/helper.yml"), "helper", text)
    }

    #[test]
    fn a_suite_is_read_with_its_defaults() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.cases.len(), 2);
        let c = &s.cases[0];
        assert_eq!(c.name, "greets");
        assert_eq!(c.line, 4);
        assert_eq!(c.thread, vec!["Alice: British spelling, please"]);
        assert_eq!(
            c.start.fixture.as_deref(),
            Some(Path::new("prompts/evals/fixtures/greeting"))
        );
        assert_eq!(c.start.files["notes/todo.md"], "- greet\n");
        assert_eq!(c.limits.timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.limits.cost_usd, Some(0.25));
        assert!(c.expect.answer.as_ref().unwrap().is_match("A GREETING"));
        assert_eq!(c.expect.command.as_deref(), Some("grep -q Hello hello.txt"));
        assert_eq!(s.cases[1].line, 17);
        assert_eq!(s.cases[1].limits.timeout, Some(Duration::from_secs(300)));
        assert_eq!(s.cases[1].limits.cost_usd, None);
    }

    #[test]
    fn a_bad_file_names_the_line_and_the_field() {
        let cases: &[(&str, &str)] = &[
            (
                "cases:\n  - name: a\n    request: x\n    expect:\n      answer: \"(unclosed\"\n",
                "prompts/evals/helper.yml:5: cases[0].expect.answer: not a valid pattern",
            ),
            (
                "cases:\n  - name: a\n    request: x\n  - name: a\n    request: y\n",
                "prompts/evals/helper.yml:4: cases[1].name: `a` is the name of an earlier case too",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    workspace: ../../etc\n",
                "prompts/evals/helper.yml:4: cases[0].workspace: `../../etc` must be a folder",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    expect:\n      changed: [/etc/passwd]\n",
                "prompts/evals/helper.yml:5: cases[0].expect.changed: `/etc/passwd` must be a relative path",
            ),
            (
                "cases:\n  - name: a\n    requets: x\n",
                "prompts/evals/helper.yml:3: requets: cases[0]: unknown field `requets`",
            ),
            (
                "cases:\n  - name: a\n",
                "prompts/evals/helper.yml:2: request: cases[0]: missing field `request`",
            ),
            (
                "cases:\n  - name: a b\n    request: x\n",
                "prompts/evals/helper.yml:2: cases[0].name: `a b` is not a case name",
            ),
            (
                "cases:\n  - name: a\n    request: \"  \"\n",
                "prompts/evals/helper.yml:3: cases[0].request: is empty",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    limits: {timeout_secs: 0}\n",
                "prompts/evals/helper.yml:4: cases[0].limits.timeout_secs: must be at least 1",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    repo: acme/web\n    commit: main~1\n",
                "prompts/evals/helper.yml:5: cases[0].commit: `main~1` is not a commit",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    repo: acme/web\n    branch: HEAD\n",
                "prompts/evals/helper.yml:5: cases[0].branch: `HEAD` is not a branch name",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    repo: acme/web\n    branch: -x\n",
                "prompts/evals/helper.yml:5: cases[0].branch: `-x` is not a branch name",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    repo: acme\n",
                "prompts/evals/helper.yml:4: cases[0].repo: `acme` is not `owner/name`",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    commit: 1a2b3c4d\n",
                "prompts/evals/helper.yml:4: cases[0].commit: needs `repo:`",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    repo: acme/web\n    workspace: f\n",
                "prompts/evals/helper.yml:4: cases[0].repo: a case starts from",
            ),
            (
                "cases:\n  - name: a\n    request: x\n    expect: {changed: [a], unchanged: [a]}\n",
                "prompts/evals/helper.yml:4: cases[0].expect.unchanged: `a` is also in `changed`",
            ),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err().to_string();
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn a_fixture_must_really_be_below_the_suites_folder() {
        let root = tempfile::tempdir().unwrap();
        let evals = root.path().join("evals");
        std::fs::create_dir_all(evals.join("fixtures/real")).unwrap();
        std::fs::create_dir_all(root.path().join("secrets")).unwrap();
        std::os::unix::fs::symlink(root.path().join("secrets"), evals.join("fixtures/away"))
            .unwrap();
        let suite = |w: &str| format!("cases:\n  - name: a\n    request: x\n    workspace: {w}\n");
        std::fs::write(evals.join("a.yml"), suite("fixtures/real")).unwrap();
        assert!(load_suite(&evals, "a").unwrap().is_some());
        std::fs::write(evals.join("a.yml"), suite("fixtures/away")).unwrap();
        let e = load_suite(&evals, "a").unwrap_err().to_string();
        assert!(
            e.contains(":4: cases[0].workspace:") && e.contains("leads outside"),
            "{e}"
        );
        std::fs::write(evals.join("a.yml"), suite("fixtures/none")).unwrap();
        let e = load_suite(&evals, "a").unwrap_err().to_string();
        assert!(e.contains("no folder"), "{e}");
        assert!(load_suite(&evals, "b").unwrap().is_none());
    }

    #[test]
    fn only_paths_below_the_root_are_inside() {
        for p in ["a", "a/b.txt", "./a"] {
            assert!(inside(p), "{p}");
        }
        for p in ["", "/a", "../a", "a/../../b", ".", "a/.."] {
            assert!(!inside(p), "{p}");
        }
    }
}
