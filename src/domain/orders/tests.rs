use serde_json::json;

use super::*;

const SHOPIFY_ORDERS: &str = include_str!("../../../tests/fixtures/orders/shopify-orders.json");
const GORGIAS_CUSTOMER: &str =
    include_str!("../../../tests/fixtures/postman-retrieve-customer.response-200.json");

fn scenario(name: &str) -> Value {
    let all: Value = serde_json::from_str(SHOPIFY_ORDERS).unwrap();
    let order = all["orders"][name].clone();
    assert!(order.is_object(), "no scenario {name}");
    order
}

/// `integrations` of a customer with one Shopify store holding these orders.
fn store(orders: Vec<Value>) -> Value {
    json!({ "6": { "__integration_type__": "shopify", "orders": orders, "customer": {} } })
}

fn one(order: Value) -> Order {
    let parsed = parse_integrations(&store(vec![order]));
    assert_eq!(parsed.degraded, None);
    assert_eq!(parsed.orders.len(), 1);
    parsed.orders.into_iter().next().unwrap()
}

fn summary_of(name: &str) -> String {
    one(scenario(name)).summary().into_text()
}

const UPS_URL: &str = "https://www.ups.com/WebTracking?tracknum=1Z999AA10123456784";

// ---- status mapping ----

#[test]
fn every_status_code_comes_from_a_realistic_shopify_order() {
    let cases = [
        ("unfulfilled", OrderStatus::Unfulfilled),
        ("processing_fulfillment", OrderStatus::ProcessingFulfillment),
        ("label_printed", OrderStatus::ProcessingFulfillment),
        ("in_transit", OrderStatus::InTransit),
        ("fulfilled_no_shipment_status", OrderStatus::InTransit),
        ("out_for_delivery", OrderStatus::OutForDelivery),
        ("attempted_delivery", OrderStatus::AttemptedDelivery),
        ("ready_for_pickup", OrderStatus::ReadyForPickup),
        ("delivered", OrderStatus::Delivered),
        ("failed_delivery", OrderStatus::FailedDelivery),
        ("cancelled", OrderStatus::Cancelled),
        ("refunded", OrderStatus::Refunded),
        ("partially_refunded", OrderStatus::PartiallyRefunded),
        ("partial_fulfillment", OrderStatus::InTransit),
        ("two_parcels", OrderStatus::InTransit),
        ("cancelled_fulfillment_only", OrderStatus::Unfulfilled),
    ];
    for (name, expected) in cases {
        assert_eq!(one(scenario(name)).status, expected, "{name}");
    }
    for status in OrderStatus::ALL {
        assert!(
            cases.iter().any(|(_, s)| *s == status),
            "{status} has no fixture"
        );
        // The code is what serde writes, so a stored order reads back the same.
        assert_eq!(serde_json::to_value(status).unwrap(), json!(status.code()));
    }
}

#[test]
fn an_order_in_transit_is_normalized_with_its_tracking() {
    let o = one(scenario("in_transit"));
    assert_eq!(o.name.as_deref(), Some("#1001"));
    assert_eq!(o.number, Some(1001));
    assert_eq!(o.created_at.as_deref(), Some("2024-11-18T14:32:00-05:00"));
    assert_eq!(o.status_at.as_deref(), Some("2024-11-20T09:12:44-05:00"));
    assert_eq!(o.carrier.as_deref(), Some("UPS"));
    assert_eq!(o.tracking_number.as_deref(), Some("1Z999AA10123456784"));
    assert_eq!(o.tracking_url.as_deref(), Some(UPS_URL));
    assert!(o
        .status_url
        .as_deref()
        .unwrap()
        .starts_with("https://acme-store.example/"));
    assert_eq!(o.items_text(), "Classic Crew T-shirt × 2, Ceramic Mug");
    assert_eq!(o.date_text().as_deref(), Some("18 November"));
    assert!(!o.partial);
    assert_eq!(o.detail(), "order #1001 in_transit");
}

#[test]
fn gorgias_public_customer_sample_reads_as_one_unfulfilled_order() {
    let customer: Value = serde_json::from_str(GORGIAS_CUSTOMER).unwrap();
    let parsed = parse_integrations(&customer["integrations"]);
    assert_eq!(parsed.degraded, None);
    let [o] = parsed.orders.as_slice() else {
        panic!("{parsed:?}")
    };
    // The sample has neither `name` nor `order_number`: the order is still described.
    assert_eq!(o.name, None);
    assert_eq!(o.status, OrderStatus::Unfulfilled);
    assert_eq!(o.items_text(), "Acidulous candy");
    assert_eq!(o.detail(), "order placed 2018-12-04 unfulfilled");
    assert_eq!(
        o.summary().text(),
        "Your order hasn't shipped yet; it was placed on 4 December."
    );
}

