//! One ticket's session, as a pure value: the conversation in order, the Active → HandedOff state
//! machine, the decisions taken (for operators), and the outbox of Gorgias actions still to do.
//!
//! The outbox lives inside the session so that a decision and the actions it implies are stored
//! in one atomic write: after a crash either both exist or neither does.

use std::collections::VecDeque;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::message::{Address, Customer, CustomerMessage, EXTERNAL_ID_PREFIX};
use super::orders::Order;
use super::outcome::{ActionName, DecisionOutcome, DecisionReason, IgnoreReason};
use crate::text::clip;

/// How many decisions a session keeps (oldest dropped first).
pub const MAX_DECISIONS: usize = 200;
/// How many permanently failed actions a session keeps for operators.
pub const MAX_FAILED: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Ai,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub role: Role,
    pub text: std::sync::Arc<str>,
    /// Gorgias message id: the customer's message, or the AI's once Gorgias confirmed the post.
    pub message_id: Option<u64>,
    /// For AI messages: the `external_id` the post carries (shared, like the text: a turn
    /// copies the session it works on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<std::sync::Arc<str>>,
    /// Unix seconds.
    pub at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Active,
    HandedOff,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the session is already handed off")]
    AlreadyHandedOff,
    #[error("the session is not handed off")]
    NotHandedOff,
}

/// A decision taken on the ticket, kept for the admin API and the on-call engineer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub at: u64,
    pub outcome: DecisionOutcome,
    /// The code of the `DecisionReason`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_ids: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The customer's order the decision was about (normalized fields only), for operators.
    /// Boxed: most decisions have none, and a session's decisions are copied with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Box<Order>>,
}

/// Where and to whom a public reply goes; taken from the customer message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTarget {
    pub channel: String,
    pub customer: Customer,
    pub customer_address: Address,
    pub support_address: Option<Address>,
    pub subject: Option<String>,
}

impl ReplyTarget {
    pub fn from_message(m: &CustomerMessage) -> ReplyTarget {
        ReplyTarget {
            channel: m.channel.clone(),
            customer: m.customer.clone(),
            customer_address: m.customer_address.clone(),
            support_address: m.support_address.clone(),
            subject: m.subject.clone(),
        }
    }
}

/// A Gorgias action the session owes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionKind {
    /// A public reply to the customer.
    Reply { target: ReplyTarget, text: String },
    /// An internal note for the team.
    Note { text: String },
    /// Reassign the ticket (each part only where configured).
    Reassign {
        user_id: Option<u64>,
        team_id: Option<u64>,
    },
    /// Add these tags to the ticket's own (never replacing them); repeating it is harmless.
    AddTags { names: Vec<String> },
    /// Set the ticket's status to closed; repeating it is harmless.
    Close,
}

impl ActionKind {
    pub fn name(&self) -> ActionName {
        match self {
            ActionKind::Reply { .. } => ActionName::Reply,
            ActionKind::Note { .. } => ActionName::Note,
            ActionKind::Reassign { .. } => ActionName::Reassign,
            ActionKind::AddTags { .. } => ActionName::AddTags,
            ActionKind::Close => ActionName::Close,
        }
    }
}

/// An action in the outbox with its delivery bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundAction {
    pub seq: u64,
    /// Unique per action; carried by posted messages so a retry can find an earlier post.
    pub external_id: String,
    pub kind: ActionKind,
    pub attempts: u32,
    /// When the first failed attempt happened (unix seconds): retries stop after a deadline.
    pub first_failure_at: Option<u64>,
    /// A post may have reached Gorgias (timeout, reset, crash): look before posting again.
    pub maybe_sent: bool,
    pub last_error: Option<String>,
}

/// An action given up on, kept for operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAction {
    pub action: OutboundAction,
    pub error: String,
    pub at: u64,
}

/// The result of offering a customer message to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// New message, waiting for an answer.
    New,
    /// Already in the history (redelivery after a crash): nothing to do.
    Known,
    /// Recorded, but the ticket is with a human: it will not be answered.
    WhileHandedOff,
}

