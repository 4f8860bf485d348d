//! Restarts: sessions, handoff state, dedup and unanswered work survive.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn a_restart_keeps_sessions_handoff_state_and_dedup() {
    let mut app = TestApp::spawn().await;
    let question = customer_event(30, 301, "where is my order");
    app.webhook(&question).await;
    app.webhook(&customer_event(31, 311, "refund now")).await;
    eventually("answered and handed off", WAIT, || {
        app.gorgias.messages(30).len() == 1 && !app.gorgias.ticket_updates(31).is_empty()
    })
    .await;

    app.restart().await;

    // Dedup survived: the redelivery is a duplicate.
    let (_, b) = app.webhook(&question).await;
    assert_eq!(b["outcome"], "duplicate");
    // Handoff survived: the ticket stays with the humans.
    let (_, b) = app
        .webhook(&customer_event(31, 312, "where is my order"))
        .await;
    assert_eq!(b["reason"], "handed_off");
    // The session survived: the next answer sees the whole history.
    app.webhook(&customer_event(30, 302, "can I exchange it"))
        .await;
    eventually("second reply", WAIT, || app.gorgias.messages(30).len() == 2).await;
    let session = app.store().load_session(30).unwrap().unwrap();
    assert_eq!(session.history.len(), 4);
    assert_eq!(session.history[0].message_id, Some(301));
}

#[actix_web::test]
async fn accepted_messages_not_yet_answered_are_answered_after_a_restart() {
    let mut app = TestApp::spawn().await;
    // Gorgias is down: the message is accepted and stored, the reply cannot go out.
    app.gorgias.outage_for(std::time::Duration::from_secs(3600));
    let (_, b) = app
        .webhook(&customer_event(32, 321, "where is my order"))
        .await;
    assert_eq!(b["outcome"], "accepted");
    eventually("a failed attempt", WAIT, || {
        app.gorgias.calls().iter().any(|c| c.status == 503)
    })
    .await;
    app.stop().await;
    app.gorgias.outage_for(std::time::Duration::ZERO);
    app.restart().await;
    eventually("answered after restart", WAIT, || {
        app.gorgias.messages(32).len() == 1
    })
    .await;
    let _ = json!(null);
}
