//! The overlap detector measured on labelled request pairs: the default threshold is the one
//! the tune set supports. The held-out figures are printed (and quoted in the README); they
//! do not yet meet the goal (precision 0.9, recall 0.7), so they are not asserted.

use threadwork::overlap::quality::{self, choose_threshold, figures, PRECISION_GOAL};
use threadwork::overlap::Vocabulary;

fn load(name: &str) -> Vec<quality::Pair> {
    let path = format!("{}/tests/overlap/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    quality::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_default_threshold_is_the_one_the_tune_set_supports() {
    let tune = load("tune.tsv");
    let holdout = load("holdout.tsv");
    assert!(tune.len() >= 60 && holdout.len() >= 60);
    let tune_scores = quality::scores(&tune, Vocabulary::default());
    let chosen = choose_threshold(&tune, &tune_scores, PRECISION_GOAL);
    let hold_scores = quality::scores(&holdout, Vocabulary::default());
    let t = figures(&tune, &tune_scores, chosen);
    let h = figures(&holdout, &hold_scores, chosen);
    println!("tune at {chosen:.2}: {t:?}\nholdout at {chosen:.2}: {h:?}");
    if std::env::var("OVERLAP_DUMP").is_ok() {
        for (p, s) in tune.iter().zip(tune_scores.iter()) {
            let wrong = p.same != (*s >= chosen);
            let label = if p.same { "same" } else { "diff" };
            let mark = if wrong { "XX" } else { "  " };
            println!("{mark} {s:.3} {label} | {} | {}", p.a, p.b);
        }
    }
    // The shipped default is what the tune set chooses: change the scoring, choose again.
    assert_eq!(
        threadwork::overlap::DEFAULT_THRESHOLD,
        chosen,
        "the default threshold is no longer the one the tune set supports"
    );
    assert!(t.precision >= PRECISION_GOAL);
}