/// A session to store: the index entries its state implies, and which of its pieces (history
/// entries, decisions) storage must write, so a commit writes what changed, not the whole
/// conversation again.
#[derive(Debug, Clone)]
pub struct SessionChange<'a> {
    pub session: &'a Session,
    /// Unfinished work: recovered at startup.
    pub pending: bool,
    /// Handed off since then: intake ignores the ticket's messages.
    pub handed_off_at: Option<u64>,
    /// The stored copy's pending entry already says `pending`: storage leaves it as it is.
    pub pending_unchanged: bool,
    /// The stored copy's handoff entry already says `handed_off_at`: storage leaves it.
    pub handoff_unchanged: bool,
    pub pieces: Pieces,
}

/// Which history entries and decisions a commit writes besides the session's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pieces {
    /// All of them, replacing whatever is stored: the stored copy is not known to be the
    /// session's previous state (a new session, or one whose last commit may have failed).
    All,
    /// The steps since the stored copy.
    Since {
        /// History indexes to write: the new entries and those changed in place (a posted
        /// reply's Gorgias id).
        history: Vec<usize>,
        /// History indexes the stored copy has and the session no longer does.
        history_gone: Range<usize>,
        /// Decision sequence numbers to write (see [`Stored::decisions_dropped`]).
        decisions: Vec<u64>,
        /// Decisions dropped off the front of the capped list since the stored copy.
        decisions_dropped: Range<u64>,
    },
}

/// What a session knows about its stored copy; never serialized, not part of the conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    /// Decisions dropped off the front so far: the sequence number of `decisions[0]`, which
    /// keeps the decisions' storage keys stable while the list is capped.
    pub decisions_dropped: u64,
    /// What is stored is not known to be this state's pieces (a commit of it failed and may
    /// still have landed, or it was read from a layout without pieces): the next commit writes
    /// every piece.
    pub in_doubt: bool,
    /// The stored pieces are this state's, in a layout before the current one: the next commit
    /// writes every piece in the current layout (and storage removes the old ones).
    pub layout_before: bool,
}

impl Stored {
    /// What is stored is this state, in the current layout: a commit of it landed.
    pub fn committed(&mut self) {
        self.in_doubt = false;
        self.layout_before = false;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub ticket_id: u64,
    pub state: SessionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_off_at: Option<u64>,
    pub history: Vec<HistoryEntry>,
    /// Customer messages before this index are answered (or were handled by a handoff).
    pub answered_upto: usize,
    /// AI replies before this history index do not count towards `handoff.max_ai_replies`:
    /// an operator's resume starts the count again.
    #[serde(default)]
    pub replies_counted_from: usize,
    /// Where the next reply goes: the latest customer message's channel and addresses.
    pub target: Option<ReplyTarget>,
    /// The ticket's language as Gorgias last set it, for the brain; older sessions have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub decisions: VecDeque<DecisionRecord>,
    pub outbox: VecDeque<OutboundAction>,
    pub failed: VecDeque<FailedAction>,
    pub next_action_seq: u64,
    #[serde(skip)]
    pub stored: Stored,
}

impl Session {
    pub fn new(ticket_id: u64) -> Session {
        Session {
            ticket_id,
            state: SessionState::Active,
            handed_off_at: None,
            history: Vec::new(),
            answered_upto: 0,
            replies_counted_from: 0,
            target: None,
            language: None,
            decisions: VecDeque::new(),
            outbox: VecDeque::new(),
            failed: VecDeque::new(),
            next_action_seq: 1,
            stored: Stored::default(),
        }
    }

    pub fn is_handed_off(&self) -> bool {
        self.state == SessionState::HandedOff
    }

    pub fn handed_off_at(&self) -> Option<u64> {
        self.handed_off_at.filter(|_| self.is_handed_off())
    }

