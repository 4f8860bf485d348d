//! A decision turned into everything it implies for the session, as one pure step: the AI's
//! message in the history, the Active → HandedOff transition, the decision record, and the
//! Gorgias actions in the order they must happen.
//!
//! The handoff is planned here once, both for a brain's handoff and for a reply Gorgias refused.

use serde::Deserialize;

use super::outcome::{DecisionOutcome, DecisionReason, HandoffReason};
use super::session::{ActionKind, ReplyTarget, Session};

/// How actions reach Gorgias; it decides what a turn plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Public replies and reassignment.
    Live,
    /// Every would-be reply becomes an internal note; assignment never changes.
    Shadow,
    /// No Gorgias calls at all; decisions are only logged and stored.
    DryRun,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Shadow => "shadow",
            Mode::DryRun => "dry-run",
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

/// What a handoff does besides the state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffRules {
    /// The last message to the customer when the brain gave none.
    pub final_reply: String,
    /// Post an internal note with the reason and a summary.
    pub internal_note: bool,
    /// Reassign to this user / team (each only when set).
    pub user_id: Option<u64>,
    pub team_id: Option<u64>,
}

/// The rules a turn plans by.
#[derive(Debug, Clone)]
pub struct Planner {
    pub mode: Mode,
    pub handoff: HandoffRules,
}

/// A decision as applied, for the caller's log line and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: DecisionOutcome,
    pub reason: DecisionReason,
    pub detail: String,
    pub handoff: Option<HandoffReason>,
}

/// A handoff to plan: why, and what the customer and the team will read.
struct Handoff<'a> {
    reason: HandoffReason,
    /// For the note.
    detail: String,
    /// The AI's last message to the customer and where it goes; `None` when there is no reply
    /// to send (the customer cannot be reached).
    final_reply: Option<(String, Option<&'a ReplyTarget>)>,
    summary: String,
    message_ids: Vec<u64>,
    /// For the decision record.
    recorded_detail: String,
}

impl Planner {
    /// Whether a handoff posts a note, and so is worth a summary.
    pub fn handoff_is_noted(&self) -> bool {
        self.handoff.internal_note || self.mode == Mode::Shadow
    }

