//! Part `e2e`: from the webhook's 200 to the reply arriving at a local fake Gorgias, at a fixed
//! offered rate (live mode, no rate limit).

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::agent::{drained, start_with_fake, stop_with_fake};
use crate::client::{open_loop, ticket_of, Sent};
use crate::report::{percentile, round};
use crate::Args;

pub async fn part_e2e(args: &Args, dir: &Path) -> Value {
    let (fake, running) = start_with_fake(&dir.join("agent.sled"), "live", 300, true).await;
    // A short warm-up (connections to the fake, first sled pages), not measured.
    let _ = open_loop(running.addr, args.rate, 1.0, 16).await;
    drained(&running.store, Duration::from_secs(30)).await;
    let warm_posts = fake.posts();
    fake.take_arrivals();

    let (sent, io_errors) = open_loop(running.addr, args.rate, args.e2e_secs, 32).await;
    let accepted: Vec<&Sent> = sent.iter().filter(|s| s.status == 200).collect();
    let expected = warm_posts + accepted.len() as u64;
    let waited = Instant::now();
    while fake.posts() < expected && waited.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrivals: HashMap<u64, Instant> = {
        let mut map = HashMap::new();
        for (ticket, at) in fake.take_arrivals() {
            map.entry(ticket).or_insert(at);
        }
        map
    };
    let us = |d: Duration| d.as_micros().min(u32::MAX as u128) as u32;
    let mut e2e_us = Vec::new();
    let mut send_to_reply_us = Vec::new();
    let mut slowest: Vec<(u32, f64)> = Vec::new();
    let mut before_ack = 0u64;
    let mut missing = 0u64;
    let first_scheduled = sent.iter().map(|s| s.scheduled).min();
    for s in &accepted {
        match arrivals.get(&ticket_of(s.n)) {
            Some(&at) => {
                if at < s.acked {
                    before_ack += 1;
                }
                let e2e = us(at.saturating_duration_since(s.acked));
                e2e_us.push(e2e);
                send_to_reply_us.push(us(at.saturating_duration_since(s.scheduled)));
                let offset = first_scheduled.map_or(0.0, |f| (s.scheduled - f).as_secs_f64());
                slowest.push((e2e, offset));
            }
            None => missing += 1,
        }
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    slowest.truncate(5);
    let ack_us: Vec<u32> = sent.iter().map(Sent::ack_us).collect();
    let ms = |v: &[u32], q| round(percentile(v, q) as f64 / 1000.0, 2);
    let out = json!({
        "offered_rate": args.rate,
        "secs": args.e2e_secs,
        "sent": sent.len(),
        "accepted": accepted.len(),
        "errors": io_errors + (sent.len() - accepted.len()) as u64,
        "replies_missing": missing,
        "replies_before_ack_read": before_ack,
        "ack_to_reply_p50_ms": ms(&e2e_us, 0.5),
        "ack_to_reply_p99_ms": ms(&e2e_us, 0.99),
        "ack_to_reply_max_ms": ms(&e2e_us, 1.0),
        "webhook_p50_ms": ms(&ack_us, 0.5),
        "webhook_p99_ms": ms(&ack_us, 0.99),
        "send_to_reply_p50_ms": ms(&send_to_reply_us, 0.5),
        "send_to_reply_p99_ms": ms(&send_to_reply_us, 0.99),
        "slowest_ack_to_reply": slowest
            .iter()
            .map(|(e, at)| json!({ "ms": round(*e as f64 / 1000.0, 2), "at_secs": round(*at, 2) }))
            .collect::<Vec<_>>(),
    });
    eprintln!("  e2e: {out}");
    stop_with_fake(fake, running).await;
    out
}
