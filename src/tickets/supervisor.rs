//! The ticket supervisor: ticket id → actor. Spawns actors on demand from the stored session,
//! wakes them, recovers unfinished work at startup, and lets idle actors go without losing work
//! (an actor is forgotten only while its inbox is empty; the next wake-up spawns a fresh one).

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;

use super::actor::{Resume, ResumeError, Snapshot, TicketActor, Wake};
use super::session::Session;
use super::turn::TurnContext;
use crate::store::Store;

/// Messages were stored for this ticket: make sure its actor runs a turn.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WakeTicket(pub u64);

/// Wake every ticket with work left from before a restart.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct RecoverPending;

/// An idle actor asks to be stopped; `true` means it has been forgotten and must stop now.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Passivate {
    pub ticket_id: u64,
    pub addr: Addr<TicketActor>,
}

/// How many ticket actors are alive.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct LiveActors;

/// The session as its actor holds it (spawning the actor if needed).
#[derive(Message)]
#[rtype(result = "Result<Option<Session>, String>")]
pub struct GetSession(pub u64);

/// Resume a handed-off ticket through its actor.
#[derive(Message)]
#[rtype(result = "Result<Session, ResumeError>")]
pub struct ResumeTicket {
    pub ticket_id: u64,
    pub by: String,
}

pub struct TicketSupervisor {
    actors: HashMap<u64, Addr<TicketActor>>,
    cx: Rc<TurnContext>,
    store: Store,
    idle_timeout: Duration,
}

impl TicketSupervisor {
    pub fn new(cx: Rc<TurnContext>, idle_timeout: Duration) -> TicketSupervisor {
        TicketSupervisor {
            store: cx.store.clone(),
            actors: HashMap::new(),
            cx,
            idle_timeout,
        }
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
        let session = match self.store.load_session(ticket_id) {
            Ok(Some(session)) => session,
            Ok(None) => Session::new(ticket_id),
            Err(e) => {
                tracing::error!(ticket_id, error = %e, "cannot load the ticket's session; its messages stay stored until an operator looks");
                return None;
            }
        };
        let addr =
            TicketActor::new(session, self.cx.clone(), ctx.address(), self.idle_timeout).start();
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

impl Actor for TicketSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
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

impl Handler<GetSession> for TicketSupervisor {
    type Result = ResponseFuture<Result<Option<Session>, String>>;

    fn handle(&mut self, GetSession(ticket_id): GetSession, _: &mut Self::Context) -> Self::Result {
        // A live actor's copy is the freshest; otherwise storage is the truth (no spawn needed).
        match self.actors.get(&ticket_id).cloned() {
            Some(addr) => Box::pin(async move {
                addr.send(Snapshot)
                    .await
                    .map(Some)
                    .map_err(|e| e.to_string())
            }),
            None => {
                let loaded = self
                    .store
                    .load_session(ticket_id)
                    .map_err(|e| e.to_string());
                Box::pin(async move { loaded })
            }
        }
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
