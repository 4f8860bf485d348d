//! The load generator: a raw HTTP/1.1 keep-alive client on threads of its own (current-thread
//! tokio runtimes), so it never shares the agent's arbiter. Webhook bodies come from the main
//! fixture as a template (message `n` on ticket `TICKET_BASE + n`); closed-loop load sends each
//! connection's next request once the previous one is answered, open-loop load sends request
//! `i` at `start + i / rate`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gorgias_agent_testkit::{MAIN_FIXTURE, TOKEN};
use serde_json::{json, Value};
// tokio's `net` and `io-util` features come with actix-web (the agent's own dependency).
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cpu::{cpu_by_thread, cpu_delta_by_role, process_cpu_secs, thread_cpu_secs};
use crate::report::{percentile, round};

/// Unique numbers for tickets and messages across every phase of one process.
pub static NEXT_ID: AtomicU64 = AtomicU64::new(1);
pub const TICKET_BASE: u64 = 10_000_000;
pub const MESSAGE_BASE: u64 = 600_000_000;

pub fn ticket_of(n: u64) -> u64 {
    TICKET_BASE + n
}

pub enum Piece {
    Lit(String),
    Ticket,
    Message,
    Text,
}

/// The main fixture as a request template: message `n` goes to ticket `TICKET_BASE + n`
/// with message id `MESSAGE_BASE + n` and its own text.
pub struct Webhooks {
    head: String,
    pieces: Vec<Piece>,
}

impl Webhooks {
    pub fn new(path: &str) -> Webhooks {
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

    pub fn body(&self, n: u64) -> Vec<u8> {
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

    pub fn request(&self, n: u64) -> Vec<u8> {
        let body = self.body(n);
        let mut req = Vec::with_capacity(self.head.len() + body.len() + 16);
        req.extend_from_slice(self.head.as_bytes());
        req.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(&body);
        req
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One request/response exchange on a keep-alive connection; returns the status.
pub async fn exchange(
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

pub async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[derive(Debug, Default, Clone)]
pub struct LoadResult {
    /// Latencies (µs) of the requests that completed inside the measured window.
    pub latencies_us: Vec<u32>,
    pub ok: u64,
    pub non_200: BTreeMap<u16, u64>,
    pub io_errors: u64,
    pub window_secs: f64,
    /// CPU used by the load generator's threads, as a share of one core.
    pub client_cpu: f64,
    /// CPU used by the whole process (agent + generator + fakes), in cores.
    pub process_cpu: f64,
    /// Requests sent in all (warm-up included).
    pub sent: u64,
    /// CPU µs per request sent, by thread role, over the whole run (warm-up included).
    pub cpu_us_per_request: BTreeMap<&'static str, f64>,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        (self.ok + self.non_200.values().sum::<u64>()) as f64 / self.window_secs.max(1e-9)
    }
    pub fn errors(&self) -> u64 {
        self.io_errors + self.non_200.values().sum::<u64>()
    }
    pub fn pct_ms(&self, q: f64) -> f64 {
        percentile(&self.latencies_us, q) as f64 / 1000.0
    }
    pub fn merge(&mut self, other: LoadResult) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        for (k, v) in other.non_200 {
            *self.non_200.entry(k).or_default() += v;
        }
        self.io_errors += other.io_errors;
        self.client_cpu += other.client_cpu;
        self.sent += other.sent;
    }
    pub fn json(&self) -> Value {
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

#[derive(Clone)]
pub struct ClosedLoop {
    pub addr: SocketAddr,
    pub path: &'static str,
    pub conns: usize,
    pub threads: usize,
    pub warmup: Duration,
    pub secs: Duration,
    /// Stop after this many requests in all (the memory part touches an exact count).
    pub max_requests: Option<u64>,
}

impl ClosedLoop {
    /// Exactly `n` webhooks on `conns` connections from one thread, measured from the first
    /// request to the last answer.
    pub fn counted(addr: SocketAddr, conns: usize, n: u64) -> ClosedLoop {
        ClosedLoop {
            addr,
            path: "/webhooks/gorgias",
            conns,
            threads: 1,
            warmup: Duration::ZERO,
            secs: Duration::from_secs(600),
            max_requests: Some(n),
        }
    }
}

/// Runs the load on its own threads; awaiting it does not block the caller's arbiter.
pub async fn closed_loop(cfg: ClosedLoop) -> LoadResult {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("load-generator".into())
        .spawn(move || {
            let _ = tx.send(closed_loop_blocking(cfg));
        })
        .expect("spawn the load generator");
    rx.await.expect("the load generator finishes")
}

pub fn closed_loop_blocking(cfg: ClosedLoop) -> LoadResult {
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

pub async fn connection_loop(
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

pub struct Sent {
    pub n: u64,
    pub scheduled: Instant,
    pub acked: Instant,
    pub status: u16,
}

impl Sent {
    /// From the scheduled send to the answer, in µs.
    pub fn ack_us(&self) -> u32 {
        self.acked
            .duration_since(self.scheduled)
            .as_micros()
            .min(u32::MAX as u128) as u32
    }
}

pub async fn open_loop(addr: SocketAddr, rate: f64, secs: f64, lanes: usize) -> (Vec<Sent>, u64) {
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
