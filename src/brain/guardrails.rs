//! Handoff rules that never depend on a model: they run before any brain, so
//! a customer asking for a person or a skipped topic is handed off even when the model is down.

use super::text::{contains_phrase, normalize};
use super::{BrainInput, Decision, HandoffReason};
use crate::config::{Topic, TopicAction};

/// Phrases by which a customer asks for a person (matched as whole words).
const HUMAN_REQUEST_PHRASES: &[&str] = &[
    "human",
    "humans",
    "real person",
    "a person",
    "actual person",
    "live person",
    "someone real",
    "representative",
    "live agent",
    "real agent",
    "human agent",
    "an agent",
    "speak to someone",
    "talk to someone",
    "speak with someone",
    "talk with someone",
    "operator",
    "not a bot",
    "not a robot",
    "stop the bot",
];

pub struct Guardrails {
    skip_topics: Vec<Topic>,
    max_ai_replies: u32,
}

impl Guardrails {
    pub fn new(topics: &[Topic], max_ai_replies: u32) -> Guardrails {
        Guardrails {
            skip_topics: topics
                .iter()
                .filter(|t| t.action == TopicAction::Skip)
                .cloned()
                .collect(),
            max_ai_replies,
        }
    }

    /// A handoff decision when a rule fires, `None` to let the brain decide.
    pub fn check(&self, input: &BrainInput) -> Option<Decision> {
        let text = normalize(&input.new_text());
        if let Some(phrase) = asks_for_human(&text) {
            return Some(Decision::handoff(
                HandoffReason::CustomerAskedForHuman,
                format!("the customer asked for a person (\"{phrase}\")"),
            ));
        }
        for topic in &self.skip_topics {
            if let Some(keyword) = topic.keywords.iter().find(|k| contains_phrase(&text, k)) {
                return Some(Decision::handoff(
                    HandoffReason::SkipTopic,
                    format!(
                        "topic {:?} is handled by humans (matched \"{keyword}\")",
                        topic.name
                    ),
                ));
            }
        }
        if input.ai_replies >= self.max_ai_replies {
            return Some(Decision::handoff(
                HandoffReason::MaxAiReplies,
                format!(
                    "the AI already replied {} times (handoff.max_ai_replies = {})",
                    input.ai_replies, self.max_ai_replies
                ),
            ));
        }
        None
    }
}

/// The phrase by which the normalised text asks for a person, if any.
pub fn asks_for_human(normalized: &str) -> Option<&'static str> {
    HUMAN_REQUEST_PHRASES
        .iter()
        .copied()
        .find(|p| contains_phrase(normalized, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Customer;
    use crate::domain::session::{HistoryEntry, Role};

    fn topic(name: &str, keywords: &[&str], action: TopicAction) -> Topic {
        Topic {
            name: name.into(),
            description: String::new(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            action,
            answer: "answer".into(),
        }
    }

    fn input(text: &str, ai_replies: u32) -> BrainInput {
        BrainInput {
            ticket_id: 1,
            channel: "email".into(),
            customer: Customer {
                id: None,
                email: "c@x".into(),
                name: None,
            },
            subject: None,
            history: vec![HistoryEntry {
                role: Role::Customer,
                text: text.into(),
                message_id: Some(1),
                external_id: None,
                at: 0,
            }],
            unanswered: 1,
            ai_replies,
        }
    }

    fn guardrails() -> Guardrails {
        Guardrails::new(
            &[
                topic("refunds", &["refund", "money back"], TopicAction::Skip),
                topic("orders", &["where is my order"], TopicAction::Handle),
            ],
            3,
        )
    }

    fn reason(d: Option<Decision>) -> Option<HandoffReason> {
        match d {
            Some(Decision::Handoff { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn asking_for_a_human_hands_off() {
        for text in [
            "Can I talk to a human?",
            "I want a REAL PERSON now",
            "please get me a representative",
            "let me speak to someone",
        ] {
            assert_eq!(
                reason(guardrails().check(&input(text, 0))),
                Some(HandoffReason::CustomerAskedForHuman),
                "{text}"
            );
        }
        assert_eq!(
            guardrails().check(&input("humane treatment of animals", 0)),
            None
        );
    }

    #[test]
    fn skip_topic_keywords_hand_off() {
        assert_eq!(
            reason(guardrails().check(&input("I would like my money back", 0))),
            Some(HandoffReason::SkipTopic)
        );
        assert_eq!(guardrails().check(&input("where is my order", 0)), None);
    }

    #[test]
    fn max_ai_replies_hands_off() {
        assert_eq!(guardrails().check(&input("where is my order", 2)), None);
        assert_eq!(
            reason(guardrails().check(&input("where is my order", 3))),
            Some(HandoffReason::MaxAiReplies)
        );
    }
}
