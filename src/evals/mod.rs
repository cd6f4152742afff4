//! Evals: every agent may have a suite of cases (`case`), run in sandboxes exactly as jobs
//! run (`run`), checked (`check`, and a judge model for rubrics: `judge`) and compared across
//! prompt versions, harnesses and models (`report`). Approved results become cases
//! (`ApprovedCase`, `export`).
//!
//! ```text
//! <[evals] dir>/<agent>.yml ─ case::load_suite ─┐
//! --prompt current|amendment:<n>|version:<v> ───┼─ variants (pure) ─ run::Evaluator::run_suite
//!   × --harness a,b × --model m                 ┘   (≤ max_running at once, each case in a
//!                                                    fresh workspace, grant, sandbox, checks)
//!                                                 ─ report::Report → table / JSON / Slack
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::agents::Agent;
use crate::amendments::{Amendment, AmendmentStatus};
use crate::prompts::{effective_prompt, Fragment};

pub mod case;
pub mod check;
pub mod judge;
pub mod report;
pub mod run;

/// `[evals]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvalSettings {
    /// Where suites live: `<dir>/<agent>.yml`, fixture folders beside them.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// When an amendment is proposed, run the agent's suite with and without it and post
    /// the comparison under the proposal.
    #[serde(default = "yes")]
    pub on_amendment: bool,
    /// When an agent's prompt file changes, run its suite on the old and the new prompt and
    /// post the comparison to `[agents] admin_channel`.
    #[serde(default)]
    pub on_prompt_change: bool,
    /// What one comparison the bot starts by itself may spend (model cost through the
    /// proxy); runs not started when it is spent are reported as not run.
    #[serde(default = "default_budget")]
    pub budget_usd: f64,
    /// A judge model for `rubric:` checks; rubrics are not scored without it.
    #[serde(default)]
    pub judge: Option<judge::JudgeSettings>,
}

impl Default for EvalSettings {
    fn default() -> Self {
        Self {
            dir: default_dir(),
            on_amendment: true,
            on_prompt_change: false,
            budget_usd: default_budget(),
            judge: None,
        }
    }
}

fn default_dir() -> PathBuf {
    PathBuf::from("prompts/evals")
}
fn default_budget() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// An approved result kept as a regression case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovedCase {
    pub agent: String,
    pub job: u64,
    /// Who approved it, and when.
    pub by: String,
    pub at: DateTime<Utc>,
    pub request: String,
    /// The thread before the request (as "name: text").
    #[serde(default)]
    pub thread: Vec<String>,
    /// The repository the job worked on, when it had one, its base branch and the commit the
    /// job started from.
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    /// The job continued an earlier one's workspace.
    #[serde(default)]
    pub follow_up: bool,
    /// Files the run changed (relative to the workspace).
    #[serde(default)]
    pub changed: Vec<String>,
    pub answer: String,
    pub prompt_version: Option<String>,
}

/// How a prompt version did on its agent's suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionResult {
    pub agent: String,
    pub version: String,
    pub passed: usize,
    pub runs: usize,
    pub at: DateTime<Utc>,
}

/// Which prompt a variant runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptPick {
    /// The prompt jobs get now (file, fragments, active amendments).
    Current,
    /// The current prompt with amendment `n` in force (proposed or not).
    Amendment(u32),
    /// The current prompt without amendment `n` (to see what an active one does).
    Without(u32),
    /// A stored prompt version's text.
    Version(String),
}

