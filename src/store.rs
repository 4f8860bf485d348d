//! Durable state in sled, the only module that knows sled: one tree per concern, typed reads, and
//! one group-commit thread through which every write that must survive a crash goes.
//!
//! Trees (keys are big-endian so scans come out in order):
//! - `inbox`    ticket id ++ sequence → accepted `CustomerMessage` not yet taken into a session;
//! - `dedup`    SHA-256 key → expiry (unix seconds) of the deduplication window;
//! - `sessions` ticket id → the session's head (state, outbox, failed actions, where its reply
//!   goes, how many history entries and decisions it has; see [`sessions`]);
//! - `history`  ticket id ++ index → one `HistoryEntry` of the conversation;
//! - `decisions` ticket id ++ sequence → one `DecisionRecord` (the oldest dropped past the cap);
//! - `pending`  ticket id → () while the session has unfinished work (recovered at startup);
//! - `handoffs` ticket id → unix time of handoff, read by intake to ignore handed-off tickets;
//! - `stats`    hour ++ counter name → i64, the console's counters (see `domain::stats`);
//! - `ticket_index` `S` ++ ticket id → `TicketSummary`, and the console list's filter indexes
//!   `R` ++ handoff reason ++ 0 ++ ticket id and `C` ++ channel ++ 0 ++ ticket id → ().
//!
//! - `meta`     the commit sequence and the counted trees' entry counts, stored with each commit and
//!   compared with the watermark on open (see [`watermark`]).
//!
//! Awaiting a flush per request collapses sled under concurrency, so `commit` hands the writes to
//! a committer thread that applies everything queued, flushes once, and answers the whole batch.
//!
//! Storage that fails is contained here: a commit waits a bounded time; a batch that cannot be
//! written or flushed fails as a whole and the database is reopened behind the same `Store`
//! handle (sled keeps an IO error for good once it has seen one), retried with backoff until it
//! takes writes again; a panic inside sled (damaged files) is caught and becomes
//! `StoreError::Damaged`; on open, the store is compared with its watermark and refused when
//! committed data is missing, unless the operator accepts the loss.

mod faults;
mod sessions;
pub mod watermark;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sled::IVec;
use tokio::sync::oneshot;

#[doc(hidden)]
pub use faults::StoreFaults;
use watermark::{Counts, Watermark};

use crate::domain::message::CustomerMessage;
use crate::domain::session::{DecisionRecord, HistoryEntry, Pieces, Session, SessionChange};
use crate::domain::stats::{TicketFilter, TicketSummary};

/// The most commit jobs applied under one flush.
const MAX_BATCH: usize = 1024;
/// After a failed write, the database is reopened and probed after this long, doubling up to
/// `PROBE_MAX` while it keeps failing: quick to recover, cheap while the disk stays full.
const PROBE_MIN: Duration = Duration::from_millis(250);
const PROBE_MAX: Duration = Duration::from_secs(2);
/// How long a reopen waits for the old database's file lock (readers still holding it).
const REOPEN_LOCK_WAIT: Duration = Duration::from_secs(2);
/// The watermark is rewritten at most this often (and on every explicit flush and at the end).
const WATERMARK_EVERY: Duration = Duration::from_millis(100);
/// Key of the commit sequence in the `meta` tree.
const SEQ_KEY: &[u8] = b"commit_seq";
/// Key of the counted trees' entry counts in `meta`, stored with each commit's sequence.
const COUNTS_KEY: &[u8] = b"tree_counts";
/// Opening walks a counted tree to count it (which also reads every record, so damage shows)
/// unless the count stored with the last commit says it holds more than this: a walk costs
/// about 2 µs an entry, and a million sessions must not keep the agent from being ready for
/// seconds. A store that lost part of so large a tree at its last commit's sequence then shows
/// it when the lost records are read, not at open (a store behind its sequence still does).
const WALK_LIMIT: u64 = 100_000;

/// How the store behaves under load and faults; `Default` is what [`Store::open`] uses.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a commit waits for the committer before it fails with `Timeout`.
    pub commit_timeout: Duration,
    /// Commit jobs that may wait for the committer before callers get `Overloaded`.
    pub commit_queue: usize,
    /// Open even when committed data is found missing (the operator's explicit decision).
    pub accept_data_loss: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            commit_timeout: Duration::from_secs(3),
            commit_queue: 4096,
            accept_data_loss: false,
        }
    }
}

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
    #[error("storage is damaged: {0}")]
    Damaged(String),
    #[error("storage did not confirm the write within {0} ms")]
    Timeout(u64),
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("storage at {path} has lost committed data: {detail}; refusing to start (restore it from a backup, or start once with `serve --accept-data-loss` to go on with what is left)")]
    DataLoss { path: String, detail: String },
    #[error("storage could not be flushed ({reason}); {queued} writes were still waiting for it, none of them acknowledged")]
    Unflushed { reason: String, queued: u64 },
}

impl StoreError {
    /// The record or the files are damaged: trying again will not help.
    pub fn is_damage(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::Damaged(_))
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// Which tree a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TreeName {
    Inbox,
    Dedup,
    Sessions,
    Pending,
    Handoffs,
    /// The console's trees (not counted by the watermark: they are derived, and the counters
    /// change in place).
    Stats,
    TicketIndex,
    /// A session's pieces, in pages (not counted by the watermark: they can be tens of
    /// millions, which opening must not walk; the head counted in `sessions` says how many
    /// each ticket has, and a read checks that they are all there).
    History,
    Decisions,
    /// The layout before pages, one key per item: read for heads of version 2, emptied as each
    /// such session is next written.
    HistoryItems,
    DecisionItems,
}

