//! Durable state in sled, the only module that knows sled: one tree per concern, typed reads, and
//! one group-commit thread through which every write that must survive a crash goes.
//!
//! Trees (keys are big-endian so scans come out in order):
//! - `inbox`    ticket id ++ sequence → accepted `CustomerMessage` not yet taken into a session;
//! - `dedup`    SHA-256 key → expiry (unix seconds) of the deduplication window;
//! - `sessions` ticket id → `Session` (history, state, decisions, outbox);
//! - `pending`  ticket id → () while the session has unfinished work (recovered at startup);
//! - `handoffs` ticket id → unix time of handoff, read by intake to ignore handed-off tickets.
//!
//! Awaiting a flush per request collapses sled under concurrency, so `commit` hands the writes to
//! a committer thread that applies everything queued, flushes once, and answers the whole batch.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::domain::message::CustomerMessage;
use crate::domain::session::{Session, SessionChange};

/// How many commit jobs may wait for the committer before callers are told to back off.
const COMMIT_QUEUE: usize = 4096;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open storage at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("storage error: {0}")]
    Io(String),
    #[error("storage is overloaded: too many writes waiting")]
    Overloaded,
    #[error("storage is closed")]
    Closed,
    #[error("stored record {what} cannot be decoded: {reason}")]
    Corrupt { what: String, reason: String },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// Which tree a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeName {
    Inbox,
    Dedup,
    Sessions,
    Pending,
    Handoffs,
}

/// One write of a commit; build them with the typed constructors below.
#[derive(Debug, Clone)]
pub enum Write {
    Put(TreeName, Vec<u8>, Vec<u8>),
    Delete(TreeName, Vec<u8>),
}

/// An inbox entry's key: the ticket, then the order of acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct InboxKey {
    pub ticket_id: u64,
    pub seq: u64,
}

impl InboxKey {
    fn encode(self) -> Vec<u8> {
        let mut k = Vec::with_capacity(16);
        k.extend_from_slice(&self.ticket_id.to_be_bytes());
        k.extend_from_slice(&self.seq.to_be_bytes());
        k
    }
    fn decode(bytes: &[u8]) -> Option<InboxKey> {
        if bytes.len() != 16 {
            return None;
        }
        Some(InboxKey {
            ticket_id: u64::from_be_bytes(bytes[..8].try_into().ok()?),
            seq: u64::from_be_bytes(bytes[8..].try_into().ok()?),
        })
    }
}

impl Write {
    pub fn inbox_put(key: InboxKey, message: &CustomerMessage) -> Write {
        Write::Put(
            TreeName::Inbox,
            key.encode(),
            serde_json::to_vec(message).expect("a CustomerMessage always serializes"),
        )
    }
    pub fn inbox_delete(key: InboxKey) -> Write {
        Write::Delete(TreeName::Inbox, key.encode())
    }
    pub fn dedup_put(hash: &[u8; 32], expires_at: u64) -> Write {
        Write::Put(
            TreeName::Dedup,
            hash.to_vec(),
            expires_at.to_be_bytes().to_vec(),
        )
    }
    pub fn dedup_delete(hash: &[u8; 32]) -> Write {
        Write::Delete(TreeName::Dedup, hash.to_vec())
    }
    /// The session record and the index entries the domain derived from it.
    pub fn session_put(change: SessionChange<'_>) -> Vec<Write> {
        let key = change.session.ticket_id.to_be_bytes().to_vec();
        let mut writes = vec![Write::Put(
            TreeName::Sessions,
            key.clone(),
            serde_json::to_vec(change.session).expect("a Session always serializes"),
        )];
        writes.push(if change.pending {
            Write::Put(TreeName::Pending, key.clone(), Vec::new())
        } else {
            Write::Delete(TreeName::Pending, key.clone())
        });
        writes.push(match change.handed_off_at {
            Some(at) => Write::Put(TreeName::Handoffs, key, at.to_be_bytes().to_vec()),
            None => Write::Delete(TreeName::Handoffs, key),
        });
        writes
    }
}

