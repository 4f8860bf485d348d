//! gorgias-agent: an AI agent inside a Gorgias helpdesk.
//!
//! A tour, in the order an event travels:
//! - [`http::webhook`] authenticates a Gorgias webhook, bounds and parses it
//!   ([`gorgias::webhook`]), applies the [`filter`] rules, asks the [`dedup`] actor, stores the
//!   event durably through [`store`] (group commit), and only then answers 200;
//! - the [`tickets::supervisor`] wakes the ticket's [`tickets::actor`], which runs one
//!   [`tickets::turn`] at a time over its pure [`tickets::session`]: new messages in, a decision
//!   from the [`brain`] (after model-independent guardrails), Gorgias actions planned into the
//!   session's outbox and delivered by [`tickets::delivery`] through [`gorgias::api`];
//! - [`config`] holds the settings, [`server`] wires it all, [`telemetry`] sets up logs, and
//!   [`check`] verifies a configuration against Gorgias before going live;
//! - [`metrics`] counts what happens along the way for `GET /metrics`, and the admin API
//!   ([`http::admin`]) shows a ticket's session and resumes a handed-off one.

pub mod brain;
pub mod check;
pub mod config;
pub mod dedup;
pub mod domain;
pub mod gorgias;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tickets;
pub mod time;
