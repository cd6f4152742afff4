//! Agent definitions: `prompts/agents/<name>.md`, a YAML front-matter header and the role
//! prompt as body. Parsing is pure (`parse_agent`); `load_agents` reads the directory.
//!
//! A bad file is an error naming the file, the line and the field, so an admin can fix it
//! without guessing; start-up stops on it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::runtime::SandboxOverride;
use crate::schedules::spec::{self, ScheduleEntry, TriggerEntry};
use crate::schedules::{Schedule, Trigger};

/// One agent: who it is, how it runs, and its role prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: String,
    pub description: String,
    pub harness: String,
    /// Other harnesses a mention's `harness=` may pick; `*` allows every configured one.
    pub harnesses: Vec<String>,
    pub model: Option<String>,
    /// Models its jobs may use through the model proxy; empty means its `model` only (or any
    /// model when it names none).
    pub models: Vec<String>,
    /// Slack user ids who own the agent: they adopt, reject and revert its amendments.
    pub owners: Vec<String>,
    /// Slack user ids whose ✅/❌ on a result count, beside the requester's.
    pub approvers: Vec<String>,
    /// Shared fragments (`prompts/shared/<name>.md`) appended to the role prompt, in order.
    pub include: Vec<String>,
    /// Channel ids or names where the agent may run; empty means anywhere.
    pub channels: Vec<String>,
    /// Slack user ids who may start it; empty means anyone.
    pub users: Vec<String>,
    /// Sandbox limits this agent asks for, within the admin's `[sandbox.max]`.
    pub sandbox: SandboxOverride,
    /// The repository (`owner/name`) its jobs work on when a mention names none.
    pub repo: Option<String>,
    /// Other repositories a mention's `repo=` may pick (`owner/name`, `owner/*`, `*`).
    pub repos: Vec<String>,
    /// What one of its jobs may spend on models (USD) unless the mention asks `budget=`;
    /// `[jobs] budget_usd` when it names none.
    pub budget_usd: Option<f64>,
    /// An approver's ✅ merges the job's PR instead of only marking it ready for review.
    pub merge_on_approve: bool,
    /// Parts of the context library its jobs may read: `*`, folders (`engineering/`) or files.
    pub context: Vec<String>,
    /// MCP servers (`[mcp.<name>]` in the config) its jobs may use through the gateway.
    pub mcp: Vec<String>,
    /// When it runs on its own, on a clock (`schedule:`).
    pub schedules: Vec<Schedule>,
    /// When it runs on its own, on a matching message (`triggers:`).
    pub triggers: Vec<Trigger>,
    /// Scheduled and triggered runs per hour.
    pub max_runs_per_hour: u32,
    /// The role prompt (the file's body).
    pub prompt: String,
    pub file: PathBuf,
    /// Content hash of the whole file (hex SHA-256).
    pub hash: String,
}

impl Agent {
    /// True when `user` may start the agent.
    pub fn allowed_user(&self, user: &str) -> bool {
        self.users.is_empty() || self.users.iter().any(|u| u == user)
    }

    /// True when a job of this agent may run on `harness`.
    pub fn allows_harness(&self, harness: &str) -> bool {
        self.harness == harness || self.harnesses.iter().any(|h| h == "*" || h == harness)
    }

    /// True when the agent may run in the channel `id` (named `name`, when known).
    pub fn allowed_in(&self, id: &str, name: Option<&str>) -> bool {
        self.channels.is_empty()
            || self.channels.iter().any(|c| {
                let c = c.trim_start_matches('#');
                c == id || Some(c) == name
            })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    name: String,
    description: String,
    harness: String,
    #[serde(default)]
    harnesses: Vec<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    owners: Vec<String>,
    #[serde(default)]
    approvers: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    sandbox: SandboxOverride,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    repos: Vec<String>,
    #[serde(default)]
    budget_usd: Option<f64>,
    #[serde(default)]
    merge_on_approve: bool,
    #[serde(default)]
    context: Vec<String>,
    #[serde(default)]
    mcp: Vec<String>,
    #[serde(default)]
    schedule: Vec<ScheduleEntry>,
    #[serde(default)]
    triggers: Vec<TriggerEntry>,
    #[serde(default)]
    max_runs_per_hour: Option<u32>,
}

/// A prompt file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {field}: {message}", file.display())]
pub struct AgentFileError {
    pub file: PathBuf,
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// What an agent file may refer to.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// Harness names the bot can run.
    pub harnesses: &'a [&'a str],
    /// Shared fragment names (`prompts/shared/<name>.md`).
    pub fragments: &'a [&'a str],
}

