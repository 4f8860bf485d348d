//! The test kit (`gorgias-agent-testkit`), for `use crate::helpers::*`: the real server on port
//! 0 against a fake Gorgias, the test configuration, builders, fixtures and polling.

pub use gorgias_agent_testkit::*;

use std::path::Path;
use std::process::{Command, Stdio};

/// The agent binary with the configuration at `config`: no configuration path or log filter
/// inherited from the developer's shell, nothing on stdin.
pub fn agent_command(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gorgias-agent"));
    cmd.arg("--config")
        .arg(config)
        .env_remove("GORGIAS_AGENT_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}
