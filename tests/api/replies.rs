//! Replies: what is posted, exactly once, in order, for many tickets at once.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn reply_is_posted_with_the_fields_gorgias_needs() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .webhook(&serde_json::from_str(MAIN_FIXTURE).unwrap())
        .await;
    assert_eq!(s, 200);
    eventually("the reply is posted", WAIT, || {
        app.gorgias.messages(100000001).len() == 1
    })
    .await;
    let posted = &app.gorgias.messages(100000001)[0].body;
    assert_eq!(posted["channel"], "email");
    assert_eq!(posted["via"], "api");
    assert_eq!(posted["from_agent"], true);
    assert_eq!(posted["sender"]["id"], AI_USER);
    assert_eq!(posted["receiver"]["id"], 700001);
    assert_eq!(posted["source"]["type"], "email");
    assert_eq!(posted["source"]["from"]["address"], "support@acme.example");
    assert_eq!(
        posted["source"]["to"][0]["address"],
        "jane@customer.example"
    );
    assert!(posted["body_text"]
        .as_str()
        .unwrap()
        .contains("tracking link"));
    assert!(posted["body_html"].as_str().unwrap().starts_with("<p>"));
    assert!(posted.get("sent_datetime").is_none());
    assert!(posted["external_id"]
        .as_str()
        .unwrap()
        .starts_with("gorgias-agent:100000001:"));
}

#[actix_web::test]
async fn redelivery_is_answered_once_but_the_same_words_with_a_new_id_twice() {
    let app = TestApp::spawn().await;
    let event = customer_event(10, 101, "where is my order");
    let (_, first) = app.webhook(&event).await;
    let (_, second) = app.webhook(&event).await;
    assert_eq!(first["outcome"], "accepted");
    assert_eq!(
        second,
        json!({"outcome": "duplicate", "ticket_id": 10, "message_id": 101})
    );
    eventually("one reply", WAIT, || app.gorgias.replies(10).len() == 1).await;

    // A real second message with the same words is answered (here by a handoff, since the
    // knowledge base has nothing better than the answer already given).
    let (_, third) = app
        .webhook(&customer_event(10, 102, "where is my order"))
        .await;
    assert_eq!(third["outcome"], "accepted");
    eventually("a second reply", WAIT, || {
        app.gorgias.replies(10).len() == 2
    })
    .await;
    // Nothing more arrives later.
    app.webhook(&customer_event(99, 1, "where is my order"))
        .await;
    eventually("another ticket answered", WAIT, || {
        app.gorgias.replies(99).len() == 1
    })
    .await;
    assert_eq!(app.gorgias.replies(10).len(), 2);
}

#[actix_web::test]
async fn the_agents_own_reply_echo_is_ignored() {
    let app = TestApp::spawn().await;
    app.webhook(&customer_event(11, 111, "where is my order"))
        .await;
    eventually("reply", WAIT, || app.gorgias.messages(11).len() == 1).await;
    let posted = app.gorgias.messages(11)[0].clone();
    // Gorgias fires "ticket message created" for our own post.
    let mut echo = customer_event(11, posted.id, posted.body["body_text"].as_str().unwrap());
    echo["message"]["from_agent"] = json!(true);
    echo["message"]["via"] = json!("api");
    echo["message"]["external_id"] = posted.body["external_id"].clone();
    echo["message"]["sender"] = json!({"id": AI_USER, "email": "ai-agent@acme.example"});
    let (s, b) = app.webhook(&echo).await;
    assert_eq!(s, 200);
    assert_eq!(b["outcome"], "ignored");
    assert_eq!(b["reason"], "agent_message");
    // Even with flags lost in a custom template, our external_id gives it away.
    echo["message"]["from_agent"] = json!(null);
    echo["message"]["sender"] = json!({"email": "jane@customer.example"});
    let (_, b) = app.webhook(&echo).await;
    assert_eq!(b["reason"], "agent_message");
    assert_eq!(app.gorgias.messages(11).len(), 1);
}

