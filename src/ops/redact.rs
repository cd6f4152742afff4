//! Redaction by value: every secret the bot holds (Slack tokens, the signing secret, model
//! keys, forge tokens) is replaced wherever it would be stored, logged or posted — also when a
//! harness prints one, so a token prefix check alone would miss it.
//!
//! One process-wide set feeds the log writer (`RedactingWriter`, installed by `main` before
//! the config is read and filled by `app::start`); the bot holds the same set for Slack posts
//! and transcripts.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;

/// What a redacted value becomes.
pub const MASK: &str = "[redacted]";

/// Secrets shorter than this are not redacted (they would mangle ordinary text).
const MIN_LEN: usize = 8;

/// Per-job secrets kept (with their encodings): a job's model-proxy token is useless once its
/// job ended, so the oldest go first.
const RECENT: usize = 4096;

#[derive(Debug, Default)]
pub struct Redactor {
    /// The configured secrets and their encodings.
    fixed: Vec<String>,
    learnt: RwLock<Learnt>,
}

/// Secrets learnt while running (grant tokens) and one matcher over every secret, rebuilt
/// when one is learnt (once per job), so masking a text is one pass whatever the count.
#[derive(Debug, Default)]
struct Learnt {
    recent: VecDeque<String>,
    matcher: Option<AhoCorasick>,
}

impl Redactor {
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut fixed: Vec<String> = secrets
            .into_iter()
            .flat_map(|s| variants(&s.into()))
            .collect();
        longest_first(&mut fixed);
        let matcher = matcher(fixed.iter());
        Self {
            fixed,
            learnt: RwLock::new(Learnt {
                recent: VecDeque::new(),
                matcher,
            }),
        }
    }

    /// Adds a secret learnt while running (a job's grant token), with its encodings.
    pub fn add(&self, secret: &str) {
        let mut learnt = self.learnt.write().unwrap_or_else(|e| e.into_inner());
        for v in variants(secret) {
            if !learnt.recent.contains(&v) {
                learnt.recent.push_back(v);
            }
        }
        while learnt.recent.len() > RECENT {
            learnt.recent.pop_front();
        }
        learnt.matcher = matcher(self.fixed.iter().chain(learnt.recent.iter()));
    }

    pub fn is_empty(&self) -> bool {
        self.learnt
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .matcher
            .is_none()
    }

    /// `text` with every known secret, and its base64 and URL encodings, masked.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let learnt = self.learnt.read().unwrap_or_else(|e| e.into_inner());
        match &learnt.matcher {
            Some(m) if m.is_match(text) => {
                Cow::Owned(m.replace_all(text, &vec![MASK; m.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }
}

/// One leftmost-longest matcher over `secrets`, so a secret containing another is masked
/// whole; `None` when there is nothing to mask.
fn matcher<'a>(secrets: impl Iterator<Item = &'a String>) -> Option<AhoCorasick> {
    let mut all: Vec<&String> = secrets.collect();
    all.sort();
    all.dedup();
    if all.is_empty() {
        return None;
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(all)
        .map_err(|e| tracing::error!(error = %e, "cannot build the redaction matcher"))
        .ok()
}

fn longest_first(secrets: &mut Vec<String>) {
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    secrets.dedup();
}

/// The forms a secret can take in text: itself, URL-encoded, and base64 (standard and
/// URL-safe) at each of the three alignments it can have inside a longer encoded text —
/// only the characters that depend on the secret alone, so it is found wherever it sits.
fn variants(secret: &str) -> Vec<String> {
    if secret.len() < MIN_LEN {
        return vec![];
    }
    let mut out = vec![secret.to_string()];
    let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    out.push(url);
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for engine in engines {
        for k in 0..3usize {
            let mut bytes = vec![0u8; k];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            // Groups that mix in the bytes before or after the secret are left out.
            let start = if k == 0 { 0 } else { 4 };
            let end = (bytes.len() / 3) * 4;
            if end > start && end - start >= MIN_LEN {
                out.push(encoded[start..end].to_string());
            }
        }
    }
    out.retain(|v| v.len() >= MIN_LEN);
    out.dedup();
    out
}

static GLOBAL: RwLock<Vec<Arc<Redactor>>> = RwLock::new(Vec::new());

/// Makes `r` one of the sets the log writer applies: secrets it learns later apply too.
pub fn install(r: &Arc<Redactor>) {
    let mut g = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
    if !g.iter().any(|x| Arc::ptr_eq(x, r)) {
        g.push(r.clone());
    }
}

fn global() -> Vec<Arc<Redactor>> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A log writer that masks the installed secrets in each line. tracing's formatter writes a
/// whole event per `write`, so a secret is never split across calls.
pub struct RedactingWriter<W: Write>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let sets = global();
        if sets.iter().all(|r| r.is_empty()) {
            self.0.write_all(buf)?;
        } else {
            let mut text = String::from_utf8_lossy(buf).into_owned();
            for r in &sets {
                if let Cow::Owned(masked) = r.apply(&text) {
                    text = masked;
                }
            }
            self.0.write_all(text.as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_by_value_longest_first() {
        let r = Redactor::new(["xoxb-1234567890", "xoxb-1234567890-extra", "short"]);
        assert_eq!(
            r.apply("a xoxb-1234567890-extra b xoxb-1234567890 c short"),
            "a [redacted] b [redacted] c short"
        );
        assert!(matches!(r.apply("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_masks_installed_secrets_and_ones_learnt_later() {
        let r = Arc::new(Redactor::new(["writer-canary-123"]));
        install(&r);
        r.add("grant-token-learnt-later");
        let mut out = RedactingWriter(Vec::new());
        out.write_all(b"token=writer-canary-123 grant=grant-token-learnt-later\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "token=[redacted] grant=[redacted]\n"
        );
    }

    #[test]
    fn encoded_forms_are_masked_wherever_they_sit() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let secret = "sk-live/abc+123?token=xyz";
        let r = Redactor::new([secret]);
        for prefix in ["", "a", "ab", "abc", "Authorization: Basic "] {
            for engine in [STANDARD, URL_SAFE] {
                let encoded = engine.encode(format!("{prefix}{secret} and more"));
                let masked = r.apply(&encoded);
                assert!(masked.contains(MASK), "{prefix:?}: {encoded} → {masked}");
            }
        }
        let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        assert_eq!(
            r.apply(&format!("GET /x?key={url}")),
            "GET /x?key=[redacted]"
        );
        // A job's token learnt while running, encoded in a URL a harness printed.
        r.add("tw-grant-0123456789abcdef");
        assert_eq!(
            r.apply("http://model:8080/t/tw-grant-0123456789abcdef/v1"),
            "http://model:8080/t/[redacted]/v1"
        );
    }
}