impl TreeName {
    const ALL: [TreeName; 5] = [
        TreeName::Inbox,
        TreeName::Dedup,
        TreeName::Sessions,
        TreeName::Pending,
        TreeName::Handoffs,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// One write of a commit; build them with the typed constructors below.
#[derive(Debug, Clone)]
pub enum Write {
    Put(TreeName, Vec<u8>, Vec<u8>),
    Delete(TreeName, Vec<u8>),
    /// Adds to a big-endian i64 counter (absent: 0). Applied by the one committer thread, so
    /// concurrent commits adding to the same key never lose an update. A counter's key is only
    /// ever written by `Add`: a batch sums its additions per key and writes each key once.
    Add(TreeName, Vec<u8>, i64),
    /// Removes every key with this prefix (as the committer finds them when it applies it).
    DeletePrefix(TreeName, Vec<u8>),
    /// Removes the ticket's pieces in this tree whose sequence is outside the range.
    Trim(TreeName, u64, Range<u64>),
}

fn index_key(tag: u8, name: &str, ticket_id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 10);
    k.push(tag);
    k.extend(name.bytes().filter(|b| *b != 0));
    k.push(0);
    k.extend_from_slice(&ticket_id.to_be_bytes());
    k
}

fn summary_key(ticket_id: u64) -> Vec<u8> {
    let mut k = vec![b'S'];
    k.extend_from_slice(&ticket_id.to_be_bytes());
    k
}

/// The filter-index keys a summary implies.
fn summary_index_keys(s: &TicketSummary) -> Vec<Vec<u8>> {
    let mut keys = vec![index_key(b'C', &s.channel, s.ticket_id)];
    if let Some(reason) = &s.handoff_reason {
        keys.push(index_key(b'R', reason, s.ticket_id));
    }
    keys
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
    /// Adds `by` to the console counter `counter` of `hour`.
    pub fn stat_add(hour: u32, counter: &str, by: i64) -> Write {
        let mut k = hour.to_be_bytes().to_vec();
        k.extend_from_slice(counter.as_bytes());
        Write::Add(TreeName::Stats, k, by)
    }
    /// A ticket's console summary, and its filter-index entries (replacing `old`'s; those it
    /// keeps are not written again).
    pub fn summary_put(summary: &TicketSummary, old: Option<&TicketSummary>) -> Vec<Write> {
        let new_keys = summary_index_keys(summary);
        let old_keys = old.map(summary_index_keys).unwrap_or_default();
        let mut writes: Vec<Write> = old_keys
            .iter()
            .filter(|k| !new_keys.contains(k))
            .map(|k| Write::Delete(TreeName::TicketIndex, k.clone()))
            .collect();
        writes.extend(
            new_keys
                .into_iter()
                .filter(|k| !old_keys.contains(k))
                .map(|k| Write::Put(TreeName::TicketIndex, k, Vec::new())),
        );
        writes.push(Write::Put(
            TreeName::TicketIndex,
            summary_key(summary.ticket_id),
            serde_json::to_vec(summary).expect("a TicketSummary always serializes"),
        ));
        writes
    }
    /// Removes a ticket's console summary and filter-index entries (erasure, retention).
    pub fn summary_delete(summary: &TicketSummary) -> Vec<Write> {
        let mut writes: Vec<Write> = summary_index_keys(summary)
            .into_iter()
            .map(|k| Write::Delete(TreeName::TicketIndex, k))
            .collect();
        writes.push(Write::Delete(
            TreeName::TicketIndex,
            summary_key(summary.ticket_id),
        ));
        writes
    }
    /// The pages holding the pieces the change names, the session's head, and the index
    /// entries the domain derived from it. A batch is not atomic for readers, so the order keeps
    /// every state they can see whole: the pages before the head that counts their items,
    /// deletions after the head that stopped counting them.
    pub fn session_put(change: SessionChange<'_>) -> Vec<Write> {
        use sessions::{page_of, PAGE};
        let session = change.session;
        let ticket_id = session.ticket_id;
        let key = ticket_id.to_be_bytes().to_vec();
        let piece = |tree: TreeName, page: u64, value: Vec<u8>| {
            Write::Put(tree, sessions::piece_key(ticket_id, page), value)
        };
        let history_page = |page: u64| {
            piece(
                TreeName::History,
                page,
                sessions::encode_page(page, 0, &session.history),
            )
        };
        let dropped = session.stored.decisions_dropped;
        let decision_page = |page: u64| {
            piece(
                TreeName::Decisions,
                page,
                sessions::encode_page(page, dropped, &session.decisions),
            )
        };
        // The starts of the pages holding `seqs`.
        let pages = |seqs: Range<u64>| (page_of(seqs.start)..seqs.end).step_by(PAGE as usize);
        let delete =
            |tree: TreeName, page: u64| Write::Delete(tree, sessions::piece_key(ticket_id, page));
        let head = Write::Put(
            TreeName::Sessions,
            key.clone(),
            sessions::encode_head(session),
        );
        let history_len = session.history.len() as u64;
        let decisions = dropped..dropped + session.decisions.len() as u64;
        let mut writes = Vec::new();
        match change.pieces {
            Pieces::All => {
                writes.extend(pages(0..history_len).map(history_page));
                writes.extend(pages(decisions.clone()).map(decision_page));
                writes.push(head);
                writes.push(Write::Trim(TreeName::History, ticket_id, 0..history_len));
                writes.push(Write::Trim(
                    TreeName::Decisions,
                    ticket_id,
                    page_of(decisions.start)..decisions.end,
                ));
                if session.stored.layout_before {
                    writes.push(Write::DeletePrefix(TreeName::HistoryItems, key.clone()));
                    writes.push(Write::DeletePrefix(TreeName::DecisionItems, key.clone()));
                }
            }
            Pieces::Since {
                history: written,
                history_gone,
                decisions: decided,
                decisions_dropped,
            } => {
                // The page the history now ends in, when it loses entries past that end: a
                // removal, so after the head (a reader of the old head finds them still there).
                let shortened = (!history_gone.is_empty() && !history_len.is_multiple_of(PAGE))
                    .then(|| page_of(history_len));
                let history_pages: BTreeSet<u64> = written
                    .iter()
                    .map(|&i| page_of(i as u64))
                    .filter(|&page| Some(page) != shortened)
                    .collect();
                let decision_pages: BTreeSet<u64> =
                    decided.iter().map(|&seq| page_of(seq)).collect();
                writes.extend(history_pages.into_iter().map(history_page));
                writes.extend(decision_pages.into_iter().map(decision_page));
                writes.push(head);
                writes.extend(shortened.map(history_page));
                let gone_end = history_gone.end as u64;
                writes.extend(
                    (history_len.div_ceil(PAGE) * PAGE..gone_end)
                        .step_by(PAGE as usize)
                        .map(|page| delete(TreeName::History, page)),
                );
                // Pages whose every decision has dropped off the front.
                writes.extend(
                    (page_of(decisions_dropped.start)..page_of(decisions_dropped.end))
                        .step_by(PAGE as usize)
                        .map(|page| delete(TreeName::Decisions, page)),
                );
            }
        }
        if !change.pending_unchanged {
            writes.push(if change.pending {
                Write::Put(TreeName::Pending, key.clone(), Vec::new())
            } else {
                Write::Delete(TreeName::Pending, key.clone())
            });
        }
        if !change.handoff_unchanged {
            writes.push(match change.handed_off_at {
                Some(at) => Write::Put(TreeName::Handoffs, key, at.to_be_bytes().to_vec()),
                None => Write::Delete(TreeName::Handoffs, key),
            });
        }
        writes
    }
}

struct CommitJob {
    writes: Vec<Write>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// What a store's health is, as readiness reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    /// Writes go through.
    Ready,
    /// The last write failed (why); the store retries by itself.
    Failing(String),
    /// The committer has been on one batch for this long, longer than a commit may wait (a
    /// flush that does not return: a disk that stopped answering).
    Stuck(Duration),
    /// The commit queue is full (this many commits waiting).
    QueueFull(u64),
}

/// One open sled database and its trees; replaced as a whole when the store is reopened.
struct Trees {
    db: sled::Db,
    inbox: sled::Tree,
    dedup: sled::Tree,
    sessions: sled::Tree,
    pending: sled::Tree,
    handoffs: sled::Tree,
    stats: sled::Tree,
    ticket_index: sled::Tree,
    history: sled::Tree,
    decisions: sled::Tree,
    history_items: sled::Tree,
    decision_items: sled::Tree,
    meta: sled::Tree,
    /// Entries per tree (by `TreeName::index`), kept exact from what each write replaced.
    counts: [AtomicU64; 5],
    /// The commit sequence last made durable.
    seq: AtomicU64,
}

impl Trees {
    fn tree(&self, name: TreeName) -> &sled::Tree {
        match name {
            TreeName::Inbox => &self.inbox,
            TreeName::Dedup => &self.dedup,
            TreeName::Sessions => &self.sessions,
            TreeName::Pending => &self.pending,
            TreeName::Handoffs => &self.handoffs,
            TreeName::Stats => &self.stats,
            TreeName::TicketIndex => &self.ticket_index,
            TreeName::History => &self.history,
            TreeName::Decisions => &self.decisions,
            TreeName::HistoryItems => &self.history_items,
            TreeName::DecisionItems => &self.decision_items,
        }
    }

    fn count(&self, name: TreeName) -> u64 {
        self.counts[name.index()].load(Ordering::Relaxed)
    }

    fn added(&self, name: TreeName) {
        if let Some(count) = self.counts.get(name.index()) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn removed(&self, name: TreeName) {
        let Some(count) = self.counts.get(name.index()) else {
            return;
        };
        let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            Some(n.saturating_sub(1))
        });
    }

    /// The session a `sessions` record stands for, completed with its pieces.
    fn session(&self, ticket_id: u64, record: &[u8]) -> Result<Session, StoreError> {
        let (mut session, ranges) = match sessions::decode_record(ticket_id, record)? {
            (whole, None) => return Ok(whole),
            (head, Some(ranges)) => (head, ranges),
        };
        let item_keys = ranges.item_keys;
        let (history, decisions) = if item_keys {
            (&self.history_items, &self.decision_items)
        } else {
            (&self.history, &self.decisions)
        };
        let range = |tree: &sled::Tree, seqs: &std::ops::Range<u64>| {
            guard(tree.range(sessions::piece_keys(ticket_id, seqs, item_keys)))
        };
        session.history = sessions::decode_pieces::<HistoryEntry>(
            ticket_id,
            "history",
            &ranges.history,
            item_keys,
            range(history, &ranges.history),
        )?;
        session.decisions = sessions::decode_pieces::<DecisionRecord>(
            ticket_id,
            "decisions",
            &ranges.decisions,
            item_keys,
            range(decisions, &ranges.decisions),
        )?
        .into();
        Ok(session)
    }

    fn watermark(&self) -> Watermark {
        Watermark {
            seq: self.seq.load(Ordering::Relaxed),
            counts: Counts {
                inbox: self.count(TreeName::Inbox),
                dedup: self.count(TreeName::Dedup),
                sessions: self.count(TreeName::Sessions),
                pending: self.count(TreeName::Pending),
                handoffs: self.count(TreeName::Handoffs),
            },
        }
    }
}

/// What the handles and the committer share.
struct Shared {
    path: PathBuf,
    options: StoreOptions,
    /// Commits are flushed before they are answered (all but a scratch store).
    durable: bool,
    /// `None` after a failed write until the committer has reopened the database.
    trees: RwLock<Option<Arc<Trees>>>,
    /// Why storage does not take writes; `None` while it does.
    failure: Mutex<Option<String>>,
    /// Commits waiting for or in the committer (a gauge for metrics and readiness).
    queued: AtomicU64,
    /// When the committer started its current batch (ms since `epoch`, plus one); 0 while idle.
    busy_since: AtomicU64,
    epoch: Instant,
    faults: StoreFaults,
    /// Damage found by scans, logged once each (the supervisor's sweep scans every few seconds).
    reported: Mutex<BTreeSet<String>>,
}

impl Shared {
    fn trees(&self) -> Option<Arc<Trees>> {
        self.trees
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_trees(&self, trees: Option<Arc<Trees>>) {
        *self.trees.write().unwrap_or_else(PoisonError::into_inner) = trees;
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets the failure; returns the previous one.
    fn set_failure(&self, failure: Option<String>) -> Option<String> {
        std::mem::replace(
            &mut *self.failure.lock().unwrap_or_else(PoisonError::into_inner),
            failure,
        )
    }

    fn busy_for(&self) -> Option<Duration> {
        let since = self.busy_since.load(Ordering::Relaxed);
        (since > 0).then(|| {
            let now = self.epoch.elapsed().as_millis() as u64 + 1;
            Duration::from_millis(now.saturating_sub(since))
        })
    }

    /// Logs damage found while reading `what`, once per `what`.
    fn report(&self, what: &str, ticket_id: Option<u64>, error: &StoreError) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(what.to_string());
        if first {
            tracing::error!(ticket_id, error = %error, "storage: reading {what} failed; what could not be read is skipped");
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    /// `None` only while dropping: closing it lets the committer finish.
    committer: Option<SyncSender<CommitJob>>,
    /// Disconnected once the committer thread has finished (in a mutex only to be `Sync`).
    exited: Mutex<Option<Receiver<()>>>,
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

/// Runs `f`, turning a panic inside sled (damaged files: `cannot find pid ... in view_for_key`)
/// into `StoreError::Damaged`, so that it never reaches an actor.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        StoreError::Damaged(format!("sled panicked: {text}"))
    })
}

/// A sled scan whose every step is guarded; it ends after the first error.
struct Guarded<I> {
    iter: Option<I>,
}

impl<I: Iterator<Item = sled::Result<(IVec, IVec)>>> Iterator for Guarded<I> {
    type Item = Result<(IVec, IVec), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let iter = self.iter.as_mut()?;
        let item = match guarded(|| iter.next()) {
            Ok(None) => None,
            Ok(Some(Ok(kv))) => return Some(Ok(kv)),
            Ok(Some(Err(e))) => Some(Err(e.into())),
            Err(damaged) => Some(Err(damaged)),
        };
        self.iter = None;
        item
    }
}

fn guard<I: Iterator<Item = sled::Result<(IVec, IVec)>>>(iter: I) -> Guarded<I> {
    Guarded { iter: Some(iter) }
}

