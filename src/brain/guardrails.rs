//! Handoff rules that never depend on a model: they run before any brain, so
//! a customer asking for a person, asking for an action the agent cannot take, complaining about
//! an item, or writing about a skipped topic is handed off even when the model is down, and
//! before any topic could answer.

use std::collections::BTreeMap;

use super::language::translation;
use super::lexicon;
use super::phrase::{first_match, Analysis, GuardList, Keyword};
use super::{BrainInput, Decision, HandoffReason};
use crate::config::{GuardrailSettings, Topic, TopicAction};

/// A skipped topic as the guardrails match it.
struct SkipTopic {
    name: String,
    keywords: Vec<Keyword>,
    exclude: Vec<Keyword>,
}

pub struct Guardrails {
    human: GuardList,
    needs_action: GuardList,
    complaint: GuardList,
    skip_topics: Vec<SkipTopic>,
    max_ai_replies: u32,
    /// `handoff.final_replies`: the final reply in the customer's language.
    final_replies: BTreeMap<String, String>,
}

impl Guardrails {
    /// The guardrails with the built-in phrase lists of `lexicon`.
    pub fn new(topics: &[Topic], max_ai_replies: u32) -> Guardrails {
        Guardrails {
            human: GuardList::new(&lexicon::all(lexicon::HUMAN)),
            needs_action: GuardList::new(&lexicon::all(lexicon::NEEDS_ACTION)),
            complaint: GuardList::new(&lexicon::all(lexicon::COMPLAINT)),
            skip_topics: topics
                .iter()
                .filter(|t| t.action == TopicAction::Skip)
                .map(|t| SkipTopic {
                    name: t.name.clone(),
                    keywords: t.keywords.iter().map(|k| Keyword::new(k)).collect(),
                    exclude: t.exclude.iter().map(|k| Keyword::new(k)).collect(),
                })
                .collect(),
            max_ai_replies,
            final_replies: BTreeMap::new(),
        }
    }

    /// Replaces the built-in phrase lists that `settings` sets (`brain.guardrails`).
    pub fn with_phrases(mut self, settings: &GuardrailSettings) -> Guardrails {
        if let Some(list) = &settings.human {
            self.human = GuardList::new(list);
        }
        if let Some(list) = &settings.needs_action {
            self.needs_action = GuardList::new(list);
        }
        if let Some(list) = &settings.complaint {
            self.complaint = GuardList::new(list);
        }
        self
    }

    /// The translations of the final reply (`handoff.final_replies`).
    pub fn with_final_replies(mut self, final_replies: &BTreeMap<String, String>) -> Guardrails {
        self.final_replies = final_replies.clone();
        self
    }

    /// A handoff decision when a rule fires, `None` to let the brain decide.
    pub fn check(&self, input: &BrainInput) -> Option<Decision> {
        let analysis = input.analysis();
        let (reason, detail) = self.rule(input, analysis)?;
        Some(Decision::Handoff {
            reason,
            detail: format!("{detail}; language {}", analysis.language.describe()),
            reply: translation(&self.final_replies, &analysis.language).map(str::to_string),
            summary: None,
        })
    }

