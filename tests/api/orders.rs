//! Order-aware answers: the customer's orders from the webhook body or fetched from Gorgias (once
//! per `orders.cache_secs`), the order the conversation names, channel-aware links, escaping,
//! and the handoffs when the order is not the customer's or there is no order data.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::*;

const SHOPIFY_ORDERS: &str = include_str!("../fixtures/orders/shopify-orders.json");
const CUSTOMER: u64 = 700001;
const UPS_TRACKING: &str = "1Z999AA10123456784";
const UPS_URL: &str = "https://www.ups.com/WebTracking?tracknum=1Z999AA10123456784";
const NO_ORDER: &str =
    "I could not find an order on your account: could you send me your order number?";

/// The test configuration with an order-aware order-status topic.
fn order_aware(toml: String) -> String {
    let shipped = r#"answer = "Your order ships within 2 business days; the tracking link is in your confirmation email.""#;
    assert!(toml.contains(shipped));
    toml.replace(
        shipped,
        &format!(
            "answer = \"Hi {{customer.first_name}}! {{order.summary}} Items: {{order.items}}.\"\nanswer_no_order = \"{NO_ORDER}\""
        ),
    )
}

async fn spawn(overrides: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_with_config(order_aware, overrides).await
}

fn scenario(name: &str) -> Value {
    let all: Value = serde_json::from_str(SHOPIFY_ORDERS).unwrap();
    all["orders"][name].clone()
}

/// `integrations` with one Shopify store holding `orders` (newest first).
fn store(orders: Vec<Value>) -> Value {
    json!({"6": {"__integration_type__": "shopify", "orders": orders}})
}

/// Jane's orders: #1001 in transit (the newest) and #1003 delivered.
fn janes_orders() -> Value {
    store(vec![scenario("in_transit"), scenario("delivered")])
}

fn with_orders(mut event: Value, integrations: Value) -> Value {
    event["ticket"]["customer"]["integrations"] = integrations;
    event
}

fn text_of(message: &Value, field: &str) -> String {
    message[field].as_str().unwrap_or_default().to_string()
}

async fn admin_session(app: &TestApp, ticket_id: u64) -> Value {
    let (status, body, _) = app
        .get(&format!("/admin/tickets/{ticket_id}"), Some(ADMIN))
        .await;
    assert_eq!(status, 200);
    body
}

async fn metrics_text(app: &TestApp) -> String {
    app.get("/metrics", None).await.2
}

/// Waits until the ticket's outbox is drained, so "nothing more is posted" can be asserted.
async fn settled(app: &TestApp, ticket_id: u64) {
    eventually("the outbox is drained", WAIT, || {
        app.store()
            .load_session(ticket_id)
            .unwrap()
            .is_some_and(|s| s.outbox.is_empty() && !s.decisions.is_empty())
    })
    .await;
}

#[actix_web::test]
async fn a_wismo_message_with_orders_in_the_body_gets_that_orders_tracking_number_and_link() {
    let app = spawn(&[]).await;
    let event = with_orders(
        customer_event(300, 1, "Hi, where is my order?"),
        janes_orders(),
    );
    let (status, body) = app.webhook(&event).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("accepted")));
    eventually("the reply", WAIT, || app.gorgias.replies(300).len() == 1).await;
    let reply = &app.gorgias.replies(300)[0].body;
    let text = text_of(reply, "body_text");
    assert!(text.starts_with("Hi Jane! Your order #1001"), "{text}");
    assert!(
        text.contains(UPS_TRACKING) && text.contains(UPS_URL),
        "{text}"
    );
    let html = text_of(reply, "body_html");
    let escaped_url = UPS_URL.replace('&', "&amp;");
    assert!(
        html.contains(&format!("<a href=\"{escaped_url}\">")),
        "{html}"
    );
    // The body had the orders: nothing was fetched.
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 0);

    // Traceability: the decision names the order and its status, and records the order.
    let session = admin_session(&app, 300).await;
    let decision = session["decisions"].as_array().unwrap().last().unwrap();
    let detail = decision["detail"].as_str().unwrap();
    assert!(detail.contains("order #1001 in_transit"), "{detail}");
    assert!(detail.contains("orders from body"), "{detail}");
    assert_eq!(decision["order"]["name"], "#1001");
    assert_eq!(decision["order"]["status"], "in_transit");
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains("gorgias_agent_order_lookups_total{source=\"body\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn the_order_the_customer_names_is_the_one_described() {
    let app = spawn(&[]).await;
    let event = with_orders(
        customer_event(301, 1, "Where is my order #1003?"),
        janes_orders(),
    );
    app.webhook(&event).await;
    eventually("the reply", WAIT, || app.gorgias.replies(301).len() == 1).await;
    let text = text_of(&app.gorgias.replies(301)[0].body, "body_text");
    assert!(text.contains("#1003 was delivered"), "{text}");
    assert!(!text.contains("#1001"), "{text}");
}