#[test]
fn a_printed_label_is_still_being_prepared_but_already_has_its_tracking() {
    let o = one(scenario("label_printed"));
    assert_eq!(o.status, OrderStatus::ProcessingFulfillment);
    assert_eq!(o.tracking_number.as_deref(), Some("1Z999AA10123456784"));
}

#[test]
fn partial_fulfillment_and_several_parcels() {
    let o = one(scenario("partial_fulfillment"));
    assert_eq!((o.status, o.partial), (OrderStatus::InTransit, true));
    // One parcel delivered, a later one on its way: the order is on its way, with that parcel's
    // tracking.
    let o = one(scenario("two_parcels"));
    assert_eq!((o.status, o.partial), (OrderStatus::InTransit, true));
    assert_eq!(o.tracking_number.as_deref(), Some("1Z999AA10123456784"));
    // A delivery problem outweighs a parcel in transit.
    let mut order = scenario("two_parcels");
    order["fulfillments"][0]["shipment_status"] = json!("failure");
    assert_eq!(one(order).status, OrderStatus::FailedDelivery);
}

#[test]
fn order_level_states_outrank_shipping() {
    let o = one(scenario("cancelled"));
    assert_eq!(o.status_at.as_deref(), Some("2024-11-21T08:15:00-05:00"));
    let o = one(scenario("refunded"));
    assert_eq!(o.status_at.as_deref(), Some("2024-11-22T10:00:00-05:00"));
    // Cancelled with an unreadable date: still cancelled.
    let mut order = scenario("in_transit");
    order["cancelled_at"] = json!("yesterday");
    let o = one(order);
    assert_eq!((o.status, o.status_at), (OrderStatus::Cancelled, None));
}

#[test]
fn shipment_statuses_map_as_gorgias_shows_them_to_shoppers() {
    let cases = [
        ("confirmed", OrderStatus::ProcessingFulfillment),
        ("label_purchased", OrderStatus::ProcessingFulfillment),
        ("label_printed", OrderStatus::ProcessingFulfillment),
        ("in_transit", OrderStatus::InTransit),
        ("carrier_picked_up", OrderStatus::InTransit),
        ("delayed", OrderStatus::InTransit),
        ("out_for_delivery", OrderStatus::OutForDelivery),
        ("attempted_delivery", OrderStatus::AttemptedDelivery),
        ("ready_for_pickup", OrderStatus::ReadyForPickup),
        ("picked_up", OrderStatus::Delivered),
        ("delivered", OrderStatus::Delivered),
        ("failure", OrderStatus::FailedDelivery),
        ("not_delivered", OrderStatus::FailedDelivery),
        ("something_new", OrderStatus::InTransit),
    ];
    for (shipment_status, expected) in cases {
        let mut order = scenario("in_transit");
        order["fulfillments"][0]["shipment_status"] = json!(shipment_status.to_uppercase());
        assert_eq!(one(order).status, expected, "{shipment_status}");
    }
    for (status, expected) in [
        ("pending", OrderStatus::ProcessingFulfillment),
        ("open", OrderStatus::ProcessingFulfillment),
        ("error", OrderStatus::Unfulfilled),
        ("failure", OrderStatus::Unfulfilled),
    ] {
        let mut order = scenario("unfulfilled");
        order["fulfillments"] = json!([{"status": status, "shipment_status": "in_transit"}]);
        assert_eq!(one(order).status, expected, "{status}");
    }
    // Fulfilled with no fulfillment objects (a trimmed blob): it shipped.
    let mut order = scenario("in_transit");
    order["fulfillments"] = json!([]);
    assert_eq!(one(order).status, OrderStatus::InTransit);
}

#[test]
fn several_stores_are_all_read_newest_first_and_other_platforms_are_ignored() {
    let integrations = json!({
        "6": { "__integration_type__": "shopify",
               "orders": [scenario("unfulfilled"), scenario("in_transit")] },
        "9": { "__integration_type__": "shopify",
               "orders": [{ "name": "UK-1003", "order_number": 1003,
                            "created_at": "2024-11-22T09:00:00+00:00",
                            "fulfillment_status": null, "line_items": [] }] },
        "12": { "__integration_type__": "bigcommerce", "orders": [{ "id": 1, "status": "Shipped" }] },
        "15": { "__integration_type__": "magento2", "orders": [{ "entity_id": 3 }] },
        "21": { "__integration_type__": "http", "data": "anything" },
        "30": { "orders": [scenario("delivered")] }
    });
    let parsed = parse_integrations(&integrations);
    assert_eq!(parsed.degraded, None);
    let names: Vec<_> = parsed
        .orders
        .iter()
        .map(|o| o.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["#1002", "UK-1003", "#1001"]);
}

