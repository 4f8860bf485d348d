//! The fault seam: switches a test flips to make the committer's writes or flushes fail, or to
//! hold the committer inside its flush, as a full or unwritable disk does. Inert unless flipped
//! (one relaxed load per batch); it is public, and hidden from the docs, so that the integration
//! tests, which run the real server in-process, reach it through `Store::faults`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use super::StoreError;

#[doc(hidden)]
#[derive(Debug, Default)]
pub struct StoreFaults {
    fail_writes: AtomicBool,
    fail_flush: AtomicBool,
    stalled: Mutex<bool>,
    unstalled: Condvar,
    /// A ticket whose session reads panic inside sled (0: none), as on damaged files.
    panic_reads_of: AtomicU64,
}

impl StoreFaults {
    /// While on, every write the committer applies fails (as on a full disk).
    pub fn fail_writes(&self, on: bool) {
        self.fail_writes.store(on, Ordering::Relaxed);
    }

    /// While on, every flush fails after the writes were applied in memory.
    pub fn fail_flush(&self, on: bool) {
        self.fail_flush.store(on, Ordering::Relaxed);
    }

    /// While on, the committer blocks before its flush (as inside sled's flush on a disk that
    /// stopped answering); off releases it.
    pub fn stall(&self, on: bool) {
        *self.stalled.lock().unwrap_or_else(PoisonError::into_inner) = on;
        self.unstalled.notify_all();
    }

    /// Reads of this ticket's session panic inside the store's guard, as sled does on damaged
    /// files (`None` stops it).
    pub fn panic_on_session_read(&self, ticket_id: Option<u64>) {
        self.panic_reads_of
            .store(ticket_id.unwrap_or(0), Ordering::Relaxed);
    }

    pub(super) fn before_session_read(&self, ticket_id: u64) {
        if ticket_id != 0 && self.panic_reads_of.load(Ordering::Relaxed) == ticket_id {
            panic!("injected: cannot find pid 42 in view_for_key, looking for key {ticket_id}");
        }
    }

    pub(super) fn write_error(&self) -> Option<StoreError> {
        self.fail_writes
            .load(Ordering::Relaxed)
            .then(|| StoreError::Io("injected write failure (no space left on device)".into()))
    }

    pub(super) fn flush_error(&self) -> Option<StoreError> {
        self.fail_flush
            .load(Ordering::Relaxed)
            .then(|| StoreError::Io("injected flush failure (input/output error)".into()))
    }

    pub(super) fn wait_while_stalled(&self) {
        let mut stalled = self.stalled.lock().unwrap_or_else(PoisonError::into_inner);
        while *stalled {
            stalled = self
                .unstalled
                .wait(stalled)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}
