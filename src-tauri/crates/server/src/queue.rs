//! The bounded queue in front of the engine. The loaded model writes as many replies at once as it
//! has slots; requests beyond them wait in the engine's worker, in the order they came (Chat's and
//! the server's alike), and this gate bounds how many may wait: past `slots + limit` requests under
//! way, the next one is refused at once with 429 rather than piling up. A request whose client goes
//! away gives its place back (its `Turn` is dropped, and dropping its generation cancels it in the
//! worker, waiting or running).
//!
//! The gate also keeps a model from being swapped under a reply: every request holds the model
//! shared while it runs (`Turn::model`), and loading or unloading one holds it alone
//! (`Gate::exclusive`), after the replies under way have ended. The idle reaper takes it alone only
//! when nothing has run for the idle time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::backend::{Backend, LoadedId};
use crate::error::ApiError;

pub struct Gate {
    in_flight: AtomicUsize,
    /// Requests that may wait beyond the slots.
    limit: usize,
    model: Arc<RwLock<()>>,
    last_used: Mutex<Instant>,
}

/// A request's place: counted until dropped (the reply ended or its client left), with the model
/// held shared once `model` has made sure of it.
pub struct Turn {
    gate: Arc<Gate>,
    model: Option<OwnedRwLockReadGuard<()>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.gate.touch();
    }
}

impl Turn {
    /// The model `id` loaded (by a load that waits for the replies under way, when another is in
    /// or none is and `auto_load` allows it), and held shared until this turn ends.
    pub async fn model<B: Backend>(&mut self, backend: &B, id: &str, auto_load: bool) -> Result<LoadedId, ApiError> {
        let shared = self.gate.model.clone().read_owned().await;
        if let Ok(loaded) = backend.ensure_loaded(id, false).await {
            self.model = Some(shared);
            return Ok(loaded);
        }
        drop(shared);
        let alone = self.gate.model.clone().write_owned().await;
        let loaded = backend.ensure_loaded(id, auto_load).await?;
        self.model = Some(alone.downgrade());
        Ok(loaded)
    }
}

impl Gate {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { in_flight: AtomicUsize::new(0), limit, model: Arc::new(RwLock::new(())), last_used: Mutex::new(Instant::now()) })
    }

    /// A place for a request while the model has `slots` slots: `Busy` when `slots + limit`
    /// requests are under way already.
    pub fn enter(self: &Arc<Self>, slots: usize) -> Result<Turn, ApiError> {
        let most = slots.max(1) + self.limit;
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < most).then_some(n + 1))
            .map_err(|_| ApiError::Busy(self.limit))?;
        Ok(Turn { gate: self.clone(), model: None })
    }

    /// The model alone, for a load or an unload: after every reply under way has ended.
    pub async fn exclusive(&self) -> OwnedRwLockWriteGuard<()> {
        let guard = self.model.clone().write_owned().await;
        self.touch();
        guard
    }

    /// The model alone if nothing runs now and nothing has for `idle` (for the reaper).
    pub fn idle_exclusive(&self, idle: Duration) -> Option<OwnedRwLockWriteGuard<()>> {
        let guard = self.model.clone().try_write_owned().ok()?;
        let since = self.last_used.lock().map(|t| t.elapsed()).unwrap_or_default();
        (self.in_flight.load(Ordering::SeqCst) == 0 && since >= idle).then_some(guard)
    }

    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn touch(&self) {
        if let Ok(mut t) = self.last_used.lock() {
            *t = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slots_run_limit_wait_the_rest_are_refused() {
        let gate = Gate::new(2);
        let turns: Vec<Turn> = (0..4).map(|_| gate.enter(2).expect("2 slots + 2 waiting")).collect();
        assert!(matches!(gate.enter(2), Err(ApiError::Busy(2))));
        drop(turns);
        assert_eq!(gate.in_flight(), 0);
        assert!(gate.enter(2).is_ok());
    }

    #[tokio::test]
    async fn a_load_waits_for_the_replies_under_way_and_the_next_reply_for_it() {
        let gate = Gate::new(4);
        let shared = gate.model.clone().read_owned().await;
        let g = gate.clone();
        let load = tokio::spawn(async move {
            let _alone = g.exclusive().await;
        });
        tokio::task::yield_now().await;
        assert!(!load.is_finished(), "a load must not swap the model under a running reply");
        drop(shared);
        load.await.unwrap();
    }

    #[tokio::test]
    async fn the_reaper_gets_the_model_only_when_idle_long_enough() {
        let gate = Gate::new(1);
        drop(gate.enter(1).unwrap());
        assert!(gate.idle_exclusive(Duration::from_secs(60)).is_none());
        assert!(gate.idle_exclusive(Duration::ZERO).is_some());
        let _busy = gate.enter(1).unwrap();
        assert!(gate.idle_exclusive(Duration::ZERO).is_none());
    }
}
