//! Delivery under faults: unknown outcomes, 503s, outages, rate limits, permanent refusals, and
//! a corpus of bad input. Every acknowledged message is answered exactly once.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

/// Waits until every listed ticket's session has nothing pending.
async fn settled(app: &TestApp, tickets: &[u64]) {
    let store = app.store().clone();
    eventually("sessions settle", Duration::from_secs(60), || {
        tickets.iter().all(|&t| {
            store
                .load_session(t)
                .unwrap()
                .is_some_and(|s| !s.has_pending_work() && !s.history.is_empty())
        })
    })
    .await;
}

#[actix_web::test]
async fn a_post_whose_answer_is_lost_is_found_by_external_id_not_posted_twice() {
    let app = TestApp::spawn().await;
    // Gorgias stores the reply but its answer arrives after our 1 s timeout.
    app.gorgias.drop_connection_after_posts(1);
    app.webhook(&customer_event(40, 401, "where is my order"))
        .await;
    settled(&app, &[40]).await;
    assert_eq!(app.gorgias.replies(40).len(), 1, "exactly one reply");
    let lookups = app
        .gorgias
        .calls()
        .iter()
        .filter(|c| c.method == "GET" && c.path == "/api/tickets/40/messages")
        .count();
    assert!(lookups >= 1, "the retry looked for the earlier post first");
    let session = app.store().load_session(40).unwrap().unwrap();
    assert_eq!(
        session.history[1].message_id,
        Some(app.gorgias.replies(40)[0].id),
        "the found post's id is recorded"
    );
}

#[actix_web::test]
async fn a_third_of_calls_failing_with_503_loses_and_doubles_nothing() {
    let app = TestApp::spawn().await;
    app.gorgias.fail_every(3);
    let tickets: Vec<u64> = (4100..4130).collect();
    for &t in &tickets {
        let (_, b) = app
            .webhook(&customer_event(t, t, "where is my order"))
            .await;
        assert_eq!(b["outcome"], "accepted");
    }
    settled(&app, &tickets).await;
    let failures = app
        .gorgias
        .calls()
        .iter()
        .filter(|c| c.status == 503)
        .count();
    assert!(failures > 0, "the fault was exercised");
    for &t in &tickets {
        assert_eq!(app.gorgias.replies(t).len(), 1, "ticket {t}");
    }
    println!(
        "503 on every 3rd call: {} messages, {} answered, {} failed calls",
        tickets.len(),
        tickets
            .iter()
            .filter(|&&t| app.gorgias.replies(t).len() == 1)
            .count(),
        failures
    );
}

#[actix_web::test]
async fn an_outage_delays_replies_and_then_every_message_is_answered_once() {
    // A two-minute outage, shortened: retries back off up to 200 ms and give up only after 30 s.
    let app = TestApp::spawn().await;
    app.gorgias.outage_for(Duration::from_secs(2));
    let tickets: Vec<u64> = (4200..4220).collect();
    let started = Instant::now();
    for &t in &tickets {
        app.webhook(&customer_event(t, t, "can I exchange it"))
            .await;
    }
    settled(&app, &tickets).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "replies waited for Gorgias"
    );
    for &t in &tickets {
        assert_eq!(app.gorgias.replies(t).len(), 1, "ticket {t}");
    }
}

#[actix_web::test]
async fn a_burst_is_paced_within_the_rate_limit() {
    let app = TestApp::spawn_with(&[
        ("gorgias.requests_per_window", "10"),
        ("gorgias.window_secs", "5"),
    ])
    .await;
    app.gorgias.rate_limit(10, Duration::from_secs(5));
    let tickets: Vec<u64> = (4300..4320).collect();
    let started = Instant::now();
    for &t in &tickets {
        app.webhook(&customer_event(t, t, "where is my order"))
            .await;
    }
    settled(&app, &tickets).await;
    let elapsed = started.elapsed();
    // 20 calls at 10 per 5 s: 10 at once, then one every 0.5 s.
    let ideal = Duration::from_millis(500) * 10;
    let throttled = app.gorgias.throttled();
    println!(
        "rate limit: {} messages in {:.2} s (ideal {:.2} s), {} answered with 429",
        tickets.len(),
        elapsed.as_secs_f64(),
        ideal.as_secs_f64(),
        throttled
    );
    for &t in &tickets {
        assert_eq!(app.gorgias.replies(t).len(), 1, "ticket {t}");
    }
    assert!(throttled <= 3, "{throttled} requests were throttled");
    assert!(elapsed <= ideal.mul_f64(1.5), "took {elapsed:?}");
}

