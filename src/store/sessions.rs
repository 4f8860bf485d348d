//! How a session is laid out in storage: a small head in `sessions` (state, outbox, counts) and
//! its history entries and decisions in pages of [`PAGE`] consecutive items, keys of their own
//! in `history_pages` and `decision_pages` (ticket id ++ the first item's sequence number,
//! big-endian), so a commit writes the pages that changed rather than the whole conversation,
//! and waking a ticket reads a few keys rather than one per message. Also reads the layouts
//! before it: one key per item (head version 2, trees `history` and `decisions`), and a whole
//! session as one JSON record in `sessions`; such a session's next commit writes it in this
//! layout and removes the old pieces.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::outcome::DecisionOutcome;
use crate::domain::session::{
    DecisionRecord, FailedAction, HistoryEntry, OutboundAction, ReplyTarget, Role, Session,
    SessionState, Stored,
};

/// The head's layout version; a head's encoding starts with it (`{"v":`), a whole session of
/// the first layout never does (`{"ticket_id":`). Version 2 stored one key per item.
const VERSION: u32 = 3;
const VERSION_ITEM_KEYS: u32 = 2;
const HEAD_START: &[u8] = b"{\"v\":";

/// Items per page: a commit rewrites at most this many entries (and as many decisions) besides
/// the head, and a conversation of n messages is read back in n / PAGE keys.
pub const PAGE: u64 = 16;

/// The sequence number a page starts at (its key's), for the item at `seq`.
pub fn page_of(seq: u64) -> u64 {
    seq - seq % PAGE
}

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

/// A page as first written, in JSON (still read): the sequence number of its first item, then
/// the items.
#[derive(Deserialize)]
struct PageIn<T> {
    first: u64,
    items: Vec<T>,
}

/// What pages hold, and how a page of them is encoded.
pub trait Piece: Sized {
    fn encode_page(first: u64, items: &[&Self]) -> Vec<u8>;

    /// The page's first sequence number and its items.
    fn decode_page(value: &[u8]) -> Result<(u64, Vec<Self>), String>;
}

fn decode_json_page<T: serde::de::DeserializeOwned>(value: &[u8]) -> Result<(u64, Vec<T>), String> {
    let page: PageIn<T> = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    Ok((page.first, page.items))
}

/// Decision pages are binary too, the same frame as history pages: per decision `at` (u64), the
/// outcome (u8, see [`outcome_byte`]), the reason, the message ids (a u32 count, then u64s), a
/// flags byte (1: a detail follows, 2: the order follows, as its JSON document), then those.
/// A page that starts with `{` is JSON, as pages were first written.
const DECISION_PAGE_BINARY: u8 = 1;

fn outcome_byte(outcome: DecisionOutcome) -> u8 {
    match outcome {
        DecisionOutcome::Replied => 0,
        DecisionOutcome::HandedOff => 1,
        DecisionOutcome::Ignored => 2,
        DecisionOutcome::Resumed => 3,
        DecisionOutcome::ActionFailed => 4,
    }
}

fn byte_outcome(byte: u8) -> Option<DecisionOutcome> {
    Some(match byte {
        0 => DecisionOutcome::Replied,
        1 => DecisionOutcome::HandedOff,
        2 => DecisionOutcome::Ignored,
        3 => DecisionOutcome::Resumed,
        4 => DecisionOutcome::ActionFailed,
        _ => return None,
    })
}