#[actix_web::test]
async fn without_orders_in_the_body_the_customer_is_fetched_once_per_cache_period() {
    let app = spawn(&[]).await;
    app.gorgias.set_customer(
        CUSTOMER,
        json!({"id": CUSTOMER, "email": "jane@customer.example", "integrations": janes_orders()}),
    );
    // The fixture's integrations are empty: the agent asks Gorgias.
    app.webhook(&customer_event(310, 1, "Where is my order?"))
        .await;
    eventually("the first reply", WAIT, || {
        app.gorgias.replies(310).len() == 1
    })
    .await;
    let text = text_of(&app.gorgias.replies(310)[0].body, "body_text");
    assert!(
        text.contains("#1001") && text.contains(UPS_TRACKING),
        "{text}"
    );
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 1);

    // The same customer again, on another ticket, within cache_secs: answered from the cache.
    app.webhook(&customer_event(
        311,
        1,
        "where is my order? tracking please",
    ))
    .await;
    eventually("the second reply", WAIT, || {
        app.gorgias.replies(311).len() == 1
    })
    .await;
    let text = text_of(&app.gorgias.replies(311)[0].body, "body_text");
    assert!(text.contains(UPS_TRACKING), "{text}");
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 1);
    let session = admin_session(&app, 311).await;
    let detail = session["decisions"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("orders from cache"), "{detail}");
    let metrics = metrics_text(&app).await;
    for source in ["fetched", "cache"] {
        assert!(
            metrics.contains(&format!(
                "gorgias_agent_order_lookups_total{{source=\"{source}\"}} 1"
            )),
            "{metrics}"
        );
    }
}

#[actix_web::test]
async fn a_turn_that_needs_no_order_data_fetches_nothing() {
    let app = spawn(&[]).await;
    app.webhook(&customer_event(315, 1, "How do I return an item?"))
        .await;
    eventually("the reply", WAIT, || app.gorgias.replies(315).len() == 1).await;
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 0);
}

/// A fetch that fails falls back to the answer without order data: one reply, never two.
async fn falls_back_once(app: &TestApp, ticket_id: u64) {
    app.webhook(&customer_event(ticket_id, 1, "Where is my order?"))
        .await;
    eventually("the fallback reply", WAIT, || {
        app.gorgias.replies(ticket_id).len() == 1
    })
    .await;
    settled(app, ticket_id).await;
    let reply = &app.gorgias.replies(ticket_id)[0].body;
    assert_eq!(text_of(reply, "body_text"), NO_ORDER);
    let session = admin_session(app, ticket_id).await;
    let decisions = session["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["outcome"], "replied");
    assert!(decisions[0]["detail"]
        .as_str()
        .unwrap()
        .contains("orders from none"));
}

#[actix_web::test]
async fn a_fetch_answered_with_503_falls_back_without_losing_or_doubling_the_reply() {
    let app = spawn(&[]).await;
    app.gorgias.fail_customers(Some(503));
    falls_back_once(&app, 320).await;
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 1);
    assert_eq!(app.gorgias.replies(320).len(), 1);
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains("gorgias_agent_order_fetch_failures_total{reason=\"server_error\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gorgias_agent_order_lookups_total{source=\"none\"} 1"));
}

