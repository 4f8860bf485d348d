//! Settings: `config.toml` layered with `GORGIAS_AGENT__SECTION__KEY` environment overrides,
//! deserialized once into typed sections and validated before anything starts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::domain::caps::SizeCaps;
use crate::domain::hours::{BusinessHours, BusinessHoursSettings, HoursError};
pub use crate::domain::plan::Mode;
use crate::domain::plan::{HandoffRules, Planner, ReplyRules};
use crate::domain::tags::{HandoffTags, ReplyTags, TagError};

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "GORGIAS_AGENT";

/// The webhook token of the shipped `config.toml`: public, so it protects nothing once the agent
/// talks to a real Gorgias.
pub const PUBLIC_DEV_TOKEN: &str = "dev-webhook-token";
/// The shortest token live and shadow mode accept (a guessable secret lets anyone post as
/// Gorgias, or read every conversation through the admin API).
pub const MIN_TOKEN_CHARS: usize = 16;

/// Why a configuration could not be used; printed as one line before exiting with code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("invalid config: {0}")]
    Parse(String),
    #[error("invalid config: `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
    /// A tag name of `handoff.tags` / `autopilot.reply_tags`; the message names the entry.
    #[error("invalid config: {0}")]
    Tag(#[from] TagError),
    /// A `[business_hours]` value; the message names the key.
    #[error("invalid config: {0}")]
    Hours(#[from] HoursError),
}

impl ConfigError {
    fn invalid(key: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key,
            problem: problem.into(),
        }
    }
}

/// A secret value (API key, token): never printed by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The raw value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Environment overrides arrive as strings but an all-digit key would otherwise be typed
        // as a number by the layering; accept both.
        let value = serde_json::Value::deserialize(d)?;
        match value {
            serde_json::Value::String(s) => Ok(Secret(s)),
            serde_json::Value::Number(n) => Ok(Secret(n.to_string())),
            serde_json::Value::Null => Ok(Secret::default()),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, got {other}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopicAction {
    #[default]
    Handle,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BrainBackend {
    KnowledgeBase,
    Openai,
}

impl BrainBackend {
    /// The name as written in `brain.backend`.
    pub fn as_str(self) -> &'static str {
        match self {
            BrainBackend::KnowledgeBase => "knowledge-base",
            BrainBackend::Openai => "openai",
        }
    }
}

/// What the knowledge-base brain does when a topic has no answer in the customer's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Untranslated {
    /// Reply with the topic's default `answer`.
    Answer,
    /// Hand the ticket to a human who speaks the language.
    Handoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    #[serde(default)]
    pub storage: StorageSettings,
    pub gorgias: GorgiasSettings,
    #[serde(default)]
    pub handoff: HandoffSettings,
    #[serde(default)]
    pub dedup: DedupSettings,
    #[serde(default)]
    pub sessions: SessionSettings,
    #[serde(default)]
    pub autopilot: AutopilotSettings,
    #[serde(default)]
    pub brain: BrainSettings,
    /// Absent: always open.
    #[serde(default)]
    pub business_hours: Option<BusinessHoursSettings>,
    #[serde(default)]
    pub orders: OrdersSettings,
    #[serde(default)]
    pub log: LogSettings,
}

// Each section's defaults are its `Default` impl, written once: `#[serde(default)]` on the
// section fills every missing key from it.

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    /// Shared secret Gorgias must send with every webhook.
    pub webhook_token: Secret,
    /// Bearer token for `/admin/*`; the admin API is off when empty.
    pub admin_token: Secret,
    pub max_body_bytes: usize,
    /// How long a console sign-in lasts (its cookie's expiry).
    pub console_session_secs: u64,
    /// A request body not fully received this long after its headers is answered 408 and its
    /// connection closed (a stalled client would otherwise hold the connection for ever).
    pub body_read_timeout_ms: u64,
    /// Connections served at once, all workers together; beyond it new connections wait in
    /// the listen backlog (each one is a file descriptor).
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            webhook_token: Secret::default(),
            admin_token: Secret::default(),
            max_body_bytes: 1024 * 1024,
            console_session_secs: 12 * 3600,
            body_read_timeout_ms: 5000,
            max_connections: 10_000,
        }
    }
}

