//! The customer's order in a turn's decision: a reply's placeholders filled with the order the
//! conversation is about, the topic's answer without order, or a handoff (`order_not_found`,
//! `no_order_data`); and the orders a model is shown. Pure: the turn looks the orders up and
//! calls these once per decision.

use super::{Decision, HandoffReason};
use crate::domain::orders::{choose_order, needs_order_data, render, Choice, Order, RenderContext};

/// What a turn knows of the customer's orders.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts<'a> {
    /// Newest first; empty when the customer has none we could read.
    pub orders: &'a [Order],
    /// Every customer message of the ticket, oldest first: an order may be named in any.
    pub customer_messages: &'a [&'a str],
    pub first_name: Option<&'a str>,
}

impl OrderFacts<'_> {
    fn choice(&self) -> Choice<'_> {
        choose_order(self.orders, self.customer_messages)
    }
}

/// Whether `text` holds any placeholder this module fills.
pub fn has_placeholders(text: &str) -> bool {
    needs_order_data(text) || text.contains("{customer.first_name}")
}

/// The reply a brain chose, with its placeholders filled: the order the conversation names,
/// else the most recent. A named order that is not the customer's is never described (handoff
/// `order_not_found`); without order data the topic's `without_order` answer is said, else the
/// turn hands off (`no_order_data`). A filled answer that repeats the AI's last message hands
/// off like the brain's own repeat rule. Returns the decision and the order it used.
pub fn fill_reply(
    text: &str,
    reason: &str,
    without_order: Option<&str>,
    facts: &OrderFacts<'_>,
    last_ai: Option<&str>,
) -> (Decision, Option<Order>) {
    let first_name = facts.first_name;
    if !needs_order_data(text) {
        let filled = render(
            text,
            &RenderContext {
                order: None,
                first_name,
            },
        )
        .map(|r| r.into_text())
        .unwrap_or_else(|_| text.to_string());
        return (
            reply_unless_repeated(filled, reason.to_string(), last_ai),
            None,
        );
    }
    match facts.choice() {
        Choice::Named(order) | Choice::MostRecent(order) => {
            let ctx = RenderContext {
                order: Some(order),
                first_name,
            };
            let filled = match render(text, &ctx) {
                Ok(r) => r.into_text(),
                // Unreachable with an order; kept total: without an order it is no order data.
                Err(_) => return (no_order_data(facts), None),
            };
            let reason = format!("{reason}; {}", order.detail());
            (
                reply_unless_repeated(filled, reason, last_ai),
                Some(order.clone()),
            )
        }
        Choice::NotFound { named } => (not_found(&named, facts), None),
        Choice::NoOrders { .. } => {
            let alternative = without_order.and_then(|t| {
                render(
                    t,
                    &RenderContext {
                        order: None,
                        first_name,
                    },
                )
                .ok()
                .map(|r| r.into_text())
            });
            match alternative {
                Some(filled) => {
                    let reason = format!("{reason}; no order data: answered with answer_no_order");
                    (reply_unless_repeated(filled, reason, last_ai), None)
                }
                None => (no_order_data(facts), None),
            }
        }
    }
}

/// Before a model sees the orders: a named order that is not the customer's hands off at once,
/// so nothing about it can be made up.
pub fn named_order_missing(facts: &OrderFacts<'_>) -> Option<Decision> {
    match facts.choice() {
        Choice::NotFound { named } => Some(not_found(&named, facts)),
        _ => None,
    }
}

/// The orders a model is shown: the `max_orders` most recent, and the one the conversation
/// names when it is older than those.
pub fn orders_for_model(facts: &OrderFacts<'_>, max_orders: usize) -> Vec<Order> {
    let mut shown: Vec<Order> = facts.orders.iter().take(max_orders).cloned().collect();
    if let Choice::Named(named) = facts.choice() {
        if !shown.contains(named) {
            shown.push(named.clone());
        }
    }
    shown
}

/// The order the conversation is about, for a handoff note and the decision record.
pub fn order_in_question(facts: &OrderFacts<'_>) -> Option<Order> {
    facts.choice().order().cloned()
}

fn reply_unless_repeated(text: String, reason: String, last_ai: Option<&str>) -> Decision {
    if last_ai.is_some_and(|last| last.trim() == text.trim()) {
        return Decision::handoff(
            HandoffReason::NoAnswer,
            format!("{reason}; that answer was already given and the customer still needs help"),
        );
    }
    Decision::Reply { text, reason }
}

fn not_found(named: &str, facts: &OrderFacts<'_>) -> Decision {
    Decision::handoff(
        HandoffReason::OrderNotFound,
        format!(
            "the customer asks about order {named}, which is not among their {} orders",
            facts.orders.len()
        ),
    )
}

