//! Delivery that must not be lost: retries of transient chat failures. A `ratelimited` answer is
//! waited out for exactly its `Retry-After`; other transient failures back off exponentially.

use std::future::Future;
use std::time::Duration;

use crate::chat::ChatError;

/// Attempts before giving up on one call: with the backoff below, about five minutes.
const ATTEMPTS: u32 = 12;
/// `ratelimited` answers waited out before giving up on one call.
const RATE_LIMITED_ATTEMPTS: u32 = 60;

pub async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ChatError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ChatError>>,
{
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1;
    let mut limited = 0;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(ChatError::RateLimited {
                method,
                retry_after,
            }) if limited < RATE_LIMITED_ATTEMPTS => {
                limited += 1;
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                tracing::debug!(method, ?wait, "rate limited; waiting out Retry-After");
                tokio::time::sleep(wait).await;
            }
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "chat call failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_and_permanent_ones_are_not() {
        let calls = AtomicU32::new(0);
        let r = with_retries(|| async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(ChatError::RateLimited {
                    method: "chat.update",
                    retry_after: Some(Duration::from_millis(10)),
                })
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retries(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ChatError::Api {
                method: "chat.postMessage",
                code: "channel_not_found".into(),
            })
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
