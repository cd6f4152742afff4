//! Why a request cannot start a job, or why someone may not use an agent, as a value. The
//! words for the thread are written here only (`Display`); the decisions that produce a
//! `Refusal` stay pure (`intake::resolve_agent`, `access_refusal`, `intake::job_repo`).

use std::fmt;
use std::path::PathBuf;

use crate::text::{code_list, user_mentions};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownAgent {
        name: String,
        available: Vec<String>,
    },
    /// The agent's `users:` leave `user` out.
    RestrictedUsers {
        agent: String,
        owners: Vec<String>,
    },
    /// The agent's `channels:` leave this channel out.
    NotInChannel {
        agent: String,
        channels: Vec<String>,
    },
    UnknownHarness {
        harness: String,
        configured: Vec<String>,
    },
    HarnessNotAllowed {
        agent: String,
        harness: String,
        runs_on: String,
        also: Vec<String>,
        file: PathBuf,
    },
    /// A follow-up names another repository than its thread's.
    OtherThreadRepo {
        here: String,
        asked: String,
    },
    /// A follow-up names a repository in a thread that has none.
    NoThreadRepo {
        asked: String,
    },
    /// The agent may not (or no longer) work on the thread's repository.
    ThreadRepoNotAllowed {
        agent: String,
        here: String,
    },
    RepoNotAllowed {
        agent: String,
        repo: String,
        may: Vec<String>,
    },
    NoForgeHost {
        repo: String,
    },
}

impl Refusal {
    /// The reply to a request that started nothing.
    pub fn no_job(&self) -> String {
        format!("{self} No job was started.")
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownAgent { name, available } => write!(
                f,
                ":warning: unknown agent `{name}`; available: {}.",
                code_list(available)
            ),
            Refusal::RestrictedUsers { agent, owners } => write!(
                f,
                ":no_entry: agent `{agent}` is restricted to some users; ask one of its owners ({}) for access.",
                user_mentions(owners).unwrap_or_else(|| "see its prompt file".to_string())
            ),
            Refusal::NotInChannel { agent, channels } => write!(
                f,
                ":warning: agent `{agent}` does not run in this channel (it runs in {}).",
                channels.join(", ")
            ),
            Refusal::UnknownHarness {
                harness,
                configured,
            } => write!(
                f,
                ":warning: unknown harness `{harness}`; configured: {}.",
                code_list(configured)
            ),
            Refusal::HarnessNotAllowed {
                agent,
                harness,
                runs_on,
                also,
                file,
            } => write!(
                f,
                ":warning: agent `{agent}` runs on `{runs_on}`{}; its owners can allow `{harness}` with `harnesses:` in {}.",
                if also.is_empty() {
                    " only".to_string()
                } else {
                    format!(" and {}", code_list(also))
                },
                file.display()
            ),
            Refusal::OtherThreadRepo { here, asked } => write!(
                f,
                "This thread works on `{here}`; start a new thread to work on `{asked}`."
            ),
            Refusal::NoThreadRepo { asked } => write!(
                f,
                "This thread has no repository; start a new thread to work on `{asked}`."
            ),
            Refusal::ThreadRepoNotAllowed { agent, here } => write!(
                f,
                "Agent `{agent}` may not work on `{here}`, this thread's repository."
            ),
            Refusal::RepoNotAllowed { agent, repo, may } => write!(
                f,
                "Agent `{agent}` may not work on `{repo}`; it may use {}.",
                if may.is_empty() {
                    "no repository".to_string()
                } else {
                    code_list(may)
                }
            ),
            Refusal::NoForgeHost { repo } => write!(
                f,
                "No forge host is configured for `{repo}`: an admin adds it to the `repos` of a `[forge.<name>]` section."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread's words, pinned: people and the tests read them.
    #[test]
    fn refusals_read_as_before() {
        let harness = Refusal::HarnessNotAllowed {
            agent: "default".into(),
            harness: "codex".into(),
            runs_on: "scripted".into(),
            also: vec![],
            file: "default.md".into(),
        };
        assert_eq!(
            harness.no_job(),
            ":warning: agent `default` runs on `scripted` only; its owners can allow `codex` with `harnesses:` in default.md. No job was started."
        );
        let repo = Refusal::RepoNotAllowed {
            agent: "a".into(),
            repo: "acme/web".into(),
            may: vec![],
        };
        assert_eq!(
            repo.no_job(),
            "Agent `a` may not work on `acme/web`; it may use no repository. No job was started."
        );
        let users = Refusal::RestrictedUsers {
            agent: "a".into(),
            owners: vec!["U1".into(), "U2".into()],
        };
        assert_eq!(
            users.to_string(),
            ":no_entry: agent `a` is restricted to some users; ask one of its owners (<@U1>, <@U2>) for access."
        );
    }
}
