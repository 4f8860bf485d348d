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
//!   stored sessions, their summaries, and 90 days of hourly counters.
//!
//! `cargo bench --bench load` runs everything; `cargo bench --bench load -- --help` lists the
//! flags, e.g. `-- --parts intake,floor --secs 5`. The load generator is a raw HTTP/1.1
//! keep-alive client on its own thread (a current-thread tokio runtime), so it never shares the
//! agent's arbiter; its CPU use is printed next to each result.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpResponse, HttpServer};
use gorgias_agent::config::Settings;
use gorgias_agent::domain::session::Session;
use gorgias_agent::server::{self, Running};
use gorgias_agent::store::{Store, TreeName, Write};
use gorgias_agent::tickets::supervisor::LiveActors;
use serde_json::{json, Value};
// tokio's `net` and `io-util` features come with actix-web (the agent's own dependency).
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "bench-webhook-token";
const AI_USER: u64 = 900001;
const MAIN_FIXTURE: &str = include_str!(
    "../tests/fixtures/synthetic-context-ticket-message-created.customer-message.json"
);
const ALL_PARTS: [&str; 6] = ["floor", "intake", "e2e", "memory", "restart", "console"];
/// Prefix of the one result line a child process prints.
const CHILD_JSON: &str = "CHILD-JSON ";

// ---------------------------------------------------------------------------------------------
// Flags

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
    json_out: Option<PathBuf>,
    child: Option<String>,
    storage: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            parts: ALL_PARTS.iter().map(|s| s.to_string()).collect(),
            secs: 5.0,
            warmup: 1.0,
            conns: vec![32, 256],
            client_threads: 1,
            intake_mode: "dry-run".into(),
            rate: 200.0,
            e2e_secs: 10.0,
            tickets: 100_000,
            sessions: 1_000_000,
            json_out: None,
            child: None,
            storage: None,
        }
    }
}

const USAGE: &str = "\
cargo bench --bench load [-- FLAGS]
  --parts LIST          floor,intake,e2e,memory,restart,console (default: all)
  --secs S              measured seconds per closed-loop phase (default 5)
  --warmup S            unmeasured seconds before each phase (default 1)
  --conns LIST          concurrent connections (default 32,256)
  --client-threads N    load-generator threads (default 1)
  --intake-mode MODE    dry-run (default) or live against the local fake Gorgias
  --rate R              end-to-end offered rate, messages/s (default 200)
  --e2e-secs S          end-to-end duration (default 10)
  --tickets N           tickets touched by the memory part (default 100000)
  --sessions N          stored sessions for the restart and console parts (default 1000000)
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

// ---------------------------------------------------------------------------------------------
// Process measurements

/// Resident memory of this process (VmRSS), in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds (user + system) from a `/proc/.../stat` file (clock ticks of 1/100 s).
fn cpu_secs(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 3, utime 14, stime 15.
    (tick(11) + tick(12)) as f64 / 100.0
}

fn process_cpu_secs() -> f64 {
    cpu_secs("/proc/self/stat")
}

fn thread_cpu_secs() -> f64 {
    cpu_secs("/proc/thread-self/stat")
}

/// CPU seconds used so far by each live thread of this process (by thread id), with what the
/// thread does.
fn cpu_by_thread() -> HashMap<String, (&'static str, f64)> {
    let pid = std::process::id().to_string();
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.filter_map(|t| t.ok()) {
        let dir = task.path();
        let tid = task.file_name().to_string_lossy().to_string();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let comm = comm.trim();
        let role = if tid == pid {
            "main arbiter (actors)"
        } else if comm.starts_with("actix-rt|") {
            "http workers"
        } else if comm == "store-committer" {
            "store committer"
        } else if comm.starts_with("sled") {
            "sled threads"
        } else if comm.starts_with("load") || comm.starts_with("open-loop") {
            "load generator"
        } else {
            "other"
        };
        out.insert(tid, (role, cpu_secs(&dir.join("stat").to_string_lossy())));
    }
    out
}

