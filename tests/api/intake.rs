//! Intake: authentication, body limits, malformed bodies, and every ignore reason.

use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn accepted_customer_message_answers_with_ids() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .webhook(&serde_json::from_str(MAIN_FIXTURE).unwrap())
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"outcome": "accepted", "ticket_id": 100000001u64, "message_id": 300000002u64})
    );
}

#[actix_web::test]
async fn the_secret_is_accepted_in_header_bearer_or_query_and_nothing_else() {
    let app = TestApp::spawn().await;
    let body = customer_event(1, 11, "where is my order")
        .to_string()
        .into_bytes();
    let (s, _) = app
        .webhook_raw(body.clone(), Some(("X-Webhook-Token", TOKEN)), "")
        .await;
    assert_eq!(s, 200);
    let bearer = format!("Bearer {TOKEN}");
    let body = customer_event(1, 12, "where is my order")
        .to_string()
        .into_bytes();
    let (s, _) = app
        .webhook_raw(body, Some(("Authorization", &bearer)), "")
        .await;
    assert_eq!(s, 200);
    let body = customer_event(1, 13, "where is my order")
        .to_string()
        .into_bytes();
    let (s, _) = app
        .webhook_raw(body, None, &format!("?token={TOKEN}"))
        .await;
    assert_eq!(s, 200);

    for (header, query) in [
        (None, ""),
        (Some(("X-Webhook-Token", "wrong")), ""),
        (Some(("Authorization", "Bearer wrong")), ""),
        (None, "?token=wrong"),
    ] {
        let body = customer_event(2, 21, "where is my order")
            .to_string()
            .into_bytes();
        let (s, b) = app.webhook_raw(body, header, query).await;
        assert_eq!(s, 401);
        assert!(b["error"].as_str().unwrap().contains("secret"));
    }
    assert!(app.store().inbox_for(2).is_empty() && app.store().load_session(2).unwrap().is_none());
}

#[actix_web::test]
async fn malformed_bodies_get_400_naming_the_problem() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "empty"),
        (b"{\"ticket\": {\"id\": 1".to_vec(), "not valid JSON"),
        (b"[1,2]".to_vec(), "JSON object"),
        (
            b"{\"message\": {\"id\": 5}}".to_vec(),
            "ticket.id is missing",
        ),
        (b"{\"ticket\": {\"id\": \"abc\"}}".to_vec(), "ticket.id"),
        (b"{\"ticket\": {\"id\": 1\xff}}".to_vec(), "not valid JSON"),
    ];
    for (body, expected) in cases {
        let (s, b) = app
            .webhook_raw(body, Some(("X-Webhook-Token", TOKEN)), "")
            .await;
        assert_eq!(s, 400, "{b}");
        let msg = b["error"].as_str().unwrap();
        assert!(
            msg.contains(expected),
            "{msg:?} should mention {expected:?}"
        );
    }
    // A customer message without its id cannot be answered exactly once.
    let mut v = customer_event(3, 31, "hi");
    v["message"].as_object_mut().unwrap().remove("id");
    let (s, b) = app.webhook(&v).await;
    assert_eq!(s, 400);
    assert!(b["error"].as_str().unwrap().contains("message.id"));
}

#[actix_web::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::spawn().await;
    let mut v = customer_event(4, 41, "hi");
    v["message"]["body_text"] = json!("x".repeat(70_000));
    let (s, b) = app.webhook(&v).await;
    assert_eq!(s, 413);
    assert!(b["error"].as_str().unwrap().contains("max_body_bytes"));
}

async fn ignored_reason(app: &TestApp, v: &Value) -> String {
    let (s, b) = app.webhook(v).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["outcome"], "ignored", "{b}");
    b["reason"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn each_ignore_case_is_answered_200_with_its_reason_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let base = || customer_event(5, 51, "where is my order");

    let mut v = base();
    v["ticket"]["assignee_user"] = json!({"id": 12345});
    v["ticket"]["assignee_user_id"] = json!(12345);
    assert_eq!(ignored_reason(&app, &v).await, "not_assigned_to_ai");

    let mut v = base();
    v["ticket"]["assignee_user"] = Value::Null;
    v["ticket"]["assignee_user_id"] = Value::Null;
    assert_eq!(ignored_reason(&app, &v).await, "unassigned");

    let mut v = base();
    v["message"]["from_agent"] = json!(true);
    assert_eq!(ignored_reason(&app, &v).await, "agent_message");

    let mut v = base();
    v["message"]["public"] = json!(false);
    v["message"]["channel"] = json!("internal-note");
    assert_eq!(ignored_reason(&app, &v).await, "internal_note");

    let mut v = base();
    v["message"]["sender"]["email"] = json!("someone@else.example");
    assert_eq!(ignored_reason(&app, &v).await, "not_from_customer");

    let mut v = base();
    v.as_object_mut().unwrap().remove("message");
    assert_eq!(ignored_reason(&app, &v).await, "no_message");

    let composed: Value = serde_json::from_str(include_str!(
        "../fixtures/composed-context-ticket-message-created.agent-reply.json"
    ))
    .unwrap();
    assert_eq!(ignored_reason(&app, &composed).await, "agent_message");

    // Nothing was stored and Gorgias was never called.
    assert!(app.store().inbox_for(5).is_empty());
    assert!(app.store().load_session(5).unwrap().is_none());
    assert!(app.gorgias.calls().is_empty());
}

#[actix_web::test]
async fn autopilot_off_and_disabled_channels_are_ignored() {
    let app = TestApp::spawn_with(&[("autopilot.enabled", "false")]).await;
    assert_eq!(
        ignored_reason(&app, &customer_event(6, 61, "where is my order")).await,
        "autopilot_off"
    );
    let app = TestApp::spawn_with(&[("autopilot.channels", "chat,sms")]).await;
    assert_eq!(
        ignored_reason(&app, &customer_event(6, 62, "where is my order")).await,
        "channel_disabled"
    );
}

#[actix_web::test]
async fn string_ids_and_flat_fields_are_accepted() {
    let app = TestApp::spawn().await;
    let mut v = customer_event(7, 71, "where is my order");
    v["ticket"]["id"] = json!("7");
    v["message"]["id"] = json!("71");
    v["ticket"].as_object_mut().unwrap().remove("assignee_user");
    v["ticket"]["assignee_user_id"] = json!(AI_USER.to_string());
    let (s, b) = app.webhook(&v).await;
    assert_eq!(s, 200);
    assert_eq!(b["outcome"], "accepted");
    assert_eq!(b["message_id"], 71);
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let (s, _, _) = app.get("/healthz", None).await;
    assert_eq!(s, 200);
    let (s, b, _) = app.get("/readyz", None).await;
    assert_eq!(s, 200, "{b}");
}
