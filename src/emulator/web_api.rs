//! The Web API: `POST|GET /api/<method>` with arguments as a query string, a form or JSON, and
//! the token as `Authorization: Bearer …` or a `token` argument, answered in Slack's shapes.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};

use super::state::{
    message_changed_event, reaction_event, Ephemeral, Message, Reaction, Workspace, APP_ID, BOT_ID,
    BOT_USER_ID, TEAM_ID,
};
use super::{Change, Emulator, APP_TOKEN, BOT_TOKEN};

/// Slack truncates past 40,000 characters and refuses longer text with `msg_too_long`.
pub const MAX_TEXT_CHARS: usize = 40_000;

pub(crate) fn routes() -> Router<Emulator> {
    Router::new().route("/api/{method}", any(call))
}

type Args = HashMap<String, Value>;

fn parse_args(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Args {
    let mut args: Args = HashMap::new();
    let mut add_form = |s: &str| {
        for (k, v) in url::form_urlencoded::parse(s.as_bytes()) {
            args.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    };
    if let Some(q) = query {
        add_form(q);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            args.extend(map);
        }
    } else if !body.is_empty() {
        add_form(&String::from_utf8_lossy(body));
    }
    args
}

fn arg<'a>(args: &'a Args, key: &str) -> Option<&'a str> {
    args.get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

fn ok(body: Value) -> Response {
    let mut body = body;
    body["ok"] = json!(true);
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn err(code: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": false, "error": code})),
    )
        .into_response()
}

fn ratelimited(retry_after: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after.to_string())],
        axum::Json(json!({"ok": false, "error": "ratelimited"})),
    )
        .into_response()
}

enum TokenKind {
    App,
    Bot,
}

async fn call(
    State(emu): State<Emulator>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let args = parse_args(query.as_deref(), &headers, &body);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| arg(&args, "token").map(str::to_string));
    emu.inner
        .stats
        .lock()
        .await
        .calls
        .entry(method.clone())
        .and_modify(|n| *n += 1)
        .or_insert(1);

    let need = if method == "apps.connections.open" {
        TokenKind::App
    } else {
        TokenKind::Bot
    };
    match (token.as_deref(), need) {
        (None, _) => return err("not_authed"),
        (Some(APP_TOKEN), TokenKind::App) | (Some(BOT_TOKEN), TokenKind::Bot) => {}
        (Some(APP_TOKEN | BOT_TOKEN), _) => return err("not_allowed_token_type"),
        (Some(_), _) => return err("invalid_auth"),
    }

    let limited =
        emu.inner
            .limits
            .lock()
            .await
            .check(&method, arg(&args, "channel"), Instant::now());
    if let Some(l) = limited {
        emu.inner
            .stats
            .lock()
            .await
            .ratelimited
            .entry(method.clone())
            .and_modify(|n| *n += 1)
            .or_insert(1);
        return ratelimited(l.retry_after_secs);
    }

    match method.as_str() {
        "api.test" => ok(json!({"args": args})),
        "auth.test" => {
            // Slack reports a token's scopes in this header on every Web API answer.
            let scopes = emu.inner.config.scopes.join(",");
            let mut resp = ok(json!({
                "url": "https://emulated.slack.local/",
                "team": "Emulated Workspace",
                "user": emu.inner.config.bot_name,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": false,
            }));
            if let Ok(v) = axum::http::HeaderValue::from_str(&scopes) {
                resp.headers_mut().insert("x-oauth-scopes", v);
            }
            resp
        }
        "apps.connections.open" => {
            let refusing = emu
                .inner
                .refuse_connections_until
                .lock()
                .await
                .is_some_and(|until| Instant::now() < until.into_std());
            if refusing {
                return err("internal_error");
            }
            let ticket = format!("ticket-{:016x}", emu.next_id());
            emu.inner.tickets.lock().await.push(ticket.clone());
            let base = emu
                .inner
                .config
                .socket_base
                .clone()
                .unwrap_or_else(|| format!("ws://{}", emu.inner.addr));
            ok(json!({"url": format!("{base}/link/?ticket={ticket}&app_id={APP_ID}")}))
        }
        "chat.postMessage" => post_message(&emu, &args).await,
        "chat.update" => update_message(&emu, &args).await,
        "chat.postEphemeral" => post_ephemeral(&emu, &args).await,
        "reactions.add" => reaction(&emu, &args, true).await,
        "reactions.remove" => reaction(&emu, &args, false).await,
        "conversations.replies" => replies(&emu, &args).await,
        "users.info" => users_info(&emu, &args).await,
        "conversations.info" => conversations_info(&emu, &args).await,
        "chat.getPermalink" => permalink(&emu, &args).await,
        "views.publish" => views_publish(&emu, &args).await,
        _ => err("unknown_method"),
    }
}

