//! Part `restart`: process start to a 200 on `/readyz` with many stored sessions (in a child).

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gorgias_agent::domain::session::Session;
use gorgias_agent::store::{Store, Write};
use gorgias_agent_testkit::{start_agent, stop_agent};
use serde_json::{json, Value};

use crate::agent::agent_settings;
use crate::client::TICKET_BASE;
use crate::cpu::dir_size;
use crate::report::round;
use crate::{Args, CHILD_JSON};

pub fn fill_sessions(path: &Path, n: u64) -> Duration {
    let start = Instant::now();
    actix_web::rt::System::new().block_on(async {
        let store = Store::open(path).expect("open the store to fill");
        const BATCH: u64 = 20_000;
        let mut in_flight: Option<actix_web::rt::task::JoinHandle<_>> = None;
        let mut id = 1;
        while id <= n {
            let end = (id + BATCH).min(n + 1);
            let writes: Vec<Write> = (id..end)
                .flat_map(|t| Write::session_put(Session::new(TICKET_BASE + t).change()))
                .collect();
            let s = store.clone();
            let next = actix_web::rt::spawn(async move { s.commit(writes).await });
            if let Some(prev) = in_flight.replace(next) {
                prev.await.unwrap().expect("commit sessions");
            }
            id = end;
        }
        if let Some(last) = in_flight {
            last.await.unwrap().expect("commit sessions");
        }
        drop(store);
    });
    start.elapsed()
}

pub fn readyz_ok(addr: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}

/// In a child: starts the agent on the stored sessions, reports, waits for "go" on stdin,
/// then times the startup scans for comparison.
pub async fn child_restart(args: &Args, process_start: Instant) -> Value {
    let path = args.storage.clone().expect("--storage");
    let settings = agent_settings(&path, "dry-run", "http://127.0.0.1:9", 300);
    let t = Instant::now();
    let running = start_agent(settings).await;
    let start_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "addr {} process_to_started_ms {:.1} server_start_ms {:.1}",
        running.addr,
        process_start.elapsed().as_secs_f64() * 1000.0,
        start_ms
    );
    let _ = std::io::stdout().flush();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    let _ = rx.await;
    let store = running.store.clone();
    let (with_work, work_ms, sessions, scan_ms) = actix_web::rt::task::spawn_blocking(move || {
        let t = Instant::now();
        let with_work = store.tickets_with_work().len();
        let work_ms = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let sessions = store.session_count();
        (
            with_work,
            work_ms,
            sessions,
            t.elapsed().as_secs_f64() * 1000.0,
        )
    })
    .await
    .unwrap();
    stop_agent(running).await;
    json!({
        "server_start_ms": round(start_ms, 1),
        "tickets_with_work": with_work,
        "tickets_with_work_ms": round(work_ms, 2),
        "stored_sessions": sessions,
        "full_session_scan_ms": round(scan_ms, 1),
    })
}

pub fn part_restart(args: &Args) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.sled");
    eprintln!("  restart: writing {} sessions ...", args.sessions);
    let fill = fill_sessions(&path, args.sessions);
    let disk = dir_size(&path);
    eprintln!(
        "  restart: {} sessions written in {:.1} s ({} MB on disk)",
        args.sessions,
        fill.as_secs_f64(),
        disk / 1_000_000
    );
    // sled's own open time, for the breakdown.
    let t = Instant::now();
    let store = Store::open(&path).expect("reopen");
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    drop(store);

    let exe = std::env::current_exe().expect("current exe");
    let spawned = Instant::now();
    let mut child = Command::new(exe)
        .args(["--child", "restart", "--storage"])
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the restart child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let mut words = first.split_whitespace();
    let addr = match (words.next(), words.next()) {
        (Some("addr"), Some(a)) => a.to_string(),
        _ => panic!("the restart child did not start: {first}"),
    };
    let child_started_ms: f64 = first
        .split_whitespace()
        .skip_while(|w| *w != "process_to_started_ms")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    while !readyz_ok(&addr) {
        assert!(spawned.elapsed() < Duration::from_secs(120), "never ready");
        std::thread::sleep(Duration::from_millis(2));
    }
    let ready_ms = spawned.elapsed().as_secs_f64() * 1000.0;
    let mut stdin = child.stdin.take().unwrap();
    let _ = writeln!(stdin, "go");
    let diag: Value = lines
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix(CHILD_JSON).map(str::to_string))
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or(Value::Null);
    let _ = child.wait();
    let out = json!({
        "sessions": args.sessions,
        "fill_secs": round(fill.as_secs_f64(), 1),
        "sled_bytes_on_disk": disk,
        "store_open_ms": round(open_ms, 1),
        "process_spawn_to_ready_ms": round(ready_ms, 1),
        "child_main_to_started_ms": child_started_ms,
        "child": diag,
    });
    eprintln!("  restart: {out}");
    out
}
