//! Liveness and readiness.

use std::time::Duration;

use actix_web::{http::StatusCode, web, HttpResponse};
use serde_json::json;

use super::{error_response, AppState};
use crate::tickets::supervisor::LiveActors;

/// `GET /healthz`: 200 while the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when storage takes writes and the ticket supervisor answers.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if !state.store.is_healthy() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage: the last write failed",
        );
    }
    let answer =
        tokio::time::timeout(Duration::from_secs(2), state.supervisor.send(LiveActors)).await;
    match answer {
        Ok(Ok(live)) => {
            HttpResponse::Ok().json(json!({ "status": "ready", "live_ticket_actors": live }))
        }
        _ => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "actors: the ticket supervisor does not answer",
        ),
    }
}