#[test]
fn integrations_as_a_json_string_read_like_the_object() {
    let object = store(vec![scenario("in_transit"), scenario("delivered")]);
    let as_string = Value::String(object.to_string());
    assert_eq!(parse_integrations(&as_string), parse_integrations(&object));
    assert_eq!(parse_integrations(&as_string).orders.len(), 2);
    // A template may stringify deeper levels too.
    let nested = json!({"6": {
        "__integration_type__": "shopify",
        "orders": Value::String(json!([scenario("in_transit")]).to_string())
    }});
    assert_eq!(parse_integrations(&nested).orders.len(), 1);
}

#[test]
fn no_order_data_is_not_a_degradation_but_an_unreadable_blob_is() {
    for empty in [
        json!(null),
        json!(""),
        json!("  "),
        json!({}),
        json!([]),
        json!("null"),
    ] {
        assert_eq!(
            parse_integrations(&empty),
            CustomerOrders::default(),
            "{empty}"
        );
    }
    for garbage in [
        json!("not json {"),
        json!(42),
        json!(true),
        json!("[1, 2]"),
        json!([1]),
    ] {
        let parsed = parse_integrations(&garbage);
        assert!(parsed.orders.is_empty());
        assert_eq!(parsed.degraded, Some(Degraded::Unreadable), "{garbage}");
        assert_eq!(Degraded::Unreadable.code(), "unreadable_integrations");
    }
}

#[test]
fn unreadable_stores_and_orders_are_skipped_and_counted() {
    let integrations = json!({
        "1": "not an object",
        "2": { "__integration_type__": "shopify", "orders": "not a list" },
        "3": { "__integration_type__": "shopify", "orders": null },
        "4": { "__integration_type__": "shopify",
               "orders": [42, null, "x", [], {}, {"line_items": []}, scenario("in_transit")] },
    });
    let parsed = parse_integrations(&integrations);
    assert_eq!(parsed.orders.len(), 1);
    // Store 1, store 2, and six orders of store 4.
    assert_eq!(parsed.degraded, Some(Degraded::Skipped(8)));
    assert_eq!(Degraded::Skipped(8).code(), "skipped_orders");
}

#[test]
fn garbage_in_any_field_never_panics_and_degrades_to_less() {
    let garbage = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(""),
        json!("garbage"),
        json!("<script>alert(1)</script>"),
        json!("javascript:alert(1)"),
        json!("2024-13-45T99:99:99+99:99"),
        json!([]),
        json!([null, 1, "x"]),
        json!({}),
        json!({"a": {"b": []}}),
        json!("x".repeat(100_000)),
    ];
    let mut base = scenario("two_parcels");
    base["refunds"] = scenario("refunded")["refunds"].clone();
    let mut paths: Vec<Vec<Value>> = Vec::new();
    for key in base.as_object().unwrap().keys() {
        paths.push(vec![json!(key)]);
    }
    for key in base["fulfillments"][0].as_object().unwrap().keys() {
        paths.push(vec![json!("fulfillments"), json!(0), json!(key)]);
    }
    for key in base["line_items"][0].as_object().unwrap().keys() {
        paths.push(vec![json!("line_items"), json!(0), json!(key)]);
    }
    paths.push(vec![json!("fulfillments"), json!(0)]);
    paths.push(vec![json!("line_items"), json!(0)]);
    paths.push(vec![json!("refunds"), json!(0)]);
    for path in &paths {
        for g in &garbage {
            let mut order = base.clone();
            let mut slot = &mut order;
            for step in path {
                slot = match step {
                    Value::String(k) => &mut slot[k.as_str()],
                    Value::Number(n) => &mut slot[n.as_u64().unwrap() as usize],
                    _ => unreachable!(),
                };
            }
            *slot = g.clone();
            let parsed = parse_integrations(&store(vec![order]));
            assert!(parsed.orders.len() <= 1);
            for o in &parsed.orders {
                // Whatever survives is clean and renders.
                for url in [&o.tracking_url, &o.status_url].into_iter().flatten() {
                    assert!(url.starts_with("http"), "{path:?} {g}: {url}");
                }
                let text = o.summary().into_text();
                assert!(!text.contains("None") && !text.contains("null"), "{text}");
                assert!(o.items.iter().all(|i| i.title.chars().count() <= 200));
                let _ = order_facts(std::slice::from_ref(o), 3);
            }
        }
    }
}

