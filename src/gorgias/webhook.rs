//! Lenient reading of the `{{context}}` webhook body into typed views.
//!
//! Gorgias sends ids as numbers, a per-field template sends them as strings, nested objects may
//! be missing while their flat `*_id` twin is present, and nested values may arrive as JSON text
//! inside a string. Everything here accepts all of those and names the exact path on failure.

use std::borrow::Cow;

use serde_json::{Map, Value};

pub use crate::domain::message::Address;
use crate::domain::orders::{parse_integrations, CustomerOrders};

/// Why a body cannot be read; the text is returned to the caller in a 400 and logged. It names
/// the path and the types only, never a value the body carried (an email in an id field would
/// otherwise reach the logs): every part of it is a static text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is empty: expected the Gorgias {{{{context}}}} JSON object")]
    Empty,
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body must be a JSON object with \"ticket\" (and \"message\"), got {0}")]
    NotAnObject(&'static str),
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{path} is malformed: expected {expected}, got {got}")]
    Malformed {
        path: &'static str,
        expected: &'static str,
        got: &'static str,
    },
}

impl ParseError {
    /// The JSON path at fault, for logs.
    pub fn path(&self) -> Option<&'static str> {
        match self {
            ParseError::Missing(path) | ParseError::Malformed { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A person or party on a ticket (customer, sender, assignee).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    pub id: Option<u64>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// `firstname`, else the first word of `name`.
    pub first_name: Option<String>,
}

/// What the agent needs to know of the ticket in a webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketView {
    pub id: u64,
    pub channel: Option<String>,
    pub subject: Option<String>,
    /// The ticket's language as Gorgias detected it (`fr`), when set.
    pub language: Option<String>,
    pub assignee_user_id: Option<u64>,
    pub assignee_team_id: Option<u64>,
    pub customer: Party,
    /// The customer's orders from `ticket.customer.integrations`, normalized (never the raw
    /// blob); malformed data is `degraded`, never an error.
    pub customer_orders: CustomerOrders,
}

/// What the agent needs to know of the message that fired the webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageView {
    pub id: Option<u64>,
    pub channel: Option<String>,
    pub via: Option<String>,
    pub from_agent: Option<bool>,
    pub public: Option<bool>,
    pub sender: Party,
    pub source_type: Option<String>,
    pub source_from: Option<Address>,
    pub source_to: Vec<Address>,
    pub subject: Option<String>,
    /// The customer's own words: `stripped_text`, else `body_text`, else text of `body_html`.
    pub text: String,
    pub external_id: Option<String>,
    pub created_datetime: Option<String>,
}

/// A parsed webhook: the ticket, and the message when the trigger carries one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEvent {
    pub ticket: TicketView,
    pub message: Option<MessageView>,
}

/// Parses a webhook body.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, ParseError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    event_from_value(value)
}

/// Reads an event already parsed as JSON, as leniently as [`parse_event`] (replay builds one
/// from each message of a past ticket).
pub fn event_from_value(value: Value) -> Result<WebhookEvent, ParseError> {
    let root = match decode_nested(value) {
        Value::Object(map) => map,
        other => return Err(ParseError::NotAnObject(kind(&other))),
    };
    let ticket = object_at(&root, "ticket", "ticket")?;
    let message = object_at(&root, "message", "message")?;

    let ticket_id = first_id(&[
        (ticket.as_deref(), "id", "ticket.id"),
        (Some(&root), "ticket_id", "ticket_id"),
        (message.as_deref(), "ticket_id", "message.ticket_id"),
    ])?
    .ok_or(ParseError::Missing("ticket.id"))?;

    let t = ticket.unwrap_or_default();
    let ticket = TicketView {
        id: ticket_id,
        channel: string_at(&t, "channel"),
        subject: string_at(&t, "subject"),
        language: string_at(&t, "language"),
        assignee_user_id: nested_or_flat_id(&t, "assignee_user", "ticket.assignee_user")?,
        assignee_team_id: nested_or_flat_id(&t, "assignee_team", "ticket.assignee_team")?,
        customer: party(&t, "customer", "ticket.customer")?,
        customer_orders: customer_orders(&t)?,
    };
    let message = match message {
        Some(m) if !m.is_empty() => Some(message_view(&m)?),
        _ => None,
    };
    Ok(WebhookEvent { ticket, message })
}

