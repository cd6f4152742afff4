//! A local Slack for dev mode and tests: Socket Mode over a real WebSocket, the Web API methods
//! the bot calls with Slack's shapes and error codes, per-method rate limits, and fault controls.
//!
//! Anything that speaks Slack can use it: the bot (slack-morphism), Slack's own Python SDK, curl.
//! A control API (`/_emu/…`, and the same calls on `Emulator`) lets tests act as users, read
//! threads and inject faults.

mod control;
mod socket;
pub mod state;
mod web_api;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, Mutex, Notify};

use state::{
    events_for_message, reaction_event, Message, RateLimits, Stats, Workspace, BOT_USER_ID,
};

pub const APP_TOKEN: &str = "xapp-1-A0EMULATE1-emulated-app-token";
pub const BOT_TOKEN: &str = "xoxb-emulated-bot-token";

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// How long an envelope waits for its ack before Slack redelivers it.
    pub ack_timeout: Duration,
    /// Redeliveries after the first attempt (Slack makes three).
    pub max_retries: u32,
    /// Delay between a `disconnect` message and the socket closing.
    pub disconnect_grace: Duration,
    /// Deliver events as HTTP Events API requests to this URL (signed with
    /// `signing_secret`) instead of over Socket Mode.
    pub request_url: Option<String>,
    pub signing_secret: String,
    /// The bot token's scopes, as `auth.test` reports them in `X-OAuth-Scopes`.
    pub scopes: Vec<String>,
    /// The bot user's name (`auth.test`'s `user`, `users.info`): the app's name in Slack.
    pub bot_name: String,
    /// Where `apps.connections.open` sends Socket Mode clients (`wss://host:port` of a TLS
    /// front, say); by default the emulator's own `ws://` address.
    pub socket_base: Option<String>,
}

/// The signing secret of the emulated app.
pub const SIGNING_SECRET: &str = "emulated-signing-secret-8f3a";

/// The scopes an app installed from `manifest.yml` has.
pub const MANIFEST_SCOPES: [&str; 9] = [
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "groups:history",
    "groups:read",
    "chat:write",
    "reactions:read",
    "reactions:write",
    "users:read",
];

/// Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`.
pub fn sign_request(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body.as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            ack_timeout: Duration::from_secs(3),
            max_retries: 3,
            disconnect_grace: Duration::from_millis(500),
            request_url: None,
            signing_secret: SIGNING_SECRET.into(),
            scopes: MANIFEST_SCOPES.iter().map(|s| s.to_string()).collect(),
            bot_name: state::BOT_NAME.into(),
            socket_base: None,
        }
    }
}

/// Something that changed in the workspace, for watchers (dev mode's terminal, tests).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Posted {
        message: Message,
    },
    Updated {
        message: Message,
    },
    Reacted {
        channel: String,
        ts: String,
        user: String,
        name: String,
        added: bool,
    },
    Ephemeral {
        channel: String,
        user: String,
        text: String,
    },
}

/// Frames the socket task sends or actions it takes.
#[derive(Debug)]
pub(crate) enum SocketCommand {
    Send(String),
    /// Close with a close frame.
    Close,
    /// Drop the TCP connection with no close frame.
    Drop,
}

pub(crate) struct Connection {
    pub tx: mpsc::UnboundedSender<SocketCommand>,
    /// Sent a `disconnect`: no new envelopes go to it while it waits to close.
    pub draining: bool,
}

/// Envelope send times and ack latencies, kept only between `measure_acks` and
/// `take_ack_latencies` so a long test does not grow it.
#[derive(Default)]
pub(crate) struct AckClock {
    on: bool,
    sent: HashMap<String, std::time::Instant>,
    latencies: Vec<Duration>,
    /// Per event: from its first delivery attempt to the ack of any of its envelopes
    /// (redeliveries and time without a connected socket included).
    events: Vec<Duration>,
}

