//! The account's API budget as a leaky bucket (GCRA): `requests_per_window` per `window`,
//! shared by every caller. Callers reserve a slot and wait for it instead of bursting; a 429's
//! `Retry-After` and the `X-Gorgias-Account-Api-Call-Limit` header push the schedule back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<Gcra>,
}

/// Generic cell rate algorithm: `tat` is the theoretical arrival time of the next request.
#[derive(Debug, Clone)]
pub struct Gcra {
    /// Time between requests at the steady rate.
    interval: Duration,
    /// How far ahead of `now` the schedule may run: the burst allowance.
    tolerance: Duration,
    tat: Option<Instant>,
}

impl Gcra {
    pub fn new(requests_per_window: u32, window: Duration) -> Gcra {
        let n = requests_per_window.max(1);
        let interval = window / n;
        Gcra {
            interval,
            tolerance: interval * (n - 1),
            tat: None,
        }
    }

    /// Reserves the next slot; returns how long to wait before using it.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let tat = self.tat.unwrap_or(now).max(now);
        let earliest = tat.checked_sub(self.tolerance).unwrap_or(now).max(now);
        self.tat = Some(tat.max(earliest) + self.interval);
        earliest - now
    }

    /// Gorgias said 429 with `Retry-After`: nothing goes out before then, and the bucket is
    /// treated as full from that moment.
    pub fn retry_after(&mut self, now: Instant, after: Duration) {
        let full = now + after + self.tolerance;
        self.tat = Some(self.tat.map_or(full, |t| t.max(full)));
    }

    /// Gorgias reported `used` of `limit` calls in the bucket (other integrations count too):
    /// the schedule must not run behind that level.
    pub fn observe_usage(&mut self, now: Instant, used: u32, limit: u32) {
        if limit == 0 {
            return;
        }
        // The account's bucket is `used/limit` full; the same share of our window is queued.
        let window = self.tolerance + self.interval;
        let per_call = window.as_secs_f64() / limit as f64;
        let level = now + Duration::from_secs_f64(per_call * used as f64);
        self.tat = Some(self.tat.map_or(level, |t| t.max(level)));
    }
}

impl RateLimiter {
    pub fn new(requests_per_window: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            state: Mutex::new(Gcra::new(requests_per_window, window)),
        }
    }

    /// Waits until the budget allows one more request; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let wait = self.lock().reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }

    pub fn retry_after(&self, after: Duration) {
        self.lock().retry_after(Instant::now(), after);
    }

    pub fn observe_usage(&self, used: u32, limit: u32) {
        self.lock().observe_usage(Instant::now(), used, limit);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gcra> {
        // The state is a few numbers; a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Parses `X-Gorgias-Account-Api-Call-Limit: used/limit`.
pub fn parse_call_limit(value: &str) -> Option<(u32, u32)> {
    let (used, limit) = value.trim().split_once('/')?;
    Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_burst_then_the_steady_rate() {
        let mut g = Gcra::new(10, Duration::from_secs(5));
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(g.reserve(t0), Duration::ZERO);
        }
        assert_eq!(g.reserve(t0), Duration::from_millis(500));
        assert_eq!(g.reserve(t0), Duration::from_millis(1000));
        // Time passing refills the bucket at one request per interval.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(g.reserve(later), Duration::ZERO);
    }

    #[test]
    fn n_requests_take_at_least_the_budgets_time() {
        let mut g = Gcra::new(40, Duration::from_secs(20));
        let t0 = Instant::now();
        let last = (0..100).map(|_| g.reserve(t0)).max().unwrap();
        // 40 at once, then 60 more at 2/s: the last at 30 s.
        assert_eq!(last, Duration::from_secs(30));
    }

    #[test]
    fn retry_after_pushes_everything_back() {
        let mut g = Gcra::new(10, Duration::from_secs(5));
        let t0 = Instant::now();
        g.retry_after(t0, Duration::from_secs(3));
        assert_eq!(g.reserve(t0), Duration::from_secs(3));
        assert_eq!(g.reserve(t0), Duration::from_millis(3500));
    }

    #[test]
    fn reported_usage_of_other_integrations_slows_us_down() {
        let mut g = Gcra::new(40, Duration::from_secs(20));
        let t0 = Instant::now();
        g.observe_usage(t0, 40, 40);
        assert_eq!(g.reserve(t0), Duration::from_millis(500));
        let mut g = Gcra::new(40, Duration::from_secs(20));
        g.observe_usage(t0, 10, 40);
        assert_eq!(g.reserve(t0), Duration::ZERO);
    }

    #[test]
    fn call_limit_header_parses() {
        assert_eq!(parse_call_limit("10/40"), Some((10, 40)));
        assert_eq!(parse_call_limit(" 3 / 80 "), Some((3, 80)));
        assert_eq!(parse_call_limit("x"), None);
    }
}