/// Validates message text as Slack does.
fn text_arg(args: &Args) -> Result<String, &'static str> {
    let text = arg(args, "text").map(str::to_string);
    let has_blocks = args.get("blocks").is_some_and(|b| !b.is_null());
    match text {
        Some(t) if t.chars().count() > MAX_TEXT_CHARS => Err("msg_too_long"),
        Some(t) => Ok(t),
        None if has_blocks => Ok(String::new()),
        None => Err("no_text"),
    }
}

/// Validates `metadata` as Slack does: an object (or its JSON text, in a form post) with a
/// string `event_type` and an optional object `event_payload`.
fn metadata_arg(args: &Args) -> Result<Option<Value>, &'static str> {
    let value = match args.get("metadata") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => {
            serde_json::from_str::<Value>(s).map_err(|_| "invalid_metadata_format")?
        }
        Some(v) => v.clone(),
    };
    let type_ok = value["event_type"].as_str().is_some_and(|t| !t.is_empty());
    let payload_ok = value["event_payload"].is_null() || value["event_payload"].is_object();
    if !value.is_object() || !type_ok || !payload_ok {
        return Err("invalid_metadata_schema");
    }
    Ok(Some(value))
}

fn channel_arg(ws: &Workspace, args: &Args) -> Result<String, &'static str> {
    let given = arg(args, "channel").ok_or("channel_not_found")?;
    ws.channel_id(given).ok_or("channel_not_found")
}

async fn post_message(emu: &Emulator, args: &Args) -> Response {
    let result = {
        let mut ws = emu.inner.ws.lock().await;
        (|| {
            let channel = channel_arg(&ws, args)?;
            if ws.bot_absent.contains(&channel) {
                return Err("not_in_channel");
            }
            let text = text_arg(args)?;
            let metadata = metadata_arg(args)?;
            let thread_ts = arg(args, "thread_ts").map(str::to_string);
            if let Some(t) = &thread_ts {
                // Slack accepts a thread_ts of a reply by threading on its parent.
                if ws.find(&channel, t).is_none() {
                    return Err("thread_not_found");
                }
            }
            let thread_ts = thread_ts.map(|t| {
                let idx = ws.find(&channel, &t).unwrap_or_default();
                ws.messages[idx].thread_ts.clone().unwrap_or(t)
            });
            let ts = ws.next_ts();
            let msg = Message {
                channel,
                ts,
                thread_ts,
                user: BOT_USER_ID.into(),
                bot_id: Some(BOT_ID.into()),
                text,
                edited: None,
                reactions: vec![],
                edits: 0,
                metadata,
            };
            ws.messages.push(msg.clone());
            let events: Vec<(String, Value)> = super::state::events_for_message(&msg)
                .into_iter()
                .map(|e| ws.event_callback(e))
                .collect();
            Ok((msg, events))
        })()
    };
    match result {
        Ok((msg, events)) => {
            let _ = emu.inner.changes.send(Change::Posted {
                message: msg.clone(),
            });
            for (id, payload) in events {
                emu.deliver(id, payload);
            }
            let slow = emu.inner.faults.lock().await.slow_post_answer_ms;
            if slow > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(slow)).await;
            }
            ok(json!({"channel": msg.channel, "ts": msg.ts, "message": msg.to_json(None)}))
        }
        Err(code) => err(code),
    }
}