    /// Takes a customer message into the history, once (idempotent by Gorgias message id).
    pub fn accept(&mut self, message: &CustomerMessage, now: u64) -> Accepted {
        let known = self
            .history
            .iter()
            .any(|e| e.role == Role::Customer && e.message_id == Some(message.message_id));
        if known {
            return Accepted::Known;
        }
        self.history.push(HistoryEntry {
            role: Role::Customer,
            text: message.text.as_str().into(),
            message_id: Some(message.message_id),
            external_id: None,
            at: now,
        });
        self.target = Some(ReplyTarget::from_message(message));
        if message.language.is_some() {
            self.language = message.language.clone();
        }
        if self.is_handed_off() {
            self.answered_upto = self.history.len();
            self.record(
                now,
                DecisionOutcome::Ignored,
                DecisionReason::Ignored(IgnoreReason::HandedOff),
                vec![message.message_id],
                None,
            );
            Accepted::WhileHandedOff
        } else {
            Accepted::New
        }
    }

    /// Customer messages still waiting for an answer (none once handed off).
    pub fn unanswered(&self) -> Vec<&HistoryEntry> {
        if self.is_handed_off() {
            return Vec::new();
        }
        self.history
            .iter()
            .skip(self.answered_upto)
            .filter(|e| e.role == Role::Customer)
            .collect()
    }

    /// How many replies the AI has given on this ticket since it last took it (creation or resume).
    pub fn ai_reply_count(&self) -> u32 {
        self.history
            .iter()
            .skip(self.replies_counted_from)
            .filter(|e| e.role == Role::Ai)
            .count() as u32
    }

    /// Records an AI message answering everything unanswered so far.
    pub fn record_ai_message(&mut self, text: &str, external_id: &str, now: u64) {
        self.history.push(HistoryEntry {
            role: Role::Ai,
            text: text.into(),
            message_id: None,
            external_id: Some(external_id.into()),
            at: now,
        });
        self.answered_upto = self.history.len();
    }

    /// Active → HandedOff.
    pub fn hand_off(&mut self, now: u64) -> Result<(), StateError> {
        if self.is_handed_off() {
            return Err(StateError::AlreadyHandedOff);
        }
        self.state = SessionState::HandedOff;
        self.handed_off_at = Some(now);
        self.answered_upto = self.history.len();
        Ok(())
    }

    /// HandedOff → Active, by an explicit operator action.
    pub fn resume(&mut self, now: u64, by: &str) -> Result<(), StateError> {
        if !self.is_handed_off() {
            return Err(StateError::NotHandedOff);
        }
        self.state = SessionState::Active;
        self.handed_off_at = None;
        self.answered_upto = self.history.len();
        self.replies_counted_from = self.history.len();
        self.record(
            now,
            DecisionOutcome::Resumed,
            DecisionReason::Operator,
            Vec::new(),
            Some(format!("by {by}")),
        );
        Ok(())
    }

    pub fn record(
        &mut self,
        at: u64,
        outcome: DecisionOutcome,
        reason: DecisionReason,
        message_ids: Vec<u64>,
        detail: Option<String>,
    ) {
        self.decisions.push_back(DecisionRecord {
            at,
            outcome,
            reason: reason.code().to_string(),
            message_ids,
            detail,
            order: None,
        });
        while self.decisions.len() > MAX_DECISIONS {
            self.decisions.pop_front();
            self.stored.decisions_dropped += 1;
        }
    }

    /// Names the order the latest decision was about.
    pub fn attach_order(&mut self, order: Order) {
        if let Some(last) = self.decisions.back_mut() {
            last.order = Some(Box::new(order));
        }
    }

    /// The `external_id` the next action will carry.
    pub fn next_external_id(&self) -> String {
        format!(
            "{EXTERNAL_ID_PREFIX}{}:{}",
            self.ticket_id, self.next_action_seq
        )
    }

    /// Appends actions to the outbox, in order; returns their external ids.
    pub fn enqueue(&mut self, kinds: Vec<ActionKind>) -> Vec<String> {
        kinds
            .into_iter()
            .map(|kind| {
                let external_id = self.next_external_id();
                self.outbox.push_back(OutboundAction {
                    seq: self.next_action_seq,
                    external_id: external_id.clone(),
                    kind,
                    attempts: 0,
                    first_failure_at: None,
                    maybe_sent: false,
                    last_error: None,
                });
                self.next_action_seq += 1;
                external_id
            })
            .collect()
    }

