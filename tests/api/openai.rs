//! The openai brain against a fake OpenAI-compatible server: the conversation as messages, the
//! handoff tool, retries and giving up, unusable output, bursts, guardrails without the model,
//! and the model-written handoff summary.

use std::time::Duration;

use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Step, MODEL, MODEL_KEY};
use crate::helpers::*;

/// The agent with the openai brain pointed at `model`, plus `extra` overrides.
async fn spawn(model: &FakeOpenAi, extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = openai_brain(model);
    overrides.extend([
        ("brain.openai.timeout_secs", "5"),
        ("brain.openai.max_retries", "2"),
    ]);
    overrides.extend_from_slice(extra);
    TestApp::spawn_with(&overrides).await
}

/// The Gorgias writes on one ticket as `reply` / `note` / `PUT`, in order.
fn write_kinds(app: &TestApp, ticket_id: u64) -> Vec<String> {
    let path = format!("/api/tickets/{ticket_id}");
    app.gorgias
        .writes()
        .iter()
        .filter(|c| c.path.starts_with(&path))
        .map(|c| match (c.method.as_str(), c.body["channel"].as_str()) {
            ("POST", Some("internal-note")) => "note".to_string(),
            ("POST", _) => "reply".to_string(),
            (m, _) => m.to_string(),
        })
        .collect()
}

fn note_of(app: &TestApp, ticket_id: u64) -> String {
    app.gorgias
        .messages(ticket_id)
        .into_iter()
        .find(|m| m.body["channel"] == "internal-note")
        .expect("an internal note")
        .body["body_text"]
        .as_str()
        .unwrap()
        .to_string()
}

fn reply_texts(app: &TestApp, ticket_id: u64) -> Vec<String> {
    app.gorgias
        .replies(ticket_id)
        .iter()
        .map(|m| m.body["body_text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits until the ticket has nothing left to do (everything answered and delivered).
async fn settled(app: &TestApp, ticket_id: u64, customer_messages: usize) {
    eventually("the ticket settles", WAIT, || {
        app.store()
            .load_session(ticket_id)
            .ok()
            .flatten()
            .is_some_and(|s| {
                s.history
                    .iter()
                    .filter(|e| e.role == gorgias_agent::domain::session::Role::Customer)
                    .count()
                    == customer_messages
                    && s.unanswered().is_empty()
                    && s.outbox.is_empty()
            })
    })
    .await;
}

#[actix_web::test]
async fn the_second_request_carries_the_whole_conversation_and_offers_the_tool() {
    let model = FakeOpenAi::start();
    model.script([
        Step::reply("Your order #1234 shipped yesterday."),
        Step::reply("Yes, it should arrive on Thursday."),
    ]);
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(301, 3011, "Hi, where is my order #1234?"))
        .await;
    eventually("first reply", WAIT, || app.gorgias.replies(301).len() == 1).await;
    app.webhook(&customer_event(
        301,
        3012,
        "Great. Will it arrive before Friday?",
    ))
    .await;
    eventually("second reply", WAIT, || app.gorgias.replies(301).len() == 2).await;

    assert_eq!(
        reply_texts(&app, 301),
        [
            "Your order #1234 shipped yesterday.",
            "Yes, it should arrive on Thursday."
        ]
    );
    let requests = model.decisions();
    assert_eq!(requests.len(), 2);
    let second = &requests[1];
    assert_eq!(
        second.authorization.as_deref(),
        Some(format!("Bearer {MODEL_KEY}").as_str())
    );
    assert_eq!(second.body["model"], MODEL);
    let messages = second.messages();
    let roles: Vec<&str> = messages.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    let system = &messages[0].1;
    for expected in [
        "Jane Doe",
        "the email channel",
        "- order-status: Where an order is",
        "- refunds: Refunds and chargebacks",
        "Hand off: call handoff_to_human",
        "[order-status] Your order ships within 2 business days",
    ] {
        assert!(system.contains(expected), "{expected:?} not in {system}");
    }
    assert_eq!(messages[1].1, "Hi, where is my order #1234?");
    assert_eq!(messages[2].1, "Your order #1234 shipped yesterday.");
    assert_eq!(messages[3].1, "Great. Will it arrive before Friday?");
    let tool = &second.body["tools"][0];
    assert_eq!(tool["type"], "function");
    assert_eq!(tool["function"]["name"], "handoff_to_human");
    let properties = &tool["function"]["parameters"]["properties"];
    assert_eq!(properties["reason"]["type"], "string");
    assert_eq!(properties["reply"]["type"], "string");
    // The first request had the first turn only.
    assert_eq!(requests[0].messages().len(), 2);
}

#[actix_web::test]
async fn a_tool_call_hands_off_with_the_models_reply_a_note_with_its_summary_and_a_reassignment() {
    let model = FakeOpenAi::start();
    model.script([
        Step::reply("Your order #1234 shipped yesterday."),
        Step::tool_call(
            "The customer disputes a fee on their invoice.",
            "I'm passing this to a colleague, who will reply here shortly.",
        ),
    ]);
    model.set_summary(Step::reply(
        "Jane asked about order #1234 (shipped). She now disputes an invoice fee.",
    ));
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(302, 3021, "Hi, where is my order #1234?"))
        .await;
    eventually("first reply", WAIT, || app.gorgias.replies(302).len() == 1).await;
    app.webhook(&customer_event(
        302,
        3022,
        "Thanks. Also there is a weird fee on my invoice.",
    ))
    .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(302).is_empty()
    })
    .await;

    assert_eq!(write_kinds(&app, 302), ["reply", "reply", "note", "PUT"]);
    assert_eq!(
        reply_texts(&app, 302)[1],
        "I'm passing this to a colleague, who will reply here shortly."
    );
    let note = note_of(&app, 302);
    assert!(note.contains("model_handoff"), "{note}");
    assert!(
        note.contains("The customer disputes a fee on their invoice."),
        "{note}"
    );
    assert!(
        note.contains("Jane asked about order #1234 (shipped). She now disputes an invoice fee."),
        "{note}"
    );
    assert_eq!(
        app.gorgias.ticket_updates(302),
        [json!({"assignee_user": {"id": 42}, "assignee_team": {"id": 77}})]
    );
    let session = app.store().load_session(302).unwrap().unwrap();
    assert!(session.is_handed_off());
    assert_eq!(session.decisions.back().unwrap().reason, "model_handoff");
    // One summary request, without the tool, over the transcript.
    let summaries = model.summaries();
    assert_eq!(summaries.len(), 1);
    let transcript = &summaries[0].messages()[1].1;
    assert!(transcript.contains("Customer: Hi, where is my order #1234?"));
    assert!(transcript.contains("AI: Your order #1234 shipped yesterday."));
}

