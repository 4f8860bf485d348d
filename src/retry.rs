//! The retry rules every outbound client (Gorgias, the model server) shares: which statuses are
//! worth another attempt, how long a server asks to wait, and exponential backoff with full
//! jitter.

use std::time::{Duration, SystemTime};

use awc::http::header::HttpDate;
use rand::Rng;

/// Worth trying again later: 408, 409, 429 and 5xx. Other statuses are permanent.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// How long a server asked to wait: `Retry-After` (seconds or an HTTP date), or OpenAI's
/// `retry-after-ms`, which wins when both are sent.
pub fn parse_retry_after(
    retry_after: Option<&str>,
    retry_after_ms: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    if let Some(ms) = retry_after_ms.and_then(number) {
        return Some(Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0));
    }
    let value = retry_after?;
    if let Some(secs) = number(value) {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let date: SystemTime = value.trim().parse::<HttpDate>().ok()?.into();
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The most a retry after `attempt` failures waits: `min(max, initial * 2^attempt)`.
pub fn backoff_ceiling(initial: Duration, max: Duration, attempt: u32) -> Duration {
    initial
        .saturating_mul(2u32.saturating_pow(attempt.min(20)))
        .min(max)
}

/// Exponential backoff with full jitter: uniform in `0..=backoff_ceiling(..)`.
pub fn full_jitter_backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let millis = backoff_ceiling(initial, max, attempt).as_millis().max(1) as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_conflicts_throttling_and_server_errors_are_retryable() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_in_seconds_milliseconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(Some("2"), None, now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(Some("2"), Some("250"), now),
            Some(Duration::from_millis(250))
        );
        let later: HttpDate = (now + Duration::from_secs(30)).into();
        assert_eq!(
            parse_retry_after(Some(&later.to_string()), None, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after(Some("soon"), None, now), None);
        assert_eq!(parse_retry_after(Some("-1"), None, now), None);
        assert_eq!(parse_retry_after(None, None, now), None);
    }

    #[test]
    fn the_backoff_ceiling_doubles_per_attempt_up_to_the_cap() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_secs(2));
        let ceilings: Vec<u64> = (0..7)
            .map(|a| backoff_ceiling(initial, max, a).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff_ceiling(initial, max, u32::MAX), max);
    }
}
