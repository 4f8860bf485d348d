//! Gorgias on both sides: `webhook` reads what Gorgias sends us, `api` is the REST client for
//! what we send back, `ratelimit` paces those calls within the account's budget.

pub mod api;
pub mod ratelimit;
pub mod webhook;
