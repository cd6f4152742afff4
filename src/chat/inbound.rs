//! Typed inbound events, decoded from Slack's Events API payloads. Pure.

use rvstruct::ValueStruct;
use slack_morphism::events::{SlackEventCallbackBody, SlackPushEventCallback};
use slack_morphism::prelude::{SlackReactionsItem, SlackUserId};

/// An event the bot may act on, with the ids it is de-duplicated by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub event_id: String,
    pub kind: InboundKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundKind {
    /// `app_mention`: someone addressed the bot.
    Mention {
        channel: String,
        user: String,
        text: String,
        ts: String,
        thread_ts: Option<String>,
    },
    /// `message` (plain, or a subtype we may want to skip).
    Message {
        channel: String,
        user: Option<String>,
        bot_id: Option<String>,
        text: String,
        ts: String,
        thread_ts: Option<String>,
        subtype: Option<String>,
    },
    /// `reaction_added` / `reaction_removed` on a message.
    Reaction {
        channel: String,
        user: String,
        name: String,
        item_ts: String,
        /// Who posted the message reacted to.
        item_user: Option<String>,
        added: bool,
    },
    /// `app_home_opened`: a user opened the bot's Home tab.
    HomeOpened { user: String },
    /// Anything else, by type name (logged and ignored).
    Other(String),
}

/// An event as it arrived, held whole until the bot takes it off the inbound queue: the ack
/// path only queues it, decoding happens behind (`Envelope::decode`). Opaque, so no Slack
/// library type reaches `bot/`.
pub struct Envelope(Box<SlackPushEventCallback>);

impl Envelope {
    pub fn new(event: SlackPushEventCallback) -> Self {
        Self(Box::new(event))
    }

    pub fn decode(&self) -> Inbound {
        decode(&self.0)
    }
}

pub fn decode(event: &SlackPushEventCallback) -> Inbound {
    let event_id = event.event_id.value().to_string();
    let kind = match &event.event {
        SlackEventCallbackBody::AppMention(m) => InboundKind::Mention {
            channel: m.channel.value().to_string(),
            user: m.user.value().to_string(),
            text: m.content.text.clone().unwrap_or_default(),
            ts: m.origin.ts.value().to_string(),
            thread_ts: m.origin.thread_ts.as_ref().map(|t| t.value().to_string()),
        },
        SlackEventCallbackBody::Message(m) => InboundKind::Message {
            channel: m
                .origin
                .channel
                .as_ref()
                .map(|c| c.value().to_string())
                .unwrap_or_default(),
            user: m.sender.user.as_ref().map(|u| u.value().to_string()),
            bot_id: m.sender.bot_id.as_ref().map(|b| b.value().to_string()),
            text: m
                .content
                .as_ref()
                .and_then(|c| c.text.clone())
                .unwrap_or_default(),
            ts: m.origin.ts.value().to_string(),
            thread_ts: m.origin.thread_ts.as_ref().map(|t| t.value().to_string()),
            subtype: m.subtype.as_ref().map(|s| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{s:?}"))
            }),
        },
        SlackEventCallbackBody::AppHomeOpened(h) => InboundKind::HomeOpened {
            user: h.user.value().to_string(),
        },
        SlackEventCallbackBody::ReactionAdded(r) => reaction(
            &r.item,
            &r.item_user,
            r.user.value(),
            r.reaction.value(),
            true,
        ),
        SlackEventCallbackBody::ReactionRemoved(r) => reaction(
            &r.item,
            &r.item_user,
            r.user.value(),
            r.reaction.value(),
            false,
        ),
        other => InboundKind::Other(
            serde_json::to_value(other)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_else(|| "unknown".into()),
        ),
    };
    Inbound { event_id, kind }
}

fn reaction(
    item: &SlackReactionsItem,
    item_user: &Option<SlackUserId>,
    user: &str,
    name: &str,
    added: bool,
) -> InboundKind {
    match item {
        SlackReactionsItem::Message(m) => InboundKind::Reaction {
            channel: m
                .origin
                .channel
                .as_ref()
                .map(|c| c.value().to_string())
                .unwrap_or_default(),
            user: user.to_string(),
            name: name.to_string(),
            item_ts: m.origin.ts.value().to_string(),
            item_user: item_user.as_ref().map(|u| u.value().to_string()),
            added,
        },
        SlackReactionsItem::File(_) => InboundKind::Other("reaction on a file".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(event: serde_json::Value) -> SlackPushEventCallback {
        serde_json::from_value(json!({
            "token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": "Ev1", "event_time": 1700000000, "event": event
        }))
        .unwrap()
    }

    #[test]
    fn app_mention() {
        let e = envelope(
            json!({"type": "app_mention", "user": "U1", "text": "<@UB> hi", "ts": "1.000100", "channel": "C1", "event_ts": "1.000100"}),
        );
        assert_eq!(
            decode(&e),
            Inbound {
                event_id: "Ev1".into(),
                kind: InboundKind::Mention {
                    channel: "C1".into(),
                    user: "U1".into(),
                    text: "<@UB> hi".into(),
                    ts: "1.000100".into(),
                    thread_ts: None
                }
            }
        );
    }

    #[test]
    fn thread_message_and_subtypes() {
        let e = envelope(
            json!({"type": "message", "user": "U1", "text": "more", "ts": "2.0", "thread_ts": "1.0", "channel": "C1", "channel_type": "channel", "event_ts": "2.0"}),
        );
        assert!(
            matches!(decode(&e).kind, InboundKind::Message { thread_ts: Some(ref t), subtype: None, .. } if t == "1.0")
        );
        let e = envelope(
            json!({"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "3.0", "event_ts": "3.0", "hidden": true,
            "message": {"type": "message", "user": "U1", "text": "x", "ts": "2.0"}}),
        );
        assert!(
            matches!(decode(&e).kind, InboundKind::Message { subtype: Some(ref s), .. } if s == "message_changed")
        );
        let e = envelope(
            json!({"type": "message", "subtype": "bot_message", "bot_id": "B1", "text": "beep", "ts": "4.0", "channel": "C1", "event_ts": "4.0"}),
        );
        assert!(
            matches!(decode(&e).kind, InboundKind::Message { bot_id: Some(ref b), .. } if b == "B1")
        );
    }

    #[test]
    fn reactions() {
        let e = envelope(
            json!({"type": "reaction_added", "user": "U1", "reaction": "white_check_mark", "item_user": "UB",
            "item": {"type": "message", "channel": "C1", "ts": "5.0"}, "event_ts": "6.0"}),
        );
        assert_eq!(
            decode(&e).kind,
            InboundKind::Reaction {
                channel: "C1".into(),
                user: "U1".into(),
                name: "white_check_mark".into(),
                item_ts: "5.0".into(),
                item_user: Some("UB".into()),
                added: true
            }
        );
    }

    #[test]
    fn unknown_events_are_other() {
        let e = envelope(
            json!({"type": "channel_created", "channel": {"id": "C9", "name": "x", "created": 1, "creator": "U1"}}),
        );
        assert!(matches!(decode(&e).kind, InboundKind::Other(_)));
    }
}
