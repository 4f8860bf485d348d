//! `replay`: past tickets through the production path, offline. The binary on a fixture file,
//! an unreadable file, `--from-gorgias` against the fake Gorgias, and the same conversation
//! through the running server and through replay.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use gorgias_agent::replay::{self, input, ReplayOptions};
use serde_json::{json, Value};

use crate::fake_gorgias::FakeGorgias;
use crate::fake_openai::{FakeOpenAi, MODEL, MODEL_KEY};
use crate::helpers::*;

const PAST_TICKETS: &str = include_str!("../fixtures/replay/past-tickets.jsonl");

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay/past-tickets.jsonl")
}

/// Runs `gorgias-agent --config CONFIG replay ARGS` with `env` (off the test's runtime thread).
async fn run_replay(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = agent_command(config);
    cmd.arg("replay").args(args).envs(env.iter().copied());
    output_of(cmd).await
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Each ticket's (outcome, reason), by ticket id.
fn outcomes(report: &Value) -> Vec<(u64, String, String)> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ticket_id"].as_u64().unwrap(),
                r["outcome"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn result(report: &Value, ticket_id: u64) -> &Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ticket_id"] == ticket_id)
        .unwrap()
}

/// The fixture's answers: one reply allowed per ticket, so the second question of 1005 is
/// over `max_ai_replies`.
const ONE_REPLY: (&str, &str) = ("GORGIAS_AGENT__HANDOFF__MAX_AI_REPLIES", "1");

#[actix_web::test]
async fn replaying_past_tickets_reports_each_outcome_writes_json_and_html_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = FakeGorgias::start();
    let config = write_test_config(dir.path(), &gorgias.base_url);
    let (json_out, html_out) = (
        dir.path().join("report.json"),
        dir.path().join("report.html"),
    );
    let fixture = fixture_path();
    let out = run_replay(
        &config,
        &[
            fixture.to_str().unwrap(),
            "--json",
            json_out.to_str().unwrap(),
            "--html",
            html_out.to_str().unwrap(),
        ],
        &[ONE_REPLY],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let report = read_json(&json_out);
    assert_eq!(report["tickets"], 10);
    assert_eq!(report["automated"], 2);
    assert_eq!(report["automation_rate"], 0.2);
    assert_eq!(
        report["handoffs"],
        json!({"complaint": 1, "customer_asked_for_human": 1, "max_ai_replies": 1,
               "needs_action": 1, "no_answer": 1, "skip_topic": 1})
    );
    assert_eq!(report["topics"]["order-status"], 1);
    assert_eq!(report["topics"]["returns"], 2);
    let expected = [
        (1001, "automated", "answered"),
        (1002, "handed_off", "customer_asked_for_human"),
        (1003, "handed_off", "skip_topic"),
        (1004, "handed_off", "no_answer"),
        (1005, "handed_off", "max_ai_replies"),
        (1006, "handed_off", "needs_action"),
        (1007, "handed_off", "complaint"),
        (1008, "ignored", "agent_message"),
        (1009, "ignored", "internal_note"),
        // Assigned to a human in the file: replayed as if the AI had had it.
        (1010, "automated", "answered"),
    ];
    let expected: Vec<(u64, String, String)> = expected
        .iter()
        .map(|(t, o, r)| (*t, o.to_string(), r.to_string()))
        .collect();
    assert_eq!(outcomes(&report), expected);
    assert_eq!(report["unreadable"][0]["line"], 8);

    // The AI's reply became history: the second question of 1005 is over the one reply.
    let t1005 = &result(&report, 1005)["turns"];
    assert_eq!(t1005.as_array().unwrap().len(), 2);
    assert_eq!(t1005[0]["outcome"], "replied");
    assert_eq!(t1005[0]["topic"], "returns");
    assert!(t1005[0]["reply"].as_str().unwrap().contains("30 days"));
    assert_eq!(t1005[1]["outcome"], "handed_off");
    let t1001 = result(&report, 1001);
    assert_eq!(
        t1001["turns"][0]["customer"],
        "Hi, where is my order? It has not shipped yet."
    );
    assert_eq!(t1001["turns"][0]["reason"], "answered");
    assert_eq!(
        t1001["human_reply"],
        "Hello! Your order left our warehouse yesterday."
    );
    assert_eq!(
        result(&report, 1008)["human_reply"],
        "Hello, we noticed a problem with your payment."
    );

    assert!(
        stdout.contains("tickets 10  automated 2 (20.0%)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1006") && stdout.contains("needs_action"),
        "{stdout}"
    );
    assert!(stdout.contains("line 8"), "{stdout}");

    // The customer's <script> is text on the page, never a live element.
    let html = std::fs::read_to_string(&html_out).unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(html.contains("You can return any item within 30 days"));

    // Nothing was sent to Gorgias, and the configured storage was never opened.
    assert!(gorgias.calls().is_empty(), "{:?}", gorgias.calls());
    assert!(!dir.path().join("store").exists());
}

#[actix_web::test]
async fn with_respect_assignment_the_tickets_of_humans_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_test_config(dir.path(), "http://127.0.0.1:9");
    let json_out = dir.path().join("report.json");
    let fixture = fixture_path();
    let out = run_replay(
        &config,
        &[
            fixture.to_str().unwrap(),
            "--respect-assignment",
            "--json",
            json_out.to_str().unwrap(),
        ],
        &[ONE_REPLY],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let report = read_json(&json_out);
    assert_eq!(report["automated"], 1);
    let t1010 = result(&report, 1010);
    assert_eq!(t1010["outcome"], "ignored");
    assert_eq!(t1010["reason"], "not_assigned_to_ai");
    assert_eq!(result(&report, 1001)["outcome"], "automated");
}

#[actix_web::test]
async fn an_unreadable_file_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_test_config(dir.path(), "http://127.0.0.1:9");
    let missing = dir.path().join("nope.jsonl");
    let out = run_replay(&config, &[missing.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read") && stderr.contains("nope.jsonl"),
        "{stderr}"
    );

    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, "this is\nnot json\n").unwrap();
    let out = run_replay(&config, &[garbage.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("holds no readable ticket (line 1: not JSON"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// The customer messages of one conversation, as webhook bodies and as a past ticket.
fn conversation(ticket_id: u64, texts: &[&str]) -> (Vec<Value>, Value) {
    let events: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut e = customer_event(ticket_id, ticket_id * 10 + i as u64, text);
            e["message"]["created_datetime"] = json!(format!("2024-06-01T10:0{i}:00"));
            e
        })
        .collect();
    let mut ticket = events[0]["ticket"].clone();
    ticket["messages"] = Value::Array(events.iter().map(|e| e["message"].clone()).collect());
    (events, ticket)
}

#[actix_web::test]
async fn replay_decides_and_answers_exactly_as_the_running_server() {
    let app = TestApp::spawn().await;
    let ticket_id = 4242;
    let texts = [
        "How do I return an item?",
        "Thanks! And where is my order, do you have the tracking?",
        "Hmm, what about gift cards for the zoo?",
    ];
    let (events, past) = conversation(ticket_id, &texts);

    // Through the server, one message at a time, each answered before the next.
    for (i, event) in events.iter().enumerate() {
        let (status, body) = app.webhook(event).await;
        assert_eq!((status, body["outcome"].clone()), (200, json!("accepted")));
        eventually("the answer is posted", WAIT, || {
            app.gorgias.replies(ticket_id).len() > i
        })
        .await;
    }
    let served_replies: Vec<String> = app
        .gorgias
        .replies(ticket_id)
        .iter()
        .map(|m| m.body["body_text"].as_str().unwrap().to_string())
        .collect();
    let session = app.store().load_session(ticket_id).unwrap().unwrap();
    let served: Vec<(String, String)> = session
        .decisions
        .iter()
        .map(|d| (d.outcome.code().to_string(), d.reason.clone()))
        .collect();

    // Through replay, with the same settings.
    let tickets = input::read_values(vec![(1, Ok(past))]);
    let scratch = tempfile::tempdir().unwrap();
    let options = ReplayOptions {
        respect_assignment: false,
        concurrency: 2,
        progress: false,
    };
    let report = replay::run(&app.settings, tickets, scratch.path(), &options)
        .await
        .unwrap();
    let turns = &report.results[0].turns;
    let replayed: Vec<(String, String)> = turns
        .iter()
        .map(|t| (t.outcome.clone(), t.reason.clone()))
        .collect();
    let replayed_replies: Vec<String> = turns.iter().filter_map(|t| t.reply.clone()).collect();

    assert_eq!(replayed, served);
    assert_eq!(replayed_replies, served_replies);
    // The conversation is a real test of both: two answers, then a handoff.
    assert_eq!(served.len(), 3, "{served:?}");
    assert_eq!(served[0], ("replied".to_string(), "answered".to_string()));
    assert_eq!(served[2].0, "handed_off");
}

/// The readable fixture tickets, newest first (as Gorgias lists them).
fn past_tickets() -> Vec<Value> {
    let mut tickets: Vec<Value> = PAST_TICKETS
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    tickets.reverse();
    tickets
}

#[actix_web::test]
async fn from_gorgias_reads_the_most_recent_tickets_with_gets_only_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = FakeGorgias::start();
    gorgias.seed_tickets(past_tickets());
    gorgias.page_size(3);
    // The account's bucket, at the agent's budget of 4 per second (one call of slack for
    // loopback jitter): any call beyond the budget is answered 429 and counted.
    gorgias.rate_limit(5, Duration::from_millis(1250));
    let config = write_test_config(dir.path(), &gorgias.base_url);
    let json_out = dir.path().join("report.json");
    let out = run_replay(
        &config,
        &["--from-gorgias", "7", "--json", json_out.to_str().unwrap()],
        &[
            ONE_REPLY,
            ("GORGIAS_AGENT__GORGIAS__MODE", "dry-run"),
            ("GORGIAS_AGENT__GORGIAS__REQUESTS_PER_WINDOW", "4"),
            ("GORGIAS_AGENT__GORGIAS__WINDOW_SECS", "1"),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("read 7 tickets from Gorgias"), "{stderr}");

    let report = read_json(&json_out);
    assert_eq!(report["tickets"], 7);
    let ids: Vec<u64> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ticket_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1010, 1009, 1008, 1007, 1006, 1005, 1004]);
    assert_eq!(result(&report, 1010)["outcome"], "automated");
    assert_eq!(result(&report, 1005)["reason"], "max_ai_replies");

    let calls = gorgias.calls();
    assert!(calls.iter().all(|c| c.method == "GET"), "{calls:?}");
    assert_eq!(gorgias.throttled(), 0, "over the budget: {calls:?}");
    let lists: Vec<&str> = calls
        .iter()
        .filter(|c| c.path == "/api/tickets")
        .map(|c| c.query.as_str())
        .collect();
    assert_eq!(lists.len(), 3, "7 tickets in pages of 3: {lists:?}");
    assert!(
        lists[0].contains("order_by=created_datetime:desc"),
        "{lists:?}"
    );
    assert!(lists[1].contains("cursor=offset-3"), "{lists:?}");
    let message_reads = calls
        .iter()
        .filter(|c| c.path.ends_with("/messages"))
        .count();
    assert_eq!(message_reads, 7);
    assert_eq!(calls.len(), 10);
}

