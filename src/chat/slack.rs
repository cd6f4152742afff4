//! Slack over slack-morphism: Web API calls (with the library's rate control, which spaces calls
//! by Slack's tiers and retries `ratelimited` answers after `Retry-After`) and Socket Mode.
//!
//! Invariant: the Socket Mode callback only hands the event to a channel and returns, so the
//! envelope is acked before any other work and with no I/O but the ack itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rvstruct::ValueStruct;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio::sync::{mpsc, Mutex};

use super::pacing::{Budget, Limits, Pacer};
use super::{BotIdentity, ChatError, ChatMessage, ChatPlatform, MessageTag, UserInfo};
use crate::ops::metrics::Metrics;
use crate::ops::server::Health;

/// How events reach the bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Socket Mode: the bot connects out over WebSocket (no public endpoint needed).
    #[default]
    Socket,
    /// The HTTP Events API: Slack posts signed requests to `/slack/events` on the ops server.
    Http,
}

/// Slack's own Web API base.
pub const SLACK_API_URL: &str = "https://slack.com/api";

#[derive(Clone)]
pub struct SlackSettings {
    /// Web API base URL, e.g. `https://slack.com/api` or the emulator's.
    pub api_url: String,
    pub bot_token: SecretString,
    /// The app-level token Socket Mode connects with (absent with the HTTP transport).
    pub app_token: Option<SecretString>,
    /// The signing secret HTTP Events API requests are checked with.
    pub signing_secret: Option<SecretString>,
    /// How events arrive.
    pub transport: Transport,
    /// Socket Mode connections kept open at once (Slack allows up to 10).
    pub connections: u32,
    /// Seconds between reconnect attempts after a failed connect.
    pub reconnect_secs: u64,
    /// Outbound pacing.
    pub limits: Limits,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("api_url", &self.api_url)
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

/// The connector both Slack clients use: the bot's trusted roots and proxy (`net`).
pub type Connector =
    SlackClientHyperConnector<hyper_rustls::HttpsConnector<crate::net::ProxyConnector>>;
/// The slack-morphism client, Web API and Socket Mode.
pub type SlackHyperClient = SlackClient<Connector>;

fn connector(api_url: &str, outbound: &crate::net::Outbound) -> Connector {
    // Nagle off (in `net`), as on the Socket Mode connection: Web API calls are small
    // request/response exchanges where waiting to coalesce segments only adds latency.
    SlackClientHyperConnector::with_connector(outbound.https_connector())
        .with_slack_api_url(api_url.trim_end_matches('/'))
}

/// Builds the slack-morphism client used for both the Web API and Socket Mode.
pub fn client(settings: &SlackSettings) -> Arc<SlackHyperClient> {
    let outbound = crate::net::outbound();
    // Socket Mode connections go out the same way as Web API calls.
    let tcp = outbound.connector();
    let tls = outbound.tls();
    slack_morphism::hyper_tokio::set_wss_connect(Arc::new(move |url: String| {
        let tcp = tcp.clone();
        let tls = tls.clone();
        Box::pin(async move {
            let stream = tcp.tcp(&url).await.map_err(std::io::Error::other)?;
            Ok((
                stream,
                Some(slack_morphism::hyper_tokio::SlackWssTlsConnector::Rustls(
                    tls,
                )),
            ))
        })
    }));
    // No slack-morphism rate control: without a team id it spaces chat.postMessage at one a
    // second across the whole workspace, with growing penalties. `pacing` spends per-channel and
    // per-tier budgets instead, and `bot::outbox` waits out `Retry-After`.
    Arc::new(SlackClient::new(connector(&settings.api_url, outbound)))
}

fn token(secret: &SecretString) -> SlackApiToken {
    SlackApiToken::new(SlackApiTokenValue(secret.expose_secret().to_string()))
}

/// The Web API side of the chat boundary.
pub struct SlackChat {
    client: Arc<SlackHyperClient>,
    bot_token: SlackApiToken,
    users: Mutex<HashMap<String, UserInfo>>,
    channels: Mutex<HashMap<String, super::ChannelInfo>>,
    pacer: Pacer,
}

impl SlackChat {
    pub fn new(client: Arc<SlackHyperClient>, settings: &SlackSettings) -> Self {
        Self {
            client,
            bot_token: token(&settings.bot_token),
            users: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
            pacer: Pacer::new(settings.limits),
        }
    }

