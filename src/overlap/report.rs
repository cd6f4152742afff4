//! The organisation's view of overlapping work: clusters of similar requests across channels,
//! as the `overlaps` command, the weekly digest and the App Home section show them. Pure: the
//! bot gathers the entries (a job from a private conversation only for a list posted in that
//! conversation: `Overlaps::clusters` leaves the others out before grouping, so they neither
//! show nor link two jobs); this words them, and drops any such job it is given all the same.
//! Requesters are named, not mentioned: a list pings nobody.

use crate::chat::mrkdwn;
use crate::job::JobId;
use crate::text::clip;

/// One job of a cluster, as the bot knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub job: JobId,
    /// The requester's display name (not a mention).
    pub requester: String,
    pub channel: String,
    /// A private channel, a DM or a group DM (or one whose kind could not be learnt).
    pub private: bool,
    pub task: String,
    pub state: &'static str,
    pub pr: Option<String>,
    pub cost_usd: f64,
}

/// What joining an earlier thread saved in the window: runs not started, and the joined
/// jobs' own cost as the estimate of what each would have spent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Saved {
    pub joins: usize,
    pub cost_usd: f64,
}

/// At most this many clusters, and jobs per cluster, are listed.
pub const MAX_CLUSTERS: usize = 10;
pub const MAX_JOBS: usize = 8;

/// The report for a place: `here` is the conversation it is posted in (its own private jobs
/// are shown), or `None` for a view outside every conversation (the App Home tab).
pub fn render(
    clusters: &[Vec<Entry>],
    days: u32,
    here: Option<&str>,
    saved: Option<Saved>,
    max_clusters: usize,
) -> String {
    let window = if days == 1 {
        "the last day".to_string()
    } else {
        format!("the last {days} days")
    };
    let clusters: Vec<&Vec<Entry>> = clusters
        .iter()
        .filter(|c| c.iter().filter(|e| shown(e, here)).count() > 1)
        .collect();
    let mut out = if clusters.is_empty() {
        format!("No similar requests in {window}.")
    } else {
        format!(
            "*Similar work, {window}* — {} group{} of requests that look like the same work:",
            clusters.len(),
            if clusters.len() == 1 { "" } else { "s" }
        )
    };
    for (i, cluster) in clusters.iter().take(max_clusters).enumerate() {
        out.push_str(&format!("\n{}. {}", i + 1, cluster_text(cluster, here)));
    }
    if clusters.len() > max_clusters {
        out.push_str(&format!(
            "\n…and {} more group{}.",
            clusters.len() - max_clusters,
            if clusters.len() - max_clusters == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    if let Some(saved) = saved {
        out.push_str(&format!(
            "\nJoining an earlier thread instead of running again: {} run{} saved in {window}",
            saved.joins,
            if saved.joins == 1 { "" } else { "s" }
        ));
        if saved.joins > 0 {
            out.push_str(&format!(
                " (about ${:.2}, the joined jobs' own cost)",
                saved.cost_usd
            ));
        }
        out.push('.');
    }
    out
}

fn shown(entry: &Entry, here: Option<&str>) -> bool {
    !entry.private || here == Some(entry.channel.as_str())
}

fn cluster_text(cluster: &[Entry], here: Option<&str>) -> String {
    let visible: Vec<&Entry> = cluster.iter().filter(|e| shown(e, here)).collect();
    let mut channels: Vec<&str> = visible.iter().map(|e| e.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let spent: f64 = visible.iter().map(|e| e.cost_usd).sum();
    let mut lines = vec![format!(
        "{} request{} in {}, ${spent:.2} spent",
        visible.len(),
        if visible.len() == 1 { "" } else { "s" },
        channels
            .iter()
            .map(|c| format!("<#{c}>"))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for e in visible.iter().take(MAX_JOBS) {
        let mut line = format!(
            "   • job {} by {} in <#{}> ({}",
            e.job,
            mrkdwn::escape(&e.requester),
            e.channel,
            e.state
        );
        if let Some(pr) = &e.pr {
            line.push_str(&format!(", PR {pr}"));
        }
        line.push_str(&format!(
            "): _{}_",
            mrkdwn::escape(&clip(&one_line(&e.task), 120))
        ));
        lines.push(line);
    }
    if visible.len() > MAX_JOBS {
        lines.push(format!("   • …and {} more", visible.len() - MAX_JOBS));
    }
    lines.join("\n")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(job: JobId, channel: &str, private: bool, task: &str) -> Entry {
        Entry {
            job,
            requester: format!("U{job}"),
            channel: channel.into(),
            private,
            task: task.into(),
            state: "finished",
            pr: None,
            cost_usd: 0.5,
        }
    }

    #[test]
    fn a_private_job_shows_only_inside_its_conversation() {
        let cluster = vec![
            entry(1, "C1", false, "add retries to the webhook client"),
            entry(2, "C3", false, "retry webhook sends"),
            entry(3, "G9", true, "secret webhook retry plan"),
        ];
        let outside = render(std::slice::from_ref(&cluster), 30, Some("C1"), None, 10);
        assert!(outside.contains("job 1 by U1 in <#C1>"), "{outside}");
        assert!(
            outside.contains("2 requests in <#C1>, <#C3>, $1.00 spent"),
            "{outside}"
        );
        for leak in ["secret", "G9", "U3", "job 3"] {
            assert!(!outside.contains(leak), "{leak}: {outside}");
        }
        let inside = render(std::slice::from_ref(&cluster), 30, Some("G9"), None, 10);
        assert!(inside.contains("secret webhook retry plan"), "{inside}");
        let home = render(std::slice::from_ref(&cluster), 30, None, None, 10);
        assert!(!home.contains("secret"), "{home}");
        // A group that is one public job and private ones is no group outside.
        let pair = vec![entry(1, "C1", false, "a"), entry(3, "G9", true, "b")];
        assert_eq!(
            render(&[pair], 30, Some("C1"), None, 10),
            "No similar requests in the last 30 days."
        );
    }

    #[test]
    fn empty_long_and_saved() {
        assert_eq!(
            render(&[], 7, None, None, 10),
            "No similar requests in the last 7 days."
        );
        let many: Vec<Vec<Entry>> = (0..12)
            .map(|i| {
                vec![
                    entry(i * 2, "C1", false, "a"),
                    entry(i * 2 + 1, "C2", false, "a"),
                ]
            })
            .collect();
        let text = render(
            &many,
            7,
            None,
            Some(Saved {
                joins: 2,
                cost_usd: 1.25,
            }),
            3,
        );
        assert!(text.contains("12 groups"), "{text}");
        assert!(text.contains("…and 9 more groups."), "{text}");
        assert!(
            text.contains("2 runs saved in the last 7 days (about $1.25"),
            "{text}"
        );
    }

    #[test]
    fn task_text_is_escaped() {
        let text = render(
            &[vec![
                entry(1, "C1", false, "<!channel> fix *it*\n2. fake line"),
                entry(2, "C2", false, "fix it"),
            ]],
            30,
            None,
            None,
            10,
        );
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(!text.contains("\n2. fake"), "{text}");
    }
}
