//! The `openai` brain: a client for any OpenAI-compatible `POST {base_url}/chat/completions`
//! (OpenAI, vLLM, llama.cpp server, Ollama; only the common subset of the API), with its timeout,
//! retries (exponential backoff with full jitter, `Retry-After` honoured), the one tool
//! `handoff_to_human`, the reading of what the model answers, and the model-written handoff
//! summary. The prompt itself is built by [`super::prompt`].

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use actix_web::web::Bytes;
use awc::error::SendRequestError;
use futures_util::future::{self, LocalBoxFuture};
use futures_util::FutureExt;

use serde_json::{json, Value};

use super::prompt::{self, clip, ChatMessage, PromptBuilder, HANDOFF_TOOL};
use super::{Brain, BrainError, BrainInput, Decision, HandoffReason};
use crate::config::{OpenAiSettings, Secret};
use crate::retry::{full_jitter_backoff, parse_retry_after, retryable_status};

/// The most response body read from the model server.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// A server asking to wait longer than this is treated as unavailable: the ticket goes to a
/// human rather than sit unanswered.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How many times an unusable answer (empty, malformed) is asked for again.
const UNUSABLE_RETRIES: u32 = 1;
/// A handoff waits at most this long for a model summary (one attempt, no retry).
const SUMMARY_TIMEOUT_MAX: Duration = Duration::from_secs(15);
/// The most characters of a model summary kept for the note.
const MAX_SUMMARY_CHARS: usize = 1500;
/// The most characters of a server's error message kept in an error.
const MAX_ERROR_CHARS: usize = 300;

/// What went wrong talking to the model server; never contains the API key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpenAiError {
    #[error("the model server answered {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("the model server did not answer within {0} s")]
    Timeout(u64),
    #[error("cannot reach the model server: {0}")]
    Connect(String),
    #[error("unusable answer from the model: {0}")]
    Unusable(String),
}

impl OpenAiError {
    /// Worth trying again: timeouts, connection trouble, 408/409/429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            OpenAiError::Status { status, .. } => retryable_status(*status),
            OpenAiError::Timeout(_) | OpenAiError::Connect(_) => true,
            OpenAiError::Unusable(_) => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            OpenAiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What the model decided.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelAnswer {
    /// A plain assistant message: the reply to the customer.
    Reply(String),
    /// A `handoff_to_human` call; empty arguments are `""` / `None`.
    Handoff {
        reason: String,
        reply: Option<String>,
    },
    /// The model refused (`content: null` with a `refusal` text): asking again would get the
    /// same, so a human takes it.
    Refused(String),
}

/// The tool offered to the model.
pub fn handoff_tool() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": HANDOFF_TOOL,
            "description": "Hand the ticket to a human member of the support team. Use it when the request is about a topic marked \"hand off\", when the customer asks for a person, or when you cannot answer with confidence from the knowledge you were given.",
            "parameters": {
                "type": "object",
                "properties": {
                    "reason": {
                        "type": "string",
                        "description": "Why the ticket needs a human, in one sentence for the support team."
                    },
                    "reply": {
                        "type": "string",
                        "description": "A short final message to the customer saying that a member of the team will follow up."
                    }
                },
                "required": ["reason", "reply"]
            }
        }
    })
}

/// A chat-completions request: `model`, `messages`, and (for decisions) the tool. Only fields
/// every OpenAI-compatible server accepts; no temperature or token limits, which some models
/// reject.
pub fn request_body(model: &str, messages: &[ChatMessage], offer_tool: bool) -> Value {
    let mut body = json!({ "model": model, "messages": messages, "stream": false });
    if offer_tool {
        body["tools"] = json!([handoff_tool()]);
    }
    body
}

