//! The ticket's lifecycle against the fake Gorgias: handoff and reply tags (added with POST,
//! never PUT), closing after a reply and answering the reopened ticket, the offline final reply
//! at an injected instant, shadow and dry-run, the admin view of the settings, and the metrics.

use gorgias_agent::domain::hours::Clock;
use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::*;

const HANDOFF_TAGS: (&str, &str) = ("handoff.tags", "ai-handoff,ai-handoff-{reason}");
const REPLY_TAGS: (&str, &str) = ("autopilot.reply_tags", "ai-replied");
const CLOSE: (&str, &str) = ("autopilot.close_after_reply", "true");

fn no_put_on_tags(app: &TestApp) {
    let puts: Vec<String> = app
        .gorgias
        .calls()
        .into_iter()
        .filter(|c| c.method != "POST" && c.path.ends_with("/tags"))
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert!(puts.is_empty(), "tags must only be POSTed: {puts:?}");
}

#[actix_web::test]
async fn a_handoff_adds_its_tags_with_the_reason_after_the_final_reply_and_before_the_reassignment_once(
) {
    let app = TestApp::spawn_with(&[HANDOFF_TAGS, REPLY_TAGS, CLOSE]).await;
    app.webhook(&customer_event(80, 801, "I want a refund for my order"))
        .await;
    eventually("reassignment", WAIT, || {
        !app.gorgias.ticket_updates(80).is_empty()
    })
    .await;
    let log = app.gorgias.write_log(80);
    println!(
        "handoff, as the fake Gorgias recorded it:\n{}",
        log.join("\n")
    );
    assert_eq!(
        log,
        [
            "POST /api/tickets/80/messages (reply)",
            "POST /api/tickets/80/messages (note)",
            "POST /api/tickets/80/tags (tags [\"ai-handoff\",\"ai-handoff-skip_topic\"])",
            "PUT /api/tickets/80 (assign)",
        ]
    );
    assert_eq!(
        app.gorgias.tags(80),
        ["ai-handoff", "ai-handoff-skip_topic"]
    );
    // Never closed, and no reply tags: the AI did not answer, it handed off.
    assert_eq!(app.gorgias.status(80), None);
    no_put_on_tags(&app);
    // Once: later messages on the handed-off ticket add nothing.
    let (_, b) = app
        .webhook(&customer_event(80, 802, "hello? I want a refund"))
        .await;
    assert_eq!(b["reason"], "handed_off");
    assert_eq!(app.gorgias.write_log(80).len(), 4);
}

/// The agent with the openai brain pointed at `model`, plus `extra` overrides.
async fn spawn_openai(model: &FakeOpenAi, extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = openai_brain(model);
    overrides.push(("brain.openai.timeout_secs", "5"));
    overrides.extend_from_slice(extra);
    TestApp::spawn_with(&overrides).await
}

#[actix_web::test]
async fn an_ai_reply_is_tagged_and_closed_and_the_reopened_ticket_is_answered_with_the_full_history(
) {
    let model = FakeOpenAi::start();
    model.script([
        Step::reply("Your order shipped yesterday."),
        Step::reply("You can return it within 30 days."),
    ]);
    let app = spawn_openai(&model, &[REPLY_TAGS, CLOSE]).await;
    app.webhook(&customer_event(81, 811, "Where is my order?"))
        .await;
    eventually("closed", WAIT, || {
        app.gorgias.status(81).as_deref() == Some("closed")
    })
    .await;
    let log = app.gorgias.write_log(81);
    println!(
        "closed reply, as the fake Gorgias recorded it:\n{}",
        log.join("\n")
    );
    assert_eq!(
        log,
        [
            "POST /api/tickets/81/messages (reply)",
            "POST /api/tickets/81/tags (tags [\"ai-replied\"])",
            "PUT /api/tickets/81 (status closed)",
        ]
    );
    assert_eq!(
        app.gorgias.ticket_updates(81),
        [json!({"status": "closed"})]
    );

    // The customer writes again: Gorgias reopens the ticket and the webhook fires as usual.
    let mut again = customer_event(81, 812, "Thanks. Can I return it?");
    again["ticket"]["status"] = json!("open");
    let (_, b) = app.webhook(&again).await;
    assert_eq!(b["outcome"], "accepted");
    eventually("the second answer is closed too", WAIT, || {
        app.gorgias.ticket_updates(81).len() == 2
    })
    .await;
    let decisions = model.decisions();
    assert_eq!(decisions.len(), 2);
    let conversation: Vec<(String, String)> = decisions[1]
        .messages()
        .into_iter()
        .filter(|(role, _)| role != "system")
        .collect();
    let roles: Vec<&str> = conversation.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert!(conversation[0].1.contains("Where is my order?"));
    assert_eq!(conversation[1].1, "Your order shipped yesterday.");
    assert!(conversation[2].1.contains("Can I return it?"));
    assert_eq!(app.gorgias.replies(81).len(), 2);
    assert_eq!(app.gorgias.tags(81), ["ai-replied"]);
    let session = app.store().load_session(81).unwrap().unwrap();
    assert_eq!(session.history.len(), 4);
    assert!(!session.is_handed_off());
    no_put_on_tags(&app);
}

const OFFLINE: &str = "We're away until Monday 9:00 New York time; a colleague will answer then.";

fn at(instant: &str) -> Clock {
    Clock::Fixed(instant.parse().unwrap())
}

