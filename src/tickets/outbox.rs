//! What the stored outboxes of tickets with unfinished work add up to: how many actions are
//! owed, how many are being retried, and the one failing the longest. Read by `/metrics` and
//! `/readyz`.

use crate::domain::outcome::ActionName;
use crate::store::Store;

/// The most tickets with unfinished work looked at by one outbox scan (scrape or readiness).
const MAX_SCANNED_TICKETS: usize = 10_000;

/// The failing action that has been failing the longest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckAction {
    pub ticket_id: u64,
    pub action: ActionName,
    pub failing_for_secs: u64,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// The outbound work stored for tickets with unfinished work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Actions decided and not delivered yet.
    pub pending: u64,
    /// Head actions whose last attempt failed (being retried).
    pub retrying: u64,
    pub oldest_failure: Option<StuckAction>,
}

impl OutboxStatus {
    /// Reads the stored sessions of the tickets with unfinished work (`now` in unix seconds).
    pub fn scan(store: &Store, now: u64) -> OutboxStatus {
        let mut status = OutboxStatus::default();
        let tickets = store.tickets_with_work();
        for ticket_id in tickets.into_iter().take(MAX_SCANNED_TICKETS) {
            let Ok(Some(session)) = store.load_session(ticket_id) else {
                continue;
            };
            status.pending += session.outbox.len() as u64;
            let Some(head) = session.outbox.front() else {
                continue;
            };
            let Some(first) = head.first_failure_at else {
                continue;
            };
            status.retrying += 1;
            let failing_for_secs = now.saturating_sub(first);
            let longer = status
                .oldest_failure
                .as_ref()
                .is_none_or(|o| failing_for_secs > o.failing_for_secs);
            if longer {
                status.oldest_failure = Some(StuckAction {
                    ticket_id,
                    action: head.kind.name(),
                    failing_for_secs,
                    attempts: head.attempts,
                    last_error: head.last_error.clone(),
                });
            }
        }
        status
    }
}
