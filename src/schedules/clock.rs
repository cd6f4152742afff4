//! The time schedules and triggers read. The bot runs on `SystemClock`; tests set a
//! `ManualClock` by hand, so a weekly schedule across a DST change is tested without waiting.

use std::sync::Arc;

use chrono::{DateTime, Utc};

#[async_trait::async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Returns at `until` or a little after; callers read `now` again (a wall clock can jump).
    async fn sleep_until(&self, until: DateTime<Utc>);
}

pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, until: DateTime<Utc>) {
        // At most an hour at a time: a wall clock set forward (NTP, a suspended VM) is
        // noticed within the hour.
        let wait = (until - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(std::time::Duration::from_secs(3600));
        tokio::time::sleep(wait).await;
    }
}

pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock that moves only when told (`set`, `advance`); sleepers wake when it passes their
/// instant.
#[cfg(feature = "fakes")]
pub struct ManualClock {
    now: tokio::sync::watch::Sender<DateTime<Utc>>,
}

#[cfg(feature = "fakes")]
impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: tokio::sync::watch::Sender::new(start),
        })
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.now.send_replace(at);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|t| *t += by);
    }
}

#[cfg(feature = "fakes")]
#[async_trait::async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    async fn sleep_until(&self, until: DateTime<Utc>) {
        let mut rx = self.now.subscribe();
        let _ = rx.wait_for(|t| *t >= until).await;
    }
}
