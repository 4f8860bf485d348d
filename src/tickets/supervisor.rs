//! The ticket supervisor: ticket id → actor. Spawns actors on demand from the stored session,
//! wakes them, recovers unfinished work at startup, and lets idle actors go without losing work
//! (an actor is forgotten only while its inbox is empty; the next wake-up spawns a fresh one).

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;

use super::actor::{Erase, Passivate, Resume, ResumeError, TicketActor, Wake};
use super::turn::TurnContext;
use crate::domain::session::Session;
use crate::store::{Store, StoreError};

/// Messages were stored for this ticket: make sure its actor runs a turn.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WakeTicket(pub u64);

/// Wake every ticket with work left from before a restart.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct RecoverPending;

/// How many ticket actors are alive.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct LiveActors;

/// Resume a handed-off ticket through its actor.
#[derive(Message)]
#[rtype(result = "Result<Session, ResumeError>")]
pub struct ResumeTicket {
    pub ticket_id: u64,
    pub by: String,
}

/// Erase these tickets: their live actors are stopped first (dropping what they still owed),
/// then everything stored for them is deleted. Answers how many had anything stored or live.
#[derive(Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct EraseTickets(pub Vec<u64>);

/// One retention pass: delete every session idle for `retention_secs` at `now` with nothing
/// owed, in bounded batches; answers how many were deleted. `now` is injected for tests.
#[derive(Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct RetentionPass {
    pub now: u64,
    pub retention_secs: u64,
}

/// One batch of a retention pass, from the sessions after `after`.
#[derive(Message)]
#[rtype(result = "Result<RetentionStep, StoreError>")]
struct RetentionBatch {
    after: Option<u64>,
    now: u64,
    retention_secs: u64,
}

struct RetentionStep {
    next: Option<u64>,
    deleted: usize,
}

/// Sessions read per retention batch: one bounded read and one commit, between which the
/// supervisor serves its mailbox, so a pass over many sessions never stalls intake.
const RETENTION_BATCH: usize = 256;
/// How often a retention pass starts (when `sessions.retention_days` is set).
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// How many tickets one erasure commit deletes (each batch is one bounded commit).
const ERASE_BATCH: usize = 64;

pub struct TicketSupervisor {
    actors: HashMap<u64, Addr<TicketActor>>,
    /// Tickets whose stored session cannot be decoded (reported once, skipped by the sweep).
    unreadable: std::collections::HashSet<u64>,
    cx: Rc<TurnContext>,
    store: Store,
    idle_timeout: Duration,
    /// Tickets a retention batch is deleting: not spawned until their deletion has landed (a
    /// message stored meanwhile stays in the inbox and the sweep wakes it into a fresh session).
    retiring: std::collections::HashSet<u64>,
    retention_secs: Option<u64>,
    retention_running: bool,
}

impl TicketSupervisor {
    pub fn new(cx: Rc<TurnContext>, idle_timeout: Duration) -> TicketSupervisor {
        TicketSupervisor {
            store: cx.store.clone(),
            actors: HashMap::new(),
            unreadable: Default::default(),
            cx,
            idle_timeout,
            retiring: Default::default(),
            retention_secs: None,
            retention_running: false,
        }
    }

    /// Deletes sessions idle longer than `secs` (periodically, from the supervisor's start).
    pub fn with_retention(mut self, secs: Option<u64>) -> TicketSupervisor {
        self.retention_secs = secs;
        self
    }

    /// The live actor of a ticket, spawning it from storage when there is none. `None` when the
    /// stored session cannot be read (logged; the ticket's messages stay stored).
    fn actor_for(&mut self, ticket_id: u64, ctx: &mut Context<Self>) -> Option<Addr<TicketActor>> {
        if let Some(addr) = self.actors.get(&ticket_id) {
            if addr.connected() {
                return Some(addr.clone());
            }
            self.actors.remove(&ticket_id);
        }
        if self.retiring.contains(&ticket_id) {
            return None;
        }
        let session = match self.store.load_session(ticket_id) {
            Ok(Some(session)) => session,
            Ok(None) => Session::new(ticket_id),
            Err(e) if e.is_damage() => {
                // Said once per ticket, not at every sweep.
                if self.unreadable.insert(ticket_id) {
                    tracing::error!(ticket_id, error = %e, "cannot load the ticket's session; its messages stay stored until an operator looks");
                }
                return None;
            }
            Err(e) => {
                // Storage failing for now: the sweep tries again once it takes reads.
                tracing::warn!(ticket_id, error = %e, "cannot load the ticket's session yet; will retry");
                return None;
            }
        };
        let addr = TicketActor::new(
            session,
            self.cx.clone(),
            ctx.address().recipient(),
            self.idle_timeout,
        )
        .start();
        self.actors.insert(ticket_id, addr.clone());
        Some(addr)
    }

