//! `GET /metrics`: a well-formed OpenMetrics exposition whose counters follow the events of a
//! ticket's life (ignored, accepted, duplicate webhooks; a reply; a handoff; Gorgias calls).
//! `GET /readyz`: not ready while the outbox is stuck, ready again once it drains.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

/// Samples by series: `name{label="value",...}` with labels sorted by name.
type Samples = BTreeMap<String, f64>;

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    is_metric_name(s) && !s.contains(':')
}

/// Parses `{a="x",b="y"}` (the braces excluded); returns the labels.
fn parse_labels(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut labels = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("label without =\" in {s:?}"))?;
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {s:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in {s:?}")),
            }
        };
        labels.push((name.to_string(), value));
        rest = &after[end + 1..];
        if let Some(next) = rest.strip_prefix(',') {
            rest = next;
        } else if !rest.is_empty() {
            return Err(format!("junk after a label value in {s:?}"));
        }
    }
    Ok(labels)
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad sample value {s:?}")),
    }
}

/// Parses an OpenMetrics text exposition strictly: descriptors before samples, every sample
/// of a declared family with the suffixes its type allows, well-formed labels and values, and
/// the closing `# EOF`.
fn parse_exposition(text: &str) -> Result<Samples, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the exposition does not end with # EOF")?;
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Samples::new();
    for line in body.lines() {
        if let Some(descriptor) = line.strip_prefix("# ") {
            let mut parts = descriptor.splitn(3, ' ');
            let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
            let name = name.filter(|n| is_metric_name(n)).ok_or(line)?;
            match (kind, rest) {
                (Some("TYPE"), Some(t)) => {
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ];
                    if !known.contains(&t) {
                        return Err(format!("unknown type in {line:?}"));
                    }
                    if t == "counter" && name.ends_with("_total") {
                        return Err(format!("counter family named with _total: {line:?}"));
                    }
                    types.insert(name.to_string(), t.to_string());
                }
                (Some("HELP"), Some(_)) | (Some("UNIT"), Some(_)) => {}
                _ => return Err(format!("bad descriptor line {line:?}")),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("bad sample line {line:?}"))?;
        let value = parse_value(value)?;
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .ok_or_else(|| format!("unclosed labels in {line:?}"))?;
                (name, parse_labels(labels)?)
            }
            None => (series, Vec::new()),
        };
        if !is_metric_name(name) {
            return Err(format!("bad metric name in {line:?}"));
        }
        let family_ok = types.iter().any(|(family, t)| {
            let suffixes: &[&str] = match t.as_str() {
                "counter" => &["_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                _ => &[""],
            };
            suffixes.iter().any(|s| name == format!("{family}{s}"))
        });
        if !family_ok {
            return Err(format!("sample of no declared family: {line:?}"));
        }
        let mut labels = labels;
        labels.sort();
        let key = if labels.is_empty() {
            name.to_string()
        } else {
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", inner.join(","))
        };
        if samples.insert(key, value).is_some() {
            return Err(format!("duplicate series {line:?}"));
        }
    }
    for family in types.keys() {
        if !family.starts_with("gorgias_agent_") {
            return Err(format!("{family} lacks the gorgias_agent_ prefix"));
        }
    }
    Ok(samples)
}