/// Reads a chat-completions answer: a `handoff_to_human` call (as `tool_calls`, the legacy
/// `function_call`, or written out as JSON in the content, as small local models do) is a
/// handoff; a non-empty text is a reply; anything else is unusable.
pub fn parse_answer(body: &[u8]) -> Result<ModelAnswer, OpenAiError> {
    let unusable = |why: String| OpenAiError::Unusable(why);
    let v: Value = serde_json::from_slice(body).map_err(|e| unusable(format!("not JSON ({e})")))?;
    let Some(choice) = v["choices"].get(0) else {
        return Err(match server_message(&v) {
            Some(m) => unusable(format!(
                "the server reported: {}",
                clip(&m, MAX_ERROR_CHARS)
            )),
            None => unusable("no choices in the answer".into()),
        });
    };
    let message = &choice["message"];
    if !message.is_object() {
        return Err(unusable("the first choice has no message".into()));
    }
    if let Some(calls) = message["tool_calls"].as_array().filter(|c| !c.is_empty()) {
        for call in calls {
            if call["function"]["name"].as_str() == Some(HANDOFF_TOOL) {
                return Ok(handoff_from_arguments(&call["function"]["arguments"]));
            }
        }
        let names: Vec<&str> = calls
            .iter()
            .filter_map(|c| c["function"]["name"].as_str())
            .collect();
        return Err(unusable(format!(
            "the model called unknown tools {names:?}"
        )));
    }
    if message["function_call"]["name"].as_str() == Some(HANDOFF_TOOL) {
        return Ok(handoff_from_arguments(
            &message["function_call"]["arguments"],
        ));
    }
    let text = strip_reasoning(&content_text(&message["content"]));
    if let Some(refusal) = message["refusal"]
        .as_str()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        if text.is_empty() {
            return Ok(ModelAnswer::Refused(clip(refusal, MAX_ERROR_CHARS)));
        }
    }
    if let Some(handoff) = inline_tool_call(&text) {
        return Ok(handoff);
    }
    if let Some(reason @ ("length" | "content_filter")) = choice["finish_reason"].as_str() {
        return Err(unusable(format!(
            "the answer was cut off (finish_reason {reason})"
        )));
    }
    if text.is_empty() {
        return Err(unusable("an empty message".into()));
    }
    Ok(ModelAnswer::Reply(text))
}

