//! What the integration tests (`tests/api`) and the benches (`benches/`) of gorgias-agent share,
//! said once: the fakes the agent talks to, the test configuration, builders of webhook bodies
//! and stored sessions, polling with a deadline, and the real server on port 0.
//!
//! - [`fake_gorgias`]: a stateful fake Gorgias REST API that records and can be scripted to fail;
//! - [`lean_gorgias`]: a minimal fake Gorgias for load, which only counts (and times) posts;
//! - [`fake_openai`]: a scripted fake OpenAI-compatible chat-completions server;
//! - [`config`]: the test configuration (TOML template, `Settings` with overrides);
//! - [`fixtures`]: the public Gorgias sample payloads of `tests/fixtures`;
//! - [`builders`]: webhook bodies and sessions to send or to seed the store with;
//! - [`app`]: the real server on port 0 ([`app::TestApp`] on its own arbiter, or on the
//!   caller's for benches that account CPU by thread);
//! - [`poll`]: waiting for a condition with a deadline, never a fixed sleep.

pub mod app;
pub mod builders;
pub mod config;
pub mod fake_gorgias;
pub mod fake_openai;
pub mod fixtures;
pub mod lean_gorgias;
pub mod poll;
mod serve;

pub use app::{free_port, init_logs, output_of, printed, start_agent, stop_agent, TestApp};
pub use builders::{customer_event, customer_event_from, on_channel};
pub use config::{
    config_toml, openai_brain, settings, settings_from_toml, write_test_config,
    write_test_config_on, ADMIN, AI_USER, TOKEN,
};
pub use fixtures::MAIN_FIXTURE;
pub use poll::{eventually, eventually_async, WAIT};
