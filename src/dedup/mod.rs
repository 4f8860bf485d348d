//! Deduplication of webhook redeliveries: `window` is the pure rule, `actor` shares the window
//! with intake ([`Dedup`]), restores it from storage and prunes it.

pub mod actor;
pub mod window;

pub use actor::{Admit, Dedup, DedupActor, DedupLen, Forget};
pub use window::{dedup_key, Admission, DedupKey};
