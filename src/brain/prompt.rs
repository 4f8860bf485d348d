//! The openai brain's prompt: one system message built from the configuration (persona and tone,
//! the Autopilot topics and what to do with each, who the customer is, the most relevant
//! knowledge within a size budget), then the ticket's history as `user` / `assistant` turns; and
//! the short prompt that asks the model for a handoff summary.

use serde::Serialize;

use super::knowledge::{KnowledgeIndex, Source};
use super::BrainInput;
use crate::config::{Topic, TopicAction};
use crate::domain::orders::{order_facts, Order};
use crate::domain::session::{HistoryEntry, Role};
pub use crate::text::clip;

/// The name of the one tool the model is offered.
pub const HANDOFF_TOOL: &str = "handoff_to_human";
/// The most characters of knowledge snippets put in the system message.
pub const KNOWLEDGE_BUDGET_CHARS: usize = 6000;
/// The most knowledge snippets put in the system message.
pub const MAX_SNIPPETS: usize = 6;
/// One history message longer than this is cut (a pasted log must not fill the context).
pub const MAX_MESSAGE_CHARS: usize = 6000;
/// The most characters of conversation sent for a summary (the latest part is kept).
const SUMMARY_TRANSCRIPT_CHARS: usize = 12_000;
/// A one-message conversation shorter than this is quoted whole by the plain extract, so a
/// model summary would add nothing but latency.
const PLAIN_QUOTE_CHARS: usize = 300;

/// The persona and tone used when `brain.openai.system_prompt` is empty.
pub fn default_persona(sender_name: &str) -> String {
    let name = sender_name.trim();
    let name = if name.is_empty() {
        "AI Assistant"
    } else {
        name
    };
    format!(
        "You are {name}, the customer support assistant of an online store, answering customers \
         on their support tickets. Be warm, concise and precise: answer in the customer's \
         language, in a few short sentences of plain text, and get straight to the point."
    )
}

/// The rules that make the tool contract work; the persona can be replaced, these cannot.
const RULES: &str = "How to work:
- Use only the knowledge below and what the customer said. Never invent order details, \
tracking numbers, dates, prices or policies. You cannot look anything up or change orders.
- Call the tool handoff_to_human instead of answering when the request is about a topic marked \
\"hand off\" below, when the customer asks for a person, or when the knowledge does not let you \
answer with confidence. Its `reason` is one sentence for the support team; its `reply` is a short \
message telling the customer that a member of the team will follow up.
- Otherwise your message is the reply the customer will read: plain text, no Markdown, no \
placeholders, no signature.";

/// A chat-completions message (the common subset: a role and a text content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &'static str, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role,
            content: content.into(),
        }
    }
}

/// Builds the messages of a request from the configuration and a ticket's conversation.
pub struct PromptBuilder {
    persona: String,
    topics: Vec<Topic>,
    index: KnowledgeIndex,
}

impl PromptBuilder {
    /// `system_prompt` (when not blank) replaces the built-in persona and tone.
    pub fn new(
        system_prompt: &str,
        sender_name: &str,
        topics: &[Topic],
        index: KnowledgeIndex,
    ) -> PromptBuilder {
        let persona = if system_prompt.trim().is_empty() {
            default_persona(sender_name)
        } else {
            system_prompt.trim().to_string()
        };
        PromptBuilder {
            persona,
            topics: topics.to_vec(),
            index,
        }
    }

    /// The system message, then the history in order.
    pub fn messages(&self, input: &BrainInput) -> Vec<ChatMessage> {
        let mut messages = vec![ChatMessage::new("system", self.system_message(input))];
        messages.extend(history_messages(&input.history));
        messages
    }

    /// Persona, rules, topics, the customer, and the relevant knowledge.
    pub fn system_message(&self, input: &BrainInput) -> String {
        let mut out = String::new();
        out.push_str(&self.persona);
        out.push_str("\n\n");
        out.push_str(RULES);
        out.push_str("\n\n");
        out.push_str(&self.topics_section());
        out.push_str("\n\n");
        out.push_str(&customer_section(input));
        out.push_str("\n\n");
        if let Some(orders) = &input.orders {
            out.push_str(&orders_section(orders));
            out.push_str("\n\n");
        }
        out.push_str(&self.knowledge_section(input));
        out
    }

