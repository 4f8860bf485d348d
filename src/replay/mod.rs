//! Replay: past tickets through the production path, offline, to see what the AI would have
//! done. Each ticket's messages go, in order, through the very [`Intake`] `serve` uses (filters,
//! handed-off check, dedup, storage) and each accepted message through the very
//! [`turn::run`] a ticket actor runs (guardrails, the configured brain, planning,
//! `max_ai_replies`), awaited here instead of woken. Only three things differ, each said here:
//! every ticket counts as assigned to the AI user (unless `respect_assignment`), storage is a
//! scratch store in a temporary directory, and delivery records what it would have posted
//! instead of calling Gorgias. Turns are planned as `live` would plan them.
//!
//! [`input`] reads the tickets, [`fetch`] reads them from Gorgias, [`report`] renders the result.

pub mod fetch;
pub mod input;
pub mod report;

use std::path::Path;
use std::rc::Rc;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Settings, Topic};
use crate::dedup::DedupActor;
use crate::domain::outcome::IgnoreReason;
use crate::domain::plan::Mode;
use crate::domain::session::{ActionKind, Session};
use crate::gorgias::api::Sender;
use crate::intake::{Intake, IntakeResult};
use crate::metrics::Metrics;
use crate::server::{filter_rules, turn_context, StartError};
use crate::store::{Store, StoreError};
use crate::tickets::delivery::{Delivery, Recording};
use crate::tickets::turn::{self, TurnContext, TurnEnd};
use input::{PastTicket, Tickets};
use report::{Report, TicketResult, TurnResult};

/// Progress is drawn for runs of more tickets than this.
const PROGRESS_ABOVE: usize = 5;

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Keep the assignment rule: tickets not assigned to the AI user are ignored.
    pub respect_assignment: bool,
    /// How many tickets are replayed at once (model calls take seconds each).
    pub concurrency: usize,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

/// Why a replay could not run; `exit_code` is the command's.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Input(#[from] input::InputError),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error("cannot set up the replay: {0}")]
    Setup(String),
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
}

impl ReplayError {
    /// 2 for input replay cannot use (an unreadable file, no credentials), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReplayError::Input(_) | ReplayError::Fetch(fetch::FetchError::NoCredentials(_)) => 2,
            _ => 1,
        }
    }
}

impl From<StartError> for ReplayError {
    fn from(e: StartError) -> Self {
        ReplayError::Setup(e.to_string())
    }
}

impl From<StoreError> for ReplayError {
    fn from(e: StoreError) -> Self {
        ReplayError::Setup(e.to_string())
    }
}

/// Replays tickets on a store of its own; lives on one actix system.
pub struct Replayer {
    intake: Intake,
    cx: Rc<TurnContext>,
    recording: Recording,
    ai_user_id: u64,
    respect_assignment: bool,
    topics: Vec<Topic>,
}

impl Replayer {
    /// The production intake and turn context over `store`, with a recording delivery.
    pub fn new(
        settings: &Settings,
        store: Store,
        respect_assignment: bool,
    ) -> Result<Replayer, StartError> {
        let metrics = Metrics::new();
        // The window restored from the scratch store; a replay ends long before pruning it
        // would matter, so no actor prunes it.
        let shared_dedup = DedupActor::new(store.clone(), settings.dedup.window_secs).shared();
        let (delivery, recording) = Delivery::recording(Sender::from_settings(&settings.gorgias));
        let cx = turn_context(
            settings,
            store.clone(),
            Mode::Live,
            delivery,
            metrics.clone(),
        )?;
        Ok(Replayer {
            intake: Intake::caller_driven(filter_rules(settings), store, shared_dedup, metrics),
            cx: Rc::new(cx),
            recording,
            ai_user_id: settings.gorgias.ai_user_id,
            respect_assignment,
            topics: settings.autopilot.topics.clone(),
        })
    }

