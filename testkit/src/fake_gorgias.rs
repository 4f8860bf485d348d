//! A stateful fake Gorgias REST API on loopback: stores posted messages, ticket updates and tags,
//! records every call, checks Basic auth, and can be scripted to fail (status codes, a share of
//! 503s, delays, a leaky-bucket 429 with `Retry-After`, dropping the connection after a post was
//! processed).
//! Customers (`GET /api/customers/{id}`, with their order data) can be set, failed and
//! delayed on their own.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub const API_EMAIL: &str = "bot@acme.example";
pub const API_KEY: &str = "test-api-key";
/// How late a "dropped" answer comes; longer than the agent's request timeout in tests.
pub const LATE_ANSWER: Duration = Duration::from_millis(2500);

/// One recorded call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// The query string (`limit=..&cursor=..`), empty when there is none.
    pub query: String,
    pub body: Value,
    pub status: u16,
}

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: u64,
    pub ticket_id: u64,
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// Requests received, counted as they arrive (before any scripted delay).
    started: u64,
    calls: Vec<Call>,
    messages: Vec<StoredMessage>,
    ticket_updates: Vec<(u64, Value)>,
    /// Each ticket's tags, in the order they were first added.
    tags: Vec<(u64, Vec<String>)>,
    next_message_id: u64,
    users: Vec<u64>,
    teams: Vec<u64>,
    /// Statuses to answer, in order, before behaving normally.
    scripted: VecDeque<u16>,
    /// Fail every n-th call with 503 (0: never).
    fail_every: u64,
    call_count: u64,
    /// Until this instant every call fails with 503.
    outage_until: Option<Instant>,
    delay: Duration,
    /// Leaky bucket: capacity and leak interval; `level` and the last leak time.
    bucket: Option<(u32, Duration)>,
    bucket_level: f64,
    bucket_at: Option<Instant>,
    throttled: u64,
    /// Process the next N posts but answer too late for the client.
    drop_after_post: u32,
    /// After this many more successful writes, answer 503 to everything (until cleared).
    block_after_writes: Option<u32>,
    /// Past tickets (newest first) with their `messages`, for `GET /api/tickets`.
    past_tickets: Vec<Value>,
    /// The most items one page of a list holds (0: as many as asked for).
    page_size: usize,
    /// `GET /api/customers/{id}` answers these bodies (404 for others).
    customers: HashMap<u64, Value>,
    /// `GET /api/customers/{id}` answers this status instead, when set.
    customer_failure: Option<u16>,
    /// Extra delay on `GET /api/customers/{id}` only.
    customer_delay: Duration,
}

