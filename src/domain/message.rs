//! A customer message as the rest of the agent sees it: already read from the wire and
//! classified, with the customer and the addresses a reply needs.

use serde::{Deserialize, Serialize};

use super::orders::Order;

/// The most orders carried with a message (newest first): enough for any conversation, and a
/// bound on what an inbox entry holds whatever the customer's history.
pub const MAX_CARRIED_ORDERS: usize = 30;

/// Marks the agent's own posted messages (`external_id` prefix), so their echo is recognised.
pub const EXTERNAL_ID_PREFIX: &str = "gorgias-agent:";

/// One side of a message's `source` (`from`, or one of `to`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The customer on a ticket, as replies need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: Option<u64>,
    pub email: String,
    pub name: Option<String>,
}

/// A customer message the AI must answer: everything a turn and a reply need, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMessage {
    pub ticket_id: u64,
    pub message_id: u64,
    /// The channel to answer on (`email`, `chat`, ...).
    pub channel: String,
    pub customer: Customer,
    /// Where the customer wrote from (reply `source.to`).
    pub customer_address: Address,
    /// Where the customer wrote to (reply `source.from`), when Gorgias told us.
    pub support_address: Option<Address>,
    pub subject: Option<String>,
    /// The ticket's language as Gorgias set it; older stored messages have none.
    #[serde(default)]
    pub language: Option<String>,
    pub text: String,
    pub created_datetime: Option<String>,
    /// When intake accepted it (unix ms): the start of the console's first-reply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_ms: Option<u64>,
    /// The customer's orders as the webhook body carried them, normalized and bounded (at most
    /// [`MAX_CARRIED_ORDERS`]); empty when the body had none. Only the turn reads them: the
    /// session keeps what the turn used, not this.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<Order>,
    /// For `{customer.first_name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
}

#[cfg(test)]
impl CustomerMessage {
    /// A plain customer message for tests: chat channel, customer `c@x` (id 9).
    pub fn sample(ticket_id: u64, message_id: u64, text: &str) -> CustomerMessage {
        CustomerMessage {
            ticket_id,
            message_id,
            channel: "chat".into(),
            customer: Customer {
                id: Some(9),
                email: "c@x".into(),
                name: None,
            },
            customer_address: Address {
                address: "c@x".into(),
                name: None,
            },
            support_address: None,
            subject: None,
            language: None,
            text: text.into(),
            created_datetime: None,
            accepted_ms: None,
            orders: Vec::new(),
            first_name: None,
        }
    }
}
