//! The chat platform boundary. The bot talks to chat only through `ChatPlatform` (outbound) and
//! receives `Inbound` events (decoded in `inbound`). `slack` implements both over Slack's Web API
//! and Socket Mode through slack-morphism; the same code talks to real Slack or the emulator.

pub mod inbound;
pub mod mrkdwn;
pub mod observed;
pub mod outbox;
pub mod pacing;
pub mod slack;

/// A message read back from a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub ts: String,
    pub user: Option<String>,
    pub bot_id: Option<String>,
    pub text: String,
    /// The tag the bot posted it with, if any.
    pub tag: Option<MessageTag>,
}

/// A machine-readable label on a message the bot posts (Slack's message `metadata`: an event
/// type and string fields), so that reading the thread back — after a crash, say — tells
/// which of the bot's own messages are already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTag {
    pub kind: String,
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ChatError {
    /// Slack answered `ok: false` with this error code.
    #[error("{method}: {code}")]
    Api { method: &'static str, code: String },
    /// `ratelimited` (HTTP 429), with Slack's `Retry-After`.
    #[error("{method}: rate limited")]
    RateLimited {
        method: &'static str,
        retry_after: Option<std::time::Duration>,
    },
    #[error("{method}: {message}")]
    Transport {
        method: &'static str,
        message: String,
    },
}

const UNTRUSTED: &str = "the server's TLS certificate is not trusted";
const PROXY_REFUSED: &str = "the proxy wants credentials";

/// A connection failure as the thread or log should say it. A certificate rustls refused is
/// named plainly (it is otherwise deep in hyper's debug text) with what fixes it, and so is a
/// proxy asking for credentials; neither is retried, as neither mends itself.
pub fn transport_message(raw: String) -> String {
    if raw.contains("ProxyAuthRequired") || raw.contains("proxy authorization required") {
        return format!(
            "{PROXY_REFUSED} (407): give them in HTTPS_PROXY as http://user:password@host:port"
        );
    }
    let Some(start) = raw.find("InvalidCertificate(") else {
        return raw;
    };
    let rest = &raw[start..];
    let mut depth = 0;
    let end = rest
        .char_indices()
        .find_map(|(i, c)| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            None
        })
        .unwrap_or(rest.len());
    let what = &rest[..end];
    let fix = if what.contains("UnknownIssuer") {
        "add the CA that signed it to the system's trust store, or name it in SSL_CERT_FILE"
    } else if what.contains("NotValidForName") {
        "it was issued for another host name: check the URL, or a proxy in between"
    } else if what.contains("Expired") || what.contains("NotValidYet") {
        "it is outside its validity dates: renew it, or check this machine's clock"
    } else {
        "check the certificate the server (or a proxy in between) presents"
    };
    format!("{UNTRUSTED} ({what}): {fix}")
}

impl ChatError {
    /// True when trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ChatError::Api { code, .. } => matches!(
                code.as_str(),
                "ratelimited"
                    | "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
            ),
            ChatError::RateLimited { .. } => true,
            // A certificate nobody trusts stays untrusted until someone adds its CA: no use
            // retrying for minutes in silence.
            ChatError::Transport { message, .. } => {
                !message.starts_with(UNTRUSTED) && !message.starts_with(PROXY_REFUSED)
            }
        }
    }
}

/// What the bot needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub is_bot: bool,
    /// A single- or multi-channel guest.
    pub guest: bool,
    /// The user's home workspace (another team's in a Slack Connect channel).
    pub team_id: Option<String>,
    /// The user's time zone (IANA name), for times shown to them.
    pub tz: Option<String>,
}

/// What the bot needs to know about a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    /// A private channel, a DM or a group DM.
    pub private: bool,
    /// Shared with another workspace (Slack Connect).
    pub shared: bool,
}

/// Who the bot is on the platform (from `auth.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub user_id: String,
    /// The bot user's name in the workspace (what people type after `@`).
    pub name: String,
    pub bot_id: Option<String>,
    pub team_id: String,
}

/// Outbound calls the bot makes. Implementations honour the platform's rate limits.
#[async_trait::async_trait]
pub trait ChatPlatform: Send + Sync {
    async fn identity(&self) -> Result<BotIdentity, ChatError>;
    /// Posts a message (in a thread when `thread_ts` is given); returns its ts.
    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, ChatError>;
    /// Posts a message carrying `tag`, which `thread_messages` gives back with it.
    async fn post_tagged(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        tag: &MessageTag,
    ) -> Result<String, ChatError>;
    async fn update_message(&self, channel: &str, ts: &str, text: &str) -> Result<(), ChatError>;
    async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<(), ChatError>;
    async fn add_reaction(&self, channel: &str, ts: &str, name: &str) -> Result<(), ChatError>;
    /// The thread's messages, oldest first (the root included), with the bot's tags.
    async fn thread_messages(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Vec<ChatMessage>, ChatError>;
    /// A user's display name and whether it is a bot (cached by implementations).
    async fn user(&self, user: &str) -> Result<UserInfo, ChatError>;
    async fn permalink(&self, channel: &str, ts: &str) -> Result<String, ChatError>;
    /// Whether a conversation is private or shared (cached by implementations).
    async fn channel(&self, channel: &str) -> Result<ChannelInfo, ChatError>;
    /// Publishes the App Home tab of `user` as one mrkdwn section per entry of `sections`.
    async fn publish_home(&self, user: &str, sections: &[String]) -> Result<(), ChatError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_certificate_is_named_and_not_retried() {
        let raw = "Slack http protocol error: Some(hyper_util::client::legacy::Error(Connect, Custom { kind: Other, error: Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) } }))";
        let message = transport_message(raw.to_string());
        assert_eq!(
            message,
            "the server's TLS certificate is not trusted (InvalidCertificate(UnknownIssuer)): add the CA that signed it to the system's trust store, or name it in SSL_CERT_FILE"
        );
        let e = ChatError::Transport {
            method: "auth.test",
            message,
        };
        assert!(!e.is_transient());
        let blip = ChatError::Transport {
            method: "auth.test",
            message: transport_message("connection reset by peer".into()),
        };
        assert!(blip.is_transient());
        assert_eq!(
            transport_message("x: InvalidCertificate(Expired) y".into()),
            "the server's TLS certificate is not trusted (InvalidCertificate(Expired)): it is outside its validity dates: renew it, or check this machine's clock"
        );
        let proxy = ChatError::Transport {
            method: "auth.test",
            message: transport_message(
                "through the proxy 10.0.0.1:3128: proxy authorization required".into(),
            ),
        };
        assert!(
            proxy
                .to_string()
                .contains("the proxy wants credentials (407)"),
            "{proxy}"
        );
        assert!(!proxy.is_transient());
    }
}
