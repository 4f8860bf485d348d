//! How a session is laid out in storage: a small head in `sessions` (state, outbox, counts) and
//! its history entries and decisions as keys of their own in `history` and `decisions` (ticket
//! id ++ sequence, big-endian), so a commit writes what changed rather than the whole
//! conversation. Also reads the layout before it (a whole session as one JSON record in
//! `sessions`): such a session is read as one whose stored pieces are unknown, so its next
//! commit writes all of them and the head, converting it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::session::{
    DecisionRecord, FailedAction, HistoryEntry, OutboundAction, ReplyTarget, Session, SessionState,
    Stored,
};

/// The head's layout version; a head's encoding starts with it (`{"v":`), a whole session of
/// the layout before never does (`{"ticket_id":`).
const VERSION: u32 = 2;
const HEAD_START: &[u8] = b"{\"v\":";

/// A piece's key: the ticket, then the piece's sequence number.
pub fn piece_key(ticket_id: u64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(16);
    k.extend_from_slice(&ticket_id.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn piece_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(8..16)?.try_into().ok()?))
}

/// The session record without its pieces, as written.
#[derive(Serialize)]
struct HeadOut<'a> {
    v: u32,
    ticket_id: u64,
    state: SessionState,
    #[serde(skip_serializing_if = "Option::is_none")]
    handed_off_at: Option<u64>,
    answered_upto: usize,
    replies_counted_from: usize,
    target: &'a Option<ReplyTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: &'a Option<String>,
    outbox: &'a VecDeque<OutboundAction>,
    failed: &'a VecDeque<FailedAction>,
    next_action_seq: u64,
    /// Entries in `history`, at sequence 0 up.
    history_len: usize,
    /// Decisions in `decisions`, at sequence `decisions_from` up.
    decisions_from: u64,
    decisions_len: usize,
}

/// The session record without its pieces, as read.
#[derive(Deserialize)]
struct HeadIn {
    #[allow(dead_code)]
    v: u32,
    ticket_id: u64,
    state: SessionState,
    #[serde(default)]
    handed_off_at: Option<u64>,
    answered_upto: usize,
    replies_counted_from: usize,
    target: Option<ReplyTarget>,
    #[serde(default)]
    language: Option<String>,
    outbox: VecDeque<OutboundAction>,
    failed: VecDeque<FailedAction>,
    next_action_seq: u64,
    history_len: usize,
    decisions_from: u64,
    decisions_len: usize,
}

/// The head of `session`.
pub fn encode_head(s: &Session) -> Vec<u8> {
    serde_json::to_vec(&HeadOut {
        v: VERSION,
        ticket_id: s.ticket_id,
        state: s.state,
        handed_off_at: s.handed_off_at,
        answered_upto: s.answered_upto,
        replies_counted_from: s.replies_counted_from,
        target: &s.target,
        language: &s.language,
        outbox: &s.outbox,
        failed: &s.failed,
        next_action_seq: s.next_action_seq,
        history_len: s.history.len(),
        decisions_from: s.stored.decisions_dropped,
        decisions_len: s.decisions.len(),
    })
    .expect("a session head always serializes")
}

pub fn encode_entry(e: &HistoryEntry) -> Vec<u8> {
    serde_json::to_vec(e).expect("a history entry always serializes")
}

pub fn encode_decision(d: &DecisionRecord) -> Vec<u8> {
    serde_json::to_vec(d).expect("a decision always serializes")
}

/// Whether a `sessions` record is a whole session of the layout before.
pub fn is_legacy(record: &[u8]) -> bool {
    !record.starts_with(HEAD_START)
}

fn corrupt(ticket_id: u64, what: &str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what: format!("{what} of ticket {ticket_id}"),
        reason: reason.to_string(),
    }
}

/// Which pieces a head says are stored, to read them with.
pub struct PieceRanges {
    pub history: std::ops::Range<u64>,
    pub decisions: std::ops::Range<u64>,
}

/// Decodes the `sessions` record of `ticket_id`: a whole session (the layout before, no ranges),
/// or a head still to be completed with the pieces of the ranges.
pub fn decode_record(
    ticket_id: u64,
    record: &[u8],
) -> Result<(Session, Option<PieceRanges>), StoreError> {
    if is_legacy(record) {
        let mut whole: Session =
            serde_json::from_slice(record).map_err(|e| corrupt(ticket_id, "session", e))?;
        whole.stored.in_doubt = true;
        return Ok((whole, None));
    }
    let h: HeadIn = serde_json::from_slice(record).map_err(|e| corrupt(ticket_id, "session", e))?;
    let ranges = PieceRanges {
        history: 0..h.history_len as u64,
        decisions: h.decisions_from..h.decisions_from + h.decisions_len as u64,
    };
    let session = Session {
        ticket_id: h.ticket_id,
        state: h.state,
        handed_off_at: h.handed_off_at,
        history: Vec::with_capacity(h.history_len),
        answered_upto: h.answered_upto,
        replies_counted_from: h.replies_counted_from,
        target: h.target,
        language: h.language,
        decisions: VecDeque::with_capacity(h.decisions_len),
        outbox: h.outbox,
        failed: h.failed,
        next_action_seq: h.next_action_seq,
        stored: Stored {
            decisions_dropped: h.decisions_from,
            in_doubt: false,
        },
    };
    Ok((session, Some(ranges)))
}

/// Decodes pieces read from `range` (key, value in key order) into `T`s; every sequence number
/// of the range must be there.
pub fn decode_pieces<T: serde::de::DeserializeOwned>(
    ticket_id: u64,
    what: &str,
    range: &std::ops::Range<u64>,
    items: impl IntoIterator<Item = Result<(sled::IVec, sled::IVec), StoreError>>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::with_capacity((range.end - range.start) as usize);
    let mut expected = range.start;
    for item in items {
        let (k, v) = item?;
        if piece_seq(&k) != Some(expected) {
            break;
        }
        out.push(serde_json::from_slice(&v).map_err(|e| corrupt(ticket_id, what, e))?);
        expected += 1;
    }
    if expected != range.end {
        return Err(corrupt(
            ticket_id,
            what,
            format!(
                "{} of {} entries are stored",
                expected - range.start,
                range.end - range.start
            ),
        ));
    }
    Ok(out)
}