/// Reads a whole scan: what could be read, and why it stopped early.
fn drain<I: Iterator<Item = sled::Result<(IVec, IVec)>>>(
    iter: I,
) -> (Vec<(IVec, IVec)>, Option<StoreError>) {
    let mut items = Vec::new();
    for item in guard(iter) {
        match item {
            Ok(kv) => items.push(kv),
            Err(e) => return (items, Some(e)),
        }
    }
    (items, None)
}

fn encode_counts(trees: &Trees) -> Vec<u8> {
    trees
        .counts
        .iter()
        .flat_map(|c| c.load(Ordering::Relaxed).to_be_bytes())
        .collect()
}

fn decode_counts(bytes: &[u8]) -> Option<[u64; 5]> {
    let mut counts = [0u64; 5];
    if bytes.len() != counts.len() * 8 {
        return None;
    }
    for (count, chunk) in counts.iter_mut().zip(bytes.chunks_exact(8)) {
        *count = u64::from_be_bytes(chunk.try_into().ok()?);
    }
    Some(counts)
}

/// Opens the database at `path`, counts its trees (see [`WALK_LIMIT`]) and compares it with
/// its watermark.
fn open_trees(path: &Path, options: &StoreOptions) -> Result<Trees, StoreError> {
    let open_err = |reason: String| StoreError::Open {
        path: path.display().to_string(),
        reason,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| open_err(e.to_string()))?;
    }
    let opened = guarded(|| -> Result<_, sled::Error> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024)
            // Durability comes from the committer's explicit flushes; without the periodic
            // flusher thread, dropping the last handle releases the file lock at once.
            .flush_every_ms(None)
            .open()?;
        let trees = [
            db.open_tree("inbox")?,
            db.open_tree("dedup")?,
            db.open_tree("sessions")?,
            db.open_tree("pending")?,
            db.open_tree("handoffs")?,
            db.open_tree("meta")?,
            db.open_tree("stats")?,
            db.open_tree("ticket_index")?,
            db.open_tree("history_pages")?,
            db.open_tree("decision_pages")?,
            db.open_tree("history")?,
            db.open_tree("decisions")?,
        ];
        Ok((db, trees))
    });
    let (
        db,
        [inbox, dedup, sessions, pending, handoffs, meta, stats, ticket_index, history, decisions, history_items, decision_items],
    ) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return Err(open_err(e.to_string())),
        Err(damaged) => {
            return Err(open_err(format!(
                "{damaged}; the files are damaged: restore them from a backup or move them aside"
            )))
        }
    };
    let mut trees = Trees {
        db,
        inbox,
        dedup,
        sessions,
        pending,
        handoffs,
        stats,
        ticket_index,
        history,
        decisions,
        history_items,
        decision_items,
        meta,
        counts: Default::default(),
        seq: AtomicU64::new(0),
    };
    let mut damage = Vec::new();
    match guarded(|| trees.meta.get(SEQ_KEY)) {
        Ok(Ok(Some(v))) => {
            let seq = <[u8; 8]>::try_from(v.as_ref()).map(u64::from_be_bytes);
            match seq {
                Ok(seq) => trees.seq = AtomicU64::new(seq),
                Err(_) => damage.push("the commit sequence is unreadable".to_string()),
            }
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => return Err(open_err(e.to_string())),
        Err(e) => damage.push(format!("meta: {e}")),
    }
    let stored_counts = match guarded(|| trees.meta.get(COUNTS_KEY)) {
        Ok(Ok(Some(v))) => decode_counts(&v),
        _ => None,
    };
    for name in TreeName::ALL {
        let stored = stored_counts.map(|c| c[name.index()]);
        if let Some(count) = stored.filter(|&c| c > WALK_LIMIT) {
            trees.counts[name.index()] = AtomicU64::new(count);
            continue;
        }
        let mut n = 0u64;
        for item in guard(trees.tree(name).iter()) {
            match item {
                Ok(_) => n += 1,
                Err(e) => {
                    damage.push(format!("{name:?} after {n} entries: {e}").to_lowercase());
                    break;
                }
            }
        }
        trees.counts[name.index()] = AtomicU64::new(n);
    }
    let found = trees.watermark();
    match watermark::read(path) {
        Ok(Some(expected)) => damage.extend(watermark::missing(&found, &expected)),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "storage: the watermark proves nothing; it is written anew")
        }
    }
    if !damage.is_empty() {
        let detail = damage.join("; ");
        if !options.accept_data_loss {
            return Err(StoreError::DataLoss {
                path: path.display().to_string(),
                detail,
            });
        }
        tracing::warn!(path = %path.display(), detail, "storage has lost committed data; going on with what is left, as --accept-data-loss asks");
    }
    // From here on the store as it is now is the reference (after an accepted loss too).
    if let Err(e) = watermark::write(path, &found) {
        tracing::warn!(path = %path.display(), error = %e, "storage: cannot write the watermark");
    }
    Ok(trees)
}

impl Store {
    /// Opens (or creates) the store at `path` with the default options.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens a throwaway store (replay's, in a temporary directory): commits are applied but
    /// not flushed, since nothing in it must survive the process, and a flush per commit would
    /// dominate a replay of thousands of tickets.
    pub fn open_scratch(path: &Path) -> Result<Store, StoreError> {
        Store::open_durable(path, StoreOptions::default(), false)
    }