    fn topics_section(&self) -> String {
        if self.topics.is_empty() {
            return "Topics: none are configured; answer from the knowledge, or hand off.".into();
        }
        let mut out = String::from("Topics and what to do with each:");
        for t in &self.topics {
            out.push_str(&format!("\n- {}", t.name));
            if !t.description.trim().is_empty() {
                out.push_str(&format!(": {}", t.description.trim()));
            }
            if !t.keywords.is_empty() {
                out.push_str(&format!(" (keywords: {})", t.keywords.join(", ")));
            }
            out.push_str(match t.action {
                TopicAction::Handle => ". Answer it.",
                TopicAction::Skip => ". Hand off: call handoff_to_human, never answer it yourself.",
            });
        }
        out.push_str("\nAnything else: answer it when the knowledge covers it, else hand off.");
        out
    }

    /// The best snippets for the conversation (the new messages first, then the whole
    /// conversation), skipping `skip` topics and empty answers, within the size budget.
    pub fn relevant_knowledge(&self, input: &BrainInput) -> Vec<(String, String)> {
        let everything = input
            .history
            .iter()
            .filter(|e| e.role == Role::Customer)
            .map(|e| &*e.text)
            .collect::<Vec<_>>()
            .join("\n");
        let mut hits = self.index.search(&input.new_text());
        hits.extend(self.index.search(&everything));
        let docs = self.index.documents();
        let mut seen = Vec::new();
        let mut picked = Vec::new();
        let mut used = 0;
        for hit in hits {
            if seen.contains(&hit.index) || picked.len() >= MAX_SNIPPETS {
                continue;
            }
            seen.push(hit.index);
            let doc = &docs[hit.index];
            let skipped = doc.source
                == Source::Topic {
                    action: TopicAction::Skip,
                };
            let text = doc.answer.trim();
            if skipped || text.is_empty() {
                continue;
            }
            let room = KNOWLEDGE_BUDGET_CHARS.saturating_sub(used);
            let text = if text.chars().count() <= room {
                text.to_string()
            } else if picked.is_empty() {
                // The best snippet alone is over budget: keep its beginning.
                clip(text, room)
            } else {
                continue;
            };
            used += text.chars().count();
            picked.push((doc.name.clone(), text));
        }
        picked
    }

    fn knowledge_section(&self, input: &BrainInput) -> String {
        let snippets = self.relevant_knowledge(input);
        if snippets.is_empty() {
            return "Knowledge: nothing in the knowledge base matches this conversation.".into();
        }
        let mut out = String::from("Knowledge (the entries most relevant to this conversation):");
        for (name, text) in snippets {
            out.push_str(&format!("\n[{name}] {text}"));
        }
        out
    }
}

fn customer_section(input: &BrainInput) -> String {
    let name = input
        .customer
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("(name unknown)");
    let channel = if input.channel.trim().is_empty() {
        "an unknown channel"
    } else {
        input.channel.trim()
    };
    let mut out = format!("The customer: {name}, writing on the {channel} channel.");
    if let Some(subject) = input
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        out.push_str(&format!(" Ticket subject: \"{subject}\"."));
    }
    out
}

/// The customer's orders as facts (normalized fields only, never addresses or payment), with
/// the rule that keeps the model to them.
fn orders_section(orders: &[Order]) -> String {
    format!(
        "{}\nAbout orders, use only these facts: never guess a status, date, carrier or tracking \
         number. If the customer asks about an order that is not listed here, do not describe \
         any order: call handoff_to_human.",
        order_facts(orders, orders.len())
    )
}

/// The history as chat messages: the customer as `user`, the AI as `assistant`. Consecutive
/// messages of one role (a burst) are joined into one, since several chat templates (served by
/// vLLM, llama.cpp, Ollama) reject two `user` messages in a row.
pub fn history_messages(history: &[HistoryEntry]) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::new();
    for entry in history {
        let role = match entry.role {
            Role::Customer => "user",
            Role::Ai => "assistant",
        };
        let text = entry.text.trim();
        let text = if text.is_empty() {
            "(no text)".to_string()
        } else {
            clip(text, MAX_MESSAGE_CHARS)
        };
        match out.last_mut() {
            Some(last) if last.role == role => {
                last.content.push_str("\n\n");
                last.content.push_str(&text);
            }
            _ => out.push(ChatMessage::new(role, text)),
        }
    }
    out
}

/// Whether a model summary says more than the plain extract: anything but one short message.
pub fn needs_model_summary(history: &[HistoryEntry]) -> bool {
    match history {
        [] => false,
        [only] => only.text.trim().chars().count() > PLAIN_QUOTE_CHARS,
        _ => true,
    }
}

