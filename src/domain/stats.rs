//! The operator console's figures as pure rules: what one committed step of a ticket adds to
//! the hourly counters (by comparing the session before and after the step), and how hourly
//! counters add up to a window's figures (sums, automation rate, first-reply percentiles).
//!
//! Design: counters are kept per hour (a 24-hour window is then exact; a day is 24 hours), as
//! deltas added to `(hour, counter)` keys. A step's deltas are committed in the same commit as
//! the session they describe, and storage applies every delta on its single committer thread,
//! so concurrent tickets never lose each other's updates and no read-modify-write races exist.
//! Per-ticket facts that need memory across steps (when the first message was accepted, whether
//! the first reply is already counted) live in the ticket's [`TicketSummary`], which only the
//! ticket's own turns write. Percentiles come from a bounded histogram per hour (8 buckets per
//! doubling: about 9% resolution), so a window reads at most `hours × (counters + buckets)` keys,
//! whatever the number of stored sessions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::outcome::DecisionOutcome;
use super::plan::Mode;
use super::session::{ActionKind, Role, Session, SessionState};

/// Counter names (the key suffix after the hour).
pub const CONVERSATIONS: &str = "conversations";
pub const AI_REPLIES: &str = "ai_replies";
pub const DRAFTS: &str = "drafts";
/// Tickets (by the hour they started) that the AI answered and that were never handed off.
pub const AUTOMATED: &str = "automated";
pub const GORGIAS_ERRORS: &str = "gorgias_errors";
pub const RETRIES: &str = "retries";
pub const ACTIONS_FAILED: &str = "actions_failed";
/// `handoff:<reason>`.
pub const HANDOFF_PREFIX: &str = "handoff:";
/// `frt:<bucket>`: first replies whose time falls in the bucket.
pub const FIRST_REPLY_PREFIX: &str = "frt:";

/// Buckets per doubling of the first-reply histogram, and the number of buckets.
const BUCKETS_PER_OCTAVE: f64 = 8.0;
pub const BUCKETS: u32 = 256;

/// The hour (since the unix epoch) a unix-seconds instant falls in.
pub fn hour_of(secs: u64) -> u32 {
    (secs / 3600) as u32
}

/// The histogram bucket of a duration in milliseconds.
pub fn bucket_of(ms: u64) -> u32 {
    let b = (BUCKETS_PER_OCTAVE * ((ms as f64) + 1.0).log2()).floor() as u32;
    b.min(BUCKETS - 1)
}

/// The largest duration (ms) in a bucket: what a percentile falling in it reports.
pub fn bucket_upper_ms(bucket: u32) -> u64 {
    (2f64.powf((bucket as f64 + 1.0) / BUCKETS_PER_OCTAVE) - 1.0).floor() as u64
}

/// One ticket as the console lists it; kept beside the session, written by the ticket's turns.
/// Holds no customer text or address (the list shows ids, channel, state and reasons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSummary {
    pub ticket_id: u64,
    pub state: SessionState,
    pub channel: String,
    /// Unix seconds of the first customer message taken into the session.
    pub started_at: u64,
    pub updated_at: u64,
    /// When intake accepted the first customer message (unix ms), for the first-reply time.
    #[serde(default)]
    pub first_accepted_ms: Option<u64>,
    /// The first reply's time, once delivered (ms from acceptance).
    #[serde(default)]
    pub first_reply_ms: Option<u64>,
    /// The latest decision's outcome and reason codes.
    pub last_outcome: Option<String>,
    pub last_reason: Option<String>,
    /// The reason of the latest handoff, while handed off.
    pub handoff_reason: Option<String>,
    pub customer_messages: u32,
    pub ai_replies: u32,
}

/// The console list's filters (each optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub state: Option<SessionState>,
    /// A handoff reason code: tickets handed off for it (and still handed off).
    pub reason: Option<String>,
    pub channel: Option<String>,
}

impl TicketFilter {
    pub fn matches(&self, s: &TicketSummary) -> bool {
        self.state.is_none_or(|st| st == s.state)
            && self
                .reason
                .as_ref()
                .is_none_or(|r| s.handoff_reason.as_ref() == Some(r))
            && self.channel.as_ref().is_none_or(|c| *c == s.channel)
    }
}

/// One counter change: `by` added to `counter` of `hour`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub hour: u32,
    pub counter: String,
    pub by: i64,
}