#[derive(Default)]
pub(crate) struct Delivery {
    pub acked: bool,
    /// When the event was first handed out for delivery.
    pub since: Option<std::time::Instant>,
}

/// Counts one delivery in flight for as long as it lives.
struct InFlight(Arc<Inner>);

impl InFlight {
    fn new(inner: Arc<Inner>) -> Self {
        inner.deliveries.fetch_add(1, Ordering::SeqCst);
        Self(inner)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.deliveries.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Faults a test can turn on.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Faults {
    /// Acks received before this many ms from now are ignored (so envelopes get redelivered).
    #[serde(default)]
    pub ignore_acks_ms: u64,
    /// Every event is sent this many extra times, to other sockets when there are any, with
    /// `retry_attempt` 1, 2, … as Slack does when it retries.
    #[serde(default)]
    pub duplicates: u32,
    /// `apps.connections.open` fails (as in an outage) for this many ms from now.
    #[serde(default)]
    pub refuse_connections_ms: u64,
    /// `chat.postMessage` answers this many ms after the message exists, while the events
    /// about it (and reactions to it) flow at once, as when Slack's Web API is slow.
    #[serde(default)]
    pub slow_post_answer_ms: u64,
}

pub(crate) struct Inner {
    pub config: EmulatorConfig,
    pub ws: Mutex<Workspace>,
    pub limits: Mutex<RateLimits>,
    pub stats: Mutex<Stats>,
    pub faults: Mutex<Faults>,
    pub ignore_acks_until: Mutex<Option<tokio::time::Instant>>,
    pub refuse_connections_until: Mutex<Option<tokio::time::Instant>>,
    pub connections: Mutex<HashMap<u64, Connection>>,
    pub connected: Notify,
    pub tickets: Mutex<Vec<String>>,
    /// Envelope id → the delivery it belongs to.
    pub envelopes: Mutex<HashMap<String, Arc<Mutex<Delivery>>>>,
    /// Envelope id → when it went to a socket, and how long acks took (for benchmarks).
    pub ack_clock: std::sync::Mutex<AckClock>,
    pub next_id: AtomicU64,
    /// Events being delivered (sent, waiting for an ack or for a retry).
    pub deliveries: AtomicU64,
    pub changes: broadcast::Sender<Change>,
    pub addr: SocketAddr,
}

/// A running emulator. Cloning shares it.
#[derive(Clone)]
pub struct Emulator {
    pub(crate) inner: Arc<Inner>,
}

impl Emulator {
    /// Starts on `addr` (port 0 picks a free one).
    pub async fn start(addr: SocketAddr, config: EmulatorConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (changes, _) = broadcast::channel(4096);
        let mut ws = Workspace::default();
        if let Some(bot) = ws.users.get_mut(state::BOT_USER_ID) {
            bot.name = config.bot_name.clone();
        }
        let inner = Arc::new(Inner {
            config,
            ws: Mutex::new(ws),
            limits: Mutex::new(RateLimits::default()),
            stats: Mutex::new(Stats::default()),
            faults: Mutex::new(Faults::default()),
            ignore_acks_until: Mutex::new(None),
            refuse_connections_until: Mutex::new(None),
            connections: Mutex::new(HashMap::new()),
            connected: Notify::new(),
            deliveries: AtomicU64::new(0),
            tickets: Mutex::new(Vec::new()),
            envelopes: Mutex::new(HashMap::new()),
            ack_clock: std::sync::Mutex::new(AckClock::default()),
            next_id: AtomicU64::new(1),
            changes,
            addr,
        });
        let emulator = Emulator { inner };
        let app = axum::Router::new()
            .merge(web_api::routes())
            .merge(socket::routes())
            .merge(control::routes())
            .with_state(emulator.clone());
        // Small frames (envelopes, acks) go out at once, as from Slack's own edge.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "emulator server stopped");
            }
        });
        Ok(emulator)
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The Web API base URL to give the bot as `SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.inner.addr)
    }

    /// The environment a Bolt-style app reads (`SLACK_API_URL`, `SLACK_APP_TOKEN`,
    /// `SLACK_BOT_TOKEN`), pointing at this emulator.
    pub fn env(&self) -> impl Fn(&str) -> Option<String> {
        let url = self.api_url();
        move |k: &str| match k {
            "SLACK_API_URL" => Some(url.clone()),
            "SLACK_APP_TOKEN" => Some(APP_TOKEN.to_string()),
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            _ => None,
        }
    }

    pub fn bot_user_id(&self) -> &'static str {
        BOT_USER_ID
    }

    /// User id → name, for displaying messages.
    pub async fn user_names(&self) -> HashMap<String, String> {
        self.inner
            .ws
            .lock()
            .await
            .users
            .values()
            .map(|u| (u.id.clone(), u.name.clone()))
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Posts `text` as `user` in `channel` (a reply when `thread_ts` is given) and sends the
    /// events Slack would. Returns the message ts.
    pub async fn post_as(
        &self,
        user: &str,
        channel: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Result<String, String> {
        let (msg, events) = {
            let mut ws = self.inner.ws.lock().await;
            let channel = ws
                .channel_id(channel)
                .ok_or_else(|| format!("channel_not_found: {channel}"))?;
            let user = ws
                .user_id(user)
                .ok_or_else(|| format!("user_not_found: {user}"))?;
            if let Some(t) = thread_ts {
                if ws.find(&channel, t).is_none() {
                    return Err(format!("thread_not_found: {t}"));
                }
            }
            let ts = ws.next_ts();
            let bot_id =
                (user == state::OTHER_BOT_USER_ID).then(|| state::OTHER_BOT_ID.to_string());
            let msg = Message {
                channel,
                ts,
                thread_ts: thread_ts.map(str::to_string),
                user,
                bot_id,
                text: text.to_string(),
                edited: None,
                reactions: vec![],
                edits: 0,
                metadata: None,
            };
            ws.messages.push(msg.clone());
            let events: Vec<(String, Value)> = events_for_message(&msg)
                .into_iter()
                .map(|e| ws.event_callback(e))
                .collect();
            (msg, events)
        };
        let _ = self.inner.changes.send(Change::Posted {
            message: msg.clone(),
        });
        for (event_id, payload) in events {
            self.deliver(event_id, payload);
        }
        Ok(msg.ts)
    }

    /// Adds (or removes) a reaction as `user` and sends the event.
    pub async fn react_as(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        name: &str,
        added: bool,
    ) -> Result<(), String> {
        let (event_id, payload) = {
            let mut ws = self.inner.ws.lock().await;
            let channel = ws.channel_id(channel).ok_or("channel_not_found")?;
            let user = ws.user_id(user).ok_or("user_not_found")?;
            let idx = ws.find(&channel, ts).ok_or("message_not_found")?;
            web_api::apply_reaction(&mut ws.messages[idx], &user, name, added)?;
            let event = reaction_event(&user, name, &ws.messages[idx], added);
            ws.event_callback(event)
        };
        let _ = self.inner.changes.send(Change::Reacted {
            channel: channel.to_string(),
            ts: ts.to_string(),
            user: user.to_string(),
            name: name.to_string(),
            added,
        });
        self.deliver(event_id, payload);
        Ok(())
    }

    /// `user` opens the bot's Home tab: sends `app_home_opened`.
    pub async fn open_home(&self, user: &str) -> Result<(), String> {
        let user = self
            .inner
            .ws
            .lock()
            .await
            .user_id(user)
            .ok_or("user_not_found")?;
        let event = serde_json::json!({
            "type": "app_home_opened",
            "user": user,
            "channel": format!("D{}", &user[1..]),
            "tab": "home",
            "event_ts": format!("{}.000000", chrono::Utc::now().timestamp()),
        });
        self.send_event(event).await;
        Ok(())
    }

    /// The Home tab last published for `user` (the view object).
    pub async fn home(&self, user: &str) -> Option<Value> {
        let ws = self.inner.ws.lock().await;
        let id = ws.user_id(user)?;
        ws.homes.get(&id).cloned()
    }

    /// Sends an arbitrary Events API event (the inner `event` object) to the app.
    pub async fn send_event(&self, event: Value) -> String {
        let (event_id, payload) = self.inner.ws.lock().await.event_callback(event);
        self.deliver(event_id.clone(), payload);
        event_id
    }

    /// The thread rooted at `thread_ts`, oldest first.
    pub async fn thread(&self, channel: &str, thread_ts: &str) -> Vec<Message> {
        let ws = self.inner.ws.lock().await;
        let Some(channel) = ws.channel_id(channel) else {
            return vec![];
        };
        ws.thread(&channel, thread_ts)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Top-level messages of a channel, oldest first.
    pub async fn channel_messages(&self, channel: &str) -> Vec<Message> {
        let ws = self.inner.ws.lock().await;
        let Some(channel) = ws.channel_id(channel) else {
            return vec![];
        };
        ws.messages
            .iter()
            .filter(|m| m.channel == channel && m.thread_ts.is_none())
            .cloned()
            .collect()
    }

    pub async fn ephemerals(&self) -> Vec<state::Ephemeral> {
        self.inner.ws.lock().await.ephemerals.clone()
    }

    /// Starts timing every envelope from its send to its ack.
    pub fn measure_acks(&self) {
        self.clock(|c| {
            *c = AckClock {
                on: true,
                ..AckClock::default()
            }
        });
    }

    /// Stops timing and returns the ack latencies since `measure_acks`, and how many
    /// envelopes sent meanwhile were never acked.
    pub fn take_ack_latencies(&self) -> (Vec<Duration>, usize) {
        let taken = self.clock(std::mem::take);
        (taken.latencies, taken.sent.len())
    }

    /// Stops timing and returns, per event acked since `measure_acks`, the time from its
    /// first delivery attempt to its ack (across redeliveries and reconnections).
    pub fn take_event_ack_waits(&self) -> Vec<Duration> {
        self.clock(std::mem::take).events
    }

    /// Adds a public channel (`id` like `C…`, `name` without `#`).
    pub async fn add_channel(&self, id: &str, name: &str) {
        self.inner
            .ws
            .lock()
            .await
            .channels
            .insert(id.to_string(), name.to_string());
    }

