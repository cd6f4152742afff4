//! manifest.yml must ask for what the bot uses: Socket Mode, the events it handles, the scopes
//! its Web API calls need, and nothing else. The needs are read from the code itself — every
//! Web API method `chat::slack` calls (each call is named in its `map_err`) and every event
//! `chat::inbound` decodes — so a new call or event without its scope or subscription fails
//! here, not in a real workspace.

use std::collections::BTreeSet;

/// The bot scopes a Web API method needs (Slack's method reference), `None` for a method this
/// table does not know yet.
fn scopes_for(method: &str) -> Option<&'static [&'static str]> {
    Some(match method {
        "chat.postMessage" | "chat.update" | "chat.postEphemeral" => &["chat:write"],
        "reactions.add" => &["reactions:write"],
        "users.info" => &["users:read"],
        // Public and private channels alike.
        "conversations.info" => &["channels:read", "groups:read"],
        "conversations.replies" => &["channels:history", "groups:history"],
        // No scope: the token alone, the app's own Home tab, a link to a message.
        "auth.test" | "views.publish" | "chat.getPermalink" => &[],
        // Called with the app-level token (connections:write), not a bot scope.
        "apps.connections.open" => &[],
        _ => return None,
    })
}

/// The subscriptions and bot scopes an event decoded by `chat::inbound` needs.
fn event_needs(variant: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match variant {
        "AppMention" => (&["app_mention"], &["app_mentions:read"]),
        // Thread replies in public and private channels.
        "Message" => (
            &["message.channels", "message.groups"],
            &["channels:history", "groups:history"],
        ),
        "AppHomeOpened" => (&["app_home_opened"], &[]),
        "ReactionAdded" => (&["reaction_added"], &["reactions:read"]),
        "ReactionRemoved" => (&["reaction_removed"], &["reactions:read"]),
        _ => return None,
    })
}

/// Every `prefix<name>suffix` in `text`, `<name>` made of letters, dots and underscores.
fn names_after(text: &str, prefix: &str, end: char) -> BTreeSet<String> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            (rest[name.len()..].starts_with(end) && !name.is_empty()).then_some(name)
        })
        .collect()
}

fn source(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn manifest_matches_what_the_bot_uses() {
    let text = source("manifest.yml");
    let m: serde_norway::Value = serde_norway::from_str(&text).expect("manifest.yml parses");
    assert_eq!(m["settings"]["socket_mode_enabled"].as_bool(), Some(true));
    let list = |v: &serde_norway::Value| -> BTreeSet<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };

    let mut scopes = BTreeSet::new();
    let methods = names_after(&source("src/chat/slack.rs"), "map_err(\"", '"');
    assert!(methods.contains("chat.postMessage"), "{methods:?}");
    for method in &methods {
        let needs = scopes_for(method).unwrap_or_else(|| {
            panic!("the bot calls {method}: add its scopes to `scopes_for` and to manifest.yml")
        });
        scopes.extend(needs.iter().map(|s| s.to_string()));
    }
    let mut events = BTreeSet::new();
    let variants = names_after(
        &source("src/chat/inbound.rs"),
        "SlackEventCallbackBody::",
        '(',
    );
    assert!(variants.contains("AppMention"), "{variants:?}");
    for variant in &variants {
        let (subscriptions, needs) = event_needs(variant).unwrap_or_else(|| {
            panic!("the bot decodes {variant} events: add them to `event_needs` and manifest.yml")
        });
        events.extend(subscriptions.iter().map(|s| s.to_string()));
        scopes.extend(needs.iter().map(|s| s.to_string()));
    }

    assert_eq!(
        list(&m["settings"]["event_subscriptions"]["bot_events"]),
        events,
        "manifest.yml's bot_events against the events the code decodes"
    );
    assert_eq!(
        list(&m["oauth_config"]["scopes"]["bot"]),
        scopes,
        "manifest.yml's bot scopes against what the code's calls and events need"
    );
    // The emulator grants exactly these (what `doctor` compares a token's scopes with).
    let granted: BTreeSet<String> = threadwork::emulator::MANIFEST_SCOPES
        .map(String::from)
        .into();
    assert_eq!(granted, scopes);
}

#[test]
fn the_scan_finds_calls_and_variants() {
    let code =
        r#"x.map_err(|e| map_err("users.info", e)); SlackEventCallbackBody::AppMention(m) =>"#;
    assert_eq!(
        names_after(code, "map_err(\"", '"'),
        BTreeSet::from(["users.info".to_string()])
    );
    assert_eq!(
        names_after(code, "SlackEventCallbackBody::", '('),
        BTreeSet::from(["AppMention".to_string()])
    );
}