#[actix_web::test]
async fn a_fetch_that_times_out_falls_back_without_losing_or_doubling_the_reply() {
    // The client gives up after gorgias.request_timeout_secs = 1; the fake answers later.
    let app = spawn(&[]).await;
    app.gorgias.set_customer(
        CUSTOMER,
        json!({"id": CUSTOMER, "integrations": janes_orders()}),
    );
    app.gorgias.delay_customers(Duration::from_millis(2500));
    falls_back_once(&app, 321).await;
    // The late answer changes nothing: still one reply, and the fallback one.
    eventually("the late answer was sent", WAIT, || {
        app.gorgias.customer_fetches(CUSTOMER) == 1
    })
    .await;
    assert_eq!(app.gorgias.replies(321).len(), 1);
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains("gorgias_agent_order_fetch_failures_total{reason=\"timeout\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn without_order_data_and_without_answer_no_order_the_ticket_is_handed_off() {
    let app = TestApp::spawn_with_config(
        |toml| order_aware(toml).replace(&format!("answer_no_order = \"{NO_ORDER}\""), ""),
        &[("orders.fetch", "false")],
    )
    .await;
    app.webhook(&customer_event(325, 1, "Where is my order?"))
        .await;
    eventually("handed off", WAIT, || {
        app.store()
            .load_session(325)
            .unwrap()
            .is_some_and(|s| s.is_handed_off())
    })
    .await;
    let session = app.store().load_session(325).unwrap().unwrap();
    assert_eq!(session.decisions.back().unwrap().reason, "no_order_data");
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 0);
}

#[actix_web::test]
async fn a_named_order_the_customer_does_not_have_is_handed_off_and_never_described() {
    let app = spawn(&[]).await;
    // #1002 is another customer's order; Jane has #1001 and #1003.
    app.gorgias.set_customer(
        700002,
        json!({"id": 700002, "integrations": store(vec![scenario("unfulfilled")])}),
    );
    let event = with_orders(
        customer_event(330, 1, "Where is my order #1002?"),
        janes_orders(),
    );
    app.webhook(&event).await;
    eventually("handed off", WAIT, || {
        app.store()
            .load_session(330)
            .unwrap()
            .is_some_and(|s| s.is_handed_off() && s.outbox.is_empty())
    })
    .await;
    let session = app.store().load_session(330).unwrap().unwrap();
    let decision = session.decisions.back().unwrap();
    assert_eq!(decision.reason, "order_not_found");
    assert!(decision.order.is_none());
    let posted = app.gorgias.all_messages();
    assert!(!posted.is_empty());
    for m in &posted {
        let all = format!(
            "{} {}",
            text_of(&m.body, "body_text"),
            text_of(&m.body, "body_html")
        );
        // Nothing about #1002 (or any order): no status, date, items or tracking.
        for secret in [
            "hasn't shipped",
            "28 November",
            "Ceramic Mug",
            "T-shirt",
            UPS_TRACKING,
            "in transit",
            "delivered on",
        ] {
            assert!(!all.contains(secret), "{secret:?} in {all}");
        }
    }
    // The handoff note names the order the customer asked about.
    let note = posted
        .iter()
        .find(|m| m.body["channel"] == "internal-note")
        .expect("a handoff note");
    let note_text = text_of(&note.body, "body_text");
    assert!(
        note_text.contains("order_not_found") && note_text.contains("#1002"),
        "{note_text}"
    );
    assert_eq!(app.gorgias.customer_fetches(700002), 0);
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 0);
}

#[actix_web::test]
async fn on_whatsapp_and_sms_the_reply_carries_the_plain_url_and_no_html_link() {
    let app = spawn(&[]).await;
    for (ticket_id, channel) in [(340, "whatsapp"), (341, "sms")] {
        let event = on_channel(
            with_orders(
                customer_event(ticket_id, 1, "where is my order?"),
                janes_orders(),
            ),
            channel,
        );
        app.webhook(&event).await;
        eventually("the reply", WAIT, || {
            app.gorgias.replies(ticket_id).len() == 1
        })
        .await;
        let reply = &app.gorgias.replies(ticket_id)[0].body;
        assert_eq!(reply["channel"], channel);
        assert!(text_of(reply, "body_text").contains(UPS_URL));
        let html = text_of(reply, "body_html");
        assert!(!html.contains("<a "), "{html}");
        assert!(html.contains(&UPS_URL.replace('&', "&amp;")), "{html}");
    }
}

#[actix_web::test]
async fn a_script_in_a_product_title_reaches_gorgias_escaped() {
    let app = spawn(&[]).await;
    let mut order = scenario("in_transit");
    order["line_items"][0]["title"] = json!("<script>alert(1)</script> Mug");
    let event = with_orders(
        customer_event(350, 1, "where is my order?"),
        store(vec![order]),
    );
    app.webhook(&event).await;
    eventually("the reply", WAIT, || app.gorgias.replies(350).len() == 1).await;
    let reply = &app.gorgias.replies(350)[0].body;
    let html = text_of(reply, "body_html");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Mug"),
        "{html}"
    );
}

