//! `replay --from-gorgias N`: the N most recent tickets and their messages, read from the
//! configured account with GET requests only, through the rate-limited client (the account's
//! budget paces every call), with a progress line on stderr. Works in every mode: reading
//! changes nothing in Gorgias.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::input::{read_values, Tickets};
use crate::config::GorgiasSettings;
use crate::gorgias::api::{GorgiasApi, GorgiasError};
use crate::gorgias::ratelimit::RateLimiter;
use crate::retry::full_jitter_backoff;

/// The most tickets one list page asks for (Gorgias's maximum).
const PAGE: usize = 100;
/// The most message pages read for one ticket.
const MAX_MESSAGE_PAGES: usize = 20;
/// Tries of one request that failed in a way worth retrying.
const ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "replay --from-gorgias needs the Gorgias credentials: {0} is empty \
         (set it in the config or with GORGIAS_AGENT__GORGIAS__{upper})",
        upper = .0.rsplit('.').next().unwrap_or_default().to_uppercase()
    )]
    NoCredentials(&'static str),
    #[error("cannot read tickets from Gorgias: {0}")]
    Gorgias(#[from] GorgiasError),
}

/// Reads the `n` most recent tickets, newest first, each with its messages.
pub async fn recent_tickets(
    settings: &GorgiasSettings,
    n: usize,
    progress: bool,
) -> Result<Tickets, FetchError> {
    for (key, value) in [
        ("gorgias.base_url", settings.base_url.trim()),
        ("gorgias.api_email", settings.api_email.trim()),
        ("gorgias.api_key", settings.api_key.expose().trim()),
    ] {
        if value.is_empty() {
            return Err(FetchError::NoCredentials(key));
        }
    }
    let limiter = Arc::new(RateLimiter::new(
        settings.requests_per_window,
        settings.window(),
    ));
    let api = GorgiasApi::new(settings, limiter);
    let bar = if progress {
        let bar = ProgressBar::new(n as u64);
        if let Ok(style) =
            ProgressStyle::with_template("reading from Gorgias {bar:40} {pos}/{len} tickets {msg}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut tickets: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    while tickets.len() < n {
        let want = (n - tickets.len()).min(PAGE);
        let (page, next) = patiently(|| api.list_tickets(want, cursor.as_deref())).await?;
        let got = page.len();
        tickets.extend(page.into_iter().take(want));
        bar.set_message(format!("listed {}", tickets.len()));
        cursor = next;
        if cursor.is_none() || got == 0 {
            break;
        }
    }
    for ticket in tickets.iter_mut() {
        let id = ticket["id"]
            .as_u64()
            .or_else(|| ticket["id"].as_str().and_then(|s| s.trim().parse().ok()));
        if let Some(id) = id {
            let mut messages = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_MESSAGE_PAGES {
                let (page, next) = patiently(|| api.ticket_messages(id, cursor.as_deref())).await?;
                messages.extend(page);
                cursor = next;
                if cursor.is_none() {
                    break;
                }
            }
            ticket["messages"] = Value::Array(messages);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if progress {
        eprintln!("read {} tickets from Gorgias", tickets.len());
    }
    Ok(read_values(
        tickets
            .into_iter()
            .enumerate()
            .map(|(i, t)| (i + 1, Ok(t)))
            .collect(),
    ))
}

/// Calls again after failures worth retrying (the limiter already waits out a `Retry-After`).
async fn patiently<T, F, Fut>(mut call: F) -> Result<T, GorgiasError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GorgiasError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.is_retryable() && attempt + 1 < ATTEMPTS => {
                attempt += 1;
                if e.retry_after().is_none() {
                    let wait = full_jitter_backoff(
                        Duration::from_millis(500),
                        Duration::from_secs(10),
                        attempt,
                    );
                    tokio::time::sleep(wait).await;
                }
            }
            other => return other,
        }
    }
}