    /// The head action is done; a posted message's Gorgias id is kept in the history.
    pub fn complete_head(&mut self, posted_message_id: Option<u64>) -> Option<OutboundAction> {
        let done = self.outbox.pop_front()?;
        if let Some(id) = posted_message_id {
            if let Some(entry) = self
                .history
                .iter_mut()
                .find(|e| e.external_id.as_deref() == Some(done.external_id.as_str()))
            {
                entry.message_id = Some(id);
            }
        }
        Some(done)
    }

    /// The head action is given up on.
    pub fn fail_head(&mut self, error: String, now: u64) -> Option<OutboundAction> {
        let failed = self.outbox.pop_front()?;
        self.failed.push_back(FailedAction {
            action: failed.clone(),
            error,
            at: now,
        });
        while self.failed.len() > MAX_FAILED {
            self.failed.pop_front();
        }
        Some(failed)
    }

    /// Whether anything is owed: unanswered messages or undelivered actions.
    /// When anything last happened on the session (unix seconds): a message, a decision, a
    /// handoff; what retention measures idleness from.
    pub fn last_activity(&self) -> u64 {
        let message = self.history.iter().map(|e| e.at).max();
        let decision = self.decisions.iter().map(|d| d.at).max();
        message
            .into_iter()
            .chain(decision)
            .chain(self.handed_off_at)
            .max()
            .unwrap_or(0)
    }

    /// Retention: idle for at least `retention_secs` at `now`, and nothing still owed.
    pub fn is_expired(&self, now: u64, retention_secs: u64) -> bool {
        !self.has_pending_work() && now.saturating_sub(self.last_activity()) >= retention_secs
    }

    pub fn has_pending_work(&self) -> bool {
        !self.outbox.is_empty() || !self.unanswered().is_empty()
    }

    /// What storage must write for this session, whatever is stored now: every piece, and the
    /// indexes its state implies.
    pub fn change(&self) -> SessionChange<'_> {
        SessionChange {
            session: self,
            pending: self.has_pending_work(),
            handed_off_at: self.handed_off_at(),
            pending_unchanged: false,
            handoff_unchanged: false,
            pieces: Pieces::All,
        }
    }

