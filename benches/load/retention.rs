//! Part `retention`: (a) intake latency at a fixed offered rate while a retention pass deletes
//! many old idle sessions, against the same rate with no pass; (b) disk use after the same
//! number of tickets answered with retention on (each round's sessions swept once they are a
//! retention period old) and off.
//!
//! Time is injected the way the tests do it: passes are sent to the supervisor with their
//! `now` (`RetentionPass`), so "a retention period later" needs no waiting and no
//! `sessions.retention_days` timer runs meanwhile.

use std::path::Path;
use std::time::{Duration, Instant};

use gorgias_agent::tickets::supervisor::RetentionPass;
use gorgias_agent::time::now_secs;
use gorgias_agent_testkit::builders::{answered_session, put_sessions};
use serde_json::{json, Value};

use crate::agent::{all_idle, drained, live_actors, start_with_fake, stop_with_fake};
use crate::client::{closed_loop, open_loop, ClosedLoop, Sent};
use crate::cpu::dir_size;
use crate::report::{percentile, round};
use crate::Args;

const DAY: u64 = 86_400;
/// The retention period the passes apply.
const WINDOW: u64 = 30 * DAY;
/// Rounds of tickets in the disk comparison (with retention on, a pass after each).
const ROUNDS: u64 = 4;

/// Webhook latency (scheduled send to answer) of the sends scheduled in `[from, to]`.
fn latency(sent: &[Sent], from: Instant, to: Instant) -> Value {
    let inside: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.scheduled >= from && s.scheduled <= to)
        .collect();
    let us: Vec<u32> = inside.iter().map(|s| s.ack_us()).collect();
    let errors = inside.iter().filter(|s| s.status != 200).count();
    json!({
        "requests": us.len(),
        "non_200": errors,
        "p50_ms": round(percentile(&us, 0.5) as f64 / 1000.0, 2),
        "p99_ms": round(percentile(&us, 0.99) as f64 / 1000.0, 2),
        "max_ms": round(percentile(&us, 1.0) as f64 / 1000.0, 2),
    })
}

/// (a): the same offered rate without a pass, then with one deleting `args.sweep_sessions`.
async fn during_sweep(args: &Args, dir: &Path) -> Value {
    let (fake, running) = start_with_fake(&dir.join("sweep.sled"), "live", 300, false).await;
    let old = now_secs() - 2 * WINDOW;
    let seeding = Instant::now();
    // Below the load's ticket numbers: the pass reaches them first.
    let tickets: Vec<u64> = (1..=args.sweep_sessions).collect();
    for chunk in tickets.chunks(10_000) {
        let sessions: Vec<_> = chunk.iter().map(|&t| answered_session(t, old)).collect();
        put_sessions(&running.store, &sessions)
            .await
            .expect("seed old sessions");
    }
    let seed_secs = seeding.elapsed().as_secs_f64();
    // Warm-up, not measured.
    let _ = open_loop(running.addr, args.rate, 1.0, 16).await;
    drained(&running.store, Duration::from_secs(30)).await;

    let start = Instant::now();
    let (quiet, quiet_errors) = open_loop(running.addr, args.rate, args.e2e_secs, 32).await;
    let quiet = latency(&quiet, start, Instant::now());
    drained(&running.store, Duration::from_secs(30)).await;

    let supervisor = running.supervisor.clone();
    let loaded = Instant::now();
    let sweep = async move {
        // Into the load's stride, so the pass runs under it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let from = Instant::now();
        let deleted = supervisor
            .send(RetentionPass {
                now: now_secs(),
                retention_secs: WINDOW,
            })
            .await;
        (from, Instant::now(), deleted)
    };
    let ((sent, errors), (from, to, deleted)) =
        futures_util::future::join(open_loop(running.addr, args.rate, args.e2e_secs, 32), sweep)
            .await;
    let deleted = match deleted {
        Ok(Ok(n)) => n as i64,
        _ => -1,
    };
    let last_send = sent.iter().map(|s| s.scheduled).max();
    let out = json!({
        "offered_rate": args.rate,
        "secs": args.e2e_secs,
        "old_sessions": args.sweep_sessions,
        "seed_secs": round(seed_secs, 1),
        "without_sweep": quiet,
        "during_sweep": latency(&sent, from, to),
        "whole_window_with_sweep": latency(&sent, loaded, Instant::now()),
        "io_errors": quiet_errors + errors,
        "sweep_deleted": deleted,
        "sweep_secs": round((to - from).as_secs_f64(), 2),
        "sweep_ended_before_the_load": last_send.is_some_and(|l| to <= l),
        "sessions_left": running.store.session_count(),
    });
    stop_with_fake(fake, running).await;
    out
}

/// (b): `tickets` new tickets answered in rounds; with `retention`, after each round (once
/// its actors went idle) a pass as if a retention period had passed. Disk use once stopped.
async fn disk_after(tickets: u64, retention: bool, dir: &Path) -> Value {
    let path = dir.join(if retention { "on.sled" } else { "off.sled" });
    let (fake, running) = start_with_fake(&path, "live", 1, false).await;
    let mut deleted = 0;
    for _ in 0..ROUNDS {
        closed_loop(ClosedLoop::counted(running.addr, 32, tickets / ROUNDS)).await;
        drained(&running.store, Duration::from_secs(120)).await;
        if retention {
            // A pass never deletes a ticket with a live actor: let them stop first.
            let waited = all_idle(&running, Duration::from_secs(60)).await;
            assert!(
                live_actors(&running).await == 0,
                "actors still live after {waited:?}"
            );
            deleted += running
                .supervisor
                .send(RetentionPass {
                    now: now_secs() + WINDOW,
                    retention_secs: WINDOW,
                })
                .await
                .expect("the supervisor answers")
                .expect("the pass commits");
        }
    }
    let sessions = running.store.session_count();
    stop_with_fake(fake, running).await;
    json!({
        "tickets": tickets / ROUNDS * ROUNDS,
        "sessions_stored": sessions,
        "sessions_deleted": deleted,
        "sled_bytes_on_disk": dir_size(&path),
    })
}

pub async fn part_retention(args: &Args, dir: &Path) -> Value {
    let sweep = during_sweep(args, dir).await;
    eprintln!("  retention, intake during a sweep: {sweep}");
    let on = disk_after(args.retention_tickets, true, dir).await;
    let off = disk_after(args.retention_tickets, false, dir).await;
    let ratio = on["sled_bytes_on_disk"].as_f64().unwrap_or(f64::NAN)
        / off["sled_bytes_on_disk"].as_f64().unwrap_or(f64::NAN);
    let out = json!({
        "sweep": sweep,
        "disk": { "retention_on": on, "retention_off": off, "ratio_on_to_off": round(ratio, 2) },
    });
    eprintln!("  retention, disk: {}", out["disk"]);
    out
}
