//! Past tickets as replay reads them: JSON Lines, or one JSON array, of tickets as
//! `GET /api/tickets/{id}` returns them, with their `messages`. Each message becomes the
//! webhook event Gorgias would have sent for it, read by the webhook's own lenient parser. Pure.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::gorgias::webhook::{event_from_value, WebhookEvent};

/// One past ticket, ready to replay.
#[derive(Debug, Clone)]
pub struct PastTicket {
    pub ticket_id: u64,
    /// Where it was read: the line of the file (or the position in what Gorgias listed).
    pub line: usize,
    /// One event per message, oldest first.
    pub events: Vec<WebhookEvent>,
    /// The first public message of a human agent, for comparison.
    pub human_reply: Option<String>,
}

/// A ticket that cannot be read, and why; the others are replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub line: usize,
    pub error: String,
}

/// What a file held.
#[derive(Debug, Clone, Default)]
pub struct Tickets {
    pub tickets: Vec<PastTicket>,
    pub unreadable: Vec<Unreadable>,
}

/// A file replay cannot use at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0} is not UTF-8 text")]
    NotText(String),
    #[error("{path} starts with '[' but is not a JSON array: {reason}")]
    NotAnArray { path: String, reason: String },
    #[error("{0} holds no tickets")]
    Empty(String),
    #[error("{path} holds no readable ticket (line {line}: {error})")]
    NothingReadable {
        path: String,
        line: usize,
        error: String,
    },
}

/// Reads the tickets in `text` (named `path` in messages).
pub fn parse_tickets(path: &str, text: &str) -> Result<Tickets, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let items: Vec<(usize, Result<Value, String>)> = if text.trim_start().starts_with('[') {
        let values: Vec<Value> =
            serde_json::from_str(text).map_err(|e| InputError::NotAnArray {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        let lines = element_lines(text);
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (lines.get(i).copied().unwrap_or(1), Ok(v)))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let value = serde_json::from_str::<Value>(l).map_err(|e| e.to_string());
                (i + 1, value.map_err(|e| format!("not JSON: {e}")))
            })
            .collect()
    };
    if items.is_empty() {
        return Err(InputError::Empty(path.to_string()));
    }
    let tickets = read_values(items);
    if tickets.tickets.is_empty() {
        let first = tickets.unreadable.first().cloned().unwrap_or(Unreadable {
            line: 1,
            error: "no ticket".into(),
        });
        return Err(InputError::NothingReadable {
            path: path.to_string(),
            line: first.line,
            error: first.error,
        });
    }
    Ok(tickets)
}

/// Reads tickets already parsed as JSON, each with its line (or position); a ticket id seen
/// before is reported, not replayed twice.
pub fn read_values(items: Vec<(usize, Result<Value, String>)>) -> Tickets {
    let mut out = Tickets::default();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (line, value) in items {
        match value.and_then(|v| past_ticket(v, line)) {
            Ok(ticket) => match seen.get(&ticket.ticket_id) {
                Some(first) => out.unreadable.push(Unreadable {
                    line,
                    error: format!(
                        "ticket {} was already read on line {first}",
                        ticket.ticket_id
                    ),
                }),
                None => {
                    seen.insert(ticket.ticket_id, line);
                    out.tickets.push(ticket);
                }
            },
            Err(error) => out.unreadable.push(Unreadable { line, error }),
        }
    }
    out
}

/// One ticket object (or `{"ticket": {...}}`) with its `messages`.
pub fn past_ticket(value: Value, line: usize) -> Result<PastTicket, String> {
    let mut ticket = match value {
        Value::Object(mut map) if !map.contains_key("messages") && map.contains_key("ticket") => {
            match map.remove("ticket") {
                Some(Value::Object(inner)) => inner,
                _ => return Err("\"ticket\" is not an object".into()),
            }
        }
        Value::Object(map) => map,
        _ => return Err("a ticket must be a JSON object".into()),
    };
    let messages = match ticket.remove("messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(items)) => items,
            _ => return Err("messages is not an array".into()),
        },
        Some(_) => return Err("messages is not an array".into()),
    };
    let ticket = Value::Object(ticket);
    let head = event_from_value(json!({ "ticket": ticket })).map_err(|e| e.to_string())?;
    let mut events = Vec::with_capacity(messages.len());
    for (i, message) in in_order(messages).into_iter().enumerate() {
        let event = event_from_value(json!({ "ticket": ticket.clone(), "message": message }))
            .map_err(|e| format!("message {}: {e}", i + 1))?;
        events.push(event);
    }
    let human_reply = events
        .iter()
        .filter_map(|e| e.message.as_ref())
        .find(|m| {
            let note = |v: &Option<String>| {
                v.as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("internal-note"))
            };
            m.from_agent == Some(true)
                && m.public != Some(false)
                && !note(&m.channel)
                && !note(&m.source_type)
        })
        .map(|m| m.text.clone());
    Ok(PastTicket {
        ticket_id: head.ticket.id,
        line,
        events,
        human_reply,
    })
}

