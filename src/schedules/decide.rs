//! When a schedule runs, when a trigger's message is let through, and whether an agent has
//! used its hourly runs. Pure: the caller brings the clock's reading and what the store
//! remembers.

use chrono::{DateTime, Duration, Utc};

use super::spec::{CatchUp, Schedule};
use crate::job::JobId;

/// A due run found this long after its instant was missed while the bot was down (or busy
/// past reason): `catch_up` decides.
pub const GRACE: Duration = Duration::minutes(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Never seen before: counting starts now (nothing missed yet).
    Begin,
    /// Nothing due; the next run is at this instant (`None`: the expression never matches
    /// again).
    Wait(Option<DateTime<Utc>>),
    /// Run now for the instant `due`; `late` when it was missed and is caught up.
    Fire { due: DateTime<Utc>, late: bool },
    /// The run due at `due` does not happen.
    Skip { due: DateTime<Utc>, why: Skipped },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// The previous run is still going.
    StillRunning(JobId),
    /// Missed while the bot was down, and the schedule says `catch_up: skip`.
    Missed,
}

/// What a schedule does now, given the instant it last ran or was skipped for (`last`) and
/// the job of its last run when that is still going.
pub fn schedule_step(
    schedule: &Schedule,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    running: Option<JobId>,
) -> Step {
    let Some(last) = last else {
        return Step::Begin;
    };
    let Some(due) = schedule.last_due(last, now) else {
        // A clock set back leaves `last` ahead of now: wait from whichever is later.
        return Step::Wait(schedule.next_after(last.max(now)));
    };
    let late = now - due > GRACE;
    if let Some(job) = running {
        return Step::Skip {
            due,
            why: Skipped::StillRunning(job),
        };
    }
    match (late, schedule.catch_up) {
        (false, _) | (true, CatchUp::Once) => Step::Fire { due, late },
        (true, CatchUp::Skip) => Step::Skip {
            due,
            why: Skipped::Missed,
        },
    }
}

/// True when a trigger's key last fired less than `secs` before `now` (or after it: a clock
/// set back does not reopen the window).
pub fn debounced(last_fired: Option<DateTime<Utc>>, now: DateTime<Utc>, secs: u64) -> bool {
    last_fired.is_some_and(|t| now < t || now - t < Duration::seconds(secs as i64))
}

