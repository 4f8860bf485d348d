//! The operator console: server-rendered pages for the support lead (overview, tickets, one
//! ticket, sign-in) and `GET /admin/stats`, behind `server.admin_token`. Figures come from the
//! counters of `domain::stats` (never a scan of sessions); the list pages walk `ticket_index`.
//! No JavaScript, no external assets; every response carries a CSP that forbids scripts.

pub mod auth;
mod pages;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;

use super::admin::{resume, AdminError};
use super::{bearer_token, secret_matches, AppState};
use crate::domain::plan::Mode;
use crate::domain::session::SessionState;
use crate::domain::stats::{aggregate, Figures, TicketFilter, Window};
use crate::time::now_secs;
use auth::{cleared_cookie, session_cookie, Failures, SignIn, SignIns, COOKIE};

/// Tickets per list page.
pub const PAGE_SIZE: usize = 25;
/// The highest page number served (a page costs `page × PAGE_SIZE` index keys).
const MAX_PAGE: usize = 4000;
/// No scripts, no external anything: styles inline, images only from here or data URLs.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's own state, shared by every worker.
pub struct ConsoleState {
    /// For the links to each ticket in Gorgias.
    pub gorgias_base_url: String,
    pub mode: Mode,
    pub session_ttl: Duration,
    signins: Mutex<SignIns>,
    failures: Mutex<Failures>,
}

impl ConsoleState {
    pub fn new(gorgias_base_url: &str, mode: Mode, session_ttl: Duration) -> ConsoleState {
        ConsoleState {
            gorgias_base_url: gorgias_base_url.trim_end_matches('/').to_string(),
            mode,
            session_ttl,
            signins: Mutex::new(SignIns::default()),
            failures: Mutex::new(Failures::default()),
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .route("", web::get().to(overview))
            .route("/", web::get().to(overview))
            .route("/login", web::get().to(login_form))
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
            .route("/tickets", web::get().to(tickets))
            .route("/tickets/{id}", web::get().to(ticket))
            .route("/tickets/{id}/resume", web::post().to(resume_ticket)),
    );
}

/// What a console request can fail with; each maps to one answer.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("the console is disabled (set server.admin_token to enable it)")]
    Disabled,
    /// A page without credentials: to the sign-in form.
    #[error("sign in first")]
    SignIn,
    #[error("missing or wrong admin token")]
    Unauthorized,
    #[error("too many wrong tokens from this address; try again in a minute")]
    RateLimited,
    #[error("the form is stale or forged (CSRF token mismatch); reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::Disabled => StatusCode::NOT_FOUND,
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Unauthorized => StatusCode::UNAUTHORIZED,
            ConsoleError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Admin(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ConsoleError::SignIn => {
                return response
                    .insert_header((header::LOCATION, "/console/login"))
                    .finish();
            }
            ConsoleError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"console\""));
            }
            ConsoleError::RateLimited => {
                response.insert_header((header::RETRY_AFTER, "60"));
            }
            _ => {}
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(pages::error(self.status_code(), &self.to_string()).into_string())
    }
}

/// How a request proved it is the operator.
enum Credential {
    Bearer,
    /// A signed-in browser: forms must carry its CSRF token.
    Cookie(SignIn),
}

/// The client's address as the connection says (forwarding headers can be forged).
fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn console(state: &AppState) -> Result<&ConsoleState, ConsoleError> {
    if state.admin_token.is_empty() {
        return Err(ConsoleError::Disabled);
    }
    Ok(&state.console)
}

/// Checks a presented token against the admin token, counting wrong ones per client IP.
fn check_token(
    req: &HttpRequest,
    c: &ConsoleState,
    state: &AppState,
    token: &str,
) -> Result<(), ConsoleError> {
    let ip = client_ip(req);
    let mut failures = c.failures.lock().unwrap_or_else(|p| p.into_inner());
    if !failures.allowed(ip, Instant::now()) {
        tracing::warn!(
            outcome = "rate_limited",
            reason = "wrong_token",
            "console sign-in refused"
        );
        return Err(ConsoleError::RateLimited);
    }
    if secret_matches(token, &state.admin_token) {
        return Ok(());
    }
    failures.record(ip, Instant::now());
    tracing::warn!(
        outcome = "unauthorized",
        reason = "wrong_token",
        "console request with a wrong token"
    );
    Err(ConsoleError::Unauthorized)
}

