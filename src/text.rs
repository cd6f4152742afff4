//! Text helpers shared by every module that writes for Slack or reads Slack's markup: lists
//! of names and mentions, Slack markup to plain text, and clipping to a length. A leaf: it
//! imports nothing of the crate.

/// `s` shortened to at most `max` characters, the last of them an ellipsis when anything was
/// cut. (Trimming is the caller's: a code passage keeps its indentation.)
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The longest start of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The first non-empty line of `s`, clipped to `max` characters; an ellipsis also says
/// that more lines followed.
pub fn first_line(s: &str, max: usize) -> String {
    let first = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let more = s.trim().lines().count() > 1;
    let clipped = clip(first, max);
    if more && !clipped.ends_with('…') {
        let mut out: String = clipped.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        return out;
    }
    clipped
}

/// `<@U1>, <@U2>` for a list of user ids; `None` when there are none.
pub fn user_mentions(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| {
        ids.iter()
            .map(|u| format!("<@{u}>"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// `` `a`, `b` `` for a list of names.
pub fn code_list<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes the three entities Slack escapes in message text.
pub fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Turns Slack markup into plain text for a harness: user mentions through `user_name`,
/// channels and links to their labels, then entities decoded. Unknown markup is kept as is.
pub fn to_plain_text(text: &str, user_name: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..open]));
        let Some(len) = rest[open..].find('>') else {
            rest = &rest[open..];
            break;
        };
        let inner = &rest[open + 1..open + len];
        out.push_str(&render_markup(inner, user_name));
        rest = &rest[open + len + 1..];
    }
    out.push_str(&decode_entities(rest));
    out
}

fn render_markup(inner: &str, user_name: &dyn Fn(&str) -> Option<String>) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(decode_entities(l))),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        let name = user_name(id).or(label).unwrap_or_else(|| id.to_string());
        return format!("@{}", name.trim_start_matches('@'));
    }
    if let Some(id) = target.strip_prefix('#') {
        return format!("#{}", label.unwrap_or_else(|| id.to_string()));
    }
    if let Some(special) = target.strip_prefix('!') {
        if let Some(l) = label {
            return l;
        }
        return format!("@{}", special.split('^').next().unwrap_or(special));
    }
    let url = decode_entities(target);
    match label {
        Some(l) if l != url && l != url.trim_start_matches("mailto:") => format!("{l} ({url})"),
        Some(l) => l,
        None => url.trim_start_matches("mailto:").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_cuts_end_on_a_character() {
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("héllo", 3), "hé");
        assert_eq!(truncate_bytes("abc", 10), "abc");
    }

    #[test]
    fn markup_becomes_plain_text() {
        let names = |id: &str| (id == "U1").then(|| "ada".to_string());
        let cases = [
            ("hi <@U1>", "hi @ada"),
            ("hi <@U2>", "hi @U2"),
            ("hi <@U3|bob>", "hi @bob"),
            ("see <#C1|general>", "see #general"),
            ("see <#C1>", "see #C1"),
            (
                "<https://x.io/a?b=1&amp;c=2|docs>",
                "docs (https://x.io/a?b=1&c=2)",
            ),
            ("<https://x.io>", "https://x.io"),
            ("<mailto:a@b.c|a@b.c>", "a@b.c"),
            ("<!here> <!subteam^S1|@devs>", "@here @devs"),
            ("a &lt;b&gt; &amp;&amp; c", "a <b> && c"),
            ("unclosed <tag", "unclosed <tag"),
        ];
        for (input, want) in cases {
            assert_eq!(to_plain_text(input, &names), want, "for {input:?}");
        }
    }

    #[test]
    fn clip_keeps_within_the_limit() {
        assert_eq!(clip("  short", 10), "  short");
        assert_eq!(clip("abcdefghij", 5), "abcd…");
        assert_eq!(clip("abcdefghij", 5).chars().count(), 5);
        assert_eq!(first_line("\n  one\ntwo", 10), "one…");
        assert_eq!(first_line("one", 10), "one");
        assert_eq!(first_line("abcdefghij\nk", 5), "abcd…");
    }
}
