//! The test kit (`gorgias-agent-testkit`), for `use crate::helpers::*`: the real server on port
//! 0 against a fake Gorgias, the test configuration, builders, fixtures and polling.

pub use gorgias_agent_testkit::*;
