//! What to do with an inbound event. Pure: the facts it needs (is this thread a job's? is this
//! message ours?) are looked up by the caller first.

use crate::chat::inbound::InboundKind;
use crate::job::JobId;
use crate::job::RequestOptions;
use crate::overlap::notice::{self, Choice};
use crate::request::{self, Ask};
use crate::store::MessageLink;

/// Facts about the event the caller looked up.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub bot_user_id: &'a str,
    /// The bot's name in the workspace, for the texts that show how to mention it.
    pub bot_name: &'a str,
    pub bot_id: Option<&'a str>,
    /// Bots whose messages we act on, by bot id (B…) or bot user id (U…).
    pub allowed_bots: &'a [String],
    /// The sender of a mention is a bot user.
    pub sender_is_bot: bool,
    /// The latest job in the event's thread, if any.
    pub thread_job: Option<JobId>,
    /// The job a reacted-to message belongs to, if any.
    pub message_link: Option<MessageLink>,
    /// The agent trigger a message outside a job's thread matches, if any.
    pub trigger: Option<TriggerHit>,
    /// The event's thread holds a request waiting for `run anyway` or `join`.
    pub held: bool,
}

/// A message matched an agent's `triggers:` entry, with its debounce key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerHit {
    pub agent: String,
    pub trigger: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Ignore(&'static str),
    /// Answer in the thread (help, or why a request was rejected); no job.
    Reply {
        channel: String,
        thread_ts: String,
        text: String,
    },
    NewJob {
        channel: String,
        user: String,
        ts: String,
        thread_ts: String,
        task: String,
        options: RequestOptions,
        parent: Option<JobId>,
    },
    /// A reply in a job's thread, kept with the job.
    KeepReply {
        job: JobId,
        channel: String,
        ts: String,
        user: String,
        text: String,
    },
    /// A reaction on one of our messages.
    Reaction {
        link: MessageLink,
        channel: String,
        user: String,
        name: String,
        item_ts: String,
        added: bool,
    },
    /// One of the bot's own commands (amendments, prompts, the directory).
    Command {
        channel: String,
        user: String,
        ts: String,
        thread_ts: String,
        command: Ask,
        thread_job: Option<JobId>,
    },
    /// A `correction:` reply in a job's thread: propose an amendment to its agent.
    Correction {
        job: JobId,
        channel: String,
        ts: String,
        thread_ts: String,
        user: String,
        text: String,
    },
    /// Show the agent directory in the user's Home tab.
    Home {
        user: String,
    },
    /// A message outside a job's thread that fires an agent's trigger.
    Triggered(Triggered),
    /// `run anyway` or `join` in a thread whose request waits because of an overlap.
    OverlapChoice {
        channel: String,
        thread_ts: String,
        user: String,
        choice: Choice,
    },
}

/// A message that fired an agent's trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Triggered {
    pub hit: TriggerHit,
    pub channel: String,
    pub ts: String,
    /// The thread the run happens in (the message's own, or the thread it is in).
    pub thread_ts: String,
    /// A user id, or the bot id of a bot without one.
    pub sender: String,
    /// A person (not a bot) posted it.
    pub human: bool,
    pub text: String,
}

/// Message subtypes that are people talking; everything else (edits, deletes, joins) is skipped.
fn is_conversation(subtype: Option<&str>) -> bool {
    matches!(
        subtype,
        None | Some("thread_broadcast" | "file_share" | "me_message" | "bot_message")
    )
}

