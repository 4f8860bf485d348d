//! Part `console`: the operator console's overview, `/admin/stats` and ticket list with many
//! stored sessions, their summaries, and 90 days of hourly counters.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gorgias_agent::store::{Store, Write};
use gorgias_agent_testkit::{start_agent, stop_agent, ADMIN};
use serde_json::{json, Value};

use crate::agent::agent_settings;
use crate::client::TICKET_BASE;
use crate::report::round;
use crate::restart::fill_sessions;
use crate::Args;

/// Stores `n` sessions, a console summary for each (with its channel and, for one in five, a
/// handoff-reason index entry), and 90 days of hourly counters as a busy shop would leave them.
pub fn fill_console(path: &Path, n: u64, now: u64) -> Duration {
    use gorgias_agent::domain::session::SessionState;
    use gorgias_agent::domain::stats::{bucket_of, TicketSummary};
    let start = Instant::now();
    fill_sessions(path, n);
    actix_web::rt::System::new().block_on(async {
        let store = Store::open(path).expect("open the store to fill");
        const BATCH: u64 = 20_000;
        let reasons = [
            "no_answer",
            "customer_asked_for_human",
            "skip_topic",
            "max_ai_replies",
        ];
        let channels = ["email", "chat", "sms", "facebook"];
        let mut id = 1;
        while id <= n {
            let end = (id + BATCH).min(n + 1);
            let writes: Vec<Write> = (id..end)
                .flat_map(|t| {
                    let handed = t % 5 == 0;
                    let summary = TicketSummary {
                        ticket_id: TICKET_BASE + t,
                        state: if handed {
                            SessionState::HandedOff
                        } else {
                            SessionState::Active
                        },
                        channel: channels[(t % 4) as usize].into(),
                        started_at: now - 90 * 86400 + t * 90 * 86400 / n.max(1),
                        updated_at: now,
                        first_accepted_ms: None,
                        first_reply_ms: Some(800 + t % 5000),
                        last_outcome: Some(if handed { "handed_off" } else { "replied" }.into()),
                        last_reason: None,
                        handoff_reason: handed.then(|| reasons[(t / 5 % 4) as usize].into()),
                        customer_messages: 2,
                        ai_replies: 1,
                    };
                    Write::summary_put(&summary, None)
                })
                .collect();
            store.commit(writes).await.expect("commit summaries");
            id = end;
        }
        let last = (now / 3600) as u32;
        let per_hour = (n / (90 * 24)).max(1) as i64;
        for day in 0..90u32 {
            let mut writes = Vec::new();
            for h in 0..24u32 {
                let hour = last - day * 24 - h;
                for (c, v) in [
                    ("conversations", per_hour),
                    ("ai_replies", per_hour * 2),
                    ("automated", per_hour * 3 / 4),
                    ("retries", 2),
                    ("gorgias_errors", 3),
                    ("actions_failed", 0),
                ] {
                    writes.push(Write::stat_add(hour, c, v));
                }
                for r in reasons {
                    writes.push(Write::stat_add(
                        hour,
                        &format!("handoff:{r}"),
                        per_hour / 20,
                    ));
                }
                for ms in (0..40u64).map(|i| 200 + i * i * 150) {
                    writes.push(Write::stat_add(hour, &format!("frt:{}", bucket_of(ms)), 1));
                }
            }
            store.commit(writes).await.expect("commit counters");
        }
        drop(store);
    });
    start.elapsed()
}

/// `count` sequential GETs of `path` (bearer token), each on a fresh connection: the latency
/// of each, in ms, and the last answer's status line.
pub fn time_gets(addr: &str, path: &str, token: &str, count: usize) -> (Vec<f64>, String) {
    let mut times = Vec::with_capacity(count);
    let mut status = String::new();
    for _ in 0..count {
        let t = Instant::now();
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).expect("read");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        status = String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
    }
    (times, status)
}

pub fn latency_summary(mut times: Vec<f64>, status: &str) -> Value {
    times.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    json!({
        "requests": times.len(),
        "status": status,
        "p50_ms": round(at(0.5), 2),
        "p99_ms": round(at(0.99), 2),
        "max_ms": round(at(1.0), 2),
    })
}

pub async fn part_console(args: &Args, dir: &Path) -> Value {
    let path = dir.join("agent.sled");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    eprintln!(
        "  console: writing {} sessions, summaries and counters ...",
        args.sessions
    );
    let fill = {
        let path = path.clone();
        let n = args.sessions;
        actix_web::rt::task::spawn_blocking(move || fill_console(&path, n, now))
            .await
            .expect("fill")
    };
    eprintln!("  console: filled in {:.1} s", fill.as_secs_f64());
    let token = ADMIN;
    let settings = agent_settings(&path, "dry-run", "http://127.0.0.1:9", 300);
    let running = start_agent(settings).await;
    let addr = running.addr.to_string();
    let sessions = running.store.session_count();
    let mut out = json!({ "sessions": sessions, "fill_secs": round(fill.as_secs_f64(), 1) });
    for (name, target, count) in [
        ("overview", "/console", 300),
        ("stats_7d", "/admin/stats?window=7d", 300),
        ("tickets_page_1", "/console/tickets", 100),
        ("tickets_page_100", "/console/tickets?page=100", 50),
        (
            "tickets_reason_filter",
            "/console/tickets?reason=no_answer&page=10",
            50,
        ),
    ] {
        let a = addr.clone();
        let (times, status) = actix_web::rt::task::spawn_blocking(move || {
            // One unmeasured request first: the first read of a tree warms sled's cache.
            time_gets(&a, target, token, 1);
            time_gets(&a, target, token, count)
        })
        .await
        .expect("requests");
        out[name] = latency_summary(times, &status);
    }
    stop_agent(running).await;
    eprintln!("  console: {out}");
    out
}