#[actix_web::test]
async fn a_tool_call_with_an_empty_reply_uses_the_configured_final_reply() {
    let model = FakeOpenAi::start();
    model.script([Step::tool_call(
        "Billing plans are changed by the team.",
        "",
    )]);
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(
        303,
        3031,
        "Can you switch me to the yearly plan?",
    ))
    .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(303).is_empty()
    })
    .await;
    assert_eq!(write_kinds(&app, 303), ["reply", "note", "PUT"]);
    assert!(reply_texts(&app, 303)[0].contains("member of our team"));
    let note = note_of(&app, 303);
    assert!(note.contains("model_handoff"), "{note}");
    assert!(note.contains("Billing plans are changed by the team."));
    // One short message: the plain extract quotes it whole, no summary call is made.
    assert!(
        note.contains("Customer wrote: \"Can you switch me to the yearly plan?\""),
        "{note}"
    );
    assert!(model.summaries().is_empty());
}

#[actix_web::test]
async fn rate_limits_and_server_errors_are_retried_and_the_customer_gets_exactly_one_reply() {
    let model = FakeOpenAi::start();
    model.script([
        Step::status(429, Some("1")),
        Step::status(503, None),
        Step::reply("Your order ships within 2 business days."),
    ]);
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(304, 3041, "Hi, where is my order #1234?"))
        .await;
    settled(&app, 304, 1).await;
    assert_eq!(
        reply_texts(&app, 304),
        ["Your order ships within 2 business days."]
    );
    assert_eq!(write_kinds(&app, 304), ["reply"]);
    let requests = model.decisions();
    assert_eq!(requests.len(), 3);
    // Retry-After: 1 was honoured.
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(gap >= Duration::from_millis(950), "{gap:?}");
}

#[actix_web::test]
async fn a_model_that_keeps_failing_hands_off_as_ai_unavailable_and_other_4xx_are_not_retried() {
    let model = FakeOpenAi::start();
    model.set_default(Step::status(503, Some("0")));
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(305, 3051, "Hi, where is my order #1234?"))
        .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(305).is_empty()
    })
    .await;
    // max_retries = 2: three attempts, then the handoff.
    assert_eq!(model.decisions().len(), 3);
    assert_eq!(write_kinds(&app, 305), ["reply", "note", "PUT"]);
    assert!(reply_texts(&app, 305)[0].contains("member of our team"));
    let note = note_of(&app, 305);
    assert!(note.contains("ai_unavailable"), "{note}");
    assert!(note.contains("503"), "{note}");
    assert!(!note.contains(MODEL_KEY), "{note}");
    // No summary is asked of a model that is down.
    assert!(model.summaries().is_empty());

    model.set_default(Step::status(400, None));
    app.webhook(&customer_event(306, 3061, "Hi, where is my order #1234?"))
        .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(306).is_empty()
    })
    .await;
    assert_eq!(model.decisions().len(), 4, "a 400 is not retried");
    assert!(note_of(&app, 306).contains("ai_unavailable"));
}

