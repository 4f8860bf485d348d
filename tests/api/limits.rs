//! Limits on what the outside can make the agent do or say: a malformed field's value is never
//! echoed (answer or logs), ids that are not exact integers are refused rather than rounded,
//! weak tokens keep live mode from starting, 503s say nothing of the OS, a stalled body gets a
//! 408, connections are capped, and a flooded session stays bounded.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn a_malformed_field_is_named_but_its_value_reaches_neither_the_answer_nor_the_logs() {
    let gorgias = crate::fake_gorgias::FakeGorgias::start();
    let agent = crate::logs::JsonLoggedAgent::start(&gorgias).await;
    let (client, address, lines) = (&agent.client, &agent.address, &agent.lines);
    let email = "jane.doe-7731@example.com";
    let mut event = customer_event(71, 711, "where is my order");
    event["message"]["id"] = json!(email);
    let mut resp = client
        .post(format!("{address}/webhooks/gorgias"))
        .insert_header(("X-Webhook-Token", TOKEN))
        .send_json(&event)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body = String::from_utf8_lossy(&resp.body().await.unwrap()).to_string();
    assert!(body.contains("message.id"), "the field is named: {body}");
    assert!(
        body.contains("integer"),
        "the expected type is named: {body}"
    );
    assert!(!body.contains("jane"), "the value was echoed: {body}");

    let logged = |lines: &[String]| {
        lines.iter().any(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["reason"] == "malformed" && v["path"] == "message.id")
        })
    };
    eventually("the malformed webhook in the log", WAIT, || {
        logged(&lines.lock().unwrap())
    })
    .await;
    for line in lines.lock().unwrap().iter() {
        assert!(!line.contains("jane"), "the value was logged: {line}");
    }
}

