//! The request/option parser and the text handling around it: a mention's text through
//! `parse_mention`, corrections, Slack markup to plain text, and answer splitting. Nothing
//! may panic, and a split answer must keep all its text and respect the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threadwork::request::{parse_correction, parse_mention};
use threadwork::split::split_message;
use threadwork::text::to_plain_text;

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let _ = parse_mention(&text, "U0BOT");
    let _ = parse_correction(&text);
    let plain = to_plain_text(&text, &|id| {
        (id.len() % 2 == 0).then(|| format!("name-{id}"))
    });
    let limit = 80 + limit as usize * 16;
    let parts = split_message(&plain, limit);
    for part in &parts {
        assert!(part.chars().count() <= limit, "a part over the limit");
    }
    // Text survives; whitespace at cuts and the fences' own backticks may be redrawn.
    let text = |c: &char| !c.is_whitespace() && *c != '`';
    let rejoined: usize = parts.iter().map(|p| p.chars().filter(text).count()).sum();
    let original = plain.chars().filter(text).count();
    assert!(rejoined >= original, "split lost characters");
});
