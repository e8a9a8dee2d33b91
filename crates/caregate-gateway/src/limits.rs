//! Limits on what one caller can make the gateway do: the size of a request body and the time allowed to send
//! it (slow uploads are cut off), and each sender's rate (a token bucket).
//!
//! Not for: limits inside a document (depth, DOCTYPE, entities), which the engine's parser enforces.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use http_body_util::BodyExt as _;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request body did not arrive within {0} ms")]
    TooSlow(u64),
    #[error("the request body could not be read: {0}")]
    Broken(String),
}

/// Reads a whole body, refusing it as soon as it passes `max_bytes` or `timeout`.
pub async fn read_body(body: Body, max_bytes: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    let limited = http_body_util::Limited::new(body, max_bytes);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(BodyError::TooSlow(timeout.as_millis() as u64)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) => {
            if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                Err(BodyError::TooLarge(max_bytes))
            } else {
                Err(BodyError::Broken(error.to_string()))
            }
        }
    }
}

/// A token bucket per sender. It never panics, whatever its rate and burst: a wait too long for a [`Duration`]
/// (a rate near zero) or none at all (a rate or burst that is not a number) is [`Duration::MAX`]. The
/// configuration check keeps both sensible.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: f64, burst: f64) -> Self {
        RateLimiter { rate: rate_per_second, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `who`'s bucket: `Ok`, or how long until one is allowed.
    pub fn take(&self, who: &str) -> Result<(), Duration> {
        self.take_at(who, Instant::now())
    }

    fn take_at(&self, who: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = match self.buckets.lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (tokens, last) = buckets.entry(who.to_string()).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::try_from_secs_f64((1.0 - *tokens) / self.rate).unwrap_or(Duration::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_past_its_burst_waits_for_the_rate() {
        let limiter = RateLimiter::new(10.0, 3.0);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take_at("201", start).is_ok());
        }
        let wait = limiter.take_at("201", start).expect_err("over the burst");
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(limiter.take_at("202", start).is_ok(), "another sender has its own bucket");
        assert!(limiter.take_at("201", start + Duration::from_millis(150)).is_ok());
    }

    #[test]
    fn no_rate_or_burst_makes_the_limiter_panic() {
        let start = Instant::now();
        let odd = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0, f64::MIN_POSITIVE, 1e-300, 1.0, 1e300];
        for (rate, burst) in odd.iter().flat_map(|rate| odd.iter().map(move |burst| (*rate, *burst))) {
            let limiter = RateLimiter::new(rate, burst);
            for later in [0, 0, 1, 1_000_000] {
                // Allowed or told to wait, but answered.
                let _ = limiter.take_at("201", start + Duration::from_millis(later));
            }
        }
        let nearly_never = RateLimiter::new(1e-300, 1.0);
        assert!(nearly_never.take_at("201", start).is_ok(), "the burst");
        assert_eq!(nearly_never.take_at("201", start), Err(Duration::MAX));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let body = Body::from(vec![b'x'; 100]);
        assert_eq!(read_body(body, 10, Duration::from_secs(1)).await, Err(BodyError::TooLarge(10)));
        let body = Body::from(vec![b'x'; 10]);
        assert_eq!(read_body(body, 10, Duration::from_secs(1)).await.map(|b| b.len()), Ok(10));
    }
}
