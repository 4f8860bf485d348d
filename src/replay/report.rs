//! What a replay found, and its three renderings: the terminal table with totals, the JSON
//! report (the fields of the interface), and one self-contained HTML page. Pure: every text
//! from a ticket or the model is untrusted, so the table strips control characters and the page
//! escapes everything.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::input::Unreadable;

/// One customer message as replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TurnResult {
    pub customer: String,
    /// `replied`, `handed_off`, `ignored`, `duplicate`, or `error`.
    pub outcome: String,
    /// The decision's or the filter's reason code (`answered`, `no_answer`, `internal_note`...).
    pub reason: String,
    /// The Autopilot topic the decision names, when it names one.
    pub topic: Option<String>,
    /// What the AI would have posted to the customer (a handoff's final reply included).
    pub reply: Option<String>,
    /// The decision's detail (what matched, what the model said), for the reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How a replayed ticket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketOutcome {
    /// The AI answered and never handed off.
    Automated,
    HandedOff,
    /// Nothing the AI would have acted on.
    Ignored,
    /// The replay itself failed on this ticket (storage).
    Error,
}

impl TicketOutcome {
    pub fn code(self) -> &'static str {
        match self {
            TicketOutcome::Automated => "automated",
            TicketOutcome::HandedOff => "handed_off",
            TicketOutcome::Ignored => "ignored",
            TicketOutcome::Error => "error",
        }
    }
}

/// One replayed ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketResult {
    pub ticket_id: u64,
    pub line: usize,
    pub outcome: TicketOutcome,
    /// The handoff or ignore reason; for an automated ticket, `answered`.
    pub reason: String,
    pub turns: Vec<TurnResult>,
    pub human_reply: Option<String>,
}

impl TicketResult {
    /// Sums up the turns: a handoff ends a ticket; a reply without one automates it; else the
    /// first reason it was ignored (`fallback` when no message was even a turn).
    pub fn from_turns(
        ticket_id: u64,
        line: usize,
        turns: Vec<TurnResult>,
        human_reply: Option<String>,
        fallback: &str,
    ) -> TicketResult {
        let find = |outcome: &str| turns.iter().find(|t| t.outcome == outcome);
        let (outcome, reason) = if let Some(t) = find("handed_off") {
            (TicketOutcome::HandedOff, t.reason.clone())
        } else if let Some(t) = find("error") {
            (TicketOutcome::Error, t.reason.clone())
        } else if find("replied").is_some() {
            (TicketOutcome::Automated, "answered".to_string())
        } else {
            let reason = turns
                .iter()
                .find(|t| t.outcome == "ignored")
                .map(|t| t.reason.clone())
                .unwrap_or_else(|| fallback.to_string());
            (TicketOutcome::Ignored, reason)
        };
        TicketResult {
            ticket_id,
            line,
            outcome,
            reason,
            turns,
            human_reply,
        }
    }
}

/// The whole replay, as `--json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub tickets: u64,
    pub automated: u64,
    pub automation_rate: f64,
    pub ignored: u64,
    pub handoffs: BTreeMap<String, u64>,
    pub topics: BTreeMap<String, u64>,
    pub brain: String,
    pub respect_assignment: bool,
    pub results: Vec<TicketResult>,
    pub unreadable: Vec<Unreadable>,
}

impl Report {
    pub fn new(
        results: Vec<TicketResult>,
        unreadable: Vec<Unreadable>,
        brain: &str,
        respect_assignment: bool,
    ) -> Report {
        let count = |o: TicketOutcome| results.iter().filter(|r| r.outcome == o).count() as u64;
        let tickets = results.len() as u64;
        let automated = count(TicketOutcome::Automated);
        let mut handoffs = BTreeMap::new();
        let mut topics = BTreeMap::new();
        for r in &results {
            if r.outcome == TicketOutcome::HandedOff {
                *handoffs.entry(r.reason.clone()).or_insert(0) += 1;
            }
            for topic in r.turns.iter().filter_map(|t| t.topic.as_ref()) {
                *topics.entry(topic.clone()).or_insert(0) += 1;
            }
        }
        Report {
            tickets,
            automated,
            automation_rate: if tickets == 0 {
                0.0
            } else {
                automated as f64 / tickets as f64
            },
            ignored: count(TicketOutcome::Ignored),
            handoffs,
            topics,
            brain: brain.to_string(),
            respect_assignment,
            results,
            unreadable,
        }
    }

