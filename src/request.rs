//! Text of a mention → a typed request. Pure: no I/O, so every rule here is unit tested.
//!
//! Slack sends message text with its own markup (`<@U…>`, `<#C…|name>`, `<https://…|label>`)
//! and with `&`, `<`, `>` escaped as entities. Options are `key=value` words, inline or in one
//! `[key=value, …]` block; anything inside backticks is literal text, never an option.

use crate::amendments::AmendmentAction;
use crate::job::RequestOptions;
use crate::text::decode_entities;

/// Option keys a mention may carry, in the order they are listed to users.
pub const OPTION_KEYS: [&str; 6] = ["agent", "harness", "repo", "branch", "model", "budget"];

/// What a mention asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Run an agent on a task.
    Task {
        task: String,
        options: RequestOptions,
    },
    /// Show how to talk to the bot.
    Help,
    /// `remember: <instruction>`: propose an amendment (to the thread's agent, or `agent=`).
    Remember { text: String, agent: Option<String> },
    /// `adopt|reject|revert [<agent>] <n>`.
    Decide {
        action: AmendmentAction,
        agent: Option<String>,
        number: u32,
    },
    /// `amendments [<agent>]`.
    Amendments { agent: Option<String> },
    /// `prompt [<agent>]`: the effective prompt and its version.
    Prompt { agent: Option<String> },
    /// `diff <agent> <v1> <v2>`.
    Diff {
        agent: String,
        from: String,
        to: String,
    },
    /// `agents`: the agent directory.
    Agents,
    /// `stop` (or `cancel`) in a job's thread: end the thread's running or queued job.
    Stop,
    /// `context [agent=<name>] <query>`: the library passages the agent would receive.
    Context {
        query: String,
        agent: Option<String>,
    },
    /// `schedules`: every agent's schedules and triggers.
    Schedules,
    /// `run <agent> [<schedule>] now`: run a schedule at once (owners and admins).
    RunNow {
        agent: String,
        schedule: Option<String>,
    },
    /// `overlaps [<days>]`: groups of similar requests across channels.
    Overlaps { days: Option<u32> },
    /// `eval <agent> [amendment:<n>]`: run the agent's eval suite, with and without a
    /// proposed amendment when one is named (owners and admins).
    Eval {
        agent: String,
        amendment: Option<u32>,
    },
}

/// Why a mention could not become a request; each variant renders as a reply for the thread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("unknown option `{key}`; valid options: {}", OPTION_KEYS.join(", "))]
    UnknownOption { key: String },
    #[error("option `{key}` has no value; write it as `{key}=<value>`")]
    EmptyValue { key: String },
    #[error("option `{key}` is given twice")]
    Duplicate { key: String },
    #[error("`{value}` is not a valid {key}: {why}")]
    BadValue {
        key: String,
        value: String,
        why: &'static str,
    },
    #[error("the `[…]` option block is not closed; write options as `[key=value, …]`")]
    UnclosedBlock,
    #[error("`{item}` in the option block is not `key=value`")]
    BadBlockItem { item: String },
    #[error("there is nothing to remember: write `remember: <instruction>`")]
    EmptyAmendment,
    #[error(
        "there is nothing to look up: write `context <query>` (or `context agent=<name> <query>`)"
    )]
    EmptyContextQuery,
    #[error("there is no task in the message: tell me what to do, e.g. `fix the flaky login test repo=acme/web` after the mention")]
    EmptyTask,
}

/// The reply for a rejected request: the error, then how to write options; `bot` is the bot's
/// name in the workspace (what people type after `@`).
pub fn error_reply(err: &RequestError, bot: &str) -> String {
    // The error quotes what was typed: escaped, so it is shown and not acted on.
    format!(
        ":warning: {}. No job was started.\n{}",
        crate::chat::mrkdwn::escape(&err.to_string()),
        usage(bot)
    )
}

