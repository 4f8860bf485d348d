//! The admin API (`Authorization: Bearer <server.admin_token>`): a ticket's session with every
//! decision, a list of recent sessions, resuming a handed-off ticket, and the settings that shape
//! what the AI does to a ticket (tags, closing, business hours). Every route answers
//! 404 while `server.admin_token` is empty (the API is disabled) and 401 without the right token.

use std::time::Duration;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{bearer_token, secret_matches, AppState};
use crate::config::{ConfigError, Settings};
use crate::domain::hours::{BusinessHours, Clock};
use crate::domain::session::{Session, SessionState, StateError};
use crate::store::Store;
use crate::tickets::actor::ResumeError;
use crate::tickets::supervisor::{EraseTickets, ResumeTicket};

/// How long an admin request waits for the ticket's actor.
const ACTOR_TIMEOUT: Duration = Duration::from_secs(5);
/// The most sessions one list answer holds, and how many stored sessions a list reads at most.
const MAX_LIMIT: usize = 500;
const MAX_SCANNED: usize = 10_000;
/// The longest operator name kept in a resume decision.
const MAX_OPERATOR_CHARS: usize = 64;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/tickets", web::get().to(list_tickets))
            .route("/tickets/{id}", web::get().to(get_ticket))
            .route("/tickets/{id}/resume", web::post().to(resume_ticket))
            .route("/stats", web::get().to(super::console::stats_json))
            .route("/settings", web::get().to(get_settings))
            .route("/customers", web::delete().to(erase_customer))
            .default_service(web::to(unknown_route)),
    );
}

/// What an admin request can fail with; each maps to one status.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the admin API is disabled (set server.admin_token to enable it)")]
    Disabled,
    #[error("missing or wrong admin token (Authorization: Bearer <server.admin_token>)")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("no session for ticket {0}")]
    UnknownTicket(u64),
    #[error("no such admin route")]
    UnknownRoute,
    #[error("ticket {0} is not handed off; only a handed-off ticket can be resumed")]
    NotHandedOff(u64),
    #[error("ticket {0} is busy (a turn is running); try again")]
    Busy(u64),
    #[error("{0}")]
    Unavailable(String),
    /// Storage failed; the cause is logged, not answered (it can carry OS error text and paths).
    #[error("storage unavailable, retry later")]
    Storage,
}

impl AdminError {
    /// Logs why storage failed `what`, and answers only that it did.
    pub fn storage(what: &str, error: &dyn std::fmt::Display) -> AdminError {
        tracing::error!(error = %error, "admin: {what}: storage failed");
        AdminError::Storage
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Disabled | AdminError::UnknownTicket(_) | AdminError::UnknownRoute => {
                StatusCode::NOT_FOUND
            }
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::NotHandedOff(_) => StatusCode::CONFLICT,
            AdminError::Busy(_) | AdminError::Unavailable(_) | AdminError::Storage => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            AdminError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"admin\""));
            }
            AdminError::Busy(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(json!({ "error": self.to_string() }))
    }
}

/// Lets the request through only with the configured bearer token (compared in constant time).
fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), AdminError> {
    if state.admin_token.is_empty() {
        return Err(AdminError::Disabled);
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(token) if secret_matches(token, &state.admin_token) => Ok(()),
        _ => {
            tracing::warn!(
                outcome = "unauthorized",
                "admin request without a valid token"
            );
            Err(AdminError::Unauthorized)
        }
    }
}

fn ticket_id(raw: &str) -> Result<u64, AdminError> {
    raw.trim()
        .parse()
        .map_err(|_| AdminError::BadRequest(format!("ticket id must be a number, got {raw:?}")))
}

/// The session as stored. Storage is the freshest copy: a turn commits every step before its
/// actor adopts it, so a live actor's own copy lags while a turn runs.
async fn load(state: &AppState, ticket_id: u64) -> Result<Session, AdminError> {
    let store = state.store.clone();
    let loaded = web::block(move || store.load_session(ticket_id))
        .await
        .map_err(|e| AdminError::Unavailable(format!("cannot read the session: {e}")))?;
    match loaded {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(AdminError::UnknownTicket(ticket_id)),
        Err(e) => Err(AdminError::storage(
            &format!("reading the session of ticket {ticket_id}"),
            &e,
        )),
    }
}

/// What `GET /admin/settings` shows: the mode and the ticket lifecycle settings, as configured,
/// and whether business hours are open now.
pub struct SettingsView {
    summary: Value,
    hours: Option<BusinessHours>,
    clock: Clock,
}

