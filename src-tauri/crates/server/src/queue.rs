//! The bounded queue in front of the engine, one per model. A loaded model writes as many replies
//! at once as it has slots; requests beyond them wait in its engine's worker, in the order they
//! came (Chat's and the server's alike), and this gate bounds how many may wait: past
//! `slots + limit` requests under way for that model, the next one for it is refused at once with
//! 429 rather than piling up. Requests for another model (the runtime keeps several loaded) have
//! their own count. A request whose client goes away gives its place back (its `Turn` is dropped,
//! and dropping its generation cancels it in the worker, waiting or running).
//!
//! The gate also keeps a model from being swapped under a reply: every request holds its model
//! shared while it runs (`Turn::model`), and loading or unloading that model holds it alone
//! (`Gate::exclusive`), after its replies under way have ended; another model's replies go on
//! meanwhile. The idle reaper takes a model alone only when nothing has run on it for the idle
//! time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::backend::{Backend, LoadedId};
use crate::error::ApiError;

pub struct Gate {
    /// Requests that may wait beyond a model's slots.
    limit: usize,
    /// One gate per model id, made on its first request.
    models: Mutex<HashMap<String, Arc<ModelGate>>>,
}

/// One model's place in the queue: its requests under way, and the lock that keeps it from being
/// swapped under them.
struct ModelGate {
    in_flight: AtomicUsize,
    model: Arc<RwLock<()>>,
    last_used: Mutex<Instant>,
}

impl ModelGate {
    fn touch(&self) {
        if let Ok(mut t) = self.last_used.lock() {
            *t = Instant::now();
        }
    }
}

/// A request's place: counted until dropped (the reply ended or its client left), with its model
/// held shared once `model` has made sure of it.
pub struct Turn {
    gate: Arc<ModelGate>,
    model: Option<OwnedRwLockReadGuard<()>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.gate.touch();
    }
}

impl Turn {
    /// The model `id` loaded (by a load that waits for that model's replies under way, when it
    /// is not in and `auto_load` allows it), and held shared until this turn ends.
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
        Arc::new(Self { limit, models: Mutex::new(HashMap::new()) })
    }

    fn of(&self, model: &str) -> Arc<ModelGate> {
        let mut models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        models
            .entry(model.to_string())
            .or_insert_with(|| {
                Arc::new(ModelGate { in_flight: AtomicUsize::new(0), model: Arc::new(RwLock::new(())), last_used: Mutex::new(Instant::now()) })
            })
            .clone()
    }

    /// A place for a request to `model` while it has `slots` slots: `Busy` when `slots + limit`
    /// requests to it are under way already.
    pub fn enter(&self, model: &str, slots: usize) -> Result<Turn, ApiError> {
        let gate = self.of(model);
        let most = slots.max(1) + self.limit;
        gate.in_flight.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < most).then_some(n + 1)).map_err(|_| ApiError::Busy(self.limit))?;
        Ok(Turn { gate, model: None })
    }

    /// `model` alone, for a load or an unload: after every reply under way on it has ended.
    pub async fn exclusive(&self, model: &str) -> OwnedRwLockWriteGuard<()> {
        let gate = self.of(model);
        let guard = gate.model.clone().write_owned().await;
        gate.touch();
        guard
    }

    /// Each model nothing runs on now, and nothing has for `idle`, held alone (for the reaper).
    pub fn idle(&self, idle: Duration) -> Vec<(String, OwnedRwLockWriteGuard<()>)> {
        let models: Vec<(String, Arc<ModelGate>)> =
            self.models.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        models
            .into_iter()
            .filter_map(|(id, gate)| {
                let guard = gate.model.clone().try_write_owned().ok()?;
                let since = gate.last_used.lock().map(|t| t.elapsed()).unwrap_or_default();
                (gate.in_flight.load(Ordering::SeqCst) == 0 && since >= idle).then_some((id, guard))
            })
            .collect()
    }

    #[cfg(test)]
    pub fn in_flight(&self, model: &str) -> usize {
        self.of(model).in_flight.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slots_run_limit_wait_the_rest_are_refused_per_model() {
        let gate = Gate::new(2);
        let turns: Vec<Turn> = (0..4).map(|_| gate.enter("a", 2).expect("2 slots + 2 waiting")).collect();
        assert!(matches!(gate.enter("a", 2), Err(ApiError::Busy(2))));
        // Another model has its own slots and queue: a's full queue keeps nothing of b's out.
        let b = gate.enter("b", 1).expect("b is admitted beside a full a");
        drop(turns);
        assert_eq!(gate.in_flight("a"), 0);
        assert_eq!(gate.in_flight("b"), 1);
        drop(b);
        assert!(gate.enter("a", 2).is_ok());
    }

    #[tokio::test]
    async fn a_load_waits_for_the_replies_under_way_on_its_model_only() {
        let gate = Gate::new(4);
        let shared = gate.of("a").model.clone().read_owned().await;
        let g = gate.clone();
        let load = tokio::spawn(async move {
            let _alone = g.exclusive("a").await;
        });
        tokio::task::yield_now().await;
        assert!(!load.is_finished(), "a load must not swap the model under a running reply");
        // Loading another model does not wait for a's reply.
        let other = tokio::time::timeout(Duration::from_secs(1), gate.exclusive("b")).await;
        assert!(other.is_ok(), "b waited for a's reply");
        drop(other);
        drop(shared);
        load.await.unwrap();
    }

    #[tokio::test]
    async fn the_reaper_gets_a_model_only_when_it_is_idle_long_enough() {
        let gate = Gate::new(1);
        drop(gate.enter("a", 1).unwrap());
        assert!(gate.idle(Duration::from_secs(60)).is_empty());
        assert_eq!(gate.idle(Duration::ZERO).into_iter().map(|(id, _)| id).collect::<Vec<_>>(), vec!["a".to_string()]);
        let _busy = gate.enter("a", 1).unwrap();
        drop(gate.enter("b", 1).unwrap());
        assert_eq!(gate.idle(Duration::ZERO).into_iter().map(|(id, _)| id).collect::<Vec<_>>(), vec!["b".to_string()], "a is busy, b is not");
    }
}
