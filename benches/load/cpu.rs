//! What the process uses, read from `/proc`: CPU seconds by thread (with each thread's role in
//! the agent), resident memory, the size of a directory on disk, and today's date.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Resident memory of this process (VmRSS), in bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds (user + system) from a `/proc/.../stat` file (clock ticks of 1/100 s).
pub fn cpu_secs(stat_path: &str) -> f64 {
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

pub fn process_cpu_secs() -> f64 {
    cpu_secs("/proc/self/stat")
}

pub fn thread_cpu_secs() -> f64 {
    cpu_secs("/proc/thread-self/stat")
}

/// CPU seconds used so far by each live thread of this process (by thread id), with what the
/// thread does.
pub fn cpu_by_thread() -> HashMap<String, (&'static str, f64)> {
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
pub fn cpu_delta_by_role(
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

pub fn dir_size(path: &Path) -> u64 {
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
pub fn today() -> String {
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
