//! Recent intake decisions per ticket (ignored, duplicate, not stored), kept in memory and
//! bounded, so the admin API can tell an operator why a webhook led to no reply even when the
//! ticket has no session. Accepted messages are recorded in their session instead.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

use crate::domain::outcome::IntakeOutcome;

/// How many tickets are remembered (oldest first out), and how many decisions per ticket.
const MAX_TICKETS: usize = 10_000;
const PER_TICKET: usize = 20;

/// One intake decision, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntakeDecision {
    pub at: u64,
    pub outcome: IntakeOutcome,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<u64>,
}

#[derive(Default)]
struct Inner {
    by_ticket: HashMap<u64, VecDeque<IntakeDecision>>,
    /// Tickets in the order they were first recorded, for eviction.
    order: VecDeque<u64>,
}

#[derive(Default)]
pub struct RecentIntake {
    inner: Mutex<Inner>,
}

impl RecentIntake {
    pub fn record(&self, ticket_id: u64, decision: IntakeDecision) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if !inner.by_ticket.contains_key(&ticket_id) {
            inner.order.push_back(ticket_id);
            while inner.order.len() > MAX_TICKETS {
                if let Some(old) = inner.order.pop_front() {
                    inner.by_ticket.remove(&old);
                }
            }
        }
        let list = inner.by_ticket.entry(ticket_id).or_default();
        list.push_back(decision);
        while list.len() > PER_TICKET {
            list.pop_front();
        }
    }

    /// Forgets the ticket's decisions (erasure: nothing of the ticket stays, in memory either).
    pub fn forget(&self, ticket_id: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.by_ticket.remove(&ticket_id).is_some() {
            inner.order.retain(|&t| t != ticket_id);
        }
    }

    pub fn for_ticket(&self, ticket_id: u64) -> Vec<IntakeDecision> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .by_ticket
            .get(&ticket_id)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(at: u64) -> IntakeDecision {
        IntakeDecision {
            at,
            outcome: IntakeOutcome::Ignored,
            reason: "not_assigned_to_ai",
            message_id: Some(at),
        }
    }

    #[test]
    fn a_forgotten_ticket_has_no_decisions_and_others_keep_theirs() {
        let recent = RecentIntake::default();
        recent.record(1, decision(1));
        recent.record(2, decision(2));
        recent.forget(1);
        assert!(recent.for_ticket(1).is_empty());
        assert_eq!(recent.for_ticket(2), vec![decision(2)]);
        assert_eq!(recent.inner.lock().unwrap().order, vec![2]);
    }

    #[test]
    fn keeps_the_latest_decisions_per_ticket_and_a_bounded_number_of_tickets() {
        let recent = RecentIntake::default();
        for at in 0..(PER_TICKET as u64 + 5) {
            recent.record(1, decision(at));
        }
        let kept = recent.for_ticket(1);
        assert_eq!(kept.len(), PER_TICKET);
        assert_eq!(kept[0].at, 5);
        for ticket in 2..(MAX_TICKETS as u64 + 2) {
            recent.record(ticket, decision(0));
        }
        assert!(
            recent.for_ticket(1).is_empty(),
            "the oldest ticket was evicted"
        );
        assert_eq!(recent.for_ticket(MAX_TICKETS as u64 + 1).len(), 1);
        assert!(recent.for_ticket(999_999_999).is_empty());
    }
}