#[actix_web::test]
async fn a_model_slower_than_the_timeout_is_retried_then_handed_off() {
    let model = FakeOpenAi::start();
    model.set_default(Step::slow(Duration::from_secs(4), Step::reply("Too late.")));
    let app = spawn(
        &model,
        &[
            ("brain.openai.timeout_secs", "1"),
            ("brain.openai.max_retries", "1"),
        ],
    )
    .await;
    app.webhook(&customer_event(307, 3071, "Hi, where is my order #1234?"))
        .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(307).is_empty()
    })
    .await;
    assert_eq!(model.decisions().len(), 2);
    let note = note_of(&app, 307);
    assert!(note.contains("ai_unavailable"), "{note}");
    assert!(note.contains("did not answer within 1 s"), "{note}");
    assert!(!reply_texts(&app, 307).contains(&"Too late.".to_string()));
}

#[actix_web::test]
async fn unusable_model_output_is_asked_again_once_and_never_posted() {
    let model = FakeOpenAi::start();
    model.script([Step::Empty, Step::reply("Sorry for the wait: it shipped.")]);
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(308, 3081, "Hi, where is my order #1234?"))
        .await;
    settled(&app, 308, 1).await;
    assert_eq!(reply_texts(&app, 308), ["Sorry for the wait: it shipped."]);
    assert_eq!(model.decisions().len(), 2);

    model.script([Step::Raw("{\"choices\": [oops".into()), Step::Empty]);
    app.webhook(&customer_event(309, 3091, "Hi, where is my order #1234?"))
        .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(309).is_empty()
    })
    .await;
    assert_eq!(model.decisions().len(), 4);
    assert_eq!(write_kinds(&app, 309), ["reply", "note", "PUT"]);
    assert!(reply_texts(&app, 309)[0].contains("member of our team"));
    assert!(note_of(&app, 309).contains("ai_unavailable"));
    for m in app.gorgias.all_messages() {
        let text = m.body["body_text"].as_str().unwrap_or_default();
        assert!(
            !text.trim().is_empty(),
            "an empty message was posted: {m:?}"
        );
    }
}

#[actix_web::test]
async fn a_burst_during_a_slow_model_call_is_answered_together() {
    let model = FakeOpenAi::start();
    model.delay(Duration::from_millis(1500));
    model.script([
        Step::reply("Your order #1234 shipped yesterday."),
        Step::reply("Got it: it will arrive by Thursday."),
    ]);
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(310, 3101, "Hi, where is my order #1234?"))
        .await;
    eventually("the first model call is in flight", WAIT, || {
        model.decisions().len() == 1
    })
    .await;
    let burst = [
        (3102, "Also, it's a gift."),
        (3103, "It's for my sister's birthday on Friday."),
        (3104, "Will it be there before then?"),
    ];
    let app_ref = &app;
    let answers =
        futures_util::future::join_all(burst.iter().map(|&(id, text)| async move {
            app_ref.webhook(&customer_event(310, id, text)).await
        }))
        .await;
    for (_, body) in &answers {
        assert_eq!(body["outcome"], "accepted", "{body}");
    }
    settled(&app, 310, 4).await;

    let replies = app.gorgias.replies(310);
    assert!(replies.len() <= 2, "{} replies", replies.len());
    let requests = model.decisions();
    assert_eq!(requests.len(), 2);
    let last = requests.last().unwrap().messages();
    let (role, content) = last.last().unwrap();
    assert_eq!(role, "user");
    for (_, text) in burst {
        assert!(content.contains(text), "{text:?} not in {content:?}");
    }
    assert_eq!(
        last[last.len() - 2].1,
        "Your order #1234 shipped yesterday."
    );
    // Every message is in the session's history.
    let session = app.store().load_session(310).unwrap().unwrap();
    let mut ids: Vec<u64> = session
        .history
        .iter()
        .filter(|e| e.role == gorgias_agent::domain::session::Role::Customer)
        .filter_map(|e| e.message_id)
        .collect();
    ids.sort();
    assert_eq!(ids, [3101, 3102, 3103, 3104]);
}