impl Piece for DecisionRecord {
    fn encode_page(first: u64, items: &[&Self]) -> Vec<u8> {
        // The order's JSON is not counted: most decisions have none.
        let size: usize = items
            .iter()
            .map(|d| {
                22 + d.reason.len()
                    + 8 * d.message_ids.len()
                    + d.detail.as_ref().map_or(0, |x| 4 + x.len())
            })
            .sum();
        let mut out = Vec::with_capacity(13 + size);
        page_frame(&mut out, DECISION_PAGE_BINARY, first, items.len());
        for d in items {
            out.extend_from_slice(&d.at.to_be_bytes());
            out.push(outcome_byte(d.outcome));
            put_str(&mut out, &d.reason);
            out.extend_from_slice(&(d.message_ids.len() as u32).to_be_bytes());
            for id in &d.message_ids {
                out.extend_from_slice(&id.to_be_bytes());
            }
            out.push(u8::from(d.detail.is_some()) | u8::from(d.order.is_some()) << 1);
            if let Some(detail) = &d.detail {
                put_str(&mut out, detail);
            }
            if let Some(order) = &d.order {
                let json = serde_json::to_string(order).expect("an order always serializes");
                put_str(&mut out, &json);
            }
        }
        out
    }

    fn decode_page(value: &[u8]) -> Result<(u64, Vec<Self>), String> {
        match value.first() {
            Some(b'{') => decode_json_page(value),
            // Each decision takes at least 18 bytes.
            Some(&DECISION_PAGE_BINARY) => decode_binary(&value[1..], 18, |r| {
                let at = r.u64()?;
                let outcome = r.u8()?;
                let outcome =
                    byte_outcome(outcome).ok_or_else(|| format!("unknown outcome {outcome}"))?;
                let reason = r.str()?.to_string();
                let ids = r.u32()? as usize;
                if ids > r.0.len() / 8 {
                    return Err(format!("a decision claims {ids} message ids"));
                }
                let mut message_ids = Vec::with_capacity(ids);
                for _ in 0..ids {
                    message_ids.push(r.u64()?);
                }
                let flags = r.u8()?;
                let detail = match flags & 1 {
                    0 => None,
                    _ => Some(r.str()?.to_string()),
                };
                let order = match flags & 2 {
                    0 => None,
                    _ => Some(Box::new(
                        serde_json::from_str(r.str()?).map_err(|e| e.to_string())?,
                    )),
                };
                Ok(DecisionRecord {
                    at,
                    outcome,
                    reason,
                    message_ids,
                    detail,
                    order,
                })
            }),
            _ => Err("not a decision page".into()),
        }
    }
}

/// History pages are binary: texts are most of a session's bytes and reading them back is
/// most of what waking a long ticket costs. A page is its format byte, the first sequence
/// number (u64) and the count (u32), then per entry: role (0 customer, 1 AI), `at` (u64), a
/// flags byte (1: a message id follows as u64, 2: an external id follows), then the external
/// id and the text, each as a u32 length and UTF-8 bytes; integers big-endian. A page that
/// starts with `{` is JSON, as pages were first written.
const HISTORY_PAGE_BINARY: u8 = 1;

impl Piece for HistoryEntry {
    fn encode_page(first: u64, items: &[&Self]) -> Vec<u8> {
        let size: usize = items
            .iter()
            .map(|e| 26 + e.text.len() + e.external_id.as_ref().map_or(0, |x| 4 + x.len()))
            .sum();
        let mut out = Vec::with_capacity(13 + size);
        page_frame(&mut out, HISTORY_PAGE_BINARY, first, items.len());
        for e in items {
            out.push(match e.role {
                Role::Customer => 0,
                Role::Ai => 1,
            });
            out.extend_from_slice(&e.at.to_be_bytes());
            out.push(u8::from(e.message_id.is_some()) | u8::from(e.external_id.is_some()) << 1);
            if let Some(id) = e.message_id {
                out.extend_from_slice(&id.to_be_bytes());
            }
            if let Some(x) = &e.external_id {
                put_str(&mut out, x);
            }
            put_str(&mut out, &e.text);
        }
        out
    }

    fn decode_page(value: &[u8]) -> Result<(u64, Vec<Self>), String> {
        match value.first() {
            Some(b'{') => decode_json_page(value),
            // Each entry takes at least 14 bytes.
            Some(&HISTORY_PAGE_BINARY) => decode_binary(&value[1..], 14, |r| {
                let role = match r.u8()? {
                    0 => Role::Customer,
                    1 => Role::Ai,
                    other => return Err(format!("unknown role {other}")),
                };
                let at = r.u64()?;
                let flags = r.u8()?;
                let message_id = match flags & 1 {
                    0 => None,
                    _ => Some(r.u64()?),
                };
                let external_id = match flags & 2 {
                    0 => None,
                    _ => Some(r.str()?.into()),
                };
                let text = r.str()?.into();
                Ok(HistoryEntry {
                    role,
                    text,
                    message_id,
                    external_id,
                    at,
                })
            }),
            _ => Err("not a history page".into()),
        }
    }
}