impl ServerSettings {
    pub fn console_session(&self) -> Duration {
        Duration::from_secs(self.console_session_secs)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms)
    }

    /// `(workers, connections per worker)` for `max_connections` over `available` worker
    /// threads: actix-web caps connections per worker, so the total is split, never exceeded
    /// (a cap below the thread count runs fewer workers).
    pub fn connection_limits(&self, available: usize) -> (usize, usize) {
        let workers = available.clamp(1, self.max_connections.max(1));
        (workers, self.max_connections / workers)
    }

    /// The tokens too weak for a mode that talks to Gorgias, as (key, problem); the problem never
    /// holds the value. An empty admin token is not weak: it disables the admin API.
    pub fn weak_tokens(&self) -> Vec<(&'static str, String)> {
        let mut weak = Vec::new();
        for (key, token) in [
            ("server.webhook_token", &self.webhook_token),
            ("server.admin_token", &self.admin_token),
        ] {
            let value = token.expose().trim();
            if value.is_empty() {
                continue;
            }
            if value == PUBLIC_DEV_TOKEN {
                weak.push((
                    key,
                    "is the public development token of the shipped config.toml".to_string(),
                ));
            } else if value.chars().count() < MIN_TOKEN_CHARS {
                weak.push((key, format!("is shorter than {MIN_TOKEN_CHARS} characters")));
            }
        }
        weak
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.webhook_token.is_empty() {
            return Err(ConfigError::invalid(
                "server.webhook_token",
                "is required and must not be empty (set it in config.toml or GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN)",
            ));
        }
        if self.bind.parse::<std::net::SocketAddr>().is_err() && !self.bind.contains(':') {
            return Err(ConfigError::invalid(
                "server.bind",
                format!("must be host:port, got {:?}", self.bind),
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::invalid("server.max_body_bytes", "must be > 0"));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::invalid(
                "server.max_connections",
                "must be > 0",
            ));
        }
        if self.body_read_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "server.body_read_timeout_ms",
                "must be > 0",
            ));
        }
        if self.console_session_secs == 0 {
            return Err(ConfigError::invalid(
                "server.console_session_secs",
                "must be > 0",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    pub path: PathBuf,
    /// A webhook whose write is not confirmed this fast answers 503 (Gorgias retries) instead
    /// of hanging on a disk that stopped answering.
    pub commit_timeout_ms: u64,
    /// Writes that may wait for the committer; beyond it intake answers 503.
    pub commit_queue: usize,
    /// Set by `serve --accept-data-loss`, never by the file or the environment: starting on a
    /// store found to have lost data is a decision for one start, not a setting.
    #[serde(skip)]
    pub accept_data_loss: bool,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            path: PathBuf::from("data/gorgias-agent.sled"),
            commit_timeout_ms: 3000,
            commit_queue: 4096,
            accept_data_loss: false,
        }
    }
}

impl StorageSettings {
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            commit_timeout: Duration::from_millis(self.commit_timeout_ms),
            commit_queue: self.commit_queue,
            accept_data_loss: self.accept_data_loss,
        }
    }
}

impl StorageSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(ConfigError::invalid("storage.path", "must not be empty"));
        }
        if self.commit_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "storage.commit_timeout_ms",
                "must be > 0",
            ));
        }
        if self.commit_queue == 0 {
            return Err(ConfigError::invalid("storage.commit_queue", "must be > 0"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GorgiasSettings {
    pub mode: Mode,
    pub base_url: String,
    pub api_email: String,
    pub api_key: Secret,
    /// Tickets assigned to this Gorgias user belong to the AI.
    pub ai_user_id: u64,
    pub sender_name: String,
    pub sender_email: String,
    pub requests_per_window: u32,
    pub window_secs: u64,
    pub request_timeout_secs: u64,
    /// How long a failing outbound action keeps being retried before it is given up.
    pub retry_for_secs: u64,
    /// First retry delay of a failed call (doubles per attempt, with full jitter).
    pub retry_initial_ms: u64,
    /// Longest delay between two retries.
    pub retry_max_ms: u64,
}

impl Default for GorgiasSettings {
    fn default() -> Self {
        GorgiasSettings {
            mode: Mode::DryRun,
            base_url: String::new(),
            api_email: String::new(),
            api_key: Secret::default(),
            ai_user_id: 0,
            sender_name: "AI Assistant".into(),
            sender_email: String::new(),
            requests_per_window: 40,
            window_secs: 20,
            request_timeout_secs: 10,
            retry_for_secs: 15 * 60,
            retry_initial_ms: 1000,
            retry_max_ms: 60_000,
        }
    }
}

impl GorgiasSettings {
    /// The span of the rate budget (`requests_per_window` per this).
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
    pub fn retry_for(&self) -> Duration {
        Duration::from_secs(self.retry_for_secs)
    }
    /// At least 1 ms, so backoff always grows.
    pub fn retry_initial(&self) -> Duration {
        Duration::from_millis(self.retry_initial_ms.max(1))
    }
    pub fn retry_max(&self) -> Duration {
        Duration::from_millis(self.retry_max_ms.max(1))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.mode != Mode::DryRun {
            let url = self.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "gorgias.base_url",
                    format!(
                        "must be an http(s) URL such as https://your-store.gorgias.com in {} mode",
                        self.mode.as_str()
                    ),
                ));
            }
            if self.api_email.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "gorgias.api_email",
                    format!("is required in {} mode", self.mode.as_str()),
                ));
            }
            if self.api_key.is_empty() {
                return Err(ConfigError::invalid(
                    "gorgias.api_key",
                    format!(
                        "is required in {} mode (set GORGIAS_AGENT__GORGIAS__API_KEY)",
                        self.mode.as_str()
                    ),
                ));
            }
        }
        if self.ai_user_id == 0 {
            return Err(ConfigError::invalid(
                "gorgias.ai_user_id",
                "must be the id of the Gorgias user the AI answers as (> 0)",
            ));
        }
        if self.requests_per_window == 0 {
            return Err(ConfigError::invalid(
                "gorgias.requests_per_window",
                "must be > 0",
            ));
        }
        if self.window_secs == 0 {
            return Err(ConfigError::invalid("gorgias.window_secs", "must be > 0"));
        }
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "gorgias.request_timeout_secs",
                "must be > 0",
            ));
        }
        Ok(())
    }
}