impl SettingsView {
    pub fn new(settings: &Settings, clock: Clock) -> Result<SettingsView, ConfigError> {
        let planner = settings.planner()?;
        let hours = planner.hours.clone();
        let summary = json!({
            "mode": settings.gorgias.mode.as_str(),
            "handoff": {
                "tags": settings.handoff.tags,
                "final_reply_offline": planner.handoff.final_reply_offline,
                "user_id": settings.handoff.user_id,
                "team_id": settings.handoff.team_id,
            },
            "autopilot": {
                "reply_tags": planner.reply.tags.names(),
                "close_after_reply": planner.reply.close,
            },
            "business_hours": hours.as_ref().map(|h| json!({
                "timezone": h.timezone(),
                "description": h.describe(),
                "days": settings.business_hours,
            })),
        });
        Ok(SettingsView {
            summary,
            hours,
            clock,
        })
    }

    fn to_json(&self) -> Value {
        let mut body = self.summary.clone();
        if let Some(hours) = &self.hours {
            body["business_hours"]["open_now"] = json!(hours.is_open(self.clock.now()));
        }
        body
    }
}

/// `GET /admin/settings`: the mode, `handoff.tags`, `handoff.final_reply_offline`,
/// `autopilot.reply_tags`, `autopilot.close_after_reply` and `[business_hours]` (with
/// `open_now`; `null` when absent: always open).
pub async fn get_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&req, &state)?;
    Ok(HttpResponse::Ok().json(state.settings_view.to_json()))
}

/// `GET /admin/tickets/{id}`: the whole session (state, history, decisions, outbox, failed), plus
/// `intake_decisions`: the ticket's recent webhooks that were ignored, duplicated or not stored
/// (kept in memory, newest last). A ticket with only intake decisions answers with an empty
/// session (`state: null`), so "why did the AI not answer?" has an answer either way.
pub async fn get_ticket(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&req, &state)?;
    let ticket_id = ticket_id(&path)?;
    let intake = state.intake.recent().for_ticket(ticket_id);
    let mut body = match load(&state, ticket_id).await {
        Ok(session) => serde_json::to_value(&session)
            .map_err(|e| AdminError::Unavailable(format!("cannot encode the session: {e}")))?,
        Err(AdminError::UnknownTicket(_)) if !intake.is_empty() => json!({
            "ticket_id": ticket_id,
            "state": null,
            "history": [],
            "decisions": [],
            "outbox": [],
            "failed": [],
        }),
        Err(e) => return Err(e),
    };
    body["intake_decisions"] = json!(intake);
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    /// Who resumes the ticket (kept in the decision).
    by: Option<String>,
}

/// The operator's name as given, without control characters and bounded.
fn operator(by: Option<&str>) -> String {
    let name: String = by
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_OPERATOR_CHARS)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "an operator via the admin API".into()
    } else {
        format!("{name} via the admin API")
    }
}

/// `POST /admin/tickets/{id}/resume[?by=name]`: a handed-off session becomes active again; the
/// ticket's next customer message is answered by the AI.
pub async fn resume_ticket(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ResumeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&req, &state)?;
    let ticket_id = ticket_id(&path)?;
    let session = resume(&state, ticket_id, operator(query.by.as_deref())).await?;
    Ok(HttpResponse::Ok().json(session))
}

