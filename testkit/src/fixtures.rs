//! The public Gorgias sample payloads kept in the main crate's `tests/fixtures`, and the
//! shipped configuration.

/// A customer's message on a ticket, as Gorgias' HTTP integration sends it.
pub const MAIN_FIXTURE: &str = include_str!(
    "../../tests/fixtures/synthetic-context-ticket-message-created.customer-message.json"
);

/// The shipped `config.toml`.
pub const SHIPPED_CONFIG: &str = include_str!("../../config.toml");
