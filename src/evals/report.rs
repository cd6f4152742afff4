//! A suite's results: the table (case × variant → pass/fail, time, cost, why), the
//! comparison of each variant with the first one (the baseline), and the exit status. Pure.

use serde::{Deserialize, Serialize};

/// One way of running the suite: a prompt, a harness and a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    /// `current`, `amendment:3`, `version:v1a2b…`.
    pub prompt: String,
    pub prompt_version: String,
    pub harness: String,
    pub model: Option<String>,
}

impl VariantInfo {
    /// A short column title: only the parts that differ between variants are worth showing,
    /// but all are kept so a reader of one line knows what ran.
    pub fn label(&self) -> String {
        let mut s = format!("{} ({})", self.prompt, self.prompt_version);
        s.push_str(&format!(" · {}", self.harness));
        if let Some(m) = &self.model {
            s.push_str(&format!(" · {m}"));
        }
        s
    }
}

/// One run of one case under one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRun {
    pub case: String,
    pub variant: usize,
    pub passed: bool,
    /// Why it failed, one line each.
    pub failures: Vec<String>,
    pub secs: f64,
    pub cost_usd: Option<f64>,
    /// The judge's reasoning, when a judge scored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<String>,
    /// The MCP tool calls the run made (`server.tool: outcome (ms) arguments`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<String>,
    /// It used a model without a price: its cost is not known.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unpriced: bool,
    /// It failed on the bot's side (a clone, a sandbox, measuring), not on the agent's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub infra: bool,
}

/// A suite's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub agent: String,
    /// The first is the baseline.
    pub variants: Vec<VariantInfo>,
    /// Case names in the suite's order.
    pub cases: Vec<String>,
    pub runs: Vec<CaseRun>,
    /// Runs not made because the budget was spent: (case, variant).
    #[serde(default)]
    pub not_run: Vec<(String, usize)>,
}

/// A case × variant cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub passed: usize,
    pub runs: usize,
    pub secs: f64,
    pub cost_usd: Option<f64>,
}

/// How a variant differs from the baseline on one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Passed (more often) under the baseline than under the variant.
    Regressed {
        case: String,
        variant: usize,
    },
    Fixed {
        case: String,
        variant: usize,
    },
}

impl Report {
    pub fn cell(&self, case: &str, variant: usize) -> Option<Cell> {
        let runs: Vec<&CaseRun> = self
            .runs
            .iter()
            .filter(|r| r.case == case && r.variant == variant)
            .collect();
        if runs.is_empty() {
            return None;
        }
        let costs: Vec<f64> = runs.iter().filter_map(|r| r.cost_usd).collect();
        Some(Cell {
            passed: runs.iter().filter(|r| r.passed).count(),
            runs: runs.len(),
            secs: runs.iter().map(|r| r.secs).sum::<f64>() / runs.len() as f64,
            cost_usd: (!costs.is_empty()).then(|| costs.iter().sum::<f64>() / costs.len() as f64),
        })
    }

    /// Each variant's pass rate against the baseline's, regressions first, in case order.
    pub fn changes(&self) -> Vec<Change> {
        let mut regressed = Vec::new();
        let mut fixed = Vec::new();
        for v in 1..self.variants.len() {
            for case in &self.cases {
                let (Some(base), Some(cell)) = (self.cell(case, 0), self.cell(case, v)) else {
                    continue;
                };
                // Rates, so that a different number of runs compares fairly.
                let (b, c) = (
                    base.passed as f64 / base.runs as f64,
                    cell.passed as f64 / cell.runs as f64,
                );
                if c < b {
                    regressed.push(Change::Regressed {
                        case: case.clone(),
                        variant: v,
                    });
                } else if c > b {
                    fixed.push(Change::Fixed {
                        case: case.clone(),
                        variant: v,
                    });
                }
            }
        }
        regressed.extend(fixed);
        regressed
    }

    /// Passed runs and all runs of a variant.
    pub fn pass_rate(&self, variant: usize) -> (usize, usize) {
        let runs = self.runs.iter().filter(|r| r.variant == variant);
        let (mut passed, mut all) = (0, 0);
        for r in runs {
            all += 1;
            passed += usize::from(r.passed);
        }
        (passed, all)
    }

    /// The exit status of `threadwork eval`: 1 when a variant regresses against the
    /// baseline, or, with a single variant, when a case fails; else 0.
    pub fn exit_code(&self) -> i32 {
        let failed = if self.variants.len() <= 1 {
            self.runs.iter().any(|r| !r.passed)
        } else {
            self.changes()
                .iter()
                .any(|c| matches!(c, Change::Regressed { .. }))
        };
        i32::from(failed)
    }

