//! Liveness and readiness.

use std::time::Duration;

use actix_web::{http::StatusCode, web, HttpResponse};
use serde_json::json;

use super::{error_response, AppState};
use crate::store::StoreHealth;
use crate::tickets::supervisor::LiveActors;

/// How long an outbound action may keep failing before `/readyz` reports the outbox stuck: a
/// tenth of the retry budget (`gorgias.retry_for_secs`, 90 s by default), at least one second.
/// Long enough to ride out a blip, well before the action would be given up on.
pub fn outbox_stuck_after(retry_for: Duration) -> Duration {
    Duration::from_secs((retry_for.as_secs() / 10).max(1))
}

/// `GET /healthz`: 200 while the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when storage takes writes (its last write went through, none is stuck, the
/// commit queue has room), the ticket supervisor answers, and no outbound action has been
/// failing for longer than `outbox_stuck_after`; 503 with the reason otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let storage = match state.store.health() {
        StoreHealth::Ready => None,
        // The error itself is in the committer's log: it can carry OS error text and paths,
        // and this endpoint answers anyone.
        StoreHealth::Failing(_) => {
            Some("storage: the last write failed; retrying by itself (the log says why)".into())
        }
        StoreHealth::Stuck(busy) => Some(format!(
            "storage: a write has been waiting for the disk for {} ms (the disk may be unwritable or stalled)",
            busy.as_millis()
        )),
        StoreHealth::QueueFull(queued) => Some(format!(
            "storage: the commit queue is full ({queued} writes waiting)"
        )),
    };
    if let Some(reason) = storage {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, reason);
    }
    let answer =
        tokio::time::timeout(Duration::from_secs(2), state.supervisor.send(LiveActors)).await;
    let Ok(Ok(live)) = answer else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "actors: the ticket supervisor does not answer",
        );
    };
    let outbox = super::metrics::outbox_status(&state.store).await;
    if let Some(stuck) = outbox
        .oldest_failure
        .as_ref()
        .filter(|o| o.failing_for_secs > state.outbox_stuck_after.as_secs())
    {
        return HttpResponse::ServiceUnavailable().json(json!({
            "error": format!(
                "outbox: the {} action of ticket {} has been failing for {} s (over {} s); Gorgias may be down or refusing the agent's calls",
                stuck.action.code(),
                stuck.ticket_id,
                stuck.failing_for_secs,
                state.outbox_stuck_after.as_secs()
            ),
            "ticket_id": stuck.ticket_id,
            "attempts": stuck.attempts,
            "last_error": stuck.last_error,
            "retrying_actions": outbox.retrying,
        }));
    }
    HttpResponse::Ok().json(json!({
        "status": "ready",
        "live_ticket_actors": live,
        "outbox_pending_actions": outbox.pending,
        "outbox_retrying_actions": outbox.retrying,
    }))
}