    fn wake(&mut self, ticket_id: u64, ctx: &mut Context<Self>) {
        let Some(addr) = self.actor_for(ticket_id, ctx) else {
            return;
        };
        match addr.try_send(Wake) {
            // A full mailbox already holds a wake-up, which will take the whole inbox.
            Ok(()) | Err(SendError::Full(_)) => {}
            Err(SendError::Closed(_)) => {
                self.actors.remove(&ticket_id);
                if let Some(addr) = self.actor_for(ticket_id, ctx) {
                    let _ = addr.try_send(Wake);
                }
            }
        }
    }
}

/// How often tickets with stored work are woken (a wake-up lost to overload or a full mailbox,
/// or a turn that found storage unreadable while it was being reopened, is made good here).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

impl Actor for TicketSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        if let Some(retention_secs) = self.retention_secs {
            ctx.run_interval(RETENTION_EVERY, move |act, ctx| {
                if act.retention_running {
                    return;
                }
                act.retention_running = true;
                let pass = RetentionPass {
                    now: crate::time::now_secs(),
                    retention_secs,
                };
                ctx.spawn(ctx.address().send(pass).into_actor(act).map(
                    |result, act, _| {
                        act.retention_running = false;
                        match result {
                            Ok(Ok(deleted)) if deleted > 0 => {
                                tracing::info!(outcome = "retention", sessions = deleted, "idle sessions deleted")
                            }
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "retention pass stopped; the next one goes on")
                            }
                            Err(_) => {}
                        }
                    },
                ));
            });
        }
        ctx.run_interval(SWEEP_EVERY, |act, ctx| {
            // Live actors too: one whose turn ran while storage was failing saw no inbox and
            // went idle with its message still stored. A wake-up during a turn or a retry only
            // marks one more turn, which takes whatever is stored.
            for ticket_id in act.store.tickets_with_work() {
                if !act.unreadable.contains(&ticket_id) {
                    act.wake(ticket_id, ctx);
                }
            }
        });
    }
}

impl Handler<RetentionPass> for TicketSupervisor {
    type Result = ResponseFuture<Result<usize, StoreError>>;

    fn handle(&mut self, msg: RetentionPass, ctx: &mut Self::Context) -> Self::Result {
        let me = ctx.address();
        Box::pin(async move {
            let (mut after, mut deleted) = (None, 0);
            loop {
                let step = me
                    .send(RetentionBatch {
                        after,
                        now: msg.now,
                        retention_secs: msg.retention_secs,
                    })
                    .await
                    .map_err(|_| StoreError::Closed)??;
                deleted += step.deleted;
                match step.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            Ok(deleted)
        })
    }
}

impl Handler<RetentionBatch> for TicketSupervisor {
    type Result = ResponseActFuture<Self, Result<RetentionStep, StoreError>>;

    fn handle(&mut self, msg: RetentionBatch, _: &mut Self::Context) -> Self::Result {
        let (sessions, next) = self.store.sessions_after(msg.after, RETENTION_BATCH);
        // A live actor may hold work not stored yet; a stored inbox entry is work owed.
        let expired: Vec<u64> = sessions
            .iter()
            .filter(|s| s.is_expired(msg.now, msg.retention_secs))
            .map(|s| s.ticket_id)
            .filter(|t| !self.actors.contains_key(t) && !self.store.has_inbox(*t))
            .collect();
        self.retiring.extend(expired.iter().copied());
        let writes: Vec<_> = expired
            .iter()
            .flat_map(|&t| self.store.ticket_erasure(t))
            .collect();
        let store = self.store.clone();
        Box::pin(
            async move { store.commit(writes).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    for t in &expired {
                        act.retiring.remove(t);
                    }
                    result.map(|()| RetentionStep {
                        next,
                        deleted: expired.len(),
                    })
                }),
        )
    }
}

impl Handler<WakeTicket> for TicketSupervisor {
    type Result = ();