/// A binary page's frame: its format byte, the first item's sequence number, the item count.
fn page_frame(out: &mut Vec<u8>, format: u8, first: u64, count: usize) {
    out.push(format);
    out.extend_from_slice(&first.to_be_bytes());
    out.extend_from_slice(&(count as u32).to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Reads a binary page after its format byte: the frame, then `item` for each of its items
/// (each at least `min_item` bytes, so a count beyond what the page holds is damage); every
/// byte must be used.
fn decode_binary<T>(
    bytes: &[u8],
    min_item: usize,
    item: impl Fn(&mut Reader<'_>) -> Result<T, String>,
) -> Result<(u64, Vec<T>), String> {
    let mut r = Reader(bytes);
    let first = r.u64()?;
    let count = r.u32()? as usize;
    if count > bytes.len() / min_item {
        return Err(format!("the page claims {count} items"));
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        items.push(item(&mut r)?);
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the last item", r.0.len()));
    }
    Ok((first, items))
}

/// Reads a binary page front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the page ends early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(word))
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| "a text is not UTF-8".to_string())
    }
}

/// The page starting at `page` of a list whose item at sequence `from` is `list[0]`: the items
/// of the list in `page..page + PAGE`.
pub fn encode_page<'a, T: Piece + 'a>(
    page: u64,
    from: u64,
    list: impl IntoIterator<Item = &'a T>,
) -> Vec<u8> {
    let first = page.max(from);
    let items: Vec<&T> = list
        .into_iter()
        .skip((first - from) as usize)
        .take((page + PAGE - first) as usize)
        .collect();
    T::encode_page(first, &items)
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
    /// Stored one key per item (head version 2), not in pages.
    pub item_keys: bool,
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
    if h.v != VERSION && h.v != VERSION_ITEM_KEYS {
        return Err(corrupt(
            ticket_id,
            "session",
            format!("layout version {} is not one this version reads", h.v),
        ));
    }
    let item_keys = h.v == VERSION_ITEM_KEYS;
    let ranges = PieceRanges {
        history: 0..h.history_len as u64,
        decisions: h.decisions_from..h.decisions_from + h.decisions_len as u64,
        item_keys,
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
            layout_before: item_keys,
        },
    };
    Ok((session, Some(ranges)))
}

/// The keys holding the items of `range`: its pages (or, one key per item, the items).
pub fn piece_keys(
    ticket_id: u64,
    range: &std::ops::Range<u64>,
    item_keys: bool,
) -> std::ops::Range<Vec<u8>> {
    let start = if item_keys {
        range.start
    } else {
        page_of(range.start)
    };
    piece_key(ticket_id, start)..piece_key(ticket_id, range.end)
}

