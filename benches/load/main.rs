//! Load test of the agent, in process, with no external tools:
//!
//! - `floor`:   two minimal actix-web endpoints on the same stack, driven like intake:
//!   parse-and-answer, and parse + one sled insert + group-committed flush (`Store::commit`);
//! - `intake`:  `POST /webhooks/gorgias` of the real server (unique message ids, one new ticket
//!   per message, durable acknowledgement on, ticket turns running behind it);
//! - `e2e`:     from the webhook's 200 to the reply arriving at a local fake Gorgias, at a fixed
//!   offered rate (live mode, no rate limit);
//! - `memory`:  resident memory per ticket after 100,000 tickets were touched and their idle
//!   actors stopped, and per live ticket actor (each in a child process, for a clean baseline);
//! - `restart`: process start to a 200 on `/readyz` with 1,000,000 stored sessions (child);
//! - `console`: the operator console's overview, `/admin/stats` and ticket list with 1,000,000
//!   stored sessions, their summaries, and 90 days of hourly counters;
//! - `history`: agent CPU per message on a ticket already holding 50 history entries against
//!   one on a new ticket;
//! - `retention`: intake latency while a retention pass deletes 100,000 old idle sessions
//!   against none, and disk use after many tickets with retention on and off (not in the
//!   default list: name it in `--parts`).
//!
//! `cargo bench --bench load` runs every part but `retention`; `cargo bench --bench load -- --help` lists the
//! flags, e.g. `-- --parts intake,floor --secs 5`. The load generator is a raw HTTP/1.1
//! keep-alive client on its own thread (a current-thread tokio runtime), so it never shares the
//! agent's arbiter; its CPU use is printed next to each result.
//!
//! One file a concern: `client` (the load generator), `cpu` (what the process uses), `agent`
//! (the agent as the parts run it), `report` (the table and the targets), and one file a part.
//! The fakes and the configuration come from the test kit (`gorgias-agent-testkit`).

mod agent;
mod client;
mod console;
mod cpu;
mod e2e;
mod floor;
mod history;
mod intake;
mod memory;
mod report;
mod restart;
mod retention;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};

use crate::cpu::today;
use crate::report::{check_targets, get_f, print_table, round};

const ALL_PARTS: [&str; 8] = [
    "floor",
    "intake",
    "e2e",
    "memory",
    "restart",
    "console",
    "history",
    "retention",
];
/// What runs without `--parts`: `retention` seeds and sweeps 100,000 sessions and answers its
/// tickets twice over, which would lengthen the full run for figures that rarely move.
const DEFAULT_PARTS: [&str; 7] = [
    "floor", "intake", "e2e", "memory", "restart", "console", "history",
];
/// Prefix of the one result line a child process prints.
const CHILD_JSON: &str = "CHILD-JSON ";

#[derive(Debug, Clone)]
struct Args {
    parts: Vec<String>,
    /// Measured seconds of each closed-loop phase (after `warmup`).
    secs: f64,
    warmup: f64,
    conns: Vec<usize>,
    client_threads: usize,
    /// `dry-run` (no Gorgias calls) or `live` (against the local fake) for the intake part.
    intake_mode: String,
    rate: f64,
    e2e_secs: f64,
    tickets: u64,
    sessions: u64,
    /// Messages of each kind (new ticket, long ticket) in the history part.
    history_tickets: u64,
    /// Old idle sessions the retention part's pass deletes under load.
    sweep_sessions: u64,
    /// Tickets answered for each disk figure of the retention part.
    retention_tickets: u64,
    json_out: Option<PathBuf>,
    child: Option<String>,
    storage: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            parts: DEFAULT_PARTS.iter().map(|s| s.to_string()).collect(),
            secs: 5.0,
            warmup: 1.0,
            conns: vec![32, 256],
            client_threads: 1,
            intake_mode: "dry-run".into(),
            rate: 200.0,
            e2e_secs: 10.0,
            tickets: 100_000,
            sessions: 1_000_000,
            history_tickets: 10_000,
            sweep_sessions: 100_000,
            retention_tickets: 20_000,
            json_out: None,
            child: None,
            storage: None,
        }
    }
}

const USAGE: &str = "\
cargo bench --bench load [-- FLAGS]
  --parts LIST          floor,intake,e2e,memory,restart,console,history,retention
                        (default: all but retention)
  --secs S              measured seconds per closed-loop phase (default 5)
  --warmup S            unmeasured seconds before each phase (default 1)
  --conns LIST          concurrent connections (default 32,256)
  --client-threads N    load-generator threads (default 1)
  --intake-mode MODE    dry-run (default) or live against the local fake Gorgias
  --rate R              offered rate of e2e and retention, messages/s (default 200)
  --e2e-secs S          duration of e2e and of each retention latency phase (default 10)
  --tickets N           tickets touched by the memory part (default 100000)
  --sessions N          stored sessions for the restart and console parts (default 1000000)
  --history-tickets N   messages to new and to 50-entry tickets, each (default 10000)
  --sweep-sessions N    old idle sessions the retention pass deletes under load (default 100000)
  --retention-tickets N tickets answered for each retention disk figure (default 20000)
  --json PATH           also write the JSON report to PATH";

