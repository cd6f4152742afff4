//! Measuring the detector on labelled request pairs (`tests/overlap/*.tsv`): precision and
//! recall at a threshold, and the threshold the tune set supports. Pure.
//!
//! The default threshold is chosen on the tune set only (the lowest score that keeps its
//! precision at `PRECISION_GOAL`); the figures the README reports are the held-out set's.

use super::index::{Doc, Index};
use super::terms::Vocabulary;

/// A false alarm costs a team's trust: the threshold keeps precision at least this high.
pub const PRECISION_GOAL: f64 = 0.9;

#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub same: bool,
    pub a: String,
    pub b: String,
    /// 1-based line in its file.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct PairError {
    pub line: usize,
    pub what: String,
}

/// `label<TAB>request A<TAB>request B` lines; `#` comments and blank lines skipped.
pub fn parse(text: &str) -> Result<Vec<Pair>, PairError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [label, a, b] = cols.as_slice() else {
            return Err(PairError {
                line: line_no,
                what: format!(
                    "{} columns, expected 3 (label, request, request)",
                    cols.len()
                ),
            });
        };
        let same = match *label {
            "same" => true,
            "differ" => false,
            other => {
                return Err(PairError {
                    line: line_no,
                    what: format!("label `{other}`: expected `same` or `differ`"),
                })
            }
        };
        out.push(Pair {
            same,
            a: a.to_string(),
            b: b.to_string(),
            line: line_no,
        });
    }
    Ok(out)
}

/// Each pair's score, with term statistics from every request in the set (as a store full of
/// those jobs would give).
pub fn scores(pairs: &[Pair], vocabulary: Vocabulary) -> Vec<f64> {
    let mut index = Index::new(vocabulary);
    for (i, p) in pairs.iter().enumerate() {
        for (j, text) in [&p.a, &p.b].into_iter().enumerate() {
            index.put(Doc::bare((i * 2 + j) as u64 + 1, text));
        }
    }
    pairs.iter().map(|p| index.score_pair(&p.a, &p.b)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
}

/// Precision and recall when a score at or above `threshold` is called the same work.
pub fn figures(pairs: &[Pair], scores: &[f64], threshold: f64) -> Figures {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (p, s) in pairs.iter().zip(scores) {
        match (p.same, *s >= threshold) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Figures {
        threshold,
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        true_pos: tp,
        false_pos: fp,
        false_neg: fn_,
    }
}

/// The lowest threshold (on a 0.01 grid) whose precision on `pairs` is at least `goal`:
/// the most recall a false-alarm budget allows.
pub fn choose_threshold(pairs: &[Pair], scores: &[f64], goal: f64) -> f64 {
    (1..=100)
        .map(|t| t as f64 / 100.0)
        .find(|t| figures(pairs, scores, *t).precision >= goal)
        .unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reports_bad_lines() {
        let ok = parse("# c\n\nsame\ta b\tc d\ndiffer\tx\ty\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert!(ok[0].same && !ok[1].same);
        assert_eq!(ok[1].line, 4);
        let e = parse("same\tonly two\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: 2 columns, expected 3 (label, request, request)"
        );
        let e = parse("maybe\ta\tb\n").unwrap_err();
        assert!(e.to_string().contains("`maybe`"));
    }

    #[test]
    fn figures_and_threshold() {
        let pairs = parse("same\ta\tb\nsame\ta\tb\ndiffer\ta\tb\ndiffer\ta\tb\n").unwrap();
        let scores = [0.9, 0.4, 0.5, 0.1];
        let f = figures(&pairs, &scores, 0.45);
        assert_eq!((f.true_pos, f.false_pos, f.false_neg), (1, 1, 1));
        assert_eq!(choose_threshold(&pairs, &scores, 0.9), 0.51);
    }
}
