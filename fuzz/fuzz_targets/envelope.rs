//! The event-envelope decoder: Events API payloads, as slack-morphism deserialises them from
//! a Socket Mode envelope, through `chat::inbound::decode`. Most inputs are built from the
//! fuzzer's bytes into the shapes Slack sends (so the fuzzer spends its time past the JSON
//! layer); an input starting with `{` is tried as raw JSON too. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use slack_morphism::events::SlackPushEventCallback;
use threadwork::chat::inbound::{decode, InboundKind};
use threadwork::request::parse_mention;

const TYPES: [&str; 6] = [
    "app_mention",
    "message",
    "reaction_added",
    "reaction_removed",
    "app_home_opened",
    "channel_created",
];

/// Splits the input into up to `n` strings at 0xFF bytes (lossy UTF-8).
fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data
        .splitn(n, |b| *b == 0xFF)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    out.resize(n, String::new());
    out
}

fn shaped(kind: u8, data: &[u8]) -> Value {
    let f = fields(data, 6);
    let event_type = TYPES[kind as usize % TYPES.len()];
    let mut event = json!({
        "type": event_type,
        "channel": f[0],
        "user": f[1],
        "text": f[2],
        "ts": f[3],
        "event_ts": f[3],
    });
    if kind & 0x10 != 0 {
        event["thread_ts"] = json!(f[4]);
    }
    if kind & 0x20 != 0 {
        event["subtype"] = json!(f[5]);
    }
    if kind & 0x40 != 0 {
        event["bot_id"] = json!(f[5]);
    }
    if event_type.starts_with("reaction") {
        event["reaction"] = json!(f[2]);
        event["item"] = json!({"type": "message", "channel": f[0], "ts": f[4]});
    }
    json!({
        "team_id": "T0FUZZ",
        "api_app_id": "A0FUZZ",
        "event": event,
        "event_id": f[5],
        "event_time": 1,
        "type": "event_callback",
    })
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        if let Ok(cb) = serde_json::from_slice::<SlackPushEventCallback>(data) {
            let _ = decode(&cb);
        }
        return;
    }
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Ok(cb) = serde_json::from_value::<SlackPushEventCallback>(shaped(kind, rest)) else {
        return;
    };
    if let InboundKind::Mention { text, .. } = decode(&cb).kind {
        let _ = parse_mention(&text, "U0BOT");
    }
});