struct CommitJob {
    writes: Vec<Write>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

struct Inner {
    db: sled::Db,
    inbox: sled::Tree,
    dedup: sled::Tree,
    sessions: sled::Tree,
    pending: sled::Tree,
    handoffs: sled::Tree,
    /// `None` only while dropping: closing it lets the committer finish.
    committer: Option<SyncSender<CommitJob>>,
    committer_thread: Option<std::thread::JoinHandle<()>>,
    /// Set when a commit failed: readiness reports it until a later commit succeeds.
    healthy: Arc<AtomicBool>,
    /// Commits waiting for or in the committer (a gauge for metrics and readiness).
    queued: Arc<AtomicU64>,
}

/// Handle to the store; cheap to clone and `Send`, shared by intake and every actor.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store at `path` and starts its committer thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, Durability::Flushed)
    }

    /// Opens a throwaway store (replay's, in a temporary directory): commits are applied but
    /// never flushed, since nothing in it must survive the process, and a flush per commit
    /// would dominate a replay of thousands of tickets.
    pub fn open_scratch(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, Durability::Scratch)
    }

    fn open_with(path: &Path, durability: Durability) -> Result<Store, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_err(e.to_string()))?;
        }
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024)
            // Durability comes from the committer's explicit flushes; without the periodic
            // flusher thread, dropping the last handle releases the file lock at once.
            .flush_every_ms(None)
            .open()
            .map_err(|e| open_err(e.to_string()))?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| open_err(e.to_string()));
        let (inbox, dedup, sessions, pending, handoffs) = (
            tree("inbox")?,
            tree("dedup")?,
            tree("sessions")?,
            tree("pending")?,
            tree("handoffs")?,
        );
        let (tx, rx) = mpsc::sync_channel(COMMIT_QUEUE);
        let healthy = Arc::new(AtomicBool::new(true));
        let queued = Arc::new(AtomicU64::new(0));
        let trees = CommitterTrees {
            db: db.clone(),
            inbox: inbox.clone(),
            dedup: dedup.clone(),
            sessions: sessions.clone(),
            pending: pending.clone(),
            handoffs: handoffs.clone(),
            healthy: healthy.clone(),
            queued: queued.clone(),
            durability,
        };
        let thread = std::thread::Builder::new()
            .name("store-committer".into())
            .spawn(move || trees.run(rx))
            .map_err(|e| open_err(e.to_string()))?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                inbox,
                dedup,
                sessions,
                pending,
                handoffs,
                committer: Some(tx),
                committer_thread: Some(thread),
                healthy,
                queued,
            }),
        })
    }

    /// Applies `writes` in order and returns once they are flushed to disk. Fails fast with
    /// `Overloaded` when the committer's queue is full, so intake can answer 503.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        let committer = self.inner.committer.as_ref().ok_or(StoreError::Closed)?;
        match committer.try_send(CommitJob { writes, done }) {
            Ok(()) => {
                self.inner.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => return Err(StoreError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
        }
        wait.await.unwrap_or(Err(StoreError::Closed))
    }

    /// A fresh, increasing sequence number (survives restarts).
    pub fn next_seq(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.generate_id()?)
    }

    /// Whether the last commit succeeded (storage writable).
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }

    /// Commits waiting in or being applied by the committer.
    pub fn queued_commits(&self) -> u64 {
        self.inner.queued.load(Ordering::Relaxed)
    }

    pub fn load_session(&self, ticket_id: u64) -> Result<Option<Session>, StoreError> {
        match self.inner.sessions.get(ticket_id.to_be_bytes())? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("session of ticket {ticket_id}"),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Whether the ticket's session is handed off (a small index read on the intake path).
    pub fn is_handed_off(&self, ticket_id: u64) -> Result<bool, StoreError> {
        Ok(self.inner.handoffs.contains_key(ticket_id.to_be_bytes())?)
    }

    /// The ticket's accepted messages not yet taken into its session, oldest first. Entries
    /// that do not decode are returned as errors with their key so the caller can drop them.
    pub fn inbox_for(
        &self,
        ticket_id: u64,
    ) -> Vec<(InboxKey, Result<CustomerMessage, StoreError>)> {
        self.inner
            .inbox
            .scan_prefix(ticket_id.to_be_bytes())
            .filter_map(|item| item.ok())
            .filter_map(|(k, v)| {
                let key = InboxKey::decode(&k)?;
                let msg = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    what: format!("inbox entry {}/{}", key.ticket_id, key.seq),
                    reason: e.to_string(),
                });
                Some((key, msg))
            })
            .collect()
    }

    pub fn has_inbox(&self, ticket_id: u64) -> bool {
        self.inner
            .inbox
            .scan_prefix(ticket_id.to_be_bytes())
            .next()
            .is_some()
    }

    /// Tickets with work left from before a restart: inbox entries or a pending session.
    pub fn tickets_with_work(&self) -> BTreeSet<u64> {
        let mut tickets = BTreeSet::new();
        for (k, _) in self.inner.inbox.iter().filter_map(|i| i.ok()) {
            if let Some(key) = InboxKey::decode(&k) {
                tickets.insert(key.ticket_id);
            }
        }
        for (k, _) in self.inner.pending.iter().filter_map(|i| i.ok()) {
            if let Ok(bytes) = <[u8; 8]>::try_from(k.as_ref()) {
                tickets.insert(u64::from_be_bytes(bytes));
            }
        }
        tickets
    }

    /// Every stored dedup entry: (key, expiry).
    pub fn dedup_entries(&self) -> Vec<([u8; 32], u64)> {
        self.inner
            .dedup
            .iter()
            .filter_map(|i| i.ok())
            .filter_map(|(k, v)| {
                let key = <[u8; 32]>::try_from(k.as_ref()).ok()?;
                let exp = u64::from_be_bytes(<[u8; 8]>::try_from(v.as_ref()).ok()?);
                Some((key, exp))
            })
            .collect()
    }

    /// Removes expired dedup entries; not flushed (an entry that comes back is expired anyway).
    pub fn dedup_remove(&self, keys: &[[u8; 32]]) {
        for k in keys {
            let _ = self.inner.dedup.remove(k);
        }
    }

    pub fn session_count(&self) -> usize {
        self.inner.sessions.len()
    }

    /// Recent sessions by ticket id, newest ticket ids first.
    pub fn sessions_desc(&self) -> impl Iterator<Item = Result<Session, StoreError>> + '_ {
        self.inner
            .sessions
            .iter()
            .rev()
            .filter_map(|i| i.ok())
            .map(|(k, v)| {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    what: format!("session key {k:?}"),
                    reason: e.to_string(),
                })
            })
    }

    /// Flushes everything written so far (used on shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }
}

