//! Handoff: the three steps in order with the right ids, silence afterwards, shadow and dry-run.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn handoff_posts_the_final_reply_a_note_then_reassigns_and_then_stays_silent() {
    let app = TestApp::spawn().await;
    let (_, b) = app
        .webhook(&customer_event(20, 201, "I want a refund for my order"))
        .await;
    assert_eq!(b["outcome"], "accepted");
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(20).is_empty()
    })
    .await;

    let writes = app.gorgias.writes();
    let kinds: Vec<String> = writes
        .iter()
        .map(|c| match (c.method.as_str(), c.body["channel"].as_str()) {
            ("POST", Some("internal-note")) => "note".to_string(),
            ("POST", _) => "reply".to_string(),
            (m, _) => m.to_string(),
        })
        .collect();
    assert_eq!(kinds, ["reply", "note", "PUT"]);
    assert!(writes[0].body["body_text"]
        .as_str()
        .unwrap()
        .contains("member of our team"));
    assert_eq!(writes[0].body["from_agent"], true);
    let note = writes[1].body["body_text"].as_str().unwrap();
    assert!(note.contains("skip_topic"), "{note}");
    assert!(note.contains("I want a refund"), "{note}");
    assert_eq!(writes[1].body["source"]["type"], "internal-note");
    assert_eq!(writes[2].path, "/api/tickets/20");
    assert_eq!(
        writes[2].body,
        json!({"assignee_user": {"id": 42}, "assignee_team": {"id": 77}})
    );

    // The session is handed off, durably; later messages are ignored.
    let session = app.store().load_session(20).unwrap().unwrap();
    assert!(session.is_handed_off());
    let (_, b) = app
        .webhook(&customer_event(20, 202, "hello? where is my order"))
        .await;
    assert_eq!(
        b,
        json!({"outcome": "ignored", "reason": "handed_off", "ticket_id": 20})
    );
    assert_eq!(app.gorgias.writes().len(), 3);
}

#[actix_web::test]
async fn asking_for_a_human_or_no_match_hands_off_with_its_reason() {
    let app = TestApp::spawn().await;
    app.webhook(&customer_event(21, 211, "Can I talk to a human please"))
        .await;
    app.webhook(&customer_event(
        22,
        221,
        "Do you sell gift cards for llamas",
    ))
    .await;
    eventually("both reassigned", WAIT, || {
        !app.gorgias.ticket_updates(21).is_empty() && !app.gorgias.ticket_updates(22).is_empty()
    })
    .await;
    let note = |t: u64| {
        app.gorgias
            .messages(t)
            .into_iter()
            .find(|m| m.body["channel"] == "internal-note")
            .unwrap()
            .body["body_text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(note(21).contains("customer_asked_for_human"));
    assert!(note(22).contains("no_answer"));
}

#[actix_web::test]
async fn the_ai_hands_off_after_max_ai_replies() {
    // max_ai_replies = 3 in the test config.
    let app = TestApp::spawn().await;
    let questions = [
        "where is my order",
        "can I exchange it",
        "where is my order now, tracking says delivery soon",
        "and can I return it",
    ];
    for (i, q) in questions.iter().enumerate() {
        app.webhook(&customer_event(23, 231 + i as u64, q)).await;
        // Wait for this message to be in the session and answered, so each is its own turn.
        eventually("answer", WAIT, || {
            app.store().load_session(23).unwrap().is_some_and(|s| {
                s.history
                    .iter()
                    .filter(|e| e.message_id == Some(231 + i as u64))
                    .count()
                    == 1
                    && s.outbox.is_empty()
                    && s.unanswered().is_empty()
            })
        })
        .await;
    }
    let session = app.store().load_session(23).unwrap().unwrap();
    assert!(session.is_handed_off());
    assert_eq!(session.decisions.back().unwrap().reason, "max_ai_replies");

    // An operator gives the ticket back to the AI: the count starts again, so the next
    // question is answered rather than handed off at once.
    eventually("handoff delivered", WAIT, || {
        app.gorgias.ticket_updates(23).len() == 1
    })
    .await;
    let (status, _) = app
        .post("/admin/tickets/23/resume?by=alice", Some(ADMIN))
        .await;
    assert_eq!(status, 200);
    app.webhook(&customer_event(23, 299, "where is my order"))
        .await;
    eventually("answered after resume", WAIT, || {
        app.store()
            .load_session(23)
            .unwrap()
            .is_some_and(|s| s.decisions.back().is_some_and(|d| d.outcome == "replied"))
    })
    .await;
    let session = app.store().load_session(23).unwrap().unwrap();
    assert!(!session.is_handed_off());
}

#[actix_web::test]
async fn shadow_mode_posts_only_internal_notes_and_never_reassigns() {
    let app = TestApp::spawn_with(&[("gorgias.mode", "shadow")]).await;
    app.webhook(&customer_event(24, 241, "where is my order"))
        .await;
    app.webhook(&customer_event(25, 251, "I want my money back"))
        .await;
    eventually("two drafts", WAIT, || app.gorgias.all_messages().len() == 2).await;
    for m in app.gorgias.all_messages() {
        assert_eq!(m.body["channel"], "internal-note");
        assert_eq!(m.body["source"]["type"], "internal-note");
    }
    let draft = &app.gorgias.messages(24)[0].body["body_text"];
    assert!(draft.as_str().unwrap().contains("tracking"));
    let handoff_draft = app.gorgias.messages(25)[0].body["body_text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(handoff_draft.contains("would hand this ticket off"));
    let store = app.store().clone();
    eventually("shadow handoff recorded", WAIT, || {
        store
            .load_session(25)
            .unwrap()
            .is_some_and(|s| s.outbox.is_empty())
    })
    .await;
    assert!(app.gorgias.ticket_updates(25).is_empty());
    assert!(app.gorgias.calls().iter().all(|c| c.method != "PUT"));
}

#[actix_web::test]
async fn dry_run_mode_calls_gorgias_not_at_all_but_records_decisions() {
    let app = TestApp::spawn_with(&[("gorgias.mode", "dry-run")]).await;
    app.webhook(&customer_event(26, 261, "where is my order"))
        .await;
    app.webhook(&customer_event(27, 271, "refund please")).await;
    let store = app.store().clone();
    eventually("decisions stored", WAIT, || {
        [26u64, 27].iter().all(|&t| {
            store
                .load_session(t)
                .unwrap()
                .is_some_and(|s| s.outbox.is_empty() && !s.decisions.is_empty())
        })
    })
    .await;
    assert_eq!(
        store.load_session(26).unwrap().unwrap().decisions[0].outcome,
        "replied"
    );
    assert_eq!(
        store.load_session(27).unwrap().unwrap().decisions[0].outcome,
        "handed_off"
    );
    assert!(app.gorgias.calls().is_empty());
}