    async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        tag: Option<&MessageTag>,
    ) -> Result<String, ChatError> {
        self.pacer.ready(Budget::Post { channel }).await;
        let session = self.client.open_session(&self.bot_token);
        let content = text_content(text).opt_metadata(tag.map(|t| SlackMessageMetadata {
            event_type: t.kind.clone(),
            event_payload: Some(t.fields.clone().into_iter().collect()),
        }));
        let req = SlackApiChatPostMessageRequest::new(channel.into(), content)
            .opt_thread_ts(thread_ts.map(|t| t.into()));
        let res = session
            .chat_post_message(&req)
            .await
            .map_err(|e| map_err("chat.postMessage", e))?;
        Ok(res.ts.value().to_string())
    }
}

fn map_err(method: &'static str, err: SlackClientError) -> ChatError {
    match err {
        SlackClientError::ApiError(e) => ChatError::Api {
            method,
            code: e.code,
        },
        SlackClientError::RateLimitError(e) => ChatError::RateLimited {
            method,
            retry_after: e.retry_after,
        },
        // Only a failure to connect can be about a certificate (a body never is).
        SlackClientError::HttpProtocolError(e) => ChatError::Transport {
            method,
            message: super::transport_message(SlackClientError::HttpProtocolError(e).to_string()),
        },
        other => ChatError::Transport {
            method,
            message: other.to_string(),
        },
    }
}

fn text_content(text: &str) -> SlackMessageContent {
    SlackMessageContent::new().with_text(text.to_string())
}

#[async_trait::async_trait]
impl ChatPlatform for SlackChat {
    async fn identity(&self) -> Result<BotIdentity, ChatError> {
        let session = self.client.open_session(&self.bot_token);
        let res = session
            .auth_test()
            .await
            .map_err(|e| map_err("auth.test", e))?;
        Ok(BotIdentity {
            user_id: res.user_id.value().to_string(),
            name: res.user.unwrap_or_else(|| "threadwork".into()),
            bot_id: res.bot_id.map(|b| b.value().to_string()),
            team_id: res.team_id.value().to_string(),
        })
    }

    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, ChatError> {
        self.post(channel, thread_ts, text, None).await
    }

    async fn post_tagged(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        tag: &MessageTag,
    ) -> Result<String, ChatError> {
        self.post(channel, thread_ts, text, Some(tag)).await
    }

    async fn update_message(&self, channel: &str, ts: &str, text: &str) -> Result<(), ChatError> {
        self.pacer.ready(Budget::Update).await;
        let session = self.client.open_session(&self.bot_token);
        let req = SlackApiChatUpdateRequest::new(channel.into(), text_content(text), ts.into());
        session
            .chat_update(&req)
            .await
            .map_err(|e| map_err("chat.update", e))?;
        Ok(())
    }