#[test]
fn addresses_payment_and_contact_details_are_never_kept() {
    let all: Value = serde_json::from_str(SHOPIFY_ORDERS).unwrap();
    let orders: Vec<Value> = all["orders"]
        .as_object()
        .unwrap()
        .values()
        .cloned()
        .collect();
    let parsed = parse_integrations(&store(orders));
    assert_eq!(parsed.orders.len(), 16);
    let everything = format!(
        "{:?}{}{}",
        parsed.orders,
        serde_json::to_string(&parsed.orders).unwrap(),
        order_facts(&parsed.orders, 100)
    );
    for secret in [
        "Washburn",
        "94103",
        "Curie",
        "4242",
        "Visa",
        "203.0.113.7",
        "marie@customer.example",
        "415",
        "51.00",
        "shopify_payments",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[test]
fn only_safe_http_urls_are_kept() {
    for bad in [
        "javascript:alert(1)",
        "data:text/html,<script>",
        "https://x.example/\"onmouseover=\"alert(1)",
        "https://x.example/<script>",
        "https:// spaced.example",
        "ftp://files.example/x",
        "https://",
    ] {
        let mut order = scenario("in_transit");
        order["order_status_url"] = json!(bad);
        order["fulfillments"][0]["tracking_url"] = json!(bad);
        order["fulfillments"][0]["tracking_urls"] = json!([bad]);
        let o = one(order);
        assert_eq!((o.status_url, o.tracking_url), (None, None), "{bad}");
    }
}

#[test]
fn order_text_is_cleaned_and_bounded() {
    let mut order = scenario("in_transit");
    order["line_items"] = json!([
        {"title": "  Blue\n\tT-shirt\u{0007} ", "quantity": "3"},
        {"title": "x".repeat(5000), "quantity": 1},
        {"name": "Gift card", "quantity": null},
        {"title": "Removed", "quantity": 0},
        {"title": null}
    ]);
    let o = one(order);
    assert_eq!(
        o.items[0],
        LineItem {
            title: "Blue T-shirt".into(),
            quantity: 3
        }
    );
    assert_eq!(o.items[1].title.chars().count(), 200);
    assert_eq!(
        o.items[2],
        LineItem {
            title: "Gift card".into(),
            quantity: 1
        }
    );
    assert_eq!(o.items.len(), 3);
}

#[test]
fn timestamps_are_read_with_their_offsets() {
    assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_instant("1970-01-01T01:00:00+01:00"), Some(0));
    assert_eq!(parse_instant("1969-12-31T19:00:00-0500"), Some(0));
    assert_eq!(
        parse_instant("2024-02-14T21:49:40.308988+00:00"),
        Some(1_707_947_380)
    );
    assert_eq!(
        parse_instant("2019-04-13T03:27:56.973873"),
        Some(1_555_126_076)
    );
    assert_eq!(parse_instant("2024-02-29"), Some(1_709_164_800));
    for bad in [
        "",
        "2023-02-29",
        "2024-13-01",
        "2024-11-20T25:00:00",
        "20/11/2024",
        "2024-11-20Tx",
    ] {
        assert_eq!(parse_instant(bad), None, "{bad}");
    }
    assert_eq!(
        display_date("2024-11-20T23:30:00-05:00").as_deref(),
        Some("20 November")
    );
    assert_eq!(display_date("2024-01-05").as_deref(), Some("5 January"));
}

// ---- order references ----

fn refs(text: &str) -> Vec<(String, bool)> {
    order_refs(text)
        .into_iter()
        .map(|r| (r.text, r.explicit))
        .collect()
}

#[test]
fn order_references_are_found_in_the_ways_customers_write_them() {
    let explicit = |t: &str| vec![(t.to_string(), true)];
    assert_eq!(refs("Where is my order #1001?"), explicit("#1001"));
    assert_eq!(refs("where is order 1001"), explicit("1001"));
    assert_eq!(refs("Order number: 1001."), explicit("1001"));
    assert_eq!(refs("order no. 1001"), explicit("1001"));
    assert_eq!(refs("my order is 1001"), explicit("1001"));
    assert_eq!(refs("ORDER#1001 please"), explicit("1001"));
    assert_eq!(refs("Order # 1001"), explicit("1001"));
    assert_eq!(refs("order number 12"), explicit("12"));
    assert_eq!(refs("Où est ma commande n° 1001 ?"), explicit("1001"));
    assert_eq!(refs("My UK-1003 hasn't arrived"), explicit("UK-1003"));
    assert_eq!(refs("order #UK-1003"), explicit("#UK-1003"));
    assert_eq!(refs("(#1001)"), explicit("#1001"));
    assert_eq!(refs("Where is 1001?"), vec![("1001".to_string(), false)]);
    assert_eq!(
        refs("status of UK1003"),
        vec![("UK1003".to_string(), false)]
    );
    assert_eq!(
        refs("#1001 and #1002, also #1001"),
        vec![("#1001".to_string(), true), ("#1002".to_string(), true)]
    );
}

#[test]
fn numbers_that_are_not_orders_are_not_references() {
    for text in [
        "It cost $10.99",
        "I paid 10 EUR",
        "I paid 120 EUR for it",
        "that's EUR 120",
        "€ 120 is too much",
        "it was 1,200 dollars",
        "I ordered 2 items",
        "I ordered 3 weeks ago",
        "I want to order 12 shirts",
        "order 300 pieces",
        "call me at 555 123 4567",
        "my phone: +1 415-555-0142",
        "(415) 555-0142",
        "my number is 5551234",
        "my phone number is 5551234",
        "06 12 34 56 78",
        "0612345678",
        "on 2024-11-20",
        "on 20/11/2024",
        "November 20, 2024",
        "on 20 November 2024",
        "since 2019",
        "my 2023 order",
        "at 10:30",
        "my zip is 94103",
        "zip code 94103",
        "I live at 1234 Main Street",
        "52 Washburn Street",
        "SKU-1234 is out of stock",
        "RMA-5521",
        "tracking number 123456789",
        "it weighs 500 g",
        "50% off",
        "size 104",
        "1st of December",
        "#1 fan",
        "#sale2024",
    ] {
        assert_eq!(refs(text), vec![], "{text}");
    }
}

fn named(name: &str, number: u64, created: &str) -> Order {
    Order {
        name: Some(name.into()),
        number: Some(number),
        created_at: Some(created.into()),
        status: OrderStatus::InTransit,
        status_at: None,
        partial: false,
        carrier: None,
        tracking_number: None,
        tracking_url: None,
        status_url: None,
        items: vec![],
    }
}

fn customer_orders() -> Vec<Order> {
    vec![
        named("#1002", 1002, "2024-11-28T00:00:00Z"),
        named("UK-1003", 1003, "2024-11-22T00:00:00Z"),
        named("#1001", 1001, "2024-11-18T00:00:00Z"),
    ]
}

fn chosen<'a>(choice: &Choice<'a>) -> &'a str {
    choice.order().unwrap().name.as_deref().unwrap()
}