    /// The configured brain's name, for the report.
    pub fn brain(&self) -> &'static str {
        self.cx.brain.name()
    }

    /// Replays one ticket: its messages in order, each accepted one's turn awaited; a handoff
    /// ends the ticket.
    pub async fn replay(&self, ticket: &PastTicket) -> TicketResult {
        let mut turns = Vec::new();
        let mut first_ignored = None;
        for event in &ticket.events {
            let mut event = event.clone();
            if !self.respect_assignment {
                event.ticket.assignee_user_id = Some(self.ai_user_id);
            }
            let customer = event
                .message
                .as_ref()
                .map(|m| m.text.clone())
                .unwrap_or_default();
            let turn = |outcome: &str, reason: &str| TurnResult {
                customer: customer.clone(),
                outcome: outcome.to_string(),
                reason: reason.to_string(),
                topic: None,
                reply: None,
                detail: None,
            };
            let result = match self.intake.offer(&event).await {
                Ok(result) => result,
                Err(rejected) => {
                    turns.push(turn("ignored", rejected.code()));
                    continue;
                }
            };
            match result {
                IntakeResult::Accepted { ticket_id, .. } => {
                    let done = self.run_turn(ticket_id, customer.clone()).await;
                    let ended = done.outcome == "handed_off" || done.outcome == "error";
                    turns.push(done);
                    if ended {
                        break;
                    }
                }
                // The human agents' own messages are what the AI's replies stand in for: not
                // turns, but they say why a ticket of nothing else is ignored.
                IntakeResult::Ignored {
                    reason: IgnoreReason::AgentMessage,
                    ..
                } => {
                    first_ignored.get_or_insert(IgnoreReason::AgentMessage.code());
                }
                IntakeResult::Ignored { reason, .. } => turns.push(turn("ignored", reason.code())),
                IntakeResult::Duplicate { .. } => turns.push(turn("duplicate", "redelivery")),
                IntakeResult::Unavailable { cause, .. } => {
                    turns.push(turn("error", cause.code()));
                    break;
                }
            }
        }
        TicketResult::from_turns(
            ticket.ticket_id,
            ticket.line,
            turns,
            ticket.human_reply.clone(),
            first_ignored.unwrap_or(IgnoreReason::NoMessage.code()),
        )
    }

    /// Runs the ticket's turn as its actor would (the stored session, or a new one) and reads
    /// what it decided and would have posted.
    async fn run_turn(&self, ticket_id: u64, customer: String) -> TurnResult {
        let mut result = TurnResult {
            customer,
            outcome: "error".into(),
            reason: "storage".into(),
            topic: None,
            reply: None,
            detail: None,
        };
        let session = match self.cx.store.load_session(ticket_id) {
            Ok(session) => session.unwrap_or_else(|| Session::new(ticket_id)),
            Err(e) => {
                result.detail = Some(e.to_string());
                return result;
            }
        };
        let before = session.decisions.back().cloned();
        let (session, end) = turn::run(self.cx.clone(), session).await;
        let posted = self.recording.take(ticket_id);
        if end != TurnEnd::Idle {
            result.detail = Some("a write to the scratch store failed".into());
            return result;
        }
        let Some(decision) = session
            .decisions
            .back()
            .filter(|d| Some(*d) != before.as_ref())
        else {
            result.outcome = "ignored".into();
            result.reason = "nothing_to_answer".into();
            return result;
        };
        let replies: Vec<&str> = posted
            .iter()
            .filter_map(|a| match a {
                ActionKind::Reply { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        result.outcome = decision.outcome.code().to_string();
        result.reason = decision.reason.clone();
        result.detail = decision.detail.clone();
        result.topic = decision
            .detail
            .as_deref()
            .and_then(|d| topic_named(d, &self.topics));
        result.reply = (!replies.is_empty()).then(|| replies.join("\n\n"));
        result
    }

    /// Replays `tickets`, `concurrency` at a time, results in input order.
    pub async fn replay_all(
        &self,
        tickets: &[PastTicket],
        concurrency: usize,
        progress: bool,
    ) -> Vec<TicketResult> {
        let bar = if progress && tickets.len() > PROGRESS_ABOVE {
            let bar = ProgressBar::new(tickets.len() as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "replaying {bar:40} {pos}/{len} tickets ({per_sec}, {eta} left)",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let results = futures_util::stream::iter(tickets)
            .map(|t| self.replay(t))
            .buffered(concurrency.max(1))
            .inspect(|_| bar.inc(1))
            .collect()
            .await;
        bar.finish_and_clear();
        results
    }
}

/// The configured topic a decision's detail names (brains quote the name, `"returns"`).
pub fn topic_named(detail: &str, topics: &[Topic]) -> Option<String> {
    topics
        .iter()
        .filter_map(|t| detail.find(&format!("{:?}", t.name)).map(|at| (at, t)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, t)| t.name.clone())
}

/// Replays `tickets` with `settings` on a scratch store under `scratch_dir` (which the caller
/// deletes afterwards); the configured storage is never opened.
pub async fn run(
    settings: &Settings,
    tickets: Tickets,
    scratch_dir: &Path,
    options: &ReplayOptions,
) -> Result<Report, ReplayError> {
    let store = Store::open_scratch(&scratch_dir.join("replay.sled"))?;
    let replayer = Replayer::new(settings, store, options.respect_assignment)?;
    let results = replayer
        .replay_all(&tickets.tickets, options.concurrency, options.progress)
        .await;
    Ok(Report::new(
        results,
        tickets.unreadable,
        replayer.brain(),
        options.respect_assignment,
    ))
}

/// Writes `report` where asked: `--json`, `--html`.
pub fn write_outputs(
    report: &Report,
    json: Option<&Path>,
    html: Option<&Path>,
) -> Result<(), ReplayError> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| ReplayError::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report).map_err(|e| ReplayError::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        write(path, text + "\n")?;
    }
    if let Some(path) = html {
        write(path, report.html())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> Topic {
        serde_json::from_value(serde_json::json!({ "name": name })).unwrap()
    }

    #[test]
    fn the_topic_is_the_configured_name_the_detail_quotes_first() {
        let topics = [topic("order"), topic("order-status"), topic("returns")];
        assert_eq!(
            topic_named("matched \"order-status\" (score 2.10)", &topics).as_deref(),
            Some("order-status")
        );
        assert_eq!(
            topic_named(
                "topic \"returns\" is handled by humans, not \"order\"",
                &topics
            )
            .as_deref(),
            Some("returns")
        );
        assert_eq!(topic_named("no good match", &topics), None);
    }
}