async fn final_reply_at(clock: Clock) -> String {
    let app = TestApp::spawn_with_clock(
        &[
            ("handoff.final_reply_offline", OFFLINE),
            ("business_hours.timezone", "America/New_York"),
            ("business_hours.mon", "09:00-17:00"),
            ("business_hours.tue", "09:00-17:00"),
            ("business_hours.wed", "09:00-17:00"),
            ("business_hours.thu", "09:00-17:00"),
            ("business_hours.fri", "09:00-17:00"),
        ],
        clock,
    )
    .await;
    app.webhook(&customer_event(82, 821, "I want a refund"))
        .await;
    eventually("final reply", WAIT, || !app.gorgias.replies(82).is_empty()).await;
    app.gorgias.replies(82)[0].body["body_text"]
        .as_str()
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn outside_business_hours_the_handoff_sends_the_offline_final_reply() {
    // 03:00 on a Sunday in New York.
    assert_eq!(final_reply_at(at("2026-03-08T08:00:00Z")).await, OFFLINE);
    // 10:00 on a Monday in New York (EDT by then): the usual final reply.
    let open = final_reply_at(at("2026-03-09T14:00:00Z")).await;
    assert!(open.contains("member of our team"), "{open}");
}

#[actix_web::test]
async fn shadow_mode_sends_no_tag_and_no_status_change_and_says_what_it_would_do() {
    let app =
        TestApp::spawn_with(&[("gorgias.mode", "shadow"), HANDOFF_TAGS, REPLY_TAGS, CLOSE]).await;
    app.webhook(&customer_event(83, 831, "where is my order"))
        .await;
    app.webhook(&customer_event(84, 841, "I want a refund"))
        .await;
    eventually("both drafts", WAIT, || {
        !app.gorgias.messages(83).is_empty() && !app.gorgias.messages(84).is_empty()
    })
    .await;
    for ticket in [83, 84] {
        let log = app.gorgias.write_log(ticket);
        assert_eq!(log, [format!("POST /api/tickets/{ticket}/messages (note)")]);
        assert!(app.gorgias.ticket_updates(ticket).is_empty());
        assert!(app.gorgias.tags(ticket).is_empty());
    }
    let note = |t| {
        app.gorgias.messages(t)[0].body["body_text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let reply_note = note(83);
    assert!(
        reply_note.contains("would then add the tags \"ai-replied\" and close the ticket"),
        "{reply_note}"
    );
    let handoff_note = note(84);
    assert!(
        handoff_note.contains("would add the tags \"ai-handoff\", \"ai-handoff-skip_topic\""),
        "{handoff_note}"
    );
}

fn sample(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[actix_web::test]
async fn dry_run_records_tags_and_closes_without_calling_gorgias_and_live_counts_them() {
    let app = TestApp::spawn_with(&[("gorgias.mode", "dry-run"), REPLY_TAGS, CLOSE]).await;
    app.webhook(&customer_event(85, 851, "where is my order"))
        .await;
    eventually_async("dry-run close counted", WAIT, || async {
        let (_, _, text) = app.get("/metrics", None).await;
        sample(
            &text,
            "gorgias_agent_tickets_closed_total{mode=\"dry-run\"}",
        ) == 1.0
    })
    .await;
    let (_, _, text) = app.get("/metrics", None).await;
    assert_eq!(
        sample(&text, "gorgias_agent_tags_added_total{mode=\"dry-run\"}"),
        1.0
    );
    assert!(app.gorgias.calls().is_empty());

    let live = TestApp::spawn_with(&[HANDOFF_TAGS, REPLY_TAGS, CLOSE]).await;
    live.webhook(&customer_event(86, 861, "where is my order"))
        .await;
    live.webhook(&customer_event(87, 871, "I want a refund"))
        .await;
    eventually("both done", WAIT, || {
        live.gorgias.status(86).is_some() && !live.gorgias.ticket_updates(87).is_empty()
    })
    .await;
    eventually_async("live counts", WAIT, || async {
        let (_, _, text) = live.get("/metrics", None).await;
        sample(&text, "gorgias_agent_tags_added_total{mode=\"live\"}") == 3.0
            && sample(&text, "gorgias_agent_tickets_closed_total{mode=\"live\"}") == 1.0
    })
    .await;
}

#[actix_web::test]
async fn the_admin_api_shows_the_lifecycle_settings() {
    let app = TestApp::spawn_with_clock(
        &[
            HANDOFF_TAGS,
            REPLY_TAGS,
            CLOSE,
            ("handoff.final_reply_offline", OFFLINE),
            ("business_hours.timezone", "America/New_York"),
            ("business_hours.mon", "09:00-17:00"),
        ],
        at("2026-03-09T14:00:00Z"),
    )
    .await;
    let (status, body, _) = app.get("/admin/settings", Some(ADMIN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "live");
    assert_eq!(
        body["handoff"]["tags"],
        json!(["ai-handoff", "ai-handoff-{reason}"])
    );
    assert_eq!(body["handoff"]["final_reply_offline"], OFFLINE);
    assert_eq!(body["autopilot"]["reply_tags"], json!(["ai-replied"]));
    assert_eq!(body["autopilot"]["close_after_reply"], true);
    assert_eq!(body["business_hours"]["timezone"], "America/New_York");
    assert_eq!(
        body["business_hours"]["description"],
        "America/New_York: mon 09:00-17:00, tue-sun closed"
    );
    assert_eq!(body["business_hours"]["open_now"], true);
    let (status, _, _) = app.get("/admin/settings", None).await;
    assert_eq!(status, 401);

    let plain = TestApp::spawn().await;
    let (_, body, _) = plain.get("/admin/settings", Some(ADMIN)).await;
    assert_eq!(body["handoff"]["tags"], json!([]));
    assert_eq!(body["autopilot"]["close_after_reply"], false);
    assert_eq!(body["business_hours"], serde_json::Value::Null);
}
