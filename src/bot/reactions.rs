//! What a reaction on one of our messages means. Pure: who may do what is decided here.
//!
//! - On an amendment announcement: ✅ adopts, ❌ rejects — owners of the agent and admins only.
//! - On a result: ✅ approves, ❌ rejects, removing one's own ✅/❌ withdraws it, 🔁 re-runs —
//!   the requester and the agent's approvers only; a second verdict or a superseded result
//!   changes nothing.
//! - On a finished job's card: 🔁 re-runs the request with the current prompt.
//! - On a running or queued job's card: ❌ stops it — the requester, the agent's owners and
//!   admins only.

use crate::agents::Agent;
use crate::amendments::{Amendment, AmendmentAction, AmendmentStatus};
use crate::job::{Job, JobId};
use crate::store::MessageLink;

pub const APPROVE: &str = "white_check_mark";
pub const REJECT: &str = "x";
pub const RERUN: &str = "repeat";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    Nothing(&'static str),
    /// Tell the reacting user (only them) why nothing happened.
    Explain(String),
    Amend {
        action: AmendmentAction,
    },
    Approve {
        job: JobId,
    },
    Reject {
        job: JobId,
    },
    Withdraw {
        job: JobId,
    },
    Rerun {
        job: JobId,
    },
    Cancel {
        job: JobId,
    },
}

pub struct ReactionFacts<'a> {
    pub link: &'a MessageLink,
    pub name: &'a str,
    pub added: bool,
    pub user: &'a str,
    pub admins: &'a [String],
    pub job: Option<&'a Job>,
    pub agent: Option<&'a Agent>,
    pub amendment: Option<&'a Amendment>,
    /// A newer job in the same thread has replaced this result.
    pub superseded: bool,
}

/// Owners of the agent and admins decide its amendments.
pub fn may_amend(agent: &Agent, admins: &[String], user: &str) -> bool {
    admins.iter().any(|a| a == user) || agent.owners.iter().any(|o| o == user)
}

fn mentions(ids: &[String]) -> String {
    crate::text::user_mentions(ids).unwrap_or_else(|| "nobody yet".to_string())
}

pub fn meaning(f: &ReactionFacts) -> Meaning {
    let is_admin = f.admins.iter().any(|a| a == f.user);
    match f.link {
        MessageLink::Amendment { agent, number } => {
            let action = match (f.name, f.added) {
                (APPROVE, true) => AmendmentAction::Adopt,
                (REJECT, true) => AmendmentAction::Reject,
                _ => return Meaning::Nothing("not an amendment decision"),
            };
            let owners = f.agent.map(|a| a.owners.as_slice()).unwrap_or_default();
            if !f.agent.is_some_and(|a| may_amend(a, f.admins, f.user)) && !is_admin {
                return Meaning::Explain(format!(
                    "Only the owners of `{agent}` ({}) or an admin can adopt or reject its amendments; your reaction on amendment #{number} changes nothing.",
                    mentions(owners)
                ));
            }
            match f.amendment.map(|a| a.status) {
                Some(AmendmentStatus::Proposed) => Meaning::Amend { action },
                Some(_) => Meaning::Nothing("amendment already decided"),
                None => Meaning::Nothing("amendment not found"),
            }
        }
        MessageLink::Card { job } => {
            let Some(j) = f.job else {
                return Meaning::Nothing("job not found");
            };
            if f.name == REJECT && f.added && !j.state.is_terminal() {
                let owner = f
                    .agent
                    .is_some_and(|a| a.owners.iter().any(|o| o == f.user));
                return if j.requester == f.user || owner || is_admin {
                    Meaning::Cancel { job: *job }
                } else {
                    let mut who = vec![j.requester.clone()];
                    if let Some(a) = f.agent {
                        who.extend(a.owners.iter().cloned());
                    }
                    Meaning::Explain(format!(
                        "Only the requester or an owner of `{}` ({}) can stop job {}; your reaction changes nothing.",
                        j.agent,
                        mentions(&who),
                        j.id
                    ))
                };
            }
            if !(f.name == RERUN && f.added) {
                return Meaning::Nothing("not a card action");
            }
            if !j.state.is_terminal() {
                return Meaning::Nothing("job still running");
            }
            if may_judge(f, j)
                || is_admin
                || f.agent
                    .is_some_and(|a| a.owners.iter().any(|o| o == f.user))
            {
                Meaning::Rerun { job: *job }
            } else {
                Meaning::Explain(not_an_approver(f, j))
            }
        }
        MessageLink::Result { job } => {
            let Some(j) = f.job else {
                return Meaning::Nothing("job not found");
            };
            if ![APPROVE, REJECT, RERUN].contains(&f.name) {
                return Meaning::Nothing("not a result action");
            }
            // 🔁 is acting in the thread, as on the card: owners and admins too.
            let owner = f
                .agent
                .is_some_and(|a| a.owners.iter().any(|o| o == f.user));
            let may_rerun = f.name == RERUN && f.added && (owner || is_admin);
            if !may_judge(f, j) && !may_rerun {
                return if f.added {
                    Meaning::Explain(not_an_approver(f, j))
                } else {
                    Meaning::Nothing("not an approver")
                };
            }
            if f.superseded {
                return if f.added {
                    Meaning::Explain(format!(
                        "Job {} has a newer result in this thread; react on that one.",
                        j.id
                    ))
                } else {
                    Meaning::Nothing("superseded")
                };
            }
            match (f.name, f.added, &j.verdict) {
                (RERUN, true, _) => Meaning::Rerun { job: *job },
                (APPROVE, true, None) => Meaning::Approve { job: *job },
                (REJECT, true, None) => Meaning::Reject { job: *job },
                (APPROVE, false, Some(v)) if v.approved && v.by == f.user => {
                    Meaning::Withdraw { job: *job }
                }
                (REJECT, false, Some(v)) if !v.approved && v.by == f.user => {
                    Meaning::Withdraw { job: *job }
                }
                _ => Meaning::Nothing("verdict unchanged"),
            }
        }
        MessageLink::Notice { .. } => Meaning::Nothing("notice"),
    }
}