    /// What storage must write for this session when it holds `before`: the head, and only the
    /// pieces that differ.
    pub fn change_from(&self, before: &Session) -> SessionChange<'_> {
        let mut change = self.change();
        if !before.stored.in_doubt {
            change.pending_unchanged = before.has_pending_work() == change.pending;
            change.handoff_unchanged = before.handed_off_at() == change.handed_off_at;
            // Pieces stored in an earlier layout are all written again, in this one.
            let pieces = (!before.stored.layout_before)
                .then(|| self.pieces_since(before))
                .flatten();
            if let Some(pieces) = pieces {
                change.pieces = pieces;
            }
        }
        change
    }

    /// The pieces that differ from `before`'s; `None` when the decisions do not line up (a list
    /// changed other than by appending and dropping off the front): then all are written.
    fn pieces_since(&self, before: &Session) -> Option<Pieces> {
        let history = (0..self.history.len())
            .filter(|&i| before.history.get(i) != Some(&self.history[i]))
            .collect();
        let history_gone = self.history.len()..before.history.len().max(self.history.len());
        let (was, now) = (
            before.stored.decisions_dropped,
            self.stored.decisions_dropped,
        );
        let dropped = now.checked_sub(was)?;
        let kept = before.decisions.iter().skip(dropped as usize);
        // Kept decisions may change in place (the order named after the decision), so each one
        // is compared; the ones past the end of the kept list are new.
        let mut decisions = Vec::new();
        let mut kept_len = 0;
        for (i, old) in kept.enumerate() {
            let new = self.decisions.get(i)?;
            if new != old {
                decisions.push(now + i as u64);
            }
            kept_len += 1;
        }
        decisions.extend((kept_len..self.decisions.len()).map(|i| now + i as u64));
        Some(Pieces::Since {
            history,
            history_gone,
            decisions,
            decisions_dropped: was..now,
        })
    }

    /// A plain extract for the human picking the ticket up: first and last customer message.
    pub fn plain_summary(&self) -> String {
        let customer: Vec<&HistoryEntry> = self
            .history
            .iter()
            .filter(|e| e.role == Role::Customer)
            .collect();
        // 300 characters of the customer's words, then the ellipsis.
        let quote = |s: &str| clip(&s.trim().replace('\n', " "), 301);
        match (customer.first(), customer.last()) {
            (Some(first), Some(last)) if customer.len() > 1 => format!(
                "Customer first wrote: \"{}\"\nCustomer last wrote: \"{}\"\n({} customer messages, {} AI replies)",
                quote(&first.text),
                quote(&last.text),
                customer.len(),
                self.ai_reply_count()
            ),
            (Some(only), _) => format!("Customer wrote: \"{}\"", quote(&only.text)),
            _ => "No customer message recorded.".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u64, text: &str) -> CustomerMessage {
        CustomerMessage::sample(1, id, text)
    }

    #[test]
    fn a_session_expires_only_when_idle_long_enough_and_owing_nothing() {
        let mut s = Session::new(1);
        s.accept(&message(10, "hi"), 1_000);
        // An unanswered message is work owed, however old.
        assert!(!s.is_expired(1_000_000, 100));
        s.answered_upto = s.history.len();
        assert_eq!(s.last_activity(), 1_000);
        assert!(!s.is_expired(1_099, 100));
        assert!(s.is_expired(1_100, 100));
        s.enqueue(vec![ActionKind::Note { text: "n".into() }]);
        assert!(!s.is_expired(1_000_000, 100));
    }

    #[test]
    fn accepting_is_idempotent_by_message_id() {
        let mut s = Session::new(1);
        assert_eq!(s.accept(&message(10, "hi"), 1), Accepted::New);
        assert_eq!(s.accept(&message(10, "hi"), 2), Accepted::Known);
        assert_eq!(s.accept(&message(11, "hi"), 3), Accepted::New);
        assert_eq!(s.history.len(), 2);
        assert_eq!(s.unanswered().len(), 2);
    }

    #[test]
    fn an_ai_message_answers_everything_before_it() {
        let mut s = Session::new(1);
        s.accept(&message(10, "hi"), 1);
        s.accept(&message(11, "where is my order"), 1);
        s.record_ai_message("It shipped.", "x:1", 2);
        assert!(s.unanswered().is_empty());
        assert_eq!(s.ai_reply_count(), 1);
        s.accept(&message(12, "thanks"), 3);
        let open: Vec<_> = s.unanswered().iter().map(|e| e.message_id).collect();
        assert_eq!(open, vec![Some(12)]);
        let roles: Vec<_> = s.history.iter().map(|e| e.role).collect();
        assert_eq!(
            roles,
            [Role::Customer, Role::Customer, Role::Ai, Role::Customer]
        );
    }

    #[test]
    fn state_machine_active_handed_off_and_resume() {
        let mut s = Session::new(1);
        assert_eq!(s.state, SessionState::Active);
        assert_eq!(s.resume(1, "op"), Err(StateError::NotHandedOff));
        s.hand_off(5).unwrap();
        assert_eq!(s.handed_off_at(), Some(5));
        assert_eq!(s.hand_off(6), Err(StateError::AlreadyHandedOff));
        s.resume(7, "op").unwrap();
        assert_eq!(s.state, SessionState::Active);
        assert_eq!(s.handed_off_at(), None);
        assert_eq!(s.decisions.back().unwrap().outcome, "resumed");
    }

    #[test]
    fn messages_after_handoff_are_recorded_but_never_unanswered() {
        let mut s = Session::new(1);
        s.accept(&message(10, "help"), 1);
        s.hand_off(2).unwrap();
        assert_eq!(
            s.accept(&message(11, "hello?"), 3),
            Accepted::WhileHandedOff
        );
        assert!(s.unanswered().is_empty());
        assert!(!s.has_pending_work());
        assert_eq!(s.decisions.back().unwrap().reason, "handed_off");
        // Resuming does not answer what arrived while a human had the ticket.
        s.resume(4, "op").unwrap();
        assert!(s.unanswered().is_empty());
        s.accept(&message(12, "again"), 5);
        assert_eq!(s.unanswered().len(), 1);
    }

    #[test]
    fn a_resume_starts_the_ai_reply_count_again() {
        let mut s = Session::new(1);
        for i in 0..3 {
            s.accept(&message(10 + i, "q"), 1);
            s.record_ai_message("a", "x", 2);
        }
        assert_eq!(s.ai_reply_count(), 3);
        s.hand_off(3).unwrap();
        s.resume(4, "op").unwrap();
        assert_eq!(s.ai_reply_count(), 0);
        s.accept(&message(20, "again"), 5);
        s.record_ai_message("b", "y", 6);
        assert_eq!(s.ai_reply_count(), 1);
        assert_eq!(s.history.len(), 8, "the whole history is kept");
    }

    #[test]
    fn outbox_orders_actions_with_unique_external_ids() {
        let mut s = Session::new(42);
        s.accept(&message(10, "hi"), 1);
        let ids = s.enqueue(vec![
            ActionKind::Note { text: "a".into() },
            ActionKind::Reassign {
                user_id: Some(1),
                team_id: None,
            },
        ]);
        assert_eq!(ids, vec!["gorgias-agent:42:1", "gorgias-agent:42:2"]);
        assert!(s.has_pending_work());
        assert_eq!(s.complete_head(None).unwrap().seq, 1);
        assert_eq!(s.fail_head("400".into(), 3).unwrap().seq, 2);
        assert!(s.outbox.is_empty());
        assert_eq!(s.failed.len(), 1);
    }

    #[test]
    fn completing_a_post_records_its_gorgias_id_on_the_ai_message() {
        let mut s = Session::new(1);
        s.accept(&message(10, "hi"), 1);
        let ext = s.next_external_id();
        s.record_ai_message("hello", &ext, 2);
        s.enqueue(vec![ActionKind::Note { text: "x".into() }]);
        s.complete_head(Some(999));
        assert_eq!(s.history.last().unwrap().message_id, Some(999));
    }

    #[test]
    fn the_change_to_store_carries_the_indexes_its_state_implies() {
        let mut s = Session::new(1);
        let c = s.change();
        assert!(!c.pending);
        assert_eq!(c.handed_off_at, None);
        s.accept(&message(10, "hi"), 1);
        assert!(s.change().pending, "an unanswered message is pending work");
        s.hand_off(5).unwrap();
        let c = s.change();
        assert!(!c.pending);
        assert_eq!(c.handed_off_at, Some(5));
        s.enqueue(vec![ActionKind::Note { text: "n".into() }]);
        assert!(s.change().pending, "an undelivered action is pending work");
    }

    #[test]
    fn a_step_names_only_the_pieces_it_appended_or_changed() {
        let mut before = Session::new(1);
        for i in 0..50 {
            before.accept(&message(10 + i, "q"), 1);
            let ext = before.next_external_id();
            before.record_ai_message("a", &ext, 2);
            before.enqueue(vec![ActionKind::Note { text: "n".into() }]);
            before.complete_head(None);
        }
        before.stored.decisions_dropped = 7;
        before.record(
            3,
            DecisionOutcome::Replied,
            DecisionReason::Answered,
            vec![],
            None,
        );
        let mut next = before.clone();
        next.accept(&message(99, "one more"), 4);
        let ext = next.next_external_id();
        next.record_ai_message("answer", &ext, 5);
        next.record(
            5,
            DecisionOutcome::Replied,
            DecisionReason::Answered,
            vec![99],
            None,
        );
        // The reply posted: its Gorgias id lands on an entry already stored.
        next.enqueue(vec![ActionKind::Note { text: "n".into() }]);
        next.history[99].message_id = Some(4242);
        let change = next.change_from(&before);
        assert_eq!(
            change.pieces,
            Pieces::Since {
                history: vec![99, 100, 101],
                history_gone: 102..102,
                decisions: vec![8],
                decisions_dropped: 7..7,
            }
        );
        assert!(change.pending);
        assert!(!change.pending_unchanged, "the new reply is owed");
        assert!(change.handoff_unchanged);
        let mut later = next.clone();
        later.enqueue(vec![ActionKind::Close]);
        later.hand_off(6).unwrap();
        let change = later.change_from(&next);
        assert!(change.pending_unchanged && !change.handoff_unchanged);
        // Without a known stored copy, everything is written.
        assert!(!next.change().pending_unchanged && !next.change().handoff_unchanged);
        assert_eq!(next.change().pieces, Pieces::All);
    }

    #[test]
    fn decisions_dropped_off_the_capped_front_are_named_by_sequence() {
        let mut before = Session::new(1);
        for i in 0..MAX_DECISIONS as u64 {
            before.record(
                i,
                DecisionOutcome::Ignored,
                DecisionReason::Operator,
                vec![],
                None,
            );
        }
        assert_eq!(before.stored.decisions_dropped, 0);
        let mut next = before.clone();
        for i in 0..3 {
            next.record(
                500 + i,
                DecisionOutcome::Ignored,
                DecisionReason::Operator,
                vec![],
                None,
            );
        }
        assert_eq!(next.stored.decisions_dropped, 3);
        let Pieces::Since {
            decisions,
            decisions_dropped,
            ..
        } = next.change_from(&before).pieces
        else {
            panic!("a step of appends is named piece by piece");
        };
        let top = MAX_DECISIONS as u64;
        assert_eq!(decisions, vec![top, top + 1, top + 2]);
        assert_eq!(decisions_dropped, 0..3);
    }

    #[test]
    fn a_step_that_does_not_line_up_or_follows_a_failed_commit_writes_everything() {
        let mut before = Session::new(1);
        for i in 0..3 {
            before.record(
                i,
                DecisionOutcome::Ignored,
                DecisionReason::Operator,
                vec![],
                None,
            );
        }
        // Dropped from the front without being counted: the sequence numbers no longer say
        // which stored decision is which.
        let mut next = before.clone();
        next.decisions.pop_front();
        assert_eq!(next.change_from(&before).pieces, Pieces::All);
        let mut next = before.clone();
        next.record(
            9,
            DecisionOutcome::Ignored,
            DecisionReason::Operator,
            vec![],
            None,
        );
        before.stored.in_doubt = true;
        assert_eq!(next.change_from(&before).pieces, Pieces::All);
    }

    #[test]
    fn a_step_from_a_session_stored_in_the_layout_before_writes_every_piece_and_then_only_its_own()
    {
        let mut before = Session::new(1);
        before.accept(&CustomerMessage::sample(1, 10, "hi"), 1);
        before.stored.layout_before = true;
        let mut next = before.clone();
        next.accept(&CustomerMessage::sample(1, 11, "again"), 2);
        let change = next.change_from(&before);
        assert_eq!(change.pieces, Pieces::All);
        // Its indexes are as stored: only the pieces' layout changes.
        assert!(change.pending_unchanged && change.handoff_unchanged);
        next.stored.committed();
        let mut later = next.clone();
        later.accept(&CustomerMessage::sample(1, 12, "and again"), 3);
        assert_ne!(later.change_from(&next).pieces, Pieces::All);
    }

    #[test]
    fn decisions_are_bounded() {
        let mut s = Session::new(1);
        for i in 0..(MAX_DECISIONS as u64 + 10) {
            s.record(
                i,
                DecisionOutcome::Ignored,
                DecisionReason::Operator,
                vec![],
                None,
            );
        }
        assert_eq!(s.decisions.len(), MAX_DECISIONS);
        assert_eq!(s.decisions.front().unwrap().at, 10);
    }

    #[test]
    fn plain_summary_quotes_first_and_last_customer_message() {
        let mut s = Session::new(1);
        assert!(s.plain_summary().contains("No customer"));
        s.accept(&message(10, "Where is my order?"), 1);
        assert!(s.plain_summary().contains("Where is my order?"));
        s.record_ai_message("It shipped", "x", 2);
        s.accept(&message(11, "It never arrived"), 3);
        let summary = s.plain_summary();
        assert!(summary.contains("Where is my order?"));
        assert!(summary.contains("It never arrived"));
    }
}
