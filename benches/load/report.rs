//! The report: figures rounded and ranked, the table printed after a run, and the targets
//! checked against the measured figures.

use serde_json::{json, Value};

use crate::Args;

/// `sorted`-independent percentile (sorts a copy once per call site; fine for these sizes).
pub fn percentile(values: &[u32], q: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

pub fn get_f(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_f64()
}

/// The report's figures of one closed-loop phase (`path` into the report, then the connection
/// count), when that phase ran.
fn phase_at<'a>(report: &'a Value, path: &[&str], conns: usize) -> Option<&'a Value> {
    let phase = path.iter().fold(report, |cur, p| &cur[*p]);
    Some(&phase[conns.to_string()]).filter(|r| !r.is_null())
}

pub fn fmt_ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2}"))
}

pub fn print_table(report: &Value, args: &Args) {
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
            let Some(r) = phase_at(report, path, c) else {
                continue;
            };
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
            let Some(r) = phase_at(report, path, c) else {
                continue;
            };
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
    let h = &report["history"];
    if !h.is_null() {
        println!(
            "history, {} messages each at {} conns ({}): agent CPU per message on a {}-entry ticket {} µs ({} req/s) vs a new ticket {} µs ({} req/s) = {}",
            h["new_ticket"]["messages"],
            h["conns"],
            h["intake_mode"].as_str().unwrap_or(""),
            h["entries"],
            h["long_ticket"]["agent_cpu_us_per_message"],
            h["long_ticket"]["rps"],
            h["new_ticket"]["agent_cpu_us_per_message"],
            h["new_ticket"]["rps"],
            h["ratio_cpu_long_to_new"],
        );
    }
    let t = &report["retention"];
    if !t.is_null() {
        let (s, d) = (&t["sweep"], &t["disk"]);
        let mb = |v: &Value| {
            v.as_f64()
                .map_or("-".into(), |b| format!("{:.1} MB", b / 1_000_000.0))
        };
        println!(
            "retention: webhook at {} msg/s p50 {} ms, p99 {} ms with no pass; p50 {} ms, p99 {} ms while a pass deleted {} old sessions in {} s ({} requests in it); disk after {} tickets: {} with retention ({} sessions left) vs {} without ({} sessions)",
            s["offered_rate"],
            fmt_ms(s["without_sweep"]["p50_ms"].as_f64()),
            fmt_ms(s["without_sweep"]["p99_ms"].as_f64()),
            fmt_ms(s["during_sweep"]["p50_ms"].as_f64()),
            fmt_ms(s["during_sweep"]["p99_ms"].as_f64()),
            s["sweep_deleted"],
            s["sweep_secs"],
            s["during_sweep"]["requests"],
            d["retention_on"]["tickets"],
            mb(&d["retention_on"]["sled_bytes_on_disk"]),
            d["retention_on"]["sessions_stored"],
            mb(&d["retention_off"]["sled_bytes_on_disk"]),
            d["retention_off"]["sessions_stored"],
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

pub fn check_targets(report: &Value, args: &Args) -> Vec<Value> {
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
    if let Some(ratio) = get_f(report, &["history", "ratio_cpu_long_to_new"]) {
        let entries = get_f(report, &["history", "entries"]).unwrap_or(f64::NAN);
        add(
            format!("message on a {entries}-entry ticket ≤ 1.2 × one on a new ticket"),
            format!(
                "{:.1} vs {:.1} µs agent CPU = {ratio:.2}",
                get_f(
                    report,
                    &["history", "long_ticket", "agent_cpu_us_per_message"]
                )
                .unwrap_or(f64::NAN),
                get_f(
                    report,
                    &["history", "new_ticket", "agent_cpu_us_per_message"]
                )
                .unwrap_or(f64::NAN),
            ),
            ratio <= 1.2,
        );
    }
    out
}