#[test]
fn the_named_order_is_chosen_else_the_most_recent() {
    let orders = customer_orders();
    let c = choose_order(&orders, &["Where is #1001?"]);
    assert!(matches!(c, Choice::Named(_)));
    assert_eq!(chosen(&c), "#1001");
    assert_eq!(
        chosen(&choose_order(&orders, &["is 1001 shipped"])),
        "#1001"
    );
    assert_eq!(
        chosen(&choose_order(&orders, &["order uk-1003?"])),
        "UK-1003"
    );
    assert_eq!(
        chosen(&choose_order(&orders, &["status of UK1003"])),
        "UK-1003"
    );
    // The store prefix is part of the name, but the number alone finds it too.
    assert_eq!(chosen(&choose_order(&orders, &["order #1003"])), "UK-1003");
    let c = choose_order(&orders, &["where is my order?"]);
    assert!(matches!(c, Choice::MostRecent(_)));
    assert_eq!(chosen(&c), "#1002");
    // Any customer message counts; the latest one that names an order decides.
    let c = choose_order(&orders, &["about order #1001", "any news?"]);
    assert_eq!(chosen(&c), "#1001");
    let c = choose_order(&orders, &["about order #1001", "sorry, I meant #1002"]);
    assert_eq!(chosen(&c), "#1002");
}

#[test]
fn a_named_order_the_customer_does_not_have_is_not_found() {
    let orders = customer_orders();
    let not_found = |messages: &[&str]| match choose_order(&orders, messages) {
        Choice::NotFound { named } => Some(named),
        _ => None,
    };
    assert_eq!(
        not_found(&["where is order #2001?"]).as_deref(),
        Some("#2001")
    );
    assert_eq!(not_found(&["FR-1003 please"]).as_deref(), Some("FR-1003"));
    // A bare number as long as their order numbers is most likely an order of someone else.
    assert_eq!(not_found(&["where is 1005?"]).as_deref(), Some("1005"));
    assert_eq!(
        not_found(&["order #1001 arrived", "and order #1009?"]).as_deref(),
        Some("#1009")
    );
    // A bare number unlike theirs (a house number, a zip code) names nothing.
    assert_eq!(
        chosen(&choose_order(
            &orders,
            &["I'm at 12345 now, where is my parcel?"]
        )),
        "#1002"
    );
    // A prefixed name never matches another store's order by its digits.
    assert_eq!(not_found(&["order UK-1001"]).as_deref(), Some("UK-1001"));
}