/// Handle to a running fake; cheap to clone.
#[derive(Clone)]
pub struct FakeGorgias {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

impl FakeGorgias {
    pub fn start() -> FakeGorgias {
        let state = Arc::new(Mutex::new(State {
            next_message_id: 500_000_000,
            users: vec![900001, 42],
            teams: vec![55, 77],
            ..Default::default()
        }));
        let port = crate::serve::on_loopback(state.clone(), handle);
        FakeGorgias {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }
    /// Successful calls other than reads (the ones that change Gorgias).
    pub fn writes(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method != "GET" && c.status < 300)
            .collect()
    }
    pub fn messages(&self, ticket_id: u64) -> Vec<StoredMessage> {
        self.lock()
            .messages
            .iter()
            .filter(|m| m.ticket_id == ticket_id)
            .cloned()
            .collect()
    }
    /// Public replies on a ticket (internal notes left out).
    pub fn replies(&self, ticket_id: u64) -> Vec<StoredMessage> {
        self.messages(ticket_id)
            .into_iter()
            .filter(|m| m.body["channel"] != "internal-note")
            .collect()
    }
    pub fn all_messages(&self) -> Vec<StoredMessage> {
        self.lock().messages.clone()
    }
    pub fn ticket_updates(&self, ticket_id: u64) -> Vec<Value> {
        self.lock()
            .ticket_updates
            .iter()
            .filter(|(t, _)| *t == ticket_id)
            .map(|(_, b)| b.clone())
            .collect()
    }
    /// The tags a ticket has now.
    pub fn tags(&self, ticket_id: u64) -> Vec<String> {
        self.lock()
            .tags
            .iter()
            .find(|(t, _)| *t == ticket_id)
            .map(|(_, names)| names.clone())
            .unwrap_or_default()
    }
    /// The ticket's status as last set by a `PUT` (`None`: never set).
    pub fn status(&self, ticket_id: u64) -> Option<String> {
        self.ticket_updates(ticket_id)
            .iter()
            .rev()
            .find_map(|b| b["status"].as_str().map(str::to_string))
    }
    /// Successful writes on a ticket, each as `METHOD path-after-the-ticket` with a short kind:
    /// `reply`, `note`, `tags [a, b]`, `status closed`, `assign`.
    pub fn write_log(&self, ticket_id: u64) -> Vec<String> {
        let prefix = format!("/api/tickets/{ticket_id}");
        self.writes()
            .iter()
            .filter(|c| c.path == prefix || c.path.starts_with(&format!("{prefix}/")))
            .map(|c| {
                let what = match (c.method.as_str(), c.path.strip_prefix(&prefix)) {
                    ("POST", Some("/messages")) if c.body["channel"] == "internal-note" => {
                        "note".to_string()
                    }
                    ("POST", Some("/messages")) => "reply".to_string(),
                    ("POST", Some("/tags")) => format!("tags {}", c.body["names"]),
                    ("PUT", Some("")) if c.body.get("status").is_some() => {
                        format!("status {}", c.body["status"].as_str().unwrap_or("?"))
                    }
                    ("PUT", Some("")) => "assign".to_string(),
                    _ => "other".to_string(),
                };
                format!("{} {} ({what})", c.method, c.path)
            })
            .collect()
    }
    /// Requests received so far, including those still being answered.
    pub fn requests_started(&self) -> u64 {
        self.lock().started
    }
    /// Requests received but not answered yet.
    pub fn in_flight(&self) -> u64 {
        let s = self.lock();
        s.started - s.calls.len() as u64
    }
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }
    pub fn script(&self, statuses: &[u16]) {
        self.lock().scripted.extend(statuses.iter().copied());
    }
    pub fn fail_every(&self, n: u64) {
        self.lock().fail_every = n;
    }
    pub fn outage_for(&self, d: Duration) {
        self.lock().outage_until = Some(Instant::now() + d);
    }
    pub fn delay(&self, d: Duration) {
        self.lock().delay = d;
    }
    pub fn rate_limit(&self, capacity: u32, window: Duration) {
        self.lock().bucket = Some((capacity, window / capacity));
    }
    pub fn drop_connection_after_posts(&self, n: u32) {
        self.lock().drop_after_post = n;
    }
    /// Lets `n` more writes (POST/PUT) succeed, then fails every call with 503.
    pub fn block_after_writes(&self, n: u32) {
        self.lock().block_after_writes = Some(n);
    }
    /// Back to normal service.
    pub fn heal(&self) {
        let mut s = self.lock();
        s.block_after_writes = None;
        s.outage_until = None;
        s.fail_every = 0;
        s.scripted.clear();
        s.delay = Duration::ZERO;
    }
    pub fn set_users(&self, users: &[u64]) {
        self.lock().users = users.to_vec();
    }
    pub fn set_teams(&self, teams: &[u64]) {
        self.lock().teams = teams.to_vec();
    }
    /// What `GET /api/customers/{id}` answers for this customer.
    pub fn set_customer(&self, id: u64, customer: Value) {
        self.lock().customers.insert(id, customer);
    }
    /// `GET /api/customers/{id}` fails with this status (`None`: answers normally).
    pub fn fail_customers(&self, status: Option<u16>) {
        self.lock().customer_failure = status;
    }
    /// `GET /api/customers/{id}` answers this late.
    pub fn delay_customers(&self, d: Duration) {
        self.lock().customer_delay = d;
    }
    /// Answered `GET /api/customers/{id}` calls.
    pub fn customer_fetches(&self, id: u64) -> usize {
        let path = format!("/api/customers/{id}");
        self.calls()
            .iter()
            .filter(|c| c.method == "GET" && c.path == path)
            .count()
    }
    /// Past tickets, newest first, each with its `messages`: listed by `GET /api/tickets`, and
    /// their messages by `GET /api/tickets/{id}/messages`.
    pub fn seed_tickets(&self, tickets: Vec<Value>) {
        self.lock().past_tickets = tickets;
    }
    /// Lists answer at most `n` items per page (cursor pagination beyond).
    pub fn page_size(&self, n: usize) {
        self.lock().page_size = n;
    }
}

