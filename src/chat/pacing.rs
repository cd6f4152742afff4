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

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

pub struct Pacer {
    post: DefaultKeyedRateLimiter<String>,
    update: DefaultDirectRateLimiter,
    tier3: DefaultDirectRateLimiter,
    tier4: DefaultDirectRateLimiter,
}

/// Which budget a call spends.
#[derive(Debug, Clone, Copy)]
pub enum Budget<'a> {
    Post { channel: &'a str },
    Update,
    Tier3,
    Tier4,
}

impl Pacer {
    pub fn new(limits: Limits) -> Self {
        Self {
            post: RateLimiter::keyed(quota(limits.post_per_minute, limits.post_burst)),
            update: RateLimiter::direct(quota(limits.update_per_minute, limits.update_burst)),
            tier3: RateLimiter::direct(quota(limits.tier3_per_minute, 10)),
            tier4: RateLimiter::direct(quota(limits.tier4_per_minute, 20)),
        }
    }

    /// Waits until the budget allows one more call.
    pub async fn ready(&self, budget: Budget<'_>) {
        match budget {
            Budget::Post { channel } => self.post.until_key_ready(&channel.to_string()).await,
            Budget::Update => self.update.until_ready().await,
            Budget::Tier3 => self.tier3.until_ready().await,
            Budget::Tier4 => self.tier4.until_ready().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

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