/// The requester and the agent's approvers judge results.
fn may_judge(f: &ReactionFacts, job: &Job) -> bool {
    job.requester == f.user
        || f.agent
            .is_some_and(|a| a.approvers.iter().any(|u| u == f.user))
}

fn not_an_approver(f: &ReactionFacts, job: &Job) -> String {
    let mut who = vec![job.requester.clone()];
    if let Some(a) = f.agent {
        who.extend(a.approvers.iter().cloned());
    }
    format!(
        "Only the requester and the approvers of `{}` ({}) can approve, reject or re-run job {}; your reaction changes nothing.",
        job.agent,
        mentions(&who),
        job.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{sample_job, JobState, Verdict};

    fn agent() -> Agent {
        let text = "---\nname: default\ndescription: d\nharness: scripted\nowners: [UOWNER]\napprovers: [UAPPR]\n---\nrole";
        crate::agents::parse_agent(
            std::path::Path::new("default.md"),
            text,
            crate::agents::Known {
                harnesses: &["scripted"],
                fragments: &[],
            },
        )
        .unwrap()
    }

    fn finished_job() -> Job {
        let mut j = sample_job(7);
        j.state = JobState::Succeeded;
        j.requester = "UREQ".into();
        j
    }

    fn result_facts<'a>(
        job: &'a Job,
        agent: &'a Agent,
        link: &'a MessageLink,
        user: &'a str,
        name: &'a str,
        added: bool,
    ) -> ReactionFacts<'a> {
        ReactionFacts {
            link,
            name,
            added,
            user,
            admins: &[],
            job: Some(job),
            agent: Some(agent),
            amendment: None,
            superseded: false,
        }
    }

    #[test]
    fn approvals_count_only_from_requester_and_approvers() {
        let (job, agent) = (finished_job(), agent());
        let link = MessageLink::Result { job: 7 };
        assert_eq!(
            meaning(&result_facts(&job, &agent, &link, "UREQ", APPROVE, true)),
            Meaning::Approve { job: 7 }
        );
        assert_eq!(
            meaning(&result_facts(&job, &agent, &link, "UAPPR", REJECT, true)),
            Meaning::Reject { job: 7 }
        );
        assert!(
            matches!(meaning(&result_facts(&job, &agent, &link, "UOTHER", APPROVE, true)), Meaning::Explain(m) if m.contains("<@UREQ>, <@UAPPR>"))
        );
        assert_eq!(
            meaning(&result_facts(&job, &agent, &link, "UOTHER", APPROVE, false)),
            Meaning::Nothing("not an approver")
        );
        assert_eq!(
            meaning(&result_facts(&job, &agent, &link, "UREQ", RERUN, true)),
            Meaning::Rerun { job: 7 }
        );
    }

    #[test]
    fn second_verdicts_withdrawals_and_superseded_results() {
        let (mut job, agent) = (finished_job(), agent());
        job.verdict = Some(Verdict {
            approved: true,
            by: "UREQ".into(),
            at: chrono::Utc::now(),
        });
        let link = MessageLink::Result { job: 7 };
        assert_eq!(
            meaning(&result_facts(&job, &agent, &link, "UAPPR", APPROVE, true)),
            Meaning::Nothing("verdict unchanged")
        );
        assert_eq!(
            meaning(&result_facts(&job, &agent, &link, "UAPPR", APPROVE, false)),
            Meaning::Nothing("verdict unchanged")
        );
        assert_eq!(
            meaning(&result_facts(&job, &agent, &link, "UREQ", APPROVE, false)),
            Meaning::Withdraw { job: 7 }
        );
        let mut f = result_facts(&job, &agent, &link, "UREQ", REJECT, true);
        f.superseded = true;
        assert!(matches!(meaning(&f), Meaning::Explain(m) if m.contains("newer result")));
    }

    #[test]
    fn amendments_are_decided_by_owners_and_admins() {
        let agent = agent();
        let link = MessageLink::Amendment {
            agent: "default".into(),
            number: 2,
        };
        let mut a = crate::amendments::Amendment {
            agent: "default".into(),
            number: 2,
            text: "t".into(),
            author: "U1".into(),
            permalink: None,
            job: None,
            channel: "C".into(),
            message_ts: None,
            created_at: chrono::Utc::now(),
            status: AmendmentStatus::Proposed,
            decided_by: None,
            decided_at: None,
        };
        let admins = vec!["UADMIN".to_string()];
        let f = |user, name, a: &crate::amendments::Amendment| {
            meaning(&ReactionFacts {
                link: &link,
                name,
                added: true,
                user,
                admins: &admins,
                job: None,
                agent: Some(&agent),
                amendment: Some(a),
                superseded: false,
            })
        };
        assert_eq!(
            f("UOWNER", APPROVE, &a),
            Meaning::Amend {
                action: AmendmentAction::Adopt
            }
        );
        assert_eq!(
            f("UADMIN", REJECT, &a),
            Meaning::Amend {
                action: AmendmentAction::Reject
            }
        );
        assert!(matches!(f("UAPPR", APPROVE, &a), Meaning::Explain(m) if m.contains("<@UOWNER>")));
        a.status = AmendmentStatus::Active;
        assert_eq!(
            f("UOWNER", APPROVE, &a),
            Meaning::Nothing("amendment already decided")
        );
    }

    #[test]
    fn card_rerun_only_when_finished() {
        let agent = agent();
        let mut job = finished_job();
        let link = MessageLink::Card { job: 7 };
        let f = |job: &Job, user| {
            meaning(&ReactionFacts {
                link: &link,
                name: RERUN,
                added: true,
                user,
                admins: &[],
                job: Some(job),
                agent: Some(&agent),
                amendment: None,
                superseded: false,
            })
        };
        assert_eq!(f(&job, "UOWNER"), Meaning::Rerun { job: 7 });
        assert!(matches!(f(&job, "UOTHER"), Meaning::Explain(_)));
        job.state = JobState::Running;
        assert_eq!(f(&job, "UREQ"), Meaning::Nothing("job still running"));
    }

    #[test]
    fn cross_on_a_running_card_stops_it_for_requester_owner_and_admin() {
        let agent = agent();
        let mut job = finished_job();
        job.state = JobState::Running;
        let link = MessageLink::Card { job: 7 };
        let admins = vec!["UADMIN".to_string()];
        let f = |job: &Job, user| {
            meaning(&ReactionFacts {
                link: &link,
                name: REJECT,
                added: true,
                user,
                admins: &admins,
                job: Some(job),
                agent: Some(&agent),
                amendment: None,
                superseded: false,
            })
        };
        for who in ["UREQ", "UOWNER", "UADMIN"] {
            assert_eq!(f(&job, who), Meaning::Cancel { job: 7 }, "{who}");
        }
        assert!(
            matches!(f(&job, "UAPPR"), Meaning::Explain(m) if m.contains("<@UREQ>, <@UOWNER>") && m.contains("stop job 7"))
        );
        job.state = JobState::Queued;
        assert_eq!(f(&job, "UREQ"), Meaning::Cancel { job: 7 });
        job.state = JobState::Succeeded;
        assert_eq!(f(&job, "UREQ"), Meaning::Nothing("not a card action"));
    }
}
