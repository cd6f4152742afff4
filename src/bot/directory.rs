//! The agent directory: every agent with its description, harness, model, owners, recent runs,
//! success and approval rates, prompt version and active amendments. Rendering is pure; the
//! links to recent results are looked up by the caller.

use chrono::{DateTime, Duration, Utc};

use crate::agents::Agent;
use crate::job::{Job, JobState, Origin};
use crate::schedules::Planned;

/// Figures for one agent over the last seven days.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentStats {
    pub runs_7d: usize,
    pub succeeded_7d: usize,
    pub finished_7d: usize,
    /// Approved / judged, over the results of the last seven days that were judged.
    pub approved_7d: usize,
    pub judged_7d: usize,
    /// The latest results (newest first), at most three.
    pub recent: Vec<(u64, JobState)>,
}

pub fn stats(agent: &str, jobs: &[Job], now: DateTime<Utc>) -> AgentStats {
    let since = now - Duration::days(7);
    let recent_jobs: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.agent == agent && j.created_at >= since)
        .collect();
    let finished: Vec<&&Job> = recent_jobs
        .iter()
        .filter(|j| j.state.is_terminal())
        .collect();
    let judged: Vec<&&Job> = recent_jobs.iter().filter(|j| j.verdict.is_some()).collect();
    let mut latest: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.agent == agent && j.state.is_terminal())
        .collect();
    latest.sort_by_key(|j| std::cmp::Reverse(j.id));
    AgentStats {
        runs_7d: recent_jobs.len(),
        succeeded_7d: finished
            .iter()
            .filter(|j| j.state == JobState::Succeeded)
            .count(),
        finished_7d: finished.len(),
        approved_7d: judged
            .iter()
            .filter(|j| j.verdict.as_ref().is_some_and(|v| v.approved))
            .count(),
        judged_7d: judged.len(),
        recent: latest.iter().take(3).map(|j| (j.id, j.state)).collect(),
    }
}

fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        crate::text::code_list(names)
    }
}

fn rate(part: usize, whole: usize) -> String {
    match (part * 100).checked_div(whole) {
        Some(p) => format!("{p}%"),
        None => "—".to_string(),
    }
}

/// An agent's schedules (next runs in the viewer's time zone `tz`), triggers and last
/// automated runs (newest first); `None` for an agent that only runs when mentioned.
pub fn render_automation(
    agent: &Agent,
    planned: &[Planned],
    last: &[&Job],
    tz: chrono_tz::Tz,
) -> Option<String> {
    if agent.schedules.is_empty() && agent.triggers.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    for s in &agent.schedules {
        let next = planned
            .iter()
            .find(|p| p.agent == agent.name && p.schedule == s.name)
            .and_then(|p| p.next);
        let next = match next {
            Some(t) => t
                .with_timezone(&tz)
                .format("%a %Y-%m-%d %H:%M %Z")
                .to_string(),
            None => "not planned yet".to_string(),
        };
        lines.push(format!(
            "schedule `{}`: `{}` ({}) in <#{}> · next {next}{}",
            s.name,
            code_text(s.cron.as_str()),
            s.timezone.name(),
            s.channel,
            match s.catch_up {
                crate::schedules::CatchUp::Once => " · catches up once",
                crate::schedules::CatchUp::Skip => "",
            }
        ));
    }
    for t in &agent.triggers {
        let from = if t.from.is_empty() {
            String::new()
        } else {
            format!(" from {}", crate::text::code_list(&t.from))
        };
        lines.push(format!(
            "trigger `{}`: `{}` in {}{from} · once per {} per key",
            t.name,
            code_text(t.pattern.as_str()),
            t.channels
                .iter()
                .map(|c| format!("<#{c}>"))
                .collect::<Vec<_>>()
                .join(", "),
            crate::jobs::card::duration(t.debounce_secs as i64),
        ));
    }
    lines.push(format!(
        "at most {} runs on its own per hour",
        agent.max_runs_per_hour
    ));
    if !last.is_empty() {
        let runs: Vec<String> = last
            .iter()
            .map(|j| {
                let what = match &j.origin {
                    Some(Origin::Schedule { name, .. } | Origin::Trigger { name, .. }) => {
                        name.as_str()
                    }
                    None => "?",
                };
                format!("job {} (`{what}`, {})", j.id, j.state.label())
            })
            .collect();
        lines.push(format!("last runs: {}", runs.join(" · ")));
    }
    Some(lines.join("\n"))
}

/// Text for inside a `code` span: escaped, and no backtick to end the span early.
fn code_text(s: &str) -> String {
    crate::chat::mrkdwn::escape(&s.replace('`', "'"))
}

/// The eval line of an agent's entry: the current version's pass rate (or "not run"), then
/// the latest other versions' (at most three, newest first). `None` without a suite.
pub fn render_evals(
    has_suite: bool,
    current: &str,
    results: &[crate::evals::VersionResult],
) -> Option<String> {
    if !has_suite && results.is_empty() {
        return None;
    }
    let mut others: Vec<&crate::evals::VersionResult> =
        results.iter().filter(|r| r.version != current).collect();
    others.sort_by_key(|r| std::cmp::Reverse(r.at));
    let now = match results.iter().find(|r| r.version == current) {
        Some(r) => format!("`{current}` {}/{} passed", r.passed, r.runs),
        None => format!("`{current}` not run yet"),
    };
    let mut line = format!("evals: {now}");
    for r in others.iter().take(3) {
        line.push_str(&format!(" · `{}` {}/{}", r.version, r.passed, r.runs));
    }
    Some(line)
}

