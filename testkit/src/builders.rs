//! Builders of what tests and benches send and seed: customer webhook bodies made from the main
//! fixture, and stored sessions written through the store's public API.

use gorgias_agent::domain::outcome::{DecisionOutcome, DecisionReason};
use gorgias_agent::domain::session::{HistoryEntry, Role, Session};
use gorgias_agent::store::{Store, StoreError, Write};
use serde_json::{json, Value};

use crate::fixtures::MAIN_FIXTURE;

/// The address the main fixture's customer writes from.
pub const FIXTURE_CUSTOMER: &str = "jane@customer.example";

/// The main fixture with another ticket id, message id and text.
pub fn customer_event(ticket_id: u64, message_id: u64, text: &str) -> Value {
    let mut v: Value = serde_json::from_str(MAIN_FIXTURE).unwrap();
    v["ticket"]["id"] = json!(ticket_id);
    v["message"]["id"] = json!(message_id);
    v["message"]["ticket_id"] = json!(ticket_id);
    for key in ["body_text", "stripped_text"] {
        v["message"][key] = json!(text);
    }
    v["message"]["body_html"] = json!(format!("<div>{text}</div>"));
    v["message"]["stripped_html"] = json!(format!("<div>{text}</div>"));
    v
}

/// [`customer_event`] written by the customer at `email` instead.
pub fn customer_event_from(email: &str, ticket_id: u64, message_id: u64, text: &str) -> Value {
    let text_json = customer_event(ticket_id, message_id, text).to_string();
    serde_json::from_str(&text_json.replace(FIXTURE_CUSTOMER, email)).unwrap()
}

/// `event` on another channel (the ticket's, the message's and its source's).
pub fn on_channel(mut event: Value, channel: &str) -> Value {
    event["ticket"]["channel"] = json!(channel);
    event["message"]["channel"] = json!(channel);
    event["message"]["source"]["type"] = json!(channel);
    event
}

/// A session whose one customer message (id `ticket_id`, at `at`) is answered.
pub fn answered_session(ticket_id: u64, at: u64) -> Session {
    let mut s = Session::new(ticket_id);
    s.history.push(HistoryEntry {
        role: Role::Customer,
        text: "hi".into(),
        message_id: Some(ticket_id),
        external_id: None,
        at,
    });
    s.answered_upto = s.history.len();
    s
}

/// A session holding `entries` history entries, customer and AI in turn, all answered (a
/// decision recorded for each reply) and none counted towards `handoff.max_ai_replies` (so the
/// next message is answered as on a new ticket). Message ids are `ticket_id * 1000 + i`.
pub fn session_with_history(ticket_id: u64, entries: usize, at: u64) -> Session {
    let mut s = Session::new(ticket_id);
    for i in 0..entries {
        let customer = i % 2 == 0;
        s.history.push(HistoryEntry {
            role: if customer { Role::Customer } else { Role::Ai },
            text: if customer {
                format!("Hi, where is my order #{i}? It has not arrived yet.").into()
            } else {
                // Not an answer of the shipped knowledge base: the next message to such a
                // ticket is answered, not handed off as a repeat.
                format!("Thanks for waiting ({i}); I asked the warehouse and will write again as soon as I hear back.").into()
            },
            message_id: Some(ticket_id * 1000 + i as u64),
            external_id: (!customer).then(|| format!("ai-{ticket_id}-{i}").into()),
            at,
        });
    }
    // A decision for each reply, as the turns that wrote them recorded.
    for i in (1..entries).step_by(2) {
        s.record(
            at,
            DecisionOutcome::Replied,
            DecisionReason::Answered,
            vec![ticket_id * 1000 + i as u64 - 1],
            Some(format!(
                "topic shipping (score 0.82); language en; answered in en ({i})"
            )),
        );
    }
    s.answered_upto = s.history.len();
    s.replies_counted_from = s.history.len();
    s
}

/// Stores `sessions` (each with its indexes) in one commit.
pub async fn put_sessions(store: &Store, sessions: &[Session]) -> Result<(), StoreError> {
    let writes: Vec<Write> = sessions
        .iter()
        .flat_map(|s| Write::session_put(s.change()))
        .collect();
    store.commit(writes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_event_carries_its_ids_text_and_sender() {
        let v = customer_event_from("bob@other.example", 7, 71, "hello");
        assert_eq!(v["ticket"]["id"], 7);
        assert_eq!(v["message"]["id"], 71);
        assert_eq!(v["message"]["ticket_id"], 7);
        assert_eq!(v["message"]["body_text"], "hello");
        assert!(v.to_string().contains("bob@other.example"));
        assert!(!v.to_string().contains(FIXTURE_CUSTOMER));
        assert!(MAIN_FIXTURE.contains(FIXTURE_CUSTOMER));
        let on_chat = on_channel(v, "chat");
        assert_eq!(on_chat["message"]["source"]["type"], "chat");
        assert_eq!(on_chat["ticket"]["channel"], "chat");
    }

    #[test]
    fn a_seeded_history_is_answered_and_owes_nothing() {
        let s = session_with_history(5, 50, 1_700_000_000);
        assert_eq!(s.history.len(), 50);
        assert_eq!(s.ai_reply_count(), 0);
        assert!(s.unanswered().is_empty());
        assert!(!s.has_pending_work());
        assert!(s.is_expired(1_700_000_000 + 10, 10));
        let one = answered_session(6, 100);
        assert!(one.unanswered().is_empty());
        assert_eq!(one.last_activity(), 100);
    }
}