    /// Opens (or creates) the store at `path` and starts its committer thread. Refuses a store
    /// that has lost committed data unless `options.accept_data_loss`.
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        Store::open_durable(path, options, true)
    }

    fn open_durable(
        path: &Path,
        options: StoreOptions,
        durable: bool,
    ) -> Result<Store, StoreError> {
        let trees = open_trees(path, &options)?;
        let (tx, rx) = mpsc::sync_channel(options.commit_queue.max(1));
        let (exit_tx, exit_rx) = mpsc::channel::<()>();
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            options,
            durable,
            trees: RwLock::new(Some(Arc::new(trees))),
            failure: Mutex::new(None),
            queued: AtomicU64::new(0),
            busy_since: AtomicU64::new(0),
            epoch: Instant::now(),
            faults: StoreFaults::default(),
            reported: Mutex::new(BTreeSet::new()),
        });
        let committer = Committer {
            shared: shared.clone(),
            _exited: exit_tx,
            probe: PROBE_MIN,
            next_reopen: Instant::now(),
            watermark_at: Instant::now(),
        };
        std::thread::Builder::new()
            .name("store-committer".into())
            .spawn(move || committer.run(rx))
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                committer: Some(tx),
                exited: Mutex::new(Some(exit_rx)),
            }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        self.shared().trees().ok_or_else(|| {
            StoreError::Unavailable(
                self.shared()
                    .failure()
                    .unwrap_or_else(|| "it is being reopened".into()),
            )
        })
    }

    /// The fault seam, for tests (see [`StoreFaults`]).
    #[doc(hidden)]
    pub fn faults(&self) -> &StoreFaults {
        &self.shared().faults
    }

    /// The sequence number of the last group commit applied (0: none since the store was
    /// created), for tests that count commits.
    #[doc(hidden)]
    pub fn commit_seq(&self) -> u64 {
        self.shared()
            .trees()
            .map_or(0, |trees| trees.seq.load(Ordering::Relaxed))
    }

    /// Applies `writes` in order and returns once they are flushed to disk. Fails fast with
    /// `Overloaded` when the committer's queue is full, and with `Timeout` when the committer
    /// does not answer within `commit_timeout`, so intake can answer 503 (the writes may still
    /// land later: a redelivery is then recognised by its message id).
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.submit(writes).await
    }

    async fn submit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        let committer = self.inner.committer.as_ref().ok_or(StoreError::Closed)?;
        let queued = &self.shared().queued;
        // Counted before it is sent, so the committer never takes it off first.
        queued.fetch_add(1, Ordering::Relaxed);
        match committer.try_send(CommitJob { writes, done }) {
            Ok(()) => {}
            Err(e) => {
                queued.fetch_sub(1, Ordering::Relaxed);
                return Err(match e {
                    TrySendError::Full(_) => StoreError::Overloaded,
                    TrySendError::Disconnected(_) => StoreError::Closed,
                });
            }
        }
        let timeout = self.shared().options.commit_timeout;
        match tokio::time::timeout(timeout, wait).await {
            Ok(answer) => answer.unwrap_or(Err(StoreError::Closed)),
            Err(_) => Err(StoreError::Timeout(timeout.as_millis() as u64)),
        }
    }

    /// A fresh, increasing sequence number (survives restarts).
    pub fn next_seq(&self) -> Result<u64, StoreError> {
        let trees = self.trees()?;
        Ok(guarded(|| trees.db.generate_id())??)
    }

    /// Whether writes go through, and if not, why.
    pub fn health(&self) -> StoreHealth {
        let shared = self.shared();
        if let Some(busy) = shared
            .busy_for()
            .filter(|busy| *busy >= shared.options.commit_timeout)
        {
            return StoreHealth::Stuck(busy);
        }
        if let Some(reason) = shared.failure() {
            return StoreHealth::Failing(reason);
        }
        let queued = shared.queued.load(Ordering::Relaxed);
        if queued >= shared.options.commit_queue as u64 {
            return StoreHealth::QueueFull(queued);
        }
        StoreHealth::Ready
    }

    /// Whether storage takes writes (see [`Store::health`] for why not).
    pub fn is_healthy(&self) -> bool {
        self.health() == StoreHealth::Ready
    }

    /// Commits waiting in or being applied by the committer.
    pub fn queued_commits(&self) -> u64 {
        self.shared().queued.load(Ordering::Relaxed)
    }

    pub fn load_session(&self, ticket_id: u64) -> Result<Option<Session>, StoreError> {
        let trees = self.trees()?;
        let read = || {
            self.faults().before_session_read(ticket_id);
            trees.sessions.get(ticket_id.to_be_bytes())
        };
        match guarded(read)?? {
            None => Ok(None),
            Some(bytes) => trees.session(ticket_id, &bytes).map(Some),
        }
    }

    /// Whether the ticket's session is handed off (a small index read on the intake path).
    pub fn is_handed_off(&self, ticket_id: u64) -> Result<bool, StoreError> {
        let trees = self.trees()?;
        Ok(guarded(|| {
            trees.handoffs.contains_key(ticket_id.to_be_bytes())
        })??)
    }

    /// The ticket's accepted messages not yet taken into its session, oldest first. Entries
    /// that do not decode are returned as errors with their key so the caller can drop them;
    /// entries that cannot be read at all stay stored (reported once).
    pub fn inbox_for(
        &self,
        ticket_id: u64,
    ) -> Vec<(InboxKey, Result<CustomerMessage, StoreError>)> {
        let Ok(trees) = self.trees() else {
            return Vec::new();
        };
        let (items, damage) = drain(trees.inbox.scan_prefix(ticket_id.to_be_bytes()));
        if let Some(e) = damage {
            self.shared()
                .report(&format!("inbox of ticket {ticket_id}"), Some(ticket_id), &e);
        }
        items
            .into_iter()
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
        let Ok(trees) = self.trees() else {
            return false;
        };
        guard(trees.inbox.scan_prefix(ticket_id.to_be_bytes()))
            .next()
            .is_some_and(|item| item.is_ok())
    }

    /// Tickets with work left from before a restart: inbox entries or a pending session. What
    /// cannot be read is reported (once) and left out, so startup recovery never crashes.
    pub fn tickets_with_work(&self) -> BTreeSet<u64> {
        let mut tickets = BTreeSet::new();
        let Ok(trees) = self.trees() else {
            return tickets;
        };
        let (inbox, damage) = drain(trees.inbox.iter());
        if let Some(e) = damage {
            self.shared().report("the inbox", None, &e);
        }
        for (k, _) in inbox {
            if let Some(key) = InboxKey::decode(&k) {
                tickets.insert(key.ticket_id);
            }
        }
        let (pending, damage) = drain(trees.pending.iter());
        if let Some(e) = damage {
            self.shared().report("the pending index", None, &e);
        }
        for (k, _) in pending {
            if let Ok(bytes) = <[u8; 8]>::try_from(k.as_ref()) {
                tickets.insert(u64::from_be_bytes(bytes));
            }
        }
        tickets
    }

    /// Every stored dedup entry: (key, expiry).
    pub fn dedup_entries(&self) -> Vec<([u8; 32], u64)> {
        let Ok(trees) = self.trees() else {
            return Vec::new();
        };
        let (items, damage) = drain(trees.dedup.iter());
        if let Some(e) = damage {
            self.shared().report("the dedup entries", None, &e);
        }
        items
            .into_iter()
            .filter_map(|(k, v)| {
                let key = <[u8; 32]>::try_from(k.as_ref()).ok()?;
                let exp = u64::from_be_bytes(<[u8; 8]>::try_from(v.as_ref()).ok()?);
                Some((key, exp))
            })
            .collect()
    }

    /// Removes expired dedup entries; not flushed (an entry that comes back is expired anyway).
    pub fn dedup_remove(&self, keys: &[[u8; 32]]) {
        let Ok(trees) = self.trees() else {
            return;
        };
        for k in keys {
            if let Ok(Ok(Some(_))) = guarded(|| trees.dedup.remove(k)) {
                trees.removed(TreeName::Dedup);
            }
        }
    }

    pub fn session_count(&self) -> usize {
        self.trees()
            .map(|t| t.count(TreeName::Sessions) as usize)
            .unwrap_or(0)
    }

    /// The console counters of hours `from..=to`: (hour, counter, value).
    pub fn stat_rows(&self, from: u32, to: u32) -> Vec<(u32, String, i64)> {
        let Ok(trees) = self.trees() else {
            return Vec::new();
        };
        let end = to.saturating_add(1).to_be_bytes();
        guard(trees.stats.range(from.to_be_bytes()..end))
            .filter_map(|i| i.ok())
            .filter_map(|(k, v)| {
                let hour = u32::from_be_bytes(k.get(..4)?.try_into().ok()?);
                let value = i64::from_be_bytes(v.as_ref().try_into().ok()?);
                Some((hour, String::from_utf8_lossy(&k[4..]).into_owned(), value))
            })
            .collect()
    }

    /// A ticket's console summary, when it has one.
    pub fn ticket_summary(&self, ticket_id: u64) -> Result<Option<TicketSummary>, StoreError> {
        let trees = self.trees()?;
        match guarded(|| trees.ticket_index.get(summary_key(ticket_id)))?? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("console summary of ticket {ticket_id}"),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// One page of ticket summaries matching `filter`, newest ticket first: skips `skip`
    /// matches, returns up to `limit` and whether more follow. It walks the smallest index the
    /// filter allows (a reason's, a channel's, the handed-off tickets', else all summaries)
    /// backwards by key, so a page costs about `skip + limit` index keys, never a session read.
    pub fn ticket_page(
        &self,
        filter: &TicketFilter,
        skip: usize,
        limit: usize,
    ) -> (Vec<TicketSummary>, bool) {
        let Ok(trees) = self.trees() else {
            return (Vec::new(), false);
        };
        let tail = |k: &[u8]| -> Option<u64> {
            Some(u64::from_be_bytes(
                k.get(k.len().checked_sub(8)?..)?.try_into().ok()?,
            ))
        };
        let prefix = |tag: u8, name: &str| {
            let mut p = vec![tag];
            p.extend(name.bytes().filter(|b| *b != 0));
            p.push(0);
            p
        };
        let scan = if let Some(reason) = &filter.reason {
            trees.ticket_index.scan_prefix(prefix(b'R', reason))
        } else if let Some(channel) = &filter.channel {
            trees.ticket_index.scan_prefix(prefix(b'C', channel))
        } else if filter.state == Some(crate::domain::session::SessionState::HandedOff) {
            trees.handoffs.iter()
        } else {
            trees.ticket_index.scan_prefix([b'S'])
        };
        let ids = guard(scan.rev())
            .filter_map(|i| i.ok())
            .filter_map(|(k, _)| tail(&k));
        let mut page = Vec::with_capacity(limit);
        let mut skipped = 0;
        for id in ids {
            let Ok(Some(summary)) = self.ticket_summary(id) else {
                continue;
            };
            if !filter.matches(&summary) {
                continue;
            }
            if skipped < skip {
                skipped += 1;
                continue;
            }
            if page.len() == limit {
                return (page, true);
            }
            page.push(summary);
        }
        (page, false)
    }

    /// Recent sessions by ticket id, newest ticket ids first.
    pub fn sessions_desc(&self) -> impl Iterator<Item = Result<Session, StoreError>> + '_ {
        let (scan, unavailable) = match self.trees() {
            Ok(trees) => (Some((guard(trees.sessions.iter().rev()), trees)), None),
            Err(e) => (None, Some(Err(e))),
        };
        unavailable.into_iter().chain(
            scan.into_iter()
                .flat_map(|(scan, trees)| scan.map(move |item| (item, trees.clone())))
                .map(|(item, trees)| {
                    let (k, v) = item?;
                    let Ok(bytes) = <[u8; 8]>::try_from(k.as_ref()) else {
                        return Err(StoreError::Corrupt {
                            what: format!("session key {k:?}"),
                            reason: "not a ticket id".into(),
                        });
                    };
                    trees.session(u64::from_be_bytes(bytes), &v)
                }),
        )
    }

    /// Up to `limit` stored sessions with ticket ids after `after` (from the first when `None`),
    /// in ticket order, and where the next batch starts (`None` once the scan is done). Sessions
    /// that cannot be read are reported and skipped.
    pub fn sessions_after(&self, after: Option<u64>, limit: usize) -> (Vec<Session>, Option<u64>) {
        let Ok(trees) = self.trees() else {
            return (Vec::new(), None);
        };
        let start = match after {
            None => 0,
            Some(a) => match a.checked_add(1) {
                Some(start) => start,
                None => return (Vec::new(), None),
            },
        };
        let (mut sessions, mut last, mut scanned) = (Vec::new(), None, 0usize);
        for item in guard(trees.sessions.range(start.to_be_bytes()..)).take(limit) {
            scanned += 1;
            let (k, v) = match item {
                Ok(kv) => kv,
                Err(e) => {
                    self.shared().report("the sessions", None, &e);
                    return (sessions, None);
                }
            };
            let Ok(bytes) = <[u8; 8]>::try_from(k.as_ref()) else {
                continue;
            };
            let ticket_id = u64::from_be_bytes(bytes);
            last = Some(ticket_id);
            match trees.session(ticket_id, &v) {
                Ok(session) => sessions.push(session),
                Err(e) => self.shared().report(
                    &format!("session of ticket {ticket_id}"),
                    Some(ticket_id),
                    &e,
                ),
            }
        }
        (sessions, last.filter(|_| scanned >= limit))
    }

    /// Every write that removes what is stored for `ticket_id`, in every tree keyed by ticket
    /// (session head, history and decisions, pending and handoff index entries, inbox entries):
    /// erasure and retention both go through here, so a tree added later is deleted by
    /// extending this one function.
    pub fn ticket_erasure(&self, ticket_id: u64) -> Vec<Write> {
        let key = ticket_id.to_be_bytes().to_vec();
        let mut writes = vec![
            Write::Delete(TreeName::Sessions, key.clone()),
            Write::DeletePrefix(TreeName::History, key.clone()),
            Write::DeletePrefix(TreeName::Decisions, key.clone()),
            Write::DeletePrefix(TreeName::HistoryItems, key.clone()),
            Write::DeletePrefix(TreeName::DecisionItems, key.clone()),
            Write::Delete(TreeName::Pending, key.clone()),
            Write::Delete(TreeName::Handoffs, key),
        ];
        writes.extend(
            self.inbox_for(ticket_id)
                .into_iter()
                .map(|(k, _)| Write::inbox_delete(k)),
        );
        // The console's summary and its filter-index entries (the hourly counters hold no
        // per-ticket data and stay).
        match self.ticket_summary(ticket_id) {
            Ok(Some(summary)) => writes.extend(Write::summary_delete(&summary)),
            _ => writes.push(Write::Delete(TreeName::TicketIndex, summary_key(ticket_id))),
        }
        writes
    }

    /// The tickets whose session or pending inbox entries belong to the customer with this
    /// email (compared case-insensitively). A scan of the sessions and the inbox: erasure is
    /// rare and operator-driven, and a scan cannot miss a session an index failed to follow.
    pub fn tickets_of_customer(&self, email: &str) -> Result<BTreeSet<u64>, StoreError> {
        let email = email.trim();
        let matches = |candidate: &str| candidate.trim().eq_ignore_ascii_case(email);
        let trees = self.trees()?;
        let mut tickets = BTreeSet::new();
        for item in guard(trees.sessions.iter()) {
            let (k, v) = item?;
            let Ok(bytes) = <[u8; 8]>::try_from(k.as_ref()) else {
                continue;
            };
            // Only what identifies the customer is decoded, not the whole session.
            #[derive(serde::Deserialize)]
            struct Owner {
                target: Option<crate::domain::session::ReplyTarget>,
            }
            let ticket_id = u64::from_be_bytes(bytes);
            let owner: Owner = match serde_json::from_slice(&v) {
                Ok(owner) => owner,
                Err(e) => {
                    let e = StoreError::Corrupt {
                        what: format!("session of ticket {ticket_id}"),
                        reason: e.to_string(),
                    };
                    self.shared().report(
                        &format!("session of ticket {ticket_id}"),
                        Some(ticket_id),
                        &e,
                    );
                    continue;
                }
            };
            if owner
                .target
                .is_some_and(|t| matches(&t.customer.email) || matches(&t.customer_address.address))
            {
                tickets.insert(ticket_id);
            }
        }
        for item in guard(trees.inbox.iter()) {
            let (k, v) = item?;
            let (Some(key), Ok(m)) = (
                InboxKey::decode(&k),
                serde_json::from_slice::<CustomerMessage>(&v),
            ) else {
                continue;
            };
            if matches(&m.customer.email) || matches(&m.customer_address.address) {
                tickets.insert(key.ticket_id);
            }
        }
        Ok(tickets)
    }

    /// Makes everything committed so far durable (used on shutdown), waiting at most the commit
    /// timeout: a committer stuck on an unwritable disk must not hang the stop. The error says
    /// what could not be flushed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.submit(Vec::new())
            .await
            .map_err(|e| StoreError::Unflushed {
                reason: e.to_string(),
                queued: self.queued_commits(),
            })
    }
}