async fn scrape(app: &TestApp) -> Samples {
    let (status, _, text) = app.get("/metrics", None).await;
    assert_eq!(status, 200, "{text}");
    parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn value(samples: &Samples, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[test]
fn the_parser_rejects_malformed_expositions() {
    let good = "# TYPE gorgias_agent_x counter\ngorgias_agent_x_total{a=\"1\"} 2\n# EOF\n";
    assert_eq!(
        parse_exposition(good).unwrap()["gorgias_agent_x_total{a=\"1\"}"],
        2.0
    );
    for bad in [
        "# TYPE gorgias_agent_x counter\ngorgias_agent_x_total 2\n",
        "gorgias_agent_x_total 2\n# EOF\n",
        "# TYPE gorgias_agent_x counter\ngorgias_agent_x_total{a=1} 2\n# EOF\n",
        "# TYPE gorgias_agent_x counter\ngorgias_agent_x_total two\n# EOF\n",
        "# TYPE gorgias_agent_x_total counter\ngorgias_agent_x_total 2\n# EOF\n",
        "# TYPE x gauge\nx 2\n# EOF\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "{bad}");
    }
}

#[actix_web::test]
async fn metrics_parse_and_count_webhooks_replies_handoffs_and_gorgias_calls() {
    let app = TestApp::spawn().await;
    let (status, _, _) = app.get("/metrics", None).await;
    assert_eq!(status, 200);
    let before = scrape(&app).await;
    assert_eq!(
        value(
            &before,
            "gorgias_agent_webhooks_total{outcome=\"accepted\",reason=\"customer_message\"}"
        ),
        0.0
    );

    // Ignored: assigned to someone else.
    let mut other = customer_event(80, 801, "where is my order");
    other["ticket"]["assignee_user"] = json!({"id": 12345});
    other["ticket"]["assignee_user_id"] = json!(12345);
    let (_, b) = app.webhook(&other).await;
    assert_eq!(b["outcome"], "ignored");
    // Accepted and answered, then redelivered.
    let reply = customer_event(81, 811, "Hi, where is my order?");
    assert_eq!(app.webhook(&reply).await.1["outcome"], "accepted");
    assert_eq!(app.webhook(&reply).await.1["outcome"], "duplicate");
    // Handed off: a skip topic.
    let refund = customer_event(82, 821, "I want a refund");
    assert_eq!(app.webhook(&refund).await.1["outcome"], "accepted");
    eventually("the reply and the handoff", WAIT, || {
        !app.gorgias.replies(81).is_empty() && !app.gorgias.ticket_updates(82).is_empty()
    })
    .await;

    let expected = [
        (
            "gorgias_agent_webhooks_total{outcome=\"ignored\",reason=\"not_assigned_to_ai\"}",
            1.0,
        ),
        (
            "gorgias_agent_webhooks_total{outcome=\"accepted\",reason=\"customer_message\"}",
            2.0,
        ),
        (
            "gorgias_agent_webhooks_total{outcome=\"duplicate\",reason=\"redelivery\"}",
            1.0,
        ),
        // The answer on ticket 81 and the final reply of the handoff on ticket 82.
        ("gorgias_agent_replies_posted_total{mode=\"live\"}", 2.0),
        ("gorgias_agent_notes_posted_total{mode=\"live\"}", 1.0),
        ("gorgias_agent_reassignments_total{mode=\"live\"}", 1.0),
        ("gorgias_agent_handoffs_total{reason=\"skip_topic\"}", 1.0),
        (
            "gorgias_agent_gorgias_requests_total{endpoint=\"create_message\",status=\"2xx\"}",
            3.0,
        ),
        (
            "gorgias_agent_gorgias_requests_total{endpoint=\"update_ticket\",status=\"2xx\"}",
            1.0,
        ),
        (
            "gorgias_agent_gorgias_request_duration_seconds_count{endpoint=\"create_message\"}",
            3.0,
        ),
        // The skip topic is a guardrail: only ticket 81 asked the brain.
        (
            "gorgias_agent_brain_duration_seconds_count{brain=\"knowledge-base\",outcome=\"reply\"}",
            1.0,
        ),
        ("gorgias_agent_turns_in_progress", 0.0),
        ("gorgias_agent_outbox_pending_actions", 0.0),
        ("gorgias_agent_dedup_entries", 2.0),
    ];
    // Delivery is counted once its progress is stored, just after Gorgias answered.
    let deadline = std::time::Instant::now() + WAIT;
    let last = loop {
        let now = scrape(&app).await;
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(s, v)| value(&now, s) != *v)
            .map(|(s, v)| format!("{s}: {} (expected {v})", value(&now, s)))
            .collect();
        if wrong.is_empty() {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics did not reach the expected values:\n{}",
            wrong.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(value(&last, "gorgias_agent_ticket_actors") >= 1.0);
    assert!(last.contains_key("gorgias_agent_gorgias_rate_limit_wait_seconds_total"));
    assert!(last.contains_key("gorgias_agent_outbox_retrying_actions"));

    // No ticket ids or secrets in labels.
    let (_, _, text) = app.get("/metrics", None).await;
    assert!(
        !text.contains("100000001") && !text.contains("81\""),
        "{text}"
    );
    assert!(!text.contains(TOKEN) && !text.contains("test-api-key"));
}

#[actix_web::test]
async fn metrics_answer_in_the_openmetrics_content_type() {
    let app = TestApp::spawn().await;
    let resp = awc::Client::new()
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    let content_type = resp
        .headers()
        .get("Content-Type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
}

#[actix_web::test]
async fn readyz_is_503_while_the_outbox_is_stuck_and_200_once_it_drains() {
    // retry_for_secs = 20: an action failing for more than 2 s makes the outbox stuck.
    let app = TestApp::spawn_with(&[("gorgias.retry_for_secs", "20")]).await;
    let (status, body, _) = app.get("/readyz", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");

    app.gorgias.outage_for(Duration::from_secs(120));
    let (_, b) = app
        .webhook(&customer_event(85, 851, "Hi, where is my order?"))
        .await;
    assert_eq!(b["outcome"], "accepted");
    eventually_async("readyz to report the stuck outbox", WAIT, || {
        let app = &app;
        async move { app.get("/readyz", None).await.0 == 503 }
    })
    .await;
    let (status, stuck, _) = app.get("/readyz", None).await;
    assert_eq!(status, 503, "{stuck}");
    let error = stuck["error"].as_str().unwrap();
    assert!(error.starts_with("outbox:"), "{stuck}");
    assert!(error.contains("ticket 85"), "{stuck}");
    assert_eq!(stuck["ticket_id"], 85);
    assert!(
        stuck["last_error"].as_str().unwrap().contains("503"),
        "{stuck}"
    );
    let samples = scrape(&app).await;
    assert_eq!(
        value(&samples, "gorgias_agent_outbox_retrying_actions"),
        1.0
    );
    assert!(value(&samples, "gorgias_agent_outbox_oldest_failure_age_seconds") > 2.0);
    assert!(app.gorgias.replies(85).is_empty());

    // Gorgias is back: the reply goes out and the agent is ready again.
    app.gorgias.outage_for(Duration::ZERO);
    eventually_async("readyz to be 200 again", WAIT, || {
        let app = &app;
        async move { app.get("/readyz", None).await.0 == 200 }
    })
    .await;
    assert_eq!(app.gorgias.replies(85).len(), 1);
    let samples = scrape(&app).await;
    assert_eq!(
        value(&samples, "gorgias_agent_outbox_retrying_actions"),
        0.0
    );
    assert!(
        value(
            &samples,
            "gorgias_agent_gorgias_requests_total{endpoint=\"create_message\",status=\"503\"}"
        ) >= 1.0
    );
}
