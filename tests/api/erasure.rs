//! Erasure on request: `DELETE /admin/customers?email=ADDR` removes every session of that
//! customer from storage (owed actions never posted), leaves other customers alone, and a
//! restart brings nothing back.

use serde_json::{json, Value};

use crate::helpers::*;

const JANE: &str = "jane@customer.example";

async fn erase(app: &TestApp, email: &str, bearer: Option<&str>) -> (u16, Value) {
    let path = format!("/admin/customers?email={}", email.replace('@', "%40"));
    app.delete(&path, bearer).await
}

fn stored(app: &TestApp, ticket_id: u64) -> bool {
    let store = app.store();
    store.load_session(ticket_id).unwrap().is_some()
        || !store.inbox_for(ticket_id).is_empty()
        || store.tickets_with_work().contains(&ticket_id)
        || store.is_handed_off(ticket_id).unwrap()
}

#[actix_web::test]
async fn erasing_a_customer_deletes_their_sessions_and_owed_actions_and_nothing_else() {
    let mut app = TestApp::spawn().await;
    app.webhook(&customer_event(501, 5011, "Hi, where is my order?"))
        .await;
    app.webhook(&customer_event_from(
        "bob@other.example",
        502,
        5021,
        "Hi, where is my order?",
    ))
    .await;
    eventually("both replies", WAIT, || {
        !app.gorgias.replies(501).is_empty() && !app.gorgias.replies(502).is_empty()
    })
    .await;
    // Gorgias fails every call: ticket 503's answer stays owed.
    app.gorgias.block_after_writes(0);
    let (status, _) = app
        .webhook(&customer_event(503, 5031, "Hi, where is my order?"))
        .await;
    assert_eq!(status, 200);
    eventually("ticket 503 has work owed", WAIT, || {
        app.store().tickets_with_work().contains(&503)
    })
    .await;

    assert_eq!(erase(&app, JANE, None).await.0, 401);
    assert_eq!(erase(&app, "not-an-address", Some(ADMIN)).await.0, 400);
    let (status, body) = erase(&app, "JANE@Customer.Example", Some(ADMIN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "erased": 2 }));
    for ticket in [501, 503] {
        assert!(!stored(&app, ticket), "ticket {ticket} is still stored");
        assert_eq!(
            app.get(&format!("/admin/tickets/{ticket}"), Some(ADMIN))
                .await
                .0,
            404
        );
    }
    assert!(stored(&app, 502), "another customer's session was erased");
    assert_eq!(app.get("/admin/tickets/502", Some(ADMIN)).await.0, 200);

    // Gorgias heals: another ticket is answered, the erased one's owed reply never goes out.
    app.gorgias.heal();
    app.webhook(&customer_event_from(
        "bob@other.example",
        504,
        5041,
        "Hi, where is my order?",
    ))
    .await;
    eventually("ticket 504's reply", WAIT, || {
        !app.gorgias.replies(504).is_empty()
    })
    .await;
    assert!(
        app.gorgias.replies(503).is_empty(),
        "an erased action was posted"
    );

    app.restart().await;
    app.webhook(&customer_event_from(
        "bob@other.example",
        505,
        5051,
        "Hi, where is my order?",
    ))
    .await;
    eventually("ticket 505's reply", WAIT, || {
        !app.gorgias.replies(505).is_empty()
    })
    .await;
    assert!(
        app.gorgias.replies(503).is_empty(),
        "a restart posted an erased action"
    );
    for ticket in [501, 503] {
        assert!(
            !stored(&app, ticket),
            "a restart brought ticket {ticket} back"
        );
    }
    assert!(stored(&app, 502));
    let (_, body) = erase(&app, JANE, Some(ADMIN)).await;
    assert_eq!(body, json!({ "erased": 0 }));
}