impl Drop for Inner {
    /// The last handle gone: let the committer finish what is queued and release its `Db`
    /// clone, so the same path can be opened again as soon as this returns.
    fn drop(&mut self) {
        self.committer.take();
        if let Some(thread) = self.committer_thread.take() {
            let _ = thread.join();
        }
        let _ = self.db.flush();
    }
}

/// Whether a commit is flushed to disk before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    Flushed,
    Scratch,
}

struct CommitterTrees {
    db: sled::Db,
    inbox: sled::Tree,
    dedup: sled::Tree,
    sessions: sled::Tree,
    pending: sled::Tree,
    handoffs: sled::Tree,
    healthy: Arc<AtomicBool>,
    queued: Arc<AtomicU64>,
    durability: Durability,
}

impl CommitterTrees {
    fn tree(&self, name: TreeName) -> &sled::Tree {
        match name {
            TreeName::Inbox => &self.inbox,
            TreeName::Dedup => &self.dedup,
            TreeName::Sessions => &self.sessions,
            TreeName::Pending => &self.pending,
            TreeName::Handoffs => &self.handoffs,
        }
    }

    fn apply(&self, writes: &[Write]) -> Result<(), StoreError> {
        for w in writes {
            match w {
                Write::Put(t, k, v) => {
                    self.tree(*t).insert(k.as_slice(), v.as_slice())?;
                }
                Write::Delete(t, k) => {
                    self.tree(*t).remove(k.as_slice())?;
                }
            }
        }
        Ok(())
    }