    fn rule(&self, input: &BrainInput, analysis: &Analysis) -> Option<(HandoffReason, String)> {
        if let Some(phrase) = self.human.first_match(analysis) {
            return Some((
                HandoffReason::CustomerAskedForHuman,
                format!("the customer asked for a person (\"{}\")", phrase.text),
            ));
        }
        if let Some(phrase) = self.needs_action.first_match(analysis) {
            return Some((
                HandoffReason::NeedsAction,
                format!(
                    "guardrail needs_action: the customer asks for something the agent cannot do (\"{}\")",
                    phrase.text
                ),
            ));
        }
        if let Some(phrase) = self.complaint.first_match(analysis) {
            return Some((
                HandoffReason::Complaint,
                format!(
                    "guardrail complaint: a damaged, wrong or missing item (\"{}\")",
                    phrase.text
                ),
            ));
        }
        for topic in &self.skip_topics {
            if first_match(&topic.exclude, analysis).is_some() {
                continue;
            }
            if let Some(keyword) = first_match(&topic.keywords, analysis) {
                return Some((
                    HandoffReason::SkipTopic,
                    format!(
                        "topic {:?} is handled by humans (matched \"{}\")",
                        topic.name, keyword.text
                    ),
                ));
            }
        }
        if input.ai_replies >= self.max_ai_replies {
            return Some((
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
            exclude: Vec::new(),
            action,
            answer: "answer".into(),
            answers: Default::default(),
            answer_no_order: String::new(),
            answers_no_order: Default::default(),
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
            language: None,
            history: vec![HistoryEntry {
                role: Role::Customer,
                text: text.into(),
                message_id: Some(1),
                external_id: None,
                at: 0,
            }]
            .into(),
            unanswered: 1,
            ai_replies,
            orders: None,
            analysis: Default::default(),
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

    #[test]
    fn asking_for_a_person_is_recognised_in_every_language() {
        for text in [
            "I want to talk to a manager",
            "Can I speak with a supervisor please",
            "Je voudrais parler à un conseiller",
            "Puis-je parler à quelqu'un ?",
            "Quiero hablar con una persona",
            "Ich möchte mit einem Mitarbeiter sprechen",
            "Vorrei parlare con un operatore",
            "Quero falar com um atendente",
            "Ik wil graag een medewerker spreken",
        ] {
            assert_eq!(
                reason(guardrails().check(&input(text, 0))),
                Some(HandoffReason::CustomerAskedForHuman),
                "{text}"
            );
        }
    }

    #[test]
    fn actions_the_agent_cannot_take_hand_off_in_every_language() {
        for text in [
            "cancel my order please",
            "Can I add an item to my order?",
            "Can I change my shipping address?",
            "I need to edit my order",
            "Je voudrais annuler ma commande",
            "Puis-je modifier l'adresse de livraison ?",
            "Quiero cancelar mi pedido",
            "¿Puedo cambiar la dirección de envío?",
            "Ich möchte meine Bestellung stornieren",
            "Kann ich die Adresse noch ändern?",
            "Vorrei annullare il mio ordine",
            "Posso alterar o endereço de entrega?",
            "Ik wil mijn bestelling annuleren",
        ] {
            assert_eq!(
                reason(guardrails().check(&input(text, 0))),
                Some(HandoffReason::NeedsAction),
                "{text}"
            );
        }
    }

    #[test]
    fn complaints_about_an_item_hand_off_in_every_language() {
        for text in [
            "My order arrived damaged",
            "You sent me the wrong item",
            "Le colis est arrivé abîmé",
            "El producto llegó roto",
            "Die Tasse ist kaputt angekommen",
            "Il prodotto è arrivato danneggiato",
            "O produto veio quebrado",
            "Het pakket is beschadigd aangekomen",
        ] {
            assert_eq!(
                reason(guardrails().check(&input(text, 0))),
                Some(HandoffReason::Complaint),
                "{text}"
            );
        }
        // A question with none of the words is left to the brain.
        assert_eq!(
            guardrails().check(&input("Do you ship to Canada?", 0)),
            None
        );
    }

    #[test]
    fn the_phrase_lists_can_be_replaced_or_switched_off_in_config() {
        let g = guardrails().with_phrases(&GuardrailSettings {
            human: Some(vec!["a human".into()]),
            needs_action: Some(Vec::new()),
            complaint: Some(vec!["scuffed".into()]),
        });
        assert_eq!(g.check(&input("cancel my order please", 0)), None);
        assert_eq!(
            reason(g.check(&input("the box came scuffed", 0))),
            Some(HandoffReason::Complaint)
        );
        assert_eq!(g.check(&input("I want to talk to a manager", 0)), None);
        assert_eq!(
            reason(g.check(&input("a human please", 0))),
            Some(HandoffReason::CustomerAskedForHuman)
        );
    }

    #[test]
    fn the_detail_names_the_phrase_and_the_language_and_the_reply_is_translated() {
        let mut finals = BTreeMap::new();
        finals.insert(
            "fr".to_string(),
            "Un membre de l'équipe va vous répondre.".to_string(),
        );
        let g = guardrails().with_final_replies(&finals);
        match g.check(&input("Je voudrais annuler ma commande", 0)) {
            Some(Decision::Handoff { detail, reply, .. }) => {
                assert!(detail.contains("\"annul*\""), "{detail}");
                assert!(detail.contains("language fr (detected)"), "{detail}");
                assert_eq!(
                    reply.as_deref(),
                    Some("Un membre de l'équipe va vous répondre.")
                );
            }
            other => panic!("{other:?}"),
        }
        // No translation: the configured final reply (None) is used.
        match g.check(&input("cancel my order please", 0)) {
            Some(Decision::Handoff { reply, .. }) => assert_eq!(reply, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_exclude_phrase_vetoes_a_skip_topic() {
        let mut refunds = topic("refunds", &["refund"], TopicAction::Skip);
        refunds.exclude = vec!["refund policy".into()];
        let g = Guardrails::new(&[refunds], 3);
        assert_eq!(
            reason(g.check(&input("I want a refund", 0))),
            Some(HandoffReason::SkipTopic)
        );
        assert_eq!(g.check(&input("what is your refund policy?", 0)), None);
    }
}
