//! Crash safety with the real binary: kill -9 while replies are pending or between the steps of
//! a handoff, restart on the same storage, and every message is answered exactly once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::fake_gorgias::FakeGorgias;
use crate::helpers::*;

/// The agent binary running as a child process on its own port and storage.
struct Agent {
    child: Child,
    address: String,
    client: awc::Client,
}

fn write_config(dir: &Path, port: u16, gorgias: &FakeGorgias) -> PathBuf {
    write_test_config_on(dir, &gorgias.base_url, port)
}

impl Agent {
    async fn start(config: &Path, port: u16) -> Agent {
        Agent::start_with_env(config, port, &[]).await
    }

    /// With `GORGIAS_AGENT__*` overrides on the child.
    async fn start_with_env(config: &Path, port: u16, env: &[(&str, &str)]) -> Agent {
        let child = agent_command(config)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the agent binary starts");
        let agent = Agent {
            child,
            address: format!("http://127.0.0.1:{port}"),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(10))
                .finish(),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let up = agent
                .client
                .get(format!("{}/healthz", agent.address))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return agent;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the agent did not come up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn webhook(&self, body: &serde_json::Value) -> serde_json::Value {
        let mut resp = self
            .client
            .post(format!("{}/webhooks/gorgias", self.address))
            .insert_header(("X-Webhook-Token", TOKEN))
            .send_json(body)
            .await
            .expect("webhook");
        assert_eq!(resp.status().as_u16(), 200);
        resp.json().await.unwrap()
    }

    /// Actions still owed, as the agent's `/metrics` reports them.
    async fn pending_actions(&self) -> Option<u64> {
        let mut resp = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .ok()?;
        let body = resp.body().limit(1 << 20).await.ok()?;
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| l.strip_prefix("gorgias_agent_outbox_pending_actions "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    }

    /// Waits until the agent owes Gorgias nothing (its lookups and reposts are done).
    async fn settled(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.pending_actions().await != Some(0) {
            assert!(
                std::time::Instant::now() < deadline,
                "the agent did not settle"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no chance to flush or finish anything.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn kill_9_while_replies_are_pending_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = FakeGorgias::start();
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let agent = Agent::start(&config, port).await;

    // Gorgias is slow: the process dies while its posts are in Gorgias's hands, and they land
    // after the new process is up (the delay is longer than a restart), so the restarted agent
    // must not post them again.
    gorgias.delay(Duration::from_millis(800));
    let tickets: Vec<u64> = (5000..5030).collect();
    for &t in &tickets {
        let b = agent
            .webhook(&customer_event(t, t * 10, "where is my order"))
            .await;
        assert_eq!(b["outcome"], "accepted");
    }
    eventually("posts in flight", WAIT, || gorgias.requests_started() >= 10).await;
    let before = gorgias.all_messages().len();
    agent.kill9();
    assert!(
        before < tickets.len(),
        "the kill happened with replies pending ({before} posted)"
    );

    gorgias.heal();
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let agent = Agent::start(&config, port).await;
    let restarted = std::time::Instant::now();
    eventually("every message answered", Duration::from_secs(60), || {
        tickets.iter().all(|&t| !gorgias.replies(t).is_empty())
    })
    .await;
    // Posts in flight at the kill may have landed on their own: count only once the restarted
    // agent has looked each owed action up (and posted what was missing).
    agent.settled().await;
    eventually("Gorgias answered everything it received", WAIT, || {
        gorgias.in_flight() == 0
    })
    .await;
    // Redeliveries after the restart are still duplicates.
    let b = agent
        .webhook(&customer_event(5000, 50000, "where is my order"))
        .await;
    assert_eq!(b["outcome"], "duplicate");
    let doubles: Vec<u64> = tickets
        .iter()
        .copied()
        .filter(|&t| gorgias.replies(t).len() != 1)
        .collect();
    println!(
        "kill -9: {} messages sent, {} posted before the kill, {} answered {:.2} s after restart, {} duplicates",
        tickets.len(),
        before,
        tickets.iter().filter(|&&t| gorgias.replies(t).len() == 1).count(),
        restarted.elapsed().as_secs_f64(),
        doubles.len()
    );
    assert!(
        doubles.is_empty(),
        "tickets answered more than once: {doubles:?}"
    );
}

/// Runs a handoff, lets `steps_done` of its writes succeed, kills the process, restarts it, and
/// checks each of the three steps happened exactly once, in order.
async fn kill_during_handoff(steps_done: u32) {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = FakeGorgias::start();
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let agent = Agent::start(&config, port).await;
    let ticket = 6000 + steps_done as u64;

    gorgias.block_after_writes(steps_done);
    agent
        .webhook(&customer_event(ticket, 1, "I want a refund"))
        .await;
    eventually("the blocked step was attempted", WAIT, || {
        gorgias.calls().iter().any(|c| c.status == 503)
    })
    .await;
    agent.kill9();
    assert_eq!(gorgias.writes().len(), steps_done as usize);

    gorgias.heal();
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let _agent = Agent::start(&config, port).await;
    eventually("the handoff completes", Duration::from_secs(60), || {
        gorgias.ticket_updates(ticket).len() == 1
    })
    .await;
    let kinds: Vec<String> = gorgias
        .writes()
        .iter()
        .map(|c| match (c.method.as_str(), c.body["channel"].as_str()) {
            ("POST", Some("internal-note")) => "note".into(),
            ("POST", _) => "reply".into(),
            (m, _) => m.to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        ["reply", "note", "PUT"],
        "after a kill with {steps_done} steps done"
    );
}

#[actix_web::test]
async fn kill_9_before_the_final_reply_of_a_handoff() {
    kill_during_handoff(0).await;
}

#[actix_web::test]
async fn kill_9_between_the_final_reply_and_the_note() {
    kill_during_handoff(1).await;
}

#[actix_web::test]
async fn kill_9_between_the_note_and_the_reassignment() {
    kill_during_handoff(2).await;
}

/// Tags and close after a reply, and tags on a handoff.
const LIFECYCLE: &[(&str, &str)] = &[
    ("GORGIAS_AGENT__AUTOPILOT__REPLY_TAGS", "ai-replied"),
    ("GORGIAS_AGENT__AUTOPILOT__CLOSE_AFTER_REPLY", "true"),
    ("GORGIAS_AGENT__HANDOFF__TAGS", "ai-handoff-{reason}"),
];

/// Runs a turn with the lifecycle actions, lets `steps_done` of its writes succeed, kills the
/// process, restarts it, and checks the Gorgias writes on the ticket are `expected`: each step
/// exactly once, in order.
async fn kill_during_lifecycle(text: &str, steps_done: u32, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = FakeGorgias::start();
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let agent = Agent::start_with_env(&config, port, LIFECYCLE).await;
    let ticket = 6100 + steps_done as u64 + 10 * expected.len() as u64;

    gorgias.block_after_writes(steps_done);
    agent.webhook(&customer_event(ticket, 1, text)).await;
    eventually("the blocked step was attempted", WAIT, || {
        gorgias.calls().iter().any(|c| c.status == 503)
    })
    .await;
    // Killed once the progress is stored: the steps done are known done. (Killed before, the
    // restarted agent treats them as in doubt: a post is looked up, but tags and the close,
    // harmless to repeat, are simply sent again.)
    let owed = (expected.len() - steps_done as usize) as u64;
    let deadline = std::time::Instant::now() + WAIT;
    while agent.pending_actions().await != Some(owed) {
        assert!(std::time::Instant::now() < deadline, "progress not stored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    agent.kill9();
    assert_eq!(gorgias.writes().len(), steps_done as usize);

    gorgias.heal();
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let agent = Agent::start_with_env(&config, port, LIFECYCLE).await;
    eventually("every step done", Duration::from_secs(60), || {
        gorgias.writes().len() >= expected.len()
    })
    .await;
    agent.settled().await;
    let kinds: Vec<String> = gorgias
        .writes()
        .iter()
        .map(|c| {
            let tail = c.path.rsplit('/').next().unwrap_or_default();
            match (c.method.as_str(), tail, c.body["channel"].as_str()) {
                ("POST", "messages", Some("internal-note")) => "note".into(),
                ("POST", "messages", _) => "reply".into(),
                ("POST", "tags", _) => format!("tags {}", c.body["names"]),
                ("PUT", _, _) if c.body.get("status").is_some() => "close".into(),
                (m, _, _) => m.to_string(),
            }
        })
        .collect();
    assert_eq!(kinds, expected, "after a kill with {steps_done} steps done");
}

#[actix_web::test]
async fn kill_9_between_the_reply_and_its_tags() {
    kill_during_lifecycle(
        "where is my order",
        1,
        &["reply", "tags [\"ai-replied\"]", "close"],
    )
    .await;
}

#[actix_web::test]
async fn kill_9_between_the_tags_and_the_close() {
    kill_during_lifecycle(
        "where is my order",
        2,
        &["reply", "tags [\"ai-replied\"]", "close"],
    )
    .await;
}

#[actix_web::test]
async fn kill_9_between_the_handoff_note_and_its_tags() {
    kill_during_lifecycle(
        "I want a refund",
        2,
        &["reply", "note", "tags [\"ai-handoff-skip_topic\"]", "PUT"],
    )
    .await;
}

#[actix_web::test]
async fn sigterm_stops_accepting_flushes_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = FakeGorgias::start();
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let mut agent = Agent::start(&config, port).await;
    let b = agent
        .webhook(&customer_event(7000, 1, "where is my order"))
        .await;
    assert_eq!(b["outcome"], "accepted");
    eventually("answered", WAIT, || gorgias.replies(7000).len() == 1).await;

    let status = Command::new("kill")
        .args(["-TERM", &agent.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = agent.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(exit.code(), Some(0));

    // Everything it acknowledged is on disk: a restart knows the message.
    let port = free_port();
    let config = write_config(dir.path(), port, &gorgias);
    let agent = Agent::start(&config, port).await;
    let b = agent
        .webhook(&customer_event(7000, 1, "where is my order"))
        .await;
    assert_eq!(b["outcome"], "duplicate");
    assert_eq!(gorgias.replies(7000).len(), 1);
}

#[actix_web::test]
async fn storage_that_cannot_be_opened_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = FakeGorgias::start();
    let config = write_config(dir.path(), free_port(), &gorgias);
    // The storage path is taken by a plain file.
    std::fs::write(dir.path().join("store"), "not a database").unwrap();
    let out = agent_command(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open storage at"), "{stderr}");
}

#[actix_web::test]
async fn a_bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[server]\nwebhook_token = \"\"\n[gorgias]\nai_user_id = 1\n",
    )
    .unwrap();
    let out = agent_command(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.webhook_token"), "{stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one clear message: {stderr}"
    );
}