async fn update_message(emu: &Emulator, args: &Args) -> Response {
    let result = {
        let mut ws = emu.inner.ws.lock().await;
        (|| {
            let channel = channel_arg(&ws, args)?;
            let ts = arg(args, "ts").ok_or("message_not_found")?.to_string();
            let text = text_arg(args)?;
            let idx = ws.find(&channel, &ts).ok_or("message_not_found")?;
            if ws.messages[idx].user != BOT_USER_ID {
                return Err("cant_update_message");
            }
            let before = ws.messages[idx].clone();
            let edit_ts = ws.next_ts();
            let m = &mut ws.messages[idx];
            m.text = text;
            m.edited = Some(edit_ts.clone());
            m.edits += 1;
            let after = m.clone();
            let event = message_changed_event(&before, &after, &edit_ts);
            let (id, payload) = ws.event_callback(event);
            Ok((after, id, payload))
        })()
    };
    match result {
        Ok((msg, id, payload)) => {
            let _ = emu.inner.changes.send(Change::Updated {
                message: msg.clone(),
            });
            emu.deliver(id, payload);
            ok(
                json!({"channel": msg.channel, "ts": msg.ts, "text": msg.text, "message": msg.to_json(None)}),
            )
        }
        Err(code) => err(code),
    }
}

async fn post_ephemeral(emu: &Emulator, args: &Args) -> Response {
    let result = {
        let mut ws = emu.inner.ws.lock().await;
        (|| {
            let channel = channel_arg(&ws, args)?;
            let user = arg(args, "user").ok_or("user_not_found")?;
            let user = ws.user_id(user).ok_or("user_not_found")?;
            let text = text_arg(args)?;
            let e = Ephemeral {
                channel,
                user,
                text,
                thread_ts: arg(args, "thread_ts").map(str::to_string),
            };
            ws.ephemerals.push(e.clone());
            let ts = ws.next_ts();
            Ok((e, ts))
        })()
    };
    match result {
        Ok((e, ts)) => {
            let _ = emu.inner.changes.send(Change::Ephemeral {
                channel: e.channel,
                user: e.user,
                text: e.text,
            });
            ok(json!({"message_ts": ts}))
        }
        Err(code) => err(code),
    }
}

/// Adds or removes `user`'s reaction `name` on a message.
pub(crate) fn apply_reaction(
    msg: &mut Message,
    user: &str,
    name: &str,
    added: bool,
) -> Result<(), &'static str> {
    if name.is_empty() || name.contains(' ') || name.contains(':') {
        return Err("invalid_name");
    }
    let pos = msg.reactions.iter().position(|r| r.name == name);
    match (added, pos) {
        (true, Some(i)) if msg.reactions[i].users.iter().any(|u| u == user) => {
            Err("already_reacted")
        }
        (true, Some(i)) => {
            msg.reactions[i].users.push(user.to_string());
            Ok(())
        }
        (true, None) => {
            msg.reactions.push(Reaction {
                name: name.to_string(),
                users: vec![user.to_string()],
            });
            Ok(())
        }
        (false, Some(i)) if msg.reactions[i].users.iter().any(|u| u == user) => {
            msg.reactions[i].users.retain(|u| u != user);
            if msg.reactions[i].users.is_empty() {
                msg.reactions.remove(i);
            }
            Ok(())
        }
        (false, _) => Err("no_reaction"),
    }
}

async fn reaction(emu: &Emulator, args: &Args, added: bool) -> Response {
    let result = {
        let mut ws = emu.inner.ws.lock().await;
        (|| {
            let channel = channel_arg(&ws, args)?;
            let ts = arg(args, "timestamp")
                .ok_or("no_item_specified")?
                .to_string();
            let name = arg(args, "name").ok_or("invalid_name")?.to_string();
            let idx = ws.find(&channel, &ts).ok_or("message_not_found")?;
            apply_reaction(&mut ws.messages[idx], BOT_USER_ID, &name, added)?;
            let event = reaction_event(BOT_USER_ID, &name, &ws.messages[idx], added);
            let (id, payload) = ws.event_callback(event);
            Ok((channel, ts, name, id, payload))
        })()
    };
    match result {
        Ok((channel, ts, name, id, payload)) => {
            let _ = emu.inner.changes.send(Change::Reacted {
                channel,
                ts,
                user: BOT_USER_ID.into(),
                name,
                added,
            });
            emu.deliver(id, payload);
            ok(json!({}))
        }
        Err(code) => err(code),
    }
}

