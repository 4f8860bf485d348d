//! Logs of the real binary with `log.format = "json"`: one JSON object per line, decisions
//! carrying the ticket id, outcome and reason, and neither secrets nor message bodies at info.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::fake_gorgias::{FakeGorgias, API_KEY};
use crate::helpers::*;

/// A child process killed when dropped, even when the test fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The agent binary in dry-run mode with `log.format = "json"` at info, listening, and every
/// line it has written so far.
pub struct JsonLoggedAgent {
    _child: KillOnDrop,
    _dir: tempfile::TempDir,
    pub lines: Arc<Mutex<Vec<String>>>,
    pub address: String,
    pub client: awc::Client,
}

impl JsonLoggedAgent {
    pub async fn start(gorgias: &FakeGorgias) -> JsonLoggedAgent {
        let dir = tempfile::tempdir().unwrap();
        let config = write_test_config(dir.path(), &gorgias.base_url);
        let bind = format!("127.0.0.1:{}", free_port());
        let mut child = agent_command(&config)
            .env("GORGIAS_AGENT__SERVER__BIND", &bind)
            .env("GORGIAS_AGENT__GORGIAS__MODE", "dry-run")
            .env("GORGIAS_AGENT__LOG__FORMAT", "json")
            .env("GORGIAS_AGENT__LOG__LEVEL", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the agent binary starts");
        let stdout = child.stdout.take().unwrap();
        let child = KillOnDrop(child);
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish();
        let address = format!("http://{bind}");
        eventually_async("the agent to listen", WAIT, || {
            let (client, address) = (&client, &address);
            async move {
                client
                    .get(format!("{address}/healthz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        JsonLoggedAgent {
            _child: child,
            _dir: dir,
            lines,
            address,
            client,
        }
    }
}

#[actix_web::test]
async fn json_logs_are_one_object_per_line_with_the_ticket_id_and_no_secrets_or_bodies() {
    let gorgias = FakeGorgias::start();
    let agent = JsonLoggedAgent::start(&gorgias).await;
    let (client, address, lines) = (&agent.client, &agent.address, &agent.lines);

    // A body no info line may repeat.
    let marker = "where is my order, it has the zebra-lamp-7731 in it";
    let mut resp = client
        .post(format!("{address}/webhooks/gorgias"))
        .insert_header(("X-Webhook-Token", TOKEN))
        .send_json(&customer_event(70, 701, marker))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["outcome"], "accepted");

    let decision = |outcome: &str| {
        let lines = lines.lock().unwrap();
        lines.iter().any(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["ticket_id"] == 70 && v["outcome"] == outcome)
        })
    };
    eventually(
        "the accepted and replied decisions in the log",
        WAIT,
        || decision("accepted") && decision("replied"),
    )
    .await;

    let lines = lines.lock().unwrap().clone();
    assert!(lines.len() >= 3, "{lines:#?}");
    for line in &lines {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(value.is_object(), "{line}");
        assert!(
            value["level"].is_string() && value["timestamp"].is_string(),
            "{line}"
        );
        assert!(
            !line.contains(TOKEN),
            "the webhook secret was logged: {line}"
        );
        assert!(!line.contains(API_KEY), "the API key was logged: {line}");
        assert!(
            !line.contains("test-admin-token"),
            "the admin token was logged: {line}"
        );
        assert!(
            !line.contains("zebra-lamp"),
            "a message body was logged: {line}"
        );
    }
    let replied = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["ticket_id"] == 70 && v["outcome"] == "replied")
        .unwrap();
    assert_eq!(replied["reason"], "answered");
    assert_eq!(replied["level"], "INFO");
    // The request's own log line carries the ticket id in its span.
    assert!(
        lines.iter().any(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| {
                v["outcome"] == "accepted"
                    && v["span"]["ticket_id"] == 70
                    && v["span"]["request_id"].is_string()
            })
        }),
        "{lines:#?}"
    );
}
