//! Integration tests: the real server on port 0 against a stateful fake Gorgias on loopback.

mod admin;
mod browser;
mod check;
mod console;
mod crash;
mod erasure;
mod eval;
mod handoff;
mod helpers;
mod intake;
mod lifecycle;
mod limits;
mod logs;
mod metrics;
mod openai;
mod orders;
mod reliability;
mod replay;
mod replies;
mod restart;
mod retention;
mod storage;

// The fakes live in the test kit, shared with the benches.
use gorgias_agent_testkit::{fake_gorgias, fake_openai};
