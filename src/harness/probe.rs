//! Bench instrumentation for the bot's own share of an event's trip: from the moment the
//! adapter read the harness's line to the moment the card edit is queued. Off unless a
//! benchmark turns it on (one atomic load per event then); samples are per job, matched in
//! order, because a job's events travel one channel first in, first out. Without the fakes
//! (`--features fakes`) the hooks are empty.

#[cfg(feature = "fakes")]
pub use recording::*;

/// An event of job `job` was read from its harness (recorded in bench builds only).
#[cfg(not(feature = "fakes"))]
#[inline]
pub fn read(_job: u64) {}

/// The bot took the next event of job `job` off its channel (recorded in bench builds only).
#[cfg(not(feature = "fakes"))]
#[inline]
pub fn handled(_job: u64, _queued: bool) {}

#[cfg(feature = "fakes")]
mod recording {
    use std::collections::{HashMap, VecDeque};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    static ON: AtomicBool = AtomicBool::new(false);
    static STATE: Mutex<Option<State>> = Mutex::new(None);

    #[derive(Default)]
    struct State {
        read: HashMap<u64, VecDeque<Instant>>,
        samples: Vec<Duration>,
    }

    /// Starts recording (and forgets earlier samples).
    pub fn enable() {
        *STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(State::default());
        ON.store(true, Ordering::Release);
    }

    /// Stops recording and returns the samples taken since `enable`.
    pub fn take() -> Vec<Duration> {
        ON.store(false, Ordering::Release);
        STATE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .map(|s| s.samples)
            .unwrap_or_default()
    }

    fn with(f: impl FnOnce(&mut State)) {
        if !ON.load(Ordering::Acquire) {
            return;
        }
        if let Some(state) = STATE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            f(state);
        }
    }

    /// An event of job `job` was read from its harness and is about to be sent to the bot.
    pub fn read(job: u64) {
        with(|s| s.read.entry(job).or_default().push_back(Instant::now()));
    }

    /// The bot took the next event of job `job` off its channel; `queued` says whether it
    /// became a card edit (only those are sampled).
    pub fn handled(job: u64, queued: bool) {
        with(|s| {
            let read = s.read.get_mut(&job).and_then(VecDeque::pop_front);
            if let (Some(at), true) = (read, queued) {
                s.samples.push(at.elapsed());
            }
        });
    }
}

#[cfg(all(test, feature = "fakes"))]
mod tests {
    use super::*;

    #[test]
    fn samples_pair_reads_and_edits_in_order() {
        read(9_000_007); // before enable: ignored
        enable();
        read(9_000_007);
        read(9_000_007);
        handled(9_000_007, false);
        handled(9_000_007, true);
        handled(9_000_008, true); // nothing read for that job
        let samples = take();
        assert_eq!(samples.len(), 1);
        read(9_000_007);
        handled(9_000_007, true);
        assert!(take().is_empty(), "off after take");
    }
}
