//! What an agent's header says about running on its own: `schedule:` entries (a cron
//! expression in a time zone) and `triggers:` entries (a pattern over a channel's messages).
//! Parsing and checking are pure; an entry that cannot be used is an error naming its field,
//! turned into `file:line: field: what` by `agents::parse_agent`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::job::RequestOptions;

/// How long a trigger's key is held after it fired, unless the entry says otherwise.
pub const DEFAULT_DEBOUNCE_SECS: u64 = 600;
/// Scheduled and triggered runs per agent per hour, unless its header says otherwise.
pub const DEFAULT_RUNS_PER_HOUR: u32 = 10;

/// One `schedule:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Names the schedule in the thread ("Scheduled: `weekly-incidents`") and in the store.
    pub name: String,
    pub cron: CronSpec,
    pub timezone: Tz,
    /// Channel id the run's message is posted in.
    pub channel: String,
    pub task: String,
    pub options: RequestOptions,
    pub catch_up: CatchUp,
}

/// What to do at start-up about a run missed while the bot was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// Run it once (however many were missed).
    Once,
    /// Wait for the next one.
    #[default]
    Skip,
}

/// A five-field cron expression (minutes to weekdays; aliases like `@daily`), kept with its
/// text.
#[derive(Debug, Clone, PartialEq)]
pub struct CronSpec {
    text: String,
    cron: croner::Cron,
}

impl CronSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build();
        let cron = parser
            .parse(text)
            .map_err(|e| format!("`{text}` is not a cron expression (minute hour day-of-month month day-of-week): {e}"))?;
        Ok(Self {
            text: text.trim().to_string(),
            cron,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Schedule {
    /// The first instant strictly after `after` at which the schedule is due, read on the
    /// wall clock of its time zone (so a daily 09:00 stays 09:00 across a DST change).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.cron
            .cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// What the schedule's instants depend on: its expression and time zone.
    pub fn fingerprint(&self) -> String {
        format!("{} {}", self.cron.as_str(), self.timezone.name())
    }

    /// The last instant in (`since`, `at`] at which the schedule was due, if any.
    pub fn last_due(&self, since: DateTime<Utc>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.timezone);
        self.cron
            .cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t > since)
    }
}

/// A pattern over message text, compared by its source.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Pattern {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// One `triggers:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub name: String,
    /// Channel ids whose messages are matched.
    pub channels: Vec<String>,
    pub pattern: Pattern,
    /// Only messages from these users (U…/W…) or bots (B…, or their U… user); empty means
    /// anyone the bot listens to.
    pub from: Vec<String>,
    /// Which capture group (a name or a number) makes the debounce key; the whole match
    /// when unset.
    pub key: Option<String>,
    pub debounce_secs: u64,
    /// Put before the message in the job's task; the message alone when unset.
    pub task: Option<String>,
    pub options: RequestOptions,
}

/// A message a trigger fired on: the key that debounces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub key: String,
}

impl Trigger {
    /// Whether a message in `channel` from `sender` (user id) / `bot` (bot id) fires this
    /// trigger, and with which debounce key.
    pub fn hit(
        &self,
        channel: &str,
        sender: Option<&str>,
        bot: Option<&str>,
        text: &str,
    ) -> Option<Hit> {
        if !self.channels.iter().any(|c| c == channel) {
            return None;
        }
        if !self.from.is_empty()
            && !self
                .from
                .iter()
                .any(|f| Some(f.as_str()) == sender || Some(f.as_str()) == bot)
        {
            return None;
        }
        let caps = self.pattern.0.captures(text)?;
        let key = match &self.key {
            None => caps.get(0),
            Some(k) => match k.parse::<usize>() {
                Ok(n) => caps.get(n),
                Err(_) => caps.name(k),
            },
        };
        Some(Hit {
            key: key
                .map(|m| m.as_str().trim().to_string())
                .unwrap_or_default(),
        })
    }

    /// The job's task for a message that fired the trigger.
    pub fn task_for(&self, message: &str) -> String {
        match &self.task {
            Some(task) => format!("{task}\n\nThe message that triggered this run:\n{message}"),
            None => message.to_string(),
        }
    }
}

/// A `schedule:` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    name: String,
    cron: String,
    #[serde(default)]
    timezone: Option<String>,
    channel: String,
    task: String,
    #[serde(default)]
    catch_up: Option<String>,
    #[serde(default)]
    harness: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    branch: Option<String>,
}

/// A `triggers:` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerEntry {
    name: String,
    channels: Vec<String>,
    pattern: String,
    #[serde(default)]
    from: Vec<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    debounce_secs: Option<u64>,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    harness: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    branch: Option<String>,
}

/// An entry that cannot be used: which one (its index in the list), which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub index: usize,
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

/// Why an entry's `name` cannot be used, given the names before it in its list.
fn name_problem<'a>(
    name: &str,
    mut before: impl Iterator<Item = &'a str>,
    kind: &str,
) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Some(format!(
            "`{name}`: use letters, digits, `-` and `_` only (at most 64)"
        ));
    }
    before
        .any(|n| n == name)
        .then(|| format!("two {kind} are named `{name}`"))
}

