//! The agent as the parts run it: the test configuration tuned for load, waiting for its
//! backlog to drain, counting its live ticket actors, and running a part in a child process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gorgias_agent::config::Settings;
use gorgias_agent::server::Running;
use gorgias_agent::store::Store;
use gorgias_agent::tickets::supervisor::LiveActors;
use gorgias_agent_testkit::lean_gorgias::LeanGorgias;
use gorgias_agent_testkit::{settings, start_agent, stop_agent};
use serde_json::Value;

use crate::CHILD_JSON;

/// The test configuration for load: `mode` against `gorgias_url`, idle actors stopped after
/// `idle_secs`, no pacing of Gorgias calls, and patience with a busy machine.
pub fn agent_settings(storage: &Path, mode: &str, gorgias_url: &str, idle_secs: u64) -> Settings {
    let idle_secs = idle_secs.to_string();
    settings(
        gorgias_url,
        storage,
        &[
            ("gorgias.mode", mode),
            ("sessions.idle_secs", &idle_secs),
            ("gorgias.requests_per_window", "1000000"),
            ("gorgias.request_timeout_secs", "5"),
        ],
    )
}

/// A lean fake Gorgias (`record`: it keeps each post's arrival) and the agent against it, in
/// `mode`, storage at `path`.
pub async fn start_with_fake(
    path: &Path,
    mode: &str,
    idle_secs: u64,
    record: bool,
) -> (LeanGorgias, Running) {
    let fake = LeanGorgias::start(record);
    let running = start_agent(agent_settings(path, mode, &fake.base_url, idle_secs)).await;
    (fake, running)
}

pub async fn stop_with_fake(fake: LeanGorgias, running: Running) {
    stop_agent(running).await;
    fake.stop().await;
}

/// Waits until no ticket has stored work left (every accepted message answered).
pub async fn drained(store: &Store, deadline: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let store2 = store.clone();
        let empty =
            actix_web::rt::task::spawn_blocking(move || store2.tickets_with_work().is_empty())
                .await
                .unwrap_or(false);
        if empty {
            return Some(start.elapsed());
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every ticket actor has stopped for idleness, or `deadline` passed; answers how
/// long it waited.
pub async fn all_idle(running: &Running, deadline: Duration) -> Duration {
    let start = Instant::now();
    while live_actors(running).await > 0 && start.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

pub async fn live_actors(running: &Running) -> usize {
    running
        .supervisor
        .send(LiveActors)
        .await
        .unwrap_or(usize::MAX)
}

/// Runs this bench binary again as a child with `args_for_child`; answers the one JSON line
/// it prints.
pub fn run_child(args_for_child: &[&str]) -> Value {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(args_for_child)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_JSON))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("child {args_for_child:?} failed ({}): {stdout}", out.status))
}
