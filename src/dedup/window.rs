//! The deduplication window as a pure value: SHA-256 keys with an expiry, and a purge that
//! removes expired keys in deadline order (a map plus an ordered set of deadlines).

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

pub type DedupKey = [u8; 32];

/// The content hash of a delivery: ticket id, Gorgias message id, sender and body. Each field
/// is length-prefixed so that no two different tuples hash the same bytes.
pub fn dedup_key(ticket_id: u64, message_id: u64, sender: &str, body: &str) -> DedupKey {
    let mut h = Sha256::new();
    h.update(ticket_id.to_be_bytes());
    h.update(message_id.to_be_bytes());
    for field in [sender.trim().to_lowercase(), body.to_string()] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// What the window says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Not seen within the window; now reserved until `expires_at`.
    Fresh { expires_at: u64 },
    /// Seen within the window.
    Duplicate,
}

#[derive(Debug, Default)]
pub struct DedupWindow {
    window_secs: u64,
    expiry_of: HashMap<DedupKey, u64>,
    by_expiry: BTreeSet<(u64, DedupKey)>,
}

impl DedupWindow {
    pub fn new(window_secs: u64) -> Self {
        DedupWindow {
            window_secs,
            ..Default::default()
        }
    }

    /// Admits `key` at `now` (unix seconds) unless it is live in the window.
    pub fn admit(&mut self, key: DedupKey, now: u64) -> Admission {
        if let Some(&exp) = self.expiry_of.get(&key) {
            if exp > now {
                return Admission::Duplicate;
            }
            self.by_expiry.remove(&(exp, key));
        }
        let expires_at = now.saturating_add(self.window_secs);
        self.insert(key, expires_at);
        Admission::Fresh { expires_at }
    }

    /// Restores an entry read from storage (ignored when already expired).
    pub fn restore(&mut self, key: DedupKey, expires_at: u64, now: u64) {
        if expires_at > now {
            if let Some(old) = self.expiry_of.get(&key).copied() {
                self.by_expiry.remove(&(old, key));
            }
            self.insert(key, expires_at);
        }
    }

    fn insert(&mut self, key: DedupKey, expires_at: u64) {
        self.expiry_of.insert(key, expires_at);
        self.by_expiry.insert((expires_at, key));
    }

    /// Forgets a reservation whose event could not be stored (so Gorgias's retry is fresh).
    pub fn forget(&mut self, key: &DedupKey) {
        if let Some(exp) = self.expiry_of.remove(key) {
            self.by_expiry.remove(&(exp, *key));
        }
    }

    /// Removes every entry expired at `now`; returns their keys.
    pub fn purge(&mut self, now: u64) -> Vec<DedupKey> {
        let mut removed = Vec::new();
        while let Some(&(exp, key)) = self.by_expiry.first() {
            if exp > now {
                break;
            }
            self.by_expiry.pop_first();
            self.expiry_of.remove(&key);
            removed.push(key);
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.expiry_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.expiry_of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_then_duplicate_within_the_window() {
        let mut w = DedupWindow::new(3600);
        let k = dedup_key(1, 2, "a@b", "yes");
        assert_eq!(w.admit(k, 100), Admission::Fresh { expires_at: 3700 });
        assert_eq!(w.admit(k, 101), Admission::Duplicate);
        assert_eq!(w.admit(k, 3699), Admission::Duplicate);
    }

    #[test]
    fn expired_entries_are_fresh_again_and_purged() {
        let mut w = DedupWindow::new(10);
        let k = dedup_key(1, 2, "a@b", "yes");
        w.admit(k, 0);
        assert_eq!(w.admit(k, 10), Admission::Fresh { expires_at: 20 });
        let other = dedup_key(1, 3, "a@b", "yes");
        w.admit(other, 15);
        assert_eq!(w.purge(19), Vec::<DedupKey>::new());
        assert_eq!(w.purge(20), vec![k]);
        assert_eq!(w.len(), 1);
        assert_eq!(w.purge(100), vec![other]);
        assert!(w.is_empty());
    }

    #[test]
    fn same_words_with_a_new_message_id_are_not_a_duplicate() {
        let mut w = DedupWindow::new(3600);
        assert!(matches!(
            w.admit(dedup_key(1, 2, "a@b", "yes"), 0),
            Admission::Fresh { .. }
        ));
        assert!(matches!(
            w.admit(dedup_key(1, 3, "a@b", "yes"), 0),
            Admission::Fresh { .. }
        ));
    }

    #[test]
    fn key_covers_every_field_and_normalises_sender_case() {
        let base = dedup_key(1, 2, "a@b", "yes");
        assert_ne!(base, dedup_key(9, 2, "a@b", "yes"));
        assert_ne!(base, dedup_key(1, 9, "a@b", "yes"));
        assert_ne!(base, dedup_key(1, 2, "c@d", "yes"));
        assert_ne!(base, dedup_key(1, 2, "a@b", "no"));
        assert_eq!(base, dedup_key(1, 2, " A@B ", "yes"));
        // Length prefixes: moving a character between fields changes the key.
        assert_ne!(dedup_key(1, 2, "ab", "c"), dedup_key(1, 2, "a", "bc"));
    }

    #[test]
    fn forget_releases_a_reservation_and_restore_skips_expired() {
        let mut w = DedupWindow::new(60);
        let k = dedup_key(1, 2, "a", "b");
        w.admit(k, 0);
        w.forget(&k);
        assert!(matches!(w.admit(k, 1), Admission::Fresh { .. }));
        let mut w = DedupWindow::new(60);
        w.restore(k, 50, 100);
        assert!(w.is_empty());
        w.restore(k, 150, 100);
        assert_eq!(w.admit(k, 120), Admission::Duplicate);
    }
}