    async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<(), ChatError> {
        self.pacer.ready(Budget::Tier4("chat.postEphemeral")).await;
        let session = self.client.open_session(&self.bot_token);
        let req =
            SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), text_content(text))
                .opt_thread_ts(thread_ts.map(|t| t.into()));
        session
            .chat_post_ephemeral(&req)
            .await
            .map_err(|e| map_err("chat.postEphemeral", e))?;
        Ok(())
    }

    async fn add_reaction(&self, channel: &str, ts: &str, name: &str) -> Result<(), ChatError> {
        self.pacer.ready(Budget::Tier3("reactions.add")).await;
        let session = self.client.open_session(&self.bot_token);
        let req = SlackApiReactionsAddRequest::new(channel.into(), name.into(), ts.into());
        match session.reactions_add(&req).await {
            Ok(_) => Ok(()),
            // Already there (e.g. a redelivered mention after a restart): the goal is met.
            Err(SlackClientError::ApiError(e)) if e.code == "already_reacted" => Ok(()),
            Err(e) => Err(map_err("reactions.add", e)),
        }
    }

    async fn thread_messages(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let session = self.client.open_session(&self.bot_token);
        let mut out = Vec::new();
        let mut cursor = None;
        // A bounded walk: long threads are cut at 1,000 messages.
        for _ in 0..5 {
            self.pacer
                .ready(Budget::Tier3("conversations.replies"))
                .await;
            // slack-morphism's typed request has no `include_all_metadata`, without which
            // Slack leaves out the tags the bot posted: the same call, with it.
            let params = [
                ("channel", Some(channel)),
                ("ts", Some(thread_ts)),
                ("limit", Some("200")),
                ("include_all_metadata", Some("true")),
                (
                    "cursor",
                    cursor.as_ref().map(|c: &SlackCursorId| c.value().as_str()),
                ),
            ];
            let res: SlackApiConversationsRepliesResponse = session
                .http_session_api
                .http_get(
                    "conversations.replies",
                    &params,
                    Some(&SLACK_TIER3_METHOD_CONFIG),
                )
                .await
                .map_err(|e| map_err("conversations.replies", e))?;
            out.extend(res.messages.into_iter().map(|m| ChatMessage {
                ts: m.origin.ts.value().to_string(),
                user: m.sender.user.map(|u| u.value().to_string()),
                bot_id: m.sender.bot_id.map(|b| b.value().to_string()),
                tag: m.content.metadata.map(|md| MessageTag {
                    kind: md.event_type,
                    fields: md.event_payload.unwrap_or_default().into_iter().collect(),
                }),
                text: m.content.text.unwrap_or_default(),
            }));
            cursor = res
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.value().is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn user(&self, user: &str) -> Result<UserInfo, ChatError> {
        if let Some(info) = self.users.lock().await.get(user) {
            return Ok(info.clone());
        }
        self.pacer.ready(Budget::Tier4("users.info")).await;
        let session = self.client.open_session(&self.bot_token);
        let res = session
            .users_info(&SlackApiUsersInfoRequest::new(user.into()))
            .await
            .map_err(|e| map_err("users.info", e))?;
        let u = res.user;
        let name = u
            .profile
            .as_ref()
            .and_then(|p| p.display_name.clone().filter(|n| !n.is_empty()))
            .or(u.real_name.clone().filter(|n| !n.is_empty()))
            .or(u.name.clone())
            .unwrap_or_else(|| user.to_string());
        let info = UserInfo {
            name,
            is_bot: u.flags.is_bot.unwrap_or(false),
            guest: u.flags.is_restricted.unwrap_or(false)
                || u.flags.is_ultra_restricted.unwrap_or(false),
            team_id: u.team_id.map(|t| t.value().to_string()),
            tz: u.tz.clone(),
        };
        self.users
            .lock()
            .await
            .insert(user.to_string(), info.clone());
        Ok(info)
    }

    async fn publish_home(&self, user: &str, sections: &[String]) -> Result<(), ChatError> {
        self.pacer.ready(Budget::Tier4("views.publish")).await;
        let session = self.client.open_session(&self.bot_token);
        let blocks: Vec<SlackBlock> = sections
            .iter()
            .map(|text| SlackSectionBlock::new().with_text(md!("{}", text)).into())
            .collect();
        let view = SlackView::Home(SlackHomeView::new(blocks));
        session
            .views_publish(&SlackApiViewsPublishRequest::new(user.into(), view))
            .await
            .map_err(|e| map_err("views.publish", e))?;
        Ok(())
    }

    async fn permalink(&self, channel: &str, ts: &str) -> Result<String, ChatError> {
        self.pacer.ready(Budget::Tier4("chat.getPermalink")).await;
        let session = self.client.open_session(&self.bot_token);
        let res = session
            .chat_get_permalink(&SlackApiChatGetPermalinkRequest::new(
                channel.into(),
                ts.into(),
            ))
            .await
            .map_err(|e| map_err("chat.getPermalink", e))?;
        Ok(res.permalink.to_string())
    }

    async fn channel(&self, channel: &str) -> Result<super::ChannelInfo, ChatError> {
        if let Some(info) = self.channels.lock().await.get(channel) {
            return Ok(*info);
        }
        self.pacer.ready(Budget::Tier3("conversations.info")).await;
        let session = self.client.open_session(&self.bot_token);
        let res = session
            .conversations_info(&SlackApiConversationsInfoRequest::new(channel.into()))
            .await
            .map_err(|e| map_err("conversations.info", e))?;
        let f = &res.channel.flags;
        let info = super::ChannelInfo {
            private: f.is_private.unwrap_or(false)
                || f.is_im.unwrap_or(false)
                || f.is_mpim.unwrap_or(false)
                || f.is_group.unwrap_or(false),
            shared: f.is_shared.unwrap_or(false),
        };
        self.channels.lock().await.insert(channel.to_string(), info);
        Ok(info)
    }
}

/// An envelope the bot had no room for: left unacked so that Slack redelivers it.
#[derive(Debug, thiserror::Error)]
#[error("the inbound queue is full, or the bot is stopping")]
struct Shed;

/// The state our Socket Mode callbacks reach through slack-morphism's user-state map.
struct InboundSender {
    tx: mpsc::Sender<super::inbound::Envelope>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    // Only a channel send: the library acks when this returns.
    let arrived = std::time::Instant::now();
    let guard = state.read().await;
    if let Some(sender) = guard.get_user_state::<InboundSender>() {
        sender.metrics.events_received.inc();
        match sender.tx.try_send(super::inbound::Envelope::new(event)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                sender.metrics.events_shed.inc();
                tracing::warn!("inbound event shed: the queue is full; Slack redelivers it");
                // Not acked (see `on_error`): Slack sends it again later.
                return Err(Box::new(Shed));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                // Not acked either: the next process gets it.
                tracing::info!("inbound event left to Slack: the bot is stopping");
                return Err(Box::new(Shed));
            }
        }
        sender.metrics.events_acked.inc();
        sender
            .metrics
            .ack_seconds
            .observe(arrived.elapsed().as_secs_f64());
    }
    Ok(())
}