/// The agent with the openai brain pointed at `model`.
async fn spawn_openai(model: &FakeOpenAi) -> TestApp {
    let mut overrides = openai_brain(model);
    overrides.push(("brain.openai.max_retries", "0"));
    spawn(&overrides).await
}

#[actix_web::test]
async fn the_openai_brain_gets_the_fetched_orders_as_facts_and_never_addresses() {
    let model = FakeOpenAi::start();
    model.set_default(Step::reply("Your order #1001 is on its way with UPS."));
    let app = spawn_openai(&model).await;
    let mut orders = janes_orders();
    orders["6"]["orders"][0]["shipping_address"] = json!({"address1": "12 Hidden Lane"});
    app.gorgias
        .set_customer(CUSTOMER, json!({"id": CUSTOMER, "integrations": orders}));
    app.webhook(&customer_event(360, 1, "Hello, any news about my parcel?"))
        .await;
    eventually("the reply", WAIT, || app.gorgias.replies(360).len() == 1).await;
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 1);
    let request = &model.decisions()[0];
    let system = &request.messages()[0].1;
    assert!(system.contains(r##""name":"#1001""##), "{system}");
    assert!(system.contains(r#""status":"in_transit""#), "{system}");
    assert!(system.contains(UPS_TRACKING), "{system}");
    assert!(
        system.contains("About orders, use only these facts"),
        "{system}"
    );
    assert!(!system.contains("Hidden Lane"), "{system}");
}

#[actix_web::test]
async fn with_the_openai_brain_a_named_order_that_is_not_the_customers_hands_off_unasked() {
    let model = FakeOpenAi::start();
    model.set_default(Step::reply("Your order #1002 is on its way."));
    let app = spawn_openai(&model).await;
    let event = with_orders(
        customer_event(361, 1, "Where is order #1002?"),
        janes_orders(),
    );
    app.webhook(&event).await;
    eventually("handed off", WAIT, || {
        app.store()
            .load_session(361)
            .unwrap()
            .is_some_and(|s| s.is_handed_off() && s.outbox.is_empty())
    })
    .await;
    let session = app.store().load_session(361).unwrap().unwrap();
    assert_eq!(session.decisions.back().unwrap().reason, "order_not_found");
    assert!(model.decisions().is_empty(), "the model was not asked");
    for m in app.gorgias.all_messages() {
        assert!(!text_of(&m.body, "body_text").contains("on its way"));
    }
}

#[actix_web::test]
async fn shadow_mode_fetches_too_and_the_draft_describes_the_order() {
    let app = spawn(&[("gorgias.mode", "shadow")]).await;
    app.gorgias.set_customer(
        CUSTOMER,
        json!({"id": CUSTOMER, "integrations": janes_orders()}),
    );
    app.webhook(&customer_event(370, 1, "Where is my order?"))
        .await;
    eventually("the draft note", WAIT, || {
        app.gorgias.messages(370).len() == 1
    })
    .await;
    let note = &app.gorgias.messages(370)[0].body;
    assert_eq!(note["channel"], "internal-note");
    assert!(text_of(note, "body_text").contains(UPS_TRACKING));
    assert!(app.gorgias.replies(370).is_empty());
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 1);
}

#[actix_web::test]
async fn a_handoff_note_names_the_order_in_question() {
    let app = spawn(&[]).await;
    let event = with_orders(
        customer_event(371, 1, "My order #1003 arrived damaged, the mug is broken."),
        janes_orders(),
    );
    app.webhook(&event).await;
    eventually("handed off", WAIT, || {
        app.store()
            .load_session(371)
            .unwrap()
            .is_some_and(|s| s.is_handed_off() && s.outbox.is_empty())
    })
    .await;
    let session = app.store().load_session(371).unwrap().unwrap();
    let decision = session.decisions.back().unwrap();
    assert_eq!(decision.reason, "complaint");
    assert_eq!(
        decision.order.as_ref().unwrap().name.as_deref(),
        Some("#1003")
    );
    let note = app
        .gorgias
        .messages(371)
        .into_iter()
        .find(|m| m.body["channel"] == "internal-note")
        .expect("a handoff note");
    let text = text_of(&note.body, "body_text");
    assert!(text.contains("order #1003 delivered"), "{text}");
    // The body had the orders: nothing is fetched for a handoff.
    assert_eq!(app.gorgias.customer_fetches(CUSTOMER), 0);
}
