//! What a case's run left, and whether its checks hold. Pure: the runner (`run`) measures
//! the workspace and runs the command and the judge; this decides.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::case::Case;

/// A workspace's files: relative path → content hash (a link by its target).
pub type Snapshot = BTreeMap<String, [u8; 32]>;

/// Files created, changed or removed between two snapshots, in path order.
pub fn changed_files(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    crate::jobs::changes::changed(before, after)
}

/// `path` names `file` or a folder holding it.
fn covers(path: &str, file: &str) -> bool {
    let path = path.trim_start_matches("./").trim_end_matches('/');
    file == path || file.starts_with(&format!("{path}/"))
}

/// The command check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOutcome {
    /// Its exit status; none when it was killed (time limit) or did not start.
    pub code: Option<i64>,
    /// The last lines of what it printed, or why it did not run.
    pub tail: String,
}

/// A judge model's verdict on the rubric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub pass: bool,
    pub reason: String,
}

/// What one run of a case produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The harness's answer, when it finished.
    pub answer: Option<String>,
    /// Why the run failed (the harness's error, the time limit, a sandbox that did not start).
    pub error: Option<String>,
    pub changed: Vec<String>,
    pub cost_usd: Option<f64>,
    pub elapsed: Duration,
    pub command: Option<CommandOutcome>,
    /// The judge's verdict; `None` with a rubric when no judge is configured.
    pub judge: Option<Result<Judged, String>>,
}

/// Why the case failed, one line each; empty when it passed. A rubric without a judge is
/// not a failure (it is reported as not scored).
pub fn failures(case: &Case, o: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &o.error {
        out.push(format!("the run failed: {e}"));
    }
    let answer = o.answer.as_deref().unwrap_or("");
    if o.error.is_none() || o.answer.is_some() {
        if let Some(p) = &case.expect.answer {
            if !p.is_match(answer) {
                out.push(format!("the answer does not match `{}`", p.as_str()));
            }
        }
        if let Some(p) = &case.expect.answer_not {
            if p.is_match(answer) {
                out.push(format!("the answer matches `{}`", p.as_str()));
            }
        }
    }
    for want in &case.expect.changed {
        if !o.changed.iter().any(|f| covers(want, f)) {
            out.push(format!("`{want}` was not changed"));
        }
    }
    for keep in &case.expect.unchanged {
        if let Some(f) = o.changed.iter().find(|f| covers(keep, f)) {
            out.push(format!("`{f}` was changed"));
        }
    }
    if let (Some(limit), Some(cost)) = (case.limits.cost_usd, o.cost_usd) {
        if cost > limit {
            out.push(format!("cost ${cost:.4}, over the case's ${limit:.4}"));
        }
    }
    if case.expect.command.is_some() {
        match &o.command {
            Some(CommandOutcome { code: Some(0), .. }) => {}
            Some(CommandOutcome { code, tail }) => {
                let status = code.map_or("did not finish".to_string(), |c| format!("exited {c}"));
                let tail = tail.trim();
                if tail.is_empty() {
                    out.push(format!("the command check {status}"));
                } else {
                    out.push(format!("the command check {status}: {tail}"));
                }
            }
            None if o.error.is_none() => out.push("the command check did not run".into()),
            None => {}
        }
    }
    if case.expect.rubric.is_some() {
        match &o.judge {
            Some(Ok(j)) if !j.pass => out.push(format!("the judge: {}", j.reason)),
            Some(Err(e)) => out.push(format!("the judge could not score it: {e}")),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evals::case::parse_suite;
    use std::path::Path;

    fn case(expect: &str) -> Case {
        let text = format!("cases:\n  - name: a\n    request: x\n    limits: {{cost_usd: 0.5}}\n    expect: {expect}\n");
        parse_suite(Path::new("s.yml"), "a", &text).unwrap().cases[0].clone()
    }

    fn snap(files: &[(&str, u8)]) -> Snapshot {
        files
            .iter()
            .map(|(p, h)| (p.to_string(), [*h; 32]))
            .collect()
    }

    #[test]
    fn changed_files_are_new_edited_and_removed_ones() {
        let before = snap(&[("a", 1), ("b", 2), ("gone", 3)]);
        let after = snap(&[("a", 1), ("b", 9), ("new/c", 4)]);
        assert_eq!(changed_files(&before, &after), ["b", "gone", "new/c"]);
    }

    #[test]
    fn each_check_fails_with_its_reason() {
        let c = case("{answer: \"(?i)done\", answer_not: secret, changed: [src], unchanged: [README.md], command: \"true\"}");
        let good = Outcome {
            answer: Some("Done.".into()),
            changed: vec!["src/lib.rs".into()],
            cost_usd: Some(0.1),
            command: Some(CommandOutcome {
                code: Some(0),
                tail: String::new(),
            }),
            ..Outcome::default()
        };
        assert!(failures(&c, &good).is_empty(), "{:?}", failures(&c, &good));
        let bad = Outcome {
            answer: Some("the secret is out".into()),
            changed: vec!["README.md".into()],
            cost_usd: Some(0.75),
            command: Some(CommandOutcome {
                code: Some(1),
                tail: "FAILED: 1 test\n".into(),
            }),
            ..Outcome::default()
        };
        assert_eq!(
            failures(&c, &bad),
            [
                "the answer does not match `(?i)done`",
                "the answer matches `secret`",
                "`src` was not changed",
                "`README.md` was changed",
                "cost $0.7500, over the case's $0.5000",
                "the command check exited 1: FAILED: 1 test",
            ]
        );
    }

    #[test]
    fn a_failed_run_says_why_first_and_skips_what_it_could_not_check() {
        let c = case("{answer: done, command: \"true\"}");
        let o = Outcome {
            error: Some("time limit of 60s reached".into()),
            ..Outcome::default()
        };
        assert_eq!(
            failures(&c, &o),
            ["the run failed: time limit of 60s reached"]
        );
    }

    #[test]
    fn a_rubric_fails_only_on_the_judges_word() {
        let c = case("{rubric: \"polite\"}");
        let mut o = Outcome {
            answer: Some("ok".into()),
            ..Outcome::default()
        };
        assert!(failures(&c, &o).is_empty(), "not configured: not scored");
        o.judge = Some(Ok(Judged {
            pass: false,
            reason: "it is curt".into(),
        }));
        assert_eq!(failures(&c, &o), ["the judge: it is curt"]);
        o.judge = Some(Err("no verdict in its answer".into()));
        assert_eq!(
            failures(&c, &o),
            ["the judge could not score it: no verdict in its answer"]
        );
    }
}
