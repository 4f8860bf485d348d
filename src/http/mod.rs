//! The HTTP surface: routes, shared state, the root tracing span, and JSON error bodies.

pub mod admin;
pub mod console;
pub mod deadline;
pub mod health;
pub mod metrics;
pub mod webhook;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{web, HttpMessage, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use crate::config::Secret;
use crate::dedup::DedupActor;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tickets::supervisor::TicketSupervisor;

/// What request handlers share.
pub struct AppState {
    pub webhook_token: Secret,
    pub max_body_bytes: usize,
    pub intake: Intake,
    pub store: Store,
    pub dedup: actix::Addr<DedupActor>,
    pub supervisor: actix::Addr<TicketSupervisor>,
    /// Bearer token of `/admin/*`; empty disables the admin API.
    pub admin_token: Secret,
    pub metrics: Metrics,
    /// `/readyz` fails while an outbound action has been failing for longer than this.
    pub outbox_stuck_after: std::time::Duration,
    /// The operator console's sign-ins and settings.
    pub console: console::ConsoleState,
    /// What `GET /admin/settings` shows.
    pub settings_view: admin::SettingsView,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/gorgias", web::post().to(webhook::receive))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::scrape))
        .configure(admin::routes)
        .configure(console::routes);
}

/// `{"error": "..."}` with a status.
pub fn error_response(
    status: actix_web::http::StatusCode,
    message: impl Into<String>,
) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message.into() }))
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    authorization
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Constant-time comparison of a presented secret with the configured one (both hashed first,
/// so neither content nor length leaks through timing).
pub fn secret_matches(presented: &str, expected: &Secret) -> bool {
    if expected.is_empty() {
        return false;
    }
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.expose().as_bytes());
    a.ct_eq(&b).into()
}

/// The root span of every request: the usual HTTP fields (the target without its query string,
/// which may carry the webhook secret), plus the ticket and message ids once known.
pub struct AgentRootSpan;

impl RootSpanBuilder for AgentRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_string());
        tracing::info_span!(
            "http_request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            ticket_id = tracing::field::Empty,
            message_id = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_exactly() {
        let s = Secret::new("dev-token");
        assert!(secret_matches("dev-token", &s));
        assert!(!secret_matches("dev-token ", &s));
        assert!(!secret_matches("", &s));
        assert!(!secret_matches("", &Secret::new("")));
    }

    #[test]
    fn bearer_tokens_are_read_whatever_the_scheme_case_and_spacing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("  bearer   abc  "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
