//! Carries out one outbox action against Gorgias, as the mode says: `live` and `shadow` call
//! Gorgias (shadow never plans public
//! replies, reassignment, tags or closing), `dry-run` calls nothing.
//! A post whose earlier outcome is unknown is first looked up by its `external_id`.
//! A recording delivery (replay's) is a dry-run that keeps what it would have done.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;

use crate::domain::plan::Mode;
use crate::domain::session::{ActionKind, OutboundAction};
use crate::domain::tags::AddTags;
use crate::gorgias::api::{assign_body, note_body, reply_body, GorgiasApi, GorgiasError, Sender};

pub struct Delivery {
    mode: Mode,
    api: Option<GorgiasApi>,
    sender: Sender,
    recording: Option<Recording>,
}

/// The actions a recording delivery was asked to carry out, by ticket, in order.
#[derive(Debug, Clone, Default)]
pub struct Recording(Rc<RefCell<HashMap<u64, Vec<ActionKind>>>>);

impl Recording {
    /// Takes (and forgets) what was recorded for `ticket_id`.
    pub fn take(&self, ticket_id: u64) -> Vec<ActionKind> {
        self.0.borrow_mut().remove(&ticket_id).unwrap_or_default()
    }
}

impl Delivery {
    /// `api` is `None` in dry-run mode (no client is even built).
    pub fn new(mode: Mode, api: Option<GorgiasApi>, sender: Sender) -> Delivery {
        Delivery {
            mode,
            api,
            sender,
            recording: None,
        }
    }

    /// A dry-run delivery that records every action instead of calling Gorgias.
    pub fn recording(sender: Sender) -> (Delivery, Recording) {
        let recording = Recording::default();
        let delivery = Delivery {
            recording: Some(recording.clone()),
            ..Delivery::new(Mode::DryRun, None, sender)
        };
        (delivery, recording)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Executes `action`; returns the Gorgias id of a posted message.
    pub async fn execute(
        &self,
        ticket_id: u64,
        action: &OutboundAction,
    ) -> Result<Option<u64>, GorgiasError> {
        let api = match (&self.api, self.mode) {
            (Some(api), Mode::Live | Mode::Shadow) => api,
            _ => {
                if let Some(recording) = &self.recording {
                    let mut recorded = recording.0.borrow_mut();
                    recorded
                        .entry(ticket_id)
                        .or_default()
                        .push(action.kind.clone());
                }
                tracing::info!(
                    ticket_id,
                    action = action.kind.name().code(),
                    external_id = %action.external_id,
                    "dry-run: Gorgias not called"
                );
                return Ok(None);
            }
        };
        match &action.kind {
            ActionKind::Reply { target, text } => {
                let body = reply_body(target, text, &self.sender, &action.external_id);
                self.post_once(api, ticket_id, action, &body)
                    .await
                    .map(Some)
            }
            ActionKind::Note { text } => {
                let body = note_body(text, &self.sender, &action.external_id);
                self.post_once(api, ticket_id, action, &body)
                    .await
                    .map(Some)
            }
            ActionKind::Reassign { user_id, team_id } => api
                .update_ticket(ticket_id, &assign_body(*user_id, *team_id))
                .await
                .map(|_| None),
            // Adding a tag twice or closing a closed ticket changes nothing: after an unknown
            // outcome these are simply sent again, no lookup needed.
            ActionKind::AddTags { names } => api
                .add_tags(
                    ticket_id,
                    &AddTags {
                        names: names.clone(),
                    },
                )
                .await
                .map(|_| None),
            ActionKind::Close => api.close_ticket(ticket_id).await.map(|_| None),
        }
    }

    /// Posting is not idempotent in Gorgias: when an earlier attempt may have gone through,
    /// look for our `external_id` on the ticket before posting again.
    async fn post_once(
        &self,
        api: &GorgiasApi,
        ticket_id: u64,
        action: &OutboundAction,
        body: &Value,
    ) -> Result<u64, GorgiasError> {
        if action.maybe_sent {
            let existing = api.list_messages(ticket_id).await?;
            if let Some(found) = existing
                .iter()
                .find(|m| m.external_id.as_deref() == Some(action.external_id.as_str()))
            {
                tracing::info!(
                    ticket_id,
                    external_id = %action.external_id,
                    message_id = found.id,
                    "earlier post found on the ticket; not posting again"
                );
                return Ok(found.id);
            }
        }
        api.create_message(ticket_id, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::OutboundAction;

    fn action(kind: ActionKind) -> OutboundAction {
        OutboundAction {
            seq: 1,
            external_id: "gorgias-agent:1:1".into(),
            kind,
            attempts: 0,
            first_failure_at: None,
            maybe_sent: false,
            last_error: None,
        }
    }

    #[actix::test]
    async fn a_recording_delivery_keeps_each_tickets_actions_in_order() {
        let sender = Sender {
            ai_user_id: 1,
            name: "AI".into(),
            email: String::new(),
        };
        let (delivery, recording) = Delivery::recording(sender);
        assert_eq!(delivery.mode(), Mode::DryRun);
        let note = ActionKind::Note { text: "n".into() };
        let reassign = ActionKind::Reassign {
            user_id: Some(2),
            team_id: None,
        };
        for (ticket, kind) in [(7, &note), (8, &note), (7, &reassign)] {
            assert_eq!(
                delivery
                    .execute(ticket, &action(kind.clone()))
                    .await
                    .unwrap(),
                None
            );
        }
        assert_eq!(recording.take(7), vec![note.clone(), reassign]);
        assert_eq!(recording.take(7), Vec::new());
        assert_eq!(recording.take(8), vec![note]);
    }
}