#[actix_web::test]
async fn from_gorgias_without_credentials_says_which_key_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_test_config(dir.path(), "http://127.0.0.1:9");
    let out = run_replay(
        &config,
        &["--from-gorgias", "5"],
        &[
            ("GORGIAS_AGENT__GORGIAS__API_KEY", ""),
            ("GORGIAS_AGENT__GORGIAS__MODE", "dry-run"),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gorgias.api_key is empty"), "{stderr}");
}

#[actix_web::test]
async fn the_openai_brain_replays_several_tickets_at_once_but_no_more_than_asked() {
    let model = FakeOpenAi::start();
    // Long enough that tickets overlap whenever replay lets them.
    model.delay(Duration::from_millis(400));
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        "http://127.0.0.1:9",
        &dir.path().join("store"),
        &[
            ("brain.backend", "openai"),
            ("brain.openai.base_url", model.base_url.as_str()),
            ("brain.openai.api_key", MODEL_KEY),
            ("brain.openai.model", MODEL),
        ],
    );
    let past: Vec<(usize, Result<Value, String>)> = (0..9u64)
        .map(|i| {
            (
                i as usize + 1,
                Ok(conversation(7000 + i, &["Do you have it in blue?"]).1),
            )
        })
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let options = ReplayOptions {
        respect_assignment: false,
        concurrency: 3,
        progress: false,
    };
    let report = replay::run(
        &settings,
        input::read_values(past),
        scratch.path(),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(report.automated, 9, "{report:?}");
    assert_eq!(
        report.results[0].turns[0].reply.as_deref(),
        Some("Default answer from the fake model.")
    );
    assert_eq!(model.decisions().len(), 9);
    assert_eq!(model.max_in_flight(), 3);
}