/// One page of `items` from the offset in `cursor`, at most `limit` (and the page size) long.
fn page(items: Vec<Value>, req: &HttpRequest, page_size: usize) -> HttpResponse {
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let start: usize = query
        .get("cursor")
        .and_then(|c| c.strip_prefix("offset-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(30);
    if page_size > 0 {
        limit = limit.min(page_size);
    }
    let end = (start + limit).min(items.len());
    let data: Vec<Value> = items.get(start..end).unwrap_or_default().to_vec();
    let next = (end < items.len()).then(|| format!("offset-{end}"));
    HttpResponse::Ok()
        .json(json!({"data": data, "meta": {"next_cursor": next, "prev_cursor": null}}))
}

fn error(status: u16, msg: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({ "error": { "msg": msg } }))
}

fn authorized(req: &HttpRequest) -> bool {
    use base64_engine::encode;
    let expected = format!(
        "Basic {}",
        encode(format!("{API_EMAIL}:{API_KEY}").as_bytes())
    );
    req.headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let delay = {
        let mut s = state.lock().unwrap();
        s.started += 1;
        if req.path().starts_with("/api/customers/") {
            s.delay + s.customer_delay
        } else {
            s.delay
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let method = req.method().to_string();
    let path = req.path().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (response, status, drop_connection) = {
        let mut s = state.lock().unwrap();
        let (response, drop_connection) = answer(&mut s, &req, &method, &path, &body);
        let status = response.status().as_u16();
        s.calls.push(Call {
            method,
            path,
            query: req.query_string().to_string(),
            body,
            status,
        });
        (response, status, drop_connection)
    };
    let _ = status;
    if drop_connection {
        // Processed, but the answer comes after the client gave up (its timeout is shorter):
        // the outcome is unknown to it, and it must look before posting again.
        tokio::time::sleep(LATE_ANSWER).await;
    }
    response
}

fn answer(
    s: &mut State,
    req: &HttpRequest,
    method: &str,
    path: &str,
    body: &Value,
) -> (HttpResponse, bool) {
    if !authorized(req) {
        return (error(401, "Invalid credentials"), false);
    }
    if let Some((capacity, leak)) = s.bucket {
        let now = Instant::now();
        let last = s.bucket_at.unwrap_or(now);
        let leaked = now.duration_since(last).as_secs_f64() / leak.as_secs_f64();
        s.bucket_level = (s.bucket_level - leaked).max(0.0);
        s.bucket_at = Some(now);
        if s.bucket_level + 1.0 > capacity as f64 {
            s.throttled += 1;
            let retry = ((s.bucket_level + 1.0 - capacity as f64) * leak.as_secs_f64()).ceil();
            return (
                HttpResponse::TooManyRequests()
                    .insert_header(("Retry-After", format!("{}", retry.max(1.0))))
                    .insert_header((
                        "X-Gorgias-Account-Api-Call-Limit",
                        format!("{}/{}", capacity, capacity),
                    ))
                    .json(json!({"error": {"msg": "Too many requests"}})),
                false,
            );
        }
        s.bucket_level += 1.0;
    }
    s.call_count += 1;
    if let Some(status) = s.scripted.pop_front() {
        return (error(status, "scripted failure"), false);
    }
    if s.outage_until.is_some_and(|t| Instant::now() < t) {
        return (error(503, "An external service had an issue."), false);
    }
    if s.fail_every > 0 && s.call_count.is_multiple_of(s.fail_every) {
        return (error(503, "An external service had an issue."), false);
    }
    if s.block_after_writes == Some(0) {
        return (error(503, "An external service had an issue."), false);
    }
    if method != "GET" {
        if let Some(n) = s.block_after_writes.as_mut() {
            *n -= 1;
        }
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["api", "account"]) => (HttpResponse::Ok().json(json!({"domain": "acme"})), false),
        ("GET", ["api", "users", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            if s.users.contains(&id) {
                (
                    HttpResponse::Ok().json(json!({"id": id, "name": format!("User {id}")})),
                    false,
                )
            } else {
                (error(404, "Resource not found."), false)
            }
        }
        ("GET", ["api", "teams", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            if s.teams.contains(&id) {
                (
                    HttpResponse::Ok().json(json!({"id": id, "name": format!("Team {id}")})),
                    false,
                )
            } else {
                (error(404, "Resource not found."), false)
            }
        }
        ("GET", ["api", "customers", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            if let Some(status) = s.customer_failure {
                return (error(status, "An external service had an issue."), false);
            }
            match s.customers.get(&id) {
                Some(customer) => (HttpResponse::Ok().json(customer), false),
                None => (error(404, "Resource not found."), false),
            }
        }
        ("POST", ["api", "tickets", id, "messages"]) => {
            let ticket_id: u64 = id.parse().unwrap_or(0);
            for field in ["channel", "via", "sender", "body_text"] {
                if body.get(field).is_none() {
                    return (
                        HttpResponse::BadRequest().json(json!({"error": {"msg": "Failed to create message", "data": {field: ["Missing data for required field."]}}})),
                        false,
                    );
                }
            }
            s.next_message_id += 1;
            let id = s.next_message_id;
            s.messages.push(StoredMessage {
                id,
                ticket_id,
                body: body.clone(),
            });
            let mut created = body.clone();
            created["id"] = json!(id);
            created["ticket_id"] = json!(ticket_id);
            let drop = if s.drop_after_post > 0 {
                s.drop_after_post -= 1;
                true
            } else {
                false
            };
            (HttpResponse::Created().json(created), drop)
        }
        ("GET", ["api", "tickets"]) => {
            let listed: Vec<Value> = s
                .past_tickets
                .iter()
                .map(|t| {
                    let mut t = t.clone();
                    t.as_object_mut().map(|o| o.remove("messages"));
                    t
                })
                .collect();
            (page(listed, req, s.page_size), false)
        }
        ("GET", ["api", "tickets", id, "messages"]) => {
            let ticket_id: u64 = id.parse().unwrap_or(0);
            let past = s
                .past_tickets
                .iter()
                .find(|t| t["id"] == ticket_id)
                .and_then(|t| t["messages"].as_array().cloned());
            if let Some(messages) = past {
                return (page(messages, req, s.page_size), false);
            }
            let data: Vec<Value> = s
                .messages
                .iter()
                .filter(|m| m.ticket_id == ticket_id)
                .map(|m| json!({"id": m.id, "external_id": m.body["external_id"]}))
                .collect();
            (
                HttpResponse::Ok().json(json!({"data": data, "meta": {"next_cursor": null}})),
                false,
            )
        }
        ("POST", ["api", "tickets", id, "tags"]) => {
            let ticket_id: u64 = id.parse().unwrap_or(0);
            let Some(names) = body["names"].as_array() else {
                return (
                    HttpResponse::BadRequest().json(json!({"error": {"msg": "Invalid data", "data": {"names": ["Missing data for required field."]}}})),
                    false,
                );
            };
            let names: Vec<String> = names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect();
            if !s.tags.iter().any(|(t, _)| *t == ticket_id) {
                s.tags.push((ticket_id, Vec::new()));
            }
            let tags = &mut s.tags.iter_mut().find(|(t, _)| *t == ticket_id).unwrap().1;
            for name in names {
                if !tags.contains(&name) {
                    tags.push(name);
                }
            }
            (HttpResponse::Created().json(json!({})), false)
        }
        ("PUT", ["api", "tickets", id]) => {
            let ticket_id: u64 = id.parse().unwrap_or(0);
            s.ticket_updates.push((ticket_id, body.clone()));
            let mut ticket = body.clone();
            ticket["id"] = json!(ticket_id);
            (HttpResponse::Accepted().json(ticket), false)
        }
        _ => (error(404, "Resource not found."), false),
    }
}

/// Minimal base64 (standard alphabet, padded) so the fake checks the exact Basic header.
mod base64_engine {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(input: &[u8]) -> String {
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn encodes_like_rfc4648() {
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
    }
}
