//! Agents that run on their own: `schedule:` entries fire on a cron expression in a time
//! zone, `triggers:` entries on a matching message. `spec` reads and checks the entries,
//! `decide` says when a run happens (both pure); `clock` is the time they read, real or
//! (in tests) set by hand. The bot's `bot::automation` carries the decisions out as jobs.

pub mod clock;
pub mod decide;
pub mod spec;

pub use clock::{Clock, SystemClock};

/// A schedule and its next run, as the bot's schedules loop last computed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub agent: String,
    pub schedule: String,
    pub next: Option<chrono::DateTime<chrono::Utc>>,
}
pub use spec::{CatchUp, Schedule, Trigger};
