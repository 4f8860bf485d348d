//! Which webhook events the AI acts on: customer messages (not notes, not the agent's own
//! posts) on tickets assigned to the AI user, on channels Autopilot answers. Pure, no I/O.
//!
//! `classify` turns a parsed event into a `CustomerMessage` to answer, or the reason it is
//! ignored. The handed-off check needs storage and is applied by intake with the same enum.

use crate::config::AutopilotSettings;
use crate::domain::message::{
    Address, Customer, CustomerMessage, EXTERNAL_ID_PREFIX, MAX_CARRIED_ORDERS,
};
use crate::domain::outcome::IgnoreReason;
use crate::gorgias::webhook::WebhookEvent;

/// The settings the filters read.
#[derive(Debug, Clone)]
pub struct FilterRules {
    pub ai_user_id: u64,
    pub autopilot: AutopilotSettings,
}

fn same_email(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// Decides whether an event is a customer message on an AI ticket.
pub fn classify(
    event: &WebhookEvent,
    rules: &FilterRules,
) -> Result<CustomerMessage, IgnoreReason> {
    let ticket = &event.ticket;
    let message = event.message.as_ref().ok_or(IgnoreReason::NoMessage)?;
    if !rules.autopilot.enabled {
        return Err(IgnoreReason::AutopilotOff);
    }
    let is_note = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("internal-note"))
    };
    if message.public == Some(false) || is_note(&message.channel) || is_note(&message.source_type) {
        return Err(IgnoreReason::InternalNote);
    }
    let own_echo = message
        .external_id
        .as_deref()
        .is_some_and(|id| id.starts_with(EXTERNAL_ID_PREFIX));
    if message.from_agent == Some(true) || own_echo {
        return Err(IgnoreReason::AgentMessage);
    }
    let customer_email = ticket.customer.email.as_deref().unwrap_or("");
    let sender_email = message
        .sender
        .email
        .as_deref()
        .or(message.source_from.as_ref().map(|a| a.address.as_str()))
        .unwrap_or("");
    if !same_email(sender_email, customer_email) {
        return Err(IgnoreReason::NotFromCustomer);
    }
    match ticket.assignee_user_id {
        None => return Err(IgnoreReason::Unassigned),
        Some(id) if id != rules.ai_user_id => return Err(IgnoreReason::NotAssignedToAi),
        Some(_) => {}
    }
    let channel = message
        .channel
        .clone()
        .or_else(|| ticket.channel.clone())
        .unwrap_or_else(|| "email".to_string());
    if !rules.autopilot.channel_enabled(&channel) {
        return Err(IgnoreReason::ChannelDisabled);
    }
    // A customer message without an id cannot be deduplicated or referenced: the parser's
    // caller turns this into a 400 before classification, so here it is an invariant.
    let message_id = message.id.unwrap_or_default();
    let customer_address = message.source_from.clone().unwrap_or(Address {
        address: customer_email.trim().to_string(),
        name: ticket.customer.name.clone(),
    });
    Ok(CustomerMessage {
        ticket_id: ticket.id,
        message_id,
        channel,
        customer: Customer {
            id: ticket.customer.id.or(message.sender.id),
            email: customer_email.trim().to_string(),
            name: ticket
                .customer
                .name
                .clone()
                .or_else(|| message.sender.name.clone()),
        },
        customer_address,
        support_address: message.source_to.first().cloned(),
        subject: message.subject.clone().or_else(|| ticket.subject.clone()),
        language: ticket.language.clone(),
        text: message.text.clone(),
        created_datetime: message.created_datetime.clone(),
        accepted_ms: None,
        orders: ticket
            .customer_orders
            .orders
            .iter()
            .take(MAX_CARRIED_ORDERS)
            .cloned()
            .collect(),
        first_name: ticket
            .customer
            .first_name
            .clone()
            .or_else(|| message.sender.first_name.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gorgias::webhook::parse_event;

    const MAIN: &str = include_str!(
        "../../tests/fixtures/synthetic-context-ticket-message-created.customer-message.json"
    );
    const AGENT_REPLY: &str = include_str!(
        "../../tests/fixtures/composed-context-ticket-message-created.agent-reply.json"
    );
    const INTERNAL_NOTE: &str =
        include_str!("../../tests/fixtures/pipedream-internal-note-created.message.synthetic.json");

    fn rules() -> FilterRules {
        FilterRules {
            ai_user_id: 900001,
            autopilot: AutopilotSettings::default(),
        }
    }

    fn main_event() -> WebhookEvent {
        parse_event(MAIN.as_bytes()).unwrap()
    }

    #[test]
    fn the_ticket_language_is_carried_for_the_brain() {
        let m = classify(&main_event(), &rules()).unwrap();
        assert_eq!(m.language.as_deref(), Some("en"));
        // Messages stored before the field existed still decode.
        let mut stored = serde_json::to_value(&m).unwrap();
        stored.as_object_mut().unwrap().remove("language");
        let old: CustomerMessage = serde_json::from_value(stored).unwrap();
        assert_eq!(old.language, None);
    }

    #[test]
    fn customer_message_on_ai_ticket_is_accepted() {
        let m = classify(&main_event(), &rules()).unwrap();
        assert_eq!(m.ticket_id, 100000001);
        assert_eq!(m.message_id, 300000002);
        assert_eq!(m.channel, "email");
        assert_eq!(m.customer.email, "jane@customer.example");
        assert_eq!(m.customer.id, Some(700001));
        assert_eq!(m.customer_address.address, "jane@customer.example");
        assert_eq!(m.support_address.unwrap().address, "support@acme.example");
        assert_eq!(m.text, "Hi, where is my order #1234?");
    }

    #[test]
    fn a_message_on_a_closed_or_reopened_ticket_is_answered() {
        // With `autopilot.close_after_reply` the AI closes tickets; Gorgias reopens one when the
        // customer writes again, and the webhook may still say either status.
        for status in ["closed", "open"] {
            let mut raw: serde_json::Value = serde_json::from_str(MAIN).unwrap();
            raw["ticket"]["status"] = serde_json::json!(status);
            let e = parse_event(raw.to_string().as_bytes()).unwrap();
            assert!(classify(&e, &rules()).is_ok(), "{status}");
        }
    }

    #[test]
    fn sender_email_matches_trimmed_and_case_insensitive() {
        let mut e = main_event();
        e.message.as_mut().unwrap().sender.email = Some("  JANE@Customer.Example ".into());
        assert!(classify(&e, &rules()).is_ok());
    }

    #[test]
    fn other_sender_is_not_from_customer() {
        let mut e = main_event();
        e.message.as_mut().unwrap().sender.email = Some("someone@else.example".into());
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::NotFromCustomer));
        let mut e = main_event();
        e.ticket.customer.email = None;
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::NotFromCustomer));
    }

    #[test]
    fn from_agent_is_agent_message() {
        let mut e = main_event();
        e.message.as_mut().unwrap().from_agent = Some(true);
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::AgentMessage));
        let e = parse_event(AGENT_REPLY.as_bytes()).unwrap();
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::AgentMessage));
    }

    #[test]
    fn own_external_id_is_agent_message_even_if_flags_are_missing() {
        let mut e = main_event();
        let m = e.message.as_mut().unwrap();
        m.from_agent = None;
        m.external_id = Some(format!("{EXTERNAL_ID_PREFIX}100000001:1"));
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::AgentMessage));
    }

    #[test]
    fn internal_notes_are_ignored_by_public_flag_channel_or_source() {
        let mut e = main_event();
        e.message.as_mut().unwrap().public = Some(false);
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::InternalNote));
        let mut e = main_event();
        e.message.as_mut().unwrap().channel = Some("internal-note".into());
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::InternalNote));
        let mut e = main_event();
        e.message.as_mut().unwrap().source_type = Some("internal-note".into());
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::InternalNote));
        let body = format!(
            "{{\"ticket\": {}, \"message\": {INTERNAL_NOTE}}}",
            serde_json::to_string(
                &serde_json::from_str::<serde_json::Value>(MAIN).unwrap()["ticket"]
            )
            .unwrap()
        );
        let e = parse_event(body.as_bytes()).unwrap();
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::InternalNote));
    }

    #[test]
    fn assignment_decides_ownership() {
        let mut e = main_event();
        e.ticket.assignee_user_id = None;
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::Unassigned));
        e.ticket.assignee_user_id = Some(12);
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::NotAssignedToAi));
    }

    #[test]
    fn autopilot_switches() {
        let mut r = rules();
        r.autopilot.enabled = false;
        assert_eq!(classify(&main_event(), &r), Err(IgnoreReason::AutopilotOff));
        let mut r = rules();
        r.autopilot.channels = vec!["chat".into()];
        assert_eq!(
            classify(&main_event(), &r),
            Err(IgnoreReason::ChannelDisabled)
        );
        r.autopilot.channels = vec!["Email".into()];
        assert!(classify(&main_event(), &r).is_ok());
    }

    #[test]
    fn event_without_message_is_no_message() {
        let mut e = main_event();
        e.message = None;
        assert_eq!(classify(&e, &rules()), Err(IgnoreReason::NoMessage));
    }
}
