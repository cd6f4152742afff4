//! The run queue: a bounded worker pool with a per-channel limit. Pure bookkeeping; the bot
//! starts the jobs this hands out.
//!
//! Jobs join in the order they were accepted, but may start only once their card is posted
//! (`mark_ready`); a job still waiting for its card holds back later jobs of its channel, so
//! jobs in one channel start in the order they were asked for.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::job::JobId;

#[derive(Debug)]
pub struct RunQueue {
    max_running: usize,
    per_channel: usize,
    waiting: VecDeque<(JobId, String)>,
    ready: HashSet<JobId>,
    running: HashMap<JobId, String>,
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

    pub fn push(&mut self, id: JobId, channel: &str) {
        if !self.running.contains_key(&id) && !self.waiting.iter().any(|(j, _)| *j == id) {
            self.waiting.push_back((id, channel.to_string()));
        }
    }

    /// The job's card is up: it may start.
    pub fn mark_ready(&mut self, id: JobId) {
        self.ready.insert(id);
    }

    fn running_in(&self, channel: &str) -> usize {
        self.running.values().filter(|c| *c == channel).count()
    }

    /// Takes every job that may start now, oldest first, and marks it running.
    pub fn take_runnable(&mut self) -> Vec<JobId> {
        let mut started = Vec::new();
        let mut held: HashSet<String> = HashSet::new();
        let mut i = 0;
        while i < self.waiting.len() && self.running.len() < self.max_running {
            let (id, channel) = &self.waiting[i];
            let runnable = !held.contains(channel) && self.running_in(channel) < self.per_channel;
            if runnable && self.ready.contains(id) {
                if let Some((id, channel)) = self.waiting.remove(i) {
                    self.ready.remove(&id);
                    self.running.insert(id, channel);
                    started.push(id);
                }
            } else {
                held.insert(channel.clone());
                i += 1;
            }
        }
        started
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
            q.push(id, ch);
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
        q.push(1, "A");
        q.push(1, "A");
        q.push(2, "A");
        q.mark_ready(1);
        q.mark_ready(2);
        assert_eq!(q.take_runnable(), vec![1]);
        q.push(1, "A");
        assert!(q.remove_waiting(2));
        assert!(!q.remove_waiting(2));
        assert_eq!(q.waiting_count(), 0);
    }

    #[test]
    fn a_job_without_its_card_holds_back_its_channel_only() {
        let mut q = RunQueue::new(4, 4);
        q.push(1, "A");
        q.push(2, "A");
        q.push(3, "B");
        q.mark_ready(2);
        q.mark_ready(3);
        assert_eq!(q.take_runnable(), vec![3]);
        assert_eq!(q.positions(), vec![(1, 1), (2, 2)]);
        q.mark_ready(1);
        assert_eq!(q.take_runnable(), vec![1, 2]);
    }
}
