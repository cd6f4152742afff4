//! The run queue: a bounded worker pool with a per-channel limit. Pure bookkeeping; the bot
//! starts the jobs this hands out.
//!
//! Jobs join in the order they were accepted, but may start only once their card is posted
//! (`mark_ready`); a job still waiting for its card holds back later jobs of its channel, so
//! jobs in one channel start in the order they were asked for.
//!
//! Jobs of one thread run one at a time: they share a workspace, a CLI session and a branch.
//! A job whose thread is busy waits without holding back other threads of its channel.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::job::JobId;

#[derive(Debug)]
pub struct RunQueue {
    max_running: usize,
    per_channel: usize,
    waiting: VecDeque<(JobId, Place)>,
    ready: HashSet<JobId>,
    running: HashMap<JobId, Place>,
}

/// Where a job runs: its channel and its thread's root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Place {
    channel: String,
    thread: String,
}

impl RunQueue {
    pub fn new(max_running: usize, per_channel: usize) -> Self {
        Self {
            max_running: max_running.max(1),
            per_channel: per_channel.max(1),
            waiting: VecDeque::new(),
            ready: HashSet::new(),
            running: HashMap::new(),
        }
    }

    pub fn push(&mut self, id: JobId, channel: &str, thread: &str) {
        if !self.running.contains_key(&id) && !self.waiting.iter().any(|(j, _)| *j == id) {
            let place = Place {
                channel: channel.to_string(),
                thread: thread.to_string(),
            };
            self.waiting.push_back((id, place));
        }
    }

    /// The job's card is up: it may start.
    pub fn mark_ready(&mut self, id: JobId) {
        self.ready.insert(id);
    }

    fn running_in(&self, channel: &str) -> usize {
        self.running
            .values()
            .filter(|p| p.channel == channel)
            .count()
    }

    /// A job of the thread is waiting or running: its workspace is in use.
    pub fn thread_active(&self, channel: &str, thread: &str) -> bool {
        let here = |p: &Place| p.channel == channel && p.thread == thread;
        self.running.values().any(here) || self.waiting.iter().any(|(_, p)| here(p))
    }

    /// The running job of `place`'s thread, if any.
    pub fn thread_busy(&self, channel: &str, thread: &str) -> Option<JobId> {
        self.running
            .iter()
            .find(|(_, p)| p.channel == channel && p.thread == thread)
            .map(|(id, _)| *id)
    }

    /// Takes every job that may start now, oldest first, and marks it running.
    pub fn take_runnable(&mut self) -> Vec<JobId> {
        let mut started = Vec::new();
        let mut held_channels: HashSet<String> = HashSet::new();
        let mut held_threads: HashSet<Place> = HashSet::new();
        let mut i = 0;
        while i < self.waiting.len() && self.running.len() < self.max_running {
            let (id, place) = &self.waiting[i];
            if held_threads.contains(place)
                || self.thread_busy(&place.channel, &place.thread).is_some()
            {
                // Its thread is busy: it waits, and so do later jobs of that thread only.
                held_threads.insert(place.clone());
                i += 1;
                continue;
            }
            let runnable = !held_channels.contains(&place.channel)
                && self.running_in(&place.channel) < self.per_channel;
            if runnable && self.ready.contains(id) {
                if let Some((id, place)) = self.waiting.remove(i) {
                    self.ready.remove(&id);
                    self.running.insert(id, place);
                    started.push(id);
                }
            } else {
                held_channels.insert(place.channel.clone());
                i += 1;
            }
        }
        started
    }

    /// Counts a job that is already running (re-attached after a restart) as running.
    pub fn hold_running(&mut self, id: JobId, channel: &str, thread: &str) {
        self.remove_waiting(id);
        let place = Place {
            channel: channel.to_string(),
            thread: thread.to_string(),
        };
        self.running.insert(id, place);
    }

    pub fn finish(&mut self, id: JobId) {
        self.running.remove(&id);
    }

    /// Removes a job that has not started; true if it was waiting.
    pub fn remove_waiting(&mut self, id: JobId) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|(j, _)| *j != id);
        self.ready.remove(&id);
        before != self.waiting.len()
    }

    /// Waiting jobs with their 1-based place in the queue.
    pub fn positions(&self) -> Vec<(JobId, usize)> {
        self.waiting
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i + 1))
            .collect()
    }

    pub fn running_count(&self) -> usize {
        self.running.len()
    }

    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_per_channel_limits() {
        let mut q = RunQueue::new(3, 2);
        for (id, ch) in [(1, "A"), (2, "A"), (3, "A"), (4, "B"), (5, "B")] {
            q.push(id, ch, &id.to_string());
            q.mark_ready(id);
        }
        assert_eq!(q.take_runnable(), vec![1, 2, 4]);
        assert_eq!(q.positions(), vec![(3, 1), (5, 2)]);
        q.finish(4);
        // Channel A is at its limit, so B's job goes first.
        assert_eq!(q.take_runnable(), vec![5]);
        q.finish(1);
        assert_eq!(q.take_runnable(), vec![3]);
        assert_eq!(q.waiting_count(), 0);
        assert_eq!(q.running_count(), 3);
    }

    #[test]
    fn push_is_idempotent_and_waiting_can_be_removed() {
        let mut q = RunQueue::new(1, 1);
        q.push(1, "A", "1");
        q.push(1, "A", "1");
        q.push(2, "A", "2");
        q.mark_ready(1);
        q.mark_ready(2);
        assert_eq!(q.take_runnable(), vec![1]);
        q.push(1, "A", "1");
        assert!(q.remove_waiting(2));
        assert!(!q.remove_waiting(2));
        assert_eq!(q.waiting_count(), 0);
    }

    #[test]
    fn a_job_without_its_card_holds_back_its_channel_only() {
        let mut q = RunQueue::new(4, 4);
        q.push(1, "A", "1");
        q.push(2, "A", "2");
        q.push(3, "B", "3");
        q.mark_ready(2);
        q.mark_ready(3);
        assert_eq!(q.take_runnable(), vec![3]);
        assert_eq!(q.positions(), vec![(1, 1), (2, 2)]);
        q.mark_ready(1);
        assert_eq!(q.take_runnable(), vec![1, 2]);
    }

    #[test]
    fn a_re_attached_run_holds_its_thread() {
        let mut q = RunQueue::new(4, 4);
        q.hold_running(1, "A", "t1");
        q.push(2, "A", "t1");
        q.mark_ready(2);
        assert!(q.take_runnable().is_empty());
        q.finish(1);
        assert_eq!(q.take_runnable(), vec![2]);
    }

    #[test]
    fn jobs_of_one_thread_run_one_at_a_time_without_holding_the_channel() {
        let mut q = RunQueue::new(4, 4);
        q.push(1, "A", "t1");
        q.push(2, "A", "t1");
        q.push(3, "A", "t2");
        q.push(4, "A", "t1");
        for id in 1..=4 {
            q.mark_ready(id);
        }
        assert_eq!(q.take_runnable(), vec![1, 3]);
        assert_eq!(q.thread_busy("A", "t1"), Some(1));
        assert_eq!(q.positions(), vec![(2, 1), (4, 2)]);
        q.finish(1);
        assert_eq!(q.take_runnable(), vec![2]);
        q.finish(2);
        assert_eq!(q.take_runnable(), vec![4]);
    }
}
