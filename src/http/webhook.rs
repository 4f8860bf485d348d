//! `POST /webhooks/gorgias`, a thin adapter: authenticate, bound and read the body, parse it,
//! hand the event to [`crate::intake`], and map the typed result to an answer.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde_json::json;
use tracing_actix_web::RootSpan;

use super::{bearer_token, secret_matches, AppState};
use crate::domain::outcome::IntakeOutcome;
use crate::gorgias::webhook::{parse_event, ParseError};
use crate::intake::{IntakeResult, Rejected, Unavailable};

/// Why a webhook gets no 200; each maps to one status.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "missing or wrong webhook secret (X-Webhook-Token, Authorization: Bearer, or ?token=)"
    )]
    Unauthorized,
    #[error("body is larger than server.max_body_bytes ({0} bytes)")]
    TooLarge(usize),
    #[error("cannot read body: {0}")]
    Unreadable(String),
    #[error("{}", super::deadline::TIMEOUT_MESSAGE)]
    BodyTimeout,
    #[error(transparent)]
    Malformed(#[from] ParseError),
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The cause is in intake's log line; the answer says only which kind it was, never the
    /// storage error's text (OS errors carry paths and system details).
    #[error("the event could not be stored ({}); retry later", unavailable_summary(.0))]
    Unavailable(Unavailable),
}

impl WebhookError {
    /// The outcome and bounded reason code that logs and metrics carry.
    fn outcome(&self) -> (IntakeOutcome, &'static str) {
        match self {
            WebhookError::Unauthorized => (IntakeOutcome::Unauthorized, "bad_secret"),
            WebhookError::TooLarge(_) => (IntakeOutcome::Rejected, "too_large"),
            WebhookError::Unreadable(_) => (IntakeOutcome::Rejected, "unreadable"),
            WebhookError::BodyTimeout => (IntakeOutcome::Rejected, "body_timeout"),
            WebhookError::Malformed(_) => (IntakeOutcome::Rejected, "malformed"),
            WebhookError::Rejected(r) => (IntakeOutcome::Rejected, r.code()),
            WebhookError::Unavailable(cause) => (IntakeOutcome::Unavailable, cause.code()),
        }
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebhookError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            WebhookError::Unreadable(_)
            | WebhookError::Malformed(_)
            | WebhookError::Rejected(_) => StatusCode::BAD_REQUEST,
            WebhookError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({ "error": self.to_string() }))
    }
}

/// What a 503 says of its cause.
fn unavailable_summary(cause: &Unavailable) -> &'static str {
    match cause.code() {
        "overloaded" => "the agent is overloaded",
        _ => "storage unavailable",
    }
}

/// The secret from `X-Webhook-Token`, `Authorization: Bearer`, or `?token=`.
fn presented_token(req: &HttpRequest) -> Option<String> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(t) = header("X-Webhook-Token") {
        return Some(t.trim().to_string());
    }
    if let Some(token) = header("Authorization").and_then(bearer_token) {
        return Some(token.to_string());
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("token").cloned())
}

async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, WebhookError> {
    let declared = req
        .headers()
        .get("Content-Length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(WebhookError::TooLarge(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            if super::deadline::is_timeout(&e) {
                WebhookError::BodyTimeout
            } else {
                WebhookError::Unreadable(e.to_string())
            }
        })?;
        if body.len() + chunk.len() > limit {
            return Err(WebhookError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The 200 answer of an event intake took a decision on.
fn answer(result: IntakeResult) -> Result<HttpResponse, WebhookError> {
    let outcome = result.outcome().code();
    let body = match result {
        IntakeResult::Accepted {
            ticket_id,
            message_id,
        }
        | IntakeResult::Duplicate {
            ticket_id,
            message_id,
        } => json!({ "outcome": outcome, "ticket_id": ticket_id, "message_id": message_id }),
        IntakeResult::Ignored {
            ticket_id, reason, ..
        } => json!({ "outcome": outcome, "ticket_id": ticket_id, "reason": reason.code() }),
        IntakeResult::Unavailable { cause, .. } => return Err(WebhookError::Unavailable(cause)),
    };
    Ok(HttpResponse::Ok().json(body))
}

pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    root_span: RootSpan,
) -> Result<HttpResponse, WebhookError> {
    let mut ticket_id = None;
    let result = async {
        let authorized =
            presented_token(&req).is_some_and(|token| secret_matches(&token, &state.webhook_token));
        if !authorized {
            return Err(WebhookError::Unauthorized);
        }
        let body = read_body(&req, payload, state.max_body_bytes).await?;
        let event = parse_event(&body)?;
        ticket_id = Some(event.ticket.id);
        root_span.record("ticket_id", event.ticket.id);
        if let Some(id) = event.message.as_ref().and_then(|m| m.id) {
            root_span.record("message_id", id);
        }
        answer(state.intake.offer(&event).await?)
    }
    .await;
    // Intake logs and counts its own decisions; what it never saw is reported here.
    if let Err(e) = &result {
        let (outcome, reason) = e.outcome();
        match e {
            WebhookError::Unavailable(_) => {}
            WebhookError::Unauthorized => {
                tracing::warn!(outcome = outcome.code(), "webhook without a valid secret");
                state.metrics.webhook(outcome, reason);
            }
            WebhookError::TooLarge(_) | WebhookError::Unreadable(_) | WebhookError::BodyTimeout => {
                tracing::info!(outcome = outcome.code(), reason, "webhook body refused");
                state.metrics.webhook(outcome, reason);
            }
            WebhookError::Malformed(error) => {
                // The error names the path and the types, never a value of the body.
                tracing::info!(
                    outcome = outcome.code(),
                    reason,
                    path = error.path(),
                    error = %error,
                    "malformed webhook"
                );
                state.metrics.webhook(outcome, reason);
            }
            WebhookError::Rejected(_) => {
                tracing::info!(
                    ticket_id,
                    outcome = outcome.code(),
                    reason,
                    "malformed webhook"
                );
                state.metrics.webhook(outcome, reason);
            }
        }
    }
    result
}