// Generic in the event: slack-morphism does not export the hello event's type.
async fn on_hello<Hello>(
    _event: Hello,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) {
    if let Some(sender) = state.read().await.get_user_state::<InboundSender>() {
        sender.health.hello();
    }
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> HttpStatusCode {
    if err.downcast_ref::<Shed>().is_some() {
        // Anything but success leaves the envelope unacked.
        return HttpStatusCode::SERVICE_UNAVAILABLE;
    }
    tracing::warn!(error = %err, "socket mode error");
    // The handler is synchronous; the health flag is set without waiting for the lock.
    if let Ok(guard) = state.try_read() {
        if let Some(sender) = guard.get_user_state::<InboundSender>() {
            sender.health.socket_error();
        }
    }
    HttpStatusCode::OK
}

/// A running Socket Mode listener; shuts its sockets down when dropped via `shutdown`.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<Connector>,
}

impl SocketMode {
    /// Connects and starts delivering events to `tx`. Reconnects on `disconnect` messages and
    /// dropped sockets by itself.
    pub async fn start(
        client: Arc<SlackHyperClient>,
        settings: &SlackSettings,
        tx: mpsc::Sender<super::inbound::Envelope>,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Result<Self, ChatError> {
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_push_events(on_push)
            .with_hello_events(on_hello);
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(InboundSender {
                    tx,
                    metrics,
                    health,
                }),
        );
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(settings.connections.max(1))
            .with_initial_backoff_in_seconds(1)
            .with_reconnect_timeout_in_seconds(settings.reconnect_secs.max(1))
            .with_ping_interval_in_seconds(5)
            .with_ping_failure_threshold_times(3);
        let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
        listener
            .listen_for(&token(settings.app_token.as_ref().ok_or(
                ChatError::Api {
                    method: "apps.connections.open",
                    code: "no app-level token (SLACK_APP_TOKEN) for Socket Mode".into(),
                },
            )?))
            .await
            .map_err(|e| map_err("apps.connections.open", e))?;
        listener.start().await;
        Ok(Self { listener })
    }

    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
        // Give the close frames a moment to leave.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