/// What a committed step is, for the counters.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub before: &'a Session,
    pub after: &'a Session,
    pub mode: Mode,
    pub now_ms: u64,
    /// The earliest intake acceptance (unix ms) of the messages this step took in.
    pub accepted_ms: Option<u64>,
}

fn automated(s: &Session) -> bool {
    s.history.iter().any(|e| e.role == Role::Ai)
        && !s
            .decisions
            .iter()
            .any(|d| d.outcome == DecisionOutcome::HandedOff)
}

fn ai_count(s: &Session) -> usize {
    s.history.iter().filter(|e| e.role == Role::Ai).count()
}

/// Whether an AI message of `s` reached its destination: its action left the outbox without
/// failing (in shadow mode the draft note carries the AI message's external id).
fn replies_done(s: &Session) -> usize {
    s.history
        .iter()
        .filter(|e| e.role == Role::Ai)
        .filter(|e| {
            let id = e.external_id.as_deref();
            !s.outbox.iter().any(|a| Some(a.external_id.as_str()) == id)
                && !s
                    .failed
                    .iter()
                    .any(|f| Some(f.action.external_id.as_str()) == id)
        })
        .count()
}

/// The new summary and the counter deltas of one committed step; `None` when the session has
/// no customer message yet (nothing to show or count).
pub fn observe(
    prev: Option<&TicketSummary>,
    step: Step<'_>,
) -> Option<(TicketSummary, Vec<Delta>)> {
    let Step {
        before,
        after,
        mode,
        now_ms,
        accepted_ms,
    } = step;
    let now = now_ms / 1000;
    let first_customer = after.history.iter().find(|e| e.role == Role::Customer)?;
    let hour = hour_of(now);
    let started_hour = hour_of(first_customer.at);
    let mut deltas = Vec::new();
    let mut add = |hour: u32, counter: String, by: i64| {
        if by != 0 {
            deltas.push(Delta { hour, counter, by });
        }
    };
    let is_new = prev.is_none() && !before.history.iter().any(|e| e.role == Role::Customer);
    if is_new {
        add(started_hour, CONVERSATIONS.into(), 1);
    }
    let new_replies = ai_count(after).saturating_sub(ai_count(before)) as i64;
    add(hour, AI_REPLIES.into(), new_replies);
    if mode != Mode::Live {
        add(hour, DRAFTS.into(), new_replies);
    }
    add(
        started_hour,
        AUTOMATED.into(),
        automated(after) as i64 - automated(before) as i64,
    );
    let handoff_reason = if after.is_handed_off() {
        after
            .decisions
            .iter()
            .rev()
            .find(|d| d.outcome == DecisionOutcome::HandedOff)
            .map(|d| d.reason.clone())
    } else {
        None
    };
    if after.is_handed_off() && !before.is_handed_off() {
        let reason = handoff_reason.clone().unwrap_or_else(|| "unknown".into());
        add(hour, format!("{HANDOFF_PREFIX}{reason}"), 1);
    }
    // Failed attempts: a head action's attempts grew (it will be retried), or an action was
    // given up on.
    let retried: u32 = after
        .outbox
        .iter()
        .map(|a| {
            let was = before
                .outbox
                .iter()
                .find(|b| b.external_id == a.external_id)
                .map_or(0, |b| b.attempts);
            a.attempts.saturating_sub(was)
        })
        .sum();
    let given_up = after
        .failed
        .iter()
        .filter(|f| {
            !before
                .failed
                .iter()
                .any(|b| b.action.external_id == f.action.external_id)
        })
        .count() as i64;
    add(hour, RETRIES.into(), retried as i64);
    add(hour, GORGIAS_ERRORS.into(), retried as i64 + given_up);
    add(hour, ACTIONS_FAILED.into(), given_up);

    let first_accepted_ms = prev
        .and_then(|p| p.first_accepted_ms)
        .or(accepted_ms)
        .or(Some(first_customer.at * 1000));
    let mut first_reply_ms = prev.and_then(|p| p.first_reply_ms);
    if first_reply_ms.is_none() && replies_done(after) > 0 && replies_done(before) == 0 {
        let ms = now_ms.saturating_sub(first_accepted_ms.unwrap_or(now_ms));
        first_reply_ms = Some(ms);
        add(hour, format!("{FIRST_REPLY_PREFIX}{}", bucket_of(ms)), 1);
    }
    let last = after.decisions.back();
    let summary = TicketSummary {
        ticket_id: after.ticket_id,
        state: after.state,
        channel: after
            .target
            .as_ref()
            .map(|t| t.channel.clone())
            .or_else(|| prev.map(|p| p.channel.clone()))
            .unwrap_or_default(),
        started_at: first_customer.at,
        updated_at: now,
        first_accepted_ms,
        first_reply_ms,
        last_outcome: last.map(|d| d.outcome.code().to_string()),
        last_reason: last.map(|d| d.reason.clone()),
        handoff_reason,
        customer_messages: after
            .history
            .iter()
            .filter(|e| e.role == Role::Customer)
            .count() as u32,
        ai_replies: ai_count(after) as u32,
    };
    Some((summary, deltas))
}