#[test]
fn a_customer_without_orders_gets_no_orders_with_what_they_named() {
    let none: Vec<Order> = vec![];
    assert_eq!(
        choose_order(&none, &["where is my order"]),
        Choice::NoOrders { named: None }
    );
    assert_eq!(
        choose_order(&none, &["where is #1001"]),
        Choice::NoOrders {
            named: Some("#1001".into())
        }
    );
    assert_eq!(choose_order(&none, &["where is #1001"]).order(), None);
}

// ---- rendering ----

#[test]
fn the_summary_is_one_good_sentence_per_status() {
    let cases = [
        ("in_transit", format!("Your order #1001 shipped on 20 November with UPS and is on its way: tracking 1Z999AA10123456784, {UPS_URL}")),
        ("unfulfilled", "Your order #1002 hasn't shipped yet; it was placed on 28 November.".into()),
        ("delivered", "Your order #1003 was delivered on 24 November.".into()),
        ("processing_fulfillment", "Your order #1010 is being prepared for shipping; it was placed on 27 November.".into()),
        ("label_printed", format!("Your order #1011 is being prepared for shipping with UPS: tracking 1Z999AA10123456784, {UPS_URL}")),
        ("out_for_delivery", format!("Your order #1013 is out for delivery with UPS: tracking 1Z999AA10123456784, {UPS_URL}")),
        ("attempted_delivery", format!("UPS tried to deliver your order #1014 but couldn't complete the delivery: tracking 1Z999AA10123456784, {UPS_URL}")),
        ("ready_for_pickup", "Your order #1015 is ready for pickup from DHL Express: tracking JD014600006281230704, https://www.dhl.com/en/express/tracking.html?AWB=JD014600006281230704".into()),
        ("failed_delivery", format!("There was a problem delivering your order #1016 with UPS: tracking 1Z999AA10123456784, {UPS_URL}")),
        ("cancelled", "Your order #1017 was cancelled on 21 November.".into()),
        ("refunded", "Your order #1018 was refunded on 22 November.".into()),
        ("partially_refunded", format!("Part of your order #1019 was refunded on 19 November; the rest shipped with UPS: tracking 1Z999AA10123456784, {UPS_URL}")),
        ("partial_fulfillment", format!("Part of your order #1020 shipped on 20 November with UPS and is on its way (the rest will follow): tracking 1Z999AA10123456784, {UPS_URL}")),
    ];
    for (name, expected) in cases {
        assert_eq!(summary_of(name), expected, "{name}");
    }
}

#[test]
fn the_summary_words_missing_fields_sensibly() {
    let mut o = named("#1001", 1001, "2024-11-18T00:00:00Z");
    assert_eq!(
        o.summary().text(),
        "Your order #1001 shipped and is on its way."
    );
    o.tracking_number = Some("1Z999".into());
    assert_eq!(
        o.summary().text(),
        "Your order #1001 shipped and is on its way: tracking 1Z999."
    );
    o.tracking_number = None;
    o.tracking_url = Some("https://t.example/1".into());
    assert_eq!(
        o.summary().text(),
        "Your order #1001 shipped and is on its way: https://t.example/1"
    );
    o.status = OrderStatus::AttemptedDelivery;
    assert_eq!(
        o.summary().text(),
        "The carrier tried to deliver your order #1001 but couldn't complete the delivery: https://t.example/1"
    );
    for status in OrderStatus::ALL {
        let bare = Order {
            name: None,
            number: None,
            created_at: None,
            status,
            ..named("", 0, "")
        };
        let text = bare.summary().into_text();
        assert!(
            text.starts_with(char::is_uppercase) && text.ends_with('.'),
            "{text}"
        );
        for bad in ["None", " ,", "with .", "on .", "  ", " ."] {
            assert!(!text.contains(bad), "{status}: {text}");
        }
    }
}

fn ctx<'a>(order: Option<&'a Order>, first_name: Option<&'a str>) -> RenderContext<'a> {
    RenderContext { order, first_name }
}

#[test]
fn templates_fill_every_placeholder() {
    let o = one(scenario("in_transit"));
    let template =
        "Hi {customer.first_name}! {order.summary}\n\nOrder {order.name} ({order.status}), \
         placed on {order.date}: {order.items}. Carrier: {order.carrier}, tracking \
         {order.tracking_number} at {order.tracking_url}. Details: {order.status_url}";
    let r = render(template, &ctx(Some(&o), Some("Marie"))).unwrap();
    assert_eq!(
        r.text(),
        format!(
            "Hi Marie! Your order #1001 shipped on 20 November with UPS and is on its way: \
             tracking 1Z999AA10123456784, {UPS_URL}\n\nOrder #1001 (in transit), placed on 18 \
             November: Classic Crew T-shirt × 2, Ceramic Mug. Carrier: UPS, tracking \
             1Z999AA10123456784 at {UPS_URL}. Details: {}",
            o.status_url.as_deref().unwrap()
        )
    );
    // Unknown braces stay as written.
    let r = render("{order.total} {not a placeholder} {", &ctx(Some(&o), None)).unwrap();
    assert_eq!(r.text(), "{order.total} {not a placeholder} {");
}

