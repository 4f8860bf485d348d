//! The dedup window shared by the HTTP workers ([`Dedup`], one mutex: concurrent deliveries of
//! the same event cannot both be admitted), and the actor that restores it from storage and
//! prunes it. Intake calls the window directly rather than through the actor, so admitting an
//! event never queues behind the ticket turns on the actor's arbiter. Entries are persisted by
//! intake in the same commit as the event (inbox first, then the dedup entry), so a stored
//! dedup entry always has its stored event.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix::prelude::*;

use super::window::{Admission, DedupKey, DedupWindow};
use crate::store::{Store, Write};
use crate::time::now_secs;

/// Admit a delivery. `Fresh` comes with the write that persists the reservation.
#[derive(Message)]
#[rtype(result = "(Admission, Option<Write>)")]
pub struct Admit(pub DedupKey);

/// Release a reservation whose event could not be stored.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Forget(pub DedupKey);

/// How many keys the window holds.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct DedupLen;

/// The window, shared; cheap to clone.
#[derive(Clone)]
pub struct Dedup {
    window: Arc<Mutex<DedupWindow>>,
}

impl Dedup {
    fn window(&self) -> std::sync::MutexGuard<'_, DedupWindow> {
        // The window's operations leave it consistent at every step: a panic elsewhere while
        // it was held does not make it wrong.
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a delivery; `Fresh` comes with the write that persists the reservation.
    pub fn admit(&self, key: DedupKey) -> (Admission, Option<Write>) {
        let admission = self.window().admit(key, now_secs());
        let write = match admission {
            Admission::Fresh { expires_at } => Some(Write::dedup_put(&key, expires_at)),
            Admission::Duplicate => None,
        };
        (admission, write)
    }

    /// Releases a reservation whose event could not be stored.
    pub fn forget(&self, key: &DedupKey) {
        self.window().forget(key);
    }

    pub fn len(&self) -> usize {
        self.window().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct DedupActor {
    dedup: Dedup,
    store: Store,
    purge_every: Duration,
}

impl DedupActor {
    /// Builds the window from storage, dropping what has expired.
    pub fn new(store: Store, window_secs: u64) -> DedupActor {
        let now = now_secs();
        let mut window = DedupWindow::new(window_secs);
        let mut expired = Vec::new();
        for (key, expires_at) in store.dedup_entries() {
            if expires_at > now {
                window.restore(key, expires_at, now);
            } else {
                expired.push(key);
            }
        }
        store.dedup_remove(&expired);
        DedupActor {
            dedup: Dedup {
                window: Arc::new(Mutex::new(window)),
            },
            store,
            purge_every: Duration::from_secs((window_secs / 4).clamp(1, 60)),
        }
    }

    /// The window this actor restored and prunes, for intake to admit through.
    pub fn shared(&self) -> Dedup {
        self.dedup.clone()
    }

    fn purge(&mut self) {
        let removed = self.dedup.window().purge(now_secs());
        if !removed.is_empty() {
            self.store.dedup_remove(&removed);
            tracing::debug!(removed = removed.len(), "dedup entries expired");
        }
    }
}

impl Actor for DedupActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        ctx.run_interval(self.purge_every, |act, _| act.purge());
    }
}

impl Handler<Admit> for DedupActor {
    type Result = MessageResult<Admit>;

    fn handle(&mut self, Admit(key): Admit, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.dedup.admit(key))
    }
}

impl Handler<Forget> for DedupActor {
    type Result = ();

    fn handle(&mut self, Forget(key): Forget, _: &mut Self::Context) {
        self.dedup.forget(&key);
    }
}

impl Handler<DedupLen> for DedupActor {
    type Result = usize;

    fn handle(&mut self, _: DedupLen, _: &mut Self::Context) -> usize {
        self.dedup.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::window::dedup_key;

    #[actix::test]
    async fn window_survives_a_restart_on_the_same_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let key = dedup_key(1, 2, "c@x", "yes");
        {
            // The first life of the actor runs on its own arbiter, stopped like a process would.
            let arbiter = actix::Arbiter::new();
            let store = Store::open(&path).unwrap();
            let actor_store = store.clone();
            let dedup = DedupActor::start_in_arbiter(&arbiter.handle(), move |_| {
                DedupActor::new(actor_store, 3600)
            });
            let (admission, write) = dedup.send(Admit(key)).await.unwrap();
            assert!(matches!(admission, Admission::Fresh { .. }));
            store.commit(vec![write.unwrap()]).await.unwrap();
            let (again, none) = dedup.send(Admit(key)).await.unwrap();
            assert_eq!(again, Admission::Duplicate);
            assert!(none.is_none());
            arbiter.stop();
            arbiter.join().unwrap();
        }
        let store = crate::store::open_when_free(&path, Duration::from_secs(10))
            .await
            .unwrap();
        let dedup = DedupActor::new(store, 3600).start();
        assert_eq!(dedup.send(DedupLen).await.unwrap(), 1);
        let (admission, _) = dedup.send(Admit(key)).await.unwrap();
        assert_eq!(admission, Admission::Duplicate);
        let other = dedup_key(1, 3, "c@x", "yes");
        assert!(matches!(
            dedup.send(Admit(other)).await.unwrap().0,
            Admission::Fresh { .. }
        ));
    }

    #[actix::test]
    async fn expired_entries_are_pruned_from_storage_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let old = dedup_key(1, 1, "a", "b");
        let live = dedup_key(1, 2, "a", "b");
        store
            .commit(vec![
                Write::dedup_put(&old, 1),
                Write::dedup_put(&live, now_secs() + 100),
            ])
            .await
            .unwrap();
        let dedup = DedupActor::new(store.clone(), 3600).start();
        assert_eq!(dedup.send(DedupLen).await.unwrap(), 1);
        assert_eq!(store.dedup_entries().len(), 1);
    }

    #[actix::test]
    async fn the_shared_window_and_the_actor_are_one_window() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let actor = DedupActor::new(store, 3600);
        let shared = actor.shared();
        let addr = actor.start();
        let key = dedup_key(7, 8, "a", "b");
        assert!(matches!(shared.admit(key).0, Admission::Fresh { .. }));
        assert_eq!(addr.send(DedupLen).await.unwrap(), 1);
        assert_eq!(addr.send(Admit(key)).await.unwrap().0, Admission::Duplicate);
        shared.forget(&key);
        assert!(shared.is_empty());
    }

    #[actix::test]
    async fn forgotten_reservation_is_fresh_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let dedup = DedupActor::new(store, 3600).start();
        let key = dedup_key(5, 6, "a", "b");
        dedup.send(Admit(key)).await.unwrap();
        dedup.send(Forget(key)).await.unwrap();
        assert!(matches!(
            dedup.send(Admit(key)).await.unwrap().0,
            Admission::Fresh { .. }
        ));
    }
}
