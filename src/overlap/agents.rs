//! Agents that duplicate each other: each agent's description and role prompt compared with
//! the others' by the same index and score as requests. Pure; the bot tells the admin channel
//! when a prompt file change makes a new pair, and the directory shows the pairs.

use chrono::{DateTime, Utc};

use super::index::{Doc, Index, Scope};
use super::terms::Vocabulary;

/// Two agents that look like the same agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Twin {
    pub a: String,
    pub b: String,
    pub score: f64,
}

/// The text an agent is compared by: what it says it does and how it is told to work.
pub fn text_of(description: &str, prompt: &str) -> String {
    format!("{description}\n{prompt}")
}

/// Every pair of `agents` (name, text) scoring at least `threshold`, each pair once (`a`
/// before `b` by name), best first.
pub fn twins(agents: &[(String, String)], vocabulary: Vocabulary, threshold: f64) -> Vec<Twin> {
    let mut index = Index::new(vocabulary);
    for (i, (_, text)) in agents.iter().enumerate() {
        index.put(Doc::bare(i as u64, text));
    }
    let mut out: Vec<Twin> = Vec::new();
    for (i, (name, text)) in agents.iter().enumerate() {
        let scope = Scope {
            since: DateTime::<Utc>::MIN_UTC,
            thread: None,
            exclude: Some(i as u64),
        };
        for m in index.query(text, None, &scope, threshold, agents.len()) {
            let other = &agents[m.job as usize].0;
            let (a, b) = if name < other {
                (name, other)
            } else {
                (other, name)
            };
            match out.iter_mut().find(|t| &t.a == a && &t.b == b) {
                Some(t) => t.score = t.score.max(m.score),
                None => out.push(Twin {
                    a: a.clone(),
                    b: b.clone(),
                    score: m.score,
                }),
            }
        }
    }
    out.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.a.cmp(&y.a)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str, description: &str, prompt: &str) -> (String, String) {
        (name.to_string(), text_of(description, prompt))
    }

    #[test]
    fn a_copy_under_another_name_is_a_twin_and_other_work_is_not() {
        let agents = vec![
            agent(
                "oncall-bot",
                "Posts the weekly on-call rota",
                "Read the PagerDuty schedule and post who is on call this week to the channel.",
            ),
            agent(
                "rota-poster",
                "Posts the on-call rota every week",
                "Read the PagerDuty schedule and post this week's on-call person to the channel.",
            ),
            agent(
                "coder",
                "Writes code",
                "You fix bugs and open pull requests with tests.",
            ),
        ];
        let found = twins(
            &agents,
            Vocabulary::default(),
            crate::overlap::DEFAULT_THRESHOLD,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].a.as_str(), found[0].b.as_str()),
            ("oncall-bot", "rota-poster")
        );
    }
}
