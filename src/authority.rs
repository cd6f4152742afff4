//! Who may act in a job's thread. Pure: the caller looks up the thread's jobs and the agent.
//!
//! The rule (README, "Security model"): acting in a thread — running a follow-up job, ✅/❌ on
//! a result, stopping a job, 🔁 — is for the thread's requester (who asked for its first
//! job), the owners and approvers of the thread's agent, and admins. Everyone else may talk
//! in the thread: their replies reach the agent as context, marked as theirs, but start
//! nothing. A follow-up keeps the thread's agent unless an allowed user names another one,
//! which must then pass its own `users:`, `channels:` and `repos:` checks.

use crate::agents::Agent;
use crate::job::Job;

/// What a user is to a thread, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Requester,
    Owner,
    Approver,
    Member,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Requester => "requester",
            Role::Owner => "owner",
            Role::Approver => "approver",
            Role::Member => "member",
        }
    }

    /// True for the roles that may act in the thread.
    pub fn may_act(self) -> bool {
        self != Role::Member
    }
}

/// `user`'s role in a thread whose first job was asked by `requester` and whose agent is
/// `agent` (when its file still exists).
pub fn role(user: &str, requester: &str, agent: Option<&Agent>, admins: &[String]) -> Role {
    if admins.iter().any(|a| a == user) {
        Role::Admin
    } else if user == requester {
        Role::Requester
    } else if agent.is_some_and(|a| a.owners.iter().any(|o| o == user)) {
        Role::Owner
    } else if agent.is_some_and(|a| a.approvers.iter().any(|o| o == user)) {
        Role::Approver
    } else {
        Role::Member
    }
}

/// The reply to someone who may not act in a thread.
pub fn refusal(what: &str, thread_root: &Job, agent: Option<&Agent>) -> String {
    let mut who = vec![format!("<@{}>", thread_root.requester)];
    if let Some(a) = agent {
        who.extend(a.owners.iter().map(|o| format!("<@{o}>")));
        who.extend(a.approvers.iter().map(|o| format!("<@{o}>")));
    }
    who.dedup();
    format!(
        ":no_entry: Only the requester of this thread, the owners and approvers of `{}` ({}) and admins can {what} here. Your message stays in the thread as context; start your own thread to ask for something.",
        thread_root.agent,
        who.join(", ")
    )
}

/// The first job of the thread `latest` is in, following `parent` links through `lookup`
/// (bounded, so a corrupt cycle cannot hang the bot).
pub fn thread_root(latest: &Job, lookup: impl Fn(u64) -> Option<Job>) -> Job {
    let mut job = latest.clone();
    for _ in 0..10_000 {
        match job.parent.and_then(&lookup) {
            Some(p) => job = p,
            None => break,
        }
    }
    job
}

/// The CLI session a follow-up resumes: the newest job of the thread (`chain`, newest first)
/// that ran the same agent on the same harness and reported a session.
pub fn resumable_session<'a>(
    chain: impl IntoIterator<Item = &'a Job>,
    agent: &str,
    harness: &str,
) -> Option<String> {
    chain
        .into_iter()
        .filter(|j| j.agent == agent && j.harness == harness)
        .find_map(|j| j.session_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::NewJob;

    fn agent(owners: &[&str], approvers: &[&str]) -> Agent {
        let text = format!(
            "---\nname: coder\ndescription: d\nharness: scripted\nowners: [{}]\napprovers: [{}]\n---\nbody\n",
            owners.join(", "),
            approvers.join(", ")
        );
        let known = crate::agents::Known {
            harnesses: &["scripted"],
            fragments: &[],
        };
        crate::agents::parse_agent(
            std::path::Path::new("prompts/agents/coder.md"),
            &text,
            known,
        )
        .unwrap()
    }

    fn job(id: u64, parent: Option<u64>, agent: &str, harness: &str, session: Option<&str>) -> Job {
        let mut j = Job::queued(
            id,
            NewJob {
                channel: "C".into(),
                thread_ts: "1.0".into(),
                request_ts: format!("{id}.0"),
                requester: format!("U{id}"),
                task: "t".into(),
                options: Default::default(),
                agent: agent.into(),
                harness: harness.into(),
                model: None,
                parent,
                rerun_of: None,
                origin: None,
            },
        );
        j.session_id = session.map(str::to_string);
        j
    }

    #[test]
    fn roles_and_who_may_act() {
        let a = agent(&["UOWN"], &["UAPP"]);
        let admins = vec!["UADM".to_string()];
        let r = |u| role(u, "UREQ", Some(&a), &admins);
        assert_eq!(r("UADM"), Role::Admin);
        assert_eq!(r("UREQ"), Role::Requester);
        assert_eq!(r("UOWN"), Role::Owner);
        assert_eq!(r("UAPP"), Role::Approver);
        assert_eq!(r("UELSE"), Role::Member);
        assert!(!Role::Member.may_act());
        assert!([Role::Admin, Role::Requester, Role::Owner, Role::Approver]
            .iter()
            .all(|r| r.may_act()));
        // An agent whose file is gone leaves the requester and admins.
        assert_eq!(role("UOWN", "UREQ", None, &admins), Role::Member);
    }

    #[test]
    fn the_root_and_the_session_follow_the_thread() {
        let jobs = [
            job(1, None, "codex-agent", "codex", Some("s-1")),
            job(2, Some(1), "codex-agent", "codex", None),
            job(3, Some(2), "other", "claude", Some("s-3")),
        ];
        let lookup = |id: u64| jobs.iter().find(|j| j.id == id).cloned();
        assert_eq!(thread_root(&jobs[2], lookup).id, 1);
        // Job 2 failed before reporting a session: the thread's older one is resumed.
        let newest_first = [&jobs[2], &jobs[1], &jobs[0]];
        assert_eq!(
            resumable_session(newest_first, "codex-agent", "codex").as_deref(),
            Some("s-1")
        );
        assert_eq!(resumable_session(newest_first, "codex-agent", "pi"), None);
    }

    #[test]
    fn a_parent_cycle_does_not_hang() {
        let mut a = job(1, Some(2), "x", "h", None);
        let b = job(2, Some(1), "x", "h", None);
        a.parent = Some(2);
        let jobs = [a.clone(), b];
        let root = thread_root(&a, |id| jobs.iter().find(|j| j.id == id).cloned());
        assert!(root.id == 1 || root.id == 2);
    }
}
