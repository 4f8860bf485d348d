//! gorgias-agent: an AI agent inside a Gorgias helpdesk.
//!
//! A tour, in the order an event travels (arrows point one way: each module uses only those
//! after it in the flow, and everything uses the pure [`domain`]):
//! - [`http::webhook`] authenticates a Gorgias webhook, bounds and parses its body
//!   ([`gorgias::webhook`]), and hands the event to [`intake`];
//! - [`intake`] applies the [`intake::filter`] rules and the handed-off check, admits through
//!   the [`dedup`] window (shared with the HTTP workers, pruned by its actor), stores the event
//!   durably through [`store`] (group commit; one sled tree per concern, sessions as a small
//!   head plus their history entries and decisions in pages of 16), wakes the ticket, and
//!   returns a typed result the adapter maps to an answer (only after the flush: 200);
//! - the [`tickets::supervisor`] wakes the ticket's [`tickets::actor`], which runs one
//!   [`tickets::turn`] at a time: new messages into the [`domain::session`], a decision from the
//!   [`brain`] (after model-independent guardrails), the actions planned by [`domain::plan`] and
//!   delivered in order by [`tickets::delivery`] through [`gorgias::api`];
//! - [`domain`] holds the ticket model and every rule: messages, sessions, planning (with tags,
//!   closing and business hours), and the typed outcomes ([`domain::outcome`]) that logs,
//!   metrics and answers carry;
//! - [`config`] holds the settings, [`server`] wires it all, [`telemetry`] sets up logs, and
//!   [`check`] verifies a configuration against Gorgias before going live; [`retry`], [`text`]
//!   and [`time`] are the small rules every layer shares;
//! - [`metrics`] counts what happens along the way for `GET /metrics`, and the admin API
//!   ([`http::admin`]) shows a ticket's session and resumes a handed-off one;
//! - the operator console ([`http::console`]) shows the figures that each turn's commit adds to
//!   hourly counters ([`domain::stats`], [`tickets::stats`]), the tickets and their decisions;
//! - [`replay`] takes past tickets through the same [`intake`] and [`tickets::turn`], offline,
//!   on a scratch store, and reports what the AI would have done.

pub mod brain;
pub mod check;
pub mod config;
pub mod dedup;
pub mod domain;
pub mod fdlimit;
pub mod gorgias;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod replay;
pub mod retry;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tickets;
pub mod time;