/// An id that is "not set" when absent or `0` (files written for earlier versions use `0`).
fn optional_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.filter(|id| *id != 0))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffSettings {
    /// Assignee user on handoff; `None` (or `0` in a file) leaves it unset.
    #[serde(deserialize_with = "optional_id")]
    pub user_id: Option<u64>,
    /// Assignee team on handoff; `None` (or `0` in a file) leaves it unset.
    #[serde(deserialize_with = "optional_id")]
    pub team_id: Option<u64>,
    pub final_reply: String,
    pub max_ai_replies: u32,
    pub internal_note: bool,
    /// Added on handoff; `{reason}` in a name becomes the reason code. None by default.
    pub tags: Vec<String>,
    /// The final reply outside business hours; empty: `final_reply` at any hour.
    pub final_reply_offline: String,
    /// `final_reply` in other languages, by language code (`fr = "..."`).
    pub final_replies: BTreeMap<String, String>,
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            user_id: None,
            team_id: None,
            final_reply: "Thanks for your patience. I'm passing your request to a member of our team, who will follow up here shortly.".into(),
            max_ai_replies: 5,
            internal_note: true,
            tags: Vec::new(),
            final_reply_offline: String::new(),
            final_replies: BTreeMap::new(),
        }
    }
}

impl HandoffSettings {
    /// The rules a handoff is planned by.
    pub fn rules(&self) -> Result<HandoffRules, ConfigError> {
        let offline = self.final_reply_offline.trim();
        Ok(HandoffRules {
            final_reply: self.final_reply.clone(),
            internal_note: self.internal_note,
            user_id: self.user_id,
            team_id: self.team_id,
            tags: HandoffTags::parse(&self.tags)?,
            final_reply_offline: (!offline.is_empty()).then(|| self.final_reply_offline.clone()),
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.final_reply.trim().is_empty() {
            return Err(ConfigError::invalid(
                "handoff.final_reply",
                "must not be empty: it is what the customer reads on handoff",
            ));
        }
        HandoffTags::parse(&self.tags)?;
        check_translations("handoff.final_replies", &self.final_replies)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupSettings {
    pub window_secs: u64,
}

impl Default for DedupSettings {
    fn default() -> Self {
        DedupSettings { window_secs: 3600 }
    }
}

impl DedupSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.window_secs == 0 {
            return Err(ConfigError::invalid("dedup.window_secs", "must be > 0"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    pub idle_secs: u64,
    /// Sessions idle this many days are deleted by a background sweep; 0 keeps everything.
    pub retention_days: u64,
    /// The most characters kept of one message in a session (a marker shows the cut).
    pub max_message_chars: usize,
    /// The most bytes of history text one session keeps; the oldest texts are cut first.
    pub max_session_bytes: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_secs: 300,
            retention_days: 0,
            max_message_chars: SizeCaps::default().max_message_chars,
            max_session_bytes: SizeCaps::default().max_session_bytes,
        }
    }
}

impl SessionSettings {
    /// How long a ticket actor without work lives before it is stopped.
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_secs)
    }

    /// What a session's history is kept within.
    pub fn caps(&self) -> SizeCaps {
        SizeCaps {
            max_message_chars: self.max_message_chars,
            max_session_bytes: self.max_session_bytes,
        }
    }

    /// How long an idle session is kept, `None` for ever.
    pub fn retention_secs(&self) -> Option<u64> {
        (self.retention_days > 0).then(|| self.retention_days.saturating_mul(86_400))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.idle_secs == 0 {
            return Err(ConfigError::invalid("sessions.idle_secs", "must be > 0"));
        }
        if self.max_message_chars < 100 {
            return Err(ConfigError::invalid(
                "sessions.max_message_chars",
                "must be at least 100",
            ));
        }
        // Room for at least two whole messages (of up to 4 bytes a character), so the newest
        // message and the one before it always reach the brain uncut.
        if self.max_session_bytes < self.max_message_chars.saturating_mul(8) {
            return Err(ConfigError::invalid(
                "sessions.max_session_bytes",
                "must be at least 8 times sessions.max_message_chars (two whole messages)",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutopilotSettings {
    pub enabled: bool,
    /// Empty: every channel.
    pub channels: Vec<String>,
    pub topics: Vec<Topic>,
    /// Added to the ticket after each AI reply. None by default.
    pub reply_tags: Vec<String>,
    /// Close the ticket after each AI reply (Gorgias reopens it when the customer writes).
    pub close_after_reply: bool,
}

impl Default for AutopilotSettings {
    fn default() -> Self {
        AutopilotSettings {
            enabled: true,
            channels: Vec::new(),
            topics: Vec::new(),
            reply_tags: Vec::new(),
            close_after_reply: false,
        }
    }
}

impl AutopilotSettings {
    /// Whether Autopilot answers on this channel (case-insensitive).
    pub fn channel_enabled(&self, channel: &str) -> bool {
        self.channels.is_empty()
            || self
                .channels
                .iter()
                .any(|c| c.trim().eq_ignore_ascii_case(channel.trim()))
    }

    /// What follows an AI reply.
    pub fn reply_rules(&self) -> Result<ReplyRules, ConfigError> {
        Ok(ReplyRules {
            tags: ReplyTags::parse(&self.reply_tags)?,
            close: self.close_after_reply,
        })
    }

    /// `backend` decides whether a handled topic needs its own answer.
    fn validate(&self, backend: BrainBackend) -> Result<(), ConfigError> {
        ReplyTags::parse(&self.reply_tags)?;
        for topic in &self.topics {
            if topic.name.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "autopilot.topics.name",
                    "every topic needs a name",
                ));
            }
            if topic.keywords.is_empty() && topic.description.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "autopilot.topics.keywords",
                    format!(
                        "topic {:?} needs keywords or a description to be matched",
                        topic.name
                    ),
                ));
            }
            check_translations("autopilot.topics.answers", &topic.answers)?;
            check_translations("autopilot.topics.answers_no_order", &topic.answers_no_order)?;
            if topic.action == TopicAction::Handle
                && topic.answer.trim().is_empty()
                && backend == BrainBackend::KnowledgeBase
            {
                return Err(ConfigError::invalid(
                    "autopilot.topics.answer",
                    format!(
                        "topic {:?} is handled by the knowledge-base brain and needs an answer",
                        topic.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Phrases that veto the topic, however well its keywords match ("cancel", "change").
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub action: TopicAction,
    #[serde(default)]
    pub answer: String,
    /// `answer` in other languages, by language code (`fr = "..."`).
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// Said instead of an `answer` that needs order data the customer does not have; empty:
    /// such a turn hands off (`no_order_data`).
    #[serde(default)]
    pub answer_no_order: String,
    /// `answer_no_order` in other languages, by language code.
    #[serde(default)]
    pub answers_no_order: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrainSettings {
    pub backend: BrainBackend,
    pub knowledge_dir: String,
    /// Minimum retrieval score a topic needs for the knowledge-base brain to answer with it.
    pub min_score: f64,
    /// How far the best matching topic must score above the runner-up to be answered.
    pub min_margin: f64,
    /// The language the topics' `answer` and `handoff.final_reply` are written in.
    pub answer_language: String,
    pub untranslated: Untranslated,
    pub guardrails: GuardrailSettings,
    pub openai: OpenAiSettings,
}

/// Replacements for the built-in guardrail phrase lists (all languages at once); absent keeps
/// the built-in list, an empty list switches that guardrail off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSettings {
    /// Requests for a person.
    pub human: Option<Vec<String>>,
    /// Requests the agent cannot carry out (cancel, change, add, edit).
    pub needs_action: Option<Vec<String>>,
    /// Complaints about a damaged, wrong or missing item.
    pub complaint: Option<Vec<String>>,
}

impl Default for BrainSettings {
    fn default() -> Self {
        BrainSettings {
            backend: BrainBackend::KnowledgeBase,
            knowledge_dir: String::new(),
            min_score: 1.0,
            min_margin: 1.0,
            answer_language: "en".into(),
            untranslated: Untranslated::Answer,
            guardrails: GuardrailSettings::default(),
            openai: OpenAiSettings::default(),
        }
    }
}

impl BrainSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.backend == BrainBackend::Openai {
            self.openai.validate()?;
        }
        if !self.knowledge_dir.trim().is_empty() && !Path::new(self.knowledge_dir.trim()).is_dir() {
            return Err(ConfigError::invalid(
                "brain.knowledge_dir",
                format!("{:?} is not a directory", self.knowledge_dir),
            ));
        }
        if !(self.min_margin >= 0.0 && self.min_margin.is_finite()) {
            return Err(ConfigError::invalid(
                "brain.min_margin",
                "must be a number >= 0",
            ));
        }
        if !is_language_code(&self.answer_language) {
            return Err(ConfigError::invalid(
                "brain.answer_language",
                format!(
                    "must be a two-letter language code such as \"en\", got {:?}",
                    self.answer_language
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiSettings {
    pub base_url: String,
    pub api_key: Secret,
    pub model: String,
    pub timeout_secs: u64,
    pub max_retries: u32,
    /// First retry delay of a failed model call (doubles per attempt, with full jitter).
    pub retry_initial_ms: u64,
    /// Longest delay between two model retries.
    pub retry_max_ms: u64,
    pub system_prompt: String,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        OpenAiSettings {
            base_url: "https://api.openai.com/v1".into(),
            api_key: Secret::default(),
            model: "gpt-4o-mini".into(),
            timeout_secs: 60,
            max_retries: 2,
            retry_initial_ms: 500,
            retry_max_ms: 8000,
            system_prompt: String::new(),
        }
    }
}

impl OpenAiSettings {
    /// The timeout of one attempt (at least a second).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
    /// At least 1 ms, so backoff always grows.
    pub fn retry_initial(&self) -> Duration {
        Duration::from_millis(self.retry_initial_ms.max(1))
    }
    pub fn retry_max(&self) -> Duration {
        Duration::from_millis(self.retry_max_ms.max(1))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "brain.openai.base_url",
                "must be an http(s) URL",
            ));
        }
        if url.contains("api.openai.com") && self.api_key.is_empty() {
            return Err(ConfigError::invalid(
                "brain.openai.api_key",
                "is required for api.openai.com (set GORGIAS_AGENT__BRAIN__OPENAI__API_KEY)",
            ));
        }
        if self.model.trim().is_empty() {
            return Err(ConfigError::invalid(
                "brain.openai.model",
                "must not be empty",
            ));
        }
        if self.timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "brain.openai.timeout_secs",
                "must be > 0",
            ));
        }
        Ok(())
    }
}

/// The customer's own orders in answers (`ticket.customer.integrations`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersSettings {
    pub enabled: bool,
    /// Live and shadow: when the webhook body carries no order data and the turn needs it,
    /// `GET /api/customers/{id}`.
    pub fetch: bool,
    /// A fetched customer's orders are reused this long (per customer id).
    pub cache_secs: u64,
    /// The most recent orders offered to the openai brain.
    pub max_orders: usize,
    /// The longest a fetch may take, rate-limit wait included, before the turn goes on
    /// without order data.
    pub fetch_timeout_secs: u64,
}

impl Default for OrdersSettings {
    fn default() -> Self {
        OrdersSettings {
            enabled: true,
            fetch: true,
            cache_secs: 60,
            max_orders: 3,
            fetch_timeout_secs: 5,
        }
    }
}

impl OrdersSettings {
    pub fn cache_for(&self) -> Duration {
        Duration::from_secs(self.cache_secs)
    }

    pub fn fetch_timeout(&self) -> Duration {
        Duration::from_secs(self.fetch_timeout_secs)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=20).contains(&self.max_orders) {
            return Err(ConfigError::invalid(
                "orders.max_orders",
                "must be between 1 and 20",
            ));
        }
        if self.fetch_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "orders.fetch_timeout_secs",
                "must be > 0",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

impl LogSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(
            self.level.to_ascii_lowercase().as_str(),
            "trace" | "debug" | "info" | "warn" | "error"
        ) {
            return Err(ConfigError::invalid(
                "log.level",
                "must be one of trace, debug, info, warn, error",
            ));
        }
        Ok(())
    }
}

fn is_language_code(code: &str) -> bool {
    code.len() == 2 && code.chars().all(|c| c.is_ascii_lowercase())
}

/// Translation tables are keyed by two-letter language codes and hold text.
fn check_translations(
    key: &'static str,
    table: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (code, text) in table {
        if !is_language_code(code) {
            return Err(ConfigError::invalid(
                key,
                format!("keys are two-letter language codes such as \"fr\", got {code:?}"),
            ));
        }
        if text.trim().is_empty() {
            return Err(ConfigError::invalid(
                key,
                format!("the {code:?} text must not be empty"),
            ));
        }
    }
    Ok(())
}

impl Settings {
    /// Reads `path`, applies the process environment's overrides, validates.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Settings::from_toml_and_env(&text, std::env::vars())
    }

    /// Parses TOML text, layers `GORGIAS_AGENT__SECTION__KEY` overrides from `env`, validates.
    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let overrides: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
            .collect();
        let source = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("autopilot.channels")
            .with_list_parse_key("autopilot.reply_tags")
            .with_list_parse_key("handoff.tags")
            .source(Some(overrides));
        let built = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(source)
            .build()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        let settings: Settings = built
            .try_deserialize()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot: required values, ranges, and combinations; section by
    /// section, in file order.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.storage.validate()?;
        self.gorgias.validate()?;
        if self.gorgias.mode != Mode::DryRun {
            if let Some((key, problem)) = self.server.weak_tokens().into_iter().next() {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "{problem}: refused in {} mode (set a random secret of at least {MIN_TOKEN_CHARS} characters, e.g. by GORGIAS_AGENT__{})",
                        self.gorgias.mode.as_str(),
                        key.replace('.', "__").to_uppercase()
                    ),
                ));
            }
        }
        self.handoff.validate()?;
        self.dedup.validate()?;
        self.sessions.validate()?;
        self.autopilot.validate(self.brain.backend)?;
        self.brain.validate()?;
        self.orders.validate()?;
        self.business_hours()?;
        self.log.validate()
    }

    /// What is allowed but unwise in this configuration, one line each, naming the key and never
    /// a value: weak tokens in dry-run mode (refused in live and shadow).
    pub fn warnings(&self) -> Vec<String> {
        self.server
            .weak_tokens()
            .into_iter()
            .map(|(key, problem)| {
                format!("`{key}` {problem}: fine for dry-run, refused in live and shadow mode")
            })
            .collect()
    }

    /// `[business_hours]`, validated; `None` when the section is absent (always open).
    pub fn business_hours(&self) -> Result<Option<BusinessHours>, ConfigError> {
        self.business_hours
            .as_ref()
            .map(BusinessHours::from_settings)
            .transpose()
            .map_err(ConfigError::from)
    }

    /// The rules turns plan by: mode, handoff package, what follows a reply, business hours.
    pub fn planner(&self) -> Result<Planner, ConfigError> {
        Ok(Planner {
            mode: self.gorgias.mode,
            handoff: self.handoff.rules()?,
            reply: self.autopilot.reply_rules()?,
            hours: self.business_hours()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[server]
webhook_token = "secret"
[gorgias]
ai_user_id = 7
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let s = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        assert_eq!(s.gorgias.mode, Mode::DryRun);
        assert_eq!(s.gorgias.requests_per_window, 40);
        assert_eq!(s.dedup.window_secs, 3600);
        assert_eq!(s.handoff.max_ai_replies, 5);
        assert!(s.handoff.internal_note);
        assert_eq!(s.brain.backend, BrainBackend::KnowledgeBase);
        assert_eq!(s.server.max_body_bytes, 1_048_576);
    }

    #[test]
    fn orders_default_to_the_contract_and_are_validated() {
        let s = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        assert!(s.orders.enabled && s.orders.fetch);
        assert_eq!(s.orders.cache_for(), Duration::from_secs(60));
        assert_eq!(s.orders.max_orders, 3);
        for (key, value) in [
            ("GORGIAS_AGENT__ORDERS__MAX_ORDERS", "0"),
            ("GORGIAS_AGENT__ORDERS__FETCH_TIMEOUT_SECS", "0"),
        ] {
            let err = Settings::from_toml_and_env(MINIMAL, env(&[(key, value)])).unwrap_err();
            let name = key
                .trim_start_matches("GORGIAS_AGENT__ORDERS__")
                .to_lowercase();
            assert!(err.to_string().contains(&format!("orders.{name}")), "{err}");
        }
        let text = format!(
            "{MINIMAL}[[autopilot.topics]]\nname = \"o\"\nkeywords = [\"order\"]\nanswer = \"{{order.summary}}\"\nanswer_no_order = \"Tell me your order number.\"\n[autopilot.topics.answers_no_order]\nfr = \"\"\n"
        );
        let err = Settings::from_toml_and_env(&text, env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("autopilot.topics.answers_no_order"),
            "{err}"
        );
    }

    #[test]
    fn environment_overrides_file_values_with_type_coercion() {
        let s = Settings::from_toml_and_env(
            MINIMAL,
            env(&[
                ("GORGIAS_AGENT__GORGIAS__AI_USER_ID", "42"),
                ("GORGIAS_AGENT__GORGIAS__API_KEY", "12345"),
                ("GORGIAS_AGENT__SERVER__BIND", "0.0.0.0:9000"),
                ("GORGIAS_AGENT__AUTOPILOT__CHANNELS", "email,chat"),
                ("GORGIAS_AGENT__HANDOFF__INTERNAL_NOTE", "false"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.gorgias.ai_user_id, 42);
        assert_eq!(s.gorgias.api_key.expose(), "12345");
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.autopilot.channels, vec!["email", "chat"]);
        assert!(!s.handoff.internal_note);
    }

    #[test]
    fn missing_webhook_token_names_the_key() {
        let err = Settings::from_toml_and_env("[server]\n[gorgias]\nai_user_id = 1\n", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.webhook_token"), "{err}");
    }

    #[test]
    fn live_and_shadow_mode_refuse_the_public_or_a_short_token_naming_the_key_not_the_value() {
        let live = [
            (
                "GORGIAS_AGENT__GORGIAS__BASE_URL",
                "https://acme.gorgias.com",
            ),
            ("GORGIAS_AGENT__GORGIAS__API_EMAIL", "bot@acme.example"),
            ("GORGIAS_AGENT__GORGIAS__API_KEY", "key"),
        ];
        for mode in ["live", "shadow"] {
            for (key, value, named) in [
                (
                    "GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN",
                    PUBLIC_DEV_TOKEN,
                    "server.webhook_token",
                ),
                (
                    "GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN",
                    "fifteen-chars-x",
                    "server.webhook_token",
                ),
                (
                    "GORGIAS_AGENT__SERVER__ADMIN_TOKEN",
                    "short-admin",
                    "server.admin_token",
                ),
                (
                    "GORGIAS_AGENT__SERVER__ADMIN_TOKEN",
                    PUBLIC_DEV_TOKEN,
                    "server.admin_token",
                ),
            ] {
                let mut vars = live.to_vec();
                vars.push(("GORGIAS_AGENT__GORGIAS__MODE", mode));
                vars.push((
                    "GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN",
                    "a-long-random-webhook-secret",
                ));
                vars.push((key, value));
                let err = Settings::from_toml_and_env(MINIMAL, env(&vars))
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(&format!("`{named}`")), "{err}");
                assert!(err.contains(mode), "{err}");
                assert!(!err.contains(value), "the value was printed: {err}");
                assert_eq!(err.lines().count(), 1, "{err}");
            }
            let mut vars = live.to_vec();
            vars.push(("GORGIAS_AGENT__GORGIAS__MODE", mode));
            vars.push(("GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN", "sixteen-chars-xy"));
            let s = Settings::from_toml_and_env(MINIMAL, env(&vars)).unwrap();
            assert!(s.warnings().is_empty());
        }
    }

    #[test]
    fn dry_run_accepts_weak_tokens_with_a_warning_naming_the_key() {
        let s = Settings::from_toml_and_env(
            MINIMAL,
            env(&[("GORGIAS_AGENT__SERVER__ADMIN_TOKEN", PUBLIC_DEV_TOKEN)]),
        )
        .unwrap();
        let warnings = s.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("`server.webhook_token` is shorter than 16"));
        assert!(warnings[1].contains("`server.admin_token` is the public development token"));
        assert!(warnings.iter().all(|w| !w.contains(PUBLIC_DEV_TOKEN)));
        let shipped =
            Settings::from_toml_and_env(include_str!("../config.toml"), env(&[])).unwrap();
        assert_eq!(shipped.warnings().len(), 1);
    }

    #[test]
    fn the_connection_cap_is_split_over_the_workers_and_never_exceeded() {
        let mut s = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        assert_eq!(s.server.max_connections, 10_000);
        assert_eq!(s.server.connection_limits(2), (2, 5_000));
        assert_eq!(s.server.connection_limits(3), (3, 3_333));
        s.server.max_connections = 1;
        assert_eq!(s.server.connection_limits(8), (1, 1));
        s.server.max_connections = 5;
        assert_eq!(s.server.connection_limits(2), (2, 2));
        assert_eq!(s.server.connection_limits(0), (1, 5));
        let err = Settings::from_toml_and_env(
            MINIMAL,
            env(&[("GORGIAS_AGENT__SERVER__MAX_CONNECTIONS", "0")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("server.max_connections"), "{err}");
    }

    #[test]
    fn session_caps_default_to_20000_characters_and_1_mb_and_keep_room_for_two_messages() {
        let s = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        assert_eq!(s.sessions.caps(), SizeCaps::default());
        assert_eq!(
            (s.sessions.max_message_chars, s.sessions.max_session_bytes),
            (20_000, 1_000_000)
        );
        for (key, value) in [
            ("GORGIAS_AGENT__SESSIONS__MAX_MESSAGE_CHARS", "10"),
            ("GORGIAS_AGENT__SESSIONS__MAX_SESSION_BYTES", "159999"),
        ] {
            let err = Settings::from_toml_and_env(MINIMAL, env(&[(key, value)])).unwrap_err();
            let name = key
                .trim_start_matches("GORGIAS_AGENT__SESSIONS__")
                .to_lowercase();
            assert!(
                err.to_string().contains(&format!("sessions.{name}")),
                "{err}"
            );
        }
    }

    #[test]
    fn live_mode_requires_credentials() {
        let err = Settings::from_toml_and_env(
            MINIMAL,
            env(&[
                ("GORGIAS_AGENT__GORGIAS__MODE", "live"),
                (
                    "GORGIAS_AGENT__GORGIAS__BASE_URL",
                    "https://acme.gorgias.com",
                ),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("gorgias.api_email"), "{err}");
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_reported() {
        let err = Settings::from_toml_and_env(
            "[server]\nwebhook_token = \"t\"\n[gorgias]\nai_user_id = \"abc\"\n",
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ai_user_id"), "{err}");
        let err = Settings::from_toml_and_env(
            "[server]\nwebhook_token = \"t\"\nbnd = \"x\"\n[gorgias]\nai_user_id = 1\n",
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bnd"), "{err}");
    }

    #[test]
    fn the_openai_brain_on_openai_needs_a_key_but_a_local_server_does_not() {
        let err = Settings::from_toml_and_env(
            MINIMAL,
            env(&[("GORGIAS_AGENT__BRAIN__BACKEND", "openai")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("brain.openai.api_key"), "{err}");
        let local = Settings::from_toml_and_env(
            MINIMAL,
            env(&[
                ("GORGIAS_AGENT__BRAIN__BACKEND", "openai"),
                (
                    "GORGIAS_AGENT__BRAIN__OPENAI__BASE_URL",
                    "http://127.0.0.1:11434/v1",
                ),
            ]),
        );
        assert!(local.is_ok(), "{local:?}");
    }

    #[test]
    fn secrets_are_not_printed_by_debug() {
        let s = Settings::from_toml_and_env(
            MINIMAL,
            env(&[("GORGIAS_AGENT__GORGIAS__API_KEY", "hunter2")]),
        )
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("\"secret\""));
    }

    #[test]
    fn handoff_ids_are_not_set_when_absent_or_zero() {
        let s = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        assert_eq!((s.handoff.user_id, s.handoff.team_id), (None, None));
        let text = format!("{MINIMAL}[handoff]\nuser_id = 0\nteam_id = 7\n");
        let s = Settings::from_toml_and_env(&text, env(&[])).unwrap();
        assert_eq!((s.handoff.user_id, s.handoff.team_id), (None, Some(7)));
        let s = Settings::from_toml_and_env(
            MINIMAL,
            env(&[
                ("GORGIAS_AGENT__HANDOFF__USER_ID", "42"),
                ("GORGIAS_AGENT__HANDOFF__TEAM_ID", "0"),
            ]),
        )
        .unwrap();
        assert_eq!((s.handoff.user_id, s.handoff.team_id), (Some(42), None));
    }

    #[test]
    fn durations_come_from_the_settings_with_their_floors() {
        let mut s = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        assert_eq!(s.gorgias.window(), Duration::from_secs(20));
        assert_eq!(s.gorgias.retry_for(), Duration::from_secs(900));
        assert_eq!(s.gorgias.retry_initial(), Duration::from_secs(1));
        assert_eq!(s.brain.openai.timeout(), Duration::from_secs(60));
        assert_eq!(s.sessions.idle(), Duration::from_secs(300));
        s.gorgias.retry_initial_ms = 0;
        s.brain.openai.retry_max_ms = 0;
        assert_eq!(s.gorgias.retry_initial(), Duration::from_millis(1));
        assert_eq!(s.brain.openai.retry_max(), Duration::from_millis(1));
    }

    #[test]
    fn the_lifecycle_is_off_until_configured() {
        let s = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        let p = s.planner().unwrap();
        assert!(p.handoff.tags.is_empty());
        assert_eq!(p.handoff.final_reply_offline, None);
        assert!(p.reply.tags.is_empty());
        assert!(!p.reply.close);
        assert!(p.hours.is_none());
    }

    #[test]
    fn lifecycle_settings_are_read_from_the_file_and_the_environment() {
        let text = format!(
            "{MINIMAL}[handoff]\ntags = [\"ai-handoff\", \"ai-handoff-{{reason}}\"]\nfinal_reply_offline = \"We're closed.\"\n[business_hours]\ntimezone = \"Europe/Paris\"\nmon = \"09:00-17:00\"\n"
        );
        let s = Settings::from_toml_and_env(
            &text,
            env(&[
                ("GORGIAS_AGENT__AUTOPILOT__REPLY_TAGS", "ai-replied,ai"),
                ("GORGIAS_AGENT__AUTOPILOT__CLOSE_AFTER_REPLY", "true"),
            ]),
        )
        .unwrap();
        let p = s.planner().unwrap();
        assert_eq!(
            p.handoff.tags.expand("no_answer"),
            ["ai-handoff", "ai-handoff-no_answer"]
        );
        assert_eq!(
            p.handoff.final_reply_offline.as_deref(),
            Some("We're closed.")
        );
        assert_eq!(p.reply.tags.names(), ["ai-replied", "ai"]);
        assert!(p.reply.close);
        assert_eq!(
            p.hours.unwrap().describe(),
            "Europe/Paris: mon 09:00-17:00, tue-sun closed"
        );
        let s = Settings::from_toml_and_env(
            MINIMAL,
            env(&[("GORGIAS_AGENT__HANDOFF__TAGS", "ai-handoff,ai-{reason}")]),
        )
        .unwrap();
        assert_eq!(
            s.planner().unwrap().handoff.tags.expand("skip_topic"),
            ["ai-handoff", "ai-skip_topic"]
        );
    }

    #[test]
    fn bad_tags_and_business_hours_name_the_key() {
        let bad = |extra: &str| {
            Settings::from_toml_and_env(&format!("{MINIMAL}{extra}"), env(&[]))
                .unwrap_err()
                .to_string()
        };
        let err = bad("[handoff]\ntags = [\"ok\", \"\"]\n");
        assert!(err.contains("`handoff.tags[1]`"), "{err}");
        let err = bad("[autopilot]\nreply_tags = [\"a-{reason}\"]\n");
        assert!(err.contains("`autopilot.reply_tags[0]`"), "{err}");
        let err = bad("[business_hours]\ntimezone = \"Mars/Olympus\"\nmon = \"09:00-17:00\"\n");
        assert!(err.contains("`business_hours.timezone`"), "{err}");
        let err = bad("[business_hours]\ntimezone = \"UTC\"\ntue = \"17:00-09:00\"\n");
        assert!(err.contains("`business_hours.tue`"), "{err}");
        let err = bad("[business_hours]\ntimezone = \"UTC\"\nmonday = \"09:00-17:00\"\n");
        assert!(err.contains("monday"), "{err}");
    }

    #[test]
    fn the_commented_lifecycle_examples_in_the_shipped_config_are_valid() {
        let examples = [
            "tags =",
            "final_reply_offline =",
            "reply_tags =",
            "close_after_reply =",
            "[business_hours]",
            "timezone =",
            "mon =",
            "tue =",
            "wed =",
            "thu =",
            "fri =",
            "sat =",
            "sun =",
        ];
        let text: String = include_str!("../config.toml")
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if examples.iter().any(|e| rest.starts_with(e)) => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let p = Settings::from_toml_and_env(&text, env(&[]))
            .unwrap()
            .planner()
            .unwrap();
        assert_eq!(
            p.handoff.tags.expand("no_answer"),
            ["ai-handoff", "ai-handoff-no_answer"]
        );
        assert!(p.handoff.final_reply_offline.is_some());
        assert_eq!(p.reply.tags.names(), ["ai-replied"]);
        assert_eq!(
            p.hours.unwrap().describe(),
            "America/New_York: mon-fri 09:00-17:00, sat-sun closed"
        );
    }

    #[test]
    fn topics_take_excludes_and_translations_and_the_brain_its_language_rules() {
        let text = format!(
            "{MINIMAL}
[handoff.final_replies]
fr = \"Un membre de l'équipe vous répond bientôt.\"
[[autopilot.topics]]
name = \"order-status\"
keywords = [\"where is my order\"]
exclude = [\"cancel\", \"change\"]
answer = \"It ships in 2 days.\"
[autopilot.topics.answers]
fr = \"Elle part sous 2 jours.\"
[brain]
untranslated = \"handoff\"
min_margin = 2.5
[brain.guardrails]
needs_action = [\"cancel*\"]
"
        );
        let s = Settings::from_toml_and_env(&text, env(&[])).unwrap();
        let topic = &s.autopilot.topics[0];
        assert_eq!(topic.exclude, ["cancel", "change"]);
        assert_eq!(topic.answers["fr"], "Elle part sous 2 jours.");
        assert_eq!(s.brain.untranslated, Untranslated::Handoff);
        assert_eq!(s.brain.min_margin, 2.5);
        assert_eq!(s.brain.answer_language, "en");
        assert_eq!(
            s.brain.guardrails.needs_action.as_deref(),
            Some(&["cancel*".to_string()][..])
        );
        assert!(s.brain.guardrails.human.is_none());
        assert!(s.handoff.final_replies["fr"].starts_with("Un membre"));

        let defaults = Settings::from_toml_and_env(MINIMAL, env(&[])).unwrap();
        assert_eq!(defaults.brain.untranslated, Untranslated::Answer);
        assert_eq!(defaults.brain.min_margin, 1.0);
    }

    #[test]
    fn translations_need_language_codes_and_text() {
        for (extra, key) in [
            ("[handoff.final_replies]\nfrench = \"x\"\n", "handoff.final_replies"),
            (
                "[[autopilot.topics]]\nname = \"a\"\nkeywords = [\"b\"]\nanswer = \"c\"\n[autopilot.topics.answers]\nfr = \" \"\n",
                "autopilot.topics.answers",
            ),
            ("[brain]\nanswer_language = \"english\"\n", "brain.answer_language"),
            ("[brain]\nmin_margin = -1.0\n", "brain.min_margin"),
        ] {
            let err = Settings::from_toml_and_env(&format!("{MINIMAL}{extra}"), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn shipped_config_is_valid() {
        let text = include_str!("../config.toml");
        let s = Settings::from_toml_and_env(text, env(&[])).unwrap();
        assert_eq!(s.gorgias.mode, Mode::DryRun);
        assert!(s
            .autopilot
            .topics
            .iter()
            .any(|t| t.action == TopicAction::Skip));
    }
}
