//! A turn on one ticket, as one async function over an owned session: deliver what the outbox
//! owes, take new messages from the inbox, decide (guardrails, then the brain), plan the Gorgias
//! actions, and deliver them. Every state change is committed durably before the next step, so
//! a crash at any point resumes from the last committed step.

use std::rc::Rc;
use std::time::Duration;

use crate::brain::guardrails::Guardrails;
use crate::brain::{Brain, BrainInput, Decision, HandoffReason};
use crate::config::{HandoffSettings, Mode};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, Write};
use crate::tickets::delivery::Delivery;
use crate::tickets::session::{Accepted, ActionKind, ReplyTarget, Session};
use crate::time::{full_jitter_backoff, now_secs};

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
    /// Exponential backoff with full jitter: uniform in `0..=min(max, initial * 2^attempt)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        full_jitter_backoff(self.initial, self.max, attempt)
    }
}

/// What a turn needs; shared by every ticket actor on the arbiter.
pub struct TurnContext {
    pub store: Store,
    pub brain: Rc<dyn Brain>,
    pub guardrails: Guardrails,
    pub delivery: Delivery,
    pub handoff: HandoffSettings,
    pub retry: RetryPolicy,
    pub metrics: Metrics,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEnd {
    /// Nothing left to do.
    Idle,
    /// An action or a write failed for now: run again after this delay.
    RetryIn(Duration),
}

/// Runs turns on `session` until nothing is owed; returns the last committed session.
pub async fn run(cx: Rc<TurnContext>, mut session: Session) -> (Session, TurnEnd) {
    let ticket_id = session.ticket_id;
    loop {
        if let Some(delay) = deliver_outbox(&cx, &mut session).await {
            return (session, TurnEnd::RetryIn(delay));
        }
        match take_and_decide(&cx, &mut session).await {
            Ok(true) => {}
            Ok(false) => return (session, TurnEnd::Idle),
            Err(e) => {
                tracing::error!(ticket_id, error = %e, "cannot store new messages and the decision; will retry");
                return (session, TurnEnd::RetryIn(cx.retry.backoff(1)));
            }
        }
    }
}

/// Takes the ticket's new messages into the session and, when something is unanswered,
/// decides; both are stored in one commit (the session first, then the inbox deletions: a crash
/// in between leaves entries that `accept` recognises as known). `false` when there was nothing
/// to do.
async fn take_and_decide(cx: &TurnContext, session: &mut Session) -> Result<bool, StoreError> {
    let mut next = session.clone();
    let deletes = take_inbox(cx, &mut next);
    let unanswered = !next.unanswered().is_empty();
    if unanswered {
        decide(cx, &mut next).await;
    } else if deletes.is_empty() {
        return Ok(false);
    }
    commit(&cx.store, &next, deletes).await?;
    *session = next;
    Ok(true)
}

async fn commit(store: &Store, session: &Session, extra: Vec<Write>) -> Result<(), StoreError> {
    let mut writes = Write::session_put(session);
    writes.extend(extra);
    store.commit(writes).await
}

/// Moves the ticket's stored new messages into `session`; returns the inbox deletions to commit
/// with it.
fn take_inbox(cx: &TurnContext, next: &mut Session) -> Vec<Write> {
    let entries = cx.store.inbox_for(next.ticket_id);
    let now = now_secs();
    let mut deletes = Vec::with_capacity(entries.len());
    for (key, entry) in entries {
        match entry {
            Ok(message) => match next.accept(&message, now) {
                Accepted::New => {}
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
                    outcome = "ignored",
                    reason = "handed_off",
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
    deletes
}

/// Decides for the unanswered messages and records the decision with its planned actions.
async fn decide(cx: &TurnContext, session: &mut Session) {
    let unanswered = session.unanswered();
    let message_ids: Vec<u64> = unanswered.iter().filter_map(|e| e.message_id).collect();
    let first_unanswered = session.history.len() - unanswered.len();
    let target = session.target.clone();
    let input = BrainInput {
        ticket_id: session.ticket_id,
        channel: target
            .as_ref()
            .map(|t| t.channel.clone())
            .unwrap_or_default(),
        customer: target
            .as_ref()
            .map(|t| t.customer.clone())
            .unwrap_or_else(|| crate::filter::Customer {
                id: None,
                email: String::new(),
                name: None,
            }),
        subject: target.as_ref().and_then(|t| t.subject.clone()),
        language: session.language.clone(),
        history: session.history.clone(),
        unanswered: session.history.len() - first_unanswered,
        ai_replies: session.ai_reply_count(),
    };
    let decision = match cx.guardrails.check(&input) {
        Some(rule) => rule,
        None => match cx.brain.decide(input.clone()).await {
            Ok(decision) => decision,
            Err(e) => Decision::handoff(HandoffReason::AiUnavailable, e.to_string()),
        },
    };
    let decision = with_summary(cx, &input, decision).await;
    apply_decision(
        session,
        decision,
        cx,
        target.as_ref(),
        &message_ids,
        now_secs(),
    );
}

/// A handoff whose note needs a summary gets one from the brain (the openai brain asks the
/// model), except when the brain is what failed; `None` keeps the plain extract.
async fn with_summary(cx: &TurnContext, input: &BrainInput, decision: Decision) -> Decision {
    let noted = cx.handoff.internal_note || cx.delivery.mode() == Mode::Shadow;
    match decision {
        Decision::Handoff {
            reason,
            detail,
            reply,
            summary: None,
        } if noted && reason != HandoffReason::AiUnavailable => Decision::Handoff {
            reason,
            detail,
            reply,
            summary: cx.brain.summarize(input).await,
        },
        other => other,
    }
}

/// Records `decision` in the session and enqueues the actions it implies.
fn apply_decision(
    session: &mut Session,
    decision: Decision,
    cx: &TurnContext,
    target: Option<&ReplyTarget>,
    message_ids: &[u64],
    now: u64,
) {
    let mode = cx.delivery.mode();
    let ticket_id = session.ticket_id;
    let message_id = message_ids.last().copied().unwrap_or_default();
    match decision {
        Decision::Reply { text, reason } => {
            let external_id = session.next_external_id();
            session.record_ai_message(&text, &external_id, now);
            session.enqueue(plan_reply(mode, target, &text));
            session.record(
                now,
                "replied",
                "answered",
                message_ids.to_vec(),
                Some(reason.clone()),
            );
            tracing::info!(ticket_id, message_id, outcome = "replied", reason = "answered", detail = %reason, mode = mode.as_str(), "decision");
        }
        Decision::Handoff {
            reason,
            detail,
            reply,
            summary,
        } => {
            let final_reply = reply
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| cx.handoff.final_reply.clone());
            let summary = summary.unwrap_or_else(|| session.plain_summary());
            let external_id = session.next_external_id();
            session.record_ai_message(&final_reply, &external_id, now);
            // Only an active session reaches a decision, so the transition cannot fail.
            let _ = session.hand_off(now);
            session.enqueue(plan_handoff(
                mode,
                &cx.handoff,
                target,
                &final_reply,
                reason,
                &detail,
                &summary,
            ));
            session.record(
                now,
                "handed_off",
                reason.code(),
                message_ids.to_vec(),
                Some(detail.clone()),
            );
            tracing::info!(ticket_id, message_id, outcome = "handed_off", reason = reason.code(), detail = %detail, mode = mode.as_str(), "decision");
            cx.metrics.handoff(reason.code());
        }
    }
}

/// The actions of a reply: a public reply, or in shadow mode a draft as an internal note.
pub fn plan_reply(mode: Mode, target: Option<&ReplyTarget>, text: &str) -> Vec<ActionKind> {
    match (mode, target) {
        (Mode::Shadow, _) => vec![ActionKind::Note {
            text: format!("AI draft reply (shadow mode, not sent to the customer):\n\n{text}"),
        }],
        (_, Some(target)) => vec![ActionKind::Reply {
            target: target.clone(),
            text: text.to_string(),
        }],
        (_, None) => Vec::new(),
    }
}

/// The actions of a handoff, in order: the final reply, the note for the human (when
/// configured), the reassignment (where a user or team is configured). Shadow mode turns all of
/// it into one internal note and never reassigns.
pub fn plan_handoff(
    mode: Mode,
    handoff: &HandoffSettings,
    target: Option<&ReplyTarget>,
    final_reply: &str,
    reason: HandoffReason,
    detail: &str,
    summary: &str,
) -> Vec<ActionKind> {
    let note = format!(
        "The AI handed this ticket to the team.\nReason: {} ({detail})\n\nSummary:\n{summary}",
        reason.code()
    );
    if mode == Mode::Shadow {
        return vec![ActionKind::Note {
            text: format!(
                "AI draft (shadow mode): the AI would hand this ticket off.\nReason: {} ({detail})\n\nDraft final reply:\n{final_reply}\n\nSummary:\n{summary}",
                reason.code()
            ),
        }];
    }
    let mut actions = plan_reply(mode, target, final_reply);
    if handoff.internal_note {
        actions.push(ActionKind::Note { text: note });
    }
    let user_id = Some(handoff.user_id).filter(|id| *id != 0);
    let team_id = Some(handoff.team_id).filter(|id| *id != 0);
    if user_id.is_some() || team_id.is_some() {
        actions.push(ActionKind::Reassign { user_id, team_id });
    }
    actions
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
                tracing::info!(ticket_id, action = action.kind.name(), external_id = %action.external_id, message_id = posted_id, outcome, "outbound action done");
                cx.metrics.delivered(action.kind.name(), cx.delivery.mode());
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
                    tracing::warn!(ticket_id, action = action.kind.name(), attempt = head.attempts, error = %e, retry_in_ms = wait.as_millis() as u64, "outbound action failed; will retry");
                    delay = Some(wait);
                    break;
                }
                fail_head(cx, &mut next, &action.kind, e.to_string(), now);
            }
        }
    }
    if let Err(e) = commit(&cx.store, &next, Vec::new()).await {
        tracing::error!(ticket_id, error = %e, "cannot store delivery progress; will retry");
        // Some actions may have been done: each one still owed is looked up before a repost.
        for action in session.outbox.iter_mut() {
            action.maybe_sent = true;
        }
        return Some(cx.retry.backoff(1));
    }
    *session = next;
    delay
}