impl PromptPick {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let number = |n: &str| {
            n.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{n}` is not an amendment number"))
        };
        match s.split_once(':') {
            None if s == "current" => Ok(Self::Current),
            Some(("amendment", n)) => number(n).map(Self::Amendment),
            Some(("without", n)) => number(n).map(Self::Without),
            // A version is `v` and hex digits: nothing else reaches a store key or a URL.
            Some(("version", v))
                if v.len() > 1
                    && v.len() <= 65
                    && v.starts_with('v')
                    && v[1..].chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                Ok(Self::Version(v.to_string()))
            }
            _ => Err(format!(
                "`{s}` is not a prompt: use current, amendment:<n>, without:<n> or version:<v>"
            )),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Self::Current => "current".into(),
            Self::Amendment(n) => format!("amendment:{n}"),
            Self::Without(n) => format!("without:{n}"),
            Self::Version(v) => format!("version:{v}"),
        }
    }
}

/// The role prompt and version a pick stands for. `stored` looks up a version's text (only
/// versions of this agent: the caller checks). Pure.
pub fn pick_prompt(
    pick: &PromptPick,
    agent: &Agent,
    fragments: &BTreeMap<String, Fragment>,
    amendments: &[Amendment],
    stored: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, String), String> {
    let with = |n: u32, on: bool| -> Result<(String, String), String> {
        let mut list = amendments.to_vec();
        let Some(a) = list
            .iter_mut()
            .find(|a| a.number == n && a.agent == agent.name)
        else {
            return Err(format!("`{}` has no amendment #{n}", agent.name));
        };
        a.status = if on {
            AmendmentStatus::Active
        } else {
            AmendmentStatus::Reverted
        };
        let p = effective_prompt(agent, fragments, &list);
        Ok((p.text, p.version))
    };
    match pick {
        PromptPick::Current => {
            let p = effective_prompt(agent, fragments, amendments);
            Ok((p.text, p.version))
        }
        PromptPick::Amendment(n) => with(*n, true),
        PromptPick::Without(n) => with(*n, false),
        PromptPick::Version(v) => stored(v)
            .map(|text| (text, v.clone()))
            .ok_or_else(|| format!("`{v}` is not a prompt version of `{}`", agent.name)),
    }
}

/// What `eval` was asked to compare: the variants, baseline first (prompts × harnesses ×
/// models, in the order given). Harnesses default to the agent's own; each must be one it
/// may run on.
pub fn variants(
    agent: &Agent,
    prompts: &[(PromptPick, String, String)],
    harnesses: &[String],
    models: &[String],
    configured: &dyn Fn(&str) -> bool,
) -> Result<Vec<run::Variant>, String> {
    let own = [agent.harness.clone()];
    let harnesses = if harnesses.is_empty() {
        &own[..]
    } else {
        harnesses
    };
    for h in harnesses {
        if !configured(h) {
            return Err(format!("harness `{h}` is not configured"));
        }
    }
    let no_model = [None];
    let picked: Vec<Option<String>> = models.iter().cloned().map(Some).collect();
    let models: &[Option<String>] = if picked.is_empty() {
        &no_model
    } else {
        &picked
    };
    let allowed = crate::jobs::plan::allowed_models(Some(agent));
    for m in models.iter().flatten() {
        if !allowed.is_empty() && !allowed.contains(m) {
            return Err(format!(
                "`{}` may not use model `{m}` (its models: {})",
                agent.name,
                allowed.join(", ")
            ));
        }
    }
    let mut out = Vec::new();
    for (pick, text, version) in prompts {
        for h in harnesses {
            for m in models {
                out.push(run::Variant {
                    info: report::VariantInfo {
                        prompt: pick.label(),
                        prompt_version: version.clone(),
                        harness: h.clone(),
                        model: m.clone(),
                    },
                    role_prompt: text.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The approved cases as a suite file an admin can commit. A case's check is what was
/// approved: the files it changed, and the first line of its answer (as a literal pattern;
/// loosen it by hand). A job on a repository starts from the commit it started from; one
/// that continued an earlier job's workspace cannot be replayed as it was, and the file says
/// so in a comment.
pub fn export(cases: &[ApprovedCase]) -> String {
    let mut out = String::from(
        "# Regression cases made from approved results (`threadwork eval export`).\n# Each `expect` is what was approved; loosen the answer pattern where wording may vary.\ncases:\n",
    );
    for c in cases {
        let first_line = c
            .answer
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let head: String = first_line.chars().take(80).collect();
        let file = case::CaseFile {
            name: format!("approved-job-{}", c.job),
            request: c.request.clone(),
            thread: c.thread.clone(),
            repo: c.repo.clone(),
            branch: c.repo.as_ref().and(c.branch.clone()),
            commit: c.repo.as_ref().and(c.commit.clone()),
            expect: case::ExpectFile {
                answer: (!head.is_empty()).then(|| regex::escape(&head)),
                changed: c.changed.clone(),
                ..case::ExpectFile::default()
            },
            approved: Some(case::ApprovedFile {
                job: c.job,
                by: c.by.clone(),
                answer: c.answer.clone(),
                files: c.changed.clone(),
            }),
            ..case::CaseFile::default()
        };
        if c.follow_up {
            out.push_str(&format!(
                "  # job {} continued an earlier job's workspace: this case starts from {}; add what it needs with `files:`\n",
                c.job,
                match &c.repo {
                    Some(r) => format!("{r} where the thread's first job started"),
                    None => "an empty workspace".into(),
                }
            ));
        }
        let yaml = serde_norway::to_string(&vec![file]).unwrap_or_default();
        for line in yaml.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A job's changed files as the transcript named them, relative to the workspace (whose
/// paths, inside and outside the sandbox, are `roots`).
pub fn changed_from_transcript(
    entries: &[crate::store::TranscriptEntry],
    roots: &[String],
) -> Vec<String> {
    let prefixes: Vec<String> = roots
        .iter()
        .map(|r| format!("{}/", r.trim_end_matches('/')))
        .collect();
    let mut out: Vec<String> = entries
        .iter()
        .filter_map(|e| match &e.event {
            crate::harness::HarnessEvent::FileChanged { path } => {
                let rel = prefixes
                    .iter()
                    .find_map(|p| path.strip_prefix(p.as_str()))
                    .unwrap_or(path);
                case::inside(rel).then(|| rel.trim_start_matches("./").to_string())
            }
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn agent() -> Agent {
        crate::agents::parse_agent(
            Path::new("prompts/agents/helper.md"),
            "---\nname: helper\ndescription: helps\nharness: claude\nmodels: [small, large]\nowners: [U0OWNER01]\n---\nBe helpful.\n",
            crate::agents::Known {
                harnesses: &["claude", "codex"],
                fragments: &[],
            },
        )
        .unwrap()
    }

    fn amendment(n: u32, status: AmendmentStatus) -> Amendment {
        Amendment {
            agent: "helper".into(),
            number: n,
            text: format!("rule {n}"),
            author: "U1".into(),
            permalink: None,
            job: None,
            channel: "C1".into(),
            message_ts: None,
            created_at: Utc::now(),
            status,
            decided_by: None,
            decided_at: None,
        }
    }

    #[test]
    fn prompt_picks_parse_and_say_what_is_wrong() {
        assert_eq!(PromptPick::parse("current"), Ok(PromptPick::Current));
        assert_eq!(
            PromptPick::parse("amendment:3"),
            Ok(PromptPick::Amendment(3))
        );
        assert_eq!(PromptPick::parse("without:2"), Ok(PromptPick::Without(2)));
        assert_eq!(
            PromptPick::parse("version:v0123"),
            Ok(PromptPick::Version("v0123".into()))
        );
        for bad in [
            "",
            "amendment:x",
            "amendment:0",
            "version:",
            "version:../store/backup",
            "version:vxyz",
            "latest",
        ] {
            let e = PromptPick::parse(bad).unwrap_err();
            assert!(e.contains("is not"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_amendment_pick_puts_a_proposal_in_force_and_changes_the_version() {
        let a = agent();
        let list = [
            amendment(1, AmendmentStatus::Active),
            amendment(2, AmendmentStatus::Proposed),
        ];
        let none = |_: &str| None;
        let (cur, v_cur) =
            pick_prompt(&PromptPick::Current, &a, &BTreeMap::new(), &list, &none).unwrap();
        let (with, v_with) = pick_prompt(
            &PromptPick::Amendment(2),
            &a,
            &BTreeMap::new(),
            &list,
            &none,
        )
        .unwrap();
        let (without, _) =
            pick_prompt(&PromptPick::Without(1), &a, &BTreeMap::new(), &list, &none).unwrap();
        assert!(cur.contains("rule 1") && !cur.contains("rule 2"));
        assert!(with.contains("rule 1") && with.contains("rule 2"));
        assert!(!without.contains("rule 1"));
        assert_ne!(v_cur, v_with);
        let e = pick_prompt(
            &PromptPick::Amendment(9),
            &a,
            &BTreeMap::new(),
            &list,
            &none,
        )
        .unwrap_err();
        assert_eq!(e, "`helper` has no amendment #9");
        let e = pick_prompt(
            &PromptPick::Version("v9".into()),
            &a,
            &BTreeMap::new(),
            &list,
            &none,
        )
        .unwrap_err();
        assert_eq!(e, "`v9` is not a prompt version of `helper`");
    }

    #[test]
    fn variants_cross_prompts_harnesses_and_models_with_the_baseline_first() {
        let a = agent();
        let prompts = vec![
            (PromptPick::Current, "p1".to_string(), "v1".to_string()),
            (PromptPick::Amendment(2), "p2".to_string(), "v2".to_string()),
        ];
        let configured = |h: &str| h == "claude" || h == "codex";
        let v = variants(
            &a,
            &prompts,
            &["claude".into(), "codex".into()],
            &[],
            &configured,
        )
        .unwrap();
        let labels: Vec<String> = v.iter().map(|v| v.info.label()).collect();
        assert_eq!(
            labels,
            [
                "current (v1) · claude",
                "current (v1) · codex",
                "amendment:2 (v2) · claude",
                "amendment:2 (v2) · codex"
            ]
        );
        let e = variants(&a, &prompts, &["pi".into()], &[], &configured).unwrap_err();
        assert_eq!(e, "harness `pi` is not configured");
        let e = variants(&a, &prompts, &[], &["huge".into()], &configured).unwrap_err();
        assert!(e.starts_with("`helper` may not use model `huge`"), "{e}");
    }

    #[test]
    fn an_export_is_a_suite_file_that_parses_and_checks_what_was_approved() {
        let c = ApprovedCase {
            agent: "helper".into(),
            job: 7,
            by: "U0OWNER01".into(),
            at: Utc::now(),
            request: "write hello.txt".into(),
            thread: vec!["Alice: in English".into()],
            repo: Some("acme/web".into()),
            branch: Some("main".into()),
            commit: Some("1a2b3c4d5e6f".into()),
            follow_up: false,
            changed: vec!["hello.txt".into()],
            answer: "Done (1 file): hello.txt [ok]\nmore".into(),
            prompt_version: Some("v1".into()),
        };
        let text = export(&[c]);
        let suite = case::parse_suite(Path::new("helper.yml"), "helper", &text).unwrap();
        let case = &suite.cases[0];
        assert_eq!(case.name, "approved-job-7");
        assert_eq!(case.expect.changed, ["hello.txt"]);
        let repo = case.start.repo.as_ref().unwrap();
        assert_eq!(
            (
                repo.repo.as_str(),
                repo.branch.as_deref(),
                repo.commit.as_deref()
            ),
            ("acme/web", Some("main"), Some("1a2b3c4d5e6f"))
        );
        let pattern = case.expect.answer.as_ref().unwrap();
        assert!(pattern.is_match("Done (1 file): hello.txt [ok]"));
        assert!(!pattern.is_match("Done (2 files)"));
    }
}