#[actix_web::test]
async fn guardrails_hand_off_without_asking_the_model() {
    let model = FakeOpenAi::start();
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(311, 3111, "I want to talk to a human"))
        .await;
    app.webhook(&customer_event(312, 3121, "I want a refund for my order"))
        .await;
    eventually("both reassigned", WAIT, || {
        !app.gorgias.ticket_updates(311).is_empty() && !app.gorgias.ticket_updates(312).is_empty()
    })
    .await;
    assert!(note_of(&app, 311).contains("customer_asked_for_human"));
    assert!(note_of(&app, 312).contains("skip_topic"));
    assert!(
        model.requests().is_empty(),
        "the model was called: {:?}",
        model.requests()
    );
}

#[actix_web::test]
async fn an_action_request_or_a_complaint_hands_off_before_the_model_is_asked() {
    let model = FakeOpenAi::start();
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(
        314,
        3141,
        "Can I still change the delivery address?",
    ))
    .await;
    app.webhook(&customer_event(315, 3151, "Mi pedido llegó roto"))
        .await;
    eventually("both reassigned", WAIT, || {
        !app.gorgias.ticket_updates(314).is_empty() && !app.gorgias.ticket_updates(315).is_empty()
    })
    .await;
    assert!(note_of(&app, 314).contains("needs_action"));
    assert!(note_of(&app, 315).contains("complaint"));
    assert!(model.decisions().is_empty(), "{:?}", model.decisions());
}

#[actix_web::test]
async fn a_guardrail_handoff_later_in_a_conversation_gets_the_models_summary() {
    let model = FakeOpenAi::start();
    model.script([Step::reply("Your order #1234 shipped yesterday.")]);
    model.set_summary(Step::reply(
        "Jane asked where order #1234 is; the AI said it shipped. She wants a person.",
    ));
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(313, 3131, "Hi, where is my order #1234?"))
        .await;
    eventually("first reply", WAIT, || app.gorgias.replies(313).len() == 1).await;
    app.webhook(&customer_event(313, 3132, "Please let me talk to a human"))
        .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(313).is_empty()
    })
    .await;
    // The guardrail decided: no decision request for the second turn.
    assert_eq!(model.decisions().len(), 1);
    assert_eq!(model.summaries().len(), 1);
    let note = note_of(&app, 313);
    assert!(note.contains("customer_asked_for_human"), "{note}");
    assert!(
        note.contains("Jane asked where order #1234 is; the AI said it shipped."),
        "{note}"
    );
}

#[actix_web::test]
async fn a_model_refusal_hands_off_at_once_with_the_refusal_in_the_note() {
    let model = FakeOpenAi::start();
    model.script([Step::Refusal("I'm sorry, I can't help with that.".into())]);
    let app = spawn(&model, &[]).await;
    app.webhook(&customer_event(320, 3201, "Hi, where is my order #1234?"))
        .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(320).is_empty()
    })
    .await;
    assert_eq!(model.decisions().len(), 1, "a refusal is not asked again");
    assert_eq!(write_kinds(&app, 320), ["reply", "note", "PUT"]);
    assert!(reply_texts(&app, 320)[0].contains("member of our team"));
    let note = note_of(&app, 320);
    assert!(note.contains("model_refused"), "{note}");
    assert!(note.contains("I can't help with that"), "{note}");
    let session = app.store().load_session(320).unwrap().unwrap();
    assert_eq!(session.decisions.back().unwrap().reason, "model_refused");
}

#[actix_web::test]
async fn retry_after_forwarded_by_a_litellm_proxy_is_honoured() {
    let model = FakeOpenAi::start();
    let header =
        |name: &str, value: &str| Step::StatusWithHeaders(429, vec![(name.into(), value.into())]);
    model.script([
        header("llm_provider-retry-after", "1"),
        header("llm_provider-retry-after-ms", "600"),
        Step::reply("Your order ships within 2 business days."),
    ]);
    // Backoff alone would retry within 20 ms.
    let app = spawn(
        &model,
        &[
            ("brain.openai.retry_initial_ms", "10"),
            ("brain.openai.retry_max_ms", "20"),
        ],
    )
    .await;
    app.webhook(&customer_event(321, 3211, "Hi, where is my order #1234?"))
        .await;
    settled(&app, 321, 1).await;
    assert_eq!(
        reply_texts(&app, 321),
        ["Your order ships within 2 business days."]
    );
    let requests = model.decisions();
    assert_eq!(requests.len(), 3);
    let first = requests[1].at.duration_since(requests[0].at);
    assert!(first >= Duration::from_millis(950), "{first:?}");
    let second = requests[2].at.duration_since(requests[1].at);
    assert!(second >= Duration::from_millis(580), "{second:?}");
}
