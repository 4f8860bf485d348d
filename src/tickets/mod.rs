//! Tickets at run time: one actor per ticket (`actor`), created and passivated by the
//! `supervisor`, owning a `domain::session`; a `turn` takes new messages, asks the brain, plans
//! through `domain::plan`, and drains the outbox through `delivery`; `outbox` sums up the stored
//! outboxes for metrics and readiness; `orders` looks up the customer's orders a turn needs;
//! `stats` adds the console's counters to a step's commit.

pub mod actor;
pub mod delivery;
pub mod orders;
pub mod outbox;
pub mod stats;
pub mod supervisor;
pub mod turn;