/// One-paragraph usage text shared by `help` and error replies; `bot` is the bot's name.
pub fn usage(bot: &str) -> String {
    format!(
        "Usage: `@{bot} <task> [key=value …]` or `@{bot} <task> [key=value, …]`. \
     Options: `agent=<name>`, `harness=<name>`, `repo=<owner/name>`, `branch=<git branch>`, \
     `model=<model id>`, `budget=<USD>`. Backticks keep a `key=value` literal.\n\
     Corrections: in a job's thread, `@{bot} remember: <instruction>` or a reply starting \
     `correction:` proposes an amendment to the agent; its owners adopt it with :white_check_mark: \
     (or `@{bot} adopt <n>`). Also: `agents`, `amendments <agent>`, `prompt <agent>`, \
     `revert <agent> <n>`, `diff <agent> <v1> <v2>`, `context [agent=<name>] <query>` (what \
     a job would read), `schedules` (agents that run on their own), \
     `overlaps [<days>]` (similar work), \
     `run <agent> [<schedule>] now`, `eval <agent>` (owners and admins), and `stop` (or :x: on the job card) \
     in a job's thread."
    )
}

/// Parses the text of a mention addressed to the bot `bot_user_id`.
pub fn parse_mention(text: &str, bot_user_id: &str) -> Result<Ask, RequestError> {
    let text = strip_invisible(text);
    let without_bot = strip_bot_mentions(&text, bot_user_id);
    if let Some(command) = parse_command(&decode_entities(without_bot.trim()))? {
        return Ok(command);
    }
    let (rest, options) = extract_options(&without_bot)?;
    let task = collapse_spaces(&rest);
    if task.eq_ignore_ascii_case("help") {
        return Ok(Ask::Help);
    }
    if task.is_empty() {
        return Err(RequestError::EmptyTask);
    }
    Ok(Ask::Task { task, options })
}

fn agent_token(word: &str) -> Option<String> {
    let ok = !word.is_empty()
        && word.len() <= 64
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| word.to_string())
}

fn number_token(word: &str) -> Option<u32> {
    word.trim_start_matches('#').parse().ok().filter(|n| *n > 0)
}

