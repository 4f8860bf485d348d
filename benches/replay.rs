//! Replay speed: 10,000 synthetic past tickets (two customer messages and a human reply each)
//! through `replay::run` with the knowledge-base brain of the shipped `config.toml`, on the
//! scratch store; then 500 of them on a durable store (a flush per commit), to show what the
//! scratch store saves.
//!
//! `cargo bench --bench replay` (plain timing, no harness; prints tickets per second).

use std::time::Instant;

use gorgias_agent::config::Settings;
use gorgias_agent::replay::input::{read_values, Tickets};
use gorgias_agent::replay::{self, ReplayOptions, Replayer};
use gorgias_agent::store::Store;
use gorgias_agent_testkit::fixtures::SHIPPED_CONFIG;
use serde_json::{json, Value};

const QUESTIONS: [&str; 6] = [
    "Hi, where is my order? It has not arrived yet.",
    "How do I return an item I bought last week?",
    "Can I talk to a human please?",
    "Do you ship to Canada, and how long does delivery take?",
    "Do you sell gift cards for the zoo?",
    "My parcel arrived damaged, the mug is broken",
];
const FOLLOW_UPS: [&str; 3] = [
    "Thanks! And can I get the tracking number?",
    "OK, and can I exchange it for another size?",
    "Great, thank you.",
];

fn ticket(i: u64) -> Value {
    let id = 5_000_000 + i;
    let email = format!("customer{i}@example.com");
    let customer = |n: u64, text: &str, minute: u64| {
        json!({"id": id * 10 + n, "from_agent": false, "public": true, "channel": "email",
               "sender": {"email": email}, "body_text": text,
               "created_datetime": format!("2024-05-01T10:{minute:02}:00")})
    };
    json!({
        "id": id, "channel": "email", "subject": "Question",
        "assignee_user": {"id": 7},
        "customer": {"id": 100 + i, "email": email, "name": "Pat"},
        "messages": [
            customer(1, QUESTIONS[(i % 6) as usize], 1),
            {"id": id * 10 + 2, "from_agent": true, "public": true, "channel": "email",
             "sender": {"email": "agent@shop.example"}, "body_text": "Let me check.",
             "created_datetime": "2024-05-01T10:05:00"},
            customer(3, FOLLOW_UPS[(i % 3) as usize], 9),
        ]
    })
}

fn tickets(n: u64) -> Tickets {
    read_values((0..n).map(|i| (i as usize + 1, Ok(ticket(i)))).collect())
}

fn main() {
    let settings = Settings::from_toml_and_env(SHIPPED_CONFIG, Vec::new()).expect("config.toml");
    let options = ReplayOptions {
        respect_assignment: false,
        concurrency: 8,
        progress: false,
    };
    let n = 10_000;
    let input = tickets(n);
    let system = actix::System::new();

    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let report = system
        .block_on(replay::run(&settings, input, dir.path(), &options))
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.tickets, n);
    println!(
        "replay, knowledge-base, scratch store: {n} tickets in {:.2} s ({:.0} tickets/s); automated {:.1}%",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        report.automation_rate * 100.0
    );

    let m = 500;
    let input = tickets(m);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let results = system.block_on(async {
        let store = Store::open(&dir.path().join("durable.sled")).unwrap();
        let replayer = Replayer::new(&settings, store, false).unwrap();
        replayer.replay_all(&input.tickets, 8, false).await
    });
    let elapsed = started.elapsed();
    assert_eq!(results.len() as u64, m);
    println!(
        "replay, knowledge-base, durable store (flush per commit): {m} tickets in {:.2} s ({:.0} tickets/s)",
        elapsed.as_secs_f64(),
        m as f64 / elapsed.as_secs_f64()
    );
}