    fn handle(&mut self, WakeTicket(ticket_id): WakeTicket, ctx: &mut Self::Context) {
        self.wake(ticket_id, ctx);
    }
}

impl Handler<RecoverPending> for TicketSupervisor {
    type Result = usize;

    fn handle(&mut self, _: RecoverPending, ctx: &mut Self::Context) -> usize {
        let tickets = self.store.tickets_with_work();
        for &ticket_id in &tickets {
            self.wake(ticket_id, ctx);
        }
        if !tickets.is_empty() {
            tracing::info!(
                tickets = tickets.len(),
                "resuming unfinished work from storage"
            );
        }
        tickets.len()
    }
}

impl Handler<Passivate> for TicketSupervisor {
    type Result = bool;

    fn handle(&mut self, msg: Passivate, _: &mut Self::Context) -> bool {
        let current = self.actors.get(&msg.ticket_id);
        if current != Some(&msg.addr) || self.store.has_inbox(msg.ticket_id) {
            return false;
        }
        self.actors.remove(&msg.ticket_id);
        true
    }
}

impl Handler<LiveActors> for TicketSupervisor {
    type Result = usize;

    fn handle(&mut self, _: LiveActors, _: &mut Self::Context) -> usize {
        self.actors.len()
    }
}

impl Handler<EraseTickets> for TicketSupervisor {
    type Result = ResponseFuture<Result<usize, StoreError>>;

    fn handle(
        &mut self,
        EraseTickets(tickets): EraseTickets,
        _: &mut Self::Context,
    ) -> Self::Result {
        let actors: Vec<_> = tickets
            .iter()
            .filter_map(|t| self.actors.remove(t))
            .collect();
        for t in &tickets {
            self.unreadable.remove(t);
        }
        let store = self.store.clone();
        Box::pin(async move {
            // Every actor has stopped (its turn cancelled) before its data is deleted, and the
            // deletions queue behind any commit a cancelled turn had already handed over.
            for addr in actors {
                let _ = addr.send(Erase).await;
            }
            for batch in tickets.chunks(ERASE_BATCH) {
                let writes = batch
                    .iter()
                    .flat_map(|&t| store.ticket_erasure(t))
                    .collect();
                store.commit(writes).await?;
            }
            Ok(tickets.len())
        })
    }
}

impl Handler<ResumeTicket> for TicketSupervisor {
    type Result = ResponseFuture<Result<Session, ResumeError>>;