/// CPU seconds by role between two snapshots (threads that ended in between are left out).
fn cpu_delta_by_role(
    before: &HashMap<String, (&'static str, f64)>,
    after: &HashMap<String, (&'static str, f64)>,
) -> BTreeMap<&'static str, f64> {
    let mut out = BTreeMap::new();
    for (tid, (role, secs)) in after {
        let earlier = before.get(tid).map_or(0.0, |(_, s)| *s);
        *out.entry(*role).or_default() += secs - earlier;
    }
    out
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Unique numbers for tickets and messages across every phase of one process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
const TICKET_BASE: u64 = 10_000_000;
const MESSAGE_BASE: u64 = 600_000_000;

fn ticket_of(n: u64) -> u64 {
    TICKET_BASE + n
}

enum Piece {
    Lit(String),
    Ticket,
    Message,
    Text,
}

/// The main fixture as a request template: message `n` goes to ticket `TICKET_BASE + n`
/// with message id `MESSAGE_BASE + n` and its own text.
struct Webhooks {
    head: String,
    pieces: Vec<Piece>,
}

impl Webhooks {
    fn new(path: &str) -> Webhooks {
        let mut v: Value = serde_json::from_str(MAIN_FIXTURE).expect("fixture");
        v["ticket"]["id"] = json!("@@T@@");
        v["message"]["id"] = json!("@@M@@");
        v["message"]["ticket_id"] = json!("@@T@@");
        for key in ["body_text", "stripped_text"] {
            v["message"][key] = json!("@@X@@");
        }
        for key in ["body_html", "stripped_html"] {
            v["message"][key] = json!("<div>@@X@@</div>");
        }
        let text = v
            .to_string()
            .replace("\"@@T@@\"", "@@T@@")
            .replace("\"@@M@@\"", "@@M@@");
        let mut pieces = Vec::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("@@") {
            pieces.push(Piece::Lit(rest[..at].to_string()));
            let marker = &rest[at..at + 5];
            pieces.push(match marker {
                "@@T@@" => Piece::Ticket,
                "@@M@@" => Piece::Message,
                "@@X@@" => Piece::Text,
                other => panic!("unexpected marker {other}"),
            });
            rest = &rest[at + 5..];
        }
        pieces.push(Piece::Lit(rest.to_string()));
        Webhooks {
            head: format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 X-Webhook-Token: {TOKEN}\r\nContent-Length: "
            ),
            pieces,
        }
    }

    fn body(&self, n: u64) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(4096);
        for p in &self.pieces {
            match p {
                Piece::Lit(l) => s.push_str(l),
                Piece::Ticket => write!(s, "{}", ticket_of(n)).unwrap(),
                Piece::Message => write!(s, "{}", MESSAGE_BASE + n).unwrap(),
                Piece::Text => {
                    write!(s, "Hi, where is my order #{n}? It has not arrived yet.").unwrap()
                }
            }
        }
        s.into_bytes()
    }

    fn request(&self, n: u64) -> Vec<u8> {
        let body = self.body(n);
        let mut req = Vec::with_capacity(self.head.len() + body.len() + 16);
        req.extend_from_slice(self.head.as_bytes());
        req.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(&body);
        req
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One request/response exchange on a keep-alive connection; returns the status.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> std::io::Result<u16> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    stream.write_all(request).await?;
    buf.clear();
    let header_end = loop {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(at) = find(buf, b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = &buf[..header_end];
    let status = head
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let length = head
        .split(|&b| b == b'\n')
        .find(|line| line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:"))
        .and_then(|line| std::str::from_utf8(&line[15..]).ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or_else(|| invalid("no content-length"))?;
    while buf.len() < header_end + length {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(status)
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

// ---------------------------------------------------------------------------------------------
// Closed-loop load: each connection sends its next request as soon as the previous answered.

#[derive(Debug, Default, Clone)]
struct LoadResult {
    /// Latencies (µs) of the requests that completed inside the measured window.
    latencies_us: Vec<u32>,
    ok: u64,
    non_200: BTreeMap<u16, u64>,
    io_errors: u64,
    window_secs: f64,
    /// CPU used by the load generator's threads, as a share of one core.
    client_cpu: f64,
    /// CPU used by the whole process (agent + generator + fakes), in cores.
    process_cpu: f64,
    /// Requests sent in all (warm-up included).
    sent: u64,
    /// CPU µs per request sent, by thread role, over the whole run (warm-up included).
    cpu_us_per_request: BTreeMap<&'static str, f64>,
}

impl LoadResult {
    fn rps(&self) -> f64 {
        (self.ok + self.non_200.values().sum::<u64>()) as f64 / self.window_secs.max(1e-9)
    }
    fn errors(&self) -> u64 {
        self.io_errors + self.non_200.values().sum::<u64>()
    }
    fn pct_ms(&self, q: f64) -> f64 {
        percentile(&self.latencies_us, q) as f64 / 1000.0
    }
    fn merge(&mut self, other: LoadResult) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        for (k, v) in other.non_200 {
            *self.non_200.entry(k).or_default() += v;
        }
        self.io_errors += other.io_errors;
        self.client_cpu += other.client_cpu;
        self.sent += other.sent;
    }
    fn json(&self) -> Value {
        json!({
            "rps": round(self.rps(), 0),
            "p50_ms": round(self.pct_ms(0.50), 2),
            "p99_ms": round(self.pct_ms(0.99), 2),
            "max_ms": round(self.pct_ms(1.0), 2),
            "ok": self.ok,
            "errors": self.errors(),
            "non_200": self.non_200.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "client_cpu_cores": round(self.client_cpu, 2),
            "process_cpu_cores": round(self.process_cpu, 2),
            "cpu_us_per_request": self.cpu_us_per_request.iter().map(|(k, v)| (k.to_string(), json!(round(*v, 1)))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// `sorted`-independent percentile (sorts a copy once per call site; fine for these sizes).
fn percentile(values: &[u32], q: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[derive(Clone)]
struct ClosedLoop {
    addr: SocketAddr,
    path: &'static str,
    conns: usize,
    threads: usize,
    warmup: Duration,
    secs: Duration,
    /// Stop after this many requests in all (the memory part touches an exact count).
    max_requests: Option<u64>,
}

/// Runs the load on its own threads; awaiting it does not block the caller's arbiter.
async fn closed_loop(cfg: ClosedLoop) -> LoadResult {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("load-generator".into())
        .spawn(move || {
            let _ = tx.send(closed_loop_blocking(cfg));
        })
        .expect("spawn the load generator");
    rx.await.expect("the load generator finishes")
}

fn closed_loop_blocking(cfg: ClosedLoop) -> LoadResult {
    let webhooks = Arc::new(Webhooks::new(cfg.path));
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let until = measure_from + cfg.secs;
    let limit = cfg
        .max_requests
        .map(|m| NEXT_ID.load(Ordering::Relaxed) + m);
    let cpu_before = process_cpu_secs();
    let threads_before = cpu_by_thread();
    let threads: Vec<_> = (0..cfg.threads)
        .map(|t| {
            let conns = cfg.conns / cfg.threads + usize::from(t < cfg.conns % cfg.threads);
            let webhooks = webhooks.clone();
            let addr = cfg.addr;
            std::thread::Builder::new()
                .name(format!("load-{t}"))
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    let cpu0 = thread_cpu_secs();
                    let per_conn =
                        rt.block_on(futures_util::future::join_all((0..conns).map(|_| {
                            connection_loop(addr, webhooks.clone(), measure_from, until, limit)
                        })));
                    let cpu = thread_cpu_secs() - cpu0;
                    let mut merged = LoadResult::default();
                    for r in per_conn {
                        merged.merge(r);
                    }
                    merged.client_cpu = cpu;
                    merged
                })
                .expect("spawn a load thread")
        })
        .collect();
    let mut result = LoadResult::default();
    for t in threads {
        result.merge(t.join().expect("load thread"));
    }
    let wall = start.elapsed().as_secs_f64();
    result.process_cpu = (process_cpu_secs() - cpu_before) / wall;
    // The generator threads have exited by now: their share is `client_cpu`.
    let mut roles = cpu_delta_by_role(&threads_before, &cpu_by_thread());
    roles.insert("load generator", result.client_cpu);
    for secs in roles.values_mut() {
        *secs *= 1e6 / result.sent.max(1) as f64;
    }
    result.cpu_us_per_request = roles;
    result.client_cpu /= wall;
    result.window_secs = match cfg.max_requests {
        // A counted run is measured from its first request to its last answer.
        Some(_) => wall,
        None => cfg.secs.as_secs_f64(),
    };
    result
}

async fn connection_loop(
    addr: SocketAddr,
    webhooks: Arc<Webhooks>,
    measure_from: Instant,
    until: Instant,
    limit: Option<u64>,
) -> LoadResult {
    let counted = limit.is_some();
    let mut r = LoadResult::default();
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(8192);
    // A counted run ends at its count, or at `until` at the latest.
    while Instant::now() < until {
        let conn = match stream.as_mut() {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => stream.insert(s),
                Err(_) => {
                    r.io_errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if limit.is_some_and(|l| n >= l) {
            break;
        }
        let request = webhooks.request(n);
        let sent = Instant::now();
        r.sent += 1;
        let outcome =
            tokio::time::timeout(Duration::from_secs(30), exchange(conn, &mut buf, &request)).await;
        let done = Instant::now();
        let in_window = counted || (done >= measure_from && done <= until);
        match outcome {
            Ok(Ok(status)) => {
                if in_window {
                    r.latencies_us
                        .push(done.duration_since(sent).as_micros().min(u32::MAX as u128) as u32);
                    if status == 200 {
                        r.ok += 1;
                    } else {
                        *r.non_200.entry(status).or_default() += 1;
                    }
                }
            }
            _ => {
                r.io_errors += 1;
                stream = None;
            }
        }
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Open-loop load (end to end): request i is sent at start + i / rate.

struct Sent {
    n: u64,
    scheduled: Instant,
    acked: Instant,
    status: u16,
}

async fn open_loop(addr: SocketAddr, rate: f64, secs: f64, lanes: usize) -> (Vec<Sent>, u64) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("open-loop".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let webhooks = Arc::new(Webhooks::new("/webhooks/gorgias"));
            let total = (rate * secs).round() as u64;
            let first = NEXT_ID.fetch_add(total, Ordering::Relaxed);
            let start = Instant::now() + Duration::from_millis(50);
            let results = rt.block_on(futures_util::future::join_all((0..lanes as u64).map(
                |lane| {
                    let webhooks = webhooks.clone();
                    async move {
                        let mut out = Vec::new();
                        let mut errors = 0;
                        let mut stream: Option<TcpStream> = None;
                        let mut buf = Vec::with_capacity(8192);
                        let mut i = lane;
                        while i < total {
                            let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
                            tokio::time::sleep_until(scheduled.into()).await;
                            let conn = match stream.as_mut() {
                                Some(s) => s,
                                None => match connect(addr).await {
                                    Ok(s) => stream.insert(s),
                                    Err(_) => {
                                        errors += 1;
                                        i += lanes as u64;
                                        continue;
                                    }
                                },
                            };
                            let n = first + i;
                            let request = webhooks.request(n);
                            match tokio::time::timeout(
                                Duration::from_secs(30),
                                exchange(conn, &mut buf, &request),
                            )
                            .await
                            {
                                Ok(Ok(status)) => out.push(Sent {
                                    n,
                                    scheduled,
                                    acked: Instant::now(),
                                    status,
                                }),
                                _ => {
                                    errors += 1;
                                    stream = None;
                                }
                            }
                            i += lanes as u64;
                        }
                        (out, errors)
                    }
                },
            )));
            let mut sent = Vec::new();
            let mut errors = 0;
            for (s, e) in results {
                sent.extend(s);
                errors += e;
            }
            let _ = tx.send((sent, errors));
        })
        .expect("spawn the open-loop generator");
    rx.await.expect("the open-loop generator finishes")
}

// ---------------------------------------------------------------------------------------------
// A lean fake Gorgias: answers what the agent calls, counts posts, and (when asked) records the
// arrival time of each posted message by ticket.

#[derive(Default)]
struct FakeState {
    posts: AtomicU64,
    record: bool,
    arrivals: Mutex<Vec<(u64, Instant)>>,
}

struct LeanGorgias {
    base_url: String,
    state: Arc<FakeState>,
    server: actix_web::dev::ServerHandle,
}

async fn fake_post_message(
    path: web::Path<u64>,
    state: web::Data<FakeState>,
    _body: web::Bytes,
) -> HttpResponse {
    let at = Instant::now();
    let n = state.posts.fetch_add(1, Ordering::Relaxed) + 1;
    if state.record {
        state.arrivals.lock().unwrap().push((path.into_inner(), at));
    }
    HttpResponse::Created().json(json!({ "id": 900_000_000 + n }))
}

async fn fake_list_messages() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": [], "meta": { "next_cursor": null } }))
}

async fn fake_other(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().json(json!({}))
}

fn start_fake(record: bool) -> LeanGorgias {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake");
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(FakeState {
        record,
        ..Default::default()
    });
    let shared = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::from(shared.clone()))
            .route(
                "/api/tickets/{id}/messages",
                web::post().to(fake_post_message),
            )
            .route(
                "/api/tickets/{id}/messages",
                web::get().to(fake_list_messages),
            )
            .default_service(web::to(fake_other))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    LeanGorgias {
        base_url: format!("http://127.0.0.1:{port}"),
        state,
        server: handle,
    }
}

// ---------------------------------------------------------------------------------------------
// The agent

fn agent_settings(storage: &Path, mode: &str, gorgias_url: &str, idle_secs: u64) -> Settings {
    let text = format!(
        r#"
[server]
bind = "127.0.0.1:0"
webhook_token = "{TOKEN}"
max_body_bytes = 65536

[storage]
path = "{storage}"

[gorgias]
mode = "{mode}"
base_url = "{gorgias_url}"
api_email = "bot@acme.example"
api_key = "bench-api-key"
ai_user_id = {AI_USER}
request_timeout_secs = 5
requests_per_window = 1000000
window_secs = 1
retry_initial_ms = 20
retry_max_ms = 200
retry_for_secs = 30

[sessions]
idle_secs = {idle_secs}

[[autopilot.topics]]
name = "order-status"
description = "Where an order is, tracking, delivery times"
keywords = ["where is my order", "tracking", "shipped", "delivery"]
action = "handle"
answer = "Your order ships within 2 business days; the tracking link is in your confirmation email."

[[autopilot.topics]]
name = "returns"
description = "Returning or exchanging an item"
keywords = ["return", "exchange"]
action = "handle"
answer = "You can return any item within 30 days from your account page."

[[autopilot.topics]]
name = "refunds"
description = "Refunds and chargebacks"
keywords = ["refund", "money back", "chargeback"]
action = "skip"
"#,
        storage = storage.display().to_string().replace('\\', "/"),
    );
    Settings::from_toml_and_env(&text, Vec::<(String, String)>::new()).expect("bench settings")
}

async fn start_agent(settings: Settings) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the agent");
    server::start(settings, listener)
        .await
        .expect("the agent starts")
}

async fn stop_agent(running: Running) {
    running.server.stop(true).await;
    let _ = running.stopped.await;
}

/// Waits until no ticket has stored work left (every accepted message answered).
async fn drained(store: &Store, deadline: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let store2 = store.clone();
        let empty =
            actix_web::rt::task::spawn_blocking(move || store2.tickets_with_work().is_empty())
                .await
                .unwrap_or(false);
        if empty {
            return Some(start.elapsed());
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn live_actors(running: &Running) -> usize {
    running
        .supervisor
        .send(LiveActors)
        .await
        .unwrap_or(usize::MAX)
}

// ---------------------------------------------------------------------------------------------
// Part: floor

async fn floor_parse(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) => HttpResponse::Ok().json(json!({
            "outcome": "accepted",
            "ticket_id": v["ticket"]["id"],
        })),
        Err(e) => HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
    }
}

static FLOOR_SEQ: AtomicU64 = AtomicU64::new(0);

async fn floor_commit(body: web::Bytes, store: web::Data<Store>) -> HttpResponse {
    let v = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => v,
        Err(e) => return HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
    };
    let ticket_id = v["ticket"]["id"].as_u64().unwrap_or(0);
    let mut key = ticket_id.to_be_bytes().to_vec();
    key.extend_from_slice(&FLOOR_SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    // About the size of what intake stores for a message.
    let value = serde_json::to_vec(&json!({
        "ticket_id": ticket_id,
        "message_id": v["message"]["id"],
        "sender": v["message"]["sender"]["email"],
        "text": v["message"]["body_text"],
        "subject": v["message"]["subject"],
        "channel": v["message"]["channel"],
    }))
    .unwrap();
    match store
        .commit(vec![Write::Put(TreeName::Inbox, key, value)])
        .await
    {
        Ok(()) => HttpResponse::Ok().json(json!({ "outcome": "accepted", "ticket_id": ticket_id })),
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({ "error": e.to_string() })),
    }
}

async fn part_floor(args: &Args, dir: &Path) -> Value {
    let store = Store::open(&dir.join("floor.sled")).expect("floor store");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let data = web::Data::new(store.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/floor/parse", web::post().to(floor_parse))
            .route("/floor/commit", web::post().to(floor_commit))
    })
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    let stopped = actix_web::rt::spawn(server);
    let mut out = serde_json::Map::new();
    for (name, path) in [("parse", "/floor/parse"), ("commit", "/floor/commit")] {
        let mut per_conns = serde_json::Map::new();
        for &conns in &args.conns {
            let r = closed_loop(ClosedLoop {
                addr,
                path,
                conns,
                threads: args.client_threads,
                warmup: Duration::from_secs_f64(args.warmup),
                secs: Duration::from_secs_f64(args.secs),
                max_requests: None,
            })
            .await;
            eprintln!(
                "  floor {name:<6} {conns:>4} conns: {:>7.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
                r.rps(),
                r.pct_ms(0.5),
                r.pct_ms(0.99),
                r.errors()
            );
            per_conns.insert(conns.to_string(), r.json());
        }
        out.insert(name.to_string(), Value::Object(per_conns));
    }
    handle.stop(true).await;
    let _ = stopped.await;
    drop(store);
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Part: intake

async fn part_intake(args: &Args, dir: &Path) -> Value {
    let fake = start_fake(false);
    let settings = agent_settings(
        &dir.join("agent.sled"),
        &args.intake_mode,
        &fake.base_url,
        300,
    );
    let running = start_agent(settings).await;
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
    stop_agent(running).await;
    fake.server.stop(true).await;
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Part: end to end

async fn part_e2e(args: &Args, dir: &Path) -> Value {
    let fake = start_fake(true);
    let settings = agent_settings(&dir.join("agent.sled"), "live", &fake.base_url, 300);
    let running = start_agent(settings).await;
    // A short warm-up (connections to the fake, first sled pages), not measured.
    let _ = open_loop(running.addr, args.rate, 1.0, 16).await;
    drained(&running.store, Duration::from_secs(30)).await;
    let warm_posts = fake.state.posts.load(Ordering::Relaxed);
    fake.state.arrivals.lock().unwrap().clear();

    let (sent, io_errors) = open_loop(running.addr, args.rate, args.e2e_secs, 32).await;
    let accepted: Vec<&Sent> = sent.iter().filter(|s| s.status == 200).collect();
    let expected = warm_posts + accepted.len() as u64;
    let waited = Instant::now();
    while fake.state.posts.load(Ordering::Relaxed) < expected
        && waited.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrivals: HashMap<u64, Instant> = {
        let mut map = HashMap::new();
        for &(ticket, at) in fake.state.arrivals.lock().unwrap().iter() {
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
    let ack_us: Vec<u32> = sent
        .iter()
        .map(|s| {
            s.acked
                .duration_since(s.scheduled)
                .as_micros()
                .min(u32::MAX as u128) as u32
        })
        .collect();
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
    stop_agent(running).await;
    fake.server.stop(true).await;
    out
}

// ---------------------------------------------------------------------------------------------
// Part: memory (children: a clean process each)

/// In a child: touches `tickets` new tickets, lets them be answered, then either waits for the
/// idle actors to stop (`idle`) or keeps them live, and reports resident memory.
async fn child_memory(args: &Args, idle: bool, dir: &Path) -> Value {
    let fake = start_fake(false);
    let idle_secs = if idle { 1 } else { 3600 };
    let settings = agent_settings(&dir.join("agent.sled"), "live", &fake.base_url, idle_secs);
    let running = start_agent(settings).await;
    let touch = |n: u64| ClosedLoop {
        addr: running.addr,
        path: "/webhooks/gorgias",
        conns: 32,
        threads: 1,
        warmup: Duration::ZERO,
        secs: Duration::from_secs(600),
        max_requests: Some(n),
    };
    let posts = || fake.state.posts.load(Ordering::Relaxed);
    // Warm-up: pools, first sled pages, allocator arenas.
    let warm = closed_loop(touch(1000)).await;
    let warm_ok = warm.ok;
    wait_for("warm-up replies", Duration::from_secs(120), || {
        posts() >= warm_ok
    })
    .await;
    drained(&running.store, Duration::from_secs(60)).await;
    if idle {
        let start = Instant::now();
        while live_actors(&running).await > 0 && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
        let replies = wait_for("replies", Duration::from_secs(600), || posts() >= expected).await;
        drained(&running.store, Duration::from_secs(120)).await;
        let live_after_replies = live_actors(&running).await;
        let rss_after_replies = rss_bytes();
        let mut stopped_after = None;
        if idle {
            let start = Instant::now();
            while live_actors(&running).await > 0 && start.elapsed() < Duration::from_secs(120) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            stopped_after = Some(round(start.elapsed().as_secs_f64(), 2));
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
    stop_agent(running).await;
    fake.server.stop(true).await;
    out
}

fn run_child(args_for_child: &[&str]) -> Value {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(args_for_child)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_JSON))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("child {args_for_child:?} failed ({}): {stdout}", out.status))
}

fn part_memory(args: &Args) -> Value {
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

// ---------------------------------------------------------------------------------------------
// Part: restart

fn fill_sessions(path: &Path, n: u64) -> Duration {
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

fn readyz_ok(addr: &str) -> bool {
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
async fn child_restart(args: &Args, process_start: Instant) -> Value {
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

fn part_restart(args: &Args) -> Value {
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

// ---------------------------------------------------------------------------------------------
// Console

/// Stores `n` sessions, a console summary for each (with its channel and, for one in five, a
/// handoff-reason index entry), and 90 days of hourly counters as a busy shop would leave them.
fn fill_console(path: &Path, n: u64, now: u64) -> Duration {
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
fn time_gets(addr: &str, path: &str, token: &str, count: usize) -> (Vec<f64>, String) {
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

fn latency_summary(mut times: Vec<f64>, status: &str) -> Value {
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

async fn part_console(args: &Args, dir: &Path) -> Value {
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
    let token = "bench-admin-token";
    let mut settings = agent_settings(&path, "dry-run", "http://127.0.0.1:9", 300);
    settings.server.admin_token = gorgias_agent::config::Secret::new(token);
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

// ---------------------------------------------------------------------------------------------
// Report

fn get_f(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_f64()
}

fn fmt_ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2}"))
}

fn print_table(report: &Value, args: &Args) {
    println!();
    println!(
        "gorgias-agent load bench — {} — {} cores — {} s per phase after {} s warm-up, intake in {} mode",
        report["date"].as_str().unwrap_or(""),
        report["machine"]["cores"],
        args.secs,
        args.warmup,
        args.intake_mode
    );
    println!();
    println!(
        "| {:<44} | {:>5} | {:>8} | {:>7} | {:>7} | {:>8} | {:>6} | {:>9} |",
        "closed loop", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "vs floor"
    );
    println!(
        "|{:-<46}|{:->7}|{:->10}|{:->9}|{:->9}|{:->10}|{:->8}|{:->11}|",
        "", "", "", "", "", "", "", ""
    );
    let rows: [(&str, &[&str]); 3] = [
        ("floor: parse JSON, answer 200", &["floor", "parse"]),
        (
            "floor: parse + sled insert + group flush",
            &["floor", "commit"],
        ),
        ("intake: POST /webhooks/gorgias", &["intake"]),
    ];
    for (label, path) in rows {
        for &c in &args.conns {
            let mut cur = &report[path[0]];
            for p in &path[1..] {
                cur = &cur[*p];
            }
            let r = &cur[c.to_string()];
            if r.is_null() {
                continue;
            }
            let ratio = if path[0] == "intake" {
                report["ratio_intake_to_commit_floor"][c.to_string()]
                    .as_f64()
                    .map_or("-".into(), |x| format!("{x:.2}"))
            } else {
                String::new()
            };
            println!(
                "| {:<44} | {:>5} | {:>8.0} | {:>7} | {:>7} | {:>8} | {:>6} | {:>9} |",
                label,
                c,
                r["rps"].as_f64().unwrap_or(0.0),
                fmt_ms(r["p50_ms"].as_f64()),
                fmt_ms(r["p99_ms"].as_f64()),
                fmt_ms(r["max_ms"].as_f64()),
                r["errors"],
                ratio
            );
        }
    }
    println!();
    let roles = [
        ("http workers", "http"),
        ("main arbiter (actors)", "actors"),
        ("store committer", "committer"),
        ("sled threads", "sled"),
        ("load generator", "client"),
    ];
    let mut header = format!(
        "| {:<44} | {:>5} |",
        "CPU µs per request, by thread", "conns"
    );
    for (_, short) in roles {
        header.push_str(&format!(" {short:>9} |"));
    }
    header.push_str(&format!(" {:>9} |", "cores"));
    let mut printed_header = false;
    for (label, path) in rows {
        for &c in &args.conns {
            let mut cur = &report[path[0]];
            for p in &path[1..] {
                cur = &cur[*p];
            }
            let r = &cur[c.to_string()];
            if r.is_null() {
                continue;
            }
            if !printed_header {
                println!("{header}");
                println!(
                    "|{:-<46}|{:->7}|{}{:->11}|",
                    "",
                    "",
                    "----------:|".repeat(roles.len()),
                    ""
                );
                printed_header = true;
            }
            let mut line = format!("| {label:<44} | {c:>5} |");
            for (role, _) in roles {
                let v = r["cpu_us_per_request"][role].as_f64().unwrap_or(0.0);
                line.push_str(&format!(" {v:>9.1} |"));
            }
            line.push_str(&format!(
                " {:>9.2} |",
                r["process_cpu_cores"].as_f64().unwrap_or(0.0)
            ));
            println!("{line}");
        }
    }
    if printed_header {
        println!();
    }
    let e = &report["e2e"];
    if !e.is_null() {
        println!(
            "end to end at {} msg/s for {} s (live, local fake Gorgias): 200 → reply p50 {} ms, p99 {} ms, max {} ms; webhook p50 {} ms, p99 {} ms; webhook sent → reply p50 {} ms, p99 {} ms; {} accepted, {} errors, {} replies missing",
            e["offered_rate"], e["secs"],
            fmt_ms(e["ack_to_reply_p50_ms"].as_f64()),
            fmt_ms(e["ack_to_reply_p99_ms"].as_f64()),
            fmt_ms(e["ack_to_reply_max_ms"].as_f64()),
            fmt_ms(e["webhook_p50_ms"].as_f64()),
            fmt_ms(e["webhook_p99_ms"].as_f64()),
            fmt_ms(e["send_to_reply_p50_ms"].as_f64()),
            fmt_ms(e["send_to_reply_p99_ms"].as_f64()),
            e["accepted"], e["errors"], e["replies_missing"]
        );
    }
    let m = &report["memory"];
    if !m.is_null() {
        let mib = |v: &Value| {
            v.as_f64()
                .map_or("-".into(), |b| format!("{:.1} MiB", b / 1_048_576.0))
        };
        println!(
            "memory, {} new tickets answered: idle actors stopped {} B/ticket (RSS {} → {}; second half {} B/ticket); actors kept live {} B/ticket (RSS {} → {}, {} live; second half {} B/ticket), so ≈ {} B per live actor alone",
            m["tickets"],
            m["bytes_per_idle_stopped_ticket"],
            mib(&m["idle"]["base_rss"]),
            mib(&m["idle"]["rss"]),
            m["marginal_bytes_per_idle_stopped_ticket"],
            m["bytes_per_live_ticket"],
            mib(&m["live"]["base_rss"]),
            mib(&m["live"]["rss"]),
            m["live"]["live_actors_at_end"],
            m["marginal_bytes_per_live_ticket"],
            m["bytes_per_live_actor_alone"],
        );
    }
    let r = &report["restart"];
    if !r.is_null() {
        println!(
            "restart with {} stored sessions: process spawn → /readyz 200 in {} ms (server::start {} ms; a separate Store::open right after writing took {} ms; startup work scan {} ms for {} tickets; a full scan of the sessions would take {} ms)",
            r["sessions"],
            r["process_spawn_to_ready_ms"],
            r["child"]["server_start_ms"],
            r["store_open_ms"],
            r["child"]["tickets_with_work_ms"],
            r["child"]["tickets_with_work"],
            r["child"]["full_session_scan_ms"],
        );
    }
    if let Some(targets) = report["targets"].as_array() {
        println!();
        println!("| target | measured | met |");
        println!("|---|---|---|");
        for t in targets {
            println!(
                "| {} | {} | {} |",
                t["target"].as_str().unwrap_or(""),
                t["measured"].as_str().unwrap_or(""),
                if t["met"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "NO"
                }
            );
        }
    }
    println!();
}

fn check_targets(report: &Value, args: &Args) -> Vec<Value> {
    let mut out = Vec::new();
    let mut add = |target: String, measured: String, met: bool| {
        out.push(json!({ "target": target, "measured": measured, "met": met }));
    };
    let low = args.conns.first().copied().unwrap_or(32).to_string();
    let high = args.conns.last().copied().unwrap_or(256).to_string();
    let intake_low = get_f(report, &["intake", &low, "rps"]);
    let floor_low = get_f(report, &["floor", "commit", &low, "rps"]);
    if let (Some(i), Some(f)) = (intake_low, floor_low) {
        add(
            format!("intake at {low} conns ≥ 0.8 × group-commit floor"),
            format!("{i:.0} vs {f:.0} req/s = {:.2}", i / f),
            i >= 0.8 * f,
        );
    }
    if let Some(p99) = get_f(report, &["intake", &low, "p99_ms"]) {
        add(
            format!("intake p99 at {low} conns ≤ 25 ms"),
            format!("{p99:.2} ms"),
            p99 <= 25.0,
        );
    }
    if let (Some(i), Some(h)) = (intake_low, get_f(report, &["intake", &high, "rps"])) {
        let errors = get_f(report, &["intake", &high, "errors"]).unwrap_or(0.0);
        add(
            format!("intake at {high} conns ≥ 0.8 × intake at {low}, no errors"),
            format!("{h:.0} vs {i:.0} req/s = {:.2}, {errors} errors", h / i),
            h >= 0.8 * i && errors == 0.0,
        );
    }
    if let (Some(p50), Some(p99)) = (
        get_f(report, &["e2e", "ack_to_reply_p50_ms"]),
        get_f(report, &["e2e", "ack_to_reply_p99_ms"]),
    ) {
        let missing = get_f(report, &["e2e", "replies_missing"]).unwrap_or(0.0);
        add(
            format!("end to end at {} msg/s: p50 ≤ 5 ms, p99 ≤ 25 ms", args.rate),
            format!("p50 {p50:.2} ms, p99 {p99:.2} ms, {missing} missing"),
            p50 <= 5.0 && p99 <= 25.0 && missing == 0.0,
        );
    }
    if let Some(b) = get_f(report, &["memory", "bytes_per_idle_stopped_ticket"]) {
        add(
            "≤ 2 KiB resident per idle-stopped ticket".into(),
            format!("{b:.0} B"),
            b <= 2048.0,
        );
    }
    if let Some(b) = get_f(report, &["memory", "bytes_per_live_ticket"]) {
        add(
            "≤ 20 KiB resident per live ticket actor".into(),
            format!("{b:.0} B (all per-ticket memory counted)"),
            b <= 20.0 * 1024.0,
        );
    }
    if let Some(p99) = get_f(report, &["console", "overview", "p99_ms"]) {
        add(
            format!(
                "console overview < 50 ms with {} stored sessions",
                args.sessions
            ),
            format!(
                "p50 {:.2} ms, p99 {p99:.2} ms",
                get_f(report, &["console", "overview", "p50_ms"]).unwrap_or(f64::NAN)
            ),
            p99 < 50.0,
        );
    }
    if let Some(ms) = get_f(report, &["restart", "process_spawn_to_ready_ms"]) {
        add(
            format!("ready ≤ 1 s with {} stored sessions", args.sessions),
            format!("{ms:.0} ms"),
            ms <= 1000.0,
        );
    }
    out
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
            "memory-idle" => in_system(|dir| async move { child_memory(args, true, &dir).await }),
            "memory-live" => in_system(|dir| async move { child_memory(args, false, &dir).await }),
            "restart" => actix_web::rt::System::new().block_on(child_restart(args, process_start)),
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
        report["floor"] = in_system(|dir| async move { part_floor(args, &dir).await });
    }
    if wants("intake") {
        eprintln!("intake ...");
        report["intake"] = in_system(|dir| async move { part_intake(args, &dir).await });
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
        report["e2e"] = in_system(|dir| async move { part_e2e(args, &dir).await });
    }
    if wants("memory") {
        eprintln!("memory ...");
        report["memory"] = part_memory(args);
    }
    if wants("restart") {
        eprintln!("restart ...");
        report["restart"] = part_restart(args);
    }
    if wants("console") {
        eprintln!("console ...");
        report["console"] = in_system(|dir| async move { part_console(args, &dir).await });
    }
    report["targets"] = Value::Array(check_targets(&report, args));
    report["bench_secs"] = json!(round(bench_start.elapsed().as_secs_f64(), 1));
    print_table(&report, args);
    println!("{report}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{report}\n")).expect("write the JSON report");
    }
}