/// When an agent that started `runs` (scheduled and triggered, any order) may start another,
/// if it has used its `limit` for the hour before `now`; `None` when it may now.
pub fn hourly_limit(
    runs: &[DateTime<Utc>],
    now: DateTime<Utc>,
    limit: u32,
) -> Option<DateTime<Utc>> {
    let hour = Duration::hours(1);
    let mut recent: Vec<DateTime<Utc>> = runs
        .iter()
        .copied()
        // A run "in the future" (the clock was set back) still counts.
        .filter(|t| now - *t < hour)
        .collect();
    if (recent.len() as u64) < u64::from(limit) {
        return None;
    }
    recent.sort_unstable();
    // The slot frees when the run `limit` places back leaves the window.
    let index = recent.len() - limit as usize;
    Some(recent.get(index).copied().unwrap_or(now) + hour)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedules::spec::{self, CronSpec};
    use chrono::TimeZone;

    fn weekly(catch_up: CatchUp) -> Schedule {
        Schedule {
            name: "weekly".into(),
            cron: CronSpec::parse("0 9 * * MON").unwrap(),
            timezone: chrono_tz::Europe::Berlin,
            channel: "C1".into(),
            task: "t".into(),
            options: Default::default(),
            catch_up,
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn wall_clock_time_holds_across_dst() {
        let s = weekly(CatchUp::Skip);
        // 2027-03-28 is the last Sunday of March: Berlin moves from UTC+1 to UTC+2.
        let cases = [
            (utc(2027, 3, 20, 0, 0), utc(2027, 3, 22, 8, 0)),
            (utc(2027, 3, 22, 8, 0), utc(2027, 3, 29, 7, 0)),
            // and back at the end of October (2027-10-31).
            (utc(2027, 10, 26, 0, 0), utc(2027, 11, 1, 8, 0)),
        ];
        for (after, want) in cases {
            assert_eq!(s.next_after(after), Some(want), "after {after}");
        }
        let daily = Schedule {
            cron: CronSpec::parse("30 2 * * *").unwrap(),
            ..weekly(CatchUp::Skip)
        };
        // 02:30 does not exist in Berlin on 2027-03-28: the run is not lost.
        let next = daily.next_after(utc(2027, 3, 27, 1, 0)).unwrap();
        let after = daily.next_after(next).unwrap();
        assert!(
            next < after && after <= utc(2027, 3, 29, 0, 30),
            "{next} then {after}"
        );
    }

    #[test]
    fn steps() {
        let s = weekly(CatchUp::Skip);
        let once = weekly(CatchUp::Once);
        let monday = utc(2027, 3, 22, 8, 0);
        let before = utc(2027, 3, 21, 12, 0);
        assert_eq!(schedule_step(&s, None, before, None), Step::Begin);
        assert_eq!(
            schedule_step(&s, Some(before), utc(2027, 3, 22, 7, 59), None),
            Step::Wait(Some(monday))
        );
        assert_eq!(
            schedule_step(&s, Some(before), monday, None),
            Step::Fire {
                due: monday,
                late: false
            }
        );
        assert_eq!(
            schedule_step(&s, Some(before), monday + Duration::seconds(30), Some(7)),
            Step::Skip {
                due: monday,
                why: Skipped::StillRunning(7)
            }
        );
        // Down for two weeks: one catch-up run for `once`, none for `skip`.
        let later = utc(2027, 4, 7, 12, 0);
        assert_eq!(
            schedule_step(&once, Some(before), later, None),
            Step::Fire {
                due: utc(2027, 4, 5, 7, 0),
                late: true
            }
        );
        assert_eq!(
            schedule_step(&s, Some(before), later, None),
            Step::Skip {
                due: utc(2027, 4, 5, 7, 0),
                why: Skipped::Missed
            }
        );
        // Once it ran for an instant, that instant is not due again.
        assert_eq!(
            schedule_step(&s, Some(monday), monday + Duration::minutes(1), None),
            Step::Wait(Some(utc(2027, 3, 29, 7, 0)))
        );
        // A clock set back waits from the last run.
        assert_eq!(
            schedule_step(&s, Some(monday), before, None),
            Step::Wait(Some(utc(2027, 3, 29, 7, 0)))
        );
    }

    #[test]
    fn debounce_and_hourly_limit() {
        let now = utc(2027, 1, 1, 12, 0);
        assert!(!debounced(None, now, 600));
        assert!(debounced(Some(now - Duration::seconds(599)), now, 600));
        assert!(!debounced(Some(now - Duration::seconds(600)), now, 600));
        assert!(
            debounced(Some(now + Duration::hours(2)), now, 600),
            "clock set back"
        );
        assert_eq!(
            hourly_limit(&[now + Duration::hours(2)], now, 1),
            Some(now + Duration::hours(3)),
            "clock set back"
        );
        let runs = [
            now - Duration::minutes(70),
            now - Duration::minutes(50),
            now - Duration::minutes(10),
        ];
        assert_eq!(hourly_limit(&runs, now, 3), None);
        assert_eq!(
            hourly_limit(&runs, now, 2),
            Some(now + Duration::minutes(10))
        );
        assert_eq!(
            hourly_limit(&runs, now, 1),
            Some(now + Duration::minutes(50))
        );
        assert_eq!(hourly_limit(&[], now, 0), Some(now + Duration::hours(1)));
    }

    #[test]
    fn entries_are_checked() {
        let yaml = |s: &str| -> Vec<spec::ScheduleEntry> { serde_norway::from_str(s).unwrap() };
        let ok = yaml("- {name: w, cron: '0 9 * * MON', timezone: Europe/Berlin, channel: C1AB, task: digest, catch_up: once}");
        let s = spec::schedules(ok).unwrap();
        assert_eq!(s[0].catch_up, CatchUp::Once);
        let cases = [
            ("- {name: w, cron: '0 9 * *', channel: C1AB, task: t}", "cron"),
            ("- {name: w, cron: '0 0 30 2 *', channel: C1AB, task: t}", "cron"),
            ("- {name: w, cron: '* * * * * *', channel: C1AB, task: t}", "cron"),
            ("- {name: w, cron: '@daily', timezone: Mars/Base, channel: C1AB, task: t}", "timezone"),
            ("- {name: w, cron: '@daily', channel: '#general', task: t}", "channel"),
            ("- {name: w, cron: '@daily', channel: C1AB, task: ' '}", "task"),
            ("- {name: w, cron: '@daily', channel: C1AB, task: t, catch_up: twice}", "catch_up"),
            ("- {name: 'a b', cron: '@daily', channel: C1AB, task: t}", "name"),
            ("- {name: w, cron: '@daily', channel: C1AB, task: t}\n- {name: w, cron: '@daily', channel: C1AB, task: t}", "name"),
        ];
        for (text, field) in cases {
            let e = spec::schedules(yaml(text)).expect_err(text);
            assert_eq!(e.field, field, "{text}: {}", e.message);
        }
        let tyaml = |s: &str| -> Vec<spec::TriggerEntry> { serde_norway::from_str(s).unwrap() };
        let t = spec::triggers(tyaml("- {name: a, channels: [C1AB], pattern: 'ALERT (?P<svc>\\w+)', key: svc, from: [B0ALERT]}")).unwrap();
        assert_eq!(
            t[0].hit("C1AB", Some("U1"), Some("B0ALERT"), "ALERT db down")
                .unwrap()
                .key,
            "db"
        );
        assert_eq!(
            t[0].hit("C1AB", Some("U1"), None, "ALERT db down"),
            None,
            "not from the listed bot"
        );
        assert_eq!(
            t[0].hit("C2XX", None, Some("B0ALERT"), "ALERT db down"),
            None,
            "other channel"
        );
        assert_eq!(
            t[0].hit("C1AB", None, Some("B0ALERT"), "all good"),
            None,
            "no match"
        );
        let cases = [
            (
                "- {name: a, channels: [C1AB], pattern: '(unclosed'}",
                "pattern",
            ),
            ("- {name: a, channels: [], pattern: x}", "channels"),
            (
                "- {name: a, channels: [C1AB], pattern: x, key: nope}",
                "key",
            ),
            (
                "- {name: a, channels: [C1AB], pattern: '(x)', key: '2'}",
                "key",
            ),
            (
                "- {name: a, channels: [C1AB], pattern: x, from: [alice]}",
                "from",
            ),
            (
                "- {name: a, channels: [C1AB], pattern: x, repo: nope}",
                "repo",
            ),
        ];
        for (text, field) in cases {
            let e = spec::triggers(tyaml(text)).expect_err(text);
            assert_eq!(e.field, field, "{text}: {}", e.message);
        }
    }
}