pub fn decide(kind: &InboundKind, facts: &Facts) -> Decision {
    match kind {
        InboundKind::Mention {
            channel,
            user,
            text,
            ts,
            thread_ts,
        } => {
            if user == facts.bot_user_id {
                return Decision::Ignore("own mention");
            }
            if facts.sender_is_bot && !facts.allowed_bots.contains(user) {
                return Decision::Ignore("other bot");
            }
            let root = thread_ts.clone().unwrap_or_else(|| ts.clone());
            if let (true, Some(thread_ts), Some(choice)) =
                (facts.held, thread_ts, notice::choice(text))
            {
                return Decision::OverlapChoice {
                    channel: channel.clone(),
                    thread_ts: thread_ts.clone(),
                    user: user.clone(),
                    choice,
                };
            }
            match request::parse_mention(text, facts.bot_user_id) {
                Ok(Ask::Task { task, options }) => Decision::NewJob {
                    channel: channel.clone(),
                    user: user.clone(),
                    ts: ts.clone(),
                    thread_ts: root,
                    task,
                    options,
                    parent: facts.thread_job,
                },
                Ok(Ask::Help) => Decision::Reply {
                    channel: channel.clone(),
                    thread_ts: root,
                    text: request::usage(facts.bot_name),
                },
                Ok(command) => Decision::Command {
                    channel: channel.clone(),
                    user: user.clone(),
                    ts: ts.clone(),
                    thread_ts: root,
                    command,
                    thread_job: facts.thread_job,
                },
                Err(e) => Decision::Reply {
                    channel: channel.clone(),
                    thread_ts: root,
                    text: request::error_reply(&e, facts.bot_name),
                },
            }
        }
        InboundKind::Message {
            channel,
            user,
            bot_id,
            text,
            ts,
            thread_ts,
            subtype,
        } => {
            if !is_conversation(subtype.as_deref()) {
                return Decision::Ignore("message subtype");
            }
            if user.as_deref() == Some(facts.bot_user_id)
                || (bot_id.is_some() && bot_id.as_deref() == facts.bot_id)
            {
                return Decision::Ignore("own message");
            }
            if let Some(b) = bot_id {
                let allowed = facts
                    .allowed_bots
                    .iter()
                    .any(|a| a == b || Some(a) == user.as_ref());
                if !allowed {
                    return Decision::Ignore("other bot");
                }
            }
            if request::mentions(text, facts.bot_user_id) {
                return Decision::Ignore("handled as app_mention");
            }
            if let (true, Some(thread_ts), Some(user), None, Some(choice)) =
                (facts.held, thread_ts, user, bot_id, notice::choice(text))
            {
                return Decision::OverlapChoice {
                    channel: channel.clone(),
                    thread_ts: thread_ts.clone(),
                    user: user.clone(),
                    choice,
                };
            }
            let (Some(thread_ts), Some(job)) = (thread_ts, facts.thread_job) else {
                return match &facts.trigger {
                    Some(hit) => Decision::Triggered(Triggered {
                        hit: hit.clone(),
                        channel: channel.clone(),
                        ts: ts.clone(),
                        thread_ts: thread_ts.clone().unwrap_or_else(|| ts.clone()),
                        sender: user.clone().or_else(|| bot_id.clone()).unwrap_or_default(),
                        human: bot_id.is_none(),
                        text: text.clone(),
                    }),
                    None => Decision::Ignore("not in a job thread"),
                };
            };
            if let (Some(text), Some(user)) = (request::parse_correction(text), user) {
                return Decision::Correction {
                    job,
                    channel: channel.clone(),
                    ts: ts.clone(),
                    thread_ts: thread_ts.clone(),
                    user: user.clone(),
                    text,
                };
            }
            Decision::KeepReply {
                job,
                channel: channel.clone(),
                ts: ts.clone(),
                user: user.clone().or_else(|| bot_id.clone()).unwrap_or_default(),
                text: text.clone(),
            }
        }
        InboundKind::Reaction {
            channel,
            user,
            name,
            item_ts,
            added,
            ..
        } => {
            if user == facts.bot_user_id {
                return Decision::Ignore("own reaction");
            }
            match &facts.message_link {
                Some(link) => Decision::Reaction {
                    link: link.clone(),
                    channel: channel.clone(),
                    user: user.clone(),
                    name: name.clone(),
                    item_ts: item_ts.clone(),
                    added: *added,
                },
                None => Decision::Ignore("reaction on a message that is not ours"),
            }
        }
        InboundKind::HomeOpened { user } => Decision::Home { user: user.clone() },
        InboundKind::Other(_) => Decision::Ignore("event type not handled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            bot_user_id: "UB",
            bot_name: "threadwork",
            bot_id: Some("BB"),
            allowed_bots: &[],
            sender_is_bot: false,
            thread_job: None,
            message_link: None,
            trigger: None,
            held: false,
        }
    }

    #[test]
    fn choices_only_in_held_threads_and_only_from_people() {
        let held = Facts {
            held: true,
            ..facts()
        };
        let reply = message(Some("U1"), None, "run anyway", Some("1.0"), None);
        assert!(matches!(
            decide(&reply, &held),
            Decision::OverlapChoice { choice: Choice::RunAnyway, ref user, .. } if user == "U1"
        ));
        assert_eq!(
            decide(&reply, &facts()),
            Decision::Ignore("not in a job thread")
        );
        let bot = message(Some("U9"), Some("B9"), "join", Some("1.0"), None);
        let allowed = ["B9".to_string()];
        let held_bots = Facts {
            allowed_bots: &allowed,
            ..held.clone()
        };
        assert!(!matches!(
            decide(&bot, &held_bots),
            Decision::OverlapChoice { .. }
        ));
        assert!(matches!(
            decide(&mention("<@UB> join", Some("1.0")), &held),
            Decision::OverlapChoice {
                choice: Choice::Join,
                ..
            }
        ));
        assert!(matches!(
            decide(&mention("<@UB> join the standup", Some("1.0")), &held),
            Decision::NewJob { .. }
        ));
        let top = message(Some("U1"), None, "run anyway", None, None);
        assert!(!matches!(
            decide(&top, &held),
            Decision::OverlapChoice { .. }
        ));
    }

    fn mention(text: &str, thread_ts: Option<&str>) -> InboundKind {
        InboundKind::Mention {
            channel: "C".into(),
            user: "U1".into(),
            text: text.into(),
            ts: "2.0".into(),
            thread_ts: thread_ts.map(Into::into),
        }
    }

    fn message(
        user: Option<&str>,
        bot: Option<&str>,
        text: &str,
        thread: Option<&str>,
        subtype: Option<&str>,
    ) -> InboundKind {
        InboundKind::Message {
            channel: "C".into(),
            user: user.map(Into::into),
            bot_id: bot.map(Into::into),
            text: text.into(),
            ts: "3.0".into(),
            thread_ts: thread.map(Into::into),
            subtype: subtype.map(Into::into),
        }
    }

    #[test]
    fn triggers_fire_only_outside_job_threads_and_never_on_own_messages() {
        let hit = TriggerHit {
            agent: "digest".into(),
            trigger: "alerts".into(),
            key: "db".into(),
        };
        let with_hit = Facts {
            trigger: Some(hit.clone()),
            ..facts()
        };
        let d = decide(
            &message(Some("U1"), None, "ALERT db", None, None),
            &with_hit,
        );
        assert!(
            matches!(&d, Decision::Triggered(t) if t.hit == hit && t.thread_ts == "3.0" && t.sender == "U1" && t.human),
            "{d:?}"
        );
        let d = decide(
            &message(Some("U1"), None, "ALERT db", Some("1.0"), None),
            &with_hit,
        );
        assert!(
            matches!(&d, Decision::Triggered(t) if t.thread_ts == "1.0"),
            "{d:?}"
        );
        for (kind, why) in [
            (
                message(Some("UB"), Some("BB"), "ALERT db", None, None),
                "own message",
            ),
            (
                message(
                    Some("U9"),
                    Some("B9"),
                    "ALERT db",
                    None,
                    Some("bot_message"),
                ),
                "other bot",
            ),
            (
                message(Some("U1"), None, "ALERT db", None, Some("message_changed")),
                "message subtype",
            ),
        ] {
            assert_eq!(decide(&kind, &with_hit), Decision::Ignore(why));
        }
        let allowed = ["B9".to_string()];
        let from_allowed_bot = Facts {
            allowed_bots: &allowed,
            ..with_hit.clone()
        };
        let d = decide(
            &message(
                Some("U9"),
                Some("B9"),
                "ALERT db",
                None,
                Some("bot_message"),
            ),
            &from_allowed_bot,
        );
        assert!(matches!(&d, Decision::Triggered(t) if !t.human), "{d:?}");
        // In a job's thread a message is a reply to that job, not a trigger.
        let in_job = Facts {
            thread_job: Some(4),
            ..with_hit
        };
        let d = decide(
            &message(Some("U1"), None, "ALERT db", Some("1.0"), None),
            &in_job,
        );
        assert!(matches!(d, Decision::KeepReply { job: 4, .. }), "{d:?}");
    }

    #[test]
    fn mention_starts_a_job_or_follow_up() {
        match decide(&mention("<@UB> fix it", None), &facts()) {
            Decision::NewJob {
                thread_ts,
                parent,
                task,
                ..
            } => {
                assert_eq!(
                    (thread_ts.as_str(), parent, task.as_str()),
                    ("2.0", None, "fix it")
                );
            }
            other => panic!("{other:?}"),
        }
        let f = Facts {
            thread_job: Some(9),
            ..facts()
        };
        match decide(&mention("<@UB> and now tests", Some("1.0")), &f) {
            Decision::NewJob {
                thread_ts, parent, ..
            } => assert_eq!((thread_ts.as_str(), parent), ("1.0", Some(9))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mentions_from_other_bots_only_when_allowed() {
        let f = Facts {
            sender_is_bot: true,
            ..facts()
        };
        assert_eq!(
            decide(&mention("<@UB> go", None), &f),
            Decision::Ignore("other bot")
        );
        let allowed = vec!["U1".to_string()];
        let f = Facts {
            allowed_bots: &allowed,
            ..f
        };
        assert!(matches!(
            decide(&mention("<@UB> go", None), &f),
            Decision::NewJob { .. }
        ));
    }

    #[test]
    fn bad_mention_gets_a_reply_not_a_job() {
        match decide(&mention("<@UB> fix modle=x", None), &facts()) {
            Decision::Reply {
                text, thread_ts, ..
            } => {
                assert!(text.contains("unknown option `modle`"));
                assert_eq!(thread_ts, "2.0");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_kept_only_in_job_threads_from_people() {
        let in_job = Facts {
            thread_job: Some(4),
            ..facts()
        };
        assert!(matches!(
            decide(
                &message(Some("U1"), None, "also check x", Some("1.0"), None),
                &in_job
            ),
            Decision::KeepReply { job: 4, .. }
        ));
        assert_eq!(
            decide(
                &message(Some("U1"), None, "hi", Some("1.0"), None),
                &facts()
            ),
            Decision::Ignore("not in a job thread")
        );
        assert_eq!(
            decide(
                &message(Some("UB"), Some("BB"), "card", Some("1.0"), None),
                &in_job
            ),
            Decision::Ignore("own message")
        );
        assert_eq!(
            decide(
                &message(None, Some("BX"), "beep", Some("1.0"), Some("bot_message")),
                &in_job
            ),
            Decision::Ignore("other bot")
        );
        assert_eq!(
            decide(
                &message(Some("U1"), None, "x", Some("1.0"), Some("message_changed")),
                &in_job
            ),
            Decision::Ignore("message subtype")
        );
        assert_eq!(
            decide(
                &message(Some("U1"), None, "x", Some("1.0"), Some("message_deleted")),
                &in_job
            ),
            Decision::Ignore("message subtype")
        );
        assert_eq!(
            decide(
                &message(Some("U1"), None, "<@UB> go", Some("1.0"), None),
                &in_job
            ),
            Decision::Ignore("handled as app_mention")
        );
        let allowed = vec!["BX".to_string()];
        let f = Facts {
            allowed_bots: &allowed,
            ..in_job
        };
        assert!(matches!(
            decide(
                &message(None, Some("BX"), "beep", Some("1.0"), Some("bot_message")),
                &f
            ),
            Decision::KeepReply { .. }
        ));
    }

    #[test]
    fn reactions_route_to_the_job_of_our_message() {
        let r = InboundKind::Reaction {
            channel: "C".into(),
            user: "U1".into(),
            name: "eyes".into(),
            item_ts: "5.0".into(),
            item_user: Some("UBOT".into()),
            added: true,
        };
        assert_eq!(
            decide(&r, &facts()),
            Decision::Ignore("reaction on a message that is not ours")
        );
        let f = Facts {
            message_link: Some(MessageLink::Card { job: 2 }),
            ..facts()
        };
        assert!(matches!(
            decide(&r, &f),
            Decision::Reaction {
                link: MessageLink::Card { job: 2 },
                added: true,
                ..
            }
        ));
    }

    #[test]
    fn corrections_and_commands() {
        let in_job = Facts {
            thread_job: Some(4),
            ..facts()
        };
        assert!(matches!(
            decide(&message(Some("U1"), None, "correction: use tabs", Some("1.0"), None), &in_job),
            Decision::Correction { job: 4, ref text, .. } if text == "use tabs"
        ));
        assert!(matches!(
            decide(&mention("<@UB> adopt 2", Some("1.0")), &in_job),
            Decision::Command {
                command: Ask::Decide { number: 2, .. },
                thread_job: Some(4),
                ..
            }
        ));
    }
}
