//! The emulated workspace: users, channels, messages, and the Slack-shaped JSON built from them.
//! Pure data and logic; the HTTP and WebSocket sides live in `web_api` and `socket`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};

pub const TEAM_ID: &str = "T0EMULATE1";
pub const APP_ID: &str = "A0EMULATE1";
pub const BOT_USER_ID: &str = "U0BOTUSER1";
pub const BOT_ID: &str = "B0BOTUSER1";
pub const BOT_NAME: &str = "threadwork";
/// Another app's bot in the workspace, for tests of the bot filter.
pub const OTHER_BOT_USER_ID: &str = "U0OTHERBOT";
pub const OTHER_BOT_ID: &str = "B0OTHERBOT";

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub is_bot: bool,
    /// A multi-channel guest (`is_restricted`).
    pub guest: bool,
    /// Home workspace: another team's for a Slack Connect user.
    pub team_id: String,
}

/// A Slack Connect partner's workspace, home of the emulator's external user.
pub const OTHER_TEAM_ID: &str = "T0PARTNER1";

#[derive(Debug, Clone, Serialize)]
pub struct Reaction {
    pub name: String,
    pub users: Vec<String>,
}

/// A message as the emulator keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub user: String,
    pub bot_id: Option<String>,
    pub text: String,
    pub edited: Option<String>,
    pub reactions: Vec<Reaction>,
    /// How many times `chat.update` changed it.
    pub edits: u32,
    /// Message metadata posted with it (`event_type`, `event_payload`); returned by
    /// `conversations.replies` only when asked with `include_all_metadata`, as Slack does.
    pub metadata: Option<Value>,
}