impl Drop for Inner {
    /// The last handle gone: let the committer finish what is queued and release the database,
    /// so the same path can be opened again as soon as this returns; but never wait for it
    /// longer than a commit may wait (it may be stuck inside a flush).
    fn drop(&mut self) {
        self.committer.take();
        let exited = self
            .exited
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(exited) = exited.take() {
            let bound = self
                .shared
                .options
                .commit_timeout
                .max(Duration::from_secs(1));
            if let Err(RecvTimeoutError::Timeout) = exited.recv_timeout(bound) {
                tracing::error!(
                    queued = self.shared.queued.load(Ordering::Relaxed),
                    "storage: the committer did not finish within {} ms; what it still held is not flushed",
                    bound.as_millis()
                );
            }
        }
    }
}

/// The committer thread's state.
struct Committer {
    shared: Arc<Shared>,
    /// Dropped when the thread ends, which tells `Inner::drop` it may return.
    _exited: mpsc::Sender<()>,
    /// The wait before the next reopen while storage fails.
    probe: Duration,
    next_reopen: Instant,
    watermark_at: Instant,
}

impl Committer {
    /// The group-commit loop: wait for one job, take all that queued behind it, apply them in
    /// order, flush once, answer each. While storage fails it also wakes up by itself to reopen
    /// and probe, so readiness comes back without traffic.
    fn run(mut self, rx: Receiver<CommitJob>) {
        loop {
            let first = if self.shared.failure().is_some() {
                match rx.recv_timeout(self.next_reopen.saturating_duration_since(Instant::now())) {
                    Ok(job) => Some(job),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(job) => Some(job),
                    Err(_) => break,
                }
            };
            let mut batch: Vec<CommitJob> = first.into_iter().collect();
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let started = self.shared.epoch.elapsed().as_millis() as u64 + 1;
            self.shared.busy_since.store(started, Ordering::Relaxed);
            let result = self.commit_batch(&batch);
            self.shared.busy_since.store(0, Ordering::Relaxed);
            self.shared
                .queued
                .fetch_sub(batch.len() as u64, Ordering::Relaxed);
            for job in batch {
                let _ = job.done.send(result.clone());
            }
        }
        if let Some(trees) = self.shared.trees() {
            if self.shared.failure().is_none() && guarded(|| trees.db.flush()).is_ok() {
                let _ = watermark::write(&self.shared.path, &trees.watermark());
            }
        }
        // The last clones of the database go with this thread, releasing its lock.
        self.shared.set_trees(None);
    }

    /// One batch, all or nothing: applied, sequenced and flushed, or failed as a whole (the
    /// database is then reopened, which drops whatever of it sled still held in memory).
    fn commit_batch(&mut self, batch: &[CommitJob]) -> Result<(), StoreError> {
        let trees = self.open_trees()?;
        // Counters are summed over the whole batch (it lands or fails as one): many turns in
        // one batch add to the same hour's counters, and each key is then read and written once.
        let mut sums = BTreeMap::new();
        let written = batch
            .iter()
            .try_for_each(|job| self.apply(&trees, &job.writes, &mut sums))
            .and_then(|()| self.add_sums(&trees, &sums))
            .and_then(|()| self.make_durable(&trees, batch));
        match written {
            Ok(()) => {
                self.probe = PROBE_MIN;
                if self.shared.set_failure(None).is_some() {
                    tracing::info!("storage takes writes again");
                }
                Ok(())
            }
            Err(e) => {
                drop(trees);
                self.shared.set_trees(None);
                self.failed(&e);
                Err(e)
            }
        }
    }

    fn apply(
        &self,
        trees: &Trees,
        writes: &[Write],
        sums: &mut BTreeMap<(TreeName, Vec<u8>), i64>,
    ) -> Result<(), StoreError> {
        if let Some(e) = self.shared.faults.write_error() {
            return Err(e);
        }
        guarded(|| -> Result<(), sled::Error> {
            for w in writes {
                match w {
                    Write::Put(t, k, v) => {
                        if trees.tree(*t).insert(k.as_slice(), v.as_slice())?.is_none() {
                            trees.added(*t);
                        }
                    }
                    Write::Delete(t, k) => {
                        if trees.tree(*t).remove(k.as_slice())?.is_some() {
                            trees.removed(*t);
                        }
                    }
                    Write::Add(t, k, by) => {
                        let sum = sums.entry((*t, k.clone())).or_insert(0i64);
                        *sum = sum.saturating_add(*by);
                    }
                    Write::DeletePrefix(t, prefix) => {
                        let tree = trees.tree(*t);
                        for item in tree.scan_prefix(prefix.as_slice()).keys() {
                            if tree.remove(item?)?.is_some() {
                                trees.removed(*t);
                            }
                        }
                    }
                    Write::Trim(t, ticket_id, keep) => {
                        let tree = trees.tree(*t);
                        for item in tree.scan_prefix(ticket_id.to_be_bytes()).keys() {
                            let k = item?;
                            if !sessions::piece_seq(&k).is_some_and(|seq| keep.contains(&seq)) {
                                tree.remove(k)?;
                            }
                        }
                    }
                }
            }
            Ok(())
        })??;
        Ok(())
    }

    /// Writes a batch's summed counter additions, each key read and written once.
    fn add_sums(
        &self,
        trees: &Trees,
        sums: &BTreeMap<(TreeName, Vec<u8>), i64>,
    ) -> Result<(), StoreError> {
        guarded(|| -> Result<(), sled::Error> {
            for ((t, k), by) in sums {
                let tree = trees.tree(*t);
                let was = tree
                    .get(k.as_slice())?
                    .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                    .map_or(0, i64::from_be_bytes);
                tree.insert(k.as_slice(), &was.saturating_add(*by).to_be_bytes())?;
            }
            Ok(())
        })??;
        Ok(())
    }

    /// Stamps the batch with the next commit sequence, flushes, and keeps the watermark.
    fn make_durable(&mut self, trees: &Trees, batch: &[CommitJob]) -> Result<(), StoreError> {
        let seq = trees.seq.load(Ordering::Relaxed) + 1;
        guarded(|| trees.meta.insert(SEQ_KEY, &seq.to_be_bytes()))??;
        guarded(|| trees.meta.insert(COUNTS_KEY, encode_counts(trees)))??;
        self.shared.faults.wait_while_stalled();
        if self.shared.durable {
            if let Some(e) = self.shared.faults.flush_error() {
                return Err(e);
            }
            guarded(|| trees.db.flush())??;
        }
        trees.seq.store(seq, Ordering::Relaxed);
        let explicit_flush = batch.iter().any(|job| job.writes.is_empty());
        if explicit_flush || self.watermark_at.elapsed() >= WATERMARK_EVERY {
            self.watermark_at = Instant::now();
            if let Err(e) = watermark::write(&self.shared.path, &trees.watermark()) {
                tracing::debug!(error = %e, "storage: cannot write the watermark");
            }
        }
        Ok(())
    }

    /// The open database, reopening it when a failure closed it (not before the probe is due:
    /// until then commits fail at once).
    fn open_trees(&mut self) -> Result<Arc<Trees>, StoreError> {
        if let Some(trees) = self.shared.trees() {
            return Ok(trees);
        }
        if Instant::now() < self.next_reopen {
            return Err(StoreError::Unavailable(
                self.shared
                    .failure()
                    .unwrap_or_else(|| "it is being reopened".into()),
            ));
        }
        let until = Instant::now() + REOPEN_LOCK_WAIT;
        let reopened = loop {
            match open_trees(&self.shared.path, &self.shared.options) {
                Err(StoreError::Open { reason, .. })
                    if reason.contains("lock") && Instant::now() < until =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other,
            }
        };
        match reopened {
            Ok(trees) => {
                tracing::info!("storage reopened after a failed write");
                let trees = Arc::new(trees);
                self.shared.set_trees(Some(trees.clone()));
                Ok(trees)
            }
            Err(e) => {
                self.failed(&e);
                Err(e)
            }
        }
    }

