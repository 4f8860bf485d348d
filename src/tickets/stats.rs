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
    let prev = store.ticket_summary(after.ticket_id).unwrap_or_else(|e| {
        tracing::warn!(ticket_id = after.ticket_id, error = %e, "console summary unreadable; rebuilt");
        None
    });
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