/// The bot's own commands; `None` when the text is a task. A command is recognised only in its
/// exact shape, so a task that merely starts with the same word stays a task.
fn parse_command(text: &str) -> Result<Option<Ask>, RequestError> {
    if let Some(rest) = strip_prefix_ci(text, "remember") {
        let rest = rest.trim_start();
        let (agent, rest) = match rest.strip_prefix("agent=") {
            Some(r) => {
                let end = r.find([':', ' ']).unwrap_or(r.len());
                (agent_token(&r[..end]), r[end..].trim_start())
            }
            None => (None, rest),
        };
        if let Some(instruction) = rest.strip_prefix(':') {
            let instruction = instruction.trim();
            if instruction.is_empty() {
                return Err(RequestError::EmptyAmendment);
            }
            return Ok(Some(Ask::Remember {
                text: instruction.to_string(),
                agent,
            }));
        }
    }
    if let Some(rest) = strip_prefix_ci(text, "context")
        .filter(|r| r.is_empty() || r.starts_with(|c: char| c == ':' || c.is_whitespace()))
    {
        let rest = rest.trim_start_matches(':').trim_start();
        let (agent, query) = match rest.strip_prefix("agent=") {
            Some(r) => {
                let end = r.find(char::is_whitespace).unwrap_or(r.len());
                (agent_token(&r[..end]), r[end..].trim())
            }
            None => (None, rest.trim()),
        };
        if query.is_empty() {
            return Err(RequestError::EmptyContextQuery);
        }
        return Ok(Some(Ask::Context {
            query: collapse_spaces(query),
            agent,
        }));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let first = lower.first().map(String::as_str);
    let action = match first {
        Some("adopt") => Some(AmendmentAction::Adopt),
        Some("reject") => Some(AmendmentAction::Reject),
        Some("revert") => Some(AmendmentAction::Revert),
        _ => None,
    };
    let command = match (first, &words[..]) {
        (Some("agents"), [_]) => Some(Ask::Agents),
        (Some("schedules"), [_]) => Some(Ask::Schedules),
        (Some("overlaps"), [_]) => Some(Ask::Overlaps { days: None }),
        // `overlaps 0` or `overlaps 9999` is a mistyped command, not a task for an agent.
        (Some("overlaps"), [_, n]) if n.bytes().all(|b| b.is_ascii_digit()) => {
            match n.parse::<u32>() {
                Ok(d) if (1..=crate::overlap::MAX_DAYS).contains(&d) => {
                    Some(Ask::Overlaps { days: Some(d) })
                }
                _ => {
                    return Err(RequestError::BadValue {
                        key: "overlaps".into(),
                        value: n.to_string(),
                        why: "give a number of days from 1 to 365",
                    })
                }
            }
        }
        (Some("run"), [_, a, now]) if now.eq_ignore_ascii_case("now") => {
            agent_token(a).map(|agent| Ask::RunNow {
                agent,
                schedule: None,
            })
        }
        // Both names are plain words: `run tests repo=acme/web now` stays a task.
        (Some("run"), [_, a, s, now]) if now.eq_ignore_ascii_case("now") => agent_token(a)
            .zip(agent_token(s))
            .map(|(agent, schedule)| Ask::RunNow {
                agent,
                schedule: Some(schedule),
            }),
        (Some("eval"), [_, a]) => agent_token(a).map(|agent| Ask::Eval {
            agent,
            amendment: None,
        }),
        (Some("eval"), [_, a, n]) => agent_token(a)
            .zip(n.strip_prefix("amendment:").and_then(number_token))
            .map(|(agent, n)| Ask::Eval {
                agent,
                amendment: Some(n),
            }),
        (Some("stop" | "cancel"), [_]) => Some(Ask::Stop),
        (Some("amendments"), [_]) => Some(Ask::Amendments { agent: None }),
        (Some("amendments"), [_, a]) => agent_token(a).map(|a| Ask::Amendments { agent: Some(a) }),
        (Some("prompt"), [_]) => Some(Ask::Prompt { agent: None }),
        (Some("prompt"), [_, a]) => agent_token(a).map(|a| Ask::Prompt { agent: Some(a) }),
        (Some("diff"), [_, a, v1, v2]) => agent_token(a).map(|agent| Ask::Diff {
            agent,
            from: v1.to_string(),
            to: v2.to_string(),
        }),
        (Some(_), [_, n]) => action
            .zip(number_token(n))
            .map(|(action, number)| Ask::Decide {
                action,
                agent: None,
                number,
            }),
        (Some(_), [_, a, n]) => {
            action
                .zip(number_token(n))
                .zip(agent_token(a))
                .map(|((action, number), agent)| Ask::Decide {
                    action,
                    agent: Some(agent),
                    number,
                })
        }
        _ => None,
    };
    Ok(command)
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A thread reply that corrects the agent: `correction: <instruction>`.
pub fn parse_correction(text: &str) -> Option<String> {
    let rest = strip_prefix_ci(text.trim_start(), "correction")?;
    let instruction = rest.trim_start().strip_prefix(':')?.trim();
    (!instruction.is_empty()).then(|| decode_entities(instruction))
}

/// Drops zero-width and other invisible format characters, which would otherwise hide inside
/// option names (`repo\u{200b}=x`) or make look-alike commands.
pub fn strip_invisible(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{202a}'..='\u{202e}'))
        .collect()
}

/// Shortens user input quoted back in a reply.
fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// Removes every `<@BOT>` / `<@BOT|name>` mention of the bot itself.
pub fn strip_bot_mentions(text: &str, bot_user_id: &str) -> String {
    let plain = format!("<@{bot_user_id}>");
    let named = format!("<@{bot_user_id}|");
    let mut out = text.replace(&plain, " ");
    while let Some(start) = out.find(&named) {
        match out[start..].find('>') {
            Some(end) => out.replace_range(start..start + end + 1, " "),
            None => break,
        }
    }
    out
}

/// True when `text` mentions the user `user_id` in Slack markup.
pub fn mentions(text: &str, user_id: &str) -> bool {
    text.contains(&format!("<@{user_id}>")) || text.contains(&format!("<@{user_id}|"))
}

/// Splits the options out of `text` and validates them; returns the remaining text.
fn extract_options(text: &str) -> Result<(String, RequestOptions), RequestError> {
    let mut options = RequestOptions::default();
    let mut rest = String::with_capacity(text.len());
    for segment in code_segments(text) {
        match segment {
            Segment::Code(code) => rest.push_str(code),
            Segment::Text(plain) => {
                let remaining = take_block(plain, &mut options)?;
                for word in split_keep_space(&remaining) {
                    match option_word(word) {
                        Some((key, value)) => set_option(&mut options, key, value)?,
                        None => rest.push_str(word),
                    }
                }
            }
        }
    }
    Ok((rest, options))
}

/// Takes one `[key=value, …]` block out of a text segment, if present.
fn take_block(text: &str, options: &mut RequestOptions) -> Result<String, RequestError> {
    let Some(open) = text.find('[') else {
        return Ok(text.to_string());
    };
    let inner_start = open + 1;
    let Some(len) = text[inner_start..].find(']') else {
        // A lone `[` with `=` after it is an attempted block; otherwise it is plain text.
        return if text[inner_start..].contains('=') {
            Err(RequestError::UnclosedBlock)
        } else {
            Ok(text.to_string())
        };
    };
    let inner = &text[inner_start..inner_start + len];
    if !inner.contains('=') {
        return Ok(text.to_string());
    }
    for item in inner.split([',', ';']) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match item.split_once('=') {
            Some((key, value)) if is_key(key.trim()) => {
                set_option(options, key.trim(), value.trim())?
            }
            _ => return Err(RequestError::BadBlockItem { item: quote(item) }),
        }
    }
    let mut rest = String::with_capacity(text.len());
    rest.push_str(&text[..open]);
    rest.push(' ');
    rest.push_str(&text[inner_start + len + 1..]);
    Ok(rest)
}

fn is_key(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `key=value` as a whole word, with a key made of letters, digits, `_` and `-`.
fn option_word(word: &str) -> Option<(&str, &str)> {
    let (key, value) = word.split_once('=')?;
    is_key(key).then_some((key, value))
}

fn set_option(options: &mut RequestOptions, key: &str, value: &str) -> Result<(), RequestError> {
    let key_lower = key.to_ascii_lowercase();
    let slot = match key_lower.as_str() {
        "agent" => &mut options.agent,
        "harness" => &mut options.harness,
        "repo" => &mut options.repo,
        "branch" => &mut options.branch,
        "model" => &mut options.model,
        "budget" => &mut options.budget,
        _ => return Err(RequestError::UnknownOption { key: quote(key) }),
    };
    let value = decode_entities(value);
    if value.is_empty() {
        return Err(RequestError::EmptyValue { key: key_lower });
    }
    if slot.is_some() {
        return Err(RequestError::Duplicate { key: key_lower });
    }
    validate_option(&key_lower, &value)?;
    *slot = Some(value);
    Ok(())
}

fn validate_option(key: &str, value: &str) -> Result<(), RequestError> {
    let why = match key {
        "agent" | "harness"
            if value.len() > 64
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Some("use letters, digits, `-` and `_` only")
        }
        "repo" => (!valid_repo(value)).then_some("write it as `owner/name`"),
        "budget" => crate::jobs::budget::parse(value)
            .is_none()
            .then_some("give an amount in USD above 0, e.g. `budget=0.50`"),
        "branch" if !valid_branch(value) => Some("not a valid git branch name"),
        "model"
            if value.len() > 100
                || !value.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@')
                }) =>
        {
            Some("use letters, digits and `-_.:/@` only")
        }
        _ => None,
    };
    match why {
        Some(why) => Err(RequestError::BadValue {
            key: key.to_string(),
            value: quote(value),
            why,
        }),
        None => Ok(()),
    }
}