/// The tool's arguments: a JSON string per the API, an object on some servers, and possibly
/// unreadable; the model asked for a human either way.
fn handoff_from_arguments(arguments: &Value) -> ModelAnswer {
    let parsed = match arguments {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let field = |key: &str| {
        parsed
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    ModelAnswer::Handoff {
        reason: field("reason").unwrap_or_default(),
        reply: field("reply"),
    }
}

/// `content` as text: a string, or the text parts of an array.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str().or_else(|| p.as_str()))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// Drops a leading `<think>…</think>` block (reasoning models served without a reasoning parser).
fn strip_reasoning(text: &str) -> String {
    let trimmed = text.trim();
    if !trimmed.starts_with("<think>") {
        return trimmed.to_string();
    }
    match trimmed.rfind("</think>") {
        Some(end) => trimmed[end + "</think>".len()..].trim().to_string(),
        None => String::new(),
    }
}

/// A handoff call written out as the whole content (optionally in a code fence or
/// `<tool_call>` tags) instead of a structured tool call.
fn inline_tool_call(text: &str) -> Option<ModelAnswer> {
    let mut s = text.trim();
    if let Some(rest) = s.strip_prefix("```") {
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
        s = rest.trim_end().strip_suffix("```")?.trim();
    }
    if let Some(rest) = s.strip_prefix("<tool_call>") {
        s = rest
            .trim_end()
            .strip_suffix("</tool_call>")
            .unwrap_or(rest)
            .trim();
    }
    if !s.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(s).ok()?;
    let call = if v["function"].is_object() {
        &v["function"]
    } else {
        &v
    };
    if call["name"].as_str() != Some(HANDOFF_TOOL) {
        return None;
    }
    let arguments = if call["arguments"].is_null() {
        &call["parameters"]
    } else {
        &call["arguments"]
    };
    Some(handoff_from_arguments(arguments))
}

/// The message of an error body: `{"error": {"message"}}` (OpenAI, llama.cpp, Ollama),
/// `{"error": "..."}`, `{"message"}` (vLLM), `{"detail"}`.
fn server_message(v: &Value) -> Option<String> {
    v["error"]["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .or_else(|| v["message"].as_str())
        .or_else(|| v["detail"].as_str())
        .map(str::to_string)
}

/// What an error answer says, short, with the API key never in it (a 401/403 body is left
/// out entirely: servers quote the key they were sent).
pub fn error_message(status: u16, body: &[u8], api_key: &str) -> String {
    if matches!(status, 401 | 403) {
        return "the server refused the credentials (check brain.openai.api_key)".into();
    }
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| server_message(&v))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let text = if text.is_empty() {
        "(empty body)".to_string()
    } else {
        text
    };
    let key = api_key.trim();
    let text = if key.len() >= 4 {
        text.replace(key, "[redacted]")
    } else {
        text
    };
    clip(&text, MAX_ERROR_CHARS)
}

/// The brain; cheap to share on the actors' arbiter (`awc::Client` is `!Send`).
pub struct OpenAiBrain {
    inner: Rc<Inner>,
}

struct Inner {
    client: awc::Client,
    url: String,
    api_key: Secret,
    model: String,
    timeout: Duration,
    max_retries: u32,
    /// First retry delay; doubles per attempt (full jitter) up to `retry_max`.
    retry_initial: Duration,
    retry_max: Duration,
    prompt: PromptBuilder,
}

impl OpenAiBrain {
    pub fn new(settings: &OpenAiSettings, prompt: PromptBuilder) -> OpenAiBrain {
        let timeout = settings.timeout();
        let client = awc::Client::builder()
            .timeout(timeout)
            .disable_redirects()
            .finish();
        OpenAiBrain {
            inner: Rc::new(Inner {
                client,
                url: format!(
                    "{}/chat/completions",
                    settings.base_url.trim().trim_end_matches('/')
                ),
                api_key: settings.api_key.clone(),
                model: settings.model.trim().to_string(),
                timeout,
                max_retries: settings.max_retries,
                retry_initial: settings.retry_initial(),
                retry_max: settings.retry_max(),
                prompt,
            }),
        }
    }
}

impl Brain for OpenAiBrain {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn decide(&self, input: BrainInput) -> LocalBoxFuture<'static, Result<Decision, BrainError>> {
        let inner = self.inner.clone();
        async move { inner.decide(input).await }.boxed_local()
    }

    fn wants_orders(&self) -> bool {
        true
    }

    fn summarize(&self, input: &BrainInput) -> LocalBoxFuture<'static, Option<String>> {
        if !prompt::needs_model_summary(&input.history) {
            return future::ready(None).boxed_local();
        }
        let inner = self.inner.clone();
        let ticket_id = input.ticket_id;
        let messages = prompt::summary_messages(input);
        async move { inner.summarize(ticket_id, messages).await }.boxed_local()
    }
}

