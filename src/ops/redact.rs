//! Redaction by value: every secret the bot holds (Slack tokens, the signing secret, model
//! keys, forge tokens) is replaced wherever it would be stored, logged or posted — also when a
//! harness prints one, so a token prefix check alone would miss it.
//!
//! One process-wide set feeds the log writer (`RedactingWriter`, installed by `main` before
//! the config is read and filled by `app::start`); the bot holds the same set for Slack posts
//! and transcripts.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, RwLock};

/// What a redacted value becomes.
pub const MASK: &str = "[redacted]";

/// Secrets shorter than this are not redacted (they would mangle ordinary text).
const MIN_LEN: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| s.len() >= MIN_LEN)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        Self { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known secret masked.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        out
    }
}

static GLOBAL: RwLock<Option<Arc<Redactor>>> = RwLock::new(None);

/// Makes `r` the set the log writer applies (adding to what is there).
pub fn install(r: &Redactor) {
    let mut g = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
    let mut secrets = g.as_ref().map(|x| x.secrets.clone()).unwrap_or_default();
    secrets.extend(r.secrets.iter().cloned());
    *g = Some(Arc::new(Redactor::new(secrets)));
}

fn global() -> Option<Arc<Redactor>> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A log writer that masks the installed secrets in each line. tracing's formatter writes a
/// whole event per `write`, so a secret is never split across calls.
pub struct RedactingWriter<W: Write>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match global() {
            Some(r) if !r.is_empty() => {
                let text = String::from_utf8_lossy(buf);
                self.0.write_all(r.apply(&text).as_bytes())?;
            }
            _ => self.0.write_all(buf)?,
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
    fn the_writer_masks_installed_secrets() {
        install(&Redactor::new(["writer-canary-123"]));
        let mut out = RedactingWriter(Vec::new());
        out.write_all(b"token=writer-canary-123\n").unwrap();
        assert_eq!(String::from_utf8(out.0).unwrap(), "token=[redacted]\n");
    }
}
