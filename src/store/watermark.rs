//! The watermark: what the committer last made durable (its commit sequence and the entries of
//! each tree), kept in a small file inside the store's directory and compared with the store when
//! it is opened, so that lost or damaged sled files are noticed instead of silently served from.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file's name inside the sled directory (removing the directory removes it too, so a store
/// deleted on purpose starts fresh).
pub const FILE: &str = "watermark.json";

/// Entries per tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub inbox: u64,
    pub dedup: u64,
    pub sessions: u64,
    pub pending: u64,
    pub handoffs: u64,
}

impl Counts {
    fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("inbox", self.inbox),
            ("dedup", self.dedup),
            ("sessions", self.sessions),
            ("pending", self.pending),
            ("handoffs", self.handoffs),
        ]
    }
}

/// A durable state of the store: after commit `seq`, the trees held `counts` entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub seq: u64,
    pub counts: Counts,
}

/// What is missing from `found` (the store as opened) compared with `expected` (its watermark),
/// in words; `None` when nothing committed is missing.
///
/// A store ahead of its watermark is fine: the file is written after the flush, so a crash in
/// between leaves it one step behind, and its counts then say nothing about the store's. Fewer
/// entries than the watermark at the same sequence is loss; more is not (dedup pruning is not
/// flushed, so pruned entries may come back after a crash).
pub fn missing(found: &Watermark, expected: &Watermark) -> Option<String> {
    if found.seq < expected.seq {
        return Some(format!(
            "its last commit is #{} but commits up to #{} had been made durable",
            found.seq, expected.seq
        ));
    }
    if found.seq > expected.seq {
        return None;
    }
    let short: Vec<String> = found
        .counts
        .named()
        .iter()
        .zip(expected.counts.named())
        .filter(|((_, f), (_, e))| f < e)
        .map(|((name, f), (_, e))| format!("{name}: {f} of {e} entries"))
        .collect();
    (!short.is_empty()).then(|| format!("entries are missing ({})", short.join(", ")))
}

/// The watermark stored in `dir`: `Ok(None)` when there is none yet, `Err` when it cannot be
/// read (then it proves nothing either way).
pub fn read(dir: &Path) -> Result<Option<Watermark>, String> {
    match std::fs::read(dir.join(FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is unreadable: {e}", FILE)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{} cannot be read: {e}", FILE)),
    }
}

/// Replaces the watermark in `dir` (written aside, then renamed over, so a reader sees the old
/// one or the new one). Not fsynced: a watermark lost or behind after a power cut only means
/// less is checked on the next open, never a false alarm.
pub fn write(dir: &Path, mark: &Watermark) -> std::io::Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    std::fs::write(
        &tmp,
        serde_json::to_vec(mark).expect("a watermark serializes"),
    )?;
    std::fs::rename(&tmp, dir.join(FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(seq: u64, sessions: u64, dedup: u64) -> Watermark {
        Watermark {
            seq,
            counts: Counts {
                sessions,
                dedup,
                ..Counts::default()
            },
        }
    }

    #[test]
    fn a_store_behind_its_watermark_has_lost_commits() {
        let detail = missing(&mark(7, 10, 10), &mark(9, 10, 10)).unwrap();
        assert!(detail.contains("#7") && detail.contains("#9"), "{detail}");
    }

    #[test]
    fn fewer_entries_at_the_same_commit_is_loss_more_is_not() {
        let detail = missing(&mark(9, 151, 40), &mark(9, 305, 40)).unwrap();
        assert_eq!(detail, "entries are missing (sessions: 151 of 305 entries)");
        assert_eq!(missing(&mark(9, 305, 41), &mark(9, 305, 40)), None);
        assert_eq!(missing(&mark(9, 305, 40), &mark(9, 305, 40)), None);
    }

    #[test]
    fn a_store_ahead_of_its_watermark_is_not_compared() {
        // A crash between the flush and the watermark's write.
        assert_eq!(missing(&mark(10, 1, 0), &mark(9, 305, 40)), None);
    }

    #[test]
    fn the_file_round_trips_and_garbage_is_an_error_not_a_verdict() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), Ok(None));
        write(dir.path(), &mark(3, 2, 1)).unwrap();
        assert_eq!(read(dir.path()), Ok(Some(mark(3, 2, 1))));
        std::fs::write(dir.path().join(FILE), b"").unwrap();
        assert!(read(dir.path()).is_err());
    }
}