/// Hex SHA-256 of a text: the content hash of prompt files and versions.
pub fn content_hash(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses one agent file's text.
pub fn parse_agent(file: &Path, text: &str, known: Known) -> Result<Agent, AgentFileError> {
    let known_harnesses = known.harnesses;
    let err = |line: usize, field: &str, message: String| AgentFileError {
        file: file.to_path_buf(),
        line,
        field: field.to_string(),
        message,
    };
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Err(err(
            1,
            "front matter",
            "the file must start with a `---` line, then the header fields, then `---`".into(),
        ));
    }
    let header_lines: Vec<&str> = lines
        .by_ref()
        .take_while(|l| l.trim_end() != "---")
        .collect();
    let closing_line = header_lines.len() + 2;
    if text.lines().nth(closing_line - 1).map(str::trim_end) != Some("---") {
        return Err(err(
            closing_line.min(text.lines().count().max(1)),
            "front matter",
            "the header is not closed by a `---` line".into(),
        ));
    }
    let header = header_lines.join("\n");
    let field_line = |field: &str| {
        header_lines
            .iter()
            .position(|l| l.trim_start().starts_with(&format!("{field}:")))
            .map(|i| i + 2)
            .unwrap_or(1)
    };
    let front: FrontMatter = serde_norway::from_str(&header).map_err(|e| {
        let message = e.to_string();
        let field = missing_or_unknown_field(&message).unwrap_or_else(|| "front matter".into());
        let line = e
            .location()
            .map(|l| l.line() + 1)
            .filter(|_| field == "front matter")
            .unwrap_or_else(|| field_line(&field));
        err(line, &field, message)
    })?;

    let expected = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if front.name != expected {
        return Err(err(
            field_line("name"),
            "name",
            format!("`{}` must match the file name `{expected}`", front.name),
        ));
    }
    if front.name.is_empty()
        || !front
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err(
            field_line("name"),
            "name",
            "use letters, digits, `-` and `_` only".into(),
        ));
    }
    if front.description.trim().is_empty() {
        return Err(err(
            field_line("description"),
            "description",
            "must not be empty".into(),
        ));
    }
    if !known_harnesses.contains(&front.harness.as_str()) {
        return Err(err(
            field_line("harness"),
            "harness",
            format!(
                "unknown harness `{}`; known: {}",
                front.harness,
                known_harnesses.join(", ")
            ),
        ));
    }
    if let Some(bad) = front
        .harnesses
        .iter()
        .find(|h| *h != "*" && !known_harnesses.contains(&h.as_str()))
    {
        return Err(err(
            field_line("harnesses"),
            "harnesses",
            format!(
                "unknown harness `{bad}`; known: {} (or `*` for all)",
                known_harnesses.join(", ")
            ),
        ));
    }
    for (field, ids) in [
        ("owners", &front.owners),
        ("approvers", &front.approvers),
        ("users", &front.users),
    ] {
        if let Some(bad) = ids.iter().find(|o| !looks_like_user_id(o)) {
            return Err(err(
                field_line(field),
                field,
                format!("`{bad}` is not a Slack user id (like U012ABCDEF)"),
            ));
        }
    }
    if let Some(bad) = front
        .include
        .iter()
        .find(|f| !known.fragments.contains(&f.as_str()))
    {
        return Err(err(
            field_line("include"),
            "include",
            format!(
                "no shared fragment `{bad}` (prompts/shared/{bad}.md); known: {}",
                if known.fragments.is_empty() {
                    "none".to_string()
                } else {
                    known.fragments.join(", ")
                }
            ),
        ));
    }
    if let Some(bad) = front.repo.iter().find(|r| !crate::request::valid_repo(r)) {
        return Err(err(
            field_line("repo"),
            "repo",
            format!("`{bad}` is not a repository name like `owner/name`"),
        ));
    }
    let valid_pattern = |p: &str| {
        p == "*"
            || crate::request::valid_repo(p)
            || p.strip_suffix("/*")
                .is_some_and(|owner| crate::request::valid_repo(&format!("{owner}/x")))
    };
    if let Some(bad) = front.repos.iter().find(|r| !valid_pattern(r)) {
        return Err(err(
            field_line("repos"),
            "repos",
            format!("`{bad}` is not `owner/name`, `owner/*` or `*`"),
        ));
    }
    if let Some((bad, why)) = front
        .context
        .iter()
        .find_map(|s| crate::context::scope_problem(s).map(|why| (s, why)))
    {
        return Err(err(
            field_line("context"),
            "context",
            format!("`{bad}`: {why}"),
        ));
    }
    if let Some(bad) = front.mcp.iter().find(|m| {
        m.is_empty()
            || !m
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) {
        return Err(err(
            field_line("mcp"),
            "mcp",
            format!("`{bad}` is not an MCP server name (a `[mcp.<name>]` table of the config)"),
        ));
    }
    let entry_err = |list: &str, e: spec::EntryError| {
        let line =
            entry_line(&header_lines, list, e.index, e.field).unwrap_or_else(|| field_line(list));
        err(line, &format!("{list}[{}].{}", e.index, e.field), e.message)
    };
    let schedules = spec::schedules(front.schedule).map_err(|e| entry_err("schedule", e))?;
    let triggers = spec::triggers(front.triggers).map_err(|e| entry_err("triggers", e))?;
    if let Some(b) = front
        .budget_usd
        .filter(|b| crate::jobs::budget::valid(*b).is_none())
    {
        return Err(err(
            field_line("budget_usd"),
            "budget_usd",
            format!("{b} is not a budget: give an amount in USD above 0, e.g. 0.50"),
        ));
    }
    if front.max_runs_per_hour == Some(0) {
        return Err(err(
            field_line("max_runs_per_hour"),
            "max_runs_per_hour",
            "must be at least 1 (remove `schedule:` and `triggers:` to stop the agent running on its own)".into(),
        ));
    }
    if (!schedules.is_empty() || !triggers.is_empty()) && front.owners.is_empty() {
        // Runs nobody asked for are accounted to the owners, who may also stop them.
        return Err(err(
            field_line("owners"),
            "owners",
            "an agent with `schedule:` or `triggers:` needs `owners:`: its runs are accounted to them".into(),
        ));
    }
    let prompt = text
        .lines()
        .skip(closing_line)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    if prompt.is_empty() {
        return Err(err(
            closing_line + 1,
            "prompt",
            "the role prompt (the text after the header) is empty".into(),
        ));
    }
    Ok(Agent {
        name: front.name,
        description: front.description.trim().to_string(),
        harness: front.harness,
        model: front.model.filter(|m| !m.trim().is_empty()),
        models: front.models,
        harnesses: front.harnesses,
        owners: front.owners,
        approvers: front.approvers,
        include: front.include,
        channels: front.channels,
        users: front.users,
        sandbox: front.sandbox,
        repo: front.repo,
        repos: front.repos,
        budget_usd: front.budget_usd,
        merge_on_approve: front.merge_on_approve,
        context: front.context,
        mcp: front.mcp,
        schedules,
        triggers,
        max_runs_per_hour: front
            .max_runs_per_hour
            .unwrap_or(spec::DEFAULT_RUNS_PER_HOUR),
        prompt,
        file: file.to_path_buf(),
        hash: content_hash(text),
    })
}

