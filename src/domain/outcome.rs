//! Every outcome and reason the agent reports, as enums with a `code()`: the codes are the
//! contract of webhook answers, stored decisions, logs and metric labels, so a typo cannot
//! invent a new one.

use serde::{Deserialize, Serialize};

/// Why an event is not acted on; the `code` is the contract of the webhook response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoreReason {
    NotAssignedToAi,
    Unassigned,
    AgentMessage,
    InternalNote,
    NotFromCustomer,
    HandedOff,
    AutopilotOff,
    ChannelDisabled,
    NoMessage,
}

impl IgnoreReason {
    pub fn code(self) -> &'static str {
        match self {
            IgnoreReason::NotAssignedToAi => "not_assigned_to_ai",
            IgnoreReason::Unassigned => "unassigned",
            IgnoreReason::AgentMessage => "agent_message",
            IgnoreReason::InternalNote => "internal_note",
            IgnoreReason::NotFromCustomer => "not_from_customer",
            IgnoreReason::HandedOff => "handed_off",
            IgnoreReason::AutopilotOff => "autopilot_off",
            IgnoreReason::ChannelDisabled => "channel_disabled",
            IgnoreReason::NoMessage => "no_message",
        }
    }
}

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
    /// The model refused to answer (an OpenAI-compatible `refusal`).
    ModelRefused,
    /// Gorgias refused a reply permanently.
    DeliveryFailed,
    /// The customer asks for something the agent cannot do (cancel, change, add, edit).
    NeedsAction,
    /// The customer complains about a damaged, wrong or missing item.
    Complaint,
    /// The conversation names an order that is not among the customer's: never described.
    OrderNotFound,
    /// The answer needs order data the customer does not have, and the topic has no
    /// `answer_no_order`.
    NoOrderData,
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
            HandoffReason::ModelRefused => "model_refused",
            HandoffReason::DeliveryFailed => "delivery_failed",
            HandoffReason::NeedsAction => "needs_action",
            HandoffReason::Complaint => "complaint",
            HandoffReason::OrderNotFound => "order_not_found",
            HandoffReason::NoOrderData => "no_order_data",
        }
    }
}

/// The Gorgias action an outbox entry is; `code` labels logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionName {
    Reply,
    Note,
    Reassign,
    AddTags,
    Close,
}

impl ActionName {
    pub fn code(self) -> &'static str {
        match self {
            ActionName::Reply => "reply",
            ActionName::Note => "note",
            ActionName::Reassign => "reassign",
            ActionName::AddTags => "add_tags",
            ActionName::Close => "close",
        }
    }
}

/// What was decided on a ticket, as stored in its session's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    Replied,
    HandedOff,
    Ignored,
    Resumed,
    ActionFailed,
}

impl DecisionOutcome {
    pub fn code(self) -> &'static str {
        match self {
            DecisionOutcome::Replied => "replied",
            DecisionOutcome::HandedOff => "handed_off",
            DecisionOutcome::Ignored => "ignored",
            DecisionOutcome::Resumed => "resumed",
            DecisionOutcome::ActionFailed => "action_failed",
        }
    }
}

/// Lets tests and operators' tools compare an outcome with its code.
impl PartialEq<&str> for DecisionOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

/// Why a decision was taken; stored as its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionReason {
    /// The brain answered.
    Answered,
    Handoff(HandoffReason),
    Ignored(IgnoreReason),
    /// An operator resumed the ticket.
    Operator,
    /// The action given up on.
    Action(ActionName),
}

impl DecisionReason {
    pub fn code(self) -> &'static str {
        match self {
            DecisionReason::Answered => "answered",
            DecisionReason::Handoff(r) => r.code(),
            DecisionReason::Ignored(r) => r.code(),
            DecisionReason::Operator => "operator",
            DecisionReason::Action(a) => a.code(),
        }
    }
}

/// How a webhook delivery ended, as the webhook answer, logs and metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeOutcome {
    Accepted,
    Ignored,
    Duplicate,
    /// Refused before intake: body too large, unreadable or malformed.
    Rejected,
    Unauthorized,
    /// Could not be stored; Gorgias retries.
    Unavailable,
}

impl IntakeOutcome {
    pub fn code(self) -> &'static str {
        match self {
            IntakeOutcome::Accepted => "accepted",
            IntakeOutcome::Ignored => "ignored",
            IntakeOutcome::Duplicate => "duplicate",
            IntakeOutcome::Rejected => "rejected",
            IntakeOutcome::Unauthorized => "unauthorized",
            IntakeOutcome::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_match_the_contract() {
        let codes: Vec<_> = [
            IgnoreReason::NotAssignedToAi,
            IgnoreReason::Unassigned,
            IgnoreReason::AgentMessage,
            IgnoreReason::InternalNote,
            IgnoreReason::NotFromCustomer,
            IgnoreReason::HandedOff,
            IgnoreReason::AutopilotOff,
            IgnoreReason::ChannelDisabled,
            IgnoreReason::NoMessage,
        ]
        .iter()
        .map(|r| r.code())
        .collect();
        assert_eq!(
            codes,
            [
                "not_assigned_to_ai",
                "unassigned",
                "agent_message",
                "internal_note",
                "not_from_customer",
                "handed_off",
                "autopilot_off",
                "channel_disabled",
                "no_message"
            ]
        );
        for r in [IgnoreReason::NotAssignedToAi, IgnoreReason::HandedOff] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
    }

    #[test]
    fn stored_and_answered_codes_are_what_serde_writes() {
        for o in [
            DecisionOutcome::Replied,
            DecisionOutcome::HandedOff,
            DecisionOutcome::Ignored,
            DecisionOutcome::Resumed,
            DecisionOutcome::ActionFailed,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.code());
            assert_eq!(o, o.code());
        }
        for o in [
            IntakeOutcome::Accepted,
            IntakeOutcome::Ignored,
            IntakeOutcome::Duplicate,
            IntakeOutcome::Rejected,
            IntakeOutcome::Unauthorized,
            IntakeOutcome::Unavailable,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.code());
        }
        for r in [HandoffReason::SkipTopic, HandoffReason::DeliveryFailed] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
            assert_eq!(DecisionReason::Handoff(r).code(), r.code());
        }
        assert_eq!(
            DecisionReason::Action(ActionName::Reassign).code(),
            "reassign"
        );
    }
}
