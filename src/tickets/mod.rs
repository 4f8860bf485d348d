//! Tickets: one actor per ticket (`actor`), created and passivated by the `supervisor`, owning a
//! pure `session`; a `turn` takes new messages, asks the brain, and drains the outbox through
//! `delivery`.

pub mod actor;
pub mod delivery;
pub mod session;
pub mod supervisor;
pub mod turn;
