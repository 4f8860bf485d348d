//! Time helpers: wall-clock unix seconds (what storage keeps) and the retry backoff shared by
//! every client that retries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Seconds since the unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Exponential backoff with full jitter: uniform in `0..=min(max, initial * 2^attempt)`.
pub fn full_jitter_backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let ceiling = initial
        .saturating_mul(2u32.saturating_pow(attempt.min(20)))
        .min(max);
    let millis = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
}
