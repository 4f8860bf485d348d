//! Brains decide a turn: reply with a text, or hand the ticket to a human with a reason.
//!
//! `guardrails` holds the checks that never depend on a model (they run first for every brain);
//! `knowledge` is the embedded knowledge-base brain; `openai` the OpenAI-compatible one, with
//! its prompt in `prompt`; `text` is the shared tokenizer, `language` the customer's language,
//! `phrase` how phrases match a message and `lexicon` the built-in word lists; `orders` fills an
//! answer with the customer's order.

pub mod guardrails;
pub mod knowledge;
pub mod language;
pub mod lexicon;
pub mod openai;
pub mod orders;
pub mod phrase;
pub mod prompt;
pub mod text;

use std::rc::Rc;
use std::sync::OnceLock;

use futures_util::future::LocalBoxFuture;

use crate::domain::message::Customer;
use crate::domain::orders::Order;
pub use crate::domain::outcome::HandoffReason;
pub use crate::domain::plan::Decision;
use crate::domain::session::{HistoryEntry, Role};

/// Everything a brain may look at: the whole conversation and who the customer is.
#[derive(Debug, Clone)]
pub struct BrainInput {
    pub ticket_id: u64,
    pub channel: String,
    pub customer: Customer,
    pub subject: Option<String>,
    /// The ticket's `language` as Gorgias set it (`fr`), when it did.
    pub language: Option<String>,
    /// The full history, oldest first (shared: the input is cloned within a turn).
    pub history: Rc<[HistoryEntry]>,
    /// How many of the last history entries are the new, unanswered customer messages.
    pub unanswered: usize,
    pub ai_replies: u32,
    /// The customer's orders a brain may state as facts (newest first, normalized); `None`
    /// when they were not looked up for this turn (orders off, or a brain that does not ask).
    pub orders: Option<Vec<Order>>,
    /// The new messages as read by [`BrainInput::analysis`], once per turn: the guardrails and
    /// the knowledge base both read them. Build with `Default::default()`.
    pub analysis: OnceLock<phrase::Analysis>,
}

impl BrainInput {
    /// The customer messages this turn answers, joined.
    pub fn new_text(&self) -> String {
        let start = self.history.len().saturating_sub(self.unanswered);
        self.history[start..]
            .iter()
            .map(|e| &*e.text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The new messages read in the conversation's language: the ticket's when Gorgias set one,
    /// else the one detected from all the customer's messages.
    pub fn analysis(&self) -> &phrase::Analysis {
        self.analysis.get_or_init(|| {
            let language =
                language::Language::resolve(self.language.as_deref(), &self.customer_text());
            phrase::Analysis::in_language(&self.new_text(), language)
        })
    }

    /// Every customer message of the conversation, joined: what its language is told from.
    pub fn customer_text(&self) -> String {
        self.history
            .iter()
            .filter(|e| e.role == Role::Customer)
            .map(|e| &*e.text)
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
    /// Whether the brain wants the customer's orders in its input before it decides (a model
    /// states them as facts). Others get order data only where their answer asks for it.
    fn wants_orders(&self) -> bool {
        false
    }
    /// What to say instead of `answer` (a reply this brain gave, with its placeholders) when it
    /// needs order data the customer does not have; `None`: hand off.
    fn answer_without_order(&self, _answer: &str) -> Option<String> {
        None
    }
    /// A few lines for the handoff note about `input`'s conversation; `None` (the default, and
    /// on any failure) leaves the plain extract.
    fn summarize(&self, _input: &BrainInput) -> LocalBoxFuture<'static, Option<String>> {
        Box::pin(futures_util::future::ready(None))
    }
}