fn message_view(m: &Map<String, Value>) -> Result<MessageView, ParseError> {
    let source = object_at(m, "source", "message.source")?.unwrap_or_default();
    let source_from = match object_at(&source, "from", "message.source.from")? {
        Some(from) => address(&from),
        None => None,
    };
    let source_to = match decode_nested(source.get("to").cloned().unwrap_or(Value::Null)) {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match decode_nested(v) {
                Value::Object(o) => address(&o),
                _ => None,
            })
            .collect(),
        Value::Object(o) => address(&o).into_iter().collect(),
        _ => Vec::new(),
    };
    let text = ["stripped_text", "body_text", "text"]
        .iter()
        .find_map(|k| string_at(m, k).filter(|s| !s.trim().is_empty()))
        .or_else(|| {
            ["stripped_html", "body_html"]
                .iter()
                .find_map(|k| string_at(m, k).map(|h| html_to_text(&h)))
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_default();
    Ok(MessageView {
        id: id_at(m, "id", "message.id")?,
        channel: string_at(m, "channel"),
        via: string_at(m, "via"),
        from_agent: bool_at(m, "from_agent", "message.from_agent")?,
        public: bool_at(m, "public", "message.public")?,
        sender: party(m, "sender", "message.sender")?,
        source_type: string_at(&source, "type"),
        source_from,
        source_to,
        subject: string_at(m, "subject"),
        text: text.trim().to_string(),
        external_id: string_at(m, "external_id"),
        created_datetime: string_at(m, "created_datetime"),
    })
}

/// A nested value may arrive as JSON text in a string (per-field templates): decode it.
fn decode_nested(value: Value) -> Value {
    if let Value::String(s) = &value {
        let trimmed = s.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            if let Ok(inner) = serde_json::from_str::<Value>(s) {
                return inner;
            }
        }
    }
    value
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object_at<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<Cow<'a, Map<String, Value>>>, ParseError> {
    // Borrowed when the field is an object already (the usual case): the webhook's objects
    // are large and parsing only reads them.
    let decoded = match map.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => return Ok(Some(Cow::Borrowed(o))),
        Some(other) => decode_nested(other.clone()),
    };
    match decoded {
        Value::Null => Ok(None),
        Value::Object(o) => Ok(Some(Cow::Owned(o))),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        other => Err(ParseError::Malformed {
            path,
            expected: "an object",
            got: kind(&other),
        }),
    }
}

/// Reads an id that may be a JSON integer or a string of digits; null and "" mean absent. A
/// number with a fraction or an exponent (`9007199254740993.0`) is refused, never rounded: two
/// ids rounded to the same float would make two messages one (a false duplicate).
fn id_at(
    map: &Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<u64>, ParseError> {
    const EXPECTED: &str = "a non-negative integer id";
    let malformed = |got: &'static str| ParseError::Malformed {
        path,
        expected: EXPECTED,
        got,
    };
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(id) => Ok(Some(id)),
            None if n.is_i64() => Err(malformed("a negative number")),
            None => Err(malformed("a number that is not an exact integer")),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() || s.eq_ignore_ascii_case("null") || s.eq_ignore_ascii_case("none") {
                Ok(None)
            } else {
                s.parse::<u64>()
                    .map(Some)
                    .map_err(|_| malformed("a string that is not one"))
            }
        }
        Some(other) => Err(malformed(kind(other))),
    }
}

/// Where an id may be found: an object (when present), its key, and the path for errors.
type IdCandidate<'a> = (Option<&'a Map<String, Value>>, &'a str, &'static str);

fn first_id(candidates: &[IdCandidate<'_>]) -> Result<Option<u64>, ParseError> {
    for (map, key, path) in candidates {
        if let Some(map) = map {
            if let Some(id) = id_at(map, key, path)? {
                return Ok(Some(id));
            }
        }
    }
    Ok(None)
}

/// `assignee_user {id}` or the flat `assignee_user_id`.
fn nested_or_flat_id(
    map: &Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<u64>, ParseError> {
    if let Some(obj) = object_at(map, key, path)? {
        if let Some(id) = id_at(&obj, "id", path)? {
            return Ok(Some(id));
        }
    }
    id_at(map, &format!("{key}_id"), path)
}

fn party(map: &Map<String, Value>, key: &str, path: &'static str) -> Result<Party, ParseError> {
    let mut party = Party::default();
    if let Some(obj) = object_at(map, key, path)? {
        party.id = id_at(&obj, "id", path)?;
        party.email = string_at(&obj, "email").filter(|e| !e.trim().is_empty());
        party.name = string_at(&obj, "name")
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                let first = string_at(&obj, "firstname").unwrap_or_default();
                let last = string_at(&obj, "lastname").unwrap_or_default();
                let full = format!("{} {}", first.trim(), last.trim());
                Some(full.trim().to_string()).filter(|n| !n.is_empty())
            });
        party.first_name = string_at(&obj, "firstname")
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .or_else(|| {
                let name = party.name.as_deref()?;
                name.split_whitespace().next().map(str::to_string)
            });
    }
    if party.id.is_none() {
        party.id = id_at(map, &format!("{key}_id"), path)?;
    }
    if party.email.is_none() {
        party.email = string_at(map, &format!("{key}_email")).filter(|e| !e.trim().is_empty());
    }
    Ok(party)
}