    fn handle(&mut self, msg: ResumeTicket, ctx: &mut Self::Context) -> Self::Result {
        let addr = self.actor_for(msg.ticket_id, ctx);
        Box::pin(async move {
            let addr =
                addr.ok_or_else(|| ResumeError::Store("the session cannot be loaded".into()))?;
            addr.send(Resume { by: msg.by })
                .await
                .map_err(|_| ResumeError::Busy)?
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Instant;

    use futures_util::future::LocalBoxFuture;
    use futures_util::FutureExt;

    use super::*;
    use crate::brain::guardrails::Guardrails;
    use crate::brain::{Brain, BrainError, BrainInput};
    use crate::config::HandoffSettings;
    use crate::domain::message::CustomerMessage;
    use crate::domain::outcome::{DecisionOutcome, DecisionReason};
    use crate::domain::plan::{Decision, Mode, Planner};
    use crate::domain::session::Role;
    use crate::gorgias::api::Sender;
    use crate::store::{InboxKey, Write};
    use crate::tickets::delivery::Delivery;
    use crate::tickets::turn::RetryPolicy;

    /// A slow brain that records how many decisions run at once.
    struct SlowBrain {
        in_flight: Rc<Cell<usize>>,
        max_in_flight: Rc<Cell<usize>>,
        delay: Duration,
    }

    impl Brain for SlowBrain {
        fn name(&self) -> &'static str {
            "slow"
        }
        fn decide(
            &self,
            input: BrainInput,
        ) -> LocalBoxFuture<'static, Result<Decision, BrainError>> {
            let (in_flight, max, delay) = (
                self.in_flight.clone(),
                self.max_in_flight.clone(),
                self.delay,
            );
            async move {
                in_flight.set(in_flight.get() + 1);
                max.set(max.get().max(in_flight.get()));
                // Simulates a model that takes a while to answer.
                tokio::time::sleep(delay).await;
                in_flight.set(in_flight.get() - 1);
                Ok(Decision::Reply {
                    text: format!("answer to: {}", input.new_text()),
                    reason: "test".into(),
                })
            }
            .boxed_local()
        }
    }

    /// A brain that answers at once (1 ms).
    fn quick_brain() -> Rc<SlowBrain> {
        Rc::new(SlowBrain {
            in_flight: Rc::new(Cell::new(0)),
            max_in_flight: Rc::new(Cell::new(0)),
            delay: Duration::from_millis(1),
        })
    }

    fn context(store: &Store, brain: Rc<dyn Brain>) -> Rc<TurnContext> {
        Rc::new(TurnContext {
            store: store.clone(),
            brain,
            guardrails: Guardrails::new(&[], 100),
            delivery: Delivery::new(
                Mode::DryRun,
                None,
                Sender {
                    ai_user_id: 1,
                    name: "AI".into(),
                    email: String::new(),
                },
            ),
            planner: Planner {
                mode: Mode::DryRun,
                handoff: HandoffSettings::default().rules().unwrap(),
                reply: Default::default(),
                hours: None,
            },
            retry: RetryPolicy {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(50),
                give_up_after: Duration::from_secs(60),
                in_doubt_delay: Duration::from_millis(10),
            },
            metrics: crate::metrics::Metrics::new(),
            orders: crate::tickets::orders::OrderLookup::new(
                &crate::config::OrdersSettings::default(),
                None,
                crate::metrics::Metrics::new(),
            ),
            clock: Default::default(),
            caps: Default::default(),
        })
    }

    fn message(ticket_id: u64, message_id: u64, text: &str) -> CustomerMessage {
        CustomerMessage::sample(ticket_id, message_id, text)
    }

    async fn deliver(store: &Store, supervisor: &Addr<TicketSupervisor>, m: CustomerMessage) {
        let key = InboxKey {
            ticket_id: m.ticket_id,
            seq: store.next_seq().unwrap(),
        };
        store.commit(vec![Write::inbox_put(key, &m)]).await.unwrap();
        supervisor.send(WakeTicket(m.ticket_id)).await.unwrap();
    }

    async fn settled(store: &Store, ticket_id: u64, customer_messages: usize) -> Session {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = store.load_session(ticket_id).unwrap() {
                let customers = s
                    .history
                    .iter()
                    .filter(|e| e.role == Role::Customer)
                    .count();
                if customers == customer_messages && !s.has_pending_work() {
                    return s;
                }
            }
            assert!(
                Instant::now() < deadline,
                "ticket {ticket_id} did not settle"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[actix::test]
    async fn a_ticket_runs_one_turn_at_a_time_while_tickets_run_in_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let (in_flight, max) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let brain = Rc::new(SlowBrain {
            in_flight: in_flight.clone(),
            max_in_flight: max.clone(),
            delay: Duration::from_millis(50),
        });
        let supervisor =
            TicketSupervisor::new(context(&store, brain), Duration::from_secs(60)).start();

        // Ticket 1 gets three messages in quick succession.
        for id in 1..=3 {
            deliver(&store, &supervisor, message(1, id, &format!("part {id}"))).await;
        }
        let session = settled(&store, 1, 3).await;
        assert_eq!(max.get(), 1, "one ticket never has two decisions in flight");
        // Every message is answered, in order, and the history is persisted in order.
        let customers: Vec<u64> = session
            .history
            .iter()
            .filter(|e| e.role == Role::Customer)
            .filter_map(|e| e.message_id)
            .collect();
        assert_eq!(customers, vec![1, 2, 3]);
        assert_eq!(session.history.last().unwrap().role, Role::Ai);
        assert!(session.history.last().unwrap().text.contains("part 3"));
        assert!(session.unanswered().is_empty());

        // Two tickets at once overlap.
        max.set(0);
        deliver(&store, &supervisor, message(2, 1, "hello")).await;
        deliver(&store, &supervisor, message(3, 1, "hello")).await;
        settled(&store, 2, 1).await;
        settled(&store, 3, 1).await;
        assert_eq!(max.get(), 2, "different tickets proceed in parallel");
    }

    #[actix::test]
    async fn a_dry_run_message_is_decided_and_done_in_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let supervisor =
            TicketSupervisor::new(context(&store, quick_brain()), Duration::from_secs(60)).start();
        for (ticket_id, text) in [(11, "first"), (12, "second")] {
            let before = store.commit_seq();
            deliver(&store, &supervisor, message(ticket_id, 1, text)).await;
            let session = settled(&store, ticket_id, 1).await;
            assert_eq!(session.ai_reply_count(), 1);
            assert!(session.outbox.is_empty());
            // The inbox entry's commit, then one for the turn: the decision with its actions
            // already done (dry-run calls nothing that could fail), not a second for delivery.
            assert_eq!(store.commit_seq() - before, 2, "ticket {ticket_id}");
        }
    }

    #[actix::test]
    async fn a_commit_that_timed_out_but_landed_is_read_back_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let timeout = Duration::from_millis(50);
        let options = crate::store::StoreOptions {
            commit_timeout: timeout,
            ..Default::default()
        };
        let store = Store::open_with(&dir.path().join("db"), options).unwrap();
        let supervisor =
            TicketSupervisor::new(context(&store, quick_brain()), Duration::from_secs(60)).start();
        let m = message(21, 1, "first");
        let key = InboxKey {
            ticket_id: 21,
            seq: store.next_seq().unwrap(),
        };
        store.commit(vec![Write::inbox_put(key, &m)]).await.unwrap();
        // The turn's commit waits on a disk that does not answer, times out, and lands later.
        store.faults().stall(true);
        supervisor.send(WakeTicket(21)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !matches!(store.health(), crate::store::StoreHealth::Stuck(d) if d >= timeout * 4) {
            assert!(Instant::now() < deadline, "the turn's commit never waited");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        store.faults().stall(false);
        // The actor must go on from what landed: the second message joins the first.
        deliver(&store, &supervisor, message(21, 2, "second")).await;
        let session = settled(&store, 21, 2).await;
        let texts: Vec<&str> = session.history.iter().map(|e| &*e.text).collect();
        assert_eq!(
            texts,
            ["first", "answer to: first", "second", "answer to: second"]
        );
    }

    #[actix::test]
    async fn idle_actors_are_passivated_and_rehydrated_from_storage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let brain = quick_brain();
        let supervisor =
            TicketSupervisor::new(context(&store, brain), Duration::from_millis(30)).start();
        deliver(&store, &supervisor, message(7, 1, "first")).await;
        settled(&store, 7, 1).await;
        assert_eq!(supervisor.send(LiveActors).await.unwrap(), 1);

        let deadline = Instant::now() + Duration::from_secs(20);
        while supervisor.send(LiveActors).await.unwrap() != 0 {
            assert!(
                Instant::now() < deadline,
                "the idle actor was not passivated"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        // A new message spawns a fresh actor from the stored session: the history continues.
        deliver(&store, &supervisor, message(7, 2, "second")).await;
        let session = settled(&store, 7, 2).await;
        let texts: Vec<&str> = session.history.iter().map(|e| &*e.text).collect();
        assert_eq!(
            texts,
            ["first", "answer to: first", "second", "answer to: second"]
        );
    }

    #[actix::test]
    async fn work_left_in_storage_is_recovered_on_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        // Accepted before a crash, never taken by an actor.
        let key = InboxKey {
            ticket_id: 8,
            seq: 1,
        };
        store
            .commit(vec![Write::inbox_put(key, &message(8, 1, "still there?"))])
            .await
            .unwrap();
        let brain = quick_brain();
        let supervisor =
            TicketSupervisor::new(context(&store, brain), Duration::from_secs(60)).start();
        assert_eq!(supervisor.send(RecoverPending).await.unwrap(), 1);
        let session = settled(&store, 8, 1).await;
        assert_eq!(session.ai_reply_count(), 1);
        assert!(store.inbox_for(8).is_empty());
    }

    #[actix::test]
    async fn a_session_stored_whole_by_the_version_before_keeps_its_conversation_through_a_turn() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        // As that version's commit left it: the record, and the pending index (a message
        // waits for its answer).
        let key = 77u64.to_be_bytes().to_vec();
        store
            .commit(vec![
                Write::Put(
                    crate::store::TreeName::Sessions,
                    key.clone(),
                    crate::store::WHOLE_SESSION_BEFORE_PIECES
                        .as_bytes()
                        .to_vec(),
                ),
                Write::Put(crate::store::TreeName::Pending, key, Vec::new()),
            ])
            .await
            .unwrap();
        let supervisor =
            TicketSupervisor::new(context(&store, quick_brain()), Duration::from_secs(60)).start();
        deliver(&store, &supervisor, message(77, 503, "Hello?")).await;
        // Read back from storage, as converted by the turn's commits.
        let session = settled(&store, 77, 3).await;
        let texts: Vec<&str> = session.history.iter().map(|e| &*e.text).collect();
        assert_eq!(
            texts,
            [
                "Where is my order #1001?",
                "It shipped yesterday.",
                "Thanks! And a refund?",
                "Hello?",
                "answer to: Thanks! And a refund?\nHello?",
            ]
        );
        assert_eq!(session.history[1].message_id, Some(9001));
        assert_eq!(session.decisions.len(), 2);
        assert_eq!(session.decisions[0].detail.as_deref(), Some("kb"));
        assert_eq!(session.failed.len(), 1);
        assert_eq!(session.language.as_deref(), Some("en"));
        assert!(!session.has_pending_work());
    }

    /// Process CPU seconds so far (user + system, from `/proc/self/stat`).
    fn process_cpu_secs() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split(' ').collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    /// CPU per message on `n` tickets that already hold `prior` history entries each: delivered
    /// in waves of 64 (group commits, as under load), every actor spawned from storage.
    async fn cpu_per_message(n: u64, prior: u64) -> f64 {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let base = 1_000_000;
        for t in 0..n {
            let mut s = Session::new(base + t);
            for i in 0..prior / 2 {
                s.accept(
                    &message(base + t, 1 + i, "Where is my order? It has not come."),
                    1,
                );
                let ext = s.next_external_id();
                s.record_ai_message("It ships within two business days.", &ext, 2);
                s.record(
                    2,
                    DecisionOutcome::Replied,
                    DecisionReason::Answered,
                    vec![1 + i],
                    None,
                );
            }
            store.commit(Write::session_put(s.change())).await.unwrap();
        }
        let brain = Rc::new(SlowBrain {
            in_flight: Rc::new(Cell::new(0)),
            max_in_flight: Rc::new(Cell::new(0)),
            delay: Duration::ZERO,
        });
        let loading = process_cpu_secs();
        for t in 0..n {
            store.load_session(base + t).unwrap();
        }
        println!(
            "  reading a session with {prior} entries: {:.1} us",
            (process_cpu_secs() - loading) * 1e6 / n as f64
        );
        let supervisor =
            TicketSupervisor::new(context(&store, brain), Duration::from_secs(600)).start();
        let started = process_cpu_secs();
        for wave in (0..n).collect::<Vec<_>>().chunks(64) {
            for &t in wave {
                deliver(
                    &store,
                    &supervisor,
                    message(base + t, 1_000, "And now? Any news?"),
                )
                .await;
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            while !store.tickets_with_work().is_empty() {
                assert!(Instant::now() < deadline, "the wave did not settle");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        (process_cpu_secs() - started) / n as f64
    }

    /// Not a check: a measurement, run with
    /// `cargo test --release --lib cost_of_a_message_on_a_long_ticket -- --ignored --nocapture`.
    #[ignore]
    #[actix::test]
    async fn cost_of_a_message_on_a_long_ticket() {
        let n = std::env::var("MESSAGES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3_000);
        for round in 0..2 {
            let new = cpu_per_message(n, 0).await;
            let long = cpu_per_message(n, 50).await;
            println!(
                "round {round}: new ticket {:.1} us, 50 entries {:.1} us per message: {:.2}x",
                new * 1e6,
                long * 1e6,
                long / new
            );
        }
    }

    #[actix::test]
    async fn a_corrupt_session_is_logged_and_other_tickets_keep_being_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .commit(vec![Write::Put(
                crate::store::TreeName::Sessions,
                9u64.to_be_bytes().to_vec(),
                b"{not a session".to_vec(),
            )])
            .await
            .unwrap();
        let brain = quick_brain();
        let supervisor =
            TicketSupervisor::new(context(&store, brain), Duration::from_secs(60)).start();
        deliver(&store, &supervisor, message(9, 1, "hello")).await;
        deliver(&store, &supervisor, message(10, 1, "hello")).await;
        let session = settled(&store, 10, 1).await;
        assert_eq!(session.ai_reply_count(), 1);
        // The corrupt ticket's message is kept for an operator, not dropped or answered.
        assert_eq!(store.inbox_for(9).len(), 1);
        assert!(store.load_session(9).is_err());
        assert_eq!(supervisor.send(LiveActors).await.unwrap(), 1);
    }
}