    /// The table and totals for the terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<12} {:<30} {:<10} {:<26} REPLY",
            "TICKET", "CUSTOMER", "OUTCOME", "REASON / TOPIC"
        );
        for r in &self.results {
            let first_customer = r.turns.first().map(|t| t.customer.as_str()).unwrap_or("");
            let reply = r
                .turns
                .iter()
                .find_map(|t| t.reply.as_deref())
                .unwrap_or("");
            let topics: Vec<&str> = r.turns.iter().filter_map(|t| t.topic.as_deref()).collect();
            let why = match r.outcome {
                TicketOutcome::Automated if !topics.is_empty() => topics.join(", "),
                _ => r.reason.clone(),
            };
            let _ = writeln!(
                out,
                "{:<12} {:<30} {:<10} {:<26} {}",
                r.ticket_id,
                first_words(first_customer, 30),
                r.outcome.code(),
                first_words(&why, 26),
                first_words(reply, 40)
            );
        }
        for u in &self.unreadable {
            let _ = writeln!(
                out,
                "line {:<7} unreadable: {}",
                u.line,
                first_words(&u.error, 100)
            );
        }
        out.push('\n');
        out.push_str(&self.totals());
        out
    }

    /// The totals, a few lines.
    pub fn totals(&self) -> String {
        let mut out = String::new();
        let handed_off: u64 = self.handoffs.values().sum();
        let _ = writeln!(
            out,
            "tickets {}  automated {} ({:.1}%)  handed off {}  ignored {}  unreadable {}",
            self.tickets,
            self.automated,
            self.automation_rate * 100.0,
            handed_off,
            self.ignored,
            self.unreadable.len()
        );
        let _ = writeln!(out, "handoffs by reason: {}", counts(&self.handoffs));
        let _ = writeln!(out, "topics matched: {}", counts(&self.topics));
        out
    }

    /// One self-contained page: inline CSS, no scripts, no external assets; all text escaped.
    pub fn html(&self) -> String {
        let mut out = String::new();
        out.push_str(concat!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>gorgias-agent replay</title><style>",
            "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2330}",
            "h1{font-size:1.4rem}table.totals td{padding:.1rem .8rem .1rem 0}",
            "section{border:1px solid #d6dae3;border-radius:8px;margin:1.2rem 0;padding:.8rem 1rem}",
            "section h2{font-size:1rem;margin:0 0 .6rem}.cols{display:grid;grid-template-columns:3fr 2fr;gap:1rem}",
            ".msg{border-radius:6px;padding:.4rem .6rem;margin:.3rem 0;white-space:pre-wrap}",
            ".customer{background:#eef1f6}.ai{background:#e5f4ea}.human{background:#fdf3e1}",
            ".tag{display:inline-block;font-size:.8rem;border-radius:4px;padding:0 .4rem;background:#e1e5ee;margin-left:.4rem}",
            ".automated{background:#c9ecd4}.handed_off{background:#fbe0b9}.ignored,.error{background:#e7e7e7}",
            ".meta{color:#5b6375;font-size:.85rem}",
            "</style></head><body>\n<h1>Replay: what the AI would have done</h1>\n"
        ));
        let handed_off: u64 = self.handoffs.values().sum();
        let _ = writeln!(
            out,
            "<table class=\"totals\"><tr><td>Tickets</td><td>{}</td></tr>\
             <tr><td>Automated</td><td>{} ({:.1}%)</td></tr>\
             <tr><td>Handed off</td><td>{}</td></tr><tr><td>Ignored</td><td>{}</td></tr>\
             <tr><td>Unreadable</td><td>{}</td></tr>\
             <tr><td>Handoffs by reason</td><td>{}</td></tr>\
             <tr><td>Topics matched</td><td>{}</td></tr>\
             <tr><td>Brain</td><td>{}</td></tr></table>",
            self.tickets,
            self.automated,
            self.automation_rate * 100.0,
            handed_off,
            self.ignored,
            self.unreadable.len(),
            escape(&counts(&self.handoffs)),
            escape(&counts(&self.topics)),
            escape(&self.brain),
        );
        for r in &self.results {
            let _ = write!(
                out,
                "<section><h2>Ticket {}<span class=\"tag {}\">{}</span><span class=\"tag\">{}</span></h2>\
                 <div class=\"cols\"><div><div class=\"meta\">With the AI</div>",
                r.ticket_id,
                r.outcome.code(),
                r.outcome.code(),
                escape(&r.reason)
            );
            for t in &r.turns {
                let _ = write!(
                    out,
                    "<div class=\"msg customer\">{}</div><div class=\"meta\">{} · {}{}</div>",
                    escape(&t.customer),
                    escape(&t.outcome),
                    escape(&t.reason),
                    t.topic
                        .as_deref()
                        .map(|topic| format!(" · topic {}", escape(topic)))
                        .unwrap_or_default()
                );
                if let Some(reply) = &t.reply {
                    let _ = write!(out, "<div class=\"msg ai\">{}</div>", escape(reply));
                }
            }
            out.push_str("</div><div><div class=\"meta\">The human agent's first reply</div>");
            match &r.human_reply {
                Some(reply) => {
                    let _ = write!(out, "<div class=\"msg human\">{}</div>", escape(reply));
                }
                None => out.push_str("<div class=\"meta\">none in the file</div>"),
            }
            out.push_str("</div></div></section>\n");
        }
        if !self.unreadable.is_empty() {
            out.push_str("<section><h2>Unreadable tickets</h2><ul>");
            for u in &self.unreadable {
                let _ = write!(out, "<li>line {}: {}</li>", u.line, escape(&u.error));
            }
            out.push_str("</ul></section>\n");
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first words of `text` on one line, at most `max` characters; control characters
/// (a terminal's escape sequences included) become spaces.
pub fn first_words(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::text::clip(&words, max)
}

/// Escapes text for HTML element content and attribute values (single-quoted ones too).
pub fn escape(text: &str) -> String {
    crate::text::escape_html(text).replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(outcome: &str, reason: &str, topic: Option<&str>, reply: Option<&str>) -> TurnResult {
        TurnResult {
            customer: "hello <script>alert(1)</script>".into(),
            outcome: outcome.into(),
            reason: reason.into(),
            topic: topic.map(str::to_string),
            reply: reply.map(str::to_string),
            detail: None,
        }
    }

    fn report() -> Report {
        let results = vec![
            TicketResult::from_turns(
                1,
                1,
                vec![
                    turn("replied", "answered", Some("returns"), Some("Return it")),
                    turn("replied", "answered", Some("order-status"), Some("Soon")),
                ],
                Some("Human <b>reply</b>".into()),
                "no_message",
            ),
            TicketResult::from_turns(
                2,
                2,
                vec![
                    turn("replied", "answered", Some("returns"), Some("x")),
                    turn(
                        "handed_off",
                        "no_answer",
                        None,
                        Some("A person will follow up"),
                    ),
                ],
                None,
                "no_message",
            ),
            TicketResult::from_turns(
                3,
                3,
                vec![turn("ignored", "internal_note", None, None)],
                None,
                "agent_message",
            ),
            TicketResult::from_turns(4, 4, vec![], None, "agent_message"),
        ];
        Report::new(
            results,
            vec![Unreadable {
                line: 5,
                error: "not JSON".into(),
            }],
            "knowledge-base",
            false,
        )
    }

    #[test]
    fn totals_count_tickets_by_how_they_ended() {
        let r = report();
        assert_eq!((r.tickets, r.automated, r.ignored), (4, 1, 2));
        assert_eq!(r.automation_rate, 0.25);
        assert_eq!(r.handoffs, BTreeMap::from([("no_answer".to_string(), 1)]));
        assert_eq!(
            r.topics,
            BTreeMap::from([("order-status".to_string(), 1), ("returns".to_string(), 2)])
        );
        assert_eq!(r.results[2].reason, "internal_note");
        assert_eq!(r.results[3].reason, "agent_message");
        let json = serde_json::to_value(&r).unwrap();
        for key in [
            "tickets",
            "automated",
            "automation_rate",
            "handoffs",
            "topics",
            "results",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        let first_turn = &json["results"][0]["turns"][0];
        for key in ["customer", "outcome", "reason", "topic", "reply"] {
            assert!(first_turn.get(key).is_some(), "{key}");
        }
        assert!(json["results"][0].get("human_reply").is_some());
    }

    #[test]
    fn the_table_shows_one_line_per_ticket_and_the_totals() {
        let table = report().table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("TICKET"));
        assert!(
            lines[1].starts_with("1 ")
                && lines[1].contains("automated")
                && lines[1].contains("returns, order-status")
        );
        assert!(lines[2].contains("handed_off") && lines[2].contains("no_answer"));
        assert!(lines[5].contains("line 5") && lines[5].contains("unreadable"));
        assert!(
            table.contains("tickets 4  automated 1 (25.0%)  handed off 1  ignored 2  unreadable 1")
        );
        assert!(table.contains("handoffs by reason: no_answer 1"));
        assert!(table.contains("topics matched: order-status 1, returns 2"));
    }

    #[test]
    fn first_words_are_one_clipped_line_without_control_characters() {
        assert_eq!(
            first_words("Hi\n\tthere,  you\u{1b}[31m", 40),
            "Hi there, you [31m"
        );
        assert_eq!(first_words("one two three", 7), "one tw…");
    }

    #[test]
    fn the_page_escapes_every_text_and_carries_no_script_or_external_asset() {
        let html = report().html();
        assert!(html.contains("hello &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
        assert!(html.contains("Human &lt;b&gt;reply&lt;/b&gt;"));
        assert!(!html.contains("src="), "no external assets");
        assert!(!html.contains("href="), "no external assets");
        assert!(
            html.contains("The human agent&#39;s first reply")
                || html.contains("The human agent's first reply")
        );
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