impl Message {
    /// The message in Slack's `conversations.replies` / event shape.
    pub fn to_json(&self, replies: Option<(usize, Option<&str>)>) -> Value {
        let mut v = json!({
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": TEAM_ID,
        });
        if let Some(bot_id) = &self.bot_id {
            v["bot_id"] = json!(bot_id);
            v["app_id"] = json!(APP_ID);
        }
        if let Some(t) = &self.thread_ts {
            v["thread_ts"] = json!(t);
        }
        if let Some((count, latest)) = replies {
            if count > 0 {
                v["thread_ts"] = json!(self.ts);
                v["reply_count"] = json!(count);
                v["latest_reply"] = json!(latest);
            }
        }
        if let Some(e) = &self.edited {
            v["edited"] = json!({"user": self.user, "ts": e});
        }
        if !self.reactions.is_empty() {
            v["reactions"] = json!(self
                .reactions
                .iter()
                .map(|r| json!({"name": r.name, "users": r.users, "count": r.users.len()}))
                .collect::<Vec<_>>());
        }
        v
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Ephemeral {
    pub channel: String,
    pub user: String,
    pub text: String,
    pub thread_ts: Option<String>,
}

/// A `ratelimited` answer the emulator decided to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

/// Sliding one-minute windows per method (and per channel for chat.postMessage, as Slack does).
#[derive(Debug, Default)]
pub struct RateLimits {
    per_minute: HashMap<String, u32>,
    windows: HashMap<String, VecDeque<Instant>>,
    /// Forced answers: the next `count` calls of a method get 429 with this Retry-After.
    forced: HashMap<String, (u32, u64)>,
}

impl RateLimits {
    pub fn set(&mut self, method: &str, per_minute: Option<u32>) {
        match per_minute {
            Some(n) => self.per_minute.insert(method.to_string(), n.max(1)),
            None => self.per_minute.remove(method),
        };
    }

    pub fn force(&mut self, method: &str, count: u32, retry_after_secs: u64) {
        self.forced
            .insert(method.to_string(), (count, retry_after_secs.max(1)));
    }

    /// Counts a call and says whether it is over the limit.
    pub fn check(&mut self, method: &str, channel: Option<&str>, now: Instant) -> Option<Limited> {
        if let Some((count, retry)) = self.forced.get_mut(method) {
            if *count > 0 {
                *count -= 1;
                return Some(Limited {
                    retry_after_secs: *retry,
                });
            }
        }
        let limit = *self.per_minute.get(method)?;
        let key = match (method, channel) {
            ("chat.postMessage", Some(c)) => format!("{method}:{c}"),
            _ => method.to_string(),
        };
        let window = self.windows.entry(key).or_default();
        let minute = Duration::from_secs(60);
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            window.pop_front();
        }
        if window.len() as u32 >= limit {
            let oldest = *window.front()?;
            let wait = minute.saturating_sub(now.duration_since(oldest));
            return Some(Limited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        window.push_back(now);
        None
    }
}

/// Counters a test or a benchmark reads back.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub calls: BTreeMap<String, u64>,
    pub ratelimited: BTreeMap<String, u64>,
    pub connections_opened: u64,
    pub envelopes_sent: u64,
    pub acks: u64,
    pub redeliveries: u64,
    pub undelivered: u64,
}

pub struct Workspace {
    /// The Home tab each user was last shown (`views.publish`).
    pub homes: BTreeMap<String, Value>,
    pub users: BTreeMap<String, User>,
    /// Channel id → name.
    pub channels: BTreeMap<String, String>,
    /// The private channels among them.
    pub private: std::collections::BTreeSet<String>,
    /// Channels the bot is not a member of: it cannot post there (`not_in_channel`).
    pub bot_absent: std::collections::BTreeSet<String>,
    pub messages: Vec<Message>,
    pub ephemerals: Vec<Ephemeral>,
    last_ts_micros: u64,
    next_event: u64,
}

impl Default for Workspace {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        for (id, name, real, bot, guest, team) in [
            (BOT_USER_ID, BOT_NAME, "threadwork", true, false, TEAM_ID),
            (
                "U0ALICE001",
                "alice",
                "Alice Liddell",
                false,
                false,
                TEAM_ID,
            ),
            ("U0BOB00001", "bob", "Bob Builder", false, false, TEAM_ID),
            ("U0YOU00001", "you", "You", false, false, TEAM_ID),
            ("U0GUEST001", "gina", "Gina Guest", false, true, TEAM_ID),
            (
                "U0EXTERN01",
                "xavier",
                "Xavier Partner",
                false,
                false,
                OTHER_TEAM_ID,
            ),
            (
                OTHER_BOT_USER_ID,
                "otherbot",
                "Other Bot",
                true,
                false,
                TEAM_ID,
            ),
        ] {
            users.insert(
                id.to_string(),
                User {
                    id: id.into(),
                    name: name.into(),
                    real_name: real.into(),
                    is_bot: bot,
                    guest,
                    team_id: team.into(),
                },
            );
        }
        let channels = [
            ("C0GENERAL1", "general"),
            ("C0RANDOM01", "random"),
            ("C0DEV00001", "dev"),
            ("C0SECRET01", "secret"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        Self {
            homes: BTreeMap::new(),
            users,
            channels,
            private: ["C0SECRET01".to_string()].into(),
            bot_absent: Default::default(),
            messages: Vec::new(),
            ephemerals: Vec::new(),
            last_ts_micros: 0,
            next_event: 0,
        }
    }
}

impl Workspace {
    /// A new message ts: `seconds.micros`, strictly increasing like Slack's.
    pub fn next_ts(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        self.last_ts_micros = now.max(self.last_ts_micros + 1);
        format!(
            "{}.{:06}",
            self.last_ts_micros / 1_000_000,
            self.last_ts_micros % 1_000_000
        )
    }

    pub fn next_event_id(&mut self) -> String {
        self.next_event += 1;
        format!("Ev{:010}", self.next_event)
    }

    /// Resolves a channel given by id, `name` or `#name`.
    pub fn channel_id(&self, given: &str) -> Option<String> {
        let name = given.trim_start_matches('#');
        if self.channels.contains_key(given) {
            return Some(given.to_string());
        }
        self.channels
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.clone())
    }

    /// Resolves a user given by id or name.
    pub fn user_id(&self, given: &str) -> Option<String> {
        if self.users.contains_key(given) {
            return Some(given.to_string());
        }
        self.users
            .values()
            .find(|u| u.name == given)
            .map(|u| u.id.clone())
    }

    pub fn find(&self, channel: &str, ts: &str) -> Option<usize> {
        self.messages
            .iter()
            .position(|m| m.channel == channel && m.ts == ts)
    }

    /// The root and its replies, oldest first.
    pub fn thread(&self, channel: &str, thread_ts: &str) -> Vec<&Message> {
        let mut out: Vec<&Message> = self
            .messages
            .iter()
            .filter(|m| {
                m.channel == channel
                    && (m.ts == thread_ts || m.thread_ts.as_deref() == Some(thread_ts))
            })
            .collect();
        out.sort_by_key(|m| ts_key(&m.ts));
        out
    }

    pub fn reply_stats(&self, channel: &str, ts: &str) -> (usize, Option<&str>) {
        let replies: Vec<&Message> = self
            .messages
            .iter()
            .filter(|m| m.channel == channel && m.thread_ts.as_deref() == Some(ts) && m.ts != ts)
            .collect();
        (
            replies.len(),
            replies
                .iter()
                .map(|m| m.ts.as_str())
                .max_by_key(|t| ts_key(t)),
        )
    }

    /// Builds the `event_callback` payload Slack wraps every Events API event in.
    pub fn event_callback(&mut self, event: Value) -> (String, Value) {
        let event_id = self.next_event_id();
        let payload = json!({
            "token": "emulated-verification-token",
            "team_id": TEAM_ID,
            "context_team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
            "authorizations": [{
                "enterprise_id": null, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                "is_bot": true, "is_enterprise_install": false
            }],
            "is_ext_shared_channel": false,
            "event_context": format!("4-emulated-{event_id}"),
        });
        (event_id, payload)
    }
}

/// Orders ts strings numerically (`seconds.micros`).
pub fn ts_key(ts: &str) -> (u64, u64) {
    let (s, m) = ts.split_once('.').unwrap_or((ts, "0"));
    (s.parse().unwrap_or(0), m.parse().unwrap_or(0))
}

/// The events Slack sends for a user's message: `app_mention` when it mentions the bot, and
/// the `message` event (message.channels) always.
pub fn events_for_message(msg: &Message) -> Vec<Value> {
    let mut base = json!({
        "user": msg.user,
        "text": msg.text,
        "ts": msg.ts,
        "channel": msg.channel,
        "event_ts": msg.ts,
        "team": TEAM_ID,
        "client_msg_id": format!("cm-{}", msg.ts),
    });
    if let Some(t) = &msg.thread_ts {
        base["thread_ts"] = json!(t);
    }
    if let Some(b) = &msg.bot_id {
        base["bot_id"] = json!(b);
        base["app_id"] = json!(APP_ID);
        base.as_object_mut().map(|o| o.remove("client_msg_id"));
    }
    let mut out = Vec::new();
    if msg.user != BOT_USER_ID
        && (msg.text.contains(&format!("<@{BOT_USER_ID}>"))
            || msg.text.contains(&format!("<@{BOT_USER_ID}|")))
    {
        let mut mention = base.clone();
        mention["type"] = json!("app_mention");
        out.push(mention);
    }
    let mut message = base;
    message["type"] = json!("message");
    message["channel_type"] = json!("channel");
    out.push(message);
    out
}

pub fn reaction_event(user: &str, name: &str, item: &Message, added: bool) -> Value {
    json!({
        "type": if added { "reaction_added" } else { "reaction_removed" },
        "user": user,
        "reaction": name,
        "item_user": item.user,
        "item": {"type": "message", "channel": item.channel, "ts": item.ts},
        "event_ts": format!("{}", SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()),
    })
}

pub fn message_changed_event(before: &Message, after: &Message, event_ts: &str) -> Value {
    json!({
        "type": "message",
        "subtype": "message_changed",
        "hidden": true,
        "channel": after.channel,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": "channel",
        "message": after.to_json(None),
        "previous_message": before.to_json(None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_is_strictly_increasing_and_slack_shaped() {
        let mut w = Workspace::default();
        let a = w.next_ts();
        let b = w.next_ts();
        assert!(ts_key(&b) > ts_key(&a));
        let (s, m) = a.split_once('.').unwrap();
        assert_eq!(m.len(), 6);
        assert!(s.len() >= 10);
    }

    #[test]
    fn sliding_window_limits_and_forced_answers() {
        let mut r = RateLimits::default();
        let t0 = Instant::now();
        r.set("chat.update", Some(2));
        assert_eq!(r.check("chat.update", None, t0), None);
        assert_eq!(r.check("chat.update", None, t0), None);
        assert!(r.check("chat.update", None, t0).is_some());
        assert_eq!(
            r.check("chat.update", None, t0 + Duration::from_secs(61)),
            None
        );
        // chat.postMessage is limited per channel.
        r.set("chat.postMessage", Some(1));
        assert_eq!(r.check("chat.postMessage", Some("C1"), t0), None);
        assert_eq!(r.check("chat.postMessage", Some("C2"), t0), None);
        assert!(r.check("chat.postMessage", Some("C1"), t0).is_some());
        r.force("auth.test", 1, 3);
        assert_eq!(
            r.check("auth.test", None, t0),
            Some(Limited {
                retry_after_secs: 3
            })
        );
        assert_eq!(r.check("auth.test", None, t0), None);
    }

    #[test]
    fn mention_produces_app_mention_and_message() {
        let msg = Message {
            channel: "C1".into(),
            ts: "1.000001".into(),
            thread_ts: None,
            user: "U1".into(),
            bot_id: None,
            text: format!("<@{BOT_USER_ID}> hi"),
            edited: None,
            reactions: vec![],
            edits: 0,
            metadata: None,
        };
        let events = events_for_message(&msg);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["type"], "app_mention");
        assert_eq!(events[1]["type"], "message");
    }
}