impl Inner {
    async fn decide(&self, input: BrainInput) -> Result<Decision, BrainError> {
        let ticket_id = input.ticket_id;
        let body = request_body(&self.model, &self.prompt.messages(&input), true);
        let mut last_error = None;
        for attempt in 0..=UNUSABLE_RETRIES {
            let started = Instant::now();
            let bytes = self
                .call(ticket_id, &body, self.max_retries, self.timeout)
                .await
                .map_err(|(e, attempts)| {
                    BrainError::Unavailable(format!("{e} (after {attempts} attempts)"))
                })?;
            match parse_answer(&bytes) {
                Ok(ModelAnswer::Reply(text)) => {
                    tracing::debug!(
                        ticket_id,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "the model replied"
                    );
                    return Ok(Decision::Reply {
                        text,
                        reason: format!("model {} replied", self.model),
                    });
                }
                Ok(ModelAnswer::Handoff { reason, reply }) => {
                    tracing::debug!(
                        ticket_id,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "the model handed off"
                    );
                    let detail = if reason.is_empty() {
                        "the model handed off without giving a reason".to_string()
                    } else {
                        reason
                    };
                    return Ok(Decision::Handoff {
                        reason: HandoffReason::ModelHandoff,
                        detail,
                        reply,
                        summary: None,
                    });
                }
                Ok(ModelAnswer::Refused(refusal)) => {
                    tracing::info!(ticket_id, "the model refused; handing off");
                    return Ok(Decision::handoff(
                        HandoffReason::ModelRefused,
                        format!("the model refused: {refusal}"),
                    ));
                }
                Err(e) => {
                    tracing::warn!(ticket_id, attempt = attempt + 1, error = %e, "unusable answer from the model");
                    last_error = Some(e);
                }
            }
        }
        let e = last_error.expect("the loop ran");
        Err(BrainError::Unavailable(format!(
            "{e} ({} answers in a row)",
            UNUSABLE_RETRIES + 1
        )))
    }

    /// One short summary call; `None` (the plain extract) on any failure.
    async fn summarize(&self, ticket_id: u64, messages: Vec<ChatMessage>) -> Option<String> {
        let body = request_body(&self.model, &messages, false);
        let timeout = self.timeout.min(SUMMARY_TIMEOUT_MAX);
        let answer = match self.call(ticket_id, &body, 0, timeout).await {
            Ok(bytes) => parse_answer(&bytes),
            Err((e, _)) => Err(e),
        };
        match answer {
            Ok(ModelAnswer::Reply(text)) => Some(clip(&text, MAX_SUMMARY_CHARS)),
            Ok(ModelAnswer::Handoff { .. } | ModelAnswer::Refused(_)) => {
                tracing::warn!(ticket_id, "the model did not summarise (a tool call or a refusal); the note carries the plain extract");
                None
            }
            Err(e) => {
                tracing::warn!(ticket_id, error = %e, "no model summary; the note carries the plain extract");
                None
            }
        }
    }