/// Resumes a handed-off ticket through its actor (the admin API's and the console's path).
pub async fn resume(state: &AppState, ticket_id: u64, by: String) -> Result<Session, AdminError> {
    // An unknown ticket is a 404, not a fresh session that "is not handed off".
    load(state, ticket_id).await?;
    // A turn still delivering the handoff's last actions holds the ticket for a moment: wait
    // for it rather than send the operator away.
    let until = std::time::Instant::now() + ACTOR_TIMEOUT;
    let resumed = loop {
        let answer = tokio::time::timeout(
            ACTOR_TIMEOUT,
            state.supervisor.send(ResumeTicket {
                ticket_id,
                by: by.clone(),
            }),
        )
        .await
        .map_err(|_| AdminError::Busy(ticket_id))?
        .map_err(|_| AdminError::Unavailable("the ticket supervisor is not running".into()))?;
        match answer {
            Err(ResumeError::Busy) if std::time::Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other,
        }
    };
    match resumed {
        Ok(session) => {
            tracing::info!(ticket_id, by = %by, "admin: ticket resumed");
            Ok(session)
        }
        Err(ResumeError::State(StateError::NotHandedOff)) => {
            Err(AdminError::NotHandedOff(ticket_id))
        }
        Err(ResumeError::State(StateError::AlreadyHandedOff)) | Err(ResumeError::Busy) => {
            Err(AdminError::Busy(ticket_id))
        }
        Err(ResumeError::Store(e)) => Err(AdminError::storage(
            &format!("storing the resumed session of ticket {ticket_id}"),
            &e,
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `active`, `handed_off`, or absent for both.
    state: Option<String>,
    limit: Option<usize>,
}

/// One line of the list: enough to pick the ticket to look at.
fn summary(session: &Session) -> Value {
    let last_decision = session.decisions.back().map(|d| {
        json!({
            "outcome": d.outcome,
            "reason": d.reason,
            "at": d.at,
        })
    });
    json!({
        "ticket_id": session.ticket_id,
        "state": session.state,
        "handed_off_at": session.handed_off_at(),
        "messages": session.history.len(),
        "ai_replies": session.ai_reply_count(),
        "last_message_at": session.history.last().map(|e| e.at),
        "last_decision": last_decision,
        "pending_actions": session.outbox.len(),
        "failed_actions": session.failed.len(),
    })
}

/// Reads stored sessions, newest ticket ids first, keeping those in `wanted` (all when `None`).
fn list(store: &Store, wanted: Option<SessionState>, limit: usize) -> Value {
    let (mut tickets, mut unreadable, mut scanned) = (Vec::new(), 0usize, 0usize);
    for entry in store.sessions_desc().take(MAX_SCANNED) {
        scanned += 1;
        match entry {
            Ok(session) if wanted.is_none_or(|w| session.state == w) => {
                tickets.push(summary(&session));
                if tickets.len() >= limit {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                unreadable += 1;
                tracing::warn!(error = %e, "admin list: a stored session cannot be read");
            }
        }
    }
    json!({
        "count": tickets.len(),
        "tickets": tickets,
        "scanned": scanned,
        "unreadable": unreadable,
    })
}

/// `GET /admin/tickets?state=handed_off&limit=50`: recent sessions, newest ticket first.
pub async fn list_tickets(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&req, &state)?;
    let wanted = match query.state.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some("active") => Some(SessionState::Active),
        Some("handed_off") => Some(SessionState::HandedOff),
        Some(other) => {
            return Err(AdminError::BadRequest(format!(
                "state must be active, handed_off or all, got {other:?}"
            )))
        }
    };
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let store = state.store.clone();
    let body = web::block(move || list(&store, wanted, limit))
        .await
        .map_err(|e| AdminError::Unavailable(format!("cannot list sessions: {e}")))?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize)]
pub struct EraseQuery {
    email: Option<String>,
}

/// `DELETE /admin/customers?email=ADDR`: erases every session of that customer (email compared
/// case-insensitively), pending inbox entries and owed actions included (never posted), and the
/// in-memory intake decisions of those tickets; answers `{"erased": n}`. The log says that an
/// erasure happened and how many sessions, never the address.
pub async fn erase_customer(
    req: HttpRequest,
    query: web::Query<EraseQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&req, &state)?;
    let email = query.email.as_deref().map(str::trim).unwrap_or_default();
    if email.is_empty() || !email.contains('@') {
        return Err(AdminError::BadRequest(
            "email must be a customer's email address (?email=ADDR)".into(),
        ));
    }
    let store = state.store.clone();
    let owned = email.to_string();
    let tickets = web::block(move || store.tickets_of_customer(&owned))
        .await
        .map_err(|e| AdminError::Unavailable(format!("cannot read the sessions: {e}")))?
        .map_err(|e| {
            tracing::error!(error = %e, "admin erasure: cannot find the customer's sessions");
            AdminError::Unavailable("storage is unavailable; nothing was erased, try again".into())
        })?;
    let tickets: Vec<u64> = tickets.into_iter().collect();
    for &t in &tickets {
        state.intake.recent().forget(t);
    }
    let erased = state
        .supervisor
        .send(EraseTickets(tickets.clone()))
        .await
        .map_err(|_| AdminError::Unavailable("the ticket supervisor is not running".into()))?
        .map_err(|e| {
            tracing::error!(error = %e, "admin erasure: cannot delete the customer's sessions");
            AdminError::Unavailable(
                "storage did not take the erasure; try again (it is idempotent)".into(),
            )
        })?;
    // Intake decisions recorded while the erasure ran are dropped too.
    for &t in &tickets {
        state.intake.recent().forget(t);
    }
    tracing::info!(
        outcome = "erased",
        sessions = erased,
        "admin: customer data erased"
    );
    Ok(HttpResponse::Ok().json(json!({ "erased": erased })))
}

/// Any other `/admin/*` path: still authenticated first, so the API's shape is not probed.
pub async fn unknown_route(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    authorize(&req, &state)?;
    Err(AdminError::UnknownRoute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_are_bounded_and_cleaned() {
        assert_eq!(operator(None), "an operator via the admin API");
        assert_eq!(operator(Some("  ")), "an operator via the admin API");
        assert_eq!(
            operator(Some("alice\n\u{1b}[31m")),
            "alice[31m via the admin API"
        );
        assert_eq!(
            operator(Some(&"x".repeat(500))).len(),
            MAX_OPERATOR_CHARS + " via the admin API".len()
        );
    }

    #[test]
    fn ticket_ids_must_be_numbers() {
        assert_eq!(ticket_id("42").unwrap(), 42);
        assert!(matches!(ticket_id("abc"), Err(AdminError::BadRequest(_))));
    }
}
