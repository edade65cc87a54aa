//! The app's download queue: `library::Downloads` run on a background task, woken when something is
//! queued, with the last progress of each download kept for the Downloads view to read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use library::{DownloadEvent, Downloads};
use store::DownloadStatus;
use tokio::sync::Notify;
use types::{DownloadItem, DownloadState};

#[derive(Clone)]
pub struct Queue {
    pub downloads: Arc<Downloads>,
    wake: Arc<Notify>,
    live: Arc<Mutex<HashMap<i64, DownloadEvent>>>,
}

fn state(s: DownloadStatus) -> DownloadState {
    match s {
        DownloadStatus::Queued => DownloadState::Queued,
        DownloadStatus::Running => DownloadState::Running,
        DownloadStatus::Paused => DownloadState::Paused,
        DownloadStatus::Failed => DownloadState::Failed,
        DownloadStatus::Done => DownloadState::Done,
        DownloadStatus::Cancelled => DownloadState::Cancelled,
    }
}

impl Queue {
    /// Start the runner: it resumes what a previous run left (the app may have been killed), then
    /// waits to be woken.
    pub fn start(downloads: Downloads) -> Self {
        let q = Self { downloads: Arc::new(downloads), wake: Arc::new(Notify::new()), live: Arc::new(Mutex::new(HashMap::new())) };
        let (dl, wake, live) = (q.downloads.clone(), q.wake.clone(), q.live.clone());
        let mut events = dl.subscribe();
        tauri::async_runtime::spawn(async move {
            while let Ok(e) = events.recv().await {
                if let Ok(mut l) = live.lock() {
                    l.insert(e.id, e);
                }
            }
        });
        tauri::async_runtime::spawn(async move {
            loop {
                if let Err(e) = dl.run_queue().await {
                    tracing::warn!(error = %e, "download queue");
                }
                wake.notified().await;
            }
        });
        q
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn items(&self) -> Result<Vec<DownloadItem>, types::HearthError> {
        let rows = self.downloads.store().downloads().map_err(internal)?;
        let live = self.live.lock().map(|l| l.clone()).unwrap_or_default();
        Ok(rows
            .into_iter()
            .filter(|d| d.status != DownloadStatus::Cancelled)
            .map(|d| {
                let e = live.get(&d.id).filter(|_| d.status == DownloadStatus::Running);
                let done = match (d.status, e) {
                    (DownloadStatus::Done, _) => d.spec.size,
                    (_, Some(e)) => e.done,
                    _ => self.downloads.bytes_on_disk(&d),
                };
                DownloadItem {
                    id: d.id,
                    repo: d.spec.repo.clone(),
                    file: d.spec.file.clone(),
                    state: state(d.status),
                    done_bytes: done,
                    total_bytes: d.spec.size,
                    bytes_per_second: e.map(|e| e.bytes_per_second).unwrap_or(0.0),
                    error: d.error.clone(),
                }
            })
            .collect())
    }
}

pub fn internal(e: impl std::fmt::Display) -> types::HearthError {
    types::HearthError::new(types::ErrorCode::Internal, "Hearth's download list could not be read.").with_details(e.to_string())
}