fn no_order_data(facts: &OrderFacts<'_>) -> Decision {
    let named = match facts.choice() {
        Choice::NoOrders { named: Some(named) } => format!(" (the customer named {named})"),
        _ => String::new(),
    };
    Decision::handoff(
        HandoffReason::NoOrderData,
        format!("the answer needs order data and the customer has no orders on record{named}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::orders::parse_integrations;
    use serde_json::json;

    const SHOPIFY_ORDERS: &str = include_str!("../../tests/fixtures/orders/shopify-orders.json");

    /// #1004 in transit (newest) and #1009 delivered, as the orders fixture has them.
    fn orders() -> Vec<Order> {
        let all: serde_json::Value = serde_json::from_str(SHOPIFY_ORDERS).unwrap();
        let parsed = parse_integrations(&json!({"6": {"__integration_type__": "shopify",
            "orders": [all["orders"]["in_transit"], all["orders"]["delivered"]]}}));
        assert_eq!(parsed.orders.len(), 2);
        parsed.orders
    }

    fn facts<'a>(orders: &'a [Order], messages: &'a [&'a str]) -> OrderFacts<'a> {
        OrderFacts {
            orders,
            customer_messages: messages,
            first_name: Some("Jane"),
        }
    }

    fn reply_text(d: &Decision) -> &str {
        match d {
            Decision::Reply { text, .. } => text,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn handoff_reason(d: &Decision) -> HandoffReason {
        match d {
            Decision::Handoff { reason, .. } => *reason,
            other => panic!("expected a handoff, got {other:?}"),
        }
    }

    #[test]
    fn the_most_recent_order_fills_the_answer_and_is_named_in_the_reason() {
        let orders = orders();
        let newest = orders[0].clone();
        let (d, used) = fill_reply(
            "Hi {customer.first_name}! {order.summary}",
            "topic \"order-status\"",
            None,
            &facts(&orders, &["where is my order?"]),
            None,
        );
        let text = reply_text(&d);
        assert!(text.starts_with("Hi Jane! Your order"), "{text}");
        assert!(
            text.contains(newest.tracking_number.as_deref().unwrap()),
            "{text}"
        );
        assert_eq!(used.as_ref(), Some(&newest));
        let Decision::Reply { reason, .. } = &d else {
            unreachable!()
        };
        assert!(reason.ends_with(&newest.detail()), "{reason}");
        assert!(reason.contains("in_transit"), "{reason}");
    }

    #[test]
    fn the_order_named_in_any_customer_message_is_used() {
        let orders = orders();
        let older = orders[1].clone();
        let name = older.name.clone().unwrap();
        let first = format!("hello, about my order {name}");
        let messages = [first.as_str(), "so where is it?"];
        let (d, used) = fill_reply(
            "{order.summary}",
            "r",
            None,
            &facts(&orders, &messages),
            None,
        );
        assert_eq!(used, Some(older.clone()));
        assert!(reply_text(&d).contains(&name));
    }

    #[test]
    fn a_named_order_that_is_not_the_customers_is_handed_off_and_never_described() {
        let orders = orders();
        let (d, used) = fill_reply(
            "{order.summary}",
            "r",
            Some("Which order?"),
            &facts(&orders, &["where is order #9999?"]),
            None,
        );
        assert_eq!(handoff_reason(&d), HandoffReason::OrderNotFound);
        assert_eq!(used, None);
        let Decision::Handoff { detail, .. } = &d else {
            unreachable!()
        };
        assert!(detail.contains("#9999"), "{detail}");
        // None of the customer's own orders is described either.
        for o in &orders {
            assert!(!detail.contains(o.name.as_deref().unwrap()), "{detail}");
        }
        assert!(named_order_missing(&facts(&orders, &["where is order #9999?"])).is_some());
        assert!(named_order_missing(&facts(&orders, &["where is my order?"])).is_none());
    }

    #[test]
    fn without_order_data_the_answer_without_order_is_said_else_the_turn_hands_off() {
        let none: Vec<Order> = Vec::new();
        let (d, used) = fill_reply(
            "{order.summary}",
            "r",
            Some("Sorry {customer.first_name}, what is your order number?"),
            &facts(&none, &["where is my order?"]),
            None,
        );
        assert_eq!(reply_text(&d), "Sorry Jane, what is your order number?");
        assert_eq!(used, None);
        let (d, _) = fill_reply("{order.summary}", "r", None, &facts(&none, &["hi"]), None);
        assert_eq!(handoff_reason(&d), HandoffReason::NoOrderData);
        // An answer_no_order that itself needs an order is no alternative.
        let (d, _) = fill_reply(
            "{order.summary}",
            "r",
            Some("{order.name}"),
            &facts(&none, &["hi"]),
            None,
        );
        assert_eq!(handoff_reason(&d), HandoffReason::NoOrderData);
    }

    #[test]
    fn answers_without_order_placeholders_need_no_orders() {
        let none: Vec<Order> = Vec::new();
        let (d, used) = fill_reply(
            "Thanks {customer.first_name}, returns are free.",
            "r",
            None,
            &facts(&none, &["return"]),
            None,
        );
        assert_eq!(reply_text(&d), "Thanks Jane, returns are free.");
        assert_eq!(used, None);
        assert!(!has_placeholders("Returns are free."));
        assert!(has_placeholders("{order.summary}"));
        assert!(has_placeholders("Hi {customer.first_name}"));
    }

    #[test]
    fn a_filled_answer_that_repeats_the_last_reply_hands_off() {
        let orders = orders();
        let f = facts(&orders, &["where is my order?"]);
        let (first, _) = fill_reply("{order.summary}", "r", None, &f, None);
        let (again, _) = fill_reply("{order.summary}", "r", None, &f, Some(reply_text(&first)));
        assert_eq!(handoff_reason(&again), HandoffReason::NoAnswer);
    }

    #[test]
    fn the_model_sees_the_most_recent_orders_and_the_named_one() {
        let orders = orders();
        let older_name = orders[1].name.clone().unwrap();
        assert_eq!(
            orders_for_model(&facts(&orders, &["hi"]), 1),
            vec![orders[0].clone()]
        );
        let asked = format!("what about {older_name}?");
        let shown = orders_for_model(&facts(&orders, &[asked.as_str()]), 1);
        assert_eq!(shown, vec![orders[0].clone(), orders[1].clone()]);
        assert_eq!(
            order_in_question(&facts(&orders, &[asked.as_str()])),
            Some(orders[1].clone())
        );
    }
}
