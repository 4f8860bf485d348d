//! The real server on port 0: [`TestApp`] runs it with its actors on their own arbiter (so a
//! test can stop it and start it again on the same storage) against a fake Gorgias;
//! [`start_agent`] runs it on the caller's arbiter, for benches that account CPU by thread.

use std::net::TcpListener;
use std::time::Duration;

use actix::Arbiter;
use gorgias_agent::config::Settings;
use gorgias_agent::domain::hours::Clock;
use gorgias_agent::server::{self, Running};
use gorgias_agent::store::Store;
use serde_json::Value;

use crate::config::{config_toml, settings_from_toml, TOKEN};
use crate::fake_gorgias::FakeGorgias;

/// A running agent plus its fake Gorgias and storage.
pub struct TestApp {
    pub address: String,
    pub gorgias: FakeGorgias,
    pub running: Option<Running>,
    arbiter: Option<Arbiter>,
    pub settings: Settings,
    /// Where the agent's "now" comes from.
    pub clock: Clock,
    _dir: Option<tempfile::TempDir>,
    client: awc::Client,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    /// Spawns with `(dotted.key, value)` overrides such as `("gorgias.mode", "shadow")`.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_with_clock(overrides, Clock::System).await
    }

    /// [`TestApp::spawn_with`], the agent's "now" taken from `clock`.
    pub async fn spawn_with_clock(overrides: &[(&str, &str)], clock: Clock) -> TestApp {
        Self::spawn_with_config_and_clock(|toml| toml, overrides, clock).await
    }

    /// Spawns with the test configuration's TOML text changed by `edit` (a topic's answer, say),
    /// then `overrides` applied.
    pub async fn spawn_with_config(
        edit: impl FnOnce(String) -> String,
        overrides: &[(&str, &str)],
    ) -> TestApp {
        Self::spawn_with_config_and_clock(edit, overrides, Clock::System).await
    }

    async fn spawn_with_config_and_clock(
        edit: impl FnOnce(String) -> String,
        overrides: &[(&str, &str)],
        clock: Clock,
    ) -> TestApp {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("store");
        let gorgias = FakeGorgias::start();
        let text = edit(config_toml(&gorgias.base_url, &storage));
        let s = settings_from_toml(&text, overrides);
        let mut app = TestApp {
            address: String::new(),
            gorgias,
            running: None,
            arbiter: None,
            settings: s,
            clock,
            _dir: Some(dir),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish(),
        };
        app.start().await;
        app
    }

    async fn start(&mut self) {
        let arbiter = Arbiter::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let settings = self.settings.clone();
        let clock = self.clock;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // `server::start` waits (bounded) for a previous life of the agent to let go of the
        // store's lock.
        arbiter.spawn(async move {
            let _ = tx.send(server::start_with_clock(settings, listener, clock).await);
        });
        let running = rx.await.unwrap().expect("the agent starts");
        self.address = format!("http://{}", running.addr);
        self.running = Some(running);
        self.arbiter = Some(arbiter);
    }

    /// Stops the agent (HTTP, actors, storage) and starts it again on the same storage.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.server.stop(true).await;
            drop(running);
        }
        if let Some(arbiter) = self.arbiter.take() {
            arbiter.stop();
            arbiter.join().unwrap();
        }
    }

    pub fn store(&self) -> &Store {
        &self.running.as_ref().unwrap().store
    }

    /// Posts a webhook body with the right secret; returns status and JSON body.
    pub async fn webhook(&self, body: &Value) -> (u16, Value) {
        self.webhook_raw(
            body.to_string().into_bytes(),
            Some(("X-Webhook-Token", TOKEN)),
            "",
        )
        .await
    }

    pub async fn webhook_raw(
        &self,
        body: Vec<u8>,
        header: Option<(&str, &str)>,
        query: &str,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/webhooks/gorgias{query}", self.address))
            .insert_header(("Content-Type", "application/json"));
        if let Some(h) = header {
            req = req.insert_header(h);
        }
        let mut resp = req.send_body(body).await.expect("webhook request");
        let status = resp.status().as_u16();
        let bytes = resp.body().limit(1 << 20).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// `GET path` with an optional bearer token: status, JSON body (`Null` if none) and text.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value, String) {
        self.call(self.client.get(format!("{}{path}", self.address)), bearer)
            .await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let (status, body, _) = self
            .call(self.client.post(format!("{}{path}", self.address)), bearer)
            .await;
        (status, body)
    }

    pub async fn delete(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let (status, body, _) = self
            .call(
                self.client.delete(format!("{}{path}", self.address)),
                bearer,
            )
            .await;
        (status, body)
    }

    async fn call(
        &self,
        mut req: awc::ClientRequest,
        bearer: Option<&str>,
    ) -> (u16, Value, String) {
        if let Some(token) = bearer {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.body().limit(8 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&bytes).to_string();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(arbiter) = self.arbiter.take() {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_logs() {
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    }
}

/// A port nobody listens on right now, for a child process that binds it itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the real server on port 0 on the current arbiter: its actors run on the caller's
/// thread (a bench reads that thread's CPU as theirs).
pub async fn start_agent(settings: Settings) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the agent");
    server::start(settings, listener)
        .await
        .expect("the agent starts")
}

/// Stops a server [`start_agent`] started, waiting for its HTTP side to end.
pub async fn stop_agent(running: Running) {
    running.server.stop(true).await;
    let _ = running.stopped.await;
}

/// Runs `cmd` to its end on a blocking thread: a fake the child calls answers on the test's
/// runtime thread, which must stay free meanwhile.
pub async fn output_of(mut cmd: std::process::Command) -> std::process::Output {
    actix_web::rt::task::spawn_blocking(move || cmd.output().expect("the binary runs"))
        .await
        .unwrap()
}

/// Everything a child printed: its stdout, then its stderr.
pub fn printed(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