/// Messages oldest first: by `created_datetime` when every message has one (Gorgias's ISO
/// times sort as text), else as given.
fn in_order(mut messages: Vec<Value>) -> Vec<Value> {
    let created = |m: &Value| {
        m.get("created_datetime")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if messages.iter().all(|m| created(m).is_some()) {
        messages.sort_by_key(|m| created(m));
    }
    messages
}

/// The line on which each element of a top-level JSON array starts (the text is valid JSON).
fn element_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut line, mut depth, mut in_string, mut escaped) = (1usize, 0usize, false, false);
    let mut expecting = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if depth == 1 && expecting && c != ']' {
            lines.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket_json(id: u64, messages: Vec<Value>) -> Value {
        json!({"id": id, "customer": {"id": 5, "email": "ann@example.com", "name": "Ann"},
               "messages": messages})
    }

    fn customer(id: u64, at: &str, text: &str) -> Value {
        json!({"id": id, "created_datetime": at, "from_agent": false, "public": true,
               "channel": "email", "sender": {"email": "ann@example.com"}, "body_text": text})
    }

    fn agent(id: u64, at: &str, text: &str, public: bool) -> Value {
        json!({"id": id, "created_datetime": at, "from_agent": true, "public": public,
               "channel": if public { "email" } else { "internal-note" },
               "sender": {"email": "agent@shop.example"}, "body_text": text})
    }

    #[test]
    fn json_lines_are_read_with_their_line_numbers_and_bad_lines_reported() {
        let good = ticket_json(1, vec![customer(11, "2024-01-01T10:00:00", "hi")]);
        let text = format!("{good}\n\n{{not json\n{}\n[1]\n", ticket_json(2, vec![]));
        let t = parse_tickets("f", &text).unwrap();
        let ids: Vec<(u64, usize)> = t.tickets.iter().map(|t| (t.ticket_id, t.line)).collect();
        assert_eq!(ids, vec![(1, 1), (2, 4)]);
        let bad: Vec<usize> = t.unreadable.iter().map(|u| u.line).collect();
        assert_eq!(bad, vec![3, 5]);
        assert!(
            t.unreadable[0].error.contains("not JSON"),
            "{:?}",
            t.unreadable
        );
    }

    #[test]
    fn an_array_is_read_and_its_elements_keep_their_lines() {
        let text = format!(
            "[\n  {},\n  \"x\",\n  {}\n]",
            ticket_json(1, vec![]),
            ticket_json(2, vec![])
        );
        let t = parse_tickets("f", &text).unwrap();
        assert_eq!(t.tickets.len(), 2);
        assert_eq!(t.tickets[1].line, 4);
        assert_eq!(
            t.unreadable,
            vec![Unreadable {
                line: 3,
                error: "a ticket must be a JSON object".into()
            }]
        );
    }

    #[test]
    fn files_replay_cannot_use_are_errors() {
        assert!(matches!(
            parse_tickets("f", " \n"),
            Err(InputError::Empty(_))
        ));
        assert!(matches!(
            parse_tickets("f", "[{]"),
            Err(InputError::NotAnArray { .. })
        ));
        assert!(matches!(
            parse_tickets("f", "hello\nworld"),
            Err(InputError::NothingReadable { line: 1, .. })
        ));
    }

    #[test]
    fn messages_are_put_in_order_and_the_first_public_agent_reply_kept() {
        let t = past_ticket(
            ticket_json(
                3,
                vec![
                    agent(4, "2024-01-01T12:00:00", "Second answer", true),
                    agent(3, "2024-01-01T11:30:00", "note", false),
                    customer(1, "2024-01-01T10:00:00", "first"),
                    agent(2, "2024-01-01T11:00:00", "First answer", true),
                ],
            ),
            1,
        )
        .unwrap();
        let ids: Vec<u64> = t
            .events
            .iter()
            .map(|e| e.message.as_ref().unwrap().id.unwrap())
            .collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        assert_eq!(t.human_reply.as_deref(), Some("First answer"));
        assert_eq!(
            t.events[0].ticket.customer.email.as_deref(),
            Some("ann@example.com")
        );
    }

    #[test]
    fn a_wrapped_ticket_is_read_and_a_repeated_id_reported() {
        let wrapped = json!({"ticket": ticket_json(9, vec![])});
        let t = read_values(vec![(1, Ok(wrapped.clone())), (2, Ok(wrapped))]);
        assert_eq!(t.tickets.len(), 1);
        assert_eq!(t.unreadable[0].line, 2);
        assert!(t.unreadable[0].error.contains("already read on line 1"));
    }

    #[test]
    fn a_ticket_without_id_or_with_a_bad_message_is_unreadable() {
        assert!(past_ticket(json!({"messages": []}), 1)
            .unwrap_err()
            .contains("ticket.id"));
        let bad = ticket_json(1, vec![json!({"id": "abc", "body_text": "x"})]);
        let err = past_ticket(bad, 1).unwrap_err();
        assert!(err.starts_with("message 1: message.id"), "{err}");
    }
}