/// One agent's entry. `links` are permalinks of the recent results, aligned with `stats.recent`.
pub fn render_entry(
    agent: &Agent,
    stats: &AgentStats,
    version: &str,
    active_amendments: usize,
    links: &[Option<String>],
) -> String {
    let owners = crate::text::user_mentions(&agent.owners).unwrap_or_else(|| "none".to_string());
    let mut out = format!(
        "*{}* — {}\nharness `{}`{} · model `{}` · owners {owners}\nprompt `{version}` · {active_amendments} active amendment{}\nlast 7 days: {} run{} · success {} · approval {}",
        agent.name,
        crate::chat::mrkdwn::escape(&agent.description),
        agent.harness,
        match agent.harnesses.as_slice() {
            [] => String::new(),
            [all] if all == "*" => " (any on request)".to_string(),
            other => format!(" (or {} on request)", crate::text::code_list(other)),
        },
        agent.model.as_deref().unwrap_or("default"),
        if active_amendments == 1 { "" } else { "s" },
        stats.runs_7d,
        if stats.runs_7d == 1 { "" } else { "s" },
        rate(stats.succeeded_7d, stats.finished_7d),
        rate(stats.approved_7d, stats.judged_7d),
    );
    out.push_str(&format!(
        "\ncontext {} · MCP {}",
        names_or_none(&agent.context),
        names_or_none(&agent.mcp)
    ));
    let repos: Vec<&String> = agent.repo.iter().chain(&agent.repos).collect();
    if !repos.is_empty() {
        out.push_str(&format!(" · repos {}", crate::text::code_list(repos)));
    }
    if !stats.recent.is_empty() {
        let items: Vec<String> = stats
            .recent
            .iter()
            .zip(links.iter().chain(std::iter::repeat(&None)))
            .map(|((id, state), link)| match link {
                Some(l) => format!("<{l}|job {id}> ({})", state.label()),
                None => format!("job {id} ({})", state.label()),
            })
            .collect();
        out.push_str(&format!("\nrecent: {}", items.join(" · ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{sample_job, Verdict};

    #[test]
    fn stats_count_the_last_week() {
        let now = Utc::now();
        let mut jobs = Vec::new();
        for (id, state, days_ago, approved) in [
            (1, JobState::Succeeded, 10, None),
            (2, JobState::Succeeded, 1, Some(true)),
            (3, JobState::Failed, 1, None),
            (4, JobState::Succeeded, 0, Some(false)),
            (5, JobState::Running, 0, None),
        ] {
            let mut j = sample_job(id);
            j.state = state;
            j.created_at = now - Duration::days(days_ago);
            j.verdict = approved.map(|a| Verdict {
                approved: a,
                by: "U".into(),
                at: now,
            });
            jobs.push(j);
        }
        let mut other = sample_job(6);
        other.agent = "other".into();
        jobs.push(other);
        let s = stats("default", &jobs, now);
        assert_eq!(
            (
                s.runs_7d,
                s.finished_7d,
                s.succeeded_7d,
                s.judged_7d,
                s.approved_7d
            ),
            (4, 3, 2, 2, 1)
        );
        assert_eq!(
            s.recent,
            vec![
                (4, JobState::Succeeded),
                (3, JobState::Failed),
                (2, JobState::Succeeded)
            ]
        );
        let agent = crate::agents::parse_agent(
            std::path::Path::new("default.md"),
            "---\nname: default\ndescription: Does things\nharness: scripted\nowners: [UO1]\ncontext: [eng/, ops/deploys.md]\nmcp: [warehouse]\nrepo: acme/web\n---\nrole",
            crate::agents::Known { harnesses: &["scripted"], fragments: &[] },
        )
        .unwrap();
        let result = |v: &str, passed, mins| crate::evals::VersionResult {
            agent: "default".into(),
            version: v.into(),
            passed,
            runs: 4,
            at: chrono::Utc::now() - chrono::Duration::minutes(mins),
        };
        let results = [
            result("vold", 2, 30),
            result("vabc", 4, 10),
            result("vmid", 3, 20),
        ];
        assert_eq!(
            render_evals(true, "vabc", &results).unwrap(),
            "evals: `vabc` 4/4 passed · `vmid` 3/4 · `vold` 2/4"
        );
        assert_eq!(
            render_evals(true, "vnew", &[]).unwrap(),
            "evals: `vnew` not run yet"
        );
        assert_eq!(render_evals(false, "vnew", &[]), None);
        let text = render_entry(&agent, &s, "vabc", 2, &[Some("https://x/p1".into())]);
        assert!(text.contains("*default* — Does things"), "{text}");
        assert!(text.contains("owners <@UO1>"), "{text}");
        assert!(
            text.contains("prompt `vabc` · 2 active amendments"),
            "{text}"
        );
        assert!(
            text.contains("last 7 days: 4 runs · success 66% · approval 50%"),
            "{text}"
        );
        assert!(
            text.contains("context `eng/`, `ops/deploys.md` · MCP `warehouse` · repos `acme/web`"),
            "{text}"
        );
        assert!(
            text.contains(
                "recent: <https://x/p1|job 4> (succeeded) · job 3 (failed) · job 2 (succeeded)"
            ),
            "{text}"
        );
    }
}