/// The request's credential: a bearer header, else the session cookie. `page` says whether a
/// missing credential sends the browser to the form (303) or is a 401.
fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    page: bool,
) -> Result<Credential, ConsoleError> {
    let c = console(state)?;
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    if let Some(token) = bearer {
        check_token(req, c, state, token)?;
        return Ok(Credential::Bearer);
    }
    if let Some(cookie) = req.cookie(COOKIE) {
        let mut signins = c.signins.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(signin) = signins.get(cookie.value(), now_secs()) {
            return Ok(Credential::Cookie(signin));
        }
    }
    Err(if page {
        ConsoleError::SignIn
    } else {
        ConsoleError::Unauthorized
    })
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
fn over_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

fn html(body: maud::Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body.into_string())
}

/// Both windows' figures from one read of the last 7 days of counters.
async fn figures(state: &AppState) -> Result<(Figures, Figures), ConsoleError> {
    let store = state.store.clone();
    let now = now_secs();
    let (from, to) = Window::Week.range(now);
    let rows = web::block(move || store.stat_rows(from, to))
        .await
        .map_err(|e| AdminError::Unavailable(format!("cannot read the counters: {e}")))?;
    let it = || rows.iter().map(|(h, c, v)| (*h, c.as_str(), *v));
    Ok((
        aggregate(it(), Window::Day, now),
        aggregate(it(), Window::Week, now),
    ))
}

#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    window: Option<String>,
}

/// `GET /admin/stats?window=24h|7d`: the overview's figures as JSON (bearer or console cookie).
pub async fn stats_json(
    req: HttpRequest,
    query: web::Query<StatsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    match authenticate(&req, &state, false) {
        Ok(_) => {}
        // The admin API's own answers: 404 while disabled, JSON 401 without the token.
        Err(ConsoleError::Disabled) => return Err(AdminError::Disabled.into()),
        Err(ConsoleError::Unauthorized) => return Err(AdminError::Unauthorized.into()),
        Err(e) => return Err(e),
    }
    let w = query.window.as_deref().unwrap_or("24h");
    let window = Window::parse(w)
        .ok_or_else(|| AdminError::BadRequest(format!("window must be 24h or 7d, got {w:?}")))?;
    let (day, week) = figures(&state).await?;
    Ok(HttpResponse::Ok().json(if window == Window::Day { day } else { week }))
}

async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    authenticate(&req, &state, true)?;
    let (day, week) = figures(&state).await?;
    Ok(html(pages::overview(&state.console, &day, &week)))
}