/// Whether an action is a draft the AI would have posted (shadow notes; dry-run replies).
pub fn is_draft(kind: &ActionKind, mode: Mode) -> bool {
    match (mode, kind) {
        (Mode::DryRun, ActionKind::Reply { .. }) => true,
        (Mode::Shadow, ActionKind::Note { text }) => text.starts_with("AI draft"),
        _ => false,
    }
}

/// A window of the overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Day,
    Week,
}

impl Window {
    pub fn parse(s: &str) -> Option<Window> {
        match s {
            "24h" => Some(Window::Day),
            "7d" => Some(Window::Week),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }
    pub fn hours(self) -> u32 {
        match self {
            Window::Day => 24,
            Window::Week => 24 * 7,
        }
    }
    /// The hours the window covers at `now` (unix seconds), both ends included.
    pub fn range(self, now: u64) -> (u32, u32) {
        let last = hour_of(now);
        (last.saturating_sub(self.hours() - 1), last)
    }
}

/// One UTC day of the per-day series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DayFigures {
    /// Days since the unix epoch.
    pub day: u32,
    pub conversations: u64,
    pub ai_replies: u64,
    pub handoffs: u64,
}

/// The overview's figures for a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub window: &'static str,
    pub conversations: u64,
    pub ai_replies: u64,
    pub handoffs: BTreeMap<String, u64>,
    /// Conversations started in the window that the AI answered and never handed off.
    pub automated: u64,
    pub automation_rate: f64,
    pub first_reply_ms_p50: Option<u64>,
    pub first_reply_ms_p90: Option<u64>,
    pub drafts: u64,
    pub gorgias_errors: u64,
    pub retries: u64,
    pub actions_failed: u64,
    pub per_day: Vec<DayFigures>,
}

impl Figures {
    pub fn handoffs_total(&self) -> u64 {
        self.handoffs.values().sum()
    }
}

/// The `q` quantile (0..=1) of a histogram, as its bucket's upper bound.
pub fn percentile(histogram: &BTreeMap<u32, u64>, q: f64) -> Option<u64> {
    let total: u64 = histogram.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (&bucket, &n) in histogram {
        seen += n;
        if seen >= rank {
            return Some(bucket_upper_ms(bucket));
        }
    }
    None
}

