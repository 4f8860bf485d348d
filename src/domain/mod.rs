//! The ticket model and its rules, pure and depending on nothing above it: a newcomer learns
//! every rule of a conversation here.
//!
//! - [`message`]: a customer message as intake hands it on (customer, addresses, text);
//! - [`session`]: one ticket's conversation, its Active → HandedOff state, its decisions and
//!   the outbox of Gorgias actions still owed;
//! - [`caps`]: how much text a session keeps (per message, per session, oldest cut first);
//! - [`plan`]: a decision turned into the history entry, state change, record and actions it
//!   implies (the handoff planned once, for the brain's handoffs and a refused reply alike);
//! - [`outcome`]: every outcome and reason, each with the `code()` that logs, metrics, stored
//!   decisions and webhook answers carry;
//! - [`orders`]: the customer's orders as Gorgias holds them, normalized; status mapping, order
//!   naming, answer templates;
//! - [`hours`] and [`tags`]: business hours and the tag names of the handoff package;
//! - [`stats`]: the operator console's counters, from one committed step, and their windows.

pub mod caps;
pub mod hours;
pub mod message;
pub mod orders;
pub mod outcome;
pub mod plan;
pub mod session;
pub mod stats;
pub mod tags;
