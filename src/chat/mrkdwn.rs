//! Slack's mrkdwn control characters. Text the bot repeats from others — harness answers and
//! errors, corrections, thread messages, request options — is escaped before it is posted, so
//! it cannot ping `<!channel>`, hide a link behind a label, or forge a mention. Slack shows
//! `&lt;` `&gt;` `&amp;` as the characters again, in code blocks too, so code stays readable.

/// Escapes `&`, `<` and `>` as Slack asks.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_others_is_inert() {
        assert_eq!(escape("<!channel> hi"), "&lt;!channel&gt; hi");
        assert_eq!(
            escape("<https://evil.example|docs>"),
            "&lt;https://evil.example|docs&gt;"
        );
        assert_eq!(escape("a && b <@U1>"), "a &amp;&amp; b &lt;@U1&gt;");
        // Already-escaped text is escaped again: it is shown exactly as it was written.
        assert_eq!(escape("&lt;"), "&amp;lt;");
        assert_eq!(escape("plain *bold* `code`"), "plain *bold* `code`");
    }
}