/// Adds up the stored `(hour, counter, value)` rows that fall in `window` at `now` (unix
/// seconds). Rows outside the window are ignored, so callers may pass a wider range.
pub fn aggregate<'a>(
    rows: impl IntoIterator<Item = (u32, &'a str, i64)>,
    window: Window,
    now: u64,
) -> Figures {
    let (from, to) = window.range(now);
    let first_day = from / 24;
    let days = to / 24 - first_day + 1;
    let mut per_day: Vec<DayFigures> = (0..days)
        .map(|d| DayFigures {
            day: first_day + d,
            ..DayFigures::default()
        })
        .collect();
    let mut f = Figures {
        window: window.code(),
        ..Figures::default()
    };
    let mut histogram = BTreeMap::new();
    for (hour, counter, value) in rows {
        if hour < from || hour > to {
            continue;
        }
        let v = value.max(0) as u64;
        let day = &mut per_day[(hour / 24 - first_day) as usize];
        match counter {
            CONVERSATIONS => {
                f.conversations += v;
                day.conversations += v;
            }
            AI_REPLIES => {
                f.ai_replies += v;
                day.ai_replies += v;
            }
            DRAFTS => f.drafts += v,
            GORGIAS_ERRORS => f.gorgias_errors += v,
            RETRIES => f.retries += v,
            ACTIONS_FAILED => f.actions_failed += v,
            // A cohort's count may go down in a later hour's commit, never below zero overall.
            AUTOMATED => f.automated = (f.automated as i64 + value).max(0) as u64,
            other => {
                if let Some(reason) = other.strip_prefix(HANDOFF_PREFIX) {
                    *f.handoffs.entry(reason.to_string()).or_default() += v;
                    day.handoffs += v;
                } else if let Some(bucket) = other.strip_prefix(FIRST_REPLY_PREFIX) {
                    if let Ok(b) = bucket.parse::<u32>() {
                        *histogram.entry(b).or_default() += v;
                    }
                }
            }
        }
    }
    f.automated = f.automated.min(f.conversations);
    f.automation_rate = if f.conversations == 0 {
        0.0
    } else {
        f.automated as f64 / f.conversations as f64
    };
    f.first_reply_ms_p50 = percentile(&histogram, 0.5);
    f.first_reply_ms_p90 = percentile(&histogram, 0.9);
    f.per_day = per_day;
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::CustomerMessage;
    use crate::domain::outcome::HandoffReason;
    use crate::domain::plan::{Decision, HandoffRules, Planner};

    const T0: u64 = 1_780_000_000; // some instant, in unix seconds

    fn planner(mode: Mode) -> Planner {
        Planner {
            mode,
            handoff: HandoffRules {
                final_reply: "bye".into(),
                internal_note: false,
                user_id: None,
                team_id: None,
                tags: Default::default(),
                final_reply_offline: None,
            },
            reply: Default::default(),
            hours: None,
        }
    }

    fn at(secs: u64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs as i64).unwrap()
    }

    fn rows(deltas: &[Delta]) -> Vec<(u32, &str, i64)> {
        deltas
            .iter()
            .map(|d| (d.hour, d.counter.as_str(), d.by))
            .collect()
    }

    fn step<'a>(before: &'a Session, after: &'a Session, now: u64) -> Step<'a> {
        Step {
            before,
            after,
            mode: Mode::Live,
            now_ms: now * 1000,
            accepted_ms: Some(now * 1000),
        }
    }

    #[test]
    fn a_reply_counts_a_conversation_an_automated_ticket_and_its_first_reply_time() {
        let empty = Session::new(1);
        let mut taken = empty.clone();
        taken.accept(&CustomerMessage::sample(1, 10, "where is it?"), T0);
        let mut replied = taken.clone();
        planner(Mode::Live).apply(
            &mut replied,
            Decision::Reply {
                text: "on its way".into(),
                reason: "topic".into(),
            },
            &[10],
            at(T0),
        );
        let mut s = step(&empty, &replied, T0);
        s.accepted_ms = Some(T0 * 1000 - 1500);
        let (summary, deltas) = observe(None, s).unwrap();
        let f = aggregate(rows(&deltas), Window::Day, T0);
        assert_eq!((f.conversations, f.ai_replies, f.automated), (1, 1, 1));
        assert_eq!(f.first_reply_ms_p50, None, "not delivered yet");
        // Delivery: the outbox empties; the first reply took 1.5 s + 2 s.
        let mut delivered = replied.clone();
        delivered.complete_head(Some(77));
        let (summary2, deltas2) =
            observe(Some(&summary), step(&replied, &delivered, T0 + 2)).unwrap();
        assert_eq!(summary2.first_reply_ms, Some(3500));
        let all: Vec<Delta> = deltas.into_iter().chain(deltas2).collect();
        let f = aggregate(rows(&all), Window::Day, T0 + 2);
        let p50 = f.first_reply_ms_p50.unwrap();
        assert_eq!(bucket_of(p50), bucket_of(3500));
        assert!((3500..=3500 * 110 / 100).contains(&p50), "{p50}");
        assert_eq!(f.automation_rate, 1.0);
        assert_eq!(f.conversations, 1, "a later step is not a new conversation");
    }

    #[test]
    fn a_handoff_after_a_reply_is_counted_by_reason_and_undoes_the_automation() {
        let mut s0 = Session::new(2);
        s0.accept(&CustomerMessage::sample(2, 1, "hi"), T0);
        let mut s1 = s0.clone();
        planner(Mode::Live).apply(
            &mut s1,
            Decision::Reply {
                text: "hello".into(),
                reason: "t".into(),
            },
            &[1],
            at(T0),
        );
        let (sum1, d1) = observe(None, step(&Session::new(2), &s1, T0)).unwrap();
        let mut s2 = s1.clone();
        s2.accept(&CustomerMessage::sample(2, 2, "a human please"), T0 + 7200);
        planner(Mode::Live).apply(
            &mut s2,
            Decision::handoff(HandoffReason::CustomerAskedForHuman, "asked"),
            &[2],
            at(T0 + 7200),
        );
        let (sum2, d2) = observe(Some(&sum1), step(&s1, &s2, T0 + 7200)).unwrap();
        assert_eq!(
            sum2.handoff_reason.as_deref(),
            Some("customer_asked_for_human")
        );
        assert_eq!(sum2.state, SessionState::HandedOff);
        let all: Vec<Delta> = d1.into_iter().chain(d2).collect();
        let f = aggregate(rows(&all), Window::Day, T0 + 7200);
        assert_eq!(f.handoffs.get("customer_asked_for_human"), Some(&1));
        assert_eq!((f.conversations, f.automated), (1, 0));
        assert_eq!(f.automation_rate, 0.0);
        assert_eq!(f.ai_replies, 2, "the final reply is an AI message too");
    }

    #[test]
    fn windows_take_only_their_hours_and_days_split_the_series() {
        let now = T0 - T0 % 86400 + 12 * 3600; // noon UTC
        let h = hour_of(now);
        let rows = vec![
            (h, CONVERSATIONS, 2),
            (h - 23, CONVERSATIONS, 3),
            (h - 24, CONVERSATIONS, 5), // outside 24h, inside 7d
            (h - 24 * 7 + 1, CONVERSATIONS, 7),
            (h - 24 * 7, CONVERSATIONS, 11), // outside both
            (h, AUTOMATED, 4),
            (h - 30, "handoff:no_answer", 1),
        ];
        let day = aggregate(rows.clone(), Window::Day, now);
        assert_eq!(day.conversations, 5);
        assert_eq!(day.automation_rate, 0.8);
        assert!(day.handoffs.is_empty());
        let week = aggregate(rows, Window::Week, now);
        assert_eq!(week.conversations, 17);
        assert_eq!(week.handoffs_total(), 1);
        assert_eq!(
            week.per_day.len(),
            8,
            "a 168-hour window at noon touches 8 UTC days"
        );
        assert_eq!(week.per_day.last().unwrap().conversations, 2);
        assert_eq!(
            week.per_day.iter().map(|d| d.conversations).sum::<u64>(),
            17
        );
    }

    #[test]
    fn percentiles_come_from_the_histogram_within_a_bucket() {
        let mut hist = BTreeMap::new();
        for ms in (1..=100u64).map(|i| i * 100) {
            *hist.entry(bucket_of(ms)).or_default() += 1;
        }
        let p50 = percentile(&hist, 0.5).unwrap();
        let p90 = percentile(&hist, 0.9).unwrap();
        assert_eq!(bucket_of(p50), bucket_of(5000));
        assert_eq!(bucket_of(p90), bucket_of(9000));
        assert!((5000..5500).contains(&p50), "{p50}");
        assert_eq!(percentile(&BTreeMap::new(), 0.5), None);
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn drafts_are_counted_outside_live_mode_and_retries_from_the_outbox() {
        let mut s0 = Session::new(3);
        s0.accept(&CustomerMessage::sample(3, 1, "hi"), T0);
        let mut s1 = s0.clone();
        planner(Mode::Shadow).apply(
            &mut s1,
            Decision::Reply {
                text: "hello".into(),
                reason: "t".into(),
            },
            &[1],
            at(T0),
        );
        let mut st = step(&s0, &s1, T0);
        st.mode = Mode::Shadow;
        let (_, d1) = observe(None, st).unwrap();
        let mut s2 = s1.clone();
        s2.outbox[0].attempts = 2;
        let (_, d2) = observe(None, step(&s1, &s2, T0)).unwrap();
        let all: Vec<Delta> = d1.into_iter().chain(d2).collect();
        let f = aggregate(rows(&all), Window::Day, T0);
        assert_eq!((f.drafts, f.retries, f.gorgias_errors), (1, 2, 2));
        assert!(is_draft(&s1.outbox[0].kind, Mode::Shadow));
    }
}
