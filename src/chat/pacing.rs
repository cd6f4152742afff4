//! Outbound pacing below Slack's documented limits, so the bot rarely meets a 429: per channel
//! for `chat.postMessage` (about one a second, short bursts allowed), per workspace by tier for
//! the other methods. Waiting here is what lets the card updater coalesce edits.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Calls per minute and burst for each method the bot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// chat.postMessage, per channel.
    pub post_per_minute: u32,
    pub post_burst: u32,
    /// chat.update (tier 3), per workspace.
    pub update_per_minute: u32,
    pub update_burst: u32,
    /// reactions.add, conversations.replies (tier 3).
    pub tier3_per_minute: u32,
    /// users.info, chat.postEphemeral, chat.getPermalink (tier 4).
    pub tier4_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            post_per_minute: 60,
            post_burst: 3,
            update_per_minute: 50,
            update_burst: 10,
            tier3_per_minute: 50,
            tier4_per_minute: 100,
        }
    }
}

/// At most `per_minute` calls in any 60-second window (Slack counts that way), up to `burst`
/// of them back to back. The limiter admits its burst plus one call per period in any window,
/// so the period leaves room for the burst: 50/min with a burst of 10 refills every 1.5 s.
fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = per_minute.max(1);
    let burst = burst.clamp(1, per_minute);
    let steady = (per_minute - burst).max(1);
    let period = std::time::Duration::from_secs(60) / steady;
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
        .allow_burst(burst)
}

pub struct Pacer {
    post: DefaultKeyedRateLimiter<String>,
    update: DefaultDirectRateLimiter,
    /// Slack's tiers limit each method on its own: one budget per method name.
    tier3: DefaultKeyedRateLimiter<&'static str>,
    tier4: DefaultKeyedRateLimiter<&'static str>,
}

/// Which budget a call spends.
#[derive(Debug, Clone, Copy)]
pub enum Budget<'a> {
    Post {
        channel: &'a str,
    },
    Update,
    /// A tier-3 method, by name (`reactions.add`, `conversations.replies`).
    Tier3(&'static str),
    /// A tier-4 method, by name (`users.info`, `chat.postEphemeral`, …).
    Tier4(&'static str),
}

impl Pacer {
    pub fn new(limits: Limits) -> Self {
        Self {
            post: RateLimiter::keyed(quota(limits.post_per_minute, limits.post_burst)),
            update: RateLimiter::direct(quota(limits.update_per_minute, limits.update_burst)),
            tier3: RateLimiter::keyed(quota(limits.tier3_per_minute, 10)),
            tier4: RateLimiter::keyed(quota(limits.tier4_per_minute, 20)),
        }
    }

    /// Waits until the budget allows one more call.
    pub async fn ready(&self, budget: Budget<'_>) {
        match budget {
            Budget::Post { channel } => self.post.until_key_ready(&channel.to_string()).await,
            Budget::Update => self.update.until_ready().await,
            Budget::Tier3(method) => self.tier3.until_key_ready(&method).await,
            Budget::Tier4(method) => self.tier4.until_key_ready(&method).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn no_minute_holds_more_than_the_limit() {
        for (per_minute, burst) in [(50, 10), (60, 3), (100, 20), (5, 10), (1, 1)] {
            let q = quota(per_minute, burst);
            // Slack's window is the last 60 s, the call exactly 60 s ago no longer counts.
            let in_a_minute = q.burst_size().get() as u128
                + (Duration::from_secs(60).as_nanos() - 1) / q.replenish_interval().as_nanos();
            assert!(
                in_a_minute <= per_minute.max(1) as u128,
                "{per_minute}/min burst {burst}: {in_a_minute} in a minute"
            );
        }
        assert_eq!(
            quota(50, 10).replenish_interval(),
            Duration::from_millis(1500)
        );
    }

    #[tokio::test]
    async fn posts_are_paced_per_channel() {
        let pacer = Pacer::new(Limits {
            post_per_minute: 600,
            post_burst: 2,
            ..Limits::default()
        });
        let start = Instant::now();
        for _ in 0..2 {
            pacer.ready(Budget::Post { channel: "A" }).await;
            pacer.ready(Budget::Post { channel: "B" }).await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "bursts pass at once"
        );
        pacer.ready(Budget::Post { channel: "A" }).await;
        assert!(
            start.elapsed() >= Duration::from_millis(80),
            "the third post in a channel waits ~100 ms"
        );
    }
}
