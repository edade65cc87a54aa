//! The download queue as an app runs it: `Downloads` run on a background task, woken when
//! something is queued, with the last progress of each download merged into the list the window
//! shows (`items`), and that list pushed to whoever watches it as progress comes (`watch`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::Notify;
use types::{DownloadItem, DownloadState, HearthError};

use crate::{DownloadEvent, Downloads};

/// How often a watcher gets the list while bytes come in: smooth for a progress bar, cheap.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct DownloadQueue {
    pub downloads: Arc<Downloads>,
    wake: Arc<Notify>,
    live: Arc<Mutex<HashMap<i64, DownloadEvent>>>,
    runtime: Handle,
}

impl DownloadQueue {
    /// Starts the runner on `runtime`: it resumes what a previous run left (the app may have been
    /// killed), then waits to be woken.
    pub fn start(downloads: Downloads, runtime: Handle) -> Self {
        let q = Self { downloads: Arc::new(downloads), wake: Arc::new(Notify::new()), live: Arc::default(), runtime };
        let (dl, wake, live) = (q.downloads.clone(), q.wake.clone(), q.live.clone());
        let mut events = dl.subscribe();
        q.runtime.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(e) => {
                        if let Ok(mut l) = live.lock() {
                            l.insert(e.id, e);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        q.runtime.spawn(async move {
            loop {
                if let Err(e) = dl.run_queue().await {
                    tracing::warn!(error = %e, "download queue");
                }
                wake.notified().await;
            }
        });
        q
    }

    /// Something was queued or resumed: run it.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Every download not cancelled, with the bytes and speed of the running ones as they stand.
    pub fn items(&self) -> Result<Vec<DownloadItem>, HearthError> {
        let rows = self.downloads.store().downloads().map_err(internal)?;
        let live = self.live.lock().map(|l| l.clone()).unwrap_or_default();
        Ok(rows
            .into_iter()
            .filter(|d| d.status != DownloadState::Cancelled)
            .map(|d| {
                let e = live.get(&d.id).filter(|_| d.status == DownloadState::Running);
                let done = match (d.status, e) {
                    (DownloadState::Done, _) => d.spec.size,
                    (_, Some(e)) => e.done,
                    _ => self.downloads.bytes_on_disk(&d),
                };
                DownloadItem {
                    id: d.id,
                    repo: d.spec.repo.clone(),
                    file: d.spec.file.clone(),
                    state: d.status,
                    done_bytes: done,
                    total_bytes: d.spec.size,
                    bytes_per_second: e.map(|e| e.bytes_per_second).unwrap_or(0.0),
                    error: d.error.clone(),
                }
            })
            .collect())
    }

    /// Sends the list to `send` now and again whenever a download moves (at most every
    /// `WATCH_EVERY`), until `send` says the watcher is gone.
    pub fn watch(&self, send: impl Fn(Vec<DownloadItem>) -> bool + Send + 'static) {
        let q = self.clone();
        let mut events = self.downloads.subscribe();
        self.runtime.spawn(async move {
            loop {
                if let Ok(items) = q.items() {
                    if !send(items) {
                        return;
                    }
                }
                // Wait for a change, then let more of them gather before the next list.
                match events.recv().await {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
                tokio::time::sleep(WATCH_EVERY).await;
                while events.try_recv().is_ok() {}
            }
        });
    }
}

pub fn internal(e: impl std::fmt::Display) -> HearthError {
    HearthError::new(types::ErrorCode::Internal, "Hearth's download list could not be read.").with_details(e.to_string())
}
