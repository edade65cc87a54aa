//! The download queue. Each download is a row in SQLite (so a restart resumes it) and a part file
//! on disk (so it resumes from its bytes). One runs at a time, over several connections; the others
//! wait their turn. Pause keeps the part file; cancel deletes it.
//!
//! A row says what happened, the disk says what is: a "done" download whose file is gone (the person
//! deleted the model) is downloaded again when asked for, and asking again refreshes what the Hub
//! says of the file (its size and sha256, a new revision) and where it goes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use hub::download::{self, Job, Options};
use hub::{HubClient, HubError};
use store::{Download, ModelSource, NewDownload, Store};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use types::DownloadState;

use crate::{LibraryError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct DownloadEvent {
    pub id: i64,
    pub status: DownloadState,
    pub done: u64,
    pub total: u64,
    pub bytes_per_second: f64,
    pub error: Option<String>,
}

pub struct Downloads {
    store: Arc<Store>,
    /// Swapped when Settings change the Hub or the token; each download takes the client of its start.
    client: RwLock<HubClient>,
    /// Swapped when Settings change the folder; queued downloads keep the destination they were given.
    models_dir: RwLock<PathBuf>,
    options: Options,
    /// Tokens of running downloads, and why each was stopped.
    running: Mutex<HashMap<i64, (CancellationToken, Option<DownloadState>)>>,
    events: broadcast::Sender<DownloadEvent>,
}

impl Downloads {
    pub fn new(store: Arc<Store>, client: HubClient, models_dir: PathBuf, options: Options) -> Self {
        let (events, _) = broadcast::channel(256);
        Self {
            store,
            client: RwLock::new(client),
            models_dir: RwLock::new(models_dir),
            options,
            running: Mutex::new(HashMap::new()),
            events,
        }
    }

    /// Use another Hub client (a new endpoint or token) from the next download on.
    pub fn set_client(&self, client: HubClient) {
        *self.client.write().unwrap_or_else(|e| e.into_inner()) = client;
    }

    /// Download into another folder from the next queued file on.
    pub fn set_models_dir(&self, dir: PathBuf) {
        *self.models_dir.write().unwrap_or_else(|e| e.into_inner()) = dir;
    }

    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn client(&self) -> HubClient {
        self.client.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DownloadEvent> {
        self.events.subscribe()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Queue the files of `repo` (from `pick`, with the Hub's sizes and hashes); returns their rows.
    /// A file queued before is queued again with what the Hub says now, unless it is running, or
    /// done and still on disk as the Hub describes it (a "done" row whose file is gone is queued).
    pub async fn enqueue(&self, repo: &str, revision: &str, files: &[hub::Sibling]) -> Result<Vec<Download>> {
        let (client, models_dir) = (self.client(), self.models_dir());
        let mut out = Vec::new();
        for f in files {
            let dest = hub::model_file_path(&models_dir, repo, &f.rfilename)?;
            let size = f.bytes().ok_or_else(|| HubError::BadResponse(format!("the Hub gave no size for {}", f.rfilename)))?;
            let spec = NewDownload {
                repo: repo.to_string(),
                revision: revision.to_string(),
                file: f.rfilename.clone(),
                url: client.resolve_url(repo, revision, &f.rfilename),
                dest: dest.display().to_string(),
                size,
                sha256: f.sha256().map(str::to_string),
            };
            let row = match self.store.find_download(repo, revision, &f.rfilename)? {
                None => self.store.enqueue_download(&spec)?,
                Some(old) => self.requeue(old, spec)?,
            };
            out.push(row);
        }
        Ok(out)
    }

    /// A download asked for again.
    fn requeue(&self, old: Download, mut spec: NewDownload) -> Result<Download> {
        let same_file = old.spec.size == spec.size && old.spec.sha256 == spec.sha256;
        let status = match old.status {
            // Under way with the spec it started with; it finishes (or fails) on its own.
            DownloadState::Running => return Ok(old),
            DownloadState::Done if same_file && on_disk(&old.spec) => return Ok(old),
            DownloadState::Done | DownloadState::Failed | DownloadState::Cancelled => DownloadState::Queued,
            // Asking again does not override a pause.
            DownloadState::Queued | DownloadState::Paused => old.status,
        };
        // Bytes already fetched stay where they are and are resumed (the part file's own record
        // checks that they belong to this size and sha256). Otherwise the file goes where downloads
        // go now.
        if download::part_path(Path::new(&old.spec.dest)).exists() && old.spec.dest != spec.dest {
            spec.dest = old.spec.dest.clone();
        }
        let row = self.store.respecify_download(old.id, old.status, &spec, status)?;
        row.ok_or(LibraryError::UnknownDownload(old.id))
    }

    /// Bytes already on disk for a download (for the progress bar of a paused one).
    pub fn bytes_on_disk(&self, d: &Download) -> u64 {
        download::bytes_on_disk(&job(d), &self.options)
    }

    /// Run one download to its end: done (verified, in the library), paused, cancelled or failed.
    pub async fn run(&self, id: i64) -> Result<DownloadState> {
        let d = self.store.download(id)?.ok_or(LibraryError::UnknownDownload(id))?;
        // Done means the file is there; one deleted since is downloaded again.
        if d.status == DownloadState::Done && on_disk(&d.spec) {
            return Ok(DownloadState::Done);
        }
        let token = CancellationToken::new();
        if let Ok(mut r) = self.running.lock() {
            r.insert(id, (token.clone(), None));
        }
        self.store.set_download_status(id, DownloadState::Running, None)?;
        let events = self.events.clone();
        let job = job(&d);
        let result = download::download(&self.client(), &job, &self.options, &token, move |p| {
            let _ = events.send(DownloadEvent {
                id,
                status: DownloadState::Running,
                done: p.done,
                total: p.total,
                bytes_per_second: p.bytes_per_second,
                error: None,
            });
        })
        .await;
        let stopped_as = self.running.lock().ok().and_then(|mut r| r.remove(&id)).and_then(|(_, why)| why);
        let (status, error) = match result {
            Ok(()) => {
                self.store.upsert_model(
                    &d.spec.dest,
                    ModelSource::Downloaded,
                    Some(&d.spec.repo),
                    Some(&d.spec.file),
                    d.spec.size,
                    d.spec.sha256.as_deref(),
                )?;
                (DownloadState::Done, None)
            }
            Err(HubError::Cancelled) => {
                let why = stopped_as.unwrap_or(DownloadState::Paused);
                if why == DownloadState::Cancelled {
                    download::discard(&job.dest);
                }
                (why, None)
            }
            Err(e) => (DownloadState::Failed, Some(e.to_string())),
        };
        self.store.set_download_status(id, status, error.as_deref())?;
        let done = if status == DownloadState::Done { d.spec.size } else { download::bytes_on_disk(&job, &self.options) };
        let _ = self.events.send(DownloadEvent { id, status, done, total: d.spec.size, bytes_per_second: 0.0, error });
        Ok(status)
    }

    /// Run everything queued (and, after a restart, everything that was running), one at a time.
    pub async fn run_queue(&self) -> Result<()> {
        self.store.requeue_interrupted()?;
        loop {
            let next = self.store.downloads()?.into_iter().find(|d| d.status == DownloadState::Queued);
            let Some(d) = next else { return Ok(()) };
            self.run(d.id).await?;
        }
    }

    pub fn pause(&self, id: i64) -> Result<()> {
        self.stop(id, DownloadState::Paused).map(|_| ())
    }

    pub fn resume(&self, id: i64) -> Result<()> {
        self.store.set_download_status(id, DownloadState::Queued, None)?;
        Ok(())
    }

    pub fn cancel(&self, id: i64) -> Result<()> {
        let d = self.store.download(id)?.ok_or(LibraryError::UnknownDownload(id))?;
        let running = self.stop(id, DownloadState::Cancelled)?;
        if !running {
            download::discard(Path::new(&d.spec.dest));
            self.store.set_download_status(id, DownloadState::Cancelled, None)?;
        }
        Ok(())
    }

    /// Stop a running download; returns whether it was running. A queued one just changes state.
    fn stop(&self, id: i64, why: DownloadState) -> Result<bool> {
        let mut running = self.running.lock().map_err(|_| store::StoreError::Poisoned)?;
        if let Some((token, reason)) = running.get_mut(&id) {
            *reason = Some(why);
            token.cancel();
            return Ok(true);
        }
        drop(running);
        self.store.set_download_status(id, why, None)?;
        Ok(false)
    }
}

/// The file is where the download put it, with the size it had. (Its sha256 was checked when it
/// landed; `hub::download` hashes a file it did not just write before it accepts it.)
fn on_disk(d: &NewDownload) -> bool {
    std::fs::metadata(&d.dest).is_ok_and(|m| m.is_file() && m.len() == d.size)
}

fn job(d: &Download) -> Job {
    Job { url: d.spec.url.clone(), dest: PathBuf::from(&d.spec.dest), size: d.spec.size, sha256: d.spec.sha256.clone() }
}
