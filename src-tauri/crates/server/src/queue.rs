//! The bounded queue in front of the engine. One request generates at a time (the worker answers
//! one at a time anyway; holding the slot here also keeps a model load from replacing the model
//! under a running reply); up to `limit` more wait in arrival order; the next one is refused at
//! once with 429 rather than piling up. A waiting request whose client goes away leaves the queue
//! (its future is dropped, and the guard gives its place back). The slot also tells the idle
//! reaper how long the engine has been unused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

pub struct Gate {
    slot: Arc<Semaphore>,
    waiting: AtomicUsize,
    limit: usize,
    last_used: Mutex<Instant>,
}

/// The right to use the engine; given back when dropped (the reply ended or its client left).
pub struct Turn {
    _permit: OwnedSemaphorePermit,
    gate: Arc<Gate>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.gate.touch();
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { slot: Arc::new(Semaphore::new(1)), waiting: AtomicUsize::new(0), limit, last_used: Mutex::new(Instant::now()) })
    }

    /// The engine's slot, now or after the requests ahead; `Busy` when the queue is full.
    pub async fn enter(self: &Arc<Self>) -> Result<Turn, ApiError> {
        if let Ok(permit) = self.slot.clone().try_acquire_owned() {
            return Ok(Turn { _permit: permit, gate: self.clone() });
        }
        self.waiting.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| (w < self.limit).then_some(w + 1)).map_err(ApiError::Busy)?;
        let _waiting = Waiting(&self.waiting);
        let permit = self.slot.clone().acquire_owned().await.map_err(|_| ApiError::Busy(self.limit))?;
        Ok(Turn { _permit: permit, gate: self.clone() })
    }

    /// The slot if it is free now and has been for `idle` (for the reaper).
    pub fn idle_turn(self: &Arc<Self>, idle: Duration) -> Option<Turn> {
        let permit = self.slot.clone().try_acquire_owned().ok()?;
        let since = self.last_used.lock().map(|t| t.elapsed()).unwrap_or_default();
        (since >= idle).then(|| Turn { _permit: permit, gate: self.clone() })
    }

    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
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

    #[tokio::test]
    async fn one_runs_limit_wait_the_rest_are_refused() {
        let gate = Gate::new(2);
        let first = gate.enter().await.unwrap();
        let g1 = gate.clone();
        let g2 = gate.clone();
        let w1 = tokio::spawn(async move { g1.enter().await.map(|_| ()) });
        let w2 = tokio::spawn(async move { g2.enter().await.map(|_| ()) });
        while gate.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.enter().await, Err(ApiError::Busy(2))));
        drop(first);
        w1.await.unwrap().unwrap();
        w2.await.unwrap().unwrap();
        assert_eq!(gate.waiting(), 0);
    }

    #[tokio::test]
    async fn a_waiter_that_leaves_gives_its_place_back() {
        let gate = Gate::new(1);
        let _first = gate.enter().await.unwrap();
        let g = gate.clone();
        let waiter = tokio::spawn(async move { g.enter().await.map(|_| ()) });
        while gate.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(gate.waiting(), 0);
    }

    #[tokio::test]
    async fn the_reaper_gets_the_slot_only_when_idle_long_enough() {
        let gate = Gate::new(1);
        drop(gate.enter().await.unwrap());
        assert!(gate.idle_turn(Duration::from_secs(60)).is_none());
        assert!(gate.idle_turn(Duration::ZERO).is_some());
        let _busy = gate.enter().await.unwrap();
        assert!(gate.idle_turn(Duration::ZERO).is_none());
    }
}