    /// Takes the bot out of a channel (as `/kick` would): it can no longer post there, and
    /// `conversations.info` says it is not a member.
    pub async fn remove_bot_from(&self, channel: &str) {
        self.inner
            .ws
            .lock()
            .await
            .bot_absent
            .insert(channel.to_string());
    }

    pub async fn stats(&self) -> Stats {
        self.inner.stats.lock().await.clone()
    }

    /// Sets a method's limit in calls per minute (`None` removes it).
    pub async fn set_rate_limit(&self, method: &str, per_minute: Option<u32>) {
        self.inner.limits.lock().await.set(method, per_minute);
    }

    /// The next `count` calls of `method` answer 429 `ratelimited` with `Retry-After`.
    pub async fn force_ratelimited(&self, method: &str, count: u32, retry_after_secs: u64) {
        self.inner
            .limits
            .lock()
            .await
            .force(method, count, retry_after_secs);
    }

    pub async fn set_faults(&self, faults: Faults) {
        let until = (faults.ignore_acks_ms > 0)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(faults.ignore_acks_ms));
        *self.inner.ignore_acks_until.lock().await = until;
        *self.inner.refuse_connections_until.lock().await = (faults.refuse_connections_ms > 0)
            .then(|| {
                tokio::time::Instant::now() + Duration::from_millis(faults.refuse_connections_ms)
            });
        *self.inner.faults.lock().await = faults;
    }

    pub async fn connection_count(&self) -> usize {
        self.inner.connections.lock().await.len()
    }

    /// Events still being delivered: sent and not yet acked, or waiting for a socket or a
    /// retry. Zero means nothing more will reach the bot unless something new happens.
    pub fn deliveries_in_flight(&self) -> u64 {
        self.inner.deliveries.load(Ordering::SeqCst)
    }

    /// Sockets that take new envelopes (connected and not draining after a `disconnect`).
    pub async fn live_connection_count(&self) -> usize {
        self.inner
            .connections
            .lock()
            .await
            .values()
            .filter(|c| !c.draining)
            .count()
    }

    /// Waits until at least `n` sockets are connected, or the timeout passes.
    pub async fn wait_for_connections(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.connected.notified();
            if self.connection_count().await >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.connection_count().await >= n;
            }
        }
    }

    /// Drops every socket without a close frame, as a network failure would.
    pub async fn drop_sockets(&self) {
        for (_, c) in self.inner.connections.lock().await.drain() {
            let _ = c.tx.send(SocketCommand::Drop);
        }
    }

    /// Sends a `disconnect` message (`warning`, `refresh_requested`, …) to every socket and
    /// closes them after the grace period, as Slack does.
    pub async fn send_disconnect(&self, reason: &str) {
        let frame = serde_json::json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "emulator"}
        })
        .to_string();
        let conns: Vec<mpsc::UnboundedSender<SocketCommand>> = self
            .inner
            .connections
            .lock()
            .await
            .values_mut()
            .map(|c| {
                c.draining = true;
                c.tx.clone()
            })
            .collect();
        for tx in &conns {
            let _ = tx.send(SocketCommand::Send(frame.clone()));
        }
        let grace = self.inner.config.disconnect_grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            for tx in conns {
                let _ = tx.send(SocketCommand::Close);
            }
        });
    }

    /// Delivers one event: to a connected socket, redelivered until acked or out of retries.
    pub(crate) fn deliver(&self, event_id: String, payload: Value) {
        let emu = self.clone();
        let pending = InFlight::new(self.inner.clone());
        if let Some(url) = self.inner.config.request_url.clone() {
            tokio::spawn(async move {
                let _pending = pending;
                emu.deliver_http(&url, &event_id, &payload).await
            });
            return;
        }
        tokio::spawn(async move {
            let _pending = pending;
            let delivery = Arc::new(Mutex::new(Delivery {
                acked: false,
                since: Some(std::time::Instant::now()),
            }));
            let duplicates = emu.inner.faults.lock().await.duplicates;
            for copy in 1..=duplicates {
                emu.send_envelope(&payload, copy, "timeout", &delivery, Some(copy as usize))
                    .await;
            }
            for attempt in 0..=emu.inner.config.max_retries {
                if attempt > 0 {
                    emu.inner.stats.lock().await.redeliveries += 1;
                }
                let reason = if attempt == 0 { "" } else { "timeout" };
                emu.send_envelope(&payload, attempt, reason, &delivery, None)
                    .await;
                let deadline = tokio::time::Instant::now() + emu.inner.config.ack_timeout;
                while tokio::time::Instant::now() < deadline {
                    if delivery.lock().await.acked {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            if !delivery.lock().await.acked {
                emu.inner.stats.lock().await.undelivered += 1;
                tracing::warn!(%event_id, "emulator: event never acked");
            }
        });
    }

    /// Delivers one event as a signed HTTP request, retried as Slack does (up to three times,
    /// with `X-Slack-Retry-Num`) until it is answered with a 2xx within the ack timeout.
    async fn deliver_http(&self, url: &str, event_id: &str, payload: &Value) {
        let body = payload.to_string();
        let client = reqwest::Client::new();
        for attempt in 0..=self.inner.config.max_retries {
            let ts = chrono::Utc::now().timestamp().to_string();
            let mut req = client
                .post(url)
                .timeout(self.inner.config.ack_timeout)
                .header("content-type", "application/json")
                .header("x-slack-request-timestamp", &ts)
                .header(
                    "x-slack-signature",
                    sign_request(&self.inner.config.signing_secret, &ts, &body),
                )
                .body(body.clone());
            if attempt > 0 {
                self.inner.stats.lock().await.redeliveries += 1;
                req = req
                    .header("x-slack-retry-num", attempt.to_string())
                    .header("x-slack-retry-reason", "http_error");
            }
            self.inner.stats.lock().await.envelopes_sent += 1;
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    self.inner.stats.lock().await.acks += 1;
                    return;
                }
                Ok(r) => {
                    tracing::debug!(%event_id, status = %r.status(), "emulator: event refused")
                }
                Err(e) => tracing::debug!(%event_id, error = %e, "emulator: event not delivered"),
            }
        }
        self.inner.stats.lock().await.undelivered += 1;
        tracing::warn!(%event_id, "emulator: event never acknowledged over HTTP");
    }

    /// Sends one envelope, waiting for a socket if none is connected.
    async fn send_envelope(
        &self,
        payload: &Value,
        attempt: u32,
        reason: &str,
        delivery: &Arc<Mutex<Delivery>>,
        skip: Option<usize>,
    ) {
        let envelope_id = format!("env-{:08x}-{}", self.next_id(), attempt);
        let frame = serde_json::json!({
            "envelope_id": envelope_id,
            "payload": payload,
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": attempt,
            "retry_reason": reason,
        })
        .to_string();
        self.inner
            .envelopes
            .lock()
            .await
            .insert(envelope_id.clone(), delivery.clone());
        loop {
            let notified = self.inner.connected.notified();
            let target = {
                let conns = self.inner.connections.lock().await;
                let mut ids: Vec<u64> = conns
                    .iter()
                    .filter(|(_, c)| !c.draining)
                    .map(|(id, _)| *id)
                    .collect();
                ids.sort_unstable();
                if ids.is_empty() {
                    None
                } else {
                    // Round-robin over sockets; a duplicate goes to a different one when it can.
                    let n = self.next_id() as usize + skip.unwrap_or(0);
                    let id = ids[n % ids.len()];
                    conns.get(&id).map(|c| c.tx.clone())
                }
            };
            // The clock starts before the send: the ack can come back before `send` returns.
            let clock_on = self.clock(|c| c.on);
            if clock_on && target.is_some() {
                let now = std::time::Instant::now();
                self.clock(|c| c.sent.insert(envelope_id.clone(), now));
            }
            match target {
                Some(tx) if tx.send(SocketCommand::Send(frame.clone())).is_ok() => {
                    self.inner.stats.lock().await.envelopes_sent += 1;
                    return;
                }
                _ => {
                    self.clock(|c| c.sent.remove(&envelope_id));
                    let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
                }
            }
        }
    }

    fn clock<T>(&self, f: impl FnOnce(&mut AckClock) -> T) -> T {
        f(&mut self
            .inner
            .ack_clock
            .lock()
            .unwrap_or_else(|e| e.into_inner()))
    }

    /// Records an ack frame from a socket.
    pub(crate) async fn on_ack(&self, envelope_id: &str) {
        if let Some(until) = *self.inner.ignore_acks_until.lock().await {
            if tokio::time::Instant::now() < until {
                return;
            }
        }
        self.clock(|c| {
            if let Some(sent) = c.sent.remove(envelope_id) {
                c.latencies.push(sent.elapsed());
            }
        });
        let delivery = self.inner.envelopes.lock().await.remove(envelope_id);
        if let Some(d) = delivery {
            let mut d = d.lock().await;
            if !d.acked {
                if let Some(since) = d.since {
                    self.clock(|c| {
                        if c.on {
                            c.events.push(since.elapsed());
                        }
                    });
                }
            }
            d.acked = true;
            self.inner.stats.lock().await.acks += 1;
        }
    }
}
