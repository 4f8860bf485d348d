//! What a ticket's committed step adds for the operator console: the counter deltas and the
//! ticket's summary (with its filter-index entries) that `domain::stats` derives from the
//! session before and after the step, as writes that go into the step's own commit. Erasure
//! and retention remove a ticket's console entries through `Store::ticket_erasure`.

use crate::domain::plan::Mode;
use crate::domain::session::Session;
use crate::domain::stats::{observe, Step};
use crate::store::{Store, Write};
use crate::time::now_millis;

/// The console writes of the step `before` → `after` (taking in messages first accepted at
/// `accepted_ms`). Only the ticket's own actor commits its steps, so its summary read here is
/// the one the step replaces.
pub fn step_writes(
    store: &Store,
    before: &Session,
    after: &Session,
    mode: Mode,
    accepted_ms: Option<u64>,
) -> Vec<Write> {
    // A summary is first written with a customer message, and a history never loses an entry:
    // a session with no history has none to read, unless a failed commit of it may have landed.
    let prev = if before.history.is_empty() && !before.stored.in_doubt {
        None
    } else {
        store.ticket_summary(after.ticket_id).unwrap_or_else(|e| {
            tracing::warn!(ticket_id = after.ticket_id, error = %e, "console summary unreadable; rebuilt");
            None
        })
    };
    let step = Step {
        before,
        after,
        mode,
        now_ms: now_millis(),
        accepted_ms,
    };
    let Some((summary, deltas)) = observe(prev.as_ref(), step) else {
        return Vec::new();
    };
    let mut writes: Vec<Write> = deltas
        .iter()
        .map(|d| Write::stat_add(d.hour, &d.counter, d.by))
        .collect();
    writes.extend(Write::summary_put(&summary, prev.as_ref()));
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::{HistoryEntry, Role};
    use crate::domain::stats::CONVERSATIONS;

    fn with_message(ticket_id: u64) -> Session {
        let mut s = Session::new(ticket_id);
        s.history.push(HistoryEntry {
            role: Role::Customer,
            text: "hello".into(),
            message_id: Some(1),
            external_id: None,
            at: 1_700_000_000,
        });
        s
    }

    fn conversations_added(writes: &[Write]) -> i64 {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::Add(_, key, by) if key.ends_with(CONVERSATIONS.as_bytes()) => Some(*by),
                _ => None,
            })
            .sum()
    }

    #[tokio::test]
    async fn a_first_step_counts_a_conversation_once_even_after_a_commit_that_may_have_landed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let empty = Session::new(5);
        let after = with_message(5);
        let writes = step_writes(&store, &empty, &after, Mode::DryRun, None);
        assert_eq!(conversations_added(&writes), 1, "a new conversation");
        // That commit timed out but landed; the retry starts again from the empty session,
        // now marked in doubt: the stored summary is read and the conversation not counted twice.
        store.commit(writes).await.unwrap();
        let mut in_doubt = Session::new(5);
        in_doubt.stored.in_doubt = true;
        let again = step_writes(&store, &in_doubt, &after, Mode::DryRun, None);
        assert_eq!(conversations_added(&again), 0);
    }
}