#[test]
fn templates_render_missing_fields_without_dangling_words() {
    let o = named("#1001", 1001, "not a date");
    let c = ctx(Some(&o), None);
    let text = |t: &str| render(t, &c).unwrap().into_text();
    assert_eq!(
        text("Hi {customer.first_name}, here you go."),
        "Hi, here you go."
    );
    assert_eq!(text("Thanks, {customer.first_name}!"), "Thanks!");
    assert_eq!(text("It shipped with {order.carrier}."), "It shipped.");
    assert_eq!(
        text("It shipped with {order.carrier}, tracking {order.tracking_number}."),
        "It shipped, tracking."
    );
    assert_eq!(
        text("Placed on {order.date}. Items: {order.items}"),
        "Placed. Items:"
    );
    assert_eq!(text("{order.carrier} will deliver it"), "will deliver it");
    assert_eq!(text("Track it: {order.tracking_url}"), "Track it:");
    for template in [
        "{order.name}",
        "{order.summary}",
        "{order.tracking_url}",
        "{order.items}",
    ] {
        assert!(!text(template).contains("None"));
    }
}

#[test]
fn a_template_that_needs_an_order_reports_it_when_there_is_none() {
    let none = ctx(None, Some("Marie"));
    assert_eq!(render("Hi! {order.summary}", &none), Err(NeedsOrderData));
    assert_eq!(
        render("Status: { order.status }", &none),
        Err(NeedsOrderData)
    );
    assert!(needs_order_data("{order.tracking_url}"));
    assert!(!needs_order_data("Hi {customer.first_name}, {order.total}"));
    assert_eq!(
        render("Hi {customer.first_name}, we ship in 2 days.", &none)
            .unwrap()
            .text(),
        "Hi Marie, we ship in 2 days."
    );
    assert!(NeedsOrderData.to_string().contains("order data"));
}