/// Decodes the pieces read for `range` (key, value in key order) into `T`s; every sequence
/// number of the range must be there. Items outside the range are skipped: the dropped front of
/// a first page, and items a page was written with before its head (a commit writes pages
/// first).
pub fn decode_pieces<T: Piece + serde::de::DeserializeOwned>(
    ticket_id: u64,
    what: &str,
    range: &std::ops::Range<u64>,
    item_keys: bool,
    pieces: impl IntoIterator<Item = Result<(sled::IVec, sled::IVec), StoreError>>,
) -> Result<Vec<T>, StoreError> {
    // Room for the items the turn that woke the ticket will add, so they do not copy the list.
    let mut out = Vec::with_capacity((range.end - range.start) as usize + 4);
    let mut expected = range.start;
    fn json<U: serde::de::DeserializeOwned>(
        ticket_id: u64,
        what: &str,
        v: &[u8],
    ) -> Result<U, StoreError> {
        serde_json::from_slice(v).map_err(|e| corrupt(ticket_id, what, e))
    }
    'pieces: for piece in pieces {
        let (k, v) = piece?;
        let (first, items) = if item_keys {
            let Some(seq) = piece_seq(&k) else { break };
            (seq, vec![json(ticket_id, what, &v)?])
        } else {
            T::decode_page(&v).map_err(|reason| corrupt(ticket_id, what, reason))?
        };
        for (i, item) in (0u64..).zip(items) {
            let Some(seq) = first.checked_add(i) else {
                break 'pieces;
            };
            if seq < expected {
                continue;
            }
            if seq != expected || seq >= range.end {
                break 'pieces;
            }
            out.push(item);
            expected += 1;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of numbers, in JSON, to show the paging itself.
    impl Piece for u64 {
        fn encode_page(first: u64, items: &[&Self]) -> Vec<u8> {
            serde_json::to_vec(&serde_json::json!({ "first": first, "items": items })).unwrap()
        }

        fn decode_page(value: &[u8]) -> Result<(u64, Vec<Self>), String> {
            decode_json_page(value)
        }
    }

    fn read(range: std::ops::Range<u64>, pages: &[(u64, &str)]) -> Result<Vec<u64>, StoreError> {
        let pieces = pages.iter().map(|(page, value)| {
            Ok((
                sled::IVec::from(piece_key(1, *page)),
                sled::IVec::from(value.as_bytes()),
            ))
        });
        decode_pieces(1, "history", &range, false, pieces)
    }

    #[test]
    fn a_page_holds_the_items_of_its_sixteen_sequence_numbers() {
        let list: Vec<u64> = (100..140).collect();
        let page = encode_page(16, 0, &list);
        assert_eq!(
            String::from_utf8(page).unwrap(),
            format!(
                "{{\"first\":16,\"items\":{:?}}}",
                (116..132).collect::<Vec<_>>()
            )
            .replace(' ', "")
        );
        // A list whose front was dropped: its first kept item is sequence 20.
        let kept: VecDeque<u64> = (0..5).collect();
        assert_eq!(
            String::from_utf8(encode_page(16, 20, &kept)).unwrap(),
            r#"{"first":20,"items":[0,1,2,3,4]}"#
        );
    }

    #[test]
    fn reading_pages_skips_items_outside_the_heads_range_and_finds_gaps() {
        let pages = [
            (0, r#"{"first":3,"items":[3,4,5]}"#),
            (16, r#"{"first":16,"items":[16,17,18]}"#),
        ];
        // Items before the range (dropped) and after it (written before their head) are not read.
        assert_eq!(read(4..5, &pages[..1]).unwrap(), [4]);
        let e = read(4..17, &pages).unwrap_err();
        assert!(e.to_string().contains("2 of 13 entries"), "{e}");
        let e = read(0..2, &pages[..1]).unwrap_err();
        assert!(e.to_string().contains("0 of 2"), "{e}");
        // A page claiming a first item at the end of the numbers is damage, not a panic.
        let absurd = [(0, r#"{"first":18446744073709551615,"items":[1,2]}"#)];
        assert!(read(0..2, &absurd).unwrap_err().is_damage());
    }

    fn entry(
        role: Role,
        text: &str,
        message_id: Option<u64>,
        external_id: Option<&str>,
    ) -> HistoryEntry {
        HistoryEntry {
            role,
            text: text.into(),
            message_id,
            external_id: external_id.map(Into::into),
            at: 1_700_000_000,
        }
    }

    #[test]
    fn history_pages_are_binary_and_read_back_whole_and_json_pages_still_read() {
        let list = vec![
            entry(Role::Customer, "Où est ma commande ? 📦", Some(601), None),
            entry(Role::Ai, "", None, Some("gorgias-agent:78:1")),
            entry(
                Role::Ai,
                "It shipped.",
                Some(9101),
                Some("gorgias-agent:78:2"),
            ),
        ];
        let page = encode_page(0, 0, &list);
        assert_eq!(page[0], HISTORY_PAGE_BINARY);
        assert_eq!(HistoryEntry::decode_page(&page).unwrap(), (0, list.clone()));
        let json =
            r#"{"first":16,"items":[{"role":"customer","text":"hi","message_id":7,"at":5}]}"#;
        let (first, items) = HistoryEntry::decode_page(json.as_bytes()).unwrap();
        assert_eq!(first, 16);
        assert_eq!(&*items[0].text, "hi");
    }

    #[test]
    fn a_damaged_history_page_is_an_error_never_a_panic() {
        let list = vec![entry(Role::Customer, "hello", Some(1), Some("x"))];
        let page = encode_page(0, 0, &list);
        for cut in 0..page.len() {
            assert!(
                HistoryEntry::decode_page(&page[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut extra = page.clone();
        extra.push(0);
        assert!(HistoryEntry::decode_page(&extra).is_err());
        let mut bad_role = page.clone();
        bad_role[13] = 9;
        assert!(HistoryEntry::decode_page(&bad_role)
            .unwrap_err()
            .contains("role"));
        let mut not_utf8 = page.clone();
        let last = not_utf8.len() - 1;
        not_utf8[last] = 0xff;
        assert!(HistoryEntry::decode_page(&not_utf8)
            .unwrap_err()
            .contains("UTF-8"));
        let mut absurd = page;
        absurd[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(HistoryEntry::decode_page(&absurd).is_err());
    }

    fn decisions() -> Vec<DecisionRecord> {
        let order = serde_json::from_str(
            r##"{"name":"#1001","number":1001,"status":"in_transit","carrier":"UPS","items":[]}"##,
        )
        .unwrap();
        vec![
            DecisionRecord {
                at: 1_700_000_005,
                outcome: DecisionOutcome::Replied,
                reason: "answered".into(),
                message_ids: vec![601, 602],
                detail: Some("knowledge base: shipping; «répondu»".into()),
                order: Some(order),
            },
            DecisionRecord {
                at: 1_700_000_006,
                outcome: DecisionOutcome::ActionFailed,
                reason: "delivery_failed".into(),
                message_ids: vec![],
                detail: None,
                order: None,
            },
        ]
    }

    #[test]
    fn decision_pages_are_binary_and_read_back_whole_and_json_pages_still_read() {
        let list = decisions();
        let page = encode_page(32, 32, &list);
        assert_eq!(page[0], DECISION_PAGE_BINARY);
        assert_eq!(
            DecisionRecord::decode_page(&page).unwrap(),
            (32, list.clone())
        );
        let every = [
            DecisionOutcome::Replied,
            DecisionOutcome::HandedOff,
            DecisionOutcome::Ignored,
            DecisionOutcome::Resumed,
            DecisionOutcome::ActionFailed,
        ];
        for outcome in every {
            assert_eq!(byte_outcome(outcome_byte(outcome)), Some(outcome));
        }
        let json = r#"{"first":0,"items":[{"at":5,"outcome":"handed_off","reason":"no_answer"}]}"#;
        let (_, items) = DecisionRecord::decode_page(json.as_bytes()).unwrap();
        assert_eq!(items[0].outcome, DecisionOutcome::HandedOff);
    }

    #[test]
    fn a_damaged_decision_page_is_an_error_never_a_panic() {
        let page = encode_page(0, 0, &decisions());
        for cut in 0..page.len() {
            assert!(
                DecisionRecord::decode_page(&page[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut bad_outcome = page.clone();
        bad_outcome[21] = 9;
        let e = DecisionRecord::decode_page(&bad_outcome).unwrap_err();
        assert!(e.contains("outcome"), "{e}");
        let mut many_ids = page;
        // The first decision's message-id count, after its `at`, outcome and reason.
        many_ids[34..38].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(DecisionRecord::decode_page(&many_ids)
            .unwrap_err()
            .contains("message ids"));
    }
}