    /// Records `decision` (answering `message_ids`) in the session and enqueues its actions.
    pub fn apply(
        &self,
        session: &mut Session,
        decision: Decision,
        message_ids: &[u64],
        now: u64,
    ) -> Applied {
        let target = session.target.clone();
        match decision {
            Decision::Reply { text, reason } => {
                let external_id = session.next_external_id();
                session.record_ai_message(&text, &external_id, now);
                session.enqueue(plan_reply(self.mode, target.as_ref(), &text));
                session.record(
                    now,
                    DecisionOutcome::Replied,
                    DecisionReason::Answered,
                    message_ids.to_vec(),
                    Some(reason.clone()),
                );
                Applied {
                    outcome: DecisionOutcome::Replied,
                    reason: DecisionReason::Answered,
                    detail: reason,
                    handoff: None,
                }
            }
            Decision::Handoff {
                reason,
                detail,
                reply,
                summary,
            } => {
                let final_reply = reply
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| self.handoff.final_reply.clone());
                // Summarized before the final reply joins the history: it counts AI replies.
                let summary = summary.unwrap_or_else(|| session.plain_summary());
                self.hand_off(
                    session,
                    Handoff {
                        reason,
                        detail: detail.clone(),
                        final_reply: Some((final_reply, target.as_ref())),
                        summary,
                        message_ids: message_ids.to_vec(),
                        recorded_detail: detail.clone(),
                    },
                    now,
                );
                Applied {
                    outcome: DecisionOutcome::HandedOff,
                    reason: DecisionReason::Handoff(reason),
                    detail,
                    handoff: Some(reason),
                }
            }
        }
    }

    /// Gives up on the head action. A reply the customer will never see is a ticket a human
    /// must take: the session is handed off (note and reassignment still go out). Returns the
    /// handoff reason when that happened.
    pub fn give_up_head(
        &self,
        session: &mut Session,
        error: String,
        now: u64,
    ) -> Option<HandoffReason> {
        let failed = session.fail_head(error.clone(), now)?;
        let name = failed.kind.name();
        session.record(
            now,
            DecisionOutcome::ActionFailed,
            DecisionReason::Action(name),
            Vec::new(),
            Some(error.clone()),
        );
        if !matches!(failed.kind, ActionKind::Reply { .. }) || session.is_handed_off() {
            return None;
        }
        let reason = HandoffReason::DeliveryFailed;
        let summary = session.plain_summary();
        self.hand_off(
            session,
            Handoff {
                reason,
                detail: format!("Gorgias refused the AI's reply: {error}"),
                final_reply: None,
                summary,
                message_ids: Vec::new(),
                recorded_detail: error,
            },
            now,
        );
        Some(reason)
    }

    fn hand_off(&self, session: &mut Session, handoff: Handoff<'_>, now: u64) {
        let (final_reply, target) = match &handoff.final_reply {
            Some((text, target)) => {
                let external_id = session.next_external_id();
                session.record_ai_message(text, &external_id, now);
                (text.as_str(), *target)
            }
            None => ("", None),
        };
        // Only an active session is planned for, so the transition cannot fail.
        let _ = session.hand_off(now);
        session.enqueue(plan_handoff(
            self.mode,
            &self.handoff,
            target,
            final_reply,
            handoff.reason,
            &handoff.detail,
            &handoff.summary,
        ));
        session.record(
            now,
            DecisionOutcome::HandedOff,
            DecisionReason::Handoff(handoff.reason),
            handoff.message_ids,
            Some(handoff.recorded_detail),
        );
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

/// The actions of a handoff, in order: the final reply (when there is a target), the note for
/// the human (when configured), the reassignment (where a user or team is configured). Shadow
/// mode turns all of it into one internal note and never reassigns.
pub fn plan_handoff(
    mode: Mode,
    handoff: &HandoffRules,
    target: Option<&ReplyTarget>,
    final_reply: &str,
    reason: HandoffReason,
    detail: &str,
    summary: &str,
) -> Vec<ActionKind> {
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
        actions.push(ActionKind::Note {
            text: format!(
                "The AI handed this ticket to the team.\nReason: {} ({detail})\n\nSummary:\n{summary}",
                reason.code()
            ),
        });
    }
    let (user_id, team_id) = (handoff.user_id, handoff.team_id);
    if user_id.is_some() || team_id.is_some() {
        actions.push(ActionKind::Reassign { user_id, team_id });
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::CustomerMessage;
    use crate::domain::session::SessionState;

    fn target() -> ReplyTarget {
        ReplyTarget::from_message(&CustomerMessage::sample(1, 1, "hi"))
    }

    fn handoff(user_id: u64, team_id: u64, internal_note: bool) -> HandoffRules {
        HandoffRules {
            final_reply: "We'll be in touch.".into(),
            internal_note,
            user_id: Some(user_id).filter(|id| *id != 0),
            team_id: Some(team_id).filter(|id| *id != 0),
        }
    }

    fn names(actions: &[ActionKind]) -> Vec<&'static str> {
        actions.iter().map(|a| a.name().code()).collect()
    }

    fn planner(mode: Mode) -> Planner {
        Planner {
            mode,
            handoff: handoff(5, 7, true),
        }
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

    fn session_with_question() -> Session {
        let mut s = Session::new(1);
        s.accept(&CustomerMessage::sample(1, 10, "where is my order"), 1);
        s
    }

    #[test]
    fn a_reply_is_recorded_answered_and_enqueued_with_the_id_it_carries() {
        let mut s = session_with_question();
        let applied = planner(Mode::Live).apply(
            &mut s,
            Decision::Reply {
                text: "It shipped.".into(),
                reason: "topic order-status".into(),
            },
            &[10],
            2,
        );
        assert_eq!(applied.outcome, DecisionOutcome::Replied);
        assert_eq!(applied.handoff, None);
        assert!(s.unanswered().is_empty());
        let ai = s.history.last().unwrap();
        assert_eq!(ai.external_id.as_deref(), Some("gorgias-agent:1:1"));
        assert_eq!(s.outbox[0].external_id, "gorgias-agent:1:1");
        assert_eq!(
            names(&s.outbox.iter().map(|a| a.kind.clone()).collect::<Vec<_>>()),
            ["reply"]
        );
        let d = s.decisions.back().unwrap();
        assert_eq!(
            (d.outcome, d.reason.as_str()),
            (DecisionOutcome::Replied, "answered")
        );
        assert_eq!(d.message_ids, vec![10]);
    }

    #[test]
    fn a_brain_handoff_sends_the_configured_final_reply_when_the_brain_gave_none() {
        let mut s = session_with_question();
        let applied = planner(Mode::Live).apply(
            &mut s,
            Decision::handoff(HandoffReason::SkipTopic, "refunds"),
            &[10],
            2,
        );
        assert_eq!(applied.handoff, Some(HandoffReason::SkipTopic));
        assert_eq!(s.state, SessionState::HandedOff);
        assert_eq!(s.history.last().unwrap().text, "We'll be in touch.");
        let kinds: Vec<_> = s.outbox.iter().map(|a| a.kind.clone()).collect();
        assert_eq!(names(&kinds), ["reply", "note", "reassign"]);
        let d = s.decisions.back().unwrap();
        assert_eq!(d.reason, "skip_topic");
        assert_eq!(d.detail.as_deref(), Some("refunds"));
    }

    #[test]
    fn a_refused_reply_hands_off_with_a_note_and_reassignment_but_no_reply() {
        let mut s = session_with_question();
        let p = planner(Mode::Live);
        p.apply(
            &mut s,
            Decision::Reply {
                text: "hi".into(),
                reason: "x".into(),
            },
            &[10],
            2,
        );
        let handed = p.give_up_head(&mut s, "400 invalid".into(), 3);
        assert_eq!(handed, Some(HandoffReason::DeliveryFailed));
        assert!(s.is_handed_off());
        let kinds: Vec<_> = s.outbox.iter().map(|a| a.kind.clone()).collect();
        assert_eq!(names(&kinds), ["note", "reassign"]);
        match &kinds[0] {
            ActionKind::Note { text } => {
                assert!(text.contains("delivery_failed"));
                assert!(text.contains("Gorgias refused the AI's reply: 400 invalid"));
            }
            other => panic!("{other:?}"),
        }
        let outcomes: Vec<_> = s.decisions.iter().map(|d| d.outcome.code()).collect();
        assert_eq!(outcomes, ["replied", "action_failed", "handed_off"]);
        assert_eq!(s.decisions[1].reason, "reply");
        assert_eq!(s.decisions[2].detail.as_deref(), Some("400 invalid"));
        assert_eq!(s.failed.len(), 1);
        // A refused note of the handoff itself is only recorded: the ticket is with a human.
        assert_eq!(p.give_up_head(&mut s, "400".into(), 4), None);
        assert_eq!(
            names(&s.outbox.iter().map(|a| a.kind.clone()).collect::<Vec<_>>()),
            ["reassign"]
        );
    }
}