/// A Slack channel id (public `C…`, private `G…`): a schedule posts there and a trigger
/// listens there, and names can change.
fn channel_id_ok(id: &str) -> bool {
    id.len() >= 3 && id.starts_with(['C', 'G']) && id.chars().all(|c| c.is_ascii_alphanumeric())
}

fn options(
    index: usize,
    harness: Option<String>,
    model: Option<String>,
    repo: Option<String>,
    branch: Option<String>,
) -> Result<RequestOptions, EntryError> {
    if let Some(bad) = repo.as_deref().filter(|r| !crate::request::valid_repo(r)) {
        return Err(EntryError {
            index,
            field: "repo",
            message: format!("`{bad}` is not a repository name like `owner/name`"),
        });
    }
    Ok(RequestOptions {
        agent: None,
        harness,
        repo,
        branch,
        model,
        budget: None,
    })
}

/// Checks `schedule:` entries: unique names, a cron expression, a known time zone, a channel
/// id, a task.
pub fn schedules(entries: Vec<ScheduleEntry>) -> Result<Vec<Schedule>, EntryError> {
    let mut out: Vec<Schedule> = Vec::new();
    for (index, e) in entries.into_iter().enumerate() {
        let fail = |field, message: String| EntryError {
            index,
            field,
            message,
        };
        if let Some(why) = name_problem(&e.name, out.iter().map(|s| s.name.as_str()), "schedules") {
            return Err(fail("name", why));
        }
        let cron = CronSpec::parse(&e.cron).map_err(|m| fail("cron", m))?;
        let zone = e.timezone.as_deref().unwrap_or("UTC");
        let timezone = Tz::from_str(zone).map_err(|_| {
            fail(
                "timezone",
                format!("`{zone}` is not a time zone name like `Europe/Berlin` or `UTC`"),
            )
        })?;
        if !channel_id_ok(&e.channel) {
            return Err(fail("channel", format!("`{}` is not a channel id like C0123ABCD (a channel's id is in its details in Slack)", e.channel)));
        }
        if e.task.trim().is_empty() {
            return Err(fail("task", "must not be empty".into()));
        }
        let catch_up = match e.catch_up.as_deref() {
            None | Some("skip") => CatchUp::Skip,
            Some("once") => CatchUp::Once,
            Some(other) => {
                return Err(fail("catch_up", format!("`{other}`: use `once` or `skip`")))
            }
        };
        let options = options(index, e.harness, e.model, e.repo, e.branch)?;
        let schedule = Schedule {
            name: e.name,
            cron,
            timezone,
            channel: e.channel,
            task: e.task.trim().to_string(),
            options,
            catch_up,
        };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(fail(
                "cron",
                format!("`{}` never matches a date to come", schedule.cron.as_str()),
            ));
        }
        out.push(schedule);
    }
    Ok(out)
}

/// Checks `triggers:` entries: unique names, channel ids, a pattern the `regex` crate
/// accepts (with the named key group, when given), sender ids.
pub fn triggers(entries: Vec<TriggerEntry>) -> Result<Vec<Trigger>, EntryError> {
    let mut out: Vec<Trigger> = Vec::new();
    for (index, e) in entries.into_iter().enumerate() {
        let fail = |field, message: String| EntryError {
            index,
            field,
            message,
        };
        if let Some(why) = name_problem(&e.name, out.iter().map(|t| t.name.as_str()), "triggers") {
            return Err(fail("name", why));
        }
        if e.channels.is_empty() {
            return Err(fail("channels", "list at least one channel id".into()));
        }
        if let Some(bad) = e.channels.iter().find(|c| !channel_id_ok(c)) {
            return Err(fail(
                "channels",
                format!("`{bad}` is not a channel id like C0123ABCD"),
            ));
        }
        let pattern = regex::RegexBuilder::new(&e.pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|err| {
                fail(
                    "pattern",
                    format!("`{}` is not a valid pattern: {err}", e.pattern),
                )
            })?;
        if let Some(key) = &e.key {
            let known = match key.parse::<usize>() {
                Ok(n) => n < pattern.captures_len(),
                Err(_) => pattern.capture_names().flatten().any(|n| n == key),
            };
            if !known {
                return Err(fail(
                    "key",
                    format!("the pattern has no capture group `{key}`"),
                ));
            }
        }
        if let Some(bad) = e.from.iter().find(|f| {
            !(f.len() >= 3
                && f.starts_with(['U', 'W', 'B'])
                && f.chars().all(|c| c.is_ascii_alphanumeric()))
        }) {
            return Err(fail(
                "from",
                format!("`{bad}` is not a user id (U…) or bot id (B…)"),
            ));
        }
        let debounce_secs = e.debounce_secs.unwrap_or(DEFAULT_DEBOUNCE_SECS);
        if debounce_secs > 7 * 24 * 3600 {
            return Err(fail("debounce_secs", "at most a week (604800)".into()));
        }
        let options = options(index, e.harness, e.model, e.repo, e.branch)?;
        out.push(Trigger {
            name: e.name,
            channels: e.channels,
            pattern: Pattern(pattern),
            from: e.from,
            key: e.key,
            debounce_secs,
            task: e
                .task
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            options,
        });
    }
    Ok(out)
}
