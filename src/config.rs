//! Settings: `config.toml` layered with `GORGIAS_AGENT__SECTION__KEY` environment overrides,
//! deserialized once into typed sections and validated before anything starts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "GORGIAS_AGENT";

/// Why a configuration could not be used; printed as one line before exiting with code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("invalid config: {0}")]
    Parse(String),
    #[error("invalid config: `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Public replies and reassignment.
    Live,
    /// Every would-be reply becomes an internal note; assignment never changes.
    Shadow,
    /// No Gorgias calls at all; decisions are only logged and stored.
    DryRun,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Shadow => "shadow",
            Mode::DryRun => "dry-run",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopicAction {
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
    #[serde(default)]
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    #[serde(default = "defaults::bind")]
    pub bind: String,
    /// Shared secret Gorgias must send with every webhook.
    #[serde(default)]
    pub webhook_token: Secret,
    /// Bearer token for `/admin/*`; the admin API is off when empty.
    #[serde(default)]
    pub admin_token: Secret,
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    #[serde(default = "defaults::storage_path")]
    pub path: PathBuf,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            path: defaults::storage_path(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GorgiasSettings {
    #[serde(default = "defaults::mode")]
    pub mode: Mode,
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub api_email: String,
    #[serde(default)]
    pub api_key: Secret,
    /// Tickets assigned to this Gorgias user belong to the AI.
    #[serde(default)]
    pub ai_user_id: u64,
    #[serde(default = "defaults::sender_name")]
    pub sender_name: String,
    #[serde(default)]
    pub sender_email: String,
    #[serde(default = "defaults::requests_per_window")]
    pub requests_per_window: u32,
    #[serde(default = "defaults::window_secs")]
    pub window_secs: u64,
    #[serde(default = "defaults::request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// How long a failing outbound action keeps being retried before it is given up.
    #[serde(default = "defaults::retry_for_secs")]
    pub retry_for_secs: u64,
    /// First retry delay of a failed call (doubles per attempt, with full jitter).
    #[serde(default = "defaults::retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest delay between two retries.
    #[serde(default = "defaults::retry_max_ms")]
    pub retry_max_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSettings {
    #[serde(default)]
    pub user_id: u64,
    #[serde(default)]
    pub team_id: u64,
    #[serde(default = "defaults::final_reply")]
    pub final_reply: String,
    #[serde(default = "defaults::max_ai_replies")]
    pub max_ai_replies: u32,
    #[serde(default = "defaults::yes")]
    pub internal_note: bool,
    /// `final_reply` in other languages, by language code (`fr = "..."`).
    #[serde(default)]
    pub final_replies: BTreeMap<String, String>,
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            user_id: 0,
            team_id: 0,
            final_reply: defaults::final_reply(),
            max_ai_replies: defaults::max_ai_replies(),
            internal_note: true,
            final_replies: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupSettings {
    #[serde(default = "defaults::dedup_window_secs")]
    pub window_secs: u64,
}

impl Default for DedupSettings {
    fn default() -> Self {
        DedupSettings {
            window_secs: defaults::dedup_window_secs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    #[serde(default = "defaults::idle_secs")]
    pub idle_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_secs: defaults::idle_secs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutopilotSettings {
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Empty: every channel.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub topics: Vec<Topic>,
}

impl Default for AutopilotSettings {
    fn default() -> Self {
        AutopilotSettings {
            enabled: true,
            channels: Vec::new(),
            topics: Vec::new(),
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
    #[serde(default = "defaults::topic_action")]
    pub action: TopicAction,
    #[serde(default)]
    pub answer: String,
    /// `answer` in other languages, by language code (`fr = "..."`).
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrainSettings {
    #[serde(default = "defaults::backend")]
    pub backend: BrainBackend,
    #[serde(default)]
    pub knowledge_dir: String,
    /// Minimum retrieval score a topic needs for the knowledge-base brain to answer with it.
    #[serde(default = "defaults::min_score")]
    pub min_score: f64,
    /// How far the best matching topic must score above the runner-up to be answered.
    #[serde(default = "defaults::min_margin")]
    pub min_margin: f64,
    /// The language the topics' `answer` and `handoff.final_reply` are written in.
    #[serde(default = "defaults::answer_language")]
    pub answer_language: String,
    #[serde(default = "defaults::untranslated")]
    pub untranslated: Untranslated,
    #[serde(default)]
    pub guardrails: GuardrailSettings,
    #[serde(default)]
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
            backend: defaults::backend(),
            knowledge_dir: String::new(),
            min_score: defaults::min_score(),
            min_margin: defaults::min_margin(),
            answer_language: defaults::answer_language(),
            untranslated: defaults::untranslated(),
            guardrails: GuardrailSettings::default(),
            openai: OpenAiSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiSettings {
    #[serde(default = "defaults::openai_base_url")]
    pub base_url: String,
    #[serde(default)]
    pub api_key: Secret,
    #[serde(default = "defaults::openai_model")]
    pub model: String,
    #[serde(default = "defaults::openai_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "defaults::openai_max_retries")]
    pub max_retries: u32,
    /// First retry delay of a failed model call (doubles per attempt, with full jitter).
    #[serde(default = "defaults::openai_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest delay between two model retries.
    #[serde(default = "defaults::openai_retry_max_ms")]
    pub retry_max_ms: u64,
    #[serde(default)]
    pub system_prompt: String,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        OpenAiSettings {
            base_url: defaults::openai_base_url(),
            api_key: Secret::default(),
            model: defaults::openai_model(),
            timeout_secs: defaults::openai_timeout_secs(),
            max_retries: defaults::openai_max_retries(),
            retry_initial_ms: defaults::openai_retry_initial_ms(),
            retry_max_ms: defaults::openai_retry_max_ms(),
            system_prompt: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    #[serde(default = "defaults::log_level")]
    pub level: String,
    #[serde(default = "defaults::log_format")]
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: defaults::log_level(),
            format: defaults::log_format(),
        }
    }
}

mod defaults {
    use super::*;
    pub fn bind() -> String {
        "127.0.0.1:8080".into()
    }
    pub fn max_body_bytes() -> usize {
        1024 * 1024
    }
    pub fn storage_path() -> PathBuf {
        PathBuf::from("data/gorgias-agent.sled")
    }
    pub fn mode() -> Mode {
        Mode::DryRun
    }
    pub fn sender_name() -> String {
        "AI Assistant".into()
    }
    pub fn requests_per_window() -> u32 {
        40
    }
    pub fn window_secs() -> u64 {
        20
    }
    pub fn request_timeout_secs() -> u64 {
        10
    }
    pub fn retry_for_secs() -> u64 {
        15 * 60
    }
    pub fn retry_initial_ms() -> u64 {
        1000
    }
    pub fn retry_max_ms() -> u64 {
        60_000
    }
    pub fn final_reply() -> String {
        "Thanks for your patience. I'm passing your request to a member of our team, who will follow up here shortly.".into()
    }
    pub fn max_ai_replies() -> u32 {
        5
    }
    pub fn yes() -> bool {
        true
    }
    pub fn dedup_window_secs() -> u64 {
        3600
    }
    pub fn idle_secs() -> u64 {
        300
    }
    pub fn topic_action() -> TopicAction {
        TopicAction::Handle
    }
    pub fn backend() -> BrainBackend {
        BrainBackend::KnowledgeBase
    }
    pub fn min_score() -> f64 {
        1.0
    }
    pub fn min_margin() -> f64 {
        1.0
    }
    pub fn answer_language() -> String {
        "en".into()
    }
    pub fn untranslated() -> Untranslated {
        Untranslated::Answer
    }
    pub fn openai_base_url() -> String {
        "https://api.openai.com/v1".into()
    }
    pub fn openai_model() -> String {
        "gpt-4o-mini".into()
    }
    pub fn openai_timeout_secs() -> u64 {
        60
    }
    pub fn openai_max_retries() -> u32 {
        2
    }
    pub fn openai_retry_initial_ms() -> u64 {
        500
    }
    pub fn openai_retry_max_ms() -> u64 {
        8000
    }
    pub fn log_level() -> String {
        "info".into()
    }
    pub fn log_format() -> LogFormat {
        LogFormat::Pretty
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

    /// Checks what serde cannot: required values, ranges, and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.webhook_token.is_empty() {
            return Err(ConfigError::invalid(
                "server.webhook_token",
                "is required and must not be empty (set it in config.toml or GORGIAS_AGENT__SERVER__WEBHOOK_TOKEN)",
            ));
        }
        if self.server.bind.parse::<std::net::SocketAddr>().is_err()
            && !self.server.bind.contains(':')
        {
            return Err(ConfigError::invalid(
                "server.bind",
                format!("must be host:port, got {:?}", self.server.bind),
            ));
        }
        if self.server.max_body_bytes == 0 {
            return Err(ConfigError::invalid("server.max_body_bytes", "must be > 0"));
        }
        if self.storage.path.as_os_str().is_empty() {
            return Err(ConfigError::invalid("storage.path", "must not be empty"));
        }
        if self.gorgias.mode != Mode::DryRun {
            let url = self.gorgias.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "gorgias.base_url",
                    format!(
                        "must be an http(s) URL such as https://your-store.gorgias.com in {} mode",
                        self.gorgias.mode.as_str()
                    ),
                ));
            }
            if self.gorgias.api_email.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "gorgias.api_email",
                    format!("is required in {} mode", self.gorgias.mode.as_str()),
                ));
            }
            if self.gorgias.api_key.is_empty() {
                return Err(ConfigError::invalid(
                    "gorgias.api_key",
                    format!(
                        "is required in {} mode (set GORGIAS_AGENT__GORGIAS__API_KEY)",
                        self.gorgias.mode.as_str()
                    ),
                ));
            }
        }
        if self.gorgias.ai_user_id == 0 {
            return Err(ConfigError::invalid(
                "gorgias.ai_user_id",
                "must be the id of the Gorgias user the AI answers as (> 0)",
            ));
        }
        if self.gorgias.requests_per_window == 0 {
            return Err(ConfigError::invalid(
                "gorgias.requests_per_window",
                "must be > 0",
            ));
        }
        if self.gorgias.window_secs == 0 {
            return Err(ConfigError::invalid("gorgias.window_secs", "must be > 0"));
        }
        if self.gorgias.request_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "gorgias.request_timeout_secs",
                "must be > 0",
            ));
        }
        if self.handoff.final_reply.trim().is_empty() {
            return Err(ConfigError::invalid(
                "handoff.final_reply",
                "must not be empty: it is what the customer reads on handoff",
            ));
        }
        check_translations("handoff.final_replies", &self.handoff.final_replies)?;
        if self.dedup.window_secs == 0 {
            return Err(ConfigError::invalid("dedup.window_secs", "must be > 0"));
        }
        if self.sessions.idle_secs == 0 {
            return Err(ConfigError::invalid("sessions.idle_secs", "must be > 0"));
        }
        for topic in &self.autopilot.topics {
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
            if topic.action == TopicAction::Handle
                && topic.answer.trim().is_empty()
                && self.brain.backend == BrainBackend::KnowledgeBase
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
        if self.brain.backend == BrainBackend::Openai {
            let url = self.brain.openai.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "brain.openai.base_url",
                    "must be an http(s) URL",
                ));
            }
            if url.contains("api.openai.com") && self.brain.openai.api_key.is_empty() {
                return Err(ConfigError::invalid(
                    "brain.openai.api_key",
                    "is required for api.openai.com (set GORGIAS_AGENT__BRAIN__OPENAI__API_KEY)",
                ));
            }
            if self.brain.openai.model.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "brain.openai.model",
                    "must not be empty",
                ));
            }
            if self.brain.openai.timeout_secs == 0 {
                return Err(ConfigError::invalid(
                    "brain.openai.timeout_secs",
                    "must be > 0",
                ));
            }
        }
        if !(self.brain.min_margin >= 0.0 && self.brain.min_margin.is_finite()) {
            return Err(ConfigError::invalid(
                "brain.min_margin",
                "must be a number >= 0",
            ));
        }
        if !is_language_code(&self.brain.answer_language) {
            return Err(ConfigError::invalid(
                "brain.answer_language",
                format!(
                    "must be a two-letter language code such as \"en\", got {:?}",
                    self.brain.answer_language
                ),
            ));
        }
        if !self.brain.knowledge_dir.trim().is_empty()
            && !Path::new(self.brain.knowledge_dir.trim()).is_dir()
        {
            return Err(ConfigError::invalid(
                "brain.knowledge_dir",
                format!("{:?} is not a directory", self.brain.knowledge_dir),
            ));
        }
        if !matches!(
            self.log.level.to_ascii_lowercase().as_str(),
            "trace" | "debug" | "info" | "warn" | "error"
        ) {
            return Err(ConfigError::invalid(
                "log.level",
                "must be one of trace, debug, info, warn, error",
            ));
        }
        Ok(())
    }

    pub fn dedup_window(&self) -> Duration {
        Duration::from_secs(self.dedup.window_secs)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.sessions.idle_secs)
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
