//! What the two threads are told about an overlap, and what a reply in a held thread means.
//! Pure.
//!
//! The privacy rule lives in `may_show`: a job's details (what was asked, by whom, where, its
//! PR) are shown in another thread only when the job is in a public channel and the thread
//! they would be shown in cannot be read by people outside the workspace. Otherwise the new
//! requester learns only that a similar request exists and that its requester was told.

use super::index::Match;
use super::Mode;

/// The earlier job, as a notice may describe it.
#[derive(Debug, Clone)]
pub struct Earlier<'a> {
    pub job: u64,
    pub requester: &'a str,
    pub channel: &'a str,
    pub permalink: Option<&'a str>,
    pub state: &'a str,
    pub pr: Option<&'a str>,
    pub task: &'a str,
}

/// Whether the earlier job's details may be shown in the new request's thread.
pub fn may_show(
    same_channel: bool,
    earlier_private: bool,
    new_channel_shared: bool,
    requester_guest: bool,
) -> bool {
    same_channel || !(earlier_private || new_channel_shared || requester_guest)
}

/// What the new request's thread is told.
pub fn to_new(earlier: &Earlier, why: &Match, show: bool, mode: Mode) -> String {
    let what_now = match mode {
        Mode::Ask => "\nNothing has run yet. Reply `run anyway` to start this job, or `join` to follow the other thread instead.",
        Mode::Note => "\nThis job runs anyway; its requester was told too.",
        Mode::Off => "",
    };
    if !show {
        return format!(
            ":busts_in_silhouette: A similar request is already known in a conversation I cannot show here; its requester was told about this thread so you can talk.{what_now}"
        );
    }
    let place = match earlier.permalink {
        Some(link) => format!("<{link}|this thread>"),
        None => format!("<#{}>", earlier.channel),
    };
    let pr = earlier.pr.map(|p| format!(", PR {p}")).unwrap_or_default();
    format!(
        ":busts_in_silhouette: This looks like work <@{}> asked for in {place} (job {}, {}{pr}): _{}_\nWhy: {}.{what_now}",
        earlier.requester,
        earlier.job,
        earlier.state,
        one_line(earlier.task, 200),
        reasons(why),
    )
}

/// What the earlier job's thread is told (once per pair). `new_link` is `None` when the new
/// request is in a conversation whose details stay there.
pub fn to_earlier(new_requester: &str, new_link: Option<&str>) -> String {
    match new_link {
        Some(link) => format!(
            ":busts_in_silhouette: <@{new_requester}> asked for similar work in <{link}|another thread> and was pointed here."
        ),
        None => ":busts_in_silhouette: Someone asked for similar work in a private conversation and was pointed here.".into(),
    }
}

/// The new thread, after its requester joined the earlier one.
pub fn joined_new(earlier_link: Option<&str>) -> String {
    match earlier_link {
        Some(link) => format!(":link: Joined <{link}|the earlier thread>; nothing was run here."),
        None => ":link: Joined the earlier request; its requester knows where you are. Nothing was run here.".into(),
    }
}

/// The earlier thread, when someone joined it.
pub fn joined_earlier(who: &str, new_link: Option<&str>) -> String {
    match new_link {
        Some(link) => format!(
            ":link: <@{who}> joined this thread instead of running the same work in <{link}|theirs>."
        ),
        None => ":link: Someone joined this thread instead of running the same work in a private conversation.".into(),
    }
}

fn reasons(m: &Match) -> String {
    let mut out = Vec::new();
    if !m.shared.is_empty() {
        let words: Vec<String> = m.shared.iter().take(6).map(|w| format!("`{w}`")).collect();
        out.push(format!("both ask about {}", words.join(", ")));
    }
    if m.same_repo {
        out.push("the same repository".into());
    }
    if !m.shared_paths.is_empty() {
        out.push(format!("the same files ({})", m.shared_paths.join(", ")));
    }
    out.push(format!("similarity {:.2}", m.score));
    out.join("; ")
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.replace(['*', '_', '`', '<', '>'], "");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{cut}…")
}

/// What a person replies in a held thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    RunAnyway,
    Join,
}

/// `run anyway` or `join` (a leading mention of the bot and trailing punctuation allowed);
/// anything else is not a choice.
pub fn choice(text: &str) -> Option<Choice> {
    let mut t = text.trim();
    if t.starts_with("<@") {
        t = t.split_once('>').map(|(_, rest)| rest.trim()).unwrap_or(t);
    }
    let t = t
        .trim_end_matches(['.', '!'])
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match t.as_str() {
        "run anyway" | "run it anyway" => Some(Choice::RunAnyway),
        "join" | "join that thread" | "join it" => Some(Choice::Join),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Match {
        Match {
            job: 7,
            score: 0.71,
            shared: vec!["webhook".into(), "retries".into()],
            same_repo: true,
            shared_paths: vec![],
        }
    }

    fn earlier() -> Earlier<'static> {
        Earlier {
            job: 7,
            requester: "U0ALICE001",
            channel: "C0DEV00001",
            permalink: Some("https://x.test/archives/C0DEV00001/p1"),
            state: "running",
            pr: Some("https://forge.test/acme/web/pull/3"),
            task: "add *retries* to the webhook client",
        }
    }

    #[test]
    fn public_details_with_reasons_and_what_to_do() {
        let text = to_new(&earlier(), &m(), true, Mode::Ask);
        assert!(text.contains("<@U0ALICE001>"), "{text}");
        assert!(text.contains("job 7, running, PR https://forge.test/acme/web/pull/3"));
        assert!(text.contains("_add retries to the webhook client_"));
        assert!(text.contains("`webhook`, `retries`; the same repository; similarity 0.71"));
        assert!(text.contains("`run anyway`") && text.contains("`join`"));
        assert!(to_new(&earlier(), &m(), true, Mode::Note).contains("runs anyway"));
    }

    #[test]
    fn private_details_stay_inside() {
        let text = to_new(&earlier(), &m(), false, Mode::Ask);
        for secret in ["U0ALICE001", "webhook", "C0DEV00001", "pull/3", "job 7"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(!to_earlier("U0BOB00001", None).contains("U0BOB00001"));
        assert!(!joined_earlier("U0BOB00001", None).contains("U0BOB00001"));
        assert!(may_show(true, true, true, true));
        assert!(may_show(false, false, false, false));
        assert!(!may_show(false, true, false, false));
        assert!(!may_show(false, false, true, false));
        assert!(!may_show(false, false, false, true));
    }

    #[test]
    fn replies_that_choose() {
        assert_eq!(choice("run anyway"), Some(Choice::RunAnyway));
        assert_eq!(choice("<@U0BOT> Run  anyway!"), Some(Choice::RunAnyway));
        assert_eq!(choice("join."), Some(Choice::Join));
        assert_eq!(choice("join the other one later maybe"), None);
        assert_eq!(choice("anyway"), None);
    }
}
