//! Part `memory`: resident memory per ticket after many tickets were touched and their idle
//! actors stopped, and per live ticket actor, each in a child process for a clean baseline.

use std::path::Path;
use std::time::Duration;

use gorgias_agent_testkit::eventually;
use serde_json::{json, Value};

use crate::agent::{all_idle, drained, live_actors, run_child, start_with_fake, stop_with_fake};
use crate::client::{closed_loop, ClosedLoop};
use crate::cpu::{dir_size, rss_bytes};
use crate::report::round;
use crate::Args;

/// In a child: touches `tickets` new tickets, lets them be answered, then either waits for the
/// idle actors to stop (`idle`) or keeps them live, and reports resident memory.
pub async fn child_memory(args: &Args, idle: bool, dir: &Path) -> Value {
    let idle_secs = if idle { 1 } else { 3600 };
    let (fake, running) = start_with_fake(&dir.join("agent.sled"), "live", idle_secs, false).await;
    let touch = |n: u64| ClosedLoop::counted(running.addr, 32, n);
    let posts = || fake.posts();
    // Warm-up: pools, first sled pages, allocator arenas.
    let warm = closed_loop(touch(1000)).await;
    let warm_ok = warm.ok;
    eventually("warm-up replies", Duration::from_secs(120), || {
        posts() >= warm_ok
    })
    .await;
    drained(&running.store, Duration::from_secs(60)).await;
    if idle {
        all_idle(&running, Duration::from_secs(60)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base_rss = rss_bytes();

    // Two halves: the second shows the marginal cost of more tickets, without what is paid
    // once (sled's page cache filling up to its capacity, maps reaching their size).
    let mut rounds = Vec::new();
    let mut touched = 0;
    let mut errors = 0;
    let mut touch_secs = 0.0;
    for half in [args.tickets / 2, args.tickets - args.tickets / 2] {
        let r = closed_loop(touch(half)).await;
        touched += r.ok;
        errors += r.errors();
        touch_secs += r.window_secs;
        let expected = warm_ok + touched;
        let replies = eventually("replies", Duration::from_secs(600), || posts() >= expected).await;
        drained(&running.store, Duration::from_secs(120)).await;
        let live_after_replies = live_actors(&running).await;
        let rss_after_replies = rss_bytes();
        let mut stopped_after = None;
        if idle {
            let waited = all_idle(&running, Duration::from_secs(120)).await;
            stopped_after = Some(round(waited.as_secs_f64(), 2));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        rounds.push(json!({
            "tickets_so_far": touched,
            "replies_done_after_secs": round(replies.as_secs_f64(), 2),
            "live_actors_after_replies": live_after_replies,
            "rss_after_replies": rss_after_replies,
            "stopped_after_secs": stopped_after,
            "live_actors_at_end": live_actors(&running).await,
            "rss": rss_bytes(),
        }));
    }
    let rss = rss_bytes();
    let half_rss = rounds[0]["rss"].as_u64().unwrap_or(0);
    let second_half = touched - rounds[0]["tickets_so_far"].as_u64().unwrap_or(0);
    let out = json!({
        "idle_secs": idle_secs,
        "tickets": touched,
        "errors": errors,
        "touch_rps": round(touched as f64 / touch_secs.max(1e-9), 0),
        "live_actors_at_end": live_actors(&running).await,
        "base_rss": base_rss,
        "rss": rss,
        "bytes_per_ticket": round(rss.saturating_sub(base_rss) as f64 / touched.max(1) as f64, 0),
        "marginal_bytes_per_ticket": round(rss.saturating_sub(half_rss) as f64 / second_half.max(1) as f64, 0),
        "rounds": rounds,
        "sled_bytes_on_disk": dir_size(dir),
    });
    stop_with_fake(fake, running).await;
    out
}

pub fn part_memory(args: &Args) -> Value {
    let tickets = args.tickets.to_string();
    let idle = run_child(&["--child", "memory-idle", "--tickets", &tickets]);
    eprintln!("  memory (idle actors stopped): {idle}");
    let live = run_child(&["--child", "memory-live", "--tickets", &tickets]);
    eprintln!("  memory (actors kept live): {live}");
    let per_idle = idle["bytes_per_ticket"].as_f64().unwrap_or(f64::NAN);
    let per_live = live["bytes_per_ticket"].as_f64().unwrap_or(f64::NAN);
    let marginal_idle = idle["marginal_bytes_per_ticket"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let marginal_live = live["marginal_bytes_per_ticket"]
        .as_f64()
        .unwrap_or(f64::NAN);
    json!({
        "tickets": args.tickets,
        "bytes_per_idle_stopped_ticket": round(per_idle, 0),
        "marginal_bytes_per_idle_stopped_ticket": round(marginal_idle, 0),
        "bytes_per_live_ticket": round(per_live, 0),
        "marginal_bytes_per_live_ticket": round(marginal_live, 0),
        "bytes_per_live_actor_alone": round(per_live - per_idle, 0),
        "idle": idle,
        "live": live,
    })
}
