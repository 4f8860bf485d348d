//! Part `history`: what a message costs the agent on a ticket that already holds 50 history
//! entries, against one on a new ticket: same agent, same connections, counted runs, CPU from
//! the first request until every turn behind them is done.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gorgias_agent::domain::stats::{AI_REPLIES, HANDOFF_PREFIX};
use gorgias_agent::server::Running;
use gorgias_agent::store::Store;
use gorgias_agent::time::now_secs;
use gorgias_agent_testkit::builders::{put_sessions, session_with_history};
use serde_json::{json, Value};

use crate::agent::{drained, start_with_fake, stop_with_fake};
use crate::client::{closed_loop, ticket_of, ClosedLoop, NEXT_ID};
use crate::cpu::{cpu_by_thread, cpu_delta_by_role};
use crate::report::round;
use crate::Args;

/// History entries on each long ticket before its message arrives.
pub const ENTRIES: usize = 50;
/// Measured rounds of each kind, taken in turn (new, long, new, long) so drift over the run
/// (a growing store, a warmer cache) falls on both alike.
const ROUNDS: usize = 2;

/// One counted run of `messages` webhooks: agent CPU (every thread but the load generator's,
/// until the turns behind intake are done) and throughput.
struct Run {
    messages: u64,
    /// What the turns decided, from the console's counters: AI replies and handoffs.
    decided: Decided,
    ok: u64,
    agent_cpu_secs: f64,
    by_role: BTreeMap<&'static str, f64>,
    load_secs: f64,
}

/// AI replies and handoffs counted so far.
#[derive(Debug, Default, Clone, Copy)]
struct Decided {
    replies: i64,
    handoffs: i64,
}

fn decided(store: &Store) -> Decided {
    let mut d = Decided::default();
    for (_, counter, n) in store.stat_rows(0, u32::MAX) {
        if counter == AI_REPLIES {
            d.replies += n;
        } else if counter.starts_with(HANDOFF_PREFIX) {
            d.handoffs += n;
        }
    }
    d
}

async fn run(running: &Running, conns: usize, threads: usize, messages: u64) -> Run {
    let decided_before = decided(&running.store);
    let before = cpu_by_thread();
    let started = Instant::now();
    let r = closed_loop(ClosedLoop {
        threads,
        ..ClosedLoop::counted(running.addr, conns, messages)
    })
    .await;
    let load_secs = started.elapsed().as_secs_f64();
    drained(&running.store, Duration::from_secs(180)).await;
    // The generator's threads have ended: the threads left are the agent's.
    let by_role = cpu_delta_by_role(&before, &cpu_by_thread());
    let decided_after = decided(&running.store);
    Run {
        messages,
        decided: Decided {
            replies: decided_after.replies - decided_before.replies,
            handoffs: decided_after.handoffs - decided_before.handoffs,
        },
        ok: r.ok,
        agent_cpu_secs: by_role.values().sum(),
        by_role,
        load_secs,
    }
}

/// Stores a session with [`ENTRIES`] answered entries for each of the next `n` tickets the load
/// generator will write to.
async fn seed_long_tickets(running: &Running, n: u64) {
    let first = NEXT_ID.load(Ordering::Relaxed);
    let now = now_secs();
    let numbers: Vec<u64> = (first..first + n).collect();
    for chunk in numbers.chunks(1000) {
        let sessions: Vec<_> = chunk
            .iter()
            .map(|&k| session_with_history(ticket_of(k), ENTRIES, now))
            .collect();
        put_sessions(&running.store, &sessions)
            .await
            .expect("seed the long tickets");
    }
}

fn summary(runs: &[Run]) -> Value {
    let messages: u64 = runs.iter().map(|r| r.messages).sum();
    let ok: u64 = runs.iter().map(|r| r.ok).sum();
    let cpu: f64 = runs.iter().map(|r| r.agent_cpu_secs).sum();
    let secs: f64 = runs.iter().map(|r| r.load_secs).sum();
    let replies: i64 = runs.iter().map(|r| r.decided.replies).sum();
    let handoffs: i64 = runs.iter().map(|r| r.decided.handoffs).sum();
    let mut by_role = serde_json::Map::new();
    for r in runs {
        for (role, s) in &r.by_role {
            let v = by_role.get(*role).and_then(Value::as_f64).unwrap_or(0.0);
            by_role.insert(
                role.to_string(),
                json!(v + s * 1e6 / messages.max(1) as f64),
            );
        }
    }
    for v in by_role.values_mut() {
        *v = json!(round(v.as_f64().unwrap_or(0.0), 1));
    }
    json!({
        "messages": messages,
        "ok": ok,
        "rps": round(ok as f64 / secs.max(1e-9), 0),
        "agent_cpu_us_per_message": round(cpu * 1e6 / messages.max(1) as f64, 1),
        "cpu_us_per_message_by_thread": by_role,
        "ai_replies": replies,
        "handoffs": handoffs,
    })
}

pub async fn part_history(args: &Args, dir: &Path) -> Value {
    let (fake, running) =
        start_with_fake(&dir.join("agent.sled"), &args.intake_mode, 300, false).await;
    let conns = args.conns.first().copied().unwrap_or(32);
    let per_round = (args.history_tickets / ROUNDS as u64).max(1);
    // Warm-up: connections, first sled pages, allocator arenas.
    run(&running, conns, args.client_threads, per_round / 4 + 1).await;
    let (mut new, mut long) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        new.push(run(&running, conns, args.client_threads, per_round).await);
        seed_long_tickets(&running, per_round).await;
        long.push(run(&running, conns, args.client_threads, per_round).await);
    }
    let new = summary(&new);
    let long = summary(&long);
    // The comparison is of history length only: both kinds must be decided alike.
    if long["handoffs"] != new["handoffs"] || long["ai_replies"] != new["ai_replies"] {
        eprintln!(
            "  history: WARNING the two kinds were decided differently (new: {} replies, {} handoffs; long: {} replies, {} handoffs): the ratio compares different turns",
            new["ai_replies"], new["handoffs"], long["ai_replies"], long["handoffs"]
        );
    }
    let ratio = long["agent_cpu_us_per_message"]
        .as_f64()
        .unwrap_or(f64::NAN)
        / new["agent_cpu_us_per_message"].as_f64().unwrap_or(f64::NAN);
    let out = json!({
        "entries": ENTRIES,
        "conns": conns,
        "intake_mode": args.intake_mode,
        "new_ticket": new,
        "long_ticket": long,
        "ratio_cpu_long_to_new": round(ratio, 2),
    });
    eprintln!("  history: {out}");
    stop_with_fake(fake, running).await;
    out
}
