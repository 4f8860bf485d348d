//! Deduplication of webhook redeliveries: `window` is the pure rule,
//! `actor` owns the window, restores it from storage and prunes it.

pub mod actor;
pub mod window;

pub use actor::{Admit, DedupActor, DedupLen, Forget};
pub use window::{dedup_key, Admission, DedupKey};
