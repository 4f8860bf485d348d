//! A stateful fake OpenAI-compatible chat-completions server on loopback: records every request
//! (body, `Authorization` header, arrival time) and answers decision requests (those offering the
//! tool) from a script: replies, `handoff_to_human` calls, error statuses with `Retry-After`,
//! delays, empty content or a body that is not JSON. Summary requests (no tool offered) get
//! their own canned answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub const MODEL_KEY: &str = "test-openai-key";
pub const MODEL: &str = "test-model";

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// A plain assistant message.
    Reply(String),
    /// A `handoff_to_human` tool call with these arguments.
    ToolCall { reason: String, reply: String },
    /// An error status, with an optional `Retry-After` value.
    Status(u16, Option<String>),
    /// 200 with an empty assistant message.
    Empty,
    /// 200 with this raw body (e.g. not JSON).
    Raw(String),
    /// The inner answer, after a delay.
    Slow(Duration, Box<Step>),
    /// 200 with `content: null` and this `refusal` text.
    Refusal(String),
    /// An error status with these headers.
    StatusWithHeaders(u16, Vec<(String, String)>),
}

impl Step {
    pub fn reply(text: &str) -> Step {
        Step::Reply(text.into())
    }
    pub fn tool_call(reason: &str, reply: &str) -> Step {
        Step::ToolCall {
            reason: reason.into(),
            reply: reply.into(),
        }
    }
    pub fn status(status: u16, retry_after: Option<&str>) -> Step {
        Step::Status(status, retry_after.map(str::to_string))
    }
    pub fn slow(delay: Duration, then: Step) -> Step {
        Step::Slow(delay, Box::new(then))
    }
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub body: Value,
    pub authorization: Option<String>,
    pub at: Instant,
}

impl Request {
    /// A decision request offers the tool; a summary request does not.
    pub fn offers_tool(&self) -> bool {
        self.body["tools"]
            .as_array()
            .is_some_and(|tools| !tools.is_empty())
    }

    /// `(role, content)` of each message.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| {
                        (
                            m["role"].as_str().unwrap_or_default().to_string(),
                            m["content"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct State {
    requests: Vec<Request>,
    script: VecDeque<Step>,
    /// Answered when the script is empty.
    default: Step,
    /// Added before every decision answer.
    delay: Duration,
    summary: Step,
    /// Requests being answered now, and the most at once so far.
    in_flight: usize,
    max_in_flight: usize,
}

/// Handle to a running fake; cheap to clone.
#[derive(Clone)]
pub struct FakeOpenAi {
    /// What `brain.openai.base_url` is set to (the API lives under `/v1`).
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

impl FakeOpenAi {
    pub fn start() -> FakeOpenAi {
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            script: VecDeque::new(),
            default: Step::reply("Default answer from the fake model."),
            delay: Duration::ZERO,
            summary: Step::reply("Summary from the fake model."),
            in_flight: 0,
            max_in_flight: 0,
        }));
        let port = crate::serve::on_loopback(state.clone(), handle);
        FakeOpenAi {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            state,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Answers for the next decision requests, in order.
    pub fn script(&self, steps: impl IntoIterator<Item = Step>) {
        self.lock().script.extend(steps);
    }
    /// The answer once the script is used up.
    pub fn set_default(&self, step: Step) {
        self.lock().default = step;
    }
    /// A delay before every decision answer.
    pub fn delay(&self, d: Duration) {
        self.lock().delay = d;
    }
    /// The answer to summary requests.
    pub fn set_summary(&self, step: Step) {
        self.lock().summary = step;
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }
    /// Requests that offered the tool (the brain deciding a turn).
    pub fn decisions(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(Request::offers_tool)
            .collect()
    }
    /// Requests without the tool (handoff summaries).
    pub fn summaries(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| !r.offers_tool())
            .collect()
    }
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let request = Request {
        path: req.path().to_string(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        authorization: req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        at: Instant::now(),
    };
    if req.method() != actix_web::http::Method::POST || request.path != "/v1/chat/completions" {
        return HttpResponse::NotFound().json(json!({"error": {"message": "not found"}}));
    }
    if request.authorization.as_deref() != Some(&format!("Bearer {MODEL_KEY}")) {
        return HttpResponse::Unauthorized()
            .json(json!({"error": {"message": "Incorrect API key provided"}}));
    }
    let (step, delay) = {
        let mut s = state.lock().unwrap();
        let decision = request.offers_tool();
        s.requests.push(request);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        if decision {
            let step = s.script.pop_front().unwrap_or_else(|| s.default.clone());
            (step, s.delay)
        } else {
            (s.summary.clone(), Duration::ZERO)
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = answer(step).await;
    state.lock().unwrap().in_flight -= 1;
    response
}

async fn answer(mut step: Step) -> HttpResponse {
    while let Step::Slow(delay, then) = step {
        tokio::time::sleep(delay).await;
        step = *then;
    }
    match step {
        Step::Reply(text) => completion(json!({"role": "assistant", "content": text}), "stop"),
        Step::ToolCall { reason, reply } => completion(
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": "call_fake_1",
                    "type": "function",
                    "function": {
                        "name": "handoff_to_human",
                        "arguments": json!({"reason": reason, "reply": reply}).to_string()
                    }
                }]
            }),
            "tool_calls",
        ),
        Step::Status(status, retry_after) => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if let Some(after) = retry_after {
                r.insert_header(("Retry-After", after));
            }
            r.json(
                json!({"error": {"message": format!("scripted {status}"), "type": "server_error"}}),
            )
        }
        Step::Empty => completion(json!({"role": "assistant", "content": ""}), "stop"),
        Step::Refusal(text) => completion(
            json!({"role": "assistant", "content": null, "refusal": text}),
            "stop",
        ),
        Step::StatusWithHeaders(status, headers) => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            for (name, value) in headers {
                r.insert_header((name, value));
            }
            r.json(json!({"error": {"message": format!("scripted {status}")}}))
        }
        Step::Raw(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Step::Slow(..) => unreachable!("unwrapped above"),
    }
}

fn completion(message: Value, finish_reason: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
}
