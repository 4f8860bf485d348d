//! Micro-benchmarks of the pure functions on the hot path of a webhook and a turn:
//! parsing the main fixture, the dedup key and window, knowledge-base scoring over 50 topics,
//! and reading a stored session back (and copying it) by its length.
//!
//! `cargo bench --bench micro` (criterion; add a filter such as `-- dedup` to run a subset).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gorgias_agent::brain::knowledge::KnowledgeIndex;
use gorgias_agent::config::{Topic, TopicAction};
use gorgias_agent::dedup::dedup_key;
use gorgias_agent::dedup::window::{Admission, DedupWindow};
use gorgias_agent::gorgias::webhook::parse_event;
use gorgias_agent_testkit::builders::{put_sessions, session_with_history};
use gorgias_agent_testkit::MAIN_FIXTURE;

fn parsing(c: &mut Criterion) {
    let body = MAIN_FIXTURE.as_bytes();
    assert!(parse_event(body).is_ok(), "the fixture parses");
    let mut group = c.benchmark_group("webhook");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_event main fixture", |b| {
        b.iter(|| parse_event(black_box(body)).unwrap())
    });
    // The floor: the same bytes into a plain `serde_json::Value`, nothing else.
    group.bench_function("serde_json::Value of main fixture (floor)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap())
    });
    group.finish();
}

