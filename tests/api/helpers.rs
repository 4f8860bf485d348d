//! Test harness: the real server on port 0 with its actors on their own arbiter (so a test can
//! stop it and start it again on the same storage), a fake Gorgias, fixtures, and polling.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix::Arbiter;
use gorgias_agent::config::Settings;
use gorgias_agent::domain::hours::Clock;
use gorgias_agent::server::{self, Running};
use gorgias_agent::store::Store;
use serde_json::{json, Value};

use crate::fake_gorgias::{FakeGorgias, API_EMAIL, API_KEY};

pub const TOKEN: &str = "test-webhook-token";
pub const AI_USER: u64 = 900001;
pub const MAIN_FIXTURE: &str =
    include_str!("../fixtures/synthetic-context-ticket-message-created.customer-message.json");

/// The test configuration: live mode against the fake Gorgias, fast retries, example topics.
const TEMPLATE: &str = r#"
[server]
bind = "127.0.0.1:0"
webhook_token = "{TOKEN}"
admin_token = "test-admin-token"
max_body_bytes = 65536

[storage]
path = "{STORAGE}"

[gorgias]
mode = "live"
base_url = "{BASE}"
api_email = "{EMAIL}"
api_key = "{KEY}"
ai_user_id = {AI_USER}
sender_name = "AI Assistant"
request_timeout_secs = 1
requests_per_window = 100000
window_secs = 1
retry_initial_ms = 20
retry_max_ms = 200
retry_for_secs = 30

[handoff]
user_id = 42
team_id = 77
max_ai_replies = 3
internal_note = true

[[autopilot.topics]]
name = "order-status"
description = "Where an order is, tracking, delivery times"
keywords = ["where is my order", "tracking", "shipped", "delivery", "où est ma commande"]
action = "handle"
answer = "Your order ships within 2 business days; the tracking link is in your confirmation email."
[autopilot.topics.answers]
fr = "Votre commande part sous 2 jours ouvrés ; le lien de suivi est dans votre e-mail de confirmation."

[[autopilot.topics]]
name = "returns"
description = "Returning or exchanging an item"
keywords = ["return", "exchange"]
action = "handle"
answer = "You can return any item within 30 days from your account page."

[[autopilot.topics]]
name = "refunds"
description = "Refunds and chargebacks"
keywords = ["refund", "money back", "chargeback"]
action = "skip"
"#;

/// Test settings with `(dotted.key, value)` overrides applied like environment variables.
pub fn settings(
    gorgias_url: &str,
    storage: &std::path::Path,
    overrides: &[(&str, &str)],
) -> Settings {
    settings_from_toml(&config_toml(gorgias_url, storage), overrides)
}

/// Settings from TOML `text` with `(dotted.key, value)` overrides applied like environment
/// variables.
pub fn settings_from_toml(text: &str, overrides: &[(&str, &str)]) -> Settings {
    let env = overrides.iter().map(|(k, v)| {
        (
            format!("GORGIAS_AGENT__{}", k.replace('.', "__").to_uppercase()),
            v.to_string(),
        )
    });
    Settings::from_toml_and_env(text, env).expect("test settings")
}

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

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value, String) {
        let mut req = self.client.get(format!("{}{path}", self.address));
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

    pub async fn post(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{path}", self.address));
        if let Some(token) = bearer {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.body().limit(8 << 20).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
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

/// The main fixture with another ticket id, message id and text.
pub fn customer_event(ticket_id: u64, message_id: u64, text: &str) -> Value {
    let mut v: Value = serde_json::from_str(MAIN_FIXTURE).unwrap();
    v["ticket"]["id"] = json!(ticket_id);
    v["message"]["id"] = json!(message_id);
    v["message"]["ticket_id"] = json!(ticket_id);
    for key in ["body_text", "stripped_text"] {
        v["message"][key] = json!(text);
    }
    v["message"]["body_html"] = json!(format!("<div>{text}</div>"));
    v["message"]["stripped_html"] = json!(format!("<div>{text}</div>"));
    v
}

/// Polls `condition` until it holds or `deadline` passes (then panics with `what`).
pub async fn eventually<F: FnMut() -> bool>(what: &str, deadline: Duration, mut condition: F) {
    let until = Instant::now() + deadline;
    loop {
        if condition() {
            return;
        }
        if Instant::now() > until {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub const WAIT: Duration = Duration::from_secs(20);

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_logs() {
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    }
}

/// The test configuration as TOML text (live mode against `gorgias_url`, storage at `storage`),
/// for tests that run the binary: override keys with `GORGIAS_AGENT__*` variables on the child.
pub fn config_toml(gorgias_url: &str, storage: &std::path::Path) -> String {
    TEMPLATE
        .replace("{TOKEN}", TOKEN)
        .replace(
            "{STORAGE}",
            &storage.display().to_string().replace('\\', "/"),
        )
        .replace("{BASE}", gorgias_url)
        .replace("{EMAIL}", API_EMAIL)
        .replace("{KEY}", API_KEY)
        .replace("{AI_USER}", &AI_USER.to_string())
}

/// Like [`eventually`], for conditions that must be awaited (an HTTP call).
pub async fn eventually_async<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    loop {
        if condition().await {
            return;
        }
        if Instant::now() > until {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
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

/// Writes the test configuration (storage inside `dir`) to `dir/config.toml`.
pub fn write_test_config(dir: &std::path::Path, gorgias_url: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, config_toml(gorgias_url, &dir.join("store"))).unwrap();
    path
}