    /// The table for a terminal: one row per case, one column per variant, then why each
    /// failed run failed, and what changed against the baseline.
    pub fn table(&self) -> String {
        self.render(true)
    }

    fn render(&self, with_changes: bool) -> String {
        let mut out = String::new();
        out.push_str(&format!("eval `{}`\n", self.agent));
        for (i, v) in self.variants.iter().enumerate() {
            let tag = if i == 0 && self.variants.len() > 1 {
                " (baseline)"
            } else {
                ""
            };
            out.push_str(&format!("  [{}] {}{tag}\n", i + 1, v.label()));
        }
        let width = self.cases.iter().map(|c| c.len()).max().unwrap_or(4).max(4);
        out.push_str(&format!("\n{:width$}", "case"));
        for i in 0..self.variants.len() {
            out.push_str(&format!("  {:<24}", format!("[{}]", i + 1)));
        }
        out.push('\n');
        for case in &self.cases {
            out.push_str(&format!("{case:width$}"));
            for v in 0..self.variants.len() {
                out.push_str(&format!("  {:<24}", self.cell_text(case, v)));
            }
            out.push('\n');
        }
        out.push_str(&format!("{:width$}", "passed"));
        for v in 0..self.variants.len() {
            let (p, a) = self.pass_rate(v);
            out.push_str(&format!("  {:<24}", format!("{p}/{a}")));
        }
        out.push('\n');
        let why = self.why_lines();
        if !why.is_empty() {
            out.push('\n');
            for l in why {
                out.push_str(&l);
                out.push('\n');
            }
        }
        let changes = if with_changes {
            self.change_lines(|s| format!("`{s}`"))
        } else {
            vec![]
        };
        if !changes.is_empty() {
            out.push('\n');
            for l in changes {
                out.push_str(&l);
                out.push('\n');
            }
        }
        if !self.not_run.is_empty() {
            out.push_str(&format!(
                "\n{} run{} not made: the eval budget was spent, or a model has no price\n",
                self.not_run.len(),
                if self.not_run.len() == 1 { "" } else { "s" }
            ));
        }
        out
    }

    fn cell_text(&self, case: &str, v: usize) -> String {
        if self.not_run.iter().any(|(c, n)| c == case && *n == v) && self.cell(case, v).is_none() {
            return "not run".into();
        }
        match self.cell(case, v) {
            None => "—".into(),
            Some(c) => {
                let mark = if c.passed == c.runs {
                    "pass".to_string()
                } else if c.passed == 0 {
                    "FAIL".to_string()
                } else {
                    "flaky".to_string()
                };
                let runs = if c.runs > 1 {
                    format!(" {}/{}", c.passed, c.runs)
                } else {
                    String::new()
                };
                let cost = c.cost_usd.map_or(String::new(), |x| format!(" ${x:.4}"));
                format!("{mark}{runs} {:.1}s{cost}", c.secs)
            }
        }
    }