/// Gives up on the head action. A reply the customer will never see is a ticket a human must
/// take: the session is handed off (note and reassignment still go out).
fn fail_head(cx: &TurnContext, session: &mut Session, kind: &ActionKind, error: String, now: u64) {
    let ticket_id = session.ticket_id;
    tracing::error!(ticket_id, action = kind.name(), error = %error, outcome = "action_failed", "outbound action given up");
    cx.metrics.action_failed(kind.name());
    session.fail_head(error.clone(), now);
    session.record(
        now,
        "action_failed",
        kind.name(),
        Vec::new(),
        Some(error.clone()),
    );
    if matches!(kind, ActionKind::Reply { .. }) && !session.is_handed_off() {
        let _ = session.hand_off(now);
        let mut actions = plan_handoff(
            cx.delivery.mode(),
            &cx.handoff,
            None,
            "",
            HandoffReason::DeliveryFailed,
            &format!("Gorgias refused the AI's reply: {error}"),
            &session.plain_summary(),
        );
        // The head of a fresh plan is the final reply only when there is a target; with none
        // there is no reply, just the note and the reassignment.
        actions.retain(|a| !matches!(a, ActionKind::Reply { .. }));
        session.enqueue(actions);
        session.record(
            now,
            "handed_off",
            HandoffReason::DeliveryFailed.code(),
            Vec::new(),
            Some(error),
        );
        tracing::info!(
            ticket_id,
            outcome = "handed_off",
            reason = HandoffReason::DeliveryFailed.code(),
            "decision"
        );
        cx.metrics.handoff(HandoffReason::DeliveryFailed.code());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::CustomerMessage;

    fn target() -> ReplyTarget {
        ReplyTarget::from_message(&CustomerMessage::sample(1, 1, "hi"))
    }

    fn handoff(user_id: u64, team_id: u64, internal_note: bool) -> HandoffSettings {
        HandoffSettings {
            user_id,
            team_id,
            internal_note,
            ..HandoffSettings::default()
        }
    }

    fn names(actions: &[ActionKind]) -> Vec<&'static str> {
        actions.iter().map(|a| a.name()).collect()
    }

    #[test]
    fn live_handoff_is_reply_note_reassign_in_that_order() {
        let a = plan_handoff(
            Mode::Live,
            &handoff(5, 7, true),
            Some(&target()),
            "bye",
            HandoffReason::SkipTopic,
            "refunds",
            "summary",
        );
        assert_eq!(names(&a), ["reply", "note", "reassign"]);
        assert_eq!(
            a[2],
            ActionKind::Reassign {
                user_id: Some(5),
                team_id: Some(7)
            }
        );
        match &a[1] {
            ActionKind::Note { text } => {
                assert!(text.contains("skip_topic"));
                assert!(text.contains("summary"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unconfigured_ids_and_note_are_left_out() {
        let a = plan_handoff(
            Mode::Live,
            &handoff(0, 7, false),
            Some(&target()),
            "bye",
            HandoffReason::NoAnswer,
            "",
            "",
        );
        assert_eq!(names(&a), ["reply", "reassign"]);
        assert_eq!(
            a[1],
            ActionKind::Reassign {
                user_id: None,
                team_id: Some(7)
            }
        );
        let a = plan_handoff(
            Mode::Live,
            &handoff(0, 0, false),
            Some(&target()),
            "bye",
            HandoffReason::NoAnswer,
            "",
            "",
        );
        assert_eq!(names(&a), ["reply"]);
    }

    #[test]
    fn shadow_mode_only_writes_notes() {
        assert_eq!(
            names(&plan_reply(Mode::Shadow, Some(&target()), "hi")),
            ["note"]
        );
        let a = plan_handoff(
            Mode::Shadow,
            &handoff(5, 7, true),
            Some(&target()),
            "bye",
            HandoffReason::SkipTopic,
            "",
            "",
        );
        assert_eq!(names(&a), ["note"]);
    }

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
    }
}
