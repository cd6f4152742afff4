//! manifest.yml must ask for what the bot uses: Socket Mode, the events it handles, the scopes
//! its Web API calls need, and nothing else.

use std::collections::BTreeSet;

#[test]
fn manifest_matches_what_the_bot_uses() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.yml")).unwrap();
    let m: serde_norway::Value = serde_norway::from_str(&text).expect("manifest.yml parses");
    assert_eq!(m["settings"]["socket_mode_enabled"].as_bool(), Some(true));
    let list = |v: &serde_norway::Value| -> BTreeSet<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let events = list(&m["settings"]["event_subscriptions"]["bot_events"]);
    let want: BTreeSet<String> = [
        "app_home_opened",
        "app_mention",
        "message.channels",
        "message.groups",
        "reaction_added",
        "reaction_removed",
    ]
    .map(String::from)
    .into();
    assert_eq!(events, want);
    // The emulator grants exactly these (what `doctor` compares a token's scopes with).
    let scopes = list(&m["oauth_config"]["scopes"]["bot"]);
    let want: BTreeSet<String> = threadwork::emulator::MANIFEST_SCOPES
        .map(String::from)
        .into();
    assert_eq!(scopes, want);
}