#[actix_web::test]
async fn the_conversation_is_kept_in_order_with_gorgias_ids() {
    let app = TestApp::spawn().await;
    app.webhook(&customer_event(12, 121, "where is my order"))
        .await;
    eventually("first reply", WAIT, || app.gorgias.messages(12).len() == 1).await;
    app.webhook(&customer_event(
        12,
        122,
        "can I exchange it for another size",
    ))
    .await;
    eventually("second reply", WAIT, || app.gorgias.messages(12).len() == 2).await;
    let store = app.store().clone();
    eventually("session stored", WAIT, || {
        store
            .load_session(12)
            .unwrap()
            .is_some_and(|s| s.history.len() == 4 && s.outbox.is_empty())
    })
    .await;
    let session = store.load_session(12).unwrap().unwrap();
    let roles: Vec<String> = session
        .history
        .iter()
        .map(|e| format!("{:?}", e.role))
        .collect();
    assert_eq!(roles, ["Customer", "Ai", "Customer", "Ai"]);
    assert_eq!(session.history[0].message_id, Some(121));
    assert_eq!(session.history[2].message_id, Some(122));
    let posted: Vec<u64> = app.gorgias.messages(12).iter().map(|m| m.id).collect();
    assert_eq!(session.history[1].message_id, Some(posted[0]));
    assert_eq!(session.history[3].message_id, Some(posted[1]));
    assert!(session.history[3].text.contains("30 days"));
}

#[actix_web::test]
async fn fifty_tickets_in_parallel_are_each_answered_exactly_once_per_message() {
    let app = TestApp::spawn().await;
    let tickets: Vec<u64> = (1000..1050).collect();
    assert_eq!(tickets.len(), 50);
    for (round, text) in ["where is my order", "can I exchange it for another size"]
        .iter()
        .enumerate()
    {
        let events: Vec<_> = tickets
            .iter()
            .map(|&t| customer_event(t, t * 10 + round as u64, text))
            .collect();
        let results = futures_util::future::join_all(events.iter().map(|e| app.webhook(e))).await;
        assert!(results
            .iter()
            .all(|(s, b)| *s == 200 && b["outcome"] == "accepted"));
        let expected = tickets.len() * (round + 1);
        eventually("every ticket answered", WAIT, || {
            app.gorgias.all_messages().len() >= expected
        })
        .await;
    }
    let store = app.store().clone();
    eventually("all sessions settled", WAIT, || {
        tickets.iter().all(|&t| {
            store
                .load_session(t)
                .unwrap()
                .is_some_and(|s| s.outbox.is_empty() && s.unanswered().is_empty())
        })
    })
    .await;
    for &t in &tickets {
        let posted = app.gorgias.messages(t);
        assert_eq!(
            posted.len(),
            2,
            "ticket {t}: one reply per customer message"
        );
        assert!(posted[0].body["body_text"]
            .as_str()
            .unwrap()
            .contains("tracking"));
        assert!(posted[1].body["body_text"]
            .as_str()
            .unwrap()
            .contains("30 days"));
    }
}

#[actix_web::test]
async fn the_reply_is_in_the_tickets_language_when_the_topic_has_it() {
    let app = TestApp::spawn().await;
    // Gorgias set the ticket's language: it decides, whatever the words look like.
    let mut french = customer_event(13, 131, "where is my order");
    french["ticket"]["language"] = json!("fr");
    app.webhook(&french).await;
    // No language on the ticket: detected from the message.
    let mut detected = customer_event(14, 141, "Bonjour, où est ma commande ?");
    detected["ticket"]["language"] = json!(null);
    app.webhook(&detected).await;
    // A language the topic has no translation for: the default answer.
    let mut german = customer_event(15, 151, "where is my order");
    german["ticket"]["language"] = json!("de");
    app.webhook(&german).await;
    eventually("three replies", WAIT, || {
        [13, 14, 15]
            .iter()
            .all(|&t| app.gorgias.replies(t).len() == 1)
    })
    .await;
    let text = |t: u64| {
        app.gorgias.replies(t)[0].body["body_text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        text(13).starts_with("Votre commande part sous 2 jours"),
        "{}",
        text(13)
    );
    assert!(
        text(14).starts_with("Votre commande part sous 2 jours"),
        "{}",
        text(14)
    );
    assert!(
        text(15).starts_with("Your order ships within 2 business days"),
        "{}",
        text(15)
    );
    let session = app.store().load_session(13).unwrap().unwrap();
    let detail = session
        .decisions
        .back()
        .unwrap()
        .detail
        .clone()
        .unwrap_or_default();
    assert!(detail.contains("language fr (ticket)"), "{detail}");
}