fn dedup(c: &mut Criterion) {
    let mut group = c.benchmark_group("dedup");
    let text = "Hi, where is my order #1234? It was supposed to arrive on Monday.";
    group.bench_function("dedup_key", |b| {
        b.iter(|| {
            dedup_key(
                black_box(100_000_001),
                black_box(300_000_002),
                black_box("Jane@Customer.example "),
                black_box(text),
            )
        })
    });

    // A window as it is after an hour of steady traffic: 100,000 live keys.
    const LIVE: u64 = 100_000;
    let now = 1_700_000_000;
    let mut window = DedupWindow::new(3600);
    for i in 0..LIVE {
        window.admit(dedup_key(i, i, "c@x", "hi"), now + i % 3600);
    }
    let known = dedup_key(LIVE / 2, LIVE / 2, "c@x", "hi");
    group.bench_function("window admit duplicate (100k live keys)", |b| {
        b.iter(|| assert_eq!(window.admit(black_box(known), now), Admission::Duplicate))
    });
    let mut next = LIVE;
    group.bench_function("window admit fresh + forget (100k live keys)", |b| {
        b.iter_batched(
            || {
                next += 1;
                dedup_key(next, next, "c@x", "hi")
            },
            |key| {
                let admission = window.admit(key, now);
                window.forget(&key);
                admission
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("window purge of 1,000 expired (100k live keys)", |b| {
        b.iter_batched(
            || {
                let mut w = DedupWindow::new(3600);
                for i in 0..LIVE {
                    w.admit(dedup_key(i, i, "c@x", "hi"), now + i / 100);
                }
                w
            },
            // Entries admitted in the first 10 seconds expire by now + 3609. The window is
            // returned so that criterion drops it outside the measurement.
            |mut w| {
                let removed = w.purge(now + 3600 + 9).len();
                (w, removed)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// 50 plausible Autopilot topics of a web shop, a few of them `skip`.
fn fifty_topics() -> Vec<Topic> {
    let raw: [(&str, &str, &[&str]); 50] = [
        (
            "order-status",
            "Where an order is, tracking, delivery times",
            &["where is my order", "tracking", "shipped", "delivery"],
        ),
        (
            "returns",
            "Returning an item for a refund or store credit",
            &["return", "send back", "return label"],
        ),
        (
            "exchanges",
            "Exchanging an item for another size or colour",
            &["exchange", "swap", "different size"],
        ),
        (
            "refunds",
            "Refunds, chargebacks, billing disputes",
            &["refund", "money back", "chargeback"],
        ),
        (
            "cancel-order",
            "Cancelling an order before it ships",
            &["cancel my order", "cancel", "changed my mind"],
        ),
        (
            "change-address",
            "Changing the shipping address of an order",
            &["change address", "wrong address", "new address"],
        ),
        (
            "shipping-costs",
            "How much shipping costs and free shipping thresholds",
            &["shipping cost", "free shipping", "delivery fee"],
        ),
        (
            "international-shipping",
            "Shipping outside the country, customs and duties",
            &["international", "customs", "duties", "ship abroad"],
        ),
        (
            "express-delivery",
            "Express and next-day delivery options",
            &["express", "next day", "overnight"],
        ),
        (
            "damaged-item",
            "An item arrived damaged or broken",
            &["damaged", "broken", "arrived broken", "cracked"],
        ),
        (
            "wrong-item",
            "The wrong item was delivered",
            &["wrong item", "not what i ordered", "wrong colour"],
        ),
        (
            "missing-item",
            "An item is missing from the parcel",
            &["missing item", "not in the box", "incomplete order"],
        ),
        (
            "lost-parcel",
            "The parcel is lost or marked delivered but not received",
            &["lost parcel", "marked as delivered", "never arrived"],
        ),
        (
            "size-guide",
            "Which size to choose, size charts",
            &["size guide", "what size", "size chart", "fit"],
        ),
        (
            "product-care",
            "Washing and caring for the products",
            &["wash", "care instructions", "iron", "dry clean"],
        ),
        (
            "materials",
            "What the products are made of",
            &["material", "cotton", "wool", "fabric"],
        ),
        (
            "stock",
            "When an out-of-stock item comes back",
            &["out of stock", "back in stock", "restock", "sold out"],
        ),
        (
            "preorders",
            "Pre-orders and their shipping dates",
            &["pre-order", "preorder", "release date"],
        ),
        (
            "discount-codes",
            "Discount codes that do not work",
            &["discount code", "promo code", "coupon", "voucher"],
        ),
        (
            "gift-cards",
            "Buying and using gift cards",
            &["gift card", "gift voucher", "balance"],
        ),
        (
            "payment-methods",
            "Which payment methods are accepted",
            &["payment methods", "paypal", "credit card", "apple pay"],
        ),
        (
            "payment-failed",
            "A payment was declined or failed",
            &["payment failed", "declined", "card declined"],
        ),
        (
            "double-charge",
            "Charged twice for one order",
            &["charged twice", "double charge", "two charges"],
        ),
        (
            "invoice",
            "Getting an invoice or receipt",
            &["invoice", "receipt", "vat invoice"],
        ),
        (
            "account-login",
            "Cannot log in, password reset",
            &["password", "log in", "login", "reset password"],
        ),
        (
            "account-delete",
            "Deleting an account and personal data",
            &["delete my account", "gdpr", "personal data"],
        ),
        (
            "newsletter",
            "Subscribing or unsubscribing from emails",
            &["unsubscribe", "newsletter", "stop emails"],
        ),
        (
            "loyalty-points",
            "Loyalty programme points and rewards",
            &["loyalty", "points", "rewards"],
        ),
        (
            "price-match",
            "Price matching and price drops after purchase",
            &["price match", "cheaper", "price drop"],
        ),
        (
            "warranty",
            "Warranty and repairs",
            &["warranty", "guarantee", "repair"],
        ),
        (
            "subscription",
            "Managing a subscription: pause, skip, cancel",
            &["subscription", "pause", "skip a delivery"],
        ),
        (
            "wholesale",
            "Wholesale and bulk orders",
            &["wholesale", "bulk order", "reseller"],
        ),
        (
            "collaboration",
            "Influencer and partnership requests",
            &["collaboration", "influencer", "partnership"],
        ),
        (
            "store-locations",
            "Physical stores and opening hours",
            &["store", "opening hours", "shop near me"],
        ),
        (
            "click-and-collect",
            "Picking up an order in store",
            &["click and collect", "pick up", "collect in store"],
        ),
        (
            "gift-wrapping",
            "Gift wrapping and gift messages",
            &["gift wrap", "gift message", "present"],
        ),
        (
            "order-edit",
            "Adding or removing items from an order",
            &["add an item", "edit my order", "remove an item"],
        ),
        (
            "backorder",
            "Items on backorder and split shipments",
            &["backorder", "split shipment", "partial delivery"],
        ),
        (
            "allergy",
            "Allergens and ingredients",
            &["allergy", "ingredients", "allergen", "vegan"],
        ),
        (
            "sustainability",
            "Sustainability and packaging",
            &["sustainable", "recycled", "packaging", "plastic"],
        ),
        (
            "student-discount",
            "Student and military discounts",
            &["student discount", "military discount"],
        ),
        (
            "tax-exempt",
            "Tax exemption for businesses",
            &["tax exempt", "vat number", "business purchase"],
        ),
        (
            "legal",
            "Legal threats and lawyers",
            &["lawyer", "legal action", "sue"],
        ),
        (
            "complaint",
            "Complaints about service",
            &["complaint", "disappointed", "terrible service"],
        ),
        (
            "human",
            "The customer wants a person",
            &["speak to a human", "real person", "agent", "manager"],
        ),
        (
            "fraud",
            "Suspected fraud or unauthorised orders",
            &["fraud", "unauthorised", "did not place this order"],
        ),
        (
            "press",
            "Press and media enquiries",
            &["press", "journalist", "media"],
        ),
        ("jobs", "Jobs and careers", &["jobs", "careers", "hiring"]),
        ("app", "The mobile app", &["app", "iphone app", "android"]),
        (
            "website-bug",
            "The website does not work",
            &["website", "checkout error", "page not loading", "bug"],
        ),
    ];
    let skip = ["refunds", "legal", "human", "fraud", "double-charge"];
    raw.iter()
        .map(|(name, description, keywords)| Topic {
            name: name.to_string(),
            description: description.to_string(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            exclude: Vec::new(),
            action: if skip.contains(name) {
                TopicAction::Skip
            } else {
                TopicAction::Handle
            },
            answer: format!("Here is how {name} works at Acme: ..."),
            answers: Default::default(),
            answer_no_order: String::new(),
            answers_no_order: Default::default(),
        })
        .collect()
}

fn knowledge(c: &mut Criterion) {
    let topics = fifty_topics();
    let mut group = c.benchmark_group("knowledge");
    group.bench_function("build index of 50 topics", |b| {
        b.iter(|| KnowledgeIndex::build(black_box(&topics), None).unwrap())
    });
    let index = KnowledgeIndex::build(&topics, None).unwrap();
    assert_eq!(index.documents().len(), 50);
    let queries = [
        ("short", "Hi, where is my order #1234?"),
        (
            "paragraph",
            "Hello, I ordered a wool jumper two weeks ago and the tracking says it was \
             delivered but I never received it. Can you check with the courier, and if it \
             is lost send a new one or tell me how to get my money back? Thanks, Jane",
        ),
        ("no match", "zzz qqq xyzzy"),
    ];
    for (name, query) in queries {
        group.bench_function(format!("search 50 topics ({name} query)"), |b| {
            b.iter(|| index.search(black_box(query)))
        });
    }
    group.finish();
}

/// Reading a stored session back (what a passivated ticket's wake-up costs), by history length.
fn sessions(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = gorgias_agent::store::Store::open(&dir.path().join("db")).expect("open the store");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("sessions");
    for (ticket_id, entries) in [(1u64, 2usize), (2, 50)] {
        let session = session_with_history(ticket_id, entries, 1_700_000_000);
        runtime
            .block_on(put_sessions(&store, std::slice::from_ref(&session)))
            .expect("store the session");
        group.bench_function(format!("load a session of {entries} entries"), |b| {
            b.iter(|| {
                black_box(
                    store
                        .load_session(ticket_id)
                        .expect("read")
                        .expect("stored"),
                )
            })
        });
        group.bench_function(format!("clone a session of {entries} entries"), |b| {
            b.iter(|| black_box(session.clone()))
        });
    }
    group.finish();
}

criterion_group!(benches, parsing, dedup, knowledge, sessions);
criterion_main!(benches);
