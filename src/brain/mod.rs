//! Brains decide a turn: reply with a text, or hand the ticket to a human with a reason.
//!
//! `guardrails` holds the checks that never depend on a model (they run first for every brain);
//! `knowledge` is the embedded knowledge-base brain; `openai` the OpenAI-compatible one, with
//! its prompt in `prompt`; `text` is the shared tokenizer, `language` the customer's language,
//! `phrase` how phrases match a message and `lexicon` the built-in word lists.

pub mod guardrails;
pub mod knowledge;
pub mod language;
pub mod lexicon;
pub mod openai;
pub mod phrase;
pub mod prompt;
pub mod text;

use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

use crate::filter::Customer;
use crate::tickets::session::{HistoryEntry, Role};

/// Why the AI hands a ticket to a human; `code` is what logs, decisions and metrics carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The customer asked for a person.
    CustomerAskedForHuman,
    /// The message is about a topic Autopilot leaves to humans.
    SkipTopic,
    /// Nothing in the knowledge matches well enough.
    NoAnswer,
    /// The AI already replied `handoff.max_ai_replies` times.
    MaxAiReplies,
    /// The model decided (tool call).
    ModelHandoff,
    /// The AI backend kept failing.
    AiUnavailable,
    /// Gorgias refused a reply permanently.
    DeliveryFailed,
    /// The customer asks for something the agent cannot do (cancel, change, add, edit).
    NeedsAction,
    /// The customer complains about a damaged, wrong or missing item.
    Complaint,
}

impl HandoffReason {
    pub fn code(self) -> &'static str {
        match self {
            HandoffReason::CustomerAskedForHuman => "customer_asked_for_human",
            HandoffReason::SkipTopic => "skip_topic",
            HandoffReason::NoAnswer => "no_answer",
            HandoffReason::MaxAiReplies => "max_ai_replies",
            HandoffReason::ModelHandoff => "model_handoff",
            HandoffReason::AiUnavailable => "ai_unavailable",
            HandoffReason::DeliveryFailed => "delivery_failed",
            HandoffReason::NeedsAction => "needs_action",
            HandoffReason::Complaint => "complaint",
        }
    }
}

/// What a brain decided for the unanswered messages of a ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Answer the customer with this text. `reason` says why (e.g. the matched topic).
    Reply { text: String, reason: String },
    /// Hand the ticket to a human.
    Handoff {
        reason: HandoffReason,
        /// The rule's or the model's own words, for the note and the logs.
        detail: String,
        /// The final message to the customer; `handoff.final_reply` when `None`.
        reply: Option<String>,
        /// A summary for the human; a plain extract of the conversation when `None`.
        summary: Option<String>,
    },
}

impl Decision {
    pub fn handoff(reason: HandoffReason, detail: impl Into<String>) -> Decision {
        Decision::Handoff {
            reason,
            detail: detail.into(),
            reply: None,
            summary: None,
        }
    }
}

/// Everything a brain may look at: the whole conversation and who the customer is.
#[derive(Debug, Clone)]
pub struct BrainInput {
    pub ticket_id: u64,
    pub channel: String,
    pub customer: Customer,
    pub subject: Option<String>,
    /// The ticket's `language` as Gorgias set it (`fr`), when it did.
    pub language: Option<String>,
    /// The full history, oldest first.
    pub history: Vec<HistoryEntry>,
    /// How many of the last history entries are the new, unanswered customer messages.
    pub unanswered: usize,
    pub ai_replies: u32,
}

impl BrainInput {
    /// The customer messages this turn answers, joined.
    pub fn new_text(&self) -> String {
        let start = self.history.len().saturating_sub(self.unanswered);
        self.history[start..]
            .iter()
            .map(|e| e.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The new messages read in the conversation's language: the ticket's when Gorgias set one,
    /// else the one detected from all the customer's messages.
    pub fn analysis(&self) -> phrase::Analysis {
        let language = language::Language::resolve(self.language.as_deref(), &self.customer_text());
        phrase::Analysis::in_language(&self.new_text(), language)
    }

    /// Every customer message of the conversation, joined: what its language is told from.
    pub fn customer_text(&self) -> String {
        self.history
            .iter()
            .filter(|e| e.role == Role::Customer)
            .map(|e| e.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum BrainError {
    #[error("the AI backend is unavailable: {0}")]
    Unavailable(String),
}

/// A pluggable decision maker. Futures are local: brains live on the actors' arbiter.
pub trait Brain {
    fn name(&self) -> &'static str;
    fn decide(&self, input: BrainInput) -> LocalBoxFuture<'static, Result<Decision, BrainError>>;
    /// A few lines for the handoff note about `input`'s conversation; `None` (the default, and
    /// on any failure) leaves the plain extract.
    fn summarize(&self, _input: &BrainInput) -> LocalBoxFuture<'static, Option<String>> {
        Box::pin(futures_util::future::ready(None))
    }
}
