//! `POST /webhooks/gorgias`: authenticate, bound the body, parse, filter, deduplicate, store
//! durably, wake the ticket, answer. Nothing is acknowledged before it is flushed to disk.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;
use tracing_actix_web::RootSpan;

use super::{error_response, secret_matches, AppState};
use crate::dedup::{dedup_key, Admission, Admit, Forget};
use crate::filter::{classify, IgnoreReason};
use crate::gorgias::webhook::parse_event;
use crate::metrics::unavailable_reason;
use crate::store::{InboxKey, Write};
use crate::tickets::supervisor::WakeTicket;
use crate::time::now_secs;

use super::recent::IntakeDecision;

/// How long intake waits for an actor before answering 503 (Gorgias retries): a full mailbox
/// means the agent is overloaded, and Gorgias's own timeout is only a few seconds.
const ACTOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The secret from `X-Webhook-Token`, `Authorization: Bearer`, or `?token=`.
fn presented_token(req: &HttpRequest) -> Option<String> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(t) = header("X-Webhook-Token") {
        return Some(t.to_string());
    }
    if let Some(auth) = header("Authorization") {
        if let Some((scheme, token)) = auth.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(token.trim().to_string());
            }
        }
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("token").cloned())
}

async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, HttpResponse> {
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body is larger than server.max_body_bytes ({limit} bytes)"),
        )
    };
    let declared = req
        .headers()
        .get("Content-Length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            error_response(StatusCode::BAD_REQUEST, format!("cannot read body: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Logs, counts and remembers an intake decision, then answers 200 with it.
fn decided(
    state: &AppState,
    ticket_id: u64,
    message_id: Option<u64>,
    outcome: &'static str,
    reason: &'static str,
) -> HttpResponse {
    tracing::info!(ticket_id, message_id, outcome, reason, "decision");
    state.metrics.webhook(outcome, reason);
    let mut body = json!({ "outcome": outcome, "ticket_id": ticket_id });
    match outcome {
        "ignored" => body["reason"] = json!(reason),
        _ => body["message_id"] = json!(message_id),
    }
    if outcome != "accepted" {
        state.recent_intake.record(
            ticket_id,
            IntakeDecision {
                at: now_secs(),
                outcome: outcome.to_string(),
                reason: reason.to_string(),
                message_id,
            },
        );
    }
    HttpResponse::Ok().json(body)
}

fn ignored(
    state: &AppState,
    ticket_id: u64,
    message_id: Option<u64>,
    reason: IgnoreReason,
) -> HttpResponse {
    decided(state, ticket_id, message_id, "ignored", reason.code())
}

fn unavailable(state: &AppState, ticket_id: u64, message_id: u64, reason: &str) -> HttpResponse {
    tracing::warn!(
        ticket_id,
        message_id,
        outcome = "unavailable",
        reason,
        "webhook not accepted; Gorgias will retry"
    );
    let code = unavailable_reason(reason);
    state.metrics.webhook("unavailable", code);
    state.recent_intake.record(
        ticket_id,
        IntakeDecision {
            at: now_secs(),
            outcome: "unavailable".into(),
            reason: code.to_string(),
            message_id: Some(message_id),
        },
    );
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the event could not be stored ({reason}); retry later"),
    )
}

pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    root_span: RootSpan,
) -> HttpResponse {
    let metrics = &state.metrics;
    let state = state.get_ref();
    let authorized =
        presented_token(&req).is_some_and(|token| secret_matches(&token, &state.webhook_token));
    if !authorized {
        tracing::warn!(outcome = "unauthorized", "webhook without a valid secret");
        metrics.webhook("unauthorized", "bad_secret");
        return error_response(
            StatusCode::UNAUTHORIZED,
            "missing or wrong webhook secret (X-Webhook-Token, Authorization: Bearer, or ?token=)",
        );
    }
    let body = match read_body(&req, payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => {
            let reason = if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "unreadable"
            };
            tracing::info!(outcome = "rejected", reason, "webhook body refused");
            metrics.webhook("rejected", reason);
            return response;
        }
    };
    let event = match parse_event(&body) {
        Ok(event) => event,
        Err(e) => {
            tracing::info!(outcome = "rejected", reason = %e, "malformed webhook");
            metrics.webhook("rejected", "malformed");
            return error_response(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let ticket_id = event.ticket.id;
    root_span.record("ticket_id", ticket_id);
    let message_id = event.message.as_ref().and_then(|m| m.id);
    if let Some(id) = message_id {
        root_span.record("message_id", id);
    }

    let message = match classify(&event, &state.rules) {
        Ok(message) => message,
        Err(reason) => return ignored(state, ticket_id, message_id, reason),
    };
    if message_id.is_none() {
        tracing::info!(
            ticket_id,
            outcome = "rejected",
            reason = "missing_message_id",
            "malformed webhook"
        );
        metrics.webhook("rejected", "missing_message_id");
        return error_response(
            StatusCode::BAD_REQUEST,
            "message.id is missing: a customer message needs its Gorgias id",
        );
    }
    let message_id = message.message_id;
    match state.store.is_handed_off(ticket_id) {
        Ok(true) => return ignored(state, ticket_id, Some(message_id), IgnoreReason::HandedOff),
        Ok(false) => {}
        Err(e) => return unavailable(state, ticket_id, message_id, &e.to_string()),
    }

    let sender = event
        .message
        .as_ref()
        .and_then(|m| m.sender.email.clone())
        .unwrap_or_else(|| message.customer.email.clone());
    let key = dedup_key(ticket_id, message_id, &sender, &message.text);
    let dedup_write = match state.dedup.send(Admit(key)).timeout(ACTOR_TIMEOUT).await {
        Ok((Admission::Duplicate, _)) => {
            return decided(
                state,
                ticket_id,
                Some(message_id),
                "duplicate",
                "redelivery",
            )
        }
        Ok((Admission::Fresh { .. }, write)) => write,
        Err(_) => return unavailable(state, ticket_id, message_id, "the agent is overloaded"),
    };

    let seq = match state.store.next_seq() {
        Ok(seq) => seq,
        Err(e) => {
            state.dedup.do_send(Forget(key));
            return unavailable(state, ticket_id, message_id, &e.to_string());
        }
    };
    // The event before its dedup entry: whatever prefix of this commit survives a crash, a
    // stored dedup entry always has its stored event.
    let mut writes = vec![Write::inbox_put(InboxKey { ticket_id, seq }, &message)];
    writes.extend(dedup_write);
    if let Err(e) = state.store.commit(writes).await {
        state.dedup.do_send(Forget(key));
        return unavailable(state, ticket_id, message_id, &e.to_string());
    }
    // Stored, so a wake-up that does not fit in the supervisor's bounded mailbox is not lost:
    // its sweep picks the ticket up within seconds. Not awaited: the answer does not depend on it.
    if let Err(e) = state.supervisor.try_send(WakeTicket(ticket_id)) {
        tracing::warn!(ticket_id, message_id, error = %e, "ticket supervisor busy; the stored message will be picked up by its sweep");
    }
    decided(
        state,
        ticket_id,
        Some(message_id),
        "accepted",
        "customer_message",
    )
}