async fn login_form(state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    console(&state)?;
    Ok(html(pages::login(None)))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /console/login`: the right token opens a session (cookie) and goes to the overview.
async fn login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console(&state)?;
    match check_token(&req, c, &state, form.token.trim()) {
        Ok(()) => {}
        Err(ConsoleError::Unauthorized) => {
            return Ok(HttpResponse::Unauthorized()
                .content_type("text/html; charset=utf-8")
                .body(pages::login(Some("Wrong token.")).into_string()))
        }
        Err(e) => return Err(e),
    }
    let (id, _) = c
        .signins
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .open(now_secs(), c.session_ttl);
    tracing::info!(outcome = "signed_in", "console sign-in");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console"))
        .insert_header((
            header::SET_COOKIE,
            session_cookie(&id, c.session_ttl, over_tls(&req)),
        ))
        .finish())
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A form post from a signed-in browser must carry the session's CSRF token; a bearer request
/// carries no ambient credential and needs none.
fn check_csrf(credential: &Credential, presented: &str) -> Result<(), ConsoleError> {
    match credential {
        Credential::Bearer => Ok(()),
        Credential::Cookie(signin) if signin.csrf_matches(presented) => Ok(()),
        Credential::Cookie(_) => {
            tracing::warn!(
                outcome = "refused",
                reason = "csrf",
                "console form without its CSRF token"
            );
            Err(ConsoleError::Csrf)
        }
    }
}

async fn logout(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let credential = authenticate(&req, &state, false)?;
    check_csrf(&credential, &form.csrf)?;
    if let Some(cookie) = req.cookie(COOKIE) {
        state
            .console
            .signins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .close(cookie.value());
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/login"))
        .insert_header((header::SET_COOKIE, cleared_cookie(over_tls(&req))))
        .finish())
}

#[derive(Debug, Default, Deserialize)]
pub struct TicketsQuery {
    state: Option<String>,
    reason: Option<String>,
    channel: Option<String>,
    page: Option<String>,
}

/// The list's filters as asked (empty fields are no filter); the page is 1-based.
fn parse_filter(q: &TicketsQuery) -> Result<(TicketFilter, usize), ConsoleError> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let state = match given(&q.state).as_deref() {
        None => None,
        Some("active") => Some(SessionState::Active),
        Some("handed_off") => Some(SessionState::HandedOff),
        Some(other) => {
            return Err(ConsoleError::BadRequest(format!(
                "state must be active or handed_off, got {other:?}"
            )))
        }
    };
    let page = match given(&q.page) {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=MAX_PAGE).contains(p))
            .ok_or_else(|| ConsoleError::BadRequest(format!("page must be 1 to {MAX_PAGE}")))?,
    };
    Ok((
        TicketFilter {
            state,
            reason: given(&q.reason),
            channel: given(&q.channel),
        },
        page,
    ))
}

async fn tickets(
    req: HttpRequest,
    query: web::Query<TicketsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    authenticate(&req, &state, true)?;
    let (filter, page) = parse_filter(&query)?;
    let store = state.store.clone();
    let f = filter.clone();
    let (rows, more) = web::block(move || store.ticket_page(&f, (page - 1) * PAGE_SIZE, PAGE_SIZE))
        .await
        .map_err(|e| AdminError::Unavailable(format!("cannot read the list: {e}")))?;
    Ok(html(pages::tickets(
        &state.console,
        &filter,
        page,
        &rows,
        more,
    )))
}

fn ticket_id(raw: &str) -> Result<u64, ConsoleError> {
    raw.trim()
        .parse()
        .map_err(|_| ConsoleError::BadRequest(format!("ticket id must be a number, got {raw:?}")))
}

async fn ticket(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let credential = authenticate(&req, &state, true)?;
    let ticket_id = ticket_id(&path)?;
    let store = state.store.clone();
    let loaded = web::block(move || store.load_session(ticket_id))
        .await
        .map_err(|e| AdminError::Unavailable(format!("cannot read the session: {e}")))?
        .map_err(|e| {
            AdminError::storage(&format!("reading the session of ticket {ticket_id}"), &e)
        })?;
    let intake = state.intake.recent().for_ticket(ticket_id);
    if loaded.is_none() && intake.is_empty() {
        return Err(AdminError::UnknownTicket(ticket_id).into());
    }
    let csrf = match &credential {
        Credential::Cookie(s) => s.csrf.clone(),
        Credential::Bearer => String::new(),
    };
    Ok(html(pages::ticket(
        &state.console,
        ticket_id,
        loaded.as_ref(),
        &intake,
        &csrf,
    )))
}

/// `POST /console/tickets/{id}/resume`: the Resume button (CSRF-checked), then back to the page.
async fn resume_ticket(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let credential = authenticate(&req, &state, false)?;
    check_csrf(&credential, &form.csrf)?;
    let ticket_id = ticket_id(&path)?;
    resume(&state, ticket_id, "an operator via the console".into()).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/console/tickets/{ticket_id}")))
        .finish())
}