/// The line of `field` in entry `index` of the list `list` (block style: `- ` items), or of
/// the item itself when the field is not written on a line of its own.
fn entry_line(header: &[&str], list: &str, index: usize, field: &str) -> Option<usize> {
    let start = header
        .iter()
        .position(|l| l.trim_start().starts_with(&format!("{list}:")))?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let list_indent = indent(header[start]);
    let mut items = Vec::new();
    let mut end = header.len();
    for (i, l) in header.iter().enumerate().skip(start + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indent(l) <= list_indent && !l.trim_start().starts_with("- ") {
            end = i;
            break;
        }
        if l.trim_start().starts_with("- ") && items.last().is_none_or(|&(_, d)| indent(l) <= d) {
            items.push((i, indent(l)));
        }
    }
    let (from, _) = *items.get(index)?;
    let to = items.get(index + 1).map_or(end, |&(i, _)| i);
    let found = (from..to).find(|&i| {
        let l = header[i].trim_start().trim_start_matches("- ");
        l.starts_with(&format!("{field}:"))
    });
    // Header line i is file line i + 2 (after the opening `---`).
    Some(found.unwrap_or(from) + 2)
}

fn looks_like_user_id(s: &str) -> bool {
    s.len() >= 3 && s.starts_with(['U', 'W']) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Pulls the field name out of serde's "missing field `x`" / "unknown field `x`" messages.
fn missing_or_unknown_field(message: &str) -> Option<String> {
    for marker in ["missing field `", "unknown field `", "invalid type: "] {
        if let Some(start) = message.find(marker) {
            if marker.starts_with("invalid") {
                return None;
            }
            let rest = &message[start + marker.len()..];
            return rest.find('`').map(|end| rest[..end].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: Known = Known {
        harnesses: &["scripted", "command"],
        fragments: &["style"],
    };

    fn parse(name: &str, text: &str) -> Result<Agent, AgentFileError> {
        parse_agent(Path::new(&format!("prompts/agents/{name}.md")), text, KNOWN)
    }

    const GOOD: &str = "---\nname: coder\ndescription: Writes code\nharness: scripted\nmodel: m1\nowners: [U123ABC]\nchannels: [\"#dev\"]\n---\nYou are a careful engineer.\n";

    #[test]
    fn good_file_parses() {
        let a = parse("coder", GOOD).unwrap();
        assert_eq!(a.name, "coder");
        assert_eq!(a.harness, "scripted");
        assert_eq!(a.model.as_deref(), Some("m1"));
        assert_eq!(a.owners, vec!["U123ABC"]);
        assert_eq!(a.prompt, "You are a careful engineer.");
        assert!(a.allowed_in("C1", Some("dev")));
        assert!(!a.allowed_in("C1", Some("random")));
    }

    #[test]
    fn a_budget_is_an_amount_above_zero() {
        let with = |b: &str| GOOD.replace("model: m1\n", &format!("model: m1\nbudget_usd: {b}\n"));
        assert_eq!(parse("coder", &with("0.5")).unwrap().budget_usd, Some(0.5));
        let e = parse("coder", &with("0")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (6, "budget_usd"), "{e}");
    }

    #[test]
    fn errors_name_line_and_field() {
        let cases: &[(&str, usize, &str)] = &[
            ("name: coder\n", 1, "front matter"),
            (
                "---\nname: coder\ndescription: d\nharness: scripted\nYou",
                5,
                "front matter",
            ),
            ("---\nname: coder\ndescription: d\n---\nbody", 1, "harness"),
            (
                "---\nname: coder\ndescription: d\nharness: nope\n---\nbody",
                4,
                "harness",
            ),
            (
                "---\nname: other\ndescription: d\nharness: scripted\n---\nbody",
                2,
                "name",
            ),
            (
                "---\nname: coder\ndescription: d\nharness: scripted\nmodle: x\n---\nbody",
                5,
                "modle",
            ),
            (
                "---\nname: coder\ndescription: d\nharness: scripted\nowners: [bob]\n---\nbody",
                5,
                "owners",
            ),
            (
                "---\nname: coder\ndescription: d\nharness: scripted\n---\n\n",
                6,
                "prompt",
            ),
            (
                "---\nname: coder\ndescription: d\nharness: [scripted\n---\nbody",
                4,
                "front matter",
            ),
        ];
        for (text, line, field) in cases {
            let e = parse("coder", text).expect_err(text);
            assert_eq!(
                (e.line, e.field.as_str()),
                (*line, *field),
                "{text:?} → {e}"
            );
            assert!(e.to_string().starts_with("prompts/agents/coder.md:"), "{e}");
        }
    }

    #[test]
    fn includes_must_name_known_fragments() {
        let ok = "---\nname: coder\ndescription: d\nharness: scripted\ninclude: [style]\n---\nbody";
        assert_eq!(parse("coder", ok).unwrap().include, vec!["style"]);
        let bad = "---\nname: coder\ndescription: d\nharness: scripted\ninclude: [nope]\n---\nbody";
        let e = parse("coder", bad).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (5, "include"));
        assert!(e.message.contains("known: style"), "{e}");
    }

    #[test]
    fn harness_overrides_are_opt_in() {
        let a = parse("coder", GOOD).unwrap();
        assert!(a.allows_harness("scripted") && !a.allows_harness("command"));
        let some =
            "---\nname: coder\ndescription: d\nharness: scripted\nharnesses: [command]\n---\nbody";
        assert!(parse("coder", some).unwrap().allows_harness("command"));
        let all = some.replace("[command]", "[\"*\"]");
        assert!(parse("coder", &all).unwrap().allows_harness("command"));
        let bad = some.replace("[command]", "[codx]");
        let e = parse("coder", &bad).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (5, "harnesses"));
        assert!(e.message.contains("unknown harness `codx`"), "{e}");
    }

    #[test]
    fn repos_are_checked() {
        let file = |extra: &str| {
            format!("---\nname: coder\ndescription: d\nharness: scripted\n{extra}\n---\nbody")
        };
        let a = parse(
            "coder",
            &file("repo: acme/web\nrepos: [acme/*, '*', g/sub/p]\nmerge_on_approve: true"),
        )
        .unwrap();
        assert_eq!(a.repo.as_deref(), Some("acme/web"));
        assert_eq!(a.repos, vec!["acme/*", "*", "g/sub/p"]);
        assert!(a.merge_on_approve);
        let e = parse("coder", &file("repo: justname")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (5, "repo"));
        let e = parse("coder", &file("repos: [acme/w*b]")).unwrap_err();
        assert_eq!(e.field, "repos");
        assert!(e.message.contains("`acme/w*b`"), "{}", e.message);
    }

    #[test]
    fn schedules_and_triggers_name_the_bad_line() {
        let file = |extra: &str| {
            format!("---\nname: coder\ndescription: d\nharness: scripted\nowners: [U0OWNER1]\n{extra}\n---\nbody")
        };
        let good = file("schedule:\n  - name: weekly\n    cron: \"0 9 * * MON\"\n    timezone: Europe/Berlin\n    channel: C0GENERAL1\n    task: digest\ntriggers:\n  - name: alerts\n    channels: [C0GENERAL1]\n    pattern: \"^ALERT\"\nmax_runs_per_hour: 3");
        let a = parse("coder", &good).unwrap();
        assert_eq!(
            (a.schedules.len(), a.triggers.len(), a.max_runs_per_hour),
            (1, 1, 3)
        );
        let bad_cron = good.replace("0 9 * * MON", "0 9 * *");
        let e = parse("coder", &bad_cron).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (8, "schedule[0].cron"), "{e}");
        let second = file("schedule:\n  - name: a\n    cron: '@daily'\n    channel: C0GENERAL1\n    task: t\n  - name: b\n    cron: '@daily'\n    channel: general\n    task: t");
        let e = parse("coder", &second).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (13, "schedule[1].channel"),
            "{e}"
        );
        let bad_regex = good.replace("^ALERT", "(ALERT");
        let e = parse("coder", &bad_regex).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (15, "triggers[0].pattern"),
            "{e}"
        );
        assert!(
            e.to_string().starts_with(
                "prompts/agents/coder.md:15: triggers[0].pattern: `(ALERT` is not a valid pattern"
            ),
            "{e}"
        );
        let ownerless = good.replace("owners: [U0OWNER1]\n", "");
        let e = parse("coder", &ownerless).unwrap_err();
        assert_eq!(e.field, "owners", "{e}");
    }

    #[test]
    fn hash_follows_content() {
        let a = parse("coder", GOOD).unwrap();
        let b = parse("coder", &GOOD.replace("careful", "thorough")).unwrap();
        assert_ne!(a.hash, b.hash);
        assert_eq!(a.hash, parse("coder", GOOD).unwrap().hash);
        assert_eq!(a.hash.len(), 64);
    }
}
