//! The test configuration: one TOML template (live mode against a fake Gorgias, fast retries,
//! example topics) and `Settings` built from it with `(dotted.key, value)` overrides applied
//! like environment variables, for tests, benches and child processes alike.

use std::path::{Path, PathBuf};

use gorgias_agent::config::Settings;

use crate::fake_gorgias::{API_EMAIL, API_KEY};
use crate::fake_openai::{FakeOpenAi, MODEL, MODEL_KEY};

pub const TOKEN: &str = "test-webhook-token";
pub const ADMIN: &str = "test-admin-token";
pub const AI_USER: u64 = 900001;

/// The test configuration: live mode against the fake Gorgias, fast retries, example topics.
const TEMPLATE: &str = r#"
[server]
bind = "127.0.0.1:0"
webhook_token = "{TOKEN}"
admin_token = "{ADMIN}"
max_body_bytes = 65536

[storage]
path = "{STORAGE}"

[gorgias]
mode = "live"
base_url = "{BASE}"
api_email = "{EMAIL}"
api_key = "{KEY}"
ai_user_id = {AI_USER}
sender_name = "AI Assistant"
request_timeout_secs = 1
requests_per_window = 100000
window_secs = 1
retry_initial_ms = 20
retry_max_ms = 200
retry_for_secs = 30

[handoff]
user_id = 42
team_id = 77
max_ai_replies = 3
internal_note = true

[[autopilot.topics]]
name = "order-status"
description = "Where an order is, tracking, delivery times"
keywords = ["where is my order", "tracking", "shipped", "delivery", "où est ma commande"]
action = "handle"
answer = "Your order ships within 2 business days; the tracking link is in your confirmation email."
[autopilot.topics.answers]
fr = "Votre commande part sous 2 jours ouvrés ; le lien de suivi est dans votre e-mail de confirmation."

[[autopilot.topics]]
name = "returns"
description = "Returning or exchanging an item"
keywords = ["return", "exchange"]
action = "handle"
answer = "You can return any item within 30 days from your account page."

[[autopilot.topics]]
name = "refunds"
description = "Refunds and chargebacks"
keywords = ["refund", "money back", "chargeback"]
action = "skip"
"#;

/// Test settings with `(dotted.key, value)` overrides applied like environment variables.
pub fn settings(gorgias_url: &str, storage: &Path, overrides: &[(&str, &str)]) -> Settings {
    settings_from_toml(&config_toml(gorgias_url, storage), overrides)
}

/// Settings from TOML `text` with `(dotted.key, value)` overrides applied like environment
/// variables.
pub fn settings_from_toml(text: &str, overrides: &[(&str, &str)]) -> Settings {
    let env = overrides.iter().map(|(k, v)| {
        (
            format!("GORGIAS_AGENT__{}", k.replace('.', "__").to_uppercase()),
            v.to_string(),
        )
    });
    Settings::from_toml_and_env(text, env).expect("test settings")
}

/// The test configuration as TOML text (live mode against `gorgias_url`, storage at `storage`),
/// for tests that run the binary: override keys with `GORGIAS_AGENT__*` variables on the child.
pub fn config_toml(gorgias_url: &str, storage: &Path) -> String {
    TEMPLATE
        .replace("{TOKEN}", TOKEN)
        .replace("{ADMIN}", ADMIN)
        .replace(
            "{STORAGE}",
            &storage.display().to_string().replace('\\', "/"),
        )
        .replace("{BASE}", gorgias_url)
        .replace("{EMAIL}", API_EMAIL)
        .replace("{KEY}", API_KEY)
        .replace("{AI_USER}", &AI_USER.to_string())
}

/// Writes the test configuration (storage inside `dir`) to `dir/config.toml`.
pub fn write_test_config(dir: &Path, gorgias_url: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, config_toml(gorgias_url, &dir.join("store"))).unwrap();
    path
}

/// [`write_test_config`] with the server bound to `port` on loopback, for a child process whose
/// address the test must know (a port from [`crate::free_port`]).
pub fn write_test_config_on(dir: &Path, gorgias_url: &str, port: u16) -> PathBuf {
    let text = config_toml(gorgias_url, &dir.join("store")).replace(
        "bind = \"127.0.0.1:0\"",
        &format!("bind = \"127.0.0.1:{port}\""),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Overrides that select the openai brain pointed at `model` (callers add timeouts, retries).
pub fn openai_brain(model: &FakeOpenAi) -> Vec<(&'static str, &str)> {
    vec![
        ("brain.backend", "openai"),
        ("brain.openai.base_url", model.base_url.as_str()),
        ("brain.openai.api_key", MODEL_KEY),
        ("brain.openai.model", MODEL),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_gives_valid_settings_and_overrides_apply() {
        let s = settings(
            "http://127.0.0.1:9",
            Path::new("store"),
            &[("gorgias.mode", "dry-run")],
        );
        assert_eq!(s.server.webhook_token.expose(), TOKEN);
        assert_eq!(s.server.admin_token.expose(), ADMIN);
        assert_eq!(s.gorgias.base_url, "http://127.0.0.1:9");
        assert_eq!(s.gorgias.ai_user_id, AI_USER);
        assert_eq!(s.gorgias.mode, gorgias_agent::domain::plan::Mode::DryRun);

        let dir = tempfile::tempdir().unwrap();
        let path = write_test_config_on(dir.path(), "http://127.0.0.1:9", 4321);
        let s = settings_from_toml(&std::fs::read_to_string(path).unwrap(), &[]);
        assert_eq!(s.server.bind, "127.0.0.1:4321");
    }
}
