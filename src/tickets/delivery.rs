//! Carries out one outbox action against Gorgias, as the mode says: `live` and `shadow` call
//! Gorgias (shadow never plans public
//! replies, reassignment, tags or closing), `dry-run` calls nothing.
//! A post whose earlier outcome is unknown is first looked up by its `external_id`.

use serde_json::Value;

use crate::domain::plan::Mode;
use crate::domain::session::{ActionKind, OutboundAction};
use crate::domain::tags::AddTags;
use crate::gorgias::api::{assign_body, note_body, reply_body, GorgiasApi, GorgiasError, Sender};

pub struct Delivery {
    mode: Mode,
    api: Option<GorgiasApi>,
    sender: Sender,
}

impl Delivery {
    /// `api` is `None` in dry-run mode (no client is even built).
    pub fn new(mode: Mode, api: Option<GorgiasApi>, sender: Sender) -> Delivery {
        Delivery { mode, api, sender }
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