    fn failed(&mut self, e: &StoreError) {
        let reason = e.to_string();
        if self.shared.set_failure(Some(reason.clone())).is_none() {
            tracing::error!(error = %reason, "storage cannot take writes; webhooks answer 503 until it can (retrying by itself)");
        }
        self.next_reopen = Instant::now() + self.probe;
        self.probe = (self.probe * 2).min(PROBE_MAX);
    }
}

/// Opens `path`, waiting (up to `deadline`) for a previous holder of the same store to let go of
/// its lock: a process that is still exiting, or actors that release their handles
/// asynchronously when they stop.
pub async fn open_when_free(path: &Path, deadline: Duration) -> Result<Store, StoreError> {
    open_when_free_with(path, StoreOptions::default(), deadline).await
}

/// [`open_when_free`] with options.
pub async fn open_when_free_with(
    path: &Path,
    options: StoreOptions,
    deadline: Duration,
) -> Result<Store, StoreError> {
    let until = Instant::now() + deadline;
    loop {
        match Store::open_with(path, options.clone()) {
            Err(StoreError::Open { reason, .. })
                if reason.contains("lock") && Instant::now() < until =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

/// A session as the layout before pieces stored it (one JSON record in `sessions`), captured
/// from that version: a customer message answered (the reply's Gorgias id recorded), a failed
/// action, and a second message not answered yet.
#[cfg(test)]
pub(crate) const WHOLE_SESSION_BEFORE_PIECES: &str = r#"{"ticket_id":77,"state":"active","history":[{"role":"customer","text":"Where is my order #1001?","message_id":501,"at":1700000000},{"role":"ai","text":"It shipped yesterday.","message_id":9001,"external_id":"gorgias-agent:77:1","at":1700000005},{"role":"customer","text":"Thanks! And a refund?","message_id":502,"at":1700000100}],"answered_upto":2,"replies_counted_from":0,"target":{"channel":"chat","customer":{"id":9,"email":"c@x","name":null},"customer_address":{"address":"c@x"},"support_address":null,"subject":null},"language":"en","decisions":[{"at":1700000005,"outcome":"replied","reason":"answered","message_ids":[501],"detail":"kb"}],"outbox":[],"failed":[{"action":{"seq":2,"external_id":"gorgias-agent:77:2","kind":{"type":"add_tags","names":["ai"]},"attempts":0,"first_failure_at":null,"maybe_sent":false,"last_error":null},"error":"400 Bad Request","at":1700000006}],"next_action_seq":3}"#;

/// A session as the layout of one key per item (head version 2) stored it, captured from that
/// version: the head, then the history entries and the decision (ticket 78: a customer message
/// answered and the reply's Gorgias id recorded, a second message not answered yet).
#[cfg(test)]
pub(crate) const ITEM_KEYS_HEAD: &str = r#"{"v":2,"ticket_id":78,"state":"active","answered_upto":1,"replies_counted_from":0,"target":{"channel":"chat","customer":{"id":9,"email":"c@x","name":null},"customer_address":{"address":"c@x"},"support_address":null,"subject":null},"outbox":[],"failed":[],"next_action_seq":2,"history_len":3,"decisions_from":0,"decisions_len":1}"#;
#[cfg(test)]
pub(crate) const ITEM_KEYS_HISTORY: [&str; 3] = [
    r#"{"role":"customer","text":"Where is my order #1001?","message_id":601,"at":1700000000}"#,
    r#"{"role":"ai","text":"It shipped yesterday.","message_id":9101,"external_id":"gorgias-agent:78:1","at":1700000005}"#,
    r#"{"role":"customer","text":"Thanks! And a refund?","message_id":602,"at":1700000100}"#,
];
#[cfg(test)]
pub(crate) const ITEM_KEYS_DECISIONS: [&str; 1] = [
    r#"{"at":1700000005,"outcome":"replied","reason":"answered","message_ids":[601],"detail":"kb"}"#,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[actix::test]
    async fn counters_added_by_many_commits_in_one_batch_sum_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .commit(vec![Write::stat_add(7, "replied", 5)])
            .await
            .unwrap();
        // Held back so the fifty commits queue up and are written as one batch.
        store.faults().stall(true);
        let commits: Vec<_> = (0..50)
            .map(|n| {
                let store = store.clone();
                actix::spawn(async move {
                    let mut writes = vec![
                        Write::stat_add(7, "replied", 1),
                        Write::stat_add(8, "replied", 2),
                    ];
                    if n % 10 == 0 {
                        writes.push(Write::stat_add(7, "handoffs", -1));
                    }
                    store.commit(writes).await
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while store.queued_commits() < 50 {
            assert!(
                Instant::now() < deadline,
                "{} queued",
                store.queued_commits()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        store.faults().stall(false);
        for c in commits {
            c.await.unwrap().unwrap();
        }
        assert_eq!(
            store.stat_rows(7, 8),
            vec![
                (7, "handoffs".to_string(), -5),
                (7, "replied".to_string(), 55),
                (8, "replied".to_string(), 100),
            ]
        );
    }

    /// The keys stored under `ticket_id` in a piece tree.
    fn pieces(store: &Store, tree: TreeName, ticket_id: u64) -> Vec<u64> {
        let trees = store.trees().unwrap();
        trees
            .tree(tree)
            .scan_prefix(ticket_id.to_be_bytes())
            .keys()
            .map(|k| u64::from_be_bytes(k.unwrap()[8..].try_into().unwrap()))
            .collect()
    }

    fn long_session(ticket_id: u64, turns: u64) -> Session {
        let mut s = Session::new(ticket_id);
        for i in 0..turns {
            s.accept(
                &CustomerMessage::sample(ticket_id, 100 + i, "where is it?"),
                i,
            );
            let ext = s.next_external_id();
            s.record_ai_message("on its way", &ext, i);
            s.record(
                i,
                crate::domain::outcome::DecisionOutcome::Replied,
                crate::domain::outcome::DecisionReason::Answered,
                vec![100 + i],
                None,
            );
        }
        s
    }

    #[actix::test]
    async fn a_step_writes_its_new_pieces_and_the_session_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path).unwrap();
        let before = long_session(4, 25);
        store
            .commit(Write::session_put(before.change()))
            .await
            .unwrap();
        assert_eq!(store.load_session(4).unwrap().as_ref(), Some(&before));

        let mut next = before.clone();
        next.accept(&CustomerMessage::sample(4, 900, "and now?"), 50);
        next.history[1].message_id = Some(77);
        next.record(
            50,
            crate::domain::outcome::DecisionOutcome::Ignored,
            crate::domain::outcome::DecisionReason::Operator,
            vec![],
            None,
        );
        let writes = Write::session_put(next.change_from(&before));
        let pieces = |t: TreeName| {
            writes
                .iter()
                .filter(|w| matches!(w, Write::Put(tree, ..) if *tree == t))
                .count()
        };
        // The pages of one new entry, one changed in place and one new decision: not the 50
        // entries again.
        assert_eq!(pieces(TreeName::History), 2);
        assert_eq!(pieces(TreeName::Decisions), 1);
        store.commit(writes).await.unwrap();
        assert_eq!(store.load_session(4).unwrap().as_ref(), Some(&next));
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_session(4).unwrap().as_ref(), Some(&next));
        // 51 entries and 26 decisions, in pages of 16.
        assert_eq!(pieces_of(&store, 4), (4, 2));
        let (listed, _) = store.sessions_after(None, 10);
        assert_eq!(listed, vec![next.clone()]);
        assert_eq!(store.sessions_desc().next().unwrap().unwrap(), next);
    }

    fn pieces_of(store: &Store, ticket_id: u64) -> (usize, usize) {
        (
            pieces(store, TreeName::History, ticket_id).len(),
            pieces(store, TreeName::Decisions, ticket_id).len(),
        )
    }

    /// Records a decision for each of `times`, committing each as a step.
    async fn record_decisions(store: &Store, session: &mut Session, times: Range<u64>) {
        for i in times {
            let before = session.clone();
            session.record(
                1_000 + i,
                crate::domain::outcome::DecisionOutcome::Ignored,
                crate::domain::outcome::DecisionReason::Operator,
                vec![],
                None,
            );
            store
                .commit(Write::session_put(session.change_from(&before)))
                .await
                .unwrap();
        }
    }

    #[actix::test]
    async fn decisions_past_the_cap_are_deleted_as_they_drop_off_the_front() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mut session = long_session(5, crate::domain::session::MAX_DECISIONS as u64);
        store
            .commit(Write::session_put(session.change()))
            .await
            .unwrap();
        record_decisions(&store, &mut session, 0..3).await;
        let cap = crate::domain::session::MAX_DECISIONS as u64;
        let pages = |from: u64| (from..cap + from).step_by(16).collect::<Vec<_>>();
        // The first page still holds decisions 3 to 15.
        assert_eq!(pieces(&store, TreeName::Decisions, 5), pages(0));
        assert_eq!(store.load_session(5).unwrap().unwrap(), session);
        record_decisions(&store, &mut session, 3..16).await;
        // Sixteen dropped: the first page is gone, a page after the last one is written.
        assert_eq!(pieces(&store, TreeName::Decisions, 5), pages(16));
        assert_eq!(store.load_session(5).unwrap().unwrap(), session);
    }

    #[actix::test]
    async fn erasure_removes_every_piece_of_the_ticket_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        for t in [6, 7] {
            let s = long_session(t, 4);
            store.commit(Write::session_put(s.change())).await.unwrap();
        }
        store.commit(store.ticket_erasure(6)).await.unwrap();
        assert!(store.load_session(6).unwrap().is_none());
        assert_eq!(pieces_of(&store, 6), (0, 0));
        // 8 entries and 4 decisions: a page each.
        assert_eq!(pieces_of(&store, 7), (1, 1));
        assert_eq!(store.session_count(), 1);
    }

    #[actix::test]
    async fn a_whole_write_over_a_longer_stored_session_leaves_only_its_own_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let long = long_session(9, 20);
        store
            .commit(Write::session_put(long.change()))
            .await
            .unwrap();
        assert_eq!(pieces(&store, TreeName::History, 9), [0, 16, 32]);
        assert_eq!(pieces(&store, TreeName::Decisions, 9), [0, 16]);
        let mut short = long_session(9, 1);
        short.stored.decisions_dropped = 3;
        store
            .commit(Write::session_put(short.change()))
            .await
            .unwrap();
        assert_eq!(pieces(&store, TreeName::History, 9), [0]);
        assert_eq!(pieces(&store, TreeName::Decisions, 9), [0]);
        assert_eq!(store.load_session(9).unwrap().unwrap(), short);
    }

    #[actix::test]
    async fn a_step_that_shortens_the_history_rewrites_its_last_page_and_deletes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let before = long_session(10, 20);
        store
            .commit(Write::session_put(before.change()))
            .await
            .unwrap();
        let mut next = before.clone();
        next.history.truncate(20);
        let change = next.change_from(&before);
        assert!(matches!(change.pieces, Pieces::Since { .. }));
        let writes = Write::session_put(change);
        // What shortens the stored history comes after the head that no longer counts it.
        let at = |matches: &dyn Fn(&Write) -> bool| writes.iter().position(matches).unwrap();
        let head = at(&|w| matches!(w, Write::Put(TreeName::Sessions, ..)));
        let tail = at(&|w| matches!(w, Write::Put(TreeName::History, ..)));
        let gone = at(&|w| matches!(w, Write::Delete(TreeName::History, ..)));
        assert!(head < tail && head < gone, "{writes:?}");
        store.commit(writes).await.unwrap();
        assert_eq!(pieces(&store, TreeName::History, 10), [0, 16]);
        // The last page holds what is left of it, not the entries cut off.
        let last = store
            .trees()
            .unwrap()
            .history
            .get(sessions::piece_key(10, 16));
        let (first, items) =
            <HistoryEntry as sessions::Piece>::decode_page(&last.unwrap().unwrap()).unwrap();
        assert_eq!((first, items.len()), (16, 4));
        assert_eq!(store.load_session(10).unwrap().unwrap(), next);
    }

    #[test]
    fn a_summary_step_writes_only_the_index_entries_that_change() {
        let summary = TicketSummary {
            ticket_id: 3,
            state: crate::domain::session::SessionState::Active,
            channel: "email".into(),
            started_at: 1,
            updated_at: 2,
            first_accepted_ms: None,
            first_reply_ms: None,
            last_outcome: None,
            last_reason: None,
            handoff_reason: None,
            customer_messages: 1,
            ai_replies: 0,
        };
        let index_writes = |writes: &[Write]| {
            writes
                .iter()
                .filter(|w| matches!(w, Write::Put(TreeName::TicketIndex, k, _) | Write::Delete(TreeName::TicketIndex, k) if k[0] != b'S'))
                .count()
        };
        assert_eq!(index_writes(&Write::summary_put(&summary, None)), 1);
        let later = TicketSummary {
            updated_at: 3,
            ..summary.clone()
        };
        assert_eq!(index_writes(&Write::summary_put(&later, Some(&summary))), 0);
        let handed_off = TicketSummary {
            handoff_reason: Some("no_answer".into()),
            channel: "chat".into(),
            ..later.clone()
        };
        // The channel's entry moves, the reason's is added.
        assert_eq!(
            index_writes(&Write::summary_put(&handed_off, Some(&later))),
            3
        );
    }

    #[actix::test]
    async fn opening_trusts_the_stored_count_of_a_large_tree_and_walks_a_small_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let claim = |store: &Store, sessions: u64| {
            let trees = store.trees().unwrap();
            let mut counts = decode_counts(&trees.meta.get(COUNTS_KEY).unwrap().unwrap()).unwrap();
            counts[TreeName::Sessions.index()] = sessions;
            let bytes: Vec<u8> = counts.iter().flat_map(|c| c.to_be_bytes()).collect();
            trees.meta.insert(COUNTS_KEY, bytes).unwrap();
        };
        {
            let store = Store::open(&path).unwrap();
            for t in 0..10 {
                let s = long_session(t, 1);
                store.commit(Write::session_put(s.change())).await.unwrap();
            }
            claim(&store, WALK_LIMIT + 5);
        }
        // Not walked: the count stored with the last commit stands.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.session_count() as u64, WALK_LIMIT + 5);
        claim(&store, 3);
        drop(store);
        // (The watermark now expects the claimed count; it is not what this looks at.)
        std::fs::remove_file(path.join(watermark::FILE)).unwrap();
        // Small enough to walk: the walk finds what is there.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.session_count(), 10);
    }

    /// Not a check: a measurement of what opening costs (counting the trees the watermark
    /// counts) with many stored sessions, run with `SESSIONS=1000000 cargo test --release --lib
    /// opening_a_store_of_many_sessions -- --ignored --nocapture`.
    #[ignore]
    #[actix::test]
    async fn opening_a_store_of_many_sessions() {
        let n: u64 = std::env::var("SESSIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path).unwrap();
        for batch in (0..n).collect::<Vec<_>>().chunks(20_000) {
            let writes = batch
                .iter()
                .flat_map(|&t| Write::session_put(long_session(t, 1).change()))
                .collect();
            store.commit(writes).await.unwrap();
        }
        drop(store);
        for _ in 0..2 {
            let started = Instant::now();
            let store = Store::open(&path).unwrap();
            println!(
                "opened {} sessions in {:.0} ms",
                store.session_count(),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    }

    #[actix::test]
    async fn a_head_whose_pieces_are_missing_is_corrupt_not_a_shorter_conversation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let s = long_session(8, 10);
        store.commit(Write::session_put(s.change())).await.unwrap();
        store
            .commit(vec![Write::Delete(
                TreeName::History,
                sessions::piece_key(8, 16),
            )])
            .await
            .unwrap();
        let e = store.load_session(8).unwrap_err();
        assert!(e.is_damage(), "{e}");
        assert!(e.to_string().contains("16 of 20"), "{e}");
    }

    #[actix::test]
    async fn a_whole_session_of_the_layout_before_is_read_and_converted_on_its_next_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path).unwrap();
        store
            .commit(vec![Write::Put(
                TreeName::Sessions,
                77u64.to_be_bytes().to_vec(),
                WHOLE_SESSION_BEFORE_PIECES.as_bytes().to_vec(),
            )])
            .await
            .unwrap();
        let before = store.load_session(77).unwrap().unwrap();
        assert_eq!(before.history.len(), 3);
        assert_eq!(before.history[1].message_id, Some(9001));
        assert_eq!(before.decisions.len(), 1);
        assert_eq!(before.failed.len(), 1);
        assert_eq!(store.tickets_of_customer("C@X").unwrap().len(), 1);

        // Its pieces are not stored yet, so the next commit writes all of them with the head.
        assert!(before.stored.in_doubt);
        let mut next = before.clone();
        next.accept(&CustomerMessage::sample(77, 503, "hello?"), 1_700_000_200);
        let change = next.change_from(&before);
        assert_eq!(change.pieces, Pieces::All);
        store.commit(Write::session_put(change)).await.unwrap();
        next.stored.in_doubt = false;
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_session(77).unwrap().unwrap(), next);
        let head = store
            .trees()
            .unwrap()
            .sessions
            .get(77u64.to_be_bytes())
            .unwrap()
            .unwrap();
        assert!(!sessions::is_legacy(&head), "rewritten as a head");
        assert_eq!(pieces_of(&store, 77), (1, 1));
        assert_eq!(store.session_count(), 1);
    }

    /// Stores ticket 78 as the layout of one key per item stored it.
    async fn put_item_keys_session(store: &Store) {
        let mut writes = vec![Write::Put(
            TreeName::Sessions,
            78u64.to_be_bytes().to_vec(),
            ITEM_KEYS_HEAD.as_bytes().to_vec(),
        )];
        let items = |tree, list: &[&str]| -> Vec<Write> {
            list.iter()
                .enumerate()
                .map(|(seq, item)| {
                    let key = sessions::piece_key(78, seq as u64);
                    Write::Put(tree, key, item.as_bytes().to_vec())
                })
                .collect()
        };
        writes.extend(items(TreeName::HistoryItems, &ITEM_KEYS_HISTORY));
        writes.extend(items(TreeName::DecisionItems, &ITEM_KEYS_DECISIONS));
        store.commit(writes).await.unwrap();
    }

    #[actix::test]
    async fn erasing_a_session_stored_one_key_per_item_removes_its_item_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        put_item_keys_session(&store).await;
        assert_eq!(pieces(&store, TreeName::HistoryItems, 78).len(), 3);
        store.commit(store.ticket_erasure(78)).await.unwrap();
        assert!(store.load_session(78).unwrap().is_none());
        assert!(pieces(&store, TreeName::HistoryItems, 78).is_empty());
        assert!(pieces(&store, TreeName::DecisionItems, 78).is_empty());
    }

    #[actix::test]
    async fn a_session_stored_one_key_per_item_is_read_and_moved_to_pages_on_its_next_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path).unwrap();
        put_item_keys_session(&store).await;

        let before = store.load_session(78).unwrap().unwrap();
        let texts: Vec<&str> = before.history.iter().map(|e| &*e.text).collect();
        assert_eq!(
            texts,
            [
                "Where is my order #1001?",
                "It shipped yesterday.",
                "Thanks! And a refund?"
            ]
        );
        assert_eq!(before.history[1].message_id, Some(9101));
        assert_eq!(before.decisions.len(), 1);
        assert_eq!(before.decisions[0].detail.as_deref(), Some("kb"));
        assert_eq!(before.unanswered().len(), 1);
        // Its pieces are known, only not in pages: no reread, no action taken for possibly sent.
        assert!(!before.stored.in_doubt);
        assert!(before.stored.layout_before);

        let mut next = before.clone();
        next.accept(&CustomerMessage::sample(78, 603, "hello?"), 1_700_000_200);
        let change = next.change_from(&before);
        assert_eq!(change.pieces, Pieces::All);
        store.commit(Write::session_put(change)).await.unwrap();
        next.stored.committed();
        drop(store);
        let store = Store::open(&path).unwrap();
        let read = store.load_session(78).unwrap().unwrap();
        assert_eq!(read, next);
        assert!(!read.stored.layout_before);
        assert_eq!(pieces_of(&store, 78), (1, 1));
        assert!(pieces(&store, TreeName::HistoryItems, 78).is_empty());
        assert!(pieces(&store, TreeName::DecisionItems, 78).is_empty());
        assert_eq!(store.session_count(), 1);
    }

    fn message(ticket_id: u64, message_id: u64) -> CustomerMessage {
        CustomerMessage::sample(ticket_id, message_id, "hi")
    }

    #[actix::test]
    async fn a_scratch_store_applies_commits_without_flushing_them() {
        let dir = tempfile::tempdir().unwrap();
        let write = |store: &Store| {
            let key = InboxKey {
                ticket_id: 3,
                seq: store.next_seq().unwrap(),
            };
            vec![Write::inbox_put(key, &message(3, 1))]
        };
        // A flush that would fail: a durable store refuses the commit, a scratch one never
        // flushes, so it takes it.
        let durable = Store::open(&dir.path().join("durable")).unwrap();
        durable.faults().fail_flush(true);
        assert!(durable.commit(write(&durable)).await.is_err());
        let scratch = Store::open_scratch(&dir.path().join("scratch")).unwrap();
        scratch.faults().fail_flush(true);
        scratch.commit(write(&scratch)).await.unwrap();
        assert_eq!(scratch.inbox_for(3).len(), 1);
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

    fn options(commit_timeout_ms: u64, commit_queue: usize) -> StoreOptions {
        StoreOptions {
            commit_timeout: Duration::from_millis(commit_timeout_ms),
            commit_queue,
            accept_data_loss: false,
        }
    }

    fn inbox_write(ticket_id: u64, seq: u64) -> Vec<Write> {
        vec![Write::inbox_put(
            InboxKey { ticket_id, seq },
            &message(ticket_id, seq),
        )]
    }

    async fn until_ready(store: &Store) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while store.health() != StoreHealth::Ready {
            assert!(Instant::now() < deadline, "still {:?}", store.health());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[actix::test]
    async fn a_failing_write_is_refused_and_the_store_reopens_and_recovers_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.commit(inbox_write(1, 1)).await.unwrap();
        store.faults().fail_writes(true);
        assert!(matches!(
            store.commit(inbox_write(1, 2)).await,
            Err(StoreError::Io(_))
        ));
        assert!(matches!(store.health(), StoreHealth::Failing(r) if r.contains("injected")));
        // While the reopen is not due, commits fail at once instead of hammering the disk.
        let started = Instant::now();
        assert!(store.commit(inbox_write(1, 3)).await.is_err());
        assert!(started.elapsed() < Duration::from_millis(200));
        store.faults().fail_writes(false);
        // No commit needed: the committer probes by itself.
        until_ready(&store).await;
        store.commit(inbox_write(1, 4)).await.unwrap();
        let seqs: Vec<u64> = store.inbox_for(1).iter().map(|(k, _)| k.seq).collect();
        assert_eq!(
            seqs,
            [1, 4],
            "the acknowledged writes, not the refused ones"
        );
    }

    #[actix::test]
    async fn a_failing_flush_is_not_acknowledged_and_writes_go_through_once_it_clears() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.faults().fail_flush(true);
        assert!(store.commit(inbox_write(2, 1)).await.is_err());
        assert!(!store.is_healthy());
        store.faults().fail_flush(false);
        until_ready(&store).await;
        store.commit(inbox_write(2, 2)).await.unwrap();
        assert!(store.inbox_for(2).iter().any(|(k, _)| k.seq == 2));
    }

    #[actix::test]
    async fn a_stuck_committer_times_commits_out_says_so_and_bounds_the_final_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&dir.path().join("db"), options(200, 64)).unwrap();
        store.faults().stall(true);
        let started = Instant::now();
        assert!(matches!(
            store.commit(inbox_write(3, 1)).await,
            Err(StoreError::Timeout(200))
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        // Stuck from when the committer took the batch (a moment after the commit was sent).
        let deadline = Instant::now() + Duration::from_secs(20);
        while !matches!(store.health(), StoreHealth::Stuck(d) if d >= Duration::from_millis(200)) {
            assert!(Instant::now() < deadline, "{:?}", store.health());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = Instant::now();
        let flushed = store.flush().await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let Err(StoreError::Unflushed { queued, reason }) = flushed else {
            panic!("{flushed:?}")
        };
        assert_eq!(queued, 2, "the stuck commit and the flush itself");
        assert!(reason.contains("200 ms"), "{reason}");
        store.faults().stall(false);
        until_ready(&store).await;
        // The timed-out commit did land: callers were told 503, and a redelivery is known by
        // its message id.
        assert_eq!(store.inbox_for(3).len(), 1);
        // Ready may be reported a moment before the committer counts its last job done.
        let deadline = Instant::now() + Duration::from_secs(20);
        while store.queued_commits() != 0 {
            assert!(
                Instant::now() < deadline,
                "{} queued",
                store.queued_commits()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[actix::test]
    async fn a_full_commit_queue_refuses_at_once_and_drains() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&dir.path().join("db"), options(10_000, 2)).unwrap();
        store.faults().stall(true);
        let spawn = |seq: u64| {
            let store = store.clone();
            actix::spawn(async move { store.commit(inbox_write(4, seq)).await })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut waiting = vec![spawn(1)];
        // The committer holds the first one in its stalled batch before the queue fills.
        while store.inner.shared.busy_for().is_none() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        waiting.extend([spawn(2), spawn(3)]);
        while store.queued_commits() < 3 {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // One in the stalled batch, two in the queue: the queue is full.
        assert!(matches!(
            store.commit(inbox_write(4, 9)).await,
            Err(StoreError::Overloaded)
        ));
        assert_eq!(store.health(), StoreHealth::QueueFull(3));
        store.faults().stall(false);
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert_eq!(store.health(), StoreHealth::Ready);
        assert_eq!(store.inbox_for(4).len(), 3);
    }

    #[actix::test]
    async fn dropping_the_store_with_a_stuck_committer_returns_within_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&dir.path().join("db"), options(100, 64)).unwrap();
        let shared = store.inner.shared.clone();
        shared.faults.stall(true);
        assert!(store.commit(inbox_write(5, 1)).await.is_err());
        let started = Instant::now();
        drop(store);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "{took:?}"
        );
        shared.faults.stall(false);
    }

    /// Stores `n` sessions (raw values: the check is about records, not their content), every
    /// third one large enough for sled to keep it in a blob file, then closes the store.
    async fn filled_store(path: &Path, n: u64) {
        let store = Store::open(path).unwrap();
        for i in 0..n {
            let size = if i % 3 == 0 { 200_000 } else { 2_000 };
            store
                .commit(vec![Write::Put(
                    TreeName::Sessions,
                    i.to_be_bytes().to_vec(),
                    vec![b'x'; size],
                )])
                .await
                .unwrap();
        }
        store.flush().await.unwrap();
    }

    #[actix::test]
    async fn a_truncated_store_is_refused_on_open_unless_the_loss_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        filled_store(&path, 300).await;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path.join("db"))
            .unwrap();
        file.set_len(file.metadata().unwrap().len() / 2).unwrap();
        drop(file);

        let refused = Store::open(&path).unwrap_err();
        assert!(matches!(refused, StoreError::DataLoss { .. }), "{refused}");
        let line = refused.to_string();
        assert!(line.contains("--accept-data-loss"), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");

        let accepted = StoreOptions {
            accept_data_loss: true,
            ..StoreOptions::default()
        };
        let store = Store::open_with(&path, accepted).unwrap();
        let left = store.session_count();
        assert!(left < 300, "{left}");
        drop(store);
        // Accepted once: the store as it is now is the new reference.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.session_count(), left);
    }

    #[actix::test]
    async fn deleted_blob_files_are_a_clear_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        filled_store(&path, 60).await;
        let blobs: Vec<_> = std::fs::read_dir(path.join("blobs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!blobs.is_empty(), "sled keeps large records in blob files");
        for blob in blobs {
            std::fs::remove_file(blob).unwrap();
        }
        match Store::open(&path) {
            Err(e @ (StoreError::Open { .. } | StoreError::DataLoss { .. })) => {
                assert!(!e.to_string().contains('\n'), "{e}")
            }
            other => panic!("opened a store without its blob files: {other:?}"),
        }
    }

    #[actix::test]
    async fn a_panic_inside_sled_is_a_typed_error_for_that_ticket_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .commit(vec![Write::Put(
                TreeName::Sessions,
                6u64.to_be_bytes().to_vec(),
                serde_json::to_vec(&Session::new(6)).unwrap(),
            )])
            .await
            .unwrap();
        store.faults().panic_on_session_read(Some(7));
        let e = store.load_session(7).unwrap_err();
        assert!(e.is_damage(), "{e}");
        assert!(e.to_string().contains("view_for_key"), "{e}");
        assert!(store.load_session(6).unwrap().is_some());

        // A scan that panics part way stops there with the error.
        let mut n = 0;
        let items: Vec<_> = guard(std::iter::from_fn(|| {
            n += 1;
            if n == 3 {
                panic!("cannot find pid 9 in view_for_key");
            }
            Some(Ok((IVec::from(&[n as u8][..]), IVec::default())))
        }))
        .collect();
        assert_eq!(items.len(), 3);
        assert!(items[..2].iter().all(Result::is_ok));
        assert!(matches!(&items[2], Err(StoreError::Damaged(_))));
    }
}
