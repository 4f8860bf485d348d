//! A decision turned into everything it implies for the session, as one pure step: the AI's
//! message in the history, the Active → HandedOff transition, the decision record, and the
//! Gorgias actions in the order they must happen.
//!
//! The handoff is planned here once, both for a brain's handoff and for a reply Gorgias refused.
//! The ticket's lifecycle is planned here too: tags after a reply or a handoff, closing after a
//! reply, and the final reply outside business hours.

use jiff::Timestamp;
use serde::Deserialize;

use super::hours::BusinessHours;
use super::outcome::{DecisionOutcome, DecisionReason, HandoffReason};
use super::session::{ActionKind, ReplyTarget, Session};
use super::tags::{HandoffTags, ReplyTags};

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
    /// Added after the final reply, before the reassignment (`{reason}` expanded).
    pub tags: HandoffTags,
    /// The last message outside business hours, when set (it wins over the brain's own words,
    /// which cannot know that nobody is at work).
    pub final_reply_offline: Option<String>,
}

/// What follows an AI reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyRules {
    /// Added after the reply.
    pub tags: ReplyTags,
    /// Close the ticket after the reply (Gorgias reopens it when the customer writes again).
    pub close: bool,
}

/// The rules a turn plans by.
#[derive(Debug, Clone)]
pub struct Planner {
    pub mode: Mode,
    pub handoff: HandoffRules,
    pub reply: ReplyRules,
    /// `None`: always open.
    pub hours: Option<BusinessHours>,
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

