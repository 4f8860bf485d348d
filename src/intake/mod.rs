//! Intake: a parsed Gorgias event on its way in, without HTTP. The [`filter`] rules, the
//! handed-off check, deduplication, the durable store (group commit), and the ticket's wake-up,
//! in that order; the typed [`IntakeResult`] says what happened. Each decision is logged,
//! counted and, unless accepted, remembered in [`recent`] for the admin API. The webhook handler
//! and an offline replay share this one path.

pub mod filter;
pub mod recent;

use actix::Recipient;

use crate::dedup::{dedup_key, Admission, Dedup};
use crate::domain::outcome::{IgnoreReason, IntakeOutcome};
use crate::gorgias::webhook::WebhookEvent;
use crate::metrics::Metrics;
use crate::store::{InboxKey, Store, StoreError, Write};
use crate::tickets::supervisor::WakeTicket;
use crate::time::{now_millis, now_secs};
use filter::{classify, FilterRules};
use recent::{IntakeDecision, RecentIntake};

/// What became of an event.
#[derive(Debug)]
pub enum IntakeResult {
    /// Stored durably; a reply or a handoff follows.
    Accepted { ticket_id: u64, message_id: u64 },
    /// Not for the AI.
    Ignored {
        ticket_id: u64,
        message_id: Option<u64>,
        reason: IgnoreReason,
    },
    /// A redelivery within the dedup window.
    Duplicate { ticket_id: u64, message_id: u64 },
    /// Not stored; the sender should retry.
    Unavailable {
        ticket_id: u64,
        message_id: u64,
        cause: Unavailable,
    },
}

impl IntakeResult {
    pub fn outcome(&self) -> IntakeOutcome {
        match self {
            IntakeResult::Accepted { .. } => IntakeOutcome::Accepted,
            IntakeResult::Ignored { .. } => IntakeOutcome::Ignored,
            IntakeResult::Duplicate { .. } => IntakeOutcome::Duplicate,
            IntakeResult::Unavailable { .. } => IntakeOutcome::Unavailable,
        }
    }

    /// The bounded reason code logs and metrics carry.
    pub fn reason(&self) -> &'static str {
        match self {
            IntakeResult::Accepted { .. } => "customer_message",
            IntakeResult::Ignored { reason, .. } => reason.code(),
            IntakeResult::Duplicate { .. } => "redelivery",
            IntakeResult::Unavailable { cause, .. } => cause.code(),
        }
    }
}

/// Why an event could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Unavailable {
    pub fn code(&self) -> &'static str {
        match self {
            Unavailable::Store(StoreError::Overloaded) => "overloaded",
            Unavailable::Store(_) => "storage",
        }
    }
}

/// An event intake cannot take at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("message.id is missing: a customer message needs its Gorgias id")]
    MissingMessageId,
}

impl Rejected {
    pub fn code(&self) -> &'static str {
        match self {
            Rejected::MissingMessageId => "missing_message_id",
        }
    }
}

/// The intake service; one per node, shared by the HTTP workers.
pub struct Intake {
    rules: FilterRules,
    store: Store,
    dedup: Dedup,
    /// `None`: the caller runs the ticket's turn itself once an event is accepted (replay).
    wake: Option<Recipient<WakeTicket>>,
    metrics: Metrics,
    recent: RecentIntake,
}

impl Intake {
    pub fn new(
        rules: FilterRules,
        store: Store,
        dedup: Dedup,
        wake: Recipient<WakeTicket>,
        metrics: Metrics,
    ) -> Intake {
        Intake {
            rules,
            store,
            dedup,
            wake: Some(wake),
            metrics,
            recent: RecentIntake::default(),
        }
    }

    /// The same intake for a caller that runs each accepted ticket's turn itself, awaiting it,
    /// instead of waking a ticket actor (replay).
    pub fn caller_driven(
        rules: FilterRules,
        store: Store,
        dedup: Dedup,
        metrics: Metrics,
    ) -> Intake {
        Intake {
            rules,
            store,
            dedup,
            wake: None,
            metrics,
            recent: RecentIntake::default(),
        }
    }

    /// Why recent events of each ticket were not accepted.
    pub fn recent(&self) -> &RecentIntake {
        &self.recent
    }

    /// Takes `event` through intake; nothing is `Accepted` before it is flushed to disk.
    pub async fn offer(&self, event: &WebhookEvent) -> Result<IntakeResult, Rejected> {
        let result = self.decide(event).await?;
        self.report(&result);
        Ok(result)
    }