async fn replies(emu: &Emulator, args: &Args) -> Response {
    let ws = emu.inner.ws.lock().await;
    let channel = match channel_arg(&ws, args) {
        Ok(c) => c,
        Err(code) => return err(code),
    };
    let Some(ts) = arg(args, "ts") else {
        return err("thread_not_found");
    };
    let Some(root_idx) = ws.find(&channel, ts) else {
        return err("thread_not_found");
    };
    // Asking with a reply's ts returns that reply's whole thread, as Slack does.
    let root_ts = ws.messages[root_idx]
        .thread_ts
        .clone()
        .unwrap_or_else(|| ts.to_string());
    let thread = ws.thread(&channel, &root_ts);
    let limit = arg(args, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let with_metadata = match args.get("include_all_metadata") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        _ => false,
    };
    let offset = arg(args, "cursor")
        .and_then(|c| {
            c.strip_prefix("bmV4dF90czo")
                .and_then(|n| n.parse::<usize>().ok())
        })
        .unwrap_or(0);
    let page: Vec<Value> = thread
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| {
            let stats = (m.ts == root_ts).then(|| ws.reply_stats(&channel, &m.ts));
            let mut v = m.to_json(stats);
            if let (true, Some(md)) = (with_metadata, &m.metadata) {
                v["metadata"] = md.clone();
            }
            v
        })
        .collect();
    let has_more = offset + limit < thread.len();
    let next = if has_more {
        format!("bmV4dF90czo{}", offset + limit)
    } else {
        String::new()
    };
    ok(json!({"messages": page, "has_more": has_more, "response_metadata": {"next_cursor": next}}))
}

async fn users_info(emu: &Emulator, args: &Args) -> Response {
    let ws = emu.inner.ws.lock().await;
    let Some(user) = arg(args, "user").and_then(|u| ws.users.get(u)) else {
        return err("user_not_found");
    };
    let team = &user.team_id;
    ok(json!({"user": {
        "id": user.id, "team_id": team, "name": user.name, "deleted": false,
        "real_name": user.real_name, "tz": "Europe/London", "tz_label": "Greenwich Mean Time", "tz_offset": 0,
        "profile": {"display_name": user.name, "real_name": user.real_name, "real_name_normalized": user.real_name, "display_name_normalized": user.name, "team": team},
        "is_admin": false, "is_owner": false, "is_bot": user.is_bot, "is_app_user": false,
        "is_restricted": user.guest, "is_ultra_restricted": false,
        "is_stranger": team != TEAM_ID, "updated": 1700000000
    }}))
}

async fn conversations_info(emu: &Emulator, args: &Args) -> Response {
    let ws = emu.inner.ws.lock().await;
    let Some(id) = arg(args, "channel").filter(|c| ws.channels.contains_key(*c)) else {
        return err("channel_not_found");
    };
    let private = ws.private.contains(id);
    ok(json!({"channel": {
        "id": id, "name": ws.channels[id], "name_normalized": ws.channels[id], "created": 1700000000,
        "creator": "U0ALICE001", "is_channel": !private, "is_group": false, "is_im": false, "is_mpim": false,
        "is_private": private, "is_archived": false, "is_general": id == "C0GENERAL1", "is_shared": false,
        "is_ext_shared": false, "is_org_shared": false, "is_pending_ext_shared": false, "is_member": !ws.bot_absent.contains(id),
        "unlinked": 0, "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0}, "previous_names": []
    }}))
}

