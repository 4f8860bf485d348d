//! The admin API: the bearer token, a ticket's decisions through reply and handoff, resuming a
//! handed-off ticket (and the AI answering it again), and the list of recent sessions.

use serde_json::{json, Value};

use crate::helpers::*;

fn decisions(session: &Value) -> Vec<(String, String)> {
    session["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap().to_string(),
                d["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(o, r)| (o.to_string(), r.to_string()))
        .collect()
}

#[actix_web::test]
async fn admin_routes_answer_401_without_the_right_token() {
    let app = TestApp::spawn().await;
    app.webhook(&customer_event(90, 901, "Hi, where is my order?"))
        .await;
    eventually("the reply", WAIT, || !app.gorgias.replies(90).is_empty()).await;
    for bearer in [None, Some("wrong-token"), Some("")] {
        let (status, body, _) = app.get("/admin/tickets/90", bearer).await;
        assert_eq!(status, 401, "{bearer:?}: {body}");
        assert!(body["error"].as_str().unwrap().contains("admin token"));
        assert_eq!(app.get("/admin/tickets", bearer).await.0, 401);
        assert_eq!(app.post("/admin/tickets/90/resume", bearer).await.0, 401);
        assert_eq!(app.get("/admin/nothing-here", bearer).await.0, 401);
    }
    // A token sent another way than `Authorization: Bearer` does not count either.
    let resp = awc::Client::new()
        .get(format!("{}/admin/tickets/90?token={ADMIN}", app.address))
        .insert_header(("X-Webhook-Token", ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (status, body, _) = app.get("/admin/tickets/90", Some(ADMIN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ticket_id"], 90);
}

#[actix_web::test]
async fn an_empty_admin_token_disables_the_admin_api() {
    let app = TestApp::spawn_with(&[("server.admin_token", "")]).await;
    for bearer in [None, Some(ADMIN), Some("")] {
        let (status, body, _) = app.get("/admin/tickets/1", bearer).await;
        assert_eq!(status, 404, "{body}");
        assert!(body["error"].as_str().unwrap().contains("disabled"));
        assert_eq!(app.post("/admin/tickets/1/resume", bearer).await.0, 404);
        assert_eq!(app.get("/admin/tickets", bearer).await.0, 404);
    }
}

#[actix_web::test]
async fn a_tickets_decisions_show_ignore_reply_and_handoff_and_resume_lets_the_ai_answer_again() {
    let app = TestApp::spawn().await;
    let ticket = 91;

    // Ignored before the AI owns the ticket: no session exists, but the admin API tells why.
    let mut not_ours = customer_event(ticket, 910, "where is my order");
    not_ours["ticket"]["assignee_user"] = json!({"id": 12345});
    not_ours["ticket"]["assignee_user_id"] = json!(12345);
    assert_eq!(
        app.webhook(&not_ours).await.1["reason"],
        "not_assigned_to_ai"
    );
    let (status, body, _) = app
        .get(&format!("/admin/tickets/{ticket}"), Some(ADMIN))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], Value::Null);
    assert_eq!(body["intake_decisions"][0]["outcome"], "ignored");
    assert_eq!(body["intake_decisions"][0]["reason"], "not_assigned_to_ai");
    assert_eq!(body["intake_decisions"][0]["message_id"], 910);

    // A reply.
    app.webhook(&customer_event(ticket, 911, "Hi, where is my order?"))
        .await;
    eventually("the reply", WAIT, || app.gorgias.replies(ticket).len() == 1).await;
    let (_, session, _) = app
        .get(&format!("/admin/tickets/{ticket}"), Some(ADMIN))
        .await;
    assert_eq!(session["state"], "active");
    assert_eq!(decisions(&session), pairs(&[("replied", "answered")]));
    let replied = &session["decisions"][0];
    assert!(replied["at"].as_u64().unwrap() > 1_700_000_000, "{replied}");
    assert_eq!(replied["message_ids"], json!([911]));
    assert!(replied["detail"].as_str().unwrap().contains("order-status"));

    // A handoff; then a message while handed off is ignored.
    app.webhook(&customer_event(ticket, 912, "I want a refund"))
        .await;
    eventually("the reassignment", WAIT, || {
        !app.gorgias.ticket_updates(ticket).is_empty()
    })
    .await;
    let (_, b) = app
        .webhook(&customer_event(ticket, 913, "hello? anyone?"))
        .await;
    assert_eq!(b["reason"], "handed_off");
    let (status, session, _) = app
        .get(&format!("/admin/tickets/{ticket}"), Some(ADMIN))
        .await;
    assert_eq!(status, 200);
    assert_eq!(session["state"], "handed_off");
    let intake: Vec<&str> = session["intake_decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(intake, ["not_assigned_to_ai", "handed_off"]);
    assert_eq!(
        decisions(&session),
        pairs(&[("replied", "answered"), ("handed_off", "skip_topic")])
    );
    let history: Vec<(&str, Option<u64>)> = session["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["role"].as_str().unwrap(), e["message_id"].as_u64()))
        .collect();
    assert_eq!(history.len(), 4, "{history:?}");
    assert_eq!(history[0], ("customer", Some(911)));
    assert_eq!(history[1].0, "ai");
    assert!(
        history[1].1.is_some(),
        "the posted reply's Gorgias id is kept"
    );
    assert_eq!(history[2], ("customer", Some(912)));
    assert_eq!(history[3].0, "ai");
    assert!(session["history"][0]["at"].as_u64().unwrap() > 0);
    // Delivered: nothing pending, nothing failed.
    assert_eq!(session["outbox"], json!([]));
    assert_eq!(session["failed"], json!([]));

    // Resume, by a named operator.
    let (status, resumed) = app
        .post(
            &format!("/admin/tickets/{ticket}/resume?by=alice"),
            Some(ADMIN),
        )
        .await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["state"], "active");
    let last = resumed["decisions"].as_array().unwrap().last().unwrap();
    assert_eq!(last["outcome"], "resumed");
    assert_eq!(last["reason"], "operator");
    assert!(last["detail"].as_str().unwrap().contains("alice"), "{last}");
    assert!(last["at"].as_u64().unwrap() > 1_700_000_000);
    // Resuming an active ticket is a conflict.
    let (status, body) = app
        .post(&format!("/admin/tickets/{ticket}/resume"), Some(ADMIN))
        .await;
    assert_eq!(status, 409, "{body}");

    // The next customer message is answered by the AI again.
    let (_, b) = app
        .webhook(&customer_event(ticket, 914, "Can I return the shoes?"))
        .await;
    assert_eq!(b["outcome"], "accepted");
    eventually("the answer after resume", WAIT, || {
        app.gorgias.replies(ticket).len() == 3
    })
    .await;
    let answer = app.gorgias.replies(ticket)[2].body["body_text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(answer.contains("return any item"), "{answer}");
    let (_, session, _) = app
        .get(&format!("/admin/tickets/{ticket}"), Some(ADMIN))
        .await;
    assert_eq!(
        decisions(&session),
        pairs(&[
            ("replied", "answered"),
            ("handed_off", "skip_topic"),
            ("resumed", "operator"),
            ("replied", "answered"),
        ])
    );
}

#[actix_web::test]
async fn the_ticket_list_filters_by_state_and_limits() {
    let app = TestApp::spawn().await;
    app.webhook(&customer_event(95, 951, "Hi, where is my order?"))
        .await;
    app.webhook(&customer_event(96, 961, "Can I talk to a human please"))
        .await;
    app.webhook(&customer_event(97, 971, "I want a refund"))
        .await;
    eventually("one reply and two handoffs", WAIT, || {
        !app.gorgias.replies(95).is_empty()
            && !app.gorgias.ticket_updates(96).is_empty()
            && !app.gorgias.ticket_updates(97).is_empty()
    })
    .await;

    let ids = |body: &Value| -> Vec<u64> {
        body["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["ticket_id"].as_u64().unwrap())
            .collect()
    };
    let (status, all, _) = app.get("/admin/tickets", Some(ADMIN)).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), [97, 96, 95], "newest ticket first");
    let (_, handed_off, _) = app
        .get("/admin/tickets?state=handed_off&limit=50", Some(ADMIN))
        .await;
    assert_eq!(ids(&handed_off), [97, 96]);
    let first = &handed_off["tickets"][0];
    assert_eq!(first["state"], "handed_off");
    assert_eq!(first["last_decision"]["outcome"], "handed_off");
    assert_eq!(first["last_decision"]["reason"], "skip_topic");
    assert_eq!(
        handed_off["tickets"][1]["last_decision"]["reason"],
        "customer_asked_for_human"
    );
    let (_, active, _) = app.get("/admin/tickets?state=active", Some(ADMIN)).await;
    assert_eq!(ids(&active), [95]);
    assert_eq!(active["tickets"][0]["ai_replies"], 1);
    let (_, limited, _) = app.get("/admin/tickets?limit=1", Some(ADMIN)).await;
    assert_eq!(ids(&limited), [97]);

    let (status, body, _) = app.get("/admin/tickets?state=asleep", Some(ADMIN)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, _) = app.get("/admin/tickets/424242", Some(ADMIN)).await;
    assert_eq!(status, 404);
    let (status, body, _) = app.get("/admin/tickets/not-a-number", Some(ADMIN)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app.post("/admin/tickets/424242/resume", Some(ADMIN)).await;
    assert_eq!(status, 404);
}
