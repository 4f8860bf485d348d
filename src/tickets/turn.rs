//! A turn on one ticket, as one async function over an owned session: deliver what the outbox
//! owes, take new messages from the inbox, decide (guardrails, then the brain), plan the Gorgias
//! actions, and deliver them. Every state change is committed durably before the next step, so
//! a crash at any point resumes from the last committed step; dry-run delivery, which calls
//! nothing, is part of the decision's step.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::brain::guardrails::Guardrails;
use crate::brain::orders::{
    fill_reply, has_placeholders, named_order_missing, order_in_question, orders_for_model,
    OrderFacts,
};
use crate::brain::{Brain, BrainInput};
use crate::domain::caps::SizeCaps;
use crate::domain::hours::Clock;
use crate::domain::message::Customer;
use crate::domain::orders::Order;
use crate::domain::outcome::{DecisionOutcome, HandoffReason, IgnoreReason};
use crate::domain::plan::{Decision, Mode, Planner};
use crate::domain::session::{Accepted, ActionKind, HistoryEntry, OutboundAction, Role, Session};
use crate::metrics::Metrics;
use crate::retry::{backoff_ceiling, full_jitter_backoff};
use crate::store::{Store, StoreError, Write};
use crate::tickets::delivery::Delivery;
use crate::tickets::orders::{OrderLookup, OrderSource};
use crate::tickets::stats;
use crate::time::now_secs;

/// How outbound failures are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// After this long since the first failure an action is given up on.
    pub give_up_after: Duration,
    /// How long an action whose outcome is in doubt after a restart waits before it is looked
    /// up: a request still in flight when the process died has landed (or died) by then.
    pub in_doubt_delay: Duration,
}

impl RetryPolicy {
    /// Exponential backoff with full jitter: uniform in `0..=ceiling(attempt)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        full_jitter_backoff(self.initial, self.max, attempt)
    }

    /// The longest wait after `attempt` failures: `min(max, initial * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        backoff_ceiling(self.initial, self.max, attempt)
    }
}