    async fn decide(&self, event: &WebhookEvent) -> Result<IntakeResult, Rejected> {
        let ticket_id = event.ticket.id;
        let message_id = event.message.as_ref().and_then(|m| m.id);
        let mut message = match classify(event, &self.rules) {
            Ok(message) => message,
            Err(reason) => {
                return Ok(IntakeResult::Ignored {
                    ticket_id,
                    message_id,
                    reason,
                })
            }
        };
        if message_id.is_none() {
            return Err(Rejected::MissingMessageId);
        }
        let message_id = message.message_id;
        let unavailable = |cause: Unavailable| IntakeResult::Unavailable {
            ticket_id,
            message_id,
            cause,
        };
        match self.store.is_handed_off(ticket_id) {
            Ok(true) => {
                return Ok(IntakeResult::Ignored {
                    ticket_id,
                    message_id: Some(message_id),
                    reason: IgnoreReason::HandedOff,
                })
            }
            Ok(false) => {}
            Err(e) => return Ok(unavailable(e.into())),
        }

        let sender = event
            .message
            .as_ref()
            .and_then(|m| m.sender.email.clone())
            .unwrap_or_else(|| message.customer.email.clone());
        let key = dedup_key(ticket_id, message_id, &sender, &message.text);
        let dedup_write = match self.dedup.admit(key) {
            (Admission::Duplicate, _) => {
                return Ok(IntakeResult::Duplicate {
                    ticket_id,
                    message_id,
                })
            }
            (Admission::Fresh { .. }, write) => write,
        };

        let seq = match self.store.next_seq() {
            Ok(seq) => seq,
            Err(e) => {
                self.dedup.forget(&key);
                return Ok(unavailable(e.into()));
            }
        };
        // The event before its dedup entry: whatever prefix of this commit survives a crash, a
        // stored dedup entry always has its stored event.
        message.accepted_ms = Some(now_millis());
        let mut writes = vec![Write::inbox_put(InboxKey { ticket_id, seq }, &message)];
        writes.extend(dedup_write);
        if let Err(e) = self.store.commit(writes).await {
            self.dedup.forget(&key);
            return Ok(unavailable(e.into()));
        }
        if let Some(degraded) = event.ticket.customer_orders.degraded {
            // Once per accepted event; the path and the kind of problem, never the values.
            tracing::warn!(
                ticket_id,
                message_id,
                path = "ticket.customer.integrations",
                reason = degraded.code(),
                kept_orders = message.orders.len(),
                "order data partly or wholly unreadable; answering without it"
            );
        }
        // Stored, so a wake-up that does not fit in the supervisor's bounded mailbox is not
        // lost: its sweep picks the ticket up within seconds. Not awaited: the answer does not
        // depend on it.
        let woken = self
            .wake
            .as_ref()
            .map(|w| w.try_send(WakeTicket(ticket_id)));
        if let Some(Err(e)) = woken {
            tracing::warn!(ticket_id, message_id, error = %e, "ticket supervisor busy; the stored message will be picked up by its sweep");
        }
        Ok(IntakeResult::Accepted {
            ticket_id,
            message_id,
        })
    }

    /// Logs, counts and remembers a decision.
    fn report(&self, result: &IntakeResult) {
        let (outcome, reason) = (result.outcome(), result.reason());
        let (ticket_id, message_id) = match result {
            IntakeResult::Accepted {
                ticket_id,
                message_id,
            }
            | IntakeResult::Duplicate {
                ticket_id,
                message_id,
            }
            | IntakeResult::Unavailable {
                ticket_id,
                message_id,
                ..
            } => (*ticket_id, Some(*message_id)),
            IntakeResult::Ignored {
                ticket_id,
                message_id,
                ..
            } => (*ticket_id, *message_id),
        };
        match result {
            IntakeResult::Unavailable { cause, .. } => tracing::warn!(
                ticket_id,
                message_id,
                outcome = outcome.code(),
                reason = %cause,
                "webhook not accepted; Gorgias will retry"
            ),
            _ => tracing::info!(
                ticket_id,
                message_id,
                outcome = outcome.code(),
                reason,
                "decision"
            ),
        }
        self.metrics.webhook(outcome, reason);
        if outcome != IntakeOutcome::Accepted {
            self.recent.record(
                ticket_id,
                IntakeDecision {
                    at: now_secs(),
                    outcome,
                    reason,
                    message_id,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overloaded_store_or_actor_is_told_apart_from_a_failing_one() {
        assert_eq!(
            Unavailable::Store(StoreError::Overloaded).code(),
            "overloaded"
        );
        assert_eq!(
            Unavailable::Store(StoreError::Io("disk full".into())).code(),
            "storage"
        );
        assert_eq!(Unavailable::Store(StoreError::Closed).code(), "storage");
    }
}