    /// Sends `body`, retrying what is worth retrying up to `max_retries` times. On failure,
    /// returns the last error and how many attempts were made.
    async fn call(
        &self,
        ticket_id: u64,
        body: &Value,
        max_retries: u32,
        timeout: Duration,
    ) -> Result<Bytes, (OpenAiError, u32)> {
        let mut attempt = 0;
        loop {
            let error = match self.send(body, timeout).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) => e,
            };
            attempt += 1;
            if !error.is_retryable() || attempt > max_retries {
                return Err((error, attempt));
            }
            let wait = match error.retry_after() {
                Some(wait) if wait > MAX_RETRY_AFTER => return Err((error, attempt)),
                Some(wait) => wait,
                None => full_jitter_backoff(self.retry_initial, self.retry_max, attempt - 1),
            };
            tracing::warn!(ticket_id, attempt, error = %error, retry_in_ms = wait.as_millis() as u64, "model call failed; will retry");
            tokio::time::sleep(wait).await;
        }
    }

    async fn send(&self, body: &Value, timeout: Duration) -> Result<Bytes, OpenAiError> {
        let secs = timeout.as_secs();
        let mut request = self
            .client
            .post(&self.url)
            .timeout(timeout)
            .insert_header(("Accept", "application/json"));
        if !self.api_key.is_empty() {
            request = request.bearer_auth(self.api_key.expose().trim());
        }
        let exchange = async {
            let mut response = request.send_json(body).await.map_err(|e| match e {
                SendRequestError::Timeout => OpenAiError::Timeout(secs),
                other => OpenAiError::Connect(other.to_string()),
            })?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            // A proxy such as LiteLLM forwards the provider's headers with a prefix.
            let retry_after = parse_retry_after(
                header("retry-after")
                    .or_else(|| header("llm_provider-retry-after"))
                    .as_deref(),
                header("retry-after-ms")
                    .or_else(|| header("llm_provider-retry-after-ms"))
                    .as_deref(),
                SystemTime::now(),
            );
            let bytes = response
                .body()
                .limit(MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| OpenAiError::Connect(format!("reading the answer failed: {e}")))?;
            if (200..300).contains(&status) {
                Ok(bytes)
            } else {
                Err(OpenAiError::Status {
                    status,
                    message: error_message(status, &bytes, self.api_key.expose()),
                    retry_after,
                })
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(OpenAiError::Timeout(secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brain::knowledge::KnowledgeIndex;
    use crate::brain::prompt::tests::{example_topics, input};
    use crate::domain::session::Role;

    fn answer(message: Value) -> Vec<u8> {
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]
        })
        .to_string()
        .into_bytes()
    }

    fn tool_call(arguments: Value) -> Vec<u8> {
        answer(json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": "call_1",
                "type": "function",
                "function": {"name": "handoff_to_human", "arguments": arguments}
            }]
        }))
    }

    fn handoff(reason: &str, reply: Option<&str>) -> ModelAnswer {
        ModelAnswer::Handoff {
            reason: reason.into(),
            reply: reply.map(str::to_string),
        }
    }

    #[test]
    fn the_request_carries_model_messages_and_the_tool_and_nothing_vendor_specific() {
        let topics = example_topics();
        let prompt = PromptBuilder::new(
            "",
            "AI Assistant",
            &topics,
            KnowledgeIndex::build(&topics, None).unwrap(),
        );
        let i = input(
            &[
                (Role::Customer, "Hi, where is my order #1234?"),
                (Role::Ai, "It ships tomorrow."),
                (Role::Customer, "Thanks!"),
            ],
            1,
        );
        let body = request_body("gpt-4o-mini", &prompt.messages(&i), true);
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(keys, ["messages", "model", "stream", "tools"]);
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["stream"], false);
        let roles: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(body["messages"][3]["content"], "Thanks!");
        let tool = &body["tools"][0];
        assert_eq!(tool["type"], "function");
        assert_eq!(tool["function"]["name"], "handoff_to_human");
        assert_eq!(
            tool["function"]["parameters"]["properties"]["reason"]["type"],
            "string"
        );
        assert_eq!(
            tool["function"]["parameters"]["properties"]["reply"]["type"],
            "string"
        );
        assert!(request_body("m", &[], false).get("tools").is_none());
    }

    #[test]
    fn a_plain_message_is_the_reply() {
        let a = parse_answer(&answer(
            json!({"role": "assistant", "content": "  It ships tomorrow.\n"}),
        ));
        assert_eq!(a, Ok(ModelAnswer::Reply("It ships tomorrow.".into())));
        // Content as parts, and a reasoning block before the answer.
        let a = parse_answer(&answer(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}
        ]})));
        assert_eq!(a, Ok(ModelAnswer::Reply("Hello there".into())));
        let a = parse_answer(&answer(
            json!({"role": "assistant", "content": "<think>the customer wants…</think>\n\nHi Jane!"}),
        ));
        assert_eq!(a, Ok(ModelAnswer::Reply("Hi Jane!".into())));
    }

    #[test]
    fn the_tool_call_is_a_handoff_however_its_arguments_come() {
        let args = r#"{"reason": "wants a refund", "reply": "A colleague will help."}"#;
        assert_eq!(
            parse_answer(&tool_call(json!(args))),
            Ok(handoff("wants a refund", Some("A colleague will help.")))
        );
        // An object instead of a JSON string (some servers).
        assert_eq!(
            parse_answer(&tool_call(json!({"reason": "r", "reply": ""}))),
            Ok(handoff("r", None))
        );
        // Unreadable arguments: still a handoff, with the configured final reply.
        assert_eq!(
            parse_answer(&tool_call(json!("{not json"))),
            Ok(handoff("", None))
        );
        // The legacy function_call, and a call written out in the content.
        assert_eq!(
            parse_answer(&answer(json!({"role": "assistant", "content": null,
                "function_call": {"name": "handoff_to_human", "arguments": "{\"reason\":\"x\"}"}}))),
            Ok(handoff("x", None))
        );
        for content in [
            r#"{"name": "handoff_to_human", "arguments": {"reason": "x", "reply": "bye"}}"#,
            "```json\n{\"name\": \"handoff_to_human\", \"parameters\": {\"reason\": \"x\", \"reply\": \"bye\"}}\n```",
            "<tool_call>\n{\"name\": \"handoff_to_human\", \"arguments\": {\"reason\": \"x\", \"reply\": \"bye\"}}\n</tool_call>",
        ] {
            assert_eq!(
                parse_answer(&answer(json!({"role": "assistant", "content": content}))),
                Ok(handoff("x", Some("bye"))),
                "{content}"
            );
        }
    }

    #[test]
    fn a_refusal_is_its_own_answer_not_an_empty_one() {
        let refused = json!({"role": "assistant", "content": null,
            "refusal": "  I can't help with that request. "});
        assert_eq!(
            parse_answer(&answer(refused)),
            Ok(ModelAnswer::Refused(
                "I can't help with that request.".into()
            ))
        );
        // A refusal field beside real content (some servers send it empty) is the content.
        let both = json!({"role": "assistant", "content": "It shipped.", "refusal": ""});
        assert_eq!(
            parse_answer(&answer(both)),
            Ok(ModelAnswer::Reply("It shipped.".into()))
        );
    }

    #[test]
    fn empty_or_malformed_answers_are_unusable() {
        let unusable = |body: &[u8]| matches!(parse_answer(body), Err(OpenAiError::Unusable(_)));
        assert!(unusable(b"{not json"));
        assert!(unusable(b""));
        assert!(unusable(br#"{"choices": []}"#));
        assert!(unusable(br#"{"error": {"message": "model not loaded"}}"#));
        assert!(unusable(&answer(
            json!({"role": "assistant", "content": ""})
        )));
        assert!(unusable(&answer(
            json!({"role": "assistant", "content": "   \n"})
        )));
        assert!(unusable(&answer(
            json!({"role": "assistant", "content": null})
        )));
        assert!(unusable(&answer(
            json!({"role": "assistant", "content": "<think>hmm"})
        )));
        assert!(unusable(&answer(
            json!({"role": "assistant", "content": null,
            "tool_calls": [{"type": "function", "function": {"name": "lookup_order", "arguments": "{}"}}]})
        )));
        let cut = json!({"choices": [{"message": {"role": "assistant", "content": "Your order"},
            "finish_reason": "length"}]});
        assert!(unusable(cut.to_string().as_bytes()));
    }

    #[test]
    fn what_is_retried() {
        let status = |s: u16| OpenAiError::Status {
            status: s,
            message: String::new(),
            retry_after: None,
        };
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(OpenAiError::Timeout(1).is_retryable());
        assert!(OpenAiError::Connect("refused".into()).is_retryable());
        assert!(!OpenAiError::Unusable("empty".into()).is_retryable());
    }

    #[test]
    fn error_messages_never_carry_the_api_key() {
        let key = "sk-test-0123456789";
        let body = format!(r#"{{"error": {{"message": "bad request for key {key}"}}}}"#);
        let m = error_message(400, body.as_bytes(), key);
        assert_eq!(m, "bad request for key [redacted]");
        let m = error_message(
            401,
            format!("Incorrect API key provided: {key}").as_bytes(),
            key,
        );
        assert!(!m.contains("sk-test"), "{m}");
        assert!(m.contains("brain.openai.api_key"), "{m}");
        assert_eq!(error_message(503, b"", key), "(empty body)");
        assert_eq!(
            error_message(400, br#"{"object": "error", "message": "bad role"}"#, key),
            "bad role"
        );
        let long = "x".repeat(1000);
        assert!(error_message(500, long.as_bytes(), key).chars().count() <= MAX_ERROR_CHARS);
    }
}