    /// The group-commit loop: wait for one job, take all that queued behind it, apply them in
    /// order, flush once, answer each.
    fn run(self, rx: Receiver<CommitJob>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while let Ok(job) = rx.try_recv() {
                batch.push(job);
                if batch.len() >= 1024 {
                    break;
                }
            }
            let results: Vec<Result<(), StoreError>> =
                batch.iter().map(|job| self.apply(&job.writes)).collect();
            let flushed = match self.durability {
                Durability::Flushed => self.db.flush().map(|_| ()).map_err(StoreError::from),
                Durability::Scratch => Ok(()),
            };
            self.healthy.store(flushed.is_ok(), Ordering::Relaxed);
            self.queued.fetch_sub(batch.len() as u64, Ordering::Relaxed);
            for (job, result) in batch.into_iter().zip(results) {
                let outcome = match (&result, &flushed) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(()), Err(e)) => Err(e.clone()),
                    (Ok(()), Ok(())) => Ok(()),
                };
                let _ = job.done.send(outcome);
            }
        }
    }
}

/// Opens `path`, waiting (up to `deadline`) for a previous holder of the same store to let go of
/// its lock: a process that is still exiting, or actors that release their handles
/// asynchronously when they stop.
pub async fn open_when_free(
    path: &Path,
    deadline: std::time::Duration,
) -> Result<Store, StoreError> {
    let until = std::time::Instant::now() + deadline;
    loop {
        match Store::open(path) {
            Err(StoreError::Open { reason, .. })
                if reason.contains("lock") && std::time::Instant::now() < until =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(ticket_id: u64, message_id: u64) -> CustomerMessage {
        CustomerMessage::sample(ticket_id, message_id, "hi")
    }

    #[actix::test]
    async fn committed_writes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path).unwrap();
            let key = InboxKey {
                ticket_id: 7,
                seq: store.next_seq().unwrap(),
            };
            store
                .commit(vec![
                    Write::inbox_put(key, &message(7, 1)),
                    Write::dedup_put(&[1u8; 32], 99),
                ])
                .await
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let inbox = store.inbox_for(7);
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].1.as_ref().unwrap().message_id, 1);
        assert_eq!(store.dedup_entries(), vec![([1u8; 32], 99)]);
        assert_eq!(
            store.tickets_with_work().into_iter().collect::<Vec<_>>(),
            vec![7]
        );
    }

    #[actix::test]
    async fn concurrent_commits_are_grouped_and_all_answered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mut waits = Vec::new();
        for i in 0..200u64 {
            let store = store.clone();
            waits.push(async move {
                let key = InboxKey {
                    ticket_id: i % 10,
                    seq: i,
                };
                store
                    .commit(vec![Write::inbox_put(key, &message(i % 10, i))])
                    .await
            });
        }
        for r in futures_util::future::join_all(waits).await {
            r.unwrap();
        }
        let total: usize = (0..10).map(|t| store.inbox_for(t).len()).sum();
        assert_eq!(total, 200);
        assert_eq!(store.queued_commits(), 0);
        let seqs: Vec<u64> = store.inbox_for(3).iter().map(|(k, _)| k.seq).collect();
        let mut sorted = seqs.clone();
        sorted.sort();
        assert_eq!(seqs, sorted, "inbox scans come out in acceptance order");
    }

    #[actix::test]
    async fn undecodable_records_are_reported_not_panicked_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .commit(vec![
                Write::Put(
                    TreeName::Sessions,
                    5u64.to_be_bytes().to_vec(),
                    b"{nope".to_vec(),
                ),
                Write::Put(
                    TreeName::Inbox,
                    InboxKey {
                        ticket_id: 5,
                        seq: 1,
                    }
                    .encode(),
                    b"garbage".to_vec(),
                ),
            ])
            .await
            .unwrap();
        assert!(matches!(
            store.load_session(5),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(store.inbox_for(5)[0].1.is_err());
    }
}
