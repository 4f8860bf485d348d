//! One ticket's actor: owns the session, runs one turn at a time (wake-ups during a turn are
//! coalesced into the next turn, which answers everything that arrived meanwhile), schedules
//! retries, and asks its owner (the supervisor, through a `Recipient<Passivate>`) to be stopped
//! when idle.

use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::turn::{self, TurnContext, TurnEnd};
use crate::domain::outcome::{DecisionOutcome, DecisionReason};
use crate::domain::session::{Session, StateError};
use crate::store::Write;
use crate::time::now_secs;

/// New work may be waiting in the inbox: run a turn (or one more after the current one).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

/// An idle actor asks its owner to be stopped; `true` means it has been forgotten and must stop
/// now.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Passivate {
    pub ticket_id: u64,
    pub addr: Addr<TicketActor>,
}

/// The ticket's data is being erased: stop now, dropping the in-memory session and any turn in
/// progress, so nothing it still owed is posted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Erase;

/// Make a handed-off session active again (an operator's decision).
#[derive(Message)]
#[rtype(result = "Result<Session, ResumeError>")]
pub struct Resume {
    pub by: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot store the resumed session: {0}")]
    Store(String),
    #[error("the ticket is busy; try again")]
    Busy,
}

pub struct TicketActor {
    ticket_id: u64,
    session: Session,
    cx: Rc<TurnContext>,
    owner: Recipient<Passivate>,
    idle_timeout: Duration,
    turn_running: bool,
    wake_pending: bool,
    retry_scheduled: Option<SpawnHandle>,
    last_activity: Instant,
}

impl TicketActor {
    pub fn new(
        mut session: Session,
        cx: Rc<TurnContext>,
        owner: Recipient<Passivate>,
        idle_timeout: Duration,
    ) -> TicketActor {
        // Hydrated with undelivered actions means the previous process stopped mid-delivery,
        // and delivery progress is stored per batch: any of them may have reached Gorgias, so
        // each is looked up before being posted again (after `in_doubt_delay`, see `started`).
        for action in session.outbox.iter_mut() {
            action.maybe_sent = true;
        }
        TicketActor {
            ticket_id: session.ticket_id,
            session,
            cx,
            owner,
            idle_timeout,
            turn_running: false,
            wake_pending: false,
            retry_scheduled: None,
            last_activity: Instant::now(),
        }
    }

    fn start_turn(&mut self, ctx: &mut Context<Self>) {
        self.turn_running = true;
        self.wake_pending = false;
        // The turn owns the session until it ends (nothing reads it meanwhile: `is_idle` and
        // `Resume` wait for the turn), so it is moved, not copied.
        let session = std::mem::replace(&mut self.session, Session::new(self.ticket_id));
        let turn = turn::run(self.cx.clone(), session);
        let in_progress = self.cx.metrics.turn_started();
        ctx.spawn(turn.into_actor(self).map(move |(session, end), act, ctx| {
            drop(in_progress);
            act.session = session;
            act.turn_running = false;
            act.last_activity = Instant::now();
            match end {
                TurnEnd::Idle => {
                    if act.wake_pending {
                        act.start_turn(ctx);
                    }
                }
                TurnEnd::RetryIn(delay) => {
                    act.retry_scheduled = Some(ctx.run_later(delay, |act, ctx| {
                        act.retry_scheduled = None;
                        act.start_turn(ctx);
                    }));
                }
            }
        }));
    }

    fn is_idle(&self) -> bool {
        !self.turn_running
            && !self.wake_pending
            && self.retry_scheduled.is_none()
            && !self.session.has_pending_work()
            && self.last_activity.elapsed() >= self.idle_timeout
    }

    /// Asks the owner to forget this actor, with the mailbox paused so no wake-up can slip
    /// in between the answer and the stop.
    fn request_passivation(&mut self, ctx: &mut Context<Self>) {
        let ask = self.owner.send(Passivate {
            ticket_id: self.ticket_id,
            addr: ctx.address(),
        });
        ctx.wait(ask.into_actor(self).map(|answer, act, ctx| {
            if answer.unwrap_or(false) {
                tracing::debug!(ticket_id = act.ticket_id, "ticket actor passivated");
                ctx.stop();
            } else {
                act.last_activity = Instant::now();
            }
        }));
    }
}

impl Actor for TicketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.session.outbox.front().is_some_and(|a| a.maybe_sent) {
            let delay = self.cx.retry.in_doubt_delay;
            self.retry_scheduled = Some(ctx.run_later(delay, |act, ctx| {
                act.retry_scheduled = None;
                act.start_turn(ctx);
            }));
        }
        let every =
            (self.idle_timeout / 2).clamp(Duration::from_millis(10), Duration::from_secs(30));
        ctx.run_interval(every, |act, ctx| {
            if act.is_idle() {
                act.request_passivation(ctx);
            }
        });
    }
}

impl Handler<Wake> for TicketActor {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.last_activity = Instant::now();
        // During a turn or a scheduled retry the next run takes the inbox anyway; starting now
        // would break per-ticket ordering or hammer a failing Gorgias.
        if self.turn_running || self.retry_scheduled.is_some() {
            self.wake_pending = true;
        } else {
            self.start_turn(ctx);
        }
    }
}

impl Handler<Erase> for TicketActor {
    type Result = ();

    fn handle(&mut self, _: Erase, ctx: &mut Self::Context) {
        // Stopping cancels the spawned turn and the scheduled retry with the context.
        self.session = Session::new(self.ticket_id);
        self.wake_pending = false;
        if let Some(retry) = self.retry_scheduled.take() {
            ctx.cancel_future(retry);
        }
        ctx.stop();
    }
}

impl Handler<Resume> for TicketActor {
    type Result = ResponseActFuture<Self, Result<Session, ResumeError>>;

    fn handle(&mut self, msg: Resume, _: &mut Self::Context) -> Self::Result {
        if self.turn_running {
            return Box::pin(fut::ready(Err(ResumeError::Busy)));
        }
        let mut next = self.session.clone();
        if let Err(e) = next.resume(now_secs(), &msg.by) {
            return Box::pin(fut::ready(Err(e.into())));
        }
        let store = self.cx.store.clone();
        let mut writes = Write::session_put(next.change_from(&self.session));
        writes.extend(super::stats::step_writes(
            &store,
            &self.session,
            &next,
            self.cx.planner.mode,
            None,
        ));
        Box::pin(
            async move { store.commit(writes).await.map(|_| next) }
                .into_actor(self)
                .map(|result, act, _| match result {
                    Ok(mut session) => {
                        session.stored.committed();
                        tracing::info!(
                            ticket_id = act.ticket_id,
                            outcome = DecisionOutcome::Resumed.code(),
                            reason = DecisionReason::Operator.code(),
                            "decision"
                        );
                        act.session = session.clone();
                        act.last_activity = Instant::now();
                        Ok(session)
                    }
                    Err(e) => {
                        // It may still land: the next commit writes the session whole.
                        act.session.stored.in_doubt = true;
                        Err(ResumeError::Store(e.to_string()))
                    }
                }),
        )
    }
}