#[test]
fn a_script_in_a_product_title_is_escaped_in_html() {
    let mut order = scenario("in_transit");
    order["line_items"][0]["title"] = json!("<script>alert('x')</script> & \"Co\"");
    order["fulfillments"][0]["tracking_company"] = json!("<b>UPS</b>");
    order["name"] = json!("#1001<img src=x onerror=alert(1)>");
    let o = one(order);
    let r = render(
        "{order.summary} Items: {order.items}",
        &ctx(Some(&o), Some("<i>Marie</i>")),
    )
    .unwrap();
    for channel in ["email", "chat", "sms"] {
        let html = r.html(channel);
        assert!(
            !html.contains("<script") && !html.contains("<b>") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;Co&quot;"));
        assert!(html.contains("&lt;b&gt;UPS&lt;/b&gt;"));
    }
    // The plain text keeps it as text: body_text is not HTML.
    assert!(r.text().contains("<script>alert('x')</script>"));
    let r = render("Hi {customer.first_name}", &ctx(None, Some("<i>Marie</i>"))).unwrap();
    assert_eq!(r.html("email"), "<p>Hi &lt;i&gt;Marie&lt;/i&gt;</p>");
}

#[test]
fn links_are_html_only_on_email_and_chat() {
    let o = one(scenario("in_transit"));
    let r = render(
        "{order.summary}\nStatus page: {order.status_url}",
        &ctx(Some(&o), None),
    )
    .unwrap();
    let status_url = escape_html(o.status_url.as_deref().unwrap());
    for channel in ["email", "chat", "Email"] {
        let html = r.html(channel);
        assert!(
            html.contains(&format!("<a href=\"{UPS_URL}\">{UPS_URL}</a>")),
            "{html}"
        );
        assert!(html.contains(&format!("<a href=\"{status_url}\">{status_url}</a>")));
        assert!(html.starts_with("<p>") && html.contains("<br>Status page: "));
    }
    for channel in [
        "sms",
        "whatsapp",
        "facebook",
        "instagram",
        "facebook-messenger",
        "phone",
        "",
    ] {
        let html = r.html(channel);
        assert!(!html.contains("<a "), "{channel}: {html}");
        assert!(html.contains(UPS_URL), "{channel}: the plain URL stays");
    }
    assert!(links_allowed("chat") && !links_allowed("whatsapp"));
}

#[test]
fn reply_html_links_urls_in_written_text_on_email_and_chat_only() {
    let text = "See https://acme.example/faq?a=1&b=2. Or (https://acme.example/help)!\n\nBye <3";
    assert_eq!(
        reply_html(text, "email"),
        "<p>See <a href=\"https://acme.example/faq?a=1&amp;b=2\">https://acme.example/faq?a=1&amp;b=2</a>. \
         Or (<a href=\"https://acme.example/help\">https://acme.example/help</a>)!</p><p>Bye &lt;3</p>"
    );
    assert_eq!(
        reply_html(text, "sms"),
        "<p>See https://acme.example/faq?a=1&amp;b=2. Or (https://acme.example/help)!</p><p>Bye &lt;3</p>"
    );
    // Not links: a scheme glued to a word, a non-http scheme, a bare scheme.
    for text in [
        "xhttps://a.example",
        "javascript:alert(1)",
        "https:// nothing",
        "http://",
    ] {
        assert!(!reply_html(text, "chat").contains("<a "), "{text}");
    }
}

#[test]
fn a_url_inside_order_data_is_not_made_a_link() {
    let mut order = scenario("in_transit");
    order["line_items"] = json!([{"title": "Gift https://evil.example", "quantity": 1}]);
    let o = one(order);
    let html = render("{order.items}", &ctx(Some(&o), None))
        .unwrap()
        .html("email");
    assert_eq!(html, "<p>Gift https://evil.example</p>");
}

/// The reply rendering before links were made, kept as the oracle: `reply_html` must be a
/// drop-in for it on every channel that gets no links.
fn reference_text_to_html(text: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    text.trim()
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let lines: Vec<String> = p.trim().lines().map(escape).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect::<Vec<_>>()
        .join("")
}

#[test]
fn reply_html_is_a_drop_in_for_the_current_body_html() {
    for text in [
        "Hello <Jane>\n\nBye",
        "",
        "\n\n\n",
        "a\n\n\nb",
        "  one\r\ntwo  \n\n  three ",
        "x & y \"quoted\" 'single'",
        "Thanks for your patience. I'm passing your request to a member of our team.",
    ] {
        assert_eq!(
            reply_html(text, "sms"),
            reference_text_to_html(text),
            "{text:?}"
        );
        assert_eq!(
            reply_html(text, "email"),
            reference_text_to_html(text),
            "{text:?}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn reply_html_matches_the_current_body_html_wherever_no_link_is_made(
        text in "[a-z <>&\"'\n\r\t.:/]{0,80}"
    ) {
        proptest::prop_assert_eq!(reply_html(&text, "whatsapp"), reference_text_to_html(&text));
    }
}

#[test]
fn escape_html_escapes_what_breaks_content_and_attributes() {
    assert_eq!(
        escape_html("<a href=\"x\">&</a>"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(escape_html("plain ünïcode"), "plain ünïcode");
}

// ---- facts and detail ----

#[test]
fn order_facts_give_the_most_recent_orders_as_json_lines() {
    let all: Value = serde_json::from_str(SHOPIFY_ORDERS).unwrap();
    let parsed = parse_integrations(&store(vec![
        all["orders"]["in_transit"].clone(),
        all["orders"]["unfulfilled"].clone(),
        all["orders"]["delivered"].clone(),
    ]));
    let facts = order_facts(&parsed.orders, 2);
    let lines: Vec<&str> = facts.lines().collect();
    assert_eq!(lines.len(), 3, "{facts}");
    assert!(lines[0].contains("most recent first"));
    let first: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(first["name"], "#1002");
    assert_eq!(first["status"], "unfulfilled");
    assert_eq!(first["placed_on"], "2024-11-28");
    let second: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(
        second,
        json!({
            "name": "#1001", "status": "in_transit", "status_words": "in transit",
            "placed_on": "2024-11-18", "status_since": "2024-11-20", "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784", "tracking_url": UPS_URL,
            "order_status_url": parsed.orders[1].status_url.as_deref().unwrap(),
            "items": "Classic Crew T-shirt × 2, Ceramic Mug"
        })
    );
    assert_eq!(order_facts(&[], 3), "The customer has no orders on record.");
}

#[test]
fn orders_round_trip_through_serde_for_the_session() {
    let o = one(scenario("partial_fulfillment"));
    let stored = serde_json::to_string(&o).unwrap();
    assert_eq!(serde_json::from_str::<Order>(&stored).unwrap(), o);
    // Older or smaller records read with defaults.
    let minimal: Order = serde_json::from_str(r#"{"status": "delivered"}"#).unwrap();
    assert_eq!(minimal.detail(), "order (no name) delivered");
}