/// `customer.integrations`, read by the orders module: whatever it holds, at worst no orders.
fn customer_orders(ticket: &Map<String, Value>) -> Result<CustomerOrders, ParseError> {
    Ok(match object_at(ticket, "customer", "ticket.customer")? {
        Some(customer) => customer
            .get("integrations")
            .map(parse_integrations)
            .unwrap_or_default(),
        None => CustomerOrders::default(),
    })
}

fn address(map: &Map<String, Value>) -> Option<Address> {
    let address = string_at(map, "address")?;
    if address.trim().is_empty() {
        return None;
    }
    Some(Address {
        address: address.trim().to_string(),
        name: string_at(map, "name").filter(|n| !n.trim().is_empty()),
    })
}

/// A string field; numbers are accepted as their text, other types as absent.
fn string_at(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bool_at(
    map: &Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<bool>, ParseError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            "" | "null" | "none" => Ok(None),
            _ => Err(ParseError::Malformed {
                path,
                expected: "a boolean",
                got: "a string that is not one",
            }),
        },
        Some(other) => Err(ParseError::Malformed {
            path,
            expected: "a boolean",
            got: kind(other),
        }),
    }
}

/// Plain text of an HTML fragment: tags dropped, block ends as line breaks, common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut chars = html.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' {
            let mut tag = String::new();
            for t in chars.by_ref() {
                if t == '>' {
                    break;
                }
                tag.push(t);
            }
            let name = tag
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if matches!(
                name.as_str(),
                "br" | "p" | "div" | "li" | "tr" | "blockquote"
            ) {
                out.push('\n');
            }
        } else {
            out.push(c);
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<&str> = decoded
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MAIN: &str = include_str!(
        "../../tests/fixtures/synthetic-context-ticket-message-created.customer-message.json"
    );
    const AGENT_REPLY: &str = include_str!(
        "../../tests/fixtures/composed-context-ticket-message-created.agent-reply.json"
    );
    const TICKET_CREATED: &str =
        include_str!("../../tests/fixtures/pipedream-ticket-created.ticket.json");
    const TICKET_UPDATED: &str =
        include_str!("../../tests/fixtures/pipedream-ticket-updated.ticket.json");
    const AGENT_MESSAGE: &str =
        include_str!("../../tests/fixtures/pipedream-ticket-message-created.message.json");
    const INTERNAL_NOTE: &str =
        include_str!("../../tests/fixtures/pipedream-internal-note-created.message.synthetic.json");

    fn wrap(ticket: &str, message: &str) -> Vec<u8> {
        format!("{{\"ticket\": {ticket}, \"message\": {message}}}").into_bytes()
    }

    #[test]
    fn the_ticket_language_is_read_when_gorgias_sets_it() {
        assert_eq!(
            parse_event(MAIN.as_bytes())
                .unwrap()
                .ticket
                .language
                .as_deref(),
            Some("en")
        );
        let unset = parse_event(br#"{"ticket": {"id": 1, "language": null}}"#).unwrap();
        assert_eq!(unset.ticket.language, None);
    }

    #[test]
    fn main_fixture_is_read_completely() {
        let e = parse_event(MAIN.as_bytes()).unwrap();
        assert_eq!(e.ticket.id, 100000001);
        assert_eq!(e.ticket.assignee_user_id, Some(900001));
        assert_eq!(e.ticket.assignee_team_id, Some(55));
        assert_eq!(e.ticket.channel.as_deref(), Some("email"));
        assert_eq!(
            e.ticket.customer.email.as_deref(),
            Some("jane@customer.example")
        );
        assert_eq!(e.ticket.customer.id, Some(700001));
        assert_eq!(e.ticket.customer.name.as_deref(), Some("Jane Doe"));
        let m = e.message.unwrap();
        assert_eq!(m.id, Some(300000002));
        assert_eq!(m.from_agent, Some(false));
        assert_eq!(m.public, Some(true));
        assert_eq!(m.sender.email.as_deref(), Some("jane@customer.example"));
        assert_eq!(m.text, "Hi, where is my order #1234?");
        assert_eq!(m.source_type.as_deref(), Some("email"));
        assert_eq!(m.source_from.unwrap().address, "jane@customer.example");
        assert_eq!(m.source_to[0].address, "support@acme.example");
        assert_eq!(m.subject.as_deref(), Some("Order status"));
    }

    const SHOPIFY_ORDERS: &str = include_str!("../../tests/fixtures/orders/shopify-orders.json");

    fn with_integrations(integrations: Value) -> Vec<u8> {
        let mut v: Value = serde_json::from_str(MAIN).unwrap();
        v["ticket"]["customer"]["integrations"] = integrations;
        v.to_string().into_bytes()
    }

    #[test]
    fn the_customers_orders_and_first_name_are_read_from_the_body() {
        let e = parse_event(MAIN.as_bytes()).unwrap();
        assert_eq!(e.ticket.customer.first_name.as_deref(), Some("Jane"));
        assert!(e.ticket.customer_orders.orders.is_empty());
        assert_eq!(e.ticket.customer_orders.degraded, None);

        let orders: Value = serde_json::from_str(SHOPIFY_ORDERS).unwrap();
        let store = serde_json::json!({"6": {"__integration_type__": "shopify",
            "orders": [orders["orders"]["in_transit"], orders["orders"]["delivered"]]}});
        for integrations in [store.clone(), Value::String(store.to_string())] {
            let e = parse_event(&with_integrations(integrations)).unwrap();
            assert_eq!(e.ticket.customer_orders.orders.len(), 2);
            assert_eq!(e.ticket.customer_orders.degraded, None);
        }
    }

    #[test]
    fn unreadable_order_data_degrades_and_never_fails_the_webhook() {
        for garbage in [
            serde_json::json!("{not json"),
            serde_json::json!(17),
            serde_json::json!({"6": {"__integration_type__": "shopify", "orders": "many"}}),
        ] {
            let e = parse_event(&with_integrations(garbage.clone())).unwrap();
            assert!(e.ticket.customer_orders.orders.is_empty(), "{garbage}");
            assert!(e.ticket.customer_orders.degraded.is_some(), "{garbage}");
        }
    }

    #[test]
    fn the_first_name_falls_back_to_the_first_word_of_the_name() {
        let e = parse_event(br#"{"ticket": {"id": 1, "customer": {"name": " Ana Maria Lopez"}}}"#)
            .unwrap();
        assert_eq!(e.ticket.customer.first_name.as_deref(), Some("Ana"));
    }

    #[test]
    fn composed_agent_reply_fixture_is_read() {
        let e = parse_event(AGENT_REPLY.as_bytes()).unwrap();
        assert_eq!(e.ticket.id, 86538298);
        assert_eq!(e.ticket.assignee_user_id, Some(387654483));
        assert_eq!(e.ticket.assignee_team_id, None);
        let m = e.message.unwrap();
        assert_eq!(m.from_agent, Some(true));
        assert_eq!(m.via.as_deref(), Some("helpdesk"));
        assert_eq!(m.text, "hello", "stripped_text wins over the quoted body");
    }

    #[test]
    fn verbatim_ticket_and_message_fixtures_combine() {
        for ticket in [TICKET_CREATED, TICKET_UPDATED] {
            let e = parse_event(&wrap(ticket, AGENT_MESSAGE)).unwrap();
            assert!(e.ticket.id > 0);
            let m = e.message.unwrap();
            assert_eq!(m.from_agent, Some(true));
            assert!(m.id.is_some());
        }
        let e = parse_event(&wrap(TICKET_CREATED, INTERNAL_NOTE)).unwrap();
        let m = e.message.unwrap();
        assert_eq!(m.public, Some(false));
        assert_eq!(m.channel.as_deref(), Some("internal-note"));
        assert_eq!(m.source_type.as_deref(), Some("internal-note"));
    }

    #[test]
    fn ticket_without_message_is_an_event_without_message() {
        let body = format!("{{\"ticket\": {TICKET_CREATED}}}");
        let e = parse_event(body.as_bytes()).unwrap();
        assert!(e.message.is_none());
    }

    #[test]
    fn string_ids_and_flat_fields_are_accepted() {
        let body = br#"{
            "ticket": {"id": "42", "assignee_user_id": "900001", "assignee_team_id": "",
                       "customer_email": "a@b.c", "customer_id": "5", "channel": "chat"},
            "message": {"id": "77", "from_agent": "false", "public": "true",
                        "sender_email": "A@B.C", "body_text": "hello"}
        }"#;
        let e = parse_event(body).unwrap();
        assert_eq!(e.ticket.id, 42);
        assert_eq!(e.ticket.assignee_user_id, Some(900001));
        assert_eq!(e.ticket.assignee_team_id, None);
        assert_eq!(e.ticket.customer.email.as_deref(), Some("a@b.c"));
        assert_eq!(e.ticket.customer.id, Some(5));
        let m = e.message.unwrap();
        assert_eq!(m.id, Some(77));
        assert_eq!(m.from_agent, Some(false));
        assert_eq!(m.sender.email.as_deref(), Some("A@B.C"));
    }

    #[test]
    fn nested_values_as_json_strings_are_decoded() {
        let body = serde_json::json!({
            "ticket": serde_json::json!({"id": 9, "assignee_user": {"id": 1},
                "customer": serde_json::json!({"email": "x@y.z"}).to_string()}).to_string(),
            "message": serde_json::json!({"id": 3, "sender": {"email": "x@y.z"},
                "source": serde_json::json!({"type": "chat", "to": [{"address": "s@shop"}]}).to_string(),
                "body_text": "hi"}).to_string(),
        });
        let e = parse_event(body.to_string().as_bytes()).unwrap();
        assert_eq!(e.ticket.id, 9);
        assert_eq!(e.ticket.assignee_user_id, Some(1));
        assert_eq!(e.ticket.customer.email.as_deref(), Some("x@y.z"));
        let m = e.message.unwrap();
        assert_eq!(m.source_type.as_deref(), Some("chat"));
        assert_eq!(m.source_to[0].address, "s@shop");
    }

    #[test]
    fn ticket_id_falls_back_to_flat_and_message_ticket_id() {
        let e = parse_event(br#"{"ticket_id": 5, "message": {"id": 1}}"#).unwrap();
        assert_eq!(e.ticket.id, 5);
        let e = parse_event(br#"{"ticket": {}, "message": {"id": 1, "ticket_id": "6"}}"#).unwrap();
        assert_eq!(e.ticket.id, 6);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(parse_event(b"  "), Err(ParseError::Empty));
        assert!(matches!(
            parse_event(b"{\"ticket\": {"),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(
            parse_event(b"[1]"),
            Err(ParseError::NotAnObject("an array"))
        );
        assert_eq!(
            parse_event(b"{\"message\": {}}"),
            Err(ParseError::Missing("ticket.id"))
        );
        let err = parse_event(br#"{"ticket": {"id": "abc"}}"#).unwrap_err();
        assert!(err.to_string().contains("ticket.id"), "{err}");
        let err = parse_event(br#"{"ticket": {"id": -3}}"#).unwrap_err();
        assert!(err.to_string().contains("ticket.id"), "{err}");
        let err = parse_event(br#"{"ticket": 5}"#).unwrap_err();
        assert!(err.to_string().contains("ticket"), "{err}");
        let err = parse_event(br#"{"ticket": {"id": 1}, "message": {"id": [1]}}"#).unwrap_err();
        assert!(err.to_string().contains("message.id"), "{err}");
        let err = parse_event(br#"{"ticket": {"id": 1}, "message": {"from_agent": "maybe"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("message.from_agent"), "{err}");
    }

    #[test]
    fn a_malformed_field_is_named_with_its_expected_type_and_its_value_is_never_echoed() {
        let email = "jane.doe@example.com";
        for (body, path) in [
            (json!({"ticket": {"id": email}}), "ticket.id"),
            (
                json!({"ticket": {"id": 1}, "message": {"id": email}}),
                "message.id",
            ),
            (
                json!({"ticket": {"id": 1, "assignee_user_id": email}}),
                "ticket.assignee_user",
            ),
            (
                json!({"ticket": {"id": 1, "customer": {"id": email}}}),
                "ticket.customer",
            ),
            (
                json!({"ticket": {"id": 1}, "message": {"from_agent": email}}),
                "message.from_agent",
            ),
            (json!({"ticket": {"id": 1}, "message": email}), "message"),
        ] {
            let err = parse_event(body.to_string().as_bytes()).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(path), "{text}");
            assert_eq!(err.path(), Some(path));
            assert!(text.contains("expected "), "{text}");
            assert!(!text.contains("jane"), "the value was echoed: {text}");
        }
    }

    #[test]
    fn ids_that_are_not_exact_integers_are_refused_never_rounded() {
        // 2^53 + 1: as a float it rounds to 2^53, another message's id.
        for raw in [
            "9007199254740993.0",
            "1.5",
            "1e3",
            "-1",
            "18446744073709551616",
        ] {
            for path in ["ticket.id", "message.id"] {
                let body = if path == "ticket.id" {
                    format!(r#"{{"ticket": {{"id": {raw}}}}}"#)
                } else {
                    format!(r#"{{"ticket": {{"id": 1}}, "message": {{"id": {raw}}}}}"#)
                };
                let err = parse_event(body.as_bytes()).unwrap_err();
                assert_eq!(err.path(), Some(path), "{raw}: {err}");
                assert!(err.to_string().contains("integer"), "{err}");
            }
        }
        let e = parse_event(
            br#"{"ticket": {"id": 9007199254740993}, "message": {"id": "9007199254740993"}}"#,
        )
        .unwrap();
        assert_eq!(e.ticket.id, 9_007_199_254_740_993);
        assert_eq!(e.message.unwrap().id, Some(9_007_199_254_740_993));
        let err = parse_event(br#"{"ticket": {"id": "12.0"}}"#).unwrap_err();
        assert_eq!(err.path(), Some("ticket.id"));
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_rejected_without_panic() {
        assert!(matches!(
            parse_event(b"{\"ticket\": {\"id\": \"\xff\xfe\"}}"),
            Err(ParseError::NotJson(_))
        ));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(
            parse_event(deep.as_bytes()),
            Err(ParseError::NotJson(_))
        ));
    }

    #[test]
    fn html_body_is_used_when_there_is_no_text() {
        let e = parse_event(
            br#"{"ticket": {"id": 1}, "message": {"id": 2, "body_html": "<div>Hi &amp; hello</div><br><p>second</p>"}}"#,
        )
        .unwrap();
        assert_eq!(e.message.unwrap().text, "Hi & hello\nsecond");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use serde_json::json;

        /// Any JSON value, a few levels deep.
        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>().prop_map(|f| json!(f)),
                ".{0,20}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::hash_map("[a-z_]{1,12}", inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// An id as Gorgias or a template might send it.
        fn any_id() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<u64>().prop_map(|n| json!(n)),
                any::<u64>().prop_map(|n| json!(n.to_string())),
                any::<i64>().prop_map(|n| json!(n)),
                ".{0,8}".prop_map(Value::String),
                Just(Value::Null),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse_event(&body);
            }

            #[test]
            fn arbitrary_json_never_panics(value in any_json()) {
                let _ = parse_event(value.to_string().as_bytes());
            }

            #[test]
            fn context_shaped_bodies_parse_or_name_a_path(
                ticket_id in any_id(),
                message_id in any_id(),
                assignee in any_id(),
                from_agent in any_json(),
                sender in any_json(),
                extra in any_json(),
                as_string in any::<bool>(),
            ) {
                let ticket = json!({"id": ticket_id, "assignee_user_id": assignee, "extra": extra});
                let message = json!({"id": message_id, "from_agent": from_agent, "sender": sender});
                let body = if as_string {
                    json!({"ticket": ticket.to_string(), "message": message.to_string()})
                } else {
                    json!({"ticket": ticket, "message": message})
                };
                match parse_event(body.to_string().as_bytes()) {
                    Ok(event) => {
                        // A parsed id is the id that was sent.
                        let sent = &ticket["id"];
                        let expected = sent.as_u64().or_else(|| sent.as_str().and_then(|s| s.trim().parse().ok()));
                        prop_assert_eq!(Some(event.ticket.id), expected);
                    }
                    Err(e) => {
                        let text = e.to_string();
                        prop_assert!(text.contains("ticket") || text.contains("message"), "{}", text);
                    }
                }
            }

            #[test]
            fn numeric_ids_round_trip_as_numbers_or_strings(id in any::<u64>(), as_text in any::<bool>()) {
                let raw = if as_text { json!(id.to_string()) } else { json!(id) };
                let body = json!({"ticket": {"id": raw}});
                prop_assert_eq!(parse_event(body.to_string().as_bytes()).unwrap().ticket.id, id);
            }
        }
    }
}
