//! The control API under `/_emu/`: act as users, read channels and threads, inject faults.
//! JSON in, JSON out; the same operations as the methods on `Emulator`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{Emulator, Faults};

pub(crate) fn routes() -> Router<Emulator> {
    Router::new()
        .route("/_emu/post", post(post_message))
        .route("/_emu/react", post(react))
        .route("/_emu/thread", get(thread))
        .route("/_emu/channel", get(channel))
        .route("/_emu/ephemerals", get(ephemerals))
        .route("/_emu/home", get(home).post(open_home))
        .route("/_emu/stats", get(stats))
        .route("/_emu/faults", post(faults))
        .route("/_emu/rate_limit", post(rate_limit))
        .route("/_emu/ratelimited", post(force_ratelimited))
        .route("/_emu/drop_sockets", post(drop_sockets))
        .route("/_emu/disconnect", post(disconnect))
}

fn bad(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ok": false, "error": message})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct PostBody {
    user: String,
    channel: String,
    text: String,
    thread_ts: Option<String>,
}

async fn post_message(State(emu): State<Emulator>, Json(b): Json<PostBody>) -> Response {
    match emu
        .post_as(&b.user, &b.channel, &b.text, b.thread_ts.as_deref())
        .await
    {
        Ok(ts) => Json(json!({"ok": true, "ts": ts})).into_response(),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct ReactBody {
    user: String,
    channel: String,
    ts: String,
    name: String,
    #[serde(default)]
    remove: bool,
}

async fn react(State(emu): State<Emulator>, Json(b): Json<ReactBody>) -> Response {
    match emu
        .react_as(&b.user, &b.channel, &b.ts, &b.name, !b.remove)
        .await
    {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct ThreadQuery {
    channel: String,
    ts: String,
}

async fn thread(State(emu): State<Emulator>, Query(q): Query<ThreadQuery>) -> Response {
    Json(json!({"ok": true, "messages": emu.thread(&q.channel, &q.ts).await})).into_response()
}

#[derive(Deserialize)]
struct ChannelQuery {
    channel: String,
}

async fn channel(State(emu): State<Emulator>, Query(q): Query<ChannelQuery>) -> Response {
    Json(json!({"ok": true, "messages": emu.channel_messages(&q.channel).await})).into_response()
}

#[derive(Deserialize)]
struct UserQuery {
    user: String,
}

async fn home(State(emu): State<Emulator>, Query(q): Query<UserQuery>) -> Response {
    Json(json!({"ok": true, "view": emu.home(&q.user).await})).into_response()
}

async fn open_home(State(emu): State<Emulator>, Json(b): Json<UserQuery>) -> Response {
    match emu.open_home(&b.user).await {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(e) => bad(e),
    }
}

async fn ephemerals(State(emu): State<Emulator>) -> Response {
    Json(json!({"ok": true, "ephemerals": emu.ephemerals().await})).into_response()
}

async fn stats(State(emu): State<Emulator>) -> Response {
    Json(json!({"ok": true, "stats": emu.stats().await, "connections": emu.connection_count().await})).into_response()
}

async fn faults(State(emu): State<Emulator>, Json(f): Json<Faults>) -> Response {
    emu.set_faults(f).await;
    Json(json!({"ok": true})).into_response()
}

#[derive(Deserialize)]
struct RateLimitBody {
    method: String,
    per_minute: Option<u32>,
}

async fn rate_limit(State(emu): State<Emulator>, Json(b): Json<RateLimitBody>) -> Response {
    emu.set_rate_limit(&b.method, b.per_minute).await;
    Json(json!({"ok": true})).into_response()
}

#[derive(Deserialize)]
struct ForceBody {
    method: String,
    count: u32,
    retry_after: u64,
}

async fn force_ratelimited(State(emu): State<Emulator>, Json(b): Json<ForceBody>) -> Response {
    emu.force_ratelimited(&b.method, b.count, b.retry_after)
        .await;
    Json(json!({"ok": true})).into_response()
}

async fn drop_sockets(State(emu): State<Emulator>) -> Response {
    emu.drop_sockets().await;
    Json(json!({"ok": true})).into_response()
}

#[derive(Deserialize)]
struct DisconnectBody {
    #[serde(default = "default_reason")]
    reason: String,
}

fn default_reason() -> String {
    "refresh_requested".into()
}

async fn disconnect(State(emu): State<Emulator>, Json(b): Json<DisconnectBody>) -> Response {
    emu.send_disconnect(&b.reason).await;
    Json(json!({"ok": true})).into_response()
}