#[actix_web::test]
async fn an_id_that_is_not_an_exact_integer_is_refused_not_rounded_into_a_duplicate() {
    let app = TestApp::spawn().await;
    // 2^53: a real message, answered.
    let (status, body) = app
        .webhook(&customer_event(
            72,
            9_007_199_254_740_992,
            "where is my order",
        ))
        .await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("accepted")));
    // 2^53 + 1 written as a float rounds to 2^53: it must not pass for that message.
    let app = &app;
    let status = |field: &'static str, raw: &'static str| {
        let mut event = customer_event(72, 1, "where is my order");
        event[field]["id"] = json!("<id>");
        let body = event.to_string().replace("\"<id>\"", raw);
        async move {
            let (status, answer) = app
                .webhook_raw(body.into_bytes(), Some(("X-Webhook-Token", TOKEN)), "")
                .await;
            (
                status,
                answer["error"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    let (code, error) = status("message", "9007199254740993.0").await;
    assert_eq!(code, 400, "{error}");
    assert!(error.starts_with("message.id"), "{error}");
    for raw in ["72.5", "7.2e1", "-72", "72.0"] {
        let (code, error) = status("ticket", raw).await;
        assert_eq!(code, 400, "{raw}: {error}");
        assert!(error.starts_with("ticket.id"), "{raw}: {error}");
    }
    eventually("the real message answered", WAIT, || {
        app.gorgias.replies(72).len() == 1
    })
    .await;
    let session = app.store().load_session(72).unwrap().unwrap();
    assert_eq!(
        session.history.len(),
        2,
        "one message and its answer, nothing else"
    );
}

/// Runs the binary with the test config and `GORGIAS_AGENT__*` overrides; exit code and output.
async fn run_agent(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let gorgias = crate::fake_gorgias::FakeGorgias::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_test_config(dir.path(), &gorgias.base_url);
    let mut cmd = agent_command(&config);
    cmd.args(args)
        .env(
            "GORGIAS_AGENT__SERVER__BIND",
            format!("127.0.0.1:{}", free_port()),
        )
        .envs(env.iter().copied());
    let output = output_of(cmd).await;
    (output.status.code().unwrap_or(-1), printed(&output))
}

#[actix_web::test]
async fn live_mode_refuses_to_start_with_a_weak_token_and_dry_run_only_warns() {
    for (key, value) in [
        ("GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN", "dev-webhook-token"),
        ("GORGIAS_AGENT__SERVER__ADMIN_TOKEN", "hunter2-x"),
    ] {
        for args in [&["serve"][..], &["check"][..]] {
            let (code, text) = run_agent(args, &[(key, value)]).await;
            assert_eq!(code, 2, "{args:?}: {text}");
            let named = key
                .trim_start_matches("GORGIAS_AGENT__")
                .replace("__", ".")
                .to_lowercase();
            let lines: Vec<&str> = text.lines().filter(|l| l.contains(&named)).collect();
            assert_eq!(lines.len(), 1, "one line naming the key: {text}");
            assert!(lines[0].contains("live mode"), "{text}");
            assert!(!text.contains(value), "the value was printed: {text}");
        }
    }
    let (code, text) = run_agent(
        &["check"],
        &[
            ("GORGIAS_AGENT__GORGIAS__MODE", "dry-run"),
            ("GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN", "dev-webhook-token"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("[warn]")
            && l.contains("server.webhook_token")
            && l.contains("refused in live and shadow mode")),
        "{text}"
    );
}

#[actix_web::test]
async fn a_storage_failure_answers_a_generic_503_and_keeps_the_os_error_for_the_log() {
    let app = TestApp::spawn_with(&[("storage.commit_timeout_ms", "1000")]).await;
    app.store().faults().fail_writes(true);
    let (status, body) = app
        .webhook(&customer_event(73, 730, "where is my order"))
        .await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("storage unavailable"), "{error}");
    assert!(error.contains("retry later"), "{error}");
    // The seam's error reads like the OS's ("no space left on device").
    assert!(
        !error.contains("no space"),
        "OS error text answered: {error}"
    );
    assert!(!error.contains("injected"), "{error}");
    let (status, body, text) = app.get("/readyz", None).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("storage: the last write failed"),
        "{text}"
    );
    assert!(
        !text.contains("no space") && !text.contains("injected"),
        "{text}"
    );
    app.store().faults().fail_writes(false);
}

/// Sends the request line and `headers`, then only `partial` of a body of `length` bytes, on a
/// raw connection; returns everything the server sent until it closed the connection (bounded
/// by `within`), and how long that took.
async fn stalled_body(
    app: &TestApp,
    path: &str,
    headers: &str,
    length: usize,
    partial: &str,
    within: Duration,
) -> (String, Duration) {
    use std::io::{Read, Write};
    let addr = app.address.trim_start_matches("http://").to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {length}\r\n\r\n{partial}"
    );
    actix_web::rt::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(within)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        // Ends at the close; a read timeout (the server kept the connection) fails the test.
        stream
            .read_to_end(&mut answer)
            .expect("the server answers and closes the connection in time");
        (
            String::from_utf8_lossy(&answer).to_string(),
            started.elapsed(),
        )
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn a_body_that_never_finishes_is_answered_408_and_its_connection_closed() {
    let app = TestApp::spawn_with(&[("server.body_read_timeout_ms", "300")]).await;
    let headers = format!("X-Webhook-Token: {TOKEN}\r\nContent-Type: application/json\r\n");
    let (answer, took) = stalled_body(
        &app,
        "/webhooks/gorgias",
        &headers,
        5000,
        "{\"ticket\": {\"id\": 7",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_read_timeout_ms"), "{answer}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    // The console's sign-in form is read under the same deadline.
    let (answer, _) = stalled_body(
        &app,
        "/console/login",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        200,
        "token=test-",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A route that never reads its body answers, and closes rather than wait for the rest.
    for path in ["/healthz", "/admin/tickets/1/resume"] {
        let (answer, _) = stalled_body(
            &app,
            path,
            "Authorization: Bearer test-admin-token\r\n",
            100,
            "x",
            Duration::from_secs(10),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 "), "{path}: {answer}");
    }
    let (status, _, _) = app.get("/healthz", None).await;
    assert_eq!(status, 200);
    let (status, body) = app
        .webhook(&customer_event(74, 740, "where is my order"))
        .await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("accepted")));
}

#[actix_web::test]
async fn connections_beyond_server_max_connections_wait_until_one_is_closed() {
    use std::io::{Read, Write};
    let app = TestApp::spawn_with(&[("server.max_connections", "1")]).await;
    let addr = app.address.trim_start_matches("http://").to_string();
    let healthz = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    actix_web::rt::task::spawn_blocking(move || {
        let read_some = |stream: &mut std::net::TcpStream| {
            let mut buf = [0u8; 512];
            stream
                .read(&mut buf)
                .map(|n| String::from_utf8_lossy(&buf[..n]).to_string())
        };
        // The one connection the cap allows, kept open (keep-alive).
        let mut first = std::net::TcpStream::connect(&addr).unwrap();
        first
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        first.write_all(healthz.as_bytes()).unwrap();
        assert!(read_some(&mut first).unwrap().starts_with("HTTP/1.1 200"));
        // A second one is queued by the kernel but not served while the first is open.
        let mut second = std::net::TcpStream::connect(&addr).unwrap();
        second.write_all(healthz.as_bytes()).unwrap();
        second
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let early = read_some(&mut second);
        assert!(early.is_err(), "served beyond the cap: {early:?}");
        drop(first);
        second
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let answer = read_some(&mut second).expect("served once the first closed");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn a_ticket_flooded_with_long_messages_keeps_a_bounded_session_and_answers_each_once() {
    use crate::fake_openai::{FakeOpenAi, MODEL, MODEL_KEY};
    let model = FakeOpenAi::start();
    let app = TestApp::spawn_with(&[
        ("server.max_body_bytes", "262144"),
        ("sessions.max_message_chars", "5000"),
        ("sessions.max_session_bytes", "40000"),
        ("handoff.max_ai_replies", "100"),
        ("brain.backend", "openai"),
        ("brain.openai.base_url", model.base_url.as_str()),
        ("brain.openai.api_key", MODEL_KEY),
        ("brain.openai.model", MODEL),
    ])
    .await;
    let ticket = 75;
    let messages = 40u64;
    for i in 0..messages {
        // 40,000 characters each (the body carries them four times: about 160 KB).
        let prefix = format!("where is my order, message {i} ");
        let text = format!("{prefix}{}", "x".repeat(40_000 - prefix.len()));
        let (status, body) = app.webhook(&customer_event(ticket, 7500 + i, &text)).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("accepted")),
            "{i}"
        );
        eventually("the message answered", WAIT, || {
            app.gorgias.replies(ticket).len() == i as usize + 1
        })
        .await;
    }
    eventually("the ticket settles", WAIT, || {
        app.store()
            .load_session(ticket)
            .ok()
            .flatten()
            .is_some_and(|s| !s.has_pending_work())
    })
    .await;
    assert_eq!(
        app.gorgias.replies(ticket).len(),
        messages as usize,
        "once each"
    );

    let session = app.store().load_session(ticket).unwrap().unwrap();
    assert_eq!(
        session.history.len(),
        2 * messages as usize,
        "no entry dropped"
    );
    assert!(
        session.history_bytes() <= 40_000,
        "{}",
        session.history_bytes()
    );
    let stored = serde_json::to_vec(&session).unwrap().len();
    assert!(stored < 70_000, "stored session of {stored} bytes");
    println!(
        "{messages} messages of 40,000 characters: stored session {stored} bytes, history text {} bytes",
        session.history_bytes()
    );
    let newest = &session.history[session.history.len() - 2].text;
    assert!(
        newest.starts_with("where is my order, message 39 "),
        "{newest:.40}"
    );
    assert!(
        newest.ends_with("\n[… cut: 35000 characters]"),
        "{}",
        &newest[newest.len() - 40..]
    );
    assert!(
        session.history[0].text.starts_with("[… cut: "),
        "the oldest cut first"
    );

    // The model was shown the cut history, not 1.6 MB of it.
    let last = model.decisions().pop().unwrap();
    let shown: usize = last.messages().iter().map(|(_, c)| c.len()).sum();
    assert!(shown < 60_000, "{shown} bytes shown to the model");
    let (_, latest) = last.messages().pop().unwrap();
    assert!(
        latest.ends_with("[… cut: 35000 characters]"),
        "{}",
        &latest[latest.len() - 40..]
    );
}