    /// Whether the team is at work at `at` (always, without `[business_hours]`).
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.hours.as_ref().is_none_or(|hours| hours.is_open(at))
    }

    /// Records `decision` (answering `message_ids`) in the session and enqueues its actions;
    /// `at` is the turn's "now": the time recorded, and what business hours are read at.
    pub fn apply(
        &self,
        session: &mut Session,
        decision: Decision,
        message_ids: &[u64],
        at: Timestamp,
    ) -> Applied {
        let now = u64::try_from(at.as_second()).unwrap_or_default();
        let target = session.target.clone();
        match decision {
            Decision::Reply { text, reason } => {
                let external_id = session.next_external_id();
                session.record_ai_message(&text, &external_id, now);
                session.enqueue(plan_ai_reply(
                    self.mode,
                    &self.reply,
                    target.as_ref(),
                    &text,
                ));
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
                let offline = self
                    .handoff
                    .final_reply_offline
                    .clone()
                    .filter(|_| !self.is_open(at));
                let final_reply = offline
                    .or(reply.filter(|r| !r.trim().is_empty()))
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
        // What followed the refused reply (its tags, its close) is about a reply the customer
        // never got.
        while session
            .outbox
            .front()
            .is_some_and(|a| matches!(a.kind, ActionKind::AddTags { .. } | ActionKind::Close))
        {
            session.outbox.pop_front();
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
        // A handed-off ticket is the team's: no close still owed may shut it.
        session.outbox.retain(|a| a.kind != ActionKind::Close);
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

/// The actions of an AI reply, in order: the reply, then `reply_tags`, then the close (when
/// `close_after_reply`); nothing follows a reply that cannot be sent. Shadow mode turns all of
/// it into one internal note saying what would have happened, and never tags or closes.
pub fn plan_ai_reply(
    mode: Mode,
    rules: &ReplyRules,
    target: Option<&ReplyTarget>,
    text: &str,
) -> Vec<ActionKind> {
    let tags = rules.tags.names();
    if mode == Mode::Shadow {
        let mut then = Vec::new();
        if !tags.is_empty() {
            then.push(format!("add the tags {}", quoted(&tags)));
        }
        if rules.close {
            then.push("close the ticket".to_string());
        }
        let mut note = format!("AI draft reply (shadow mode, not sent to the customer):\n\n{text}");
        if !then.is_empty() {
            note.push_str(&format!("\n\nThe AI would then {}.", then.join(" and ")));
        }
        return vec![ActionKind::Note { text: note }];
    }
    let mut actions = plan_reply(mode, target, text);
    if actions.is_empty() {
        return actions;
    }
    if !tags.is_empty() {
        actions.push(ActionKind::AddTags { names: tags });
    }
    if rules.close {
        actions.push(ActionKind::Close);
    }
    actions
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The actions of a handoff, in order: the final reply (when there is a target), the note for
/// the human (when configured), the handoff tags (when configured, `{reason}` expanded), the
/// reassignment (where a user or team is configured). Never a close: the ticket is the team's
/// now. Shadow mode turns all of it into one internal note and never tags or reassigns.
pub fn plan_handoff(
    mode: Mode,
    handoff: &HandoffRules,
    target: Option<&ReplyTarget>,
    final_reply: &str,
    reason: HandoffReason,
    detail: &str,
    summary: &str,
) -> Vec<ActionKind> {
    let tags = handoff.tags.expand(reason.code());
    if mode == Mode::Shadow {
        let tagging = if tags.is_empty() {
            String::new()
        } else {
            format!("\nIt would add the tags {}.", quoted(&tags))
        };
        return vec![ActionKind::Note {
            text: format!(
                "AI draft (shadow mode): the AI would hand this ticket off.\nReason: {} ({detail}){tagging}\n\nDraft final reply:\n{final_reply}\n\nSummary:\n{summary}",
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
    if !tags.is_empty() {
        actions.push(ActionKind::AddTags { names: tags });
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
            tags: HandoffTags::default(),
            final_reply_offline: None,
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn lifecycle_planner(mode: Mode) -> Planner {
        let mut handoff = handoff(5, 7, true);
        handoff.tags =
            HandoffTags::parse(&strings(&["ai-handoff", "ai-handoff-{reason}"])).unwrap();
        handoff.final_reply_offline = Some("We're closed; we'll answer when we open.".into());
        Planner {
            mode,
            handoff,
            reply: ReplyRules {
                tags: ReplyTags::parse(&strings(&["ai-replied"])).unwrap(),
                close: true,
            },
            hours: None,
        }
    }

    fn kinds(s: &Session) -> Vec<ActionKind> {
        s.outbox.iter().map(|a| a.kind.clone()).collect()
    }

    fn names(actions: &[ActionKind]) -> Vec<&'static str> {
        actions.iter().map(|a| a.name().code()).collect()
    }

    fn planner(mode: Mode) -> Planner {
        Planner {
            mode,
            handoff: handoff(5, 7, true),
            reply: ReplyRules::default(),
            hours: None,
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
            at(2),
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
            at(2),
        );
        assert_eq!(applied.handoff, Some(HandoffReason::SkipTopic));
        assert_eq!(s.state, SessionState::HandedOff);
        assert_eq!(&*s.history.last().unwrap().text, "We'll be in touch.");
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
            at(2),
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

    #[test]
    fn an_ai_reply_is_followed_by_its_tags_then_the_close() {
        let mut s = session_with_question();
        lifecycle_planner(Mode::Live).apply(
            &mut s,
            Decision::Reply {
                text: "It shipped.".into(),
                reason: "topic".into(),
            },
            &[10],
            at(2),
        );
        let k = kinds(&s);
        assert_eq!(names(&k), ["reply", "add_tags", "close"]);
        assert_eq!(
            k[1],
            ActionKind::AddTags {
                names: strings(&["ai-replied"])
            }
        );
        // Dry-run plans (and records) the same actions; only delivery differs.
        let mut s = session_with_question();
        lifecycle_planner(Mode::DryRun).apply(
            &mut s,
            Decision::Reply {
                text: "It shipped.".into(),
                reason: "topic".into(),
            },
            &[10],
            at(2),
        );
        assert_eq!(names(&kinds(&s)), ["reply", "add_tags", "close"]);
    }

    #[test]
    fn without_lifecycle_settings_a_reply_is_only_a_reply() {
        let mut s = session_with_question();
        planner(Mode::Live).apply(
            &mut s,
            Decision::Reply {
                text: "It shipped.".into(),
                reason: "topic".into(),
            },
            &[10],
            at(2),
        );
        assert_eq!(names(&kinds(&s)), ["reply"]);
    }

    #[test]
    fn a_handoff_tags_after_the_final_reply_and_note_before_the_reassignment_and_never_closes() {
        let mut s = session_with_question();
        lifecycle_planner(Mode::Live).apply(
            &mut s,
            Decision::handoff(HandoffReason::SkipTopic, "refunds"),
            &[10],
            at(2),
        );
        let k = kinds(&s);
        assert_eq!(names(&k), ["reply", "note", "add_tags", "reassign"]);
        assert_eq!(
            k[2],
            ActionKind::AddTags {
                names: strings(&["ai-handoff", "ai-handoff-skip_topic"])
            }
        );
        assert!(!k.contains(&ActionKind::Close));
    }

    #[test]
    fn a_refused_reply_is_not_tagged_or_closed_and_its_handoff_is_tagged() {
        let mut s = session_with_question();
        let p = lifecycle_planner(Mode::Live);
        p.apply(
            &mut s,
            Decision::Reply {
                text: "hi".into(),
                reason: "x".into(),
            },
            &[10],
            at(2),
        );
        // The reply is refused: its tags and close go with it; the handoff that follows adds
        // its own tags and never closes.
        p.give_up_head(&mut s, "400".into(), 3);
        let k = kinds(&s);
        assert_eq!(names(&k), ["note", "add_tags", "reassign"]);
        assert_eq!(
            k[1],
            ActionKind::AddTags {
                names: strings(&["ai-handoff", "ai-handoff-delivery_failed"])
            }
        );
    }

    #[test]
    fn shadow_mode_says_what_would_have_been_tagged_and_closed_and_does_neither() {
        let mut s = session_with_question();
        lifecycle_planner(Mode::Shadow).apply(
            &mut s,
            Decision::Reply {
                text: "It shipped.".into(),
                reason: "topic".into(),
            },
            &[10],
            at(2),
        );
        let k = kinds(&s);
        assert_eq!(names(&k), ["note"]);
        let ActionKind::Note { text } = &k[0] else {
            panic!("{k:?}")
        };
        assert!(text.contains("It shipped."), "{text}");
        assert!(
            text.contains("would then add the tags \"ai-replied\" and close the ticket"),
            "{text}"
        );

        let mut s = session_with_question();
        lifecycle_planner(Mode::Shadow).apply(
            &mut s,
            Decision::handoff(HandoffReason::SkipTopic, "refunds"),
            &[10],
            at(2),
        );
        let k = kinds(&s);
        assert_eq!(names(&k), ["note"]);
        let ActionKind::Note { text } = &k[0] else {
            panic!("{k:?}")
        };
        assert!(
            text.contains("would add the tags \"ai-handoff\", \"ai-handoff-skip_topic\""),
            "{text}"
        );
    }

    fn weekdays_nine_to_five() -> BusinessHours {
        use crate::domain::hours::BusinessHoursSettings;
        let day = |v: &str| Some(v.to_string());
        BusinessHours::from_settings(&BusinessHoursSettings {
            timezone: Some("America/New_York".into()),
            mon: day("09:00-17:00"),
            tue: day("09:00-17:00"),
            wed: day("09:00-17:00"),
            thu: day("09:00-17:00"),
            fri: day("09:00-17:00"),
            sat: day(""),
            sun: day(""),
        })
        .unwrap()
    }

    fn final_reply_at(p: &Planner, when: &str, brain_reply: Option<&str>) -> String {
        let mut s = session_with_question();
        p.apply(
            &mut s,
            Decision::Handoff {
                reason: HandoffReason::ModelHandoff,
                detail: String::new(),
                reply: brain_reply.map(str::to_string),
                summary: None,
            },
            &[10],
            when.parse().unwrap(),
        );
        match &s.outbox[0].kind {
            ActionKind::Reply { text, .. } => text.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outside_business_hours_the_handoff_uses_the_offline_final_reply() {
        let mut p = lifecycle_planner(Mode::Live);
        p.hours = Some(weekdays_nine_to_five());
        // Sunday 03:00 in New York.
        let sunday_night = "2026-03-08T08:00:00Z";
        // Monday 10:00 in New York (EDT since the Sunday before).
        let monday_morning = "2026-03-09T14:00:00Z";
        let offline = "We're closed; we'll answer when we open.";
        assert_eq!(final_reply_at(&p, sunday_night, None), offline);
        // The offline reply wins over the brain's own words, which cannot know the hours.
        assert_eq!(
            final_reply_at(&p, sunday_night, Some("Someone will reply shortly.")),
            offline
        );
        assert_eq!(
            final_reply_at(&p, monday_morning, None),
            "We'll be in touch."
        );
        assert_eq!(
            final_reply_at(&p, monday_morning, Some("A colleague takes over.")),
            "A colleague takes over."
        );
        // Without an offline reply, or without business hours, the usual reply at any hour.
        p.handoff.final_reply_offline = None;
        assert_eq!(final_reply_at(&p, sunday_night, None), "We'll be in touch.");
        let mut always_open = lifecycle_planner(Mode::Live);
        always_open.hours = None;
        assert_eq!(
            final_reply_at(&always_open, sunday_night, None),
            "We'll be in touch."
        );
    }
}