fn parse_args() -> Args {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1).peekable();
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let bad = |msg: String| -> ! {
        eprintln!("{msg}\n\n{USAGE}");
        std::process::exit(2)
    };
    while let Some(arg) = it.next() {
        // `cargo bench` passes `--bench` to every bench binary.
        if arg == "--bench" {
            continue;
        }
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .unwrap_or_else(|| bad(format!("{key} needs a value")))
        };
        let num = |v: String| -> f64 {
            v.parse()
                .unwrap_or_else(|_| bad(format!("{key}: not a number: {v}")))
        };
        match key.as_str() {
            "--parts" => args.parts = list(&value()),
            "--secs" => args.secs = num(value()),
            "--warmup" => args.warmup = num(value()),
            "--conns" => {
                args.conns = list(&value())
                    .iter()
                    .map(|c| num(c.clone()) as usize)
                    .collect()
            }
            "--client-threads" => args.client_threads = (num(value()) as usize).max(1),
            "--intake-mode" => args.intake_mode = value(),
            "--rate" => args.rate = num(value()),
            "--e2e-secs" => args.e2e_secs = num(value()),
            "--tickets" => args.tickets = num(value()) as u64,
            "--sessions" => args.sessions = num(value()) as u64,
            "--history-tickets" => args.history_tickets = num(value()) as u64,
            "--sweep-sessions" => args.sweep_sessions = num(value()) as u64,
            "--retention-tickets" => args.retention_tickets = num(value()) as u64,
            "--json" => args.json_out = Some(PathBuf::from(value())),
            "--child" => args.child = Some(value()),
            "--storage" => args.storage = Some(PathBuf::from(value())),
            other => bad(format!("unknown flag {other}")),
        }
    }
    for p in &args.parts {
        if !ALL_PARTS.contains(&p.as_str()) {
            bad(format!("unknown part {p}"));
        }
    }
    if !["dry-run", "live"].contains(&args.intake_mode.as_str()) {
        bad(format!("--intake-mode: {}", args.intake_mode));
    }
    args
}

/// Runs `part` on a fresh actix system with a temporary directory, which is removed only after
/// the system (and with it every actor holding the store) is gone.
fn in_system<F>(part: impl FnOnce(PathBuf) -> F) -> Value
where
    F: std::future::Future<Output = Value>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let out = {
        let system = actix_web::rt::System::new();
        system.block_on(part(dir.path().to_path_buf()))
    };
    drop(dir);
    out
}

fn main() {
    let process_start = Instant::now();
    let args = &parse_args();
    if let Some(child) = args.child.clone() {
        let out = match child.as_str() {
            "memory-idle" => {
                in_system(|dir| async move { memory::child_memory(args, true, &dir).await })
            }
            "memory-live" => {
                in_system(|dir| async move { memory::child_memory(args, false, &dir).await })
            }
            "restart" => {
                actix_web::rt::System::new().block_on(restart::child_restart(args, process_start))
            }
            other => panic!("unknown child {other}"),
        };
        println!("{CHILD_JSON}{out}");
        return;
    }

    let mut report = json!({
        "date": today(),
        "machine": {
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
        },
        "config": {
            "parts": args.parts,
            "secs": args.secs,
            "warmup": args.warmup,
            "conns": args.conns,
            "client_threads": args.client_threads,
            "intake_mode": args.intake_mode,
        },
    });
    let wants = |p: &str| args.parts.iter().any(|x| x == p);
    let bench_start = Instant::now();
    if wants("floor") {
        eprintln!("floor ...");
        report["floor"] = in_system(|dir| async move { floor::part_floor(args, &dir).await });
    }
    if wants("intake") {
        eprintln!("intake ...");
        report["intake"] = in_system(|dir| async move { intake::part_intake(args, &dir).await });
    }
    if wants("floor") && wants("intake") {
        let mut commit = serde_json::Map::new();
        let mut parse = serde_json::Map::new();
        for c in &args.conns {
            let c = c.to_string();
            let i = get_f(&report, &["intake", &c, "rps"]);
            if let (Some(i), Some(f)) = (i, get_f(&report, &["floor", "commit", &c, "rps"])) {
                commit.insert(c.clone(), json!(round(i / f, 2)));
            }
            if let (Some(i), Some(f)) = (i, get_f(&report, &["floor", "parse", &c, "rps"])) {
                parse.insert(c.clone(), json!(round(i / f, 2)));
            }
        }
        report["ratio_intake_to_commit_floor"] = Value::Object(commit);
        report["ratio_intake_to_parse_floor"] = Value::Object(parse);
    }
    if wants("e2e") {
        eprintln!("end to end ...");
        report["e2e"] = in_system(|dir| async move { e2e::part_e2e(args, &dir).await });
    }
    if wants("memory") {
        eprintln!("memory ...");
        report["memory"] = memory::part_memory(args);
    }
    if wants("restart") {
        eprintln!("restart ...");
        report["restart"] = restart::part_restart(args);
    }
    if wants("console") {
        eprintln!("console ...");
        report["console"] = in_system(|dir| async move { console::part_console(args, &dir).await });
    }
    if wants("history") {
        eprintln!("history ...");
        report["history"] = in_system(|dir| async move { history::part_history(args, &dir).await });
    }
    if wants("retention") {
        eprintln!("retention ...");
        report["retention"] =
            in_system(|dir| async move { retention::part_retention(args, &dir).await });
    }
    report["targets"] = Value::Array(check_targets(&report, args));
    report["bench_secs"] = json!(round(bench_start.elapsed().as_secs_f64(), 1));
    print_table(&report, args);
    println!("{report}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{report}\n")).expect("write the JSON report");
    }
}
