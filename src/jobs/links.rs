//! Messages the bot is posting and has not yet recorded (`Store::link_message`). Slack can
//! deliver a reaction on such a message between its answer to the post and that record; the
//! reaction then waits for the posts in flight instead of being dropped as "not ours".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub struct PendingLinks {
    count: AtomicUsize,
    settled: Notify,
}

/// One post in flight; dropping it (after the link is recorded, or on failure) ends it.
pub struct Pending<'a>(&'a PendingLinks);

impl PendingLinks {
    /// Marks a post whose link will be recorded before the returned guard is dropped.
    pub fn begin(&self) -> Pending<'_> {
        self.count.fetch_add(1, Ordering::SeqCst);
        Pending(self)
    }

    pub fn any(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    /// Waits until no post is in flight, at most `limit`; false when the limit passed first.
    pub async fn settled(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.any() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return !self.any();
            }
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.settled.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn settles_when_the_last_post_is_recorded_or_the_limit_passes() {
        let links = Arc::new(PendingLinks::default());
        assert!(
            links.settled(Duration::from_secs(1)).await,
            "nothing in flight"
        );

        let waiter = {
            let links = links.clone();
            let first = links.begin();
            let second = links.begin();
            drop(first);
            let waiter = {
                let links = links.clone();
                tokio::spawn(async move { links.settled(Duration::from_secs(10)).await })
            };
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(!waiter.is_finished(), "one post is still in flight");
            drop(second);
            waiter
        };
        assert!(waiter.await.unwrap());

        let _stuck = links.begin();
        assert!(!links.settled(Duration::from_secs(3)).await);
    }
}