async fn views_publish(emu: &Emulator, args: &Args) -> Response {
    let mut ws = emu.inner.ws.lock().await;
    let Some(user) = arg(args, "user_id").and_then(|u| ws.user_id(u)) else {
        return err("user_not_found");
    };
    // The view arrives as a JSON object, or as a JSON string in form-encoded calls.
    let view = match args.get("view") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    let Some(mut view) = view.filter(|v| v.get("type").and_then(Value::as_str) == Some("home"))
    else {
        return err("invalid_arguments");
    };
    if !view.get("blocks").is_some_and(Value::is_array) {
        return err("invalid_arguments");
    }
    let id = format!("V{:010}", emu.next_id());
    for key in ["private_metadata", "callback_id", "external_id"] {
        if view.get(key).is_none() {
            view[key] = json!("");
        }
    }
    view["id"] = json!(id);
    view["team_id"] = json!(TEAM_ID);
    view["state"] = json!({"values": {}});
    view["hash"] = json!(format!("{id}.hash"));
    view["app_id"] = json!(APP_ID);
    view["bot_id"] = json!(BOT_ID);
    ws.homes.insert(user, view.clone());
    ok(json!({"view": view}))
}

async fn permalink(emu: &Emulator, args: &Args) -> Response {
    let ws = emu.inner.ws.lock().await;
    let channel = match channel_arg(&ws, args) {
        Ok(c) => c,
        Err(code) => return err(code),
    };
    let Some(ts) = arg(args, "message_ts") else {
        return err("message_not_found");
    };
    let Some(idx) = ws.find(&channel, ts) else {
        return err("message_not_found");
    };
    let mut link = format!(
        "https://emulated.slack.local/archives/{channel}/p{}",
        ts.replace('.', "")
    );
    if let Some(t) = &ws.messages[idx].thread_ts {
        link.push_str(&format!("?thread_ts={t}&cid={channel}"));
    }
    ok(json!({"channel": channel, "permalink": link}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_merge_query_form_and_json() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let a = parse_args(Some("a=1"), &h, b"text=hello%20there&channel=C1");
        assert_eq!(arg(&a, "a"), Some("1"));
        assert_eq!(arg(&a, "text"), Some("hello there"));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        let a = parse_args(None, &h, br#"{"channel":"C1","text":"hi"}"#);
        assert_eq!(arg(&a, "channel"), Some("C1"));
    }

    #[test]
    fn text_rules() {
        let mut a = Args::new();
        assert_eq!(text_arg(&a), Err("no_text"));
        a.insert("text".into(), json!("x".repeat(MAX_TEXT_CHARS + 1)));
        assert_eq!(text_arg(&a), Err("msg_too_long"));
        a.insert("text".into(), json!("fine"));
        assert_eq!(text_arg(&a), Ok("fine".into()));
    }

    #[test]
    fn metadata_rules() {
        let mut a = Args::new();
        assert_eq!(metadata_arg(&a), Ok(None));
        let md = json!({"event_type": "job_ending", "event_payload": {"job": "7"}});
        a.insert("metadata".into(), md.clone());
        assert_eq!(metadata_arg(&a), Ok(Some(md.clone())));
        // A form post carries it as JSON text.
        a.insert("metadata".into(), json!(md.to_string()));
        assert_eq!(metadata_arg(&a), Ok(Some(md)));
        a.insert("metadata".into(), json!("{not json"));
        assert_eq!(metadata_arg(&a), Err("invalid_metadata_format"));
        for bad in [
            json!({"event_payload": {}}),
            json!({"event_type": ""}),
            json!({"event_type": "x", "event_payload": "text"}),
            json!(["event_type"]),
        ] {
            a.insert("metadata".into(), bad.clone());
            assert_eq!(metadata_arg(&a), Err("invalid_metadata_schema"), "{bad}");
        }
    }

    #[test]
    fn reactions_follow_slack_errors() {
        let mut m = Message {
            channel: "C".into(),
            ts: "1.0".into(),
            thread_ts: None,
            user: "U".into(),
            bot_id: None,
            text: "t".into(),
            edited: None,
            reactions: vec![],
            edits: 0,
            metadata: None,
        };
        assert_eq!(apply_reaction(&mut m, "U1", "eyes", true), Ok(()));
        assert_eq!(
            apply_reaction(&mut m, "U1", "eyes", true),
            Err("already_reacted")
        );
        assert_eq!(
            apply_reaction(&mut m, "U2", "eyes", false),
            Err("no_reaction")
        );
        assert_eq!(apply_reaction(&mut m, "U1", "eyes", false), Ok(()));
        assert!(m.reactions.is_empty());
    }
}