    fn why_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for case in &self.cases {
            for v in 0..self.variants.len() {
                let mut seen = Vec::new();
                for r in self
                    .runs
                    .iter()
                    .filter(|r| &r.case == case && r.variant == v && !r.passed)
                {
                    let why = r.failures.join("; ");
                    if !seen.contains(&why) {
                        out.push(format!("{case} [{}]: {why}", v + 1));
                        seen.push(why);
                    }
                }
            }
        }
        out
    }

    /// "regressed" and "fixed" lines, regressions first; `code` formats a case name.
    fn change_lines(&self, code: impl Fn(&str) -> String) -> Vec<String> {
        self.changes()
            .iter()
            .map(|c| match c {
                Change::Regressed { case, variant } => {
                    format!("REGRESSED {} under [{}]", code(case), variant + 1)
                }
                Change::Fixed { case, variant } => {
                    format!("fixed {} under [{}]", code(case), variant + 1)
                }
            })
            .collect()
    }

    /// The table for Slack (mrkdwn; the caller escapes nothing: every text here is the
    /// bot's own or a case name, and failure reasons are escaped).
    pub fn mrkdwn(&self) -> String {
        use crate::chat::mrkdwn::escape;
        let mut out = Vec::new();
        let changes = self.change_lines(|s| format!("`{}`", escape(s)));
        for l in &changes {
            if let Some(rest) = l.strip_prefix("REGRESSED ") {
                out.push(format!(":x: *regressed* {rest}"));
            } else if let Some(rest) = l.strip_prefix("fixed ") {
                out.push(format!(":white_check_mark: *fixed* {rest}"));
            }
        }
        if self.variants.len() > 1 && changes.is_empty() {
            if self.not_run.is_empty() {
                out.push("No case changed between the variants.".into());
            } else {
                out.push("No case changed among the runs made.".into());
            }
        }
        if !self.not_run.is_empty() {
            out.push(format!(
                ":warning: {} run{} not made: the budget was spent, or a model has no price",
                self.not_run.len(),
                if self.not_run.len() == 1 { "" } else { "s" }
            ));
        }
        for (i, v) in self.variants.iter().enumerate() {
            let (p, a) = self.pass_rate(i);
            let base = if i == 0 && self.variants.len() > 1 {
                " (baseline)"
            } else {
                ""
            };
            out.push(format!(
                "[{}] {}{base}: *{p}/{a}* passed",
                i + 1,
                escape(&v.label())
            ));
        }
        let mut rows = vec!["```".to_string()];
        // The changes are said above the block already. Failure reasons may hold text from
        // the run (a harness's error, a command's output): no backtick of theirs may close
        // the block and let the rest render as the bot's own words.
        for l in self.render(false).lines().skip(1 + self.variants.len()) {
            rows.push(escape(&crate::text::clip(l, 400)).replace('`', "ˋ"));
        }
        rows.push("```".into());
        out.push(rows.join("\n"));
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(prompt: &str) -> VariantInfo {
        VariantInfo {
            prompt: prompt.into(),
            prompt_version: "v1".into(),
            harness: "claude".into(),
            model: None,
        }
    }

    fn run(case: &str, variant: usize, passed: bool) -> CaseRun {
        CaseRun {
            case: case.into(),
            variant,
            passed,
            failures: if passed {
                vec![]
            } else {
                vec![format!("{case} went wrong")]
            },
            secs: 2.0,
            cost_usd: Some(0.01),
            judge: None,
            tool_calls: vec![],
            unpriced: false,
            infra: false,
        }
    }

    fn report(runs: Vec<CaseRun>, variants: usize) -> Report {
        Report {
            agent: "helper".into(),
            variants: (0..variants)
                .map(|i| variant(if i == 0 { "current" } else { "amendment:2" }))
                .collect(),
            cases: vec!["alpha".into(), "beta".into(), "gamma".into()],
            runs,
            not_run: vec![],
        }
    }

    #[test]
    fn a_regression_is_listed_before_a_fix_and_sets_the_exit_status() {
        let r = report(
            vec![
                run("alpha", 0, false),
                run("alpha", 1, true),
                run("beta", 0, true),
                run("beta", 1, false),
                run("gamma", 0, true),
                run("gamma", 1, true),
            ],
            2,
        );
        assert_eq!(
            r.changes(),
            [
                Change::Regressed {
                    case: "beta".into(),
                    variant: 1
                },
                Change::Fixed {
                    case: "alpha".into(),
                    variant: 1
                },
            ]
        );
        assert_eq!(r.exit_code(), 1);
        let text = r.table();
        assert!(text.contains("REGRESSED `beta` under [2]"), "{text}");
        assert!(
            text.find("REGRESSED").unwrap() < text.find("fixed").unwrap(),
            "{text}"
        );
        assert!(text.contains("beta [2]: beta went wrong"), "{text}");
        let slack = r.mrkdwn();
        assert!(
            slack.starts_with(":x: *regressed* `beta` under [2]"),
            "{slack}"
        );
    }

    #[test]
    fn a_fix_alone_is_no_failure_and_one_variant_fails_on_any_failed_case() {
        let fixed_only = report(
            vec![
                run("alpha", 0, false),
                run("alpha", 1, true),
                run("beta", 0, true),
                run("beta", 1, true),
            ],
            2,
        );
        assert_eq!(fixed_only.exit_code(), 0);
        let one = report(vec![run("alpha", 0, true), run("beta", 0, false)], 1);
        assert_eq!(one.exit_code(), 1);
        let green = report(vec![run("alpha", 0, true), run("beta", 0, true)], 1);
        assert_eq!(green.exit_code(), 0);
    }

    #[test]
    fn several_runs_compare_as_rates() {
        let r = report(
            vec![
                run("alpha", 0, true),
                run("alpha", 0, false),
                run("alpha", 1, true),
            ],
            2,
        );
        assert_eq!(r.cell("alpha", 0).map(|c| (c.passed, c.runs)), Some((1, 2)));
        assert!(r.table().contains("flaky 1/2"), "{}", r.table());
        assert_eq!(r.exit_code(), 0, "1/1 beats 1/2");
    }
}