#[actix_web::test]
async fn a_429_is_honoured_and_retried() {
    let app = TestApp::spawn().await;
    app.gorgias.script(&[429]);
    app.webhook(&customer_event(44, 441, "where is my order"))
        .await;
    settled(&app, &[44]).await;
    assert_eq!(app.gorgias.replies(44).len(), 1);
    let statuses: Vec<u16> = app.gorgias.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses.first(), Some(&429));
}

#[actix_web::test]
async fn a_reply_gorgias_refuses_permanently_is_handed_to_a_human() {
    let app = TestApp::spawn().await;
    app.gorgias.script(&[400]);
    app.webhook(&customer_event(45, 451, "where is my order"))
        .await;
    settled(&app, &[45]).await;
    let session = app.store().load_session(45).unwrap().unwrap();
    assert!(session.is_handed_off());
    assert_eq!(session.failed.len(), 1);
    assert!(session.failed[0].error.contains("400"));
    let reasons: Vec<&str> = session
        .decisions
        .iter()
        .map(|d| d.reason.as_str())
        .collect();
    assert!(reasons.contains(&"delivery_failed"), "{reasons:?}");
    // The human gets the note and the ticket; no reply went out.
    assert!(app.gorgias.replies(45).is_empty());
    let note = &app.gorgias.messages(45)[0].body;
    assert_eq!(note["channel"], "internal-note");
    assert!(note["body_text"]
        .as_str()
        .unwrap()
        .contains("delivery_failed"));
    assert_eq!(app.gorgias.ticket_updates(45).len(), 1);
}

#[actix_web::test]
async fn one_failing_ticket_does_not_block_the_others() {
    let app = TestApp::spawn_with(&[
        ("gorgias.retry_initial_ms", "5000"),
        ("gorgias.retry_max_ms", "5000"),
    ])
    .await;
    // The first write fails; that ticket backs off for seconds while the other is answered.
    app.gorgias.script(&[503]);
    app.webhook(&customer_event(46, 461, "where is my order"))
        .await;
    eventually("first attempt failed", WAIT, || {
        app.gorgias.calls().iter().any(|c| c.status == 503)
    })
    .await;
    app.webhook(&customer_event(47, 471, "where is my order"))
        .await;
    eventually("the other ticket answered", Duration::from_secs(3), || {
        app.gorgias.replies(47).len() == 1
    })
    .await;
}

#[actix_web::test]
async fn bad_input_gets_its_4xx_and_the_process_stays_healthy() {
    let app = TestApp::spawn().await;
    let mut deep = String::new();
    for _ in 0..5000 {
        deep.push_str("{\"a\":");
    }
    deep.push('1');
    for _ in 0..5000 {
        deep.push('}');
    }
    let wrong_types = json!({
        "ticket": {"id": 5, "assignee_user": "not an object", "customer": [1, 2]},
        "message": {"id": 1}
    });
    let corpus: Vec<(Vec<u8>, u16)> = vec![
        (Vec::new(), 400),
        (b"{\"ticket\": {\"id\": 1, \"cust".to_vec(), 400),
        (b"null".to_vec(), 400),
        (b"\"just a string\"".to_vec(), 400),
        (b"{\"ticket\": {\"id\": true}}".to_vec(), 400),
        (b"{\"ticket\": {\"id\": 1.5}}".to_vec(), 400),
        (
            b"{\"ticket\": {\"id\": 99999999999999999999999}}".to_vec(),
            400,
        ),
        (b"{\"ticket\": {\"id\": \"\xc3\x28\"}}".to_vec(), 400),
        (deep.into_bytes(), 400),
        (wrong_types.to_string().into_bytes(), 400),
        (vec![b'x'; 100_000], 413),
    ];
    for (body, expected) in corpus {
        let preview = String::from_utf8_lossy(&body[..body.len().min(40)]).to_string();
        let (s, b) = app
            .webhook_raw(body, Some(("X-Webhook-Token", TOKEN)), "")
            .await;
        assert_eq!(s, expected, "{preview:?} -> {b}");
        assert!(b["error"].is_string(), "{preview:?} -> {b}");
    }
    // Unknown fields and huge (in-limit) strings are fine.
    let mut v = customer_event(48, 481, "where is my order");
    v["unknown"] = json!({"deeply": {"nested": [1, 2, 3]}});
    v["ticket"]["subject"] = json!("s".repeat(30_000));
    let (s, b) = app.webhook(&v).await;
    assert_eq!((s, b["outcome"].as_str()), (200, Some("accepted")));
    let (s, _, _) = app.get("/healthz", None).await;
    assert_eq!(s, 200);
    settled(&app, &[48]).await;
}