/// What a turn needs; shared by every ticket actor on the arbiter.
pub struct TurnContext {
    pub store: Store,
    pub brain: Rc<dyn Brain>,
    pub guardrails: Guardrails,
    pub delivery: Delivery,
    /// Plans by the same mode `delivery` delivers in.
    pub planner: Planner,
    pub retry: RetryPolicy,
    pub metrics: Metrics,
    /// "Now" for decisions (business hours, recorded times): the system clock in production,
    /// a fixed instant in tests.
    pub clock: Clock,
    /// The customer's orders, for turns that need them.
    pub orders: OrderLookup,
    /// What a session's history is kept within (`sessions.max_*`).
    pub caps: SizeCaps,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEnd {
    /// Nothing left to do.
    Idle,
    /// An action or a write failed for now: run again after this delay.
    RetryIn(Duration),
}

/// Delivers what is owed, takes the inbox and decides, and delivers that decision's actions;
/// returns the last committed session. Messages stored after the inbox was read are not looked
/// for again here: each one wakes the ticket's actor, which runs the next turn.
pub async fn run(cx: Rc<TurnContext>, mut session: Session) -> (Session, TurnEnd) {
    let ticket_id = session.ticket_id;
    if session.stored.in_doubt {
        session = reread(&cx, session);
    }
    let mut decided = false;
    loop {
        if let Some(delay) = deliver_outbox(&cx, &mut session).await {
            return (session, TurnEnd::RetryIn(delay));
        }
        if decided {
            return (session, TurnEnd::Idle);
        }
        match take_and_decide(&cx, &mut session).await {
            Ok(true) => decided = true,
            Ok(false) => return (session, TurnEnd::Idle),
            Err(e) => {
                tracing::error!(ticket_id, error = %e, "cannot store new messages and the decision; will retry");
                return (session, TurnEnd::RetryIn(cx.retry.backoff(1)));
            }
        }
    }
}

/// After a commit that failed but may still have landed (a timeout), storage may be ahead of
/// `session`: it may hold the decision, with its inbox entries deleted and its actions owed. The
/// stored session is the truth, so the turn starts from it; its actions count as possibly sent,
/// as when an actor starts from storage. While storage cannot be read, `session` stays (still in
/// doubt, so its next commit writes it whole).
fn reread(cx: &TurnContext, session: Session) -> Session {
    match cx.store.load_session(session.ticket_id) {
        Ok(Some(mut stored)) => {
            for action in stored.outbox.iter_mut() {
                action.maybe_sent = true;
            }
            stored
        }
        Ok(None) => session,
        Err(e) => {
            tracing::warn!(ticket_id = session.ticket_id, error = %e, "cannot read the session back after a failed commit; going on from memory");
            session
        }
    }
}

/// Takes the ticket's new messages into the session and, when something is unanswered,
/// decides; both are stored in one commit (the session first, then the inbox deletions: a crash
/// in between leaves entries that `accept` recognises as known). `false` when there was nothing
/// to do.
async fn take_and_decide(cx: &TurnContext, session: &mut Session) -> Result<bool, StoreError> {
    let mut next = session.clone();
    let (deletes, carried) = take_inbox(cx, &mut next);
    let accepted_ms = carried.accepted_ms;
    // Before the brain reads the history, and again after the decision added the AI's words.
    let mut cut = next.enforce_caps(&cx.caps);
    let unanswered = !next.unanswered().is_empty();
    if unanswered {
        decide(cx, &mut next, carried).await;
        cut += next.enforce_caps(&cx.caps);
        if cx.delivery.mode() == Mode::DryRun {
            // Dry-run delivery calls nothing outside and cannot fail: the decision's actions are
            // done in the decision's own commit, not in a second one.
            deliver_in_place(cx, &mut next).await;
        }
    } else if deletes.is_empty() {
        return Ok(false);
    }
    if cut > 0 {
        tracing::info!(
            ticket_id = next.ticket_id,
            cut_chars = cut,
            history_bytes = next.history_bytes(),
            "session text cut to sessions.max_message_chars / max_session_bytes"
        );
    }
    commit(cx, session, next, deletes, accepted_ms).await?;
    Ok(true)
}

/// Stores `next` (the step from `session`: only what changed) with `extra`, and the console's
/// counters of the step in the same commit; once stored, `next` becomes the session. A failed
/// commit may still land (a timeout), so the session's next commit then writes it whole.
async fn commit(
    cx: &TurnContext,
    session: &mut Session,
    mut next: Session,
    extra: Vec<Write>,
    accepted_ms: Option<u64>,
) -> Result<(), StoreError> {
    let mut writes = Write::session_put(next.change_from(session));
    writes.extend(extra);
    writes.extend(stats::step_writes(
        &cx.store,
        session,
        &next,
        cx.planner.mode,
        accepted_ms,
    ));
    match cx.store.commit(writes).await {
        Ok(()) => {
            next.stored.committed();
            *session = next;
            Ok(())
        }
        Err(e) => {
            session.stored.in_doubt = true;
            Err(e)
        }
    }
}

/// What the new messages carried besides their words, for this turn only: the session keeps
/// what the turn used, not this.
#[derive(Debug, Default)]
struct Carried {
    /// The latest body's normalized orders (empty: the bodies had none).
    orders: Vec<Order>,
    first_name: Option<String>,
    /// When intake accepted the earliest new message (unix ms), for the console's first-reply
    /// time.
    accepted_ms: Option<u64>,
}

/// Moves the ticket's stored new messages into `session`; returns the inbox deletions to commit
/// with it, and what the messages carried.
fn take_inbox(cx: &TurnContext, next: &mut Session) -> (Vec<Write>, Carried) {
    let entries = cx.store.inbox_for(next.ticket_id);
    let now = now_secs();
    let mut deletes = Vec::with_capacity(entries.len());
    let mut carried = Carried::default();
    for (key, entry) in entries {
        if let Ok(message) = &entry {
            if !message.orders.is_empty() {
                carried.orders = message.orders.clone();
            }
            if message.first_name.is_some() {
                carried.first_name = message.first_name.clone();
            }
        }
        match entry {
            Ok(message) => match next.accept(&message, now) {
                Accepted::New => {
                    carried.accepted_ms = match (carried.accepted_ms, message.accepted_ms) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Accepted::Known => {
                    tracing::debug!(
                        ticket_id = key.ticket_id,
                        message_id = message.message_id,
                        "message already in the session"
                    )
                }
                Accepted::WhileHandedOff => tracing::info!(
                    ticket_id = key.ticket_id,
                    message_id = message.message_id,
                    outcome = DecisionOutcome::Ignored.code(),
                    reason = IgnoreReason::HandedOff.code(),
                    "decision"
                ),
            },
            Err(e) => tracing::error!(
                ticket_id = key.ticket_id,
                error = %e,
                "dropping an inbox entry that cannot be decoded"
            ),
        }
        deletes.push(Write::inbox_delete(key));
    }
    (deletes, carried)
}

/// Decides for the unanswered messages and records the decision with its planned actions.
async fn decide(cx: &TurnContext, session: &mut Session, carried: Carried) {
    let unanswered = session.unanswered();
    let message_ids: Vec<u64> = unanswered.iter().filter_map(|e| e.message_id).collect();
    let first_unanswered = session.history.len() - unanswered.len();
    let target = session.target.as_ref();
    let input = BrainInput {
        ticket_id: session.ticket_id,
        channel: target.map(|t| t.channel.clone()).unwrap_or_default(),
        customer: target
            .map(|t| t.customer.clone())
            .unwrap_or_else(|| Customer {
                id: None,
                email: String::new(),
                name: None,
            }),
        subject: target.and_then(|t| t.subject.clone()),
        language: session.language.clone(),
        history: Rc::from(session.history.as_slice()),
        unanswered: session.history.len() - first_unanswered,
        ai_replies: session.ai_reply_count(),
        orders: None,
        analysis: Default::default(),
    };
    let mut orders = TurnOrders::new(session, input.history.clone(), carried);
    let (decision, order) = decide_with_orders(cx, input.clone(), &mut orders).await;
    let decision = with_summary(cx, &input, decision).await;
    let ticket_id = session.ticket_id;
    let message_id = message_ids.last().copied().unwrap_or_default();
    let applied = cx
        .planner
        .apply(session, decision, &message_ids, cx.clock.now());
    if let Some(order) = order {
        session.attach_order(order);
    }
    tracing::info!(ticket_id, message_id, outcome = applied.outcome.code(), reason = applied.reason.code(), detail = %applied.detail, mode = cx.planner.mode.as_str(), "decision");
    if let Some(reason) = applied.handoff {
        cx.metrics.handoff(reason);
    }
}

/// A turn's order data, looked up at most once and only when the turn needs it.
struct TurnOrders {
    customer_id: Option<u64>,
    carried: Carried,
    /// The brain's copy of the history (shared), read only when orders are looked at.
    history: Rc<[HistoryEntry]>,
    found: Option<(Vec<Order>, OrderSource)>,
}

impl TurnOrders {
    fn new(session: &Session, history: Rc<[HistoryEntry]>, carried: Carried) -> TurnOrders {
        let first_name = carried.first_name.clone().or_else(|| {
            let name = session.target.as_ref()?.customer.name.as_deref()?;
            name.split_whitespace().next().map(str::to_string)
        });
        TurnOrders {
            customer_id: session.target.as_ref().and_then(|t| t.customer.id),
            carried: Carried {
                orders: carried.orders,
                first_name,
                accepted_ms: carried.accepted_ms,
            },
            history,
            found: None,
        }
    }

    /// The AI's last message, if any.
    fn last_ai(&self) -> Option<&str> {
        self.history
            .iter()
            .rev()
            .find(|e| e.role == Role::Ai)
            .map(|e| &*e.text)
    }

    /// Looks the customer's orders up, once.
    async fn ensure(&mut self, cx: &TurnContext, ticket_id: u64) {
        if self.found.is_none() {
            let carried = std::mem::take(&mut self.carried.orders);
            self.found = Some(cx.orders.lookup(ticket_id, self.customer_id, carried).await);
        }
    }

    /// `f` over what is known of the orders (looked up first with `ensure`).
    fn with_facts<R>(&self, f: impl FnOnce(&OrderFacts<'_>) -> R) -> R {
        let messages: Vec<&str> = self
            .history
            .iter()
            .filter(|e| e.role == Role::Customer)
            .map(|e| &*e.text)
            .collect();
        let orders = self.found.as_ref().map_or(&[][..], |(o, _)| o.as_slice());
        f(&OrderFacts {
            orders,
            customer_messages: &messages,
            first_name: self.carried.first_name.as_deref(),
        })
    }

    fn source(&self) -> Option<OrderSource> {
        self.found.as_ref().map(|(_, s)| *s)
    }
}

/// Guardrails, then the brain, with the customer's orders where the turn needs them: the brain
/// is shown them when it asks (a model), a reply's placeholders are filled with them, and a
/// handoff names the order in question. Returns the decision and the order it used.
async fn decide_with_orders(
    cx: &TurnContext,
    mut input: BrainInput,
    orders: &mut TurnOrders,
) -> (Decision, Option<Order>) {
    let ticket_id = input.ticket_id;
    let decision = match cx.guardrails.check(&input) {
        Some(rule) => rule,
        None if cx.orders.enabled() && cx.brain.wants_orders() => {
            orders.ensure(cx, ticket_id).await;
            let max_orders = cx.orders.max_orders();
            let shown = orders.with_facts(|facts| match named_order_missing(facts) {
                Some(handoff) => Err(handoff),
                None => Ok(orders_for_model(facts, max_orders)),
            });
            match shown {
                Err(handoff) => handoff,
                Ok(shown) => {
                    input.orders = Some(shown);
                    ask_brain(cx, input).await
                }
            }
        }
        None => ask_brain(cx, input).await,
    };
    let (decision, used) = match decision {
        Decision::Reply { text, reason } if has_placeholders(&text) => {
            let without_order = cx.brain.answer_without_order(&text);
            orders.ensure(cx, ticket_id).await;
            let last_ai = orders.last_ai();
            orders.with_facts(|facts| {
                fill_reply(&text, &reason, without_order.as_deref(), facts, last_ai)
            })
        }
        Decision::Handoff { .. } if !orders.carried.orders.is_empty() || orders.found.is_some() => {
            // The body's orders cost nothing to look at: the note names the order in question.
            orders.ensure(cx, ticket_id).await;
            let order = orders.with_facts(order_in_question);
            (decision, order)
        }
        other => (other, None),
    };
    let Some(source) = orders.source() else {
        return (decision, used);
    };
    let about = used
        .as_ref()
        .map(|o| format!("; about {}", o.detail()))
        .unwrap_or_default();
    let decision = match decision {
        Decision::Reply { text, reason } => Decision::Reply {
            text,
            reason: format!("{reason}; orders from {}", source.code()),
        },
        Decision::Handoff {
            reason,
            detail,
            reply,
            summary,
        } => Decision::Handoff {
            reason,
            detail: format!("{detail}{about}; orders from {}", source.code()),
            reply,
            summary,
        },
    };
    (decision, used)
}

/// The brain's decision, timed; a failing brain hands off.
async fn ask_brain(cx: &TurnContext, input: BrainInput) -> Decision {
    // Some brains do their work before returning a ready future: time from the call.
    let started = Instant::now();
    let result = cx.brain.decide(input).await;
    let outcome = match &result {
        Ok(Decision::Reply { .. }) => "reply",
        Ok(Decision::Handoff { .. }) => "handoff",
        Err(_) => "error",
    };
    cx.metrics
        .brain_decided(cx.brain.name(), outcome, started.elapsed());
    result.unwrap_or_else(|e| Decision::handoff(HandoffReason::AiUnavailable, e.to_string()))
}

/// A handoff whose note needs a summary gets one from the brain (the openai brain asks the
/// model), except when the brain is what failed; `None` keeps the plain extract.
async fn with_summary(cx: &TurnContext, input: &BrainInput, decision: Decision) -> Decision {
    match decision {
        Decision::Handoff {
            reason,
            detail,
            reply,
            summary: None,
        } if cx.planner.handoff_is_noted() && reason != HandoffReason::AiUnavailable => {
            Decision::Handoff {
                reason,
                detail,
                reply,
                summary: cx.brain.summarize(input).await,
            }
        }
        other => other,
    }
}

/// Delivers the outbox in order. Returns a delay when the head action must be retried later.
///
/// Progress is stored once, when the outbox is drained or an action must wait, not after each
/// action: every action still in a stored outbox is treated as possibly sent when it is read
/// back (see `TicketActor::new`), so a crash before that commit repeats lookups, never posts.
async fn deliver_outbox(cx: &TurnContext, session: &mut Session) -> Option<Duration> {
    let ticket_id = session.ticket_id;
    if session.outbox.is_empty() {
        return None;
    }
    let mut next = session.clone();
    let delay = deliver_in_place(cx, &mut next).await;
    if let Err(e) = commit(cx, session, next, Vec::new(), None).await {
        tracing::error!(ticket_id, error = %e, "cannot store delivery progress; will retry");
        // Some actions may have been done: each one still owed is looked up before a repost.
        for action in session.outbox.iter_mut() {
            action.maybe_sent = true;
        }
        return Some(cx.retry.backoff(1));
    }
    delay
}

/// Carries out `next`'s outbox in order, changing only `next` (the caller commits it). Returns
/// a delay when the head action must be retried later.
async fn deliver_in_place(cx: &TurnContext, next: &mut Session) -> Option<Duration> {
    let ticket_id = next.ticket_id;
    let mut delay = None;
    while let Some(action) = next.outbox.front().cloned() {
        let result = cx.delivery.execute(ticket_id, &action).await;
        let now = now_secs();
        match result {
            Ok(posted_id) => {
                next.complete_head(posted_id);
                let outcome = if cx.delivery.mode() == Mode::DryRun {
                    "dry_run"
                } else {
                    "delivered"
                };
                tracing::info!(ticket_id, action = action.kind.name().code(), external_id = %action.external_id, message_id = posted_id, outcome, "outbound action done");
                cx.metrics.delivered(action.kind.name(), cx.delivery.mode());
                if let ActionKind::AddTags { names } = &action.kind {
                    cx.metrics.tags_added(names.len(), cx.delivery.mode());
                }
            }
            Err(e) => {
                let first_failure = action.first_failure_at.unwrap_or(now);
                let given_up =
                    now.saturating_sub(first_failure) >= cx.retry.give_up_after.as_secs();
                if e.is_retryable() && !given_up {
                    let head = next.outbox.front_mut().expect("the head exists");
                    head.attempts += 1;
                    head.first_failure_at = Some(first_failure);
                    head.maybe_sent |= e.outcome_unknown();
                    head.last_error = Some(e.to_string());
                    let mut wait = e
                        .retry_after()
                        .unwrap_or_else(|| cx.retry.backoff(head.attempts));
                    if head.maybe_sent {
                        // A post whose outcome is unknown may still be landing: look later.
                        wait = wait.max(cx.retry.in_doubt_delay);
                    }
                    tracing::warn!(ticket_id, action = action.kind.name().code(), attempt = head.attempts, error = %e, retry_in_ms = wait.as_millis() as u64, "outbound action failed; will retry");
                    delay = Some(wait);
                    break;
                }
                give_up_head(cx, next, &action, e.to_string(), now);
            }
        }
    }
    delay
}

/// Gives up on the head action (a refused reply hands the ticket off: see `Planner`).
fn give_up_head(
    cx: &TurnContext,
    session: &mut Session,
    action: &OutboundAction,
    error: String,
    now: u64,
) {
    let ticket_id = session.ticket_id;
    let name = action.kind.name();
    tracing::error!(ticket_id, action = name.code(), error = %error, outcome = DecisionOutcome::ActionFailed.code(), "outbound action given up");
    cx.metrics.action_failed(name);
    if let Some(reason) = cx.planner.give_up_head(session, error, now) {
        tracing::info!(
            ticket_id,
            outcome = DecisionOutcome::HandedOff.code(),
            reason = reason.code(),
            "decision"
        );
        cx.metrics.handoff(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            give_up_after: Duration::from_secs(60),
            in_doubt_delay: Duration::ZERO,
        };
        for _ in 0..50 {
            let d = p.backoff(1);
            assert!(d <= Duration::from_millis(200), "{d:?}");
            assert!(p.backoff(30) <= Duration::from_secs(2));
        }
        // It grows: the ceiling doubles up to the cap, and the jitter spreads over all of it
        // (200 draws all in the lower half would happen once in 2^200 runs).
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(1600));
        assert_eq!(p.ceiling(30), Duration::from_secs(2));
        let longest = |attempt| (0..200).map(|_| p.backoff(attempt)).max().unwrap();
        assert!(longest(1) > Duration::from_millis(100), "{:?}", longest(1));
        assert!(longest(30) > Duration::from_secs(1), "{:?}", longest(30));
    }
}
