//! Socket Mode: the WebSocket the app connects to after `apps.connections.open`.

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::state::APP_ID;
use super::{Connection, Emulator, SocketCommand};

pub(crate) fn routes() -> Router<Emulator> {
    Router::new()
        .route("/link/", get(upgrade))
        .route("/link", get(upgrade))
}

#[derive(Deserialize)]
struct Ticket {
    ticket: Option<String>,
}

async fn upgrade(
    State(emu): State<Emulator>,
    Query(q): Query<Ticket>,
    ws: WebSocketUpgrade,
) -> Response {
    let valid = match q.ticket {
        Some(t) => {
            let mut tickets = emu.inner.tickets.lock().await;
            let found = tickets.iter().position(|x| *x == t);
            found.map(|i| tickets.remove(i)).is_some()
        }
        None => false,
    };
    if !valid {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            "invalid or used ticket",
        )
            .into_response();
    }
    ws.on_upgrade(move |socket| serve(emu, socket))
}

async fn serve(emu: Emulator, socket: WebSocket) {
    let id = emu.next_id();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let count = {
        let mut conns = emu.inner.connections.lock().await;
        conns.insert(
            id,
            Connection {
                tx,
                draining: false,
            },
        );
        conns.len()
    };
    emu.inner.stats.lock().await.connections_opened += 1;
    let (mut sink, mut stream) = socket.split();
    let hello = serde_json::json!({
        "type": "hello",
        "num_connections": count,
        "debug_info": {"host": "emulator", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": APP_ID}
    });
    if sink
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        emu.inner.connections.lock().await.remove(&id);
        return;
    }
    emu.inner.connected.notify_waiters();
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(SocketCommand::Send(frame)) => {
                    if sink.send(WsMessage::Text(frame.into())).await.is_err() { break; }
                }
                Some(SocketCommand::Close) => {
                    let _ = sink.send(WsMessage::Close(None)).await;
                    break;
                }
                // Return without a close frame: the TCP connection just ends.
                Some(SocketCommand::Drop) | None => break,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                        if let Some(env) = v.get("envelope_id").and_then(|e| e.as_str()) {
                            emu.on_ack(env).await;
                        }
                    }
                }
                Some(Ok(WsMessage::Ping(p))) => { let _ = sink.send(WsMessage::Pong(p)).await; }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    emu.inner.connections.lock().await.remove(&id);
}