/// The messages asking the model for a handoff note's summary.
pub fn summary_messages(input: &BrainInput) -> Vec<ChatMessage> {
    let mut transcript = String::new();
    for entry in input.history.iter() {
        let who = match entry.role {
            Role::Customer => "Customer",
            Role::Ai => "AI",
        };
        transcript.push_str(&format!(
            "{who}: {}\n",
            clip(entry.text.trim(), MAX_MESSAGE_CHARS)
        ));
    }
    let count = transcript.chars().count();
    if count > SUMMARY_TRANSCRIPT_CHARS {
        let tail: String = transcript
            .chars()
            .skip(count - SUMMARY_TRANSCRIPT_CHARS)
            .collect();
        transcript = format!("[earlier messages left out]\n…{tail}");
    }
    vec![
        ChatMessage::new(
            "system",
            "You write handoff notes for a customer support team taking over a ticket from an AI \
             assistant. Summarise the conversation in at most four short lines: what the customer \
             wants, what the AI already told them, and what is still open. Plain text, no \
             preamble, no Markdown.",
        ),
        ChatMessage::new("user", transcript.trim_end().to_string()),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::message::Customer;

    fn topic(name: &str, desc: &str, kw: &[&str], action: TopicAction, answer: &str) -> Topic {
        Topic {
            name: name.into(),
            description: desc.into(),
            keywords: kw.iter().map(|k| k.to_string()).collect(),
            exclude: Vec::new(),
            action,
            answer: answer.into(),
            answers: Default::default(),
            answer_no_order: String::new(),
            answers_no_order: Default::default(),
        }
    }

    /// The three example topics of the shipped config.toml.
    pub fn example_topics() -> Vec<Topic> {
        vec![
            topic(
                "order-status",
                "Where an order is, tracking, delivery times",
                &["where is my order", "tracking", "shipped", "delivery", "arrive"],
                TopicAction::Handle,
                "Thanks for reaching out! Your order ships within 2 business days, and you'll find the tracking link in your shipping confirmation email. Delivery usually takes 3 to 5 business days after that.",
            ),
            topic(
                "returns",
                "Returning or exchanging an item, the return window",
                &["return", "exchange", "send it back", "wrong size"],
                TopicAction::Handle,
                "You can return or exchange any unworn item within 30 days of delivery. Start from the Returns page of your account and we'll email you a prepaid label.",
            ),
            topic(
                "refunds",
                "Refunds, chargebacks, billing disputes",
                &["refund", "money back", "chargeback", "charged twice"],
                TopicAction::Skip,
                "",
            ),
        ]
    }

    fn entry(role: Role, text: &str) -> HistoryEntry {
        HistoryEntry {
            role,
            text: text.into(),
            message_id: None,
            external_id: None,
            at: 0,
        }
    }

    pub fn input(history: &[(Role, &str)], unanswered: usize) -> BrainInput {
        BrainInput {
            ticket_id: 100000001,
            channel: "email".into(),
            customer: Customer {
                id: Some(700001),
                email: "jane@customer.example".into(),
                name: Some("Jane Doe".into()),
            },
            subject: Some("Order status".into()),
            language: None,
            history: history.iter().map(|(r, t)| entry(*r, t)).collect(),
            unanswered,
            ai_replies: history.iter().filter(|(r, _)| *r == Role::Ai).count() as u32,
            orders: None,
            analysis: Default::default(),
        }
    }

    fn builder(system_prompt: &str) -> PromptBuilder {
        let topics = example_topics();
        let index = KnowledgeIndex::build(&topics, None).unwrap();
        PromptBuilder::new(system_prompt, "AI Assistant", &topics, index)
    }

    #[test]
    fn the_system_message_has_persona_rules_topics_customer_and_knowledge() {
        let i = input(&[(Role::Customer, "Hi, where is my order #1234?")], 1);
        let system = builder("").system_message(&i);
        assert!(system.starts_with("You are AI Assistant, the customer support assistant"));
        assert!(system.contains("handoff_to_human"));
        assert!(system.contains(
            "- order-status: Where an order is, tracking, delivery times (keywords: where is my order, tracking, shipped, delivery, arrive). Answer it."
        ));
        assert!(system.contains("- refunds: Refunds, chargebacks, billing disputes"));
        assert!(system.contains("Hand off: call handoff_to_human, never answer it yourself."));
        assert!(system.contains(
            "The customer: Jane Doe, writing on the email channel. Ticket subject: \"Order status\"."
        ));
        assert!(system.contains("[order-status] Thanks for reaching out! Your order ships"));
        // The customer's email address is not sent to the model.
        assert!(!system.contains("jane@customer.example"));
    }

    #[test]
    fn the_customers_orders_are_facts_with_the_rule_to_keep_to_them() {
        let mut i = input(&[(Role::Customer, "Where is order #1001?")], 1);
        let system = builder("").system_message(&i);
        assert!(
            !system.contains("use only these facts"),
            "no lookup, no section"
        );

        let orders = crate::domain::orders::parse_integrations(&serde_json::json!({
            "6": {"__integration_type__": "shopify", "orders": [{
                "name": "#1001", "order_number": 1001, "created_at": "2024-11-28T10:00:00-05:00",
                "financial_status": "paid", "fulfillment_status": null,
                "billing_address": {"address1": "1 Secret Street"},
                "line_items": [{"title": "Mug", "quantity": 2}]
            }]}
        }))
        .orders;
        i.orders = Some(orders);
        let system = builder("").system_message(&i);
        assert!(system.contains(r##""name":"#1001""##), "{system}");
        assert!(system.contains(r#""status":"unfulfilled""#), "{system}");
        assert!(system.contains("About orders, use only these facts"));
        assert!(
            system.contains("not listed here, do not describe any order: call handoff_to_human")
        );
        assert!(!system.contains("Secret Street"));

        i.orders = Some(Vec::new());
        let system = builder("").system_message(&i);
        assert!(system.contains("The customer has no orders on record."));
    }

    #[test]
    fn a_configured_system_prompt_replaces_the_persona_but_not_the_rules() {
        let i = input(&[(Role::Customer, "hello")], 1);
        let system = builder("You are Max from Acme. Be playful.").system_message(&i);
        assert!(system.starts_with("You are Max from Acme. Be playful.\n\n"));
        assert!(!system.contains("You are AI Assistant"));
        assert!(system.contains("Call the tool handoff_to_human"));
        assert!(system.contains("Topics and what to do with each:"));
    }

    #[test]
    fn knowledge_is_the_most_relevant_within_budget_and_never_a_skip_topic() {
        let b = builder("");
        let k = b.relevant_knowledge(&input(
            &[(Role::Customer, "I want to return these shoes, wrong size")],
            1,
        ));
        assert_eq!(k[0].0, "returns");
        let k = b.relevant_knowledge(&input(&[(Role::Customer, "refund chargeback")], 1));
        assert!(k.iter().all(|(name, _)| name != "refunds"), "{k:?}");
        let none = b.system_message(&input(&[(Role::Customer, "zzz qqq")], 1));
        assert!(none.contains("nothing in the knowledge base matches"));

        // Knowledge files: many long paragraphs stay within the budget.
        let dir = tempfile::tempdir().unwrap();
        let para = "Shipping to Canada takes two weeks and costs extra. ".repeat(20);
        let text = vec![para; 12].join("\n\n");
        std::fs::write(dir.path().join("shipping.md"), text).unwrap();
        let topics = example_topics();
        let index = KnowledgeIndex::build(&topics, Some(dir.path())).unwrap();
        let b = PromptBuilder::new("", "AI", &topics, index);
        let k = b.relevant_knowledge(&input(&[(Role::Customer, "shipping to Canada?")], 1));
        assert_eq!(k[0].0, "shipping.md");
        let total: usize = k.iter().map(|(_, t)| t.chars().count()).sum();
        assert!(total <= KNOWLEDGE_BUDGET_CHARS, "{total}");
        assert!(k.len() <= MAX_SNIPPETS);
    }

    #[test]
    fn history_maps_roles_in_order_and_joins_a_burst() {
        let i = input(
            &[
                (Role::Customer, "where is my order?"),
                (Role::Ai, "It ships tomorrow."),
                (Role::Customer, "ok"),
                (Role::Customer, "and can I change the address?"),
                (Role::Customer, "  "),
            ],
            3,
        );
        let m = builder("").messages(&i);
        let roles: Vec<&str> = m.iter().map(|m| m.role).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(m[1].content, "where is my order?");
        assert_eq!(m[2].content, "It ships tomorrow.");
        assert_eq!(
            m[3].content,
            "ok\n\nand can I change the address?\n\n(no text)"
        );
        let long = "x".repeat(MAX_MESSAGE_CHARS * 2);
        let m = history_messages(&[entry(Role::Customer, &long)]);
        assert_eq!(m[0].content.chars().count(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn summaries_are_asked_only_when_they_add_something() {
        assert!(!needs_model_summary(&[]));
        assert!(!needs_model_summary(&[entry(Role::Customer, "hi")]));
        assert!(needs_model_summary(&[entry(
            Role::Customer,
            &"long ".repeat(100)
        )]));
        assert!(needs_model_summary(&[
            entry(Role::Customer, "hi"),
            entry(Role::Ai, "hello")
        ]));
        let m = summary_messages(&input(
            &[(Role::Customer, "where is it"), (Role::Ai, "It shipped.")],
            0,
        ));
        assert_eq!(m[0].role, "system");
        assert_eq!(m[1].content, "Customer: where is it\nAI: It shipped.");
    }
}
