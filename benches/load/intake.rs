//! Part `intake`: `POST /webhooks/gorgias` of the real server (unique message ids, one new
//! ticket per message, durable acknowledgement on, ticket turns running behind it).

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::agent::{drained, live_actors, start_with_fake, stop_with_fake};
use crate::client::{closed_loop, ClosedLoop};
use crate::report::round;
use crate::Args;

pub async fn part_intake(args: &Args, dir: &Path) -> Value {
    let (fake, running) =
        start_with_fake(&dir.join("agent.sled"), &args.intake_mode, 300, false).await;
    let mut out = serde_json::Map::new();
    for &conns in &args.conns {
        let r = closed_loop(ClosedLoop {
            addr: running.addr,
            path: "/webhooks/gorgias",
            conns,
            threads: args.client_threads,
            warmup: Duration::from_secs_f64(args.warmup),
            secs: Duration::from_secs_f64(args.secs),
            max_requests: None,
        })
        .await;
        // Turns run behind intake; let them finish before the next phase.
        let drain = drained(&running.store, Duration::from_secs(180)).await;
        let mut j = r.json();
        j["accepted_total"] = json!(r.sent);
        j["backlog_drained_secs"] = json!(drain.map(|d| round(d.as_secs_f64(), 2)));
        j["live_ticket_actors"] = json!(live_actors(&running).await);
        eprintln!(
            "  intake {conns:>4} conns: {:>7.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}  (turns drained {:.1} s later)",
            r.rps(),
            r.pct_ms(0.5),
            r.pct_ms(0.99),
            r.errors(),
            drain.map_or(f64::NAN, |d| d.as_secs_f64())
        );
        out.insert(conns.to_string(), j);
    }
    stop_with_fake(fake, running).await;
    Value::Object(out)
}
