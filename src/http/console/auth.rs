//! The console's sign-ins: sessions (a random id in an HttpOnly cookie, an expiry, and a CSRF
//! token for forms), kept in memory and bounded, and the per-client-IP limit on wrong tokens.
//! Time is passed in, so expiry and rate limits are tested without waiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::gorgias::ratelimit::Gcra;

/// The session cookie's name.
pub const COOKIE: &str = "console_session";
/// The most signed-in sessions kept; the oldest expiring goes first beyond it.
const MAX_SESSIONS: usize = 1000;
/// Wrong tokens allowed per client IP: a burst of this many, then one per `FAILURE_WINDOW /
/// FAILURES_PER_WINDOW`.
const FAILURES_PER_WINDOW: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The most client IPs tracked for wrong tokens.
const MAX_TRACKED_IPS: usize = 10_000;

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Unix seconds after which the session is refused.
    pub expires_at: u64,
    /// Must come back in the hidden field of every form the console posts.
    pub csrf: String,
}

impl SignIn {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// Signed-in sessions by cookie id.
#[derive(Debug, Default)]
pub struct SignIns {
    sessions: HashMap<String, SignIn>,
}

impl SignIns {
    /// A new session valid for `ttl` from `now` (unix seconds): (cookie id, session).
    pub fn open(&mut self, now: u64, ttl: Duration) -> (String, SignIn) {
        self.sessions.retain(|_, s| s.expires_at > now);
        while self.sessions.len() >= MAX_SESSIONS {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.sessions.remove(&k),
                None => break,
            };
        }
        let id = random_token();
        let signin = SignIn {
            expires_at: now + ttl.as_secs(),
            csrf: random_token(),
        };
        self.sessions.insert(id.clone(), signin.clone());
        (id, signin)
    }

    /// The session of cookie `id`, unless it expired (then it is forgotten).
    pub fn get(&mut self, id: &str, now: u64) -> Option<SignIn> {
        match self.sessions.get(id) {
            Some(s) if s.expires_at > now => Some(s.clone()),
            Some(_) => {
                self.sessions.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn close(&mut self, id: &str) {
        self.sessions.remove(id);
    }
}

/// Wrong-token attempts per client IP, as a GCRA each.
#[derive(Debug, Default)]
pub struct Failures {
    by_ip: HashMap<IpAddr, Gcra>,
}

impl Failures {
    /// Whether `ip` may try a token now (its bucket of failures is not full).
    pub fn allowed(&self, ip: IpAddr, now: Instant) -> bool {
        self.by_ip
            .get(&ip)
            .is_none_or(|g| g.clone().reserve(now).is_zero())
    }

    /// Counts a wrong token from `ip`.
    pub fn record(&mut self, ip: IpAddr, now: Instant) {
        if self.by_ip.len() >= MAX_TRACKED_IPS && !self.by_ip.contains_key(&ip) {
            // Forget everyone rather than grow without bound; a flood from many addresses is
            // for the network's defences.
            self.by_ip.clear();
        }
        self.by_ip
            .entry(ip)
            .or_insert_with(|| Gcra::new(FAILURES_PER_WINDOW, FAILURE_WINDOW))
            .reserve(now);
    }
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(id: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lasts_until_its_expiry_and_not_a_second_longer() {
        let mut book = SignIns::default();
        let (id, s) = book.open(1000, Duration::from_secs(60));
        assert_eq!(s.expires_at, 1060);
        assert!(book.get(&id, 1059).is_some());
        assert!(book.get(&id, 1060).is_none());
        assert!(
            book.get(&id, 1000).is_none(),
            "an expired session is forgotten"
        );
        assert!(book.get("nope", 1000).is_none());
    }

    #[test]
    fn sessions_have_distinct_ids_and_csrf_tokens_checked_exactly() {
        let mut book = SignIns::default();
        let (a, sa) = book.open(0, Duration::from_secs(60));
        let (b, sb) = book.open(0, Duration::from_secs(60));
        assert_ne!(a, b);
        assert_ne!(sa.csrf, sb.csrf);
        assert_eq!(sa.csrf.len(), 64);
        assert!(sa.csrf_matches(&sa.csrf));
        assert!(!sa.csrf_matches(&sb.csrf));
        assert!(!sa.csrf_matches(""));
        book.close(&a);
        assert!(book.get(&a, 0).is_none());
    }

    #[test]
    fn wrong_tokens_are_limited_per_ip_and_recover_with_time() {
        let mut f = Failures::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FAILURES_PER_WINDOW {
            assert!(f.allowed(ip, t0));
            f.record(ip, t0);
        }
        assert!(!f.allowed(ip, t0), "the burst is used up");
        assert!(f.allowed(other, t0), "other clients are not affected");
        assert!(f.allowed(ip, t0 + FAILURE_WINDOW / FAILURES_PER_WINDOW));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        let c = session_cookie("abc", Duration::from_secs(3600), false);
        assert_eq!(
            c,
            "console_session=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict"
        );
        assert!(session_cookie("abc", Duration::from_secs(1), true).ends_with("; Secure"));
        assert!(cleared_cookie(false).contains("Max-Age=0"));
    }
}