/// `owner/name` (GitLab groups may nest: `group/sub/name`); no empty or dot-leading parts.
pub fn valid_repo(value: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let parts: Vec<&str> = value.split('/').collect();
    parts.len() >= 2
        && value.len() <= 200
        && parts
            .iter()
            .all(|p| !p.is_empty() && !p.starts_with('.') && p.chars().all(name_char))
}

/// The subset of `git check-ref-format` rules a branch name in a chat message can break.
pub fn valid_branch(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && !name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
}

enum Segment<'a> {
    Text(&'a str),
    Code(&'a str),
}

/// Splits text into code spans/blocks (backtick-delimited, kept verbatim) and plain text.
fn code_segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        let fence = if rest[start..].starts_with("```") {
            "```"
        } else {
            "`"
        };
        let body_start = start + fence.len();
        match rest[body_start..].find(fence) {
            Some(len) => {
                let end = body_start + len + fence.len();
                out.push(Segment::Text(&rest[..start]));
                out.push(Segment::Code(&rest[start..end]));
                rest = &rest[end..];
            }
            None => break,
        }
    }
    out.push(Segment::Text(rest));
    out
}

/// Splits into words and the whitespace between them, so the text can be rebuilt.
fn split_keep_space(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn collapse_spaces(text: &str) -> String {
    // Keep line breaks (they carry meaning in a task), fold runs of spaces.
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "UBOT";

    fn task(text: &str) -> (String, RequestOptions) {
        match parse_mention(text, BOT) {
            Ok(Ask::Task { task, options }) => (task, options),
            other => panic!("expected a task for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn plain_task_without_options() {
        let (t, o) = task("<@UBOT> fix the flaky login test");
        assert_eq!(t, "fix the flaky login test");
        assert_eq!(o, RequestOptions::default());
    }

    #[test]
    fn inline_options_anywhere() {
        let (t, o) =
            task("<@UBOT> fix repo=acme/web the test model=claude-sonnet-4 branch=release/1.2");
        assert_eq!(t, "fix the test");
        assert_eq!(o.repo.as_deref(), Some("acme/web"));
        assert_eq!(o.model.as_deref(), Some("claude-sonnet-4"));
        assert_eq!(o.branch.as_deref(), Some("release/1.2"));
    }

    #[test]
    fn block_options() {
        let (t, o) = task("<@UBOT> fix the test [repo=acme/web, harness=codex,agent=reviewer]");
        assert_eq!(t, "fix the test");
        assert_eq!(o.repo.as_deref(), Some("acme/web"));
        assert_eq!(o.harness.as_deref(), Some("codex"));
        assert_eq!(o.agent.as_deref(), Some("reviewer"));
    }

    #[test]
    fn keys_are_case_insensitive() {
        let (_, o) = task("<@UBOT> go Repo=a/b");
        assert_eq!(o.repo.as_deref(), Some("a/b"));
    }

    #[test]
    fn backticks_keep_options_literal() {
        let (t, o) = task("<@UBOT> set `timeout=30` in ```x=1\ny=2``` please");
        assert_eq!(t, "set `timeout=30` in ```x=1\ny=2``` please");
        assert_eq!(o, RequestOptions::default());
    }

    #[test]
    fn square_brackets_without_equals_are_text() {
        let (t, _) = task("<@UBOT> check items [a, b] now");
        assert_eq!(t, "check items [a, b] now");
    }

    #[test]
    fn errors_are_specific() {
        let cases: &[(&str, RequestError)] = &[
            (
                "<@UBOT> fix modle=x",
                RequestError::UnknownOption {
                    key: "modle".into(),
                },
            ),
            (
                "<@UBOT> fix repo=",
                RequestError::EmptyValue { key: "repo".into() },
            ),
            (
                "<@UBOT> fix repo=a/b repo=c/d",
                RequestError::Duplicate { key: "repo".into() },
            ),
            ("<@UBOT> fix [repo=a/b", RequestError::UnclosedBlock),
            (
                "<@UBOT> fix [repo=a/b, oops]",
                RequestError::BadBlockItem {
                    item: "oops".into(),
                },
            ),
            ("<@UBOT>   ", RequestError::EmptyTask),
            ("<@UBOT> repo=a/b", RequestError::EmptyTask),
        ];
        for (text, want) in cases {
            assert_eq!(parse_mention(text, BOT).as_ref(), Err(want), "for {text:?}");
        }
    }

    #[test]
    fn a_budget_is_an_option() {
        let (t, o) = task("<@UBOT> fix the flaky test budget=$0.50");
        assert_eq!(t, "fix the flaky test");
        assert_eq!(o.budget.as_deref(), Some("$0.50"));
    }

    #[test]
    fn bad_values_are_rejected() {
        for text in [
            "<@UBOT> x repo=justname",
            "<@UBOT> x repo=a/../b",
            "<@UBOT> x branch=-rf",
            "<@UBOT> x branch=a..b",
            "<@UBOT> x branch=a~1",
            "<@UBOT> x harness=cl@ude",
            "<@UBOT> x model=a;b",
            "<@UBOT> x budget=lots",
            "<@UBOT> x budget=0",
            "<@UBOT> x budget=-2",
        ] {
            assert!(
                matches!(parse_mention(text, BOT), Err(RequestError::BadValue { .. })),
                "{text:?} should be a bad value"
            );
        }
    }

    #[test]
    fn error_reply_lists_valid_options() {
        let reply = error_reply(
            &RequestError::UnknownOption {
                key: "modle".into(),
            },
            "helper",
        );
        assert!(reply.contains("unknown option `modle`"));
        // Written with the bot's own name.
        assert!(reply.contains("`@helper <task>"), "{reply}");
        assert!(!reply.contains("@threadwork"), "{reply}");
        assert!(reply.contains("agent, harness, repo, branch, model"));
        assert!(reply.contains("No job was started"));
    }

    #[test]
    fn commands_have_exact_shapes() {
        use AmendmentAction::*;
        let cases: Vec<(&str, Ask)> = vec![
            (
                "<@UBOT> remember: always run clippy",
                Ask::Remember {
                    text: "always run clippy".into(),
                    agent: None,
                },
            ),
            (
                "<@UBOT> Remember agent=coder: use `cargo nextest`",
                Ask::Remember {
                    text: "use `cargo nextest`".into(),
                    agent: Some("coder".into()),
                },
            ),
            (
                "<@UBOT> adopt 3",
                Ask::Decide {
                    action: Adopt,
                    agent: None,
                    number: 3,
                },
            ),
            (
                "<@UBOT> adopt coder #3",
                Ask::Decide {
                    action: Adopt,
                    agent: Some("coder".into()),
                    number: 3,
                },
            ),
            (
                "<@UBOT> revert coder 2",
                Ask::Decide {
                    action: Revert,
                    agent: Some("coder".into()),
                    number: 2,
                },
            ),
            (
                "<@UBOT> reject 4",
                Ask::Decide {
                    action: Reject,
                    agent: None,
                    number: 4,
                },
            ),
            (
                "<@UBOT> amendments coder",
                Ask::Amendments {
                    agent: Some("coder".into()),
                },
            ),
            ("<@UBOT> prompt", Ask::Prompt { agent: None }),
            (
                "<@UBOT> diff coder v1 v2",
                Ask::Diff {
                    agent: "coder".into(),
                    from: "v1".into(),
                    to: "v2".into(),
                },
            ),
            ("<@UBOT> agents", Ask::Agents),
            ("<@UBOT> schedules", Ask::Schedules),
            ("<@UBOT> overlaps", Ask::Overlaps { days: None }),
            ("<@UBOT> overlaps 7", Ask::Overlaps { days: Some(7) }),
            (
                "<@UBOT> eval coder",
                Ask::Eval {
                    agent: "coder".into(),
                    amendment: None,
                },
            ),
            (
                "<@UBOT> eval coder amendment:3",
                Ask::Eval {
                    agent: "coder".into(),
                    amendment: Some(3),
                },
            ),
            (
                "<@UBOT> eval the parser speed",
                Ask::Task {
                    task: "eval the parser speed".into(),
                    options: Default::default(),
                },
            ),
            (
                "<@UBOT> overlaps between teams",
                Ask::Task {
                    task: "overlaps between teams".into(),
                    options: Default::default(),
                },
            ),
            (
                "<@UBOT> run digest NOW",
                Ask::RunNow {
                    agent: "digest".into(),
                    schedule: None,
                },
            ),
            (
                "<@UBOT> run digest weekly now",
                Ask::RunNow {
                    agent: "digest".into(),
                    schedule: Some("weekly".into()),
                },
            ),
            ("<@UBOT> stop", Ask::Stop),
            ("<@UBOT>  Cancel ", Ask::Stop),
            (
                "<@UBOT> context how do we   roll back?",
                Ask::Context {
                    query: "how do we roll back?".into(),
                    agent: None,
                },
            ),
            (
                "<@UBOT> Context: agent=ops deploy freeze",
                Ask::Context {
                    query: "deploy freeze".into(),
                    agent: Some("ops".into()),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_mention(text, BOT), Ok(want), "{text:?}");
        }
        // Tasks that start with a command word stay tasks.
        for text in [
            "<@UBOT> prompt the user before deleting",
            "<@UBOT> revert the last commit",
            "<@UBOT> agents should log more",
            "<@UBOT> remember the login bug?",
            "<@UBOT> contextual menus crash on mobile",
            "<@UBOT> run tests repo=acme/web now",
            "<@UBOT> run the migration now please",
            "<@UBOT> schedules are wrong in the calendar",
        ] {
            assert!(
                matches!(parse_mention(text, BOT), Ok(Ask::Task { .. })),
                "{text:?}"
            );
        }
        assert_eq!(
            parse_mention("<@UBOT> remember:   ", BOT),
            Err(RequestError::EmptyAmendment)
        );
        assert_eq!(
            parse_mention("<@UBOT> context agent=ops", BOT),
            Err(RequestError::EmptyContextQuery)
        );
        for days in ["0", "366", "99999999999"] {
            assert!(
                matches!(
                    parse_mention(&format!("<@UBOT> overlaps {days}"), BOT),
                    Err(RequestError::BadValue { .. })
                ),
                "{days}"
            );
        }
    }

    #[test]
    fn corrections() {
        assert_eq!(
            parse_correction("correction: use tabs &amp; spaces"),
            Some("use tabs & spaces".into())
        );
        assert_eq!(
            parse_correction("  Correction : keep it short"),
            Some("keep it short".into())
        );
        assert_eq!(parse_correction("correction:"), None);
        assert_eq!(parse_correction("no correction: here"), None);
    }

    #[test]
    fn help_is_a_command() {
        assert_eq!(parse_mention("<@UBOT> help", BOT), Ok(Ask::Help));
    }

    #[test]
    fn named_bot_mention_is_stripped() {
        let (t, _) = task("<@UBOT|threadwork> hello there");
        assert_eq!(t, "hello there");
    }

    #[test]
    fn entity_in_option_value_is_decoded() {
        let (_, o) = task("<@UBOT> x branch=a&amp;b");
        // `&` is allowed in branch names by git.
        assert_eq!(o.branch.as_deref(), Some("a&b"));
    }

    #[test]
    fn mentions_detects_both_forms() {
        assert!(mentions("hey <@UBOT> x", BOT));
        assert!(mentions("hey <@UBOT|tw> x", BOT));
        assert!(!mentions("hey <@UOTHER> x", BOT));
    }
}
