//! Decoding a CLI's output: the `Decoder` every adapter implements (the real CLIs in
//! `claude`, `codex`, `pi`, `gemini` and `opencode`, and the two modes of the `command` harness), and the helpers
//! they share. A leaf of `harness`: the adapters import it, it imports none of them.

use serde_json::Value;

use super::HarnessEvent;
use crate::text::first_line;

/// Turns a CLI's stdout lines into events. One per run; the adapters for real CLIs and the
/// two modes of the `command` harness implement it.
pub trait Decoder: Send + 'static {
    /// Events for one stdout line (without its newline); `n` counts from 1.
    fn line(&mut self, n: usize, line: &str) -> Vec<HarnessEvent>;
    /// The process exited successfully without a final event: the answer, if the decoder has
    /// one (text mode's whole output, a CLI whose last message is the answer).
    fn finish(&mut self) -> Option<HarnessEvent> {
        None
    }
}

/// One line saying what a tool call does, from its input.
pub fn tool_summary(input: &Value) -> String {
    let pick = [
        "command",
        "cmd",
        "file_path",
        "filePath",
        "path",
        "pattern",
        "url",
        "query",
        "description",
    ]
    .iter()
    .find_map(|k| match input.get(*k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(parts)) => Some(
            parts
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    })
    .unwrap_or_default();
    first_line(&pick, 120)
}

/// A stdout line that is not JSON: the CLI's stream is broken.
pub fn malformed(cli: &str, n: usize, line: &str) -> HarnessEvent {
    HarnessEvent::Error {
        message: format!(
            "{cli} printed a line that is not JSON (line {n}): `{}`",
            first_line(line, 200)
        ),
    }
}

/// Every event a decoder gives for `lines`, numbered from 1 (the adapters' tests).
#[cfg(test)]
pub fn decode_all(decoder: &mut dyn Decoder, lines: &[&str]) -> Vec<HarnessEvent> {
    lines
        .iter()
        .enumerate()
        .flat_map(|(i, l)| decoder.line(i + 1, l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_one_line() {
        assert_eq!(
            tool_summary(&serde_json::json!({"command": "cargo test\n--all"})),
            "cargo test…"
        );
        assert_eq!(
            tool_summary(&serde_json::json!({"command": ["bash", "-lc", "ls"]})),
            "bash -lc ls"
        );
    }
}
