//! Downloading one file, so that it survives a flaky network, a closed lid and a restarted app, and
//! what lands on disk is exactly the file the Hub published.
//!
//! The file is cut into segments. Several connections take segments from a shared queue and write
//! them into `{file}.part` at their offsets; each finished segment is recorded in
//! `{file}.part.state`, so a restart resumes with the segments still missing. A failed or stalled
//! connection retries with backoff from the byte it had reached. The sha256 is computed while the file
//! downloads, by a thread that reads back each run of finished segments from the start of the file, so
//! little is left to hash at the end. Then the size and sha256 are checked; a mismatch deletes the part
//! file and says so; only a verified file is renamed into place.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::RANGE;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::client::{check, HubClient};
use crate::error::{HubError, Result};

#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    pub dest: PathBuf,
    pub size: u64,
    /// Lower-case hex; `None` only for files the Hub gives no hash for (small non-LFS files).
    pub sha256: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Parallel connections for a large file (CDNs throttle each connection).
    pub connections: usize,
    pub segment: u64,
    /// Attempts per segment before giving up.
    pub attempts: u32,
    /// No byte for this long is a stall: drop the connection and try again.
    pub stall: Duration,
    pub backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self { connections: 4, segment: 32 << 20, attempts: 8, stall: Duration::from_secs(20), backoff: Duration::from_millis(500) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub bytes_per_second: f64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct State {
    size: u64,
    sha256: Option<String>,
    segment: u64,
    /// One character per segment: '1' done, '0' not yet.
    done: String,
    /// For segments under way: bytes from the segment's start that are written and synced. Saved
    /// every [`CHECKPOINT`], so a killed process loses at most that much per connection, not whole
    /// segments (it lost up to 4 × 32 MiB before: the 98 MB test model restarted from zero).
    #[serde(default)]
    partial: BTreeMap<usize, u64>,
}

/// How often a connection syncs what it wrote and records how far it got.
const CHECKPOINT: Duration = Duration::from_secs(1);

pub fn part_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

fn state_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".part.state");
    PathBuf::from(p)
}

/// Remove what a cancelled download left behind.
pub fn discard(dest: &Path) {
    let _ = std::fs::remove_file(part_path(dest));
    let _ = std::fs::remove_file(state_path(dest));
}

/// Bytes already on disk for this job (finished segments and checkpoints), for a progress bar
/// before resuming.
pub fn bytes_on_disk(job: &Job, opts: &Options) -> u64 {
    load_state(job, opts).map(|s| done_bytes(&s)).unwrap_or(0)
}

fn load_state(job: &Job, opts: &Options) -> Option<State> {
    let s: State = serde_json::from_slice(&std::fs::read(state_path(&job.dest)).ok()?).ok()?;
    let fresh = s.size == job.size && s.sha256 == job.sha256 && s.segment == opts.segment;
    (fresh && part_path(&job.dest).exists()).then_some(s)
}

fn done_bytes(s: &State) -> u64 {
    s.done
        .chars()
        .enumerate()
        .filter(|(_, c)| *c == '1')
        .map(|(i, _)| s.segment.min(s.size - (i as u64) * s.segment))
        .sum::<u64>()
        + s.partial.iter().filter(|(i, _)| s.done.as_bytes().get(**i) == Some(&b'0')).map(|(_, b)| *b).sum::<u64>()
}

fn save_state(dest: &Path, s: &State) -> Result<()> {
    let tmp = state_path(dest).with_extension("state.tmp");
    std::fs::write(&tmp, serde_json::to_vec(s).map_err(|e| HubError::Io(e.to_string()))?)?;
    std::fs::rename(tmp, state_path(dest))?;
    Ok(())
}

/// Download `job`, reporting progress at most every 100 ms. Returns when the verified file is in
/// place, or with the error that stopped it (the part file stays for a later resume unless the
/// error says it was deleted).
pub async fn download(
    client: &HubClient,
    job: &Job,
    opts: &Options,
    cancel: &CancellationToken,
    on_progress: impl Fn(Progress) + Send + Sync + 'static,
) -> Result<()> {
    if std::fs::metadata(&job.dest).is_ok_and(|m| m.len() == job.size) {
        return Ok(());
    }
    if let Some(parent) = job.dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // The size comes from the Hub: bound the number of segments (and so the state's length) whatever
    // it says, by growing the segments for absurdly large files.
    const MAX_SEGMENTS: u64 = 1 << 16;
    let segment = opts.segment.max(1 << 16).max(job.size.div_ceil(MAX_SEGMENTS));
    let opts = &Options { segment, ..opts.clone() };
    let previous = load_state(job, opts);
    let already = previous.as_ref().map(done_bytes).unwrap_or(0);

    // Free space first, before a byte is written or fetched.
    let dir = job.dest.parent().unwrap_or(Path::new("."));
    let free = fs4::available_space(dir).unwrap_or(u64::MAX);
    let needed = job.size - already.min(job.size);
    if free < needed {
        return Err(HubError::DiskFull { needed, free });
    }

    let count = job.size.div_ceil(segment).max(1) as usize;
    let state = previous.unwrap_or_else(|| State {
        size: job.size,
        sha256: job.sha256.clone(),
        segment,
        done: "0".repeat(count),
        partial: BTreeMap::new(),
    });

    let part = part_path(&job.dest);
    let file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&part)?;
    file.set_len(job.size)?;
    drop(file);
    save_state(&job.dest, &state)?;

    let queue: VecDeque<usize> = state.done.chars().enumerate().filter(|(_, c)| *c == '0').map(|(i, _)| i).collect();
    let stop = cancel.child_token();
    // The hash follows the finished front of the file on its own thread, overlapping the download.
    let (front_tx, front_rx) = std::sync::mpsc::channel::<u64>();
    let _ = front_tx.send(front(&state));
    let hashing = job.sha256.as_ref().map(|_| {
        let (part, stop) = (part_path(&job.dest), stop.clone());
        tokio::task::spawn_blocking(move || follow_and_hash(&part, &front_rx, &stop))
    });
    let shared = Arc::new(Shared {
        queue: Mutex::new(queue),
        state: Mutex::new(state),
        done: AtomicU64::new(already),
        started: Instant::now(),
        already,
        last_report: Mutex::new(Instant::now() - Duration::from_secs(1)),
        on_progress: Box::new(on_progress),
        total: job.size,
        front: Mutex::new(Some(front_tx)),
    });
    let mut workers = Vec::new();
    for _ in 0..opts.connections.clamp(1, 16).min(count) {
        let (client, job, opts, shared, stop) = (client.clone(), job.clone(), opts.clone(), shared.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let r = worker(&client, &job, &opts, segment, &shared, &stop).await;
            if r.is_err() {
                // One fatal error stops the others: no point downloading the rest of a gated file.
                stop.cancel();
            }
            r
        }));
    }
    let mut first_error = None;
    for w in workers {
        let r = w.await.map_err(|e| HubError::Io(e.to_string())).and_then(|r| r);
        if let Err(e) = r {
            if first_error.is_none() || matches!(first_error, Some(HubError::Cancelled)) {
                first_error = Some(e);
            }
        }
    }
    // Every worker has ended: closing the channel lets the hashing thread finish what it was given.
    if let Ok(mut f) = shared.front.lock() {
        f.take();
    }
    if cancel.is_cancelled() {
        return Err(HubError::Cancelled);
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    shared.report(true);
    let hashed = match hashing {
        Some(h) => Some(h.await.map_err(|e| HubError::Io(e.to_string()))??),
        None => None,
    };
    verify_and_finish(job, hashed).await
}

/// Bytes from the start of the file that are in finished (written and synced) segments.
fn front(s: &State) -> u64 {
    (s.done.bytes().take_while(|c| *c == b'1').count() as u64 * s.segment).min(s.size)
}

/// Hash the part file from its start, as far as the front the workers announce; returns when the
/// channel closes, with the hasher and how far it got, or as soon as the download is stopped.
fn follow_and_hash(part: &Path, fronts: &std::sync::mpsc::Receiver<u64>, stop: &CancellationToken) -> Result<(Sha256, u64)> {
    let mut hasher = Sha256::new();
    let mut at = 0;
    while let Ok(front) = fronts.recv() {
        let to = fronts.try_iter().fold(front, u64::max);
        while at < to {
            if stop.is_cancelled() {
                return Err(HubError::Cancelled);
            }
            let reached = sha256_range(part, &mut hasher, at, to.min(at + (8 << 20)))?;
            if reached == at {
                break; // the file ends early: the size check at the end says so
            }
            at = reached;
        }
    }
    Ok((hasher, at))
}

struct Shared {
    queue: Mutex<VecDeque<usize>>,
    state: Mutex<State>,
    done: AtomicU64,
    started: Instant,
    already: u64,
    last_report: Mutex<Instant>,
    on_progress: Box<dyn Fn(Progress) + Send + Sync>,
    total: u64,
    /// Tells the hashing thread how far the finished front has moved; `None` once the workers ended.
    front: Mutex<Option<std::sync::mpsc::Sender<u64>>>,
}

impl Shared {
    fn report(&self, force: bool) {
        let Ok(mut last) = self.last_report.lock() else { return };
        if !force && last.elapsed() < Duration::from_millis(100) {
            return;
        }
        *last = Instant::now();
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        (self.on_progress)(Progress { done, total: self.total, bytes_per_second: (done - self.already.min(done)) as f64 / secs });
    }

    fn next(&self) -> Option<usize> {
        self.queue.lock().ok()?.pop_front()
    }

    /// Where segment `index` resumes: its start, plus what an earlier run recorded of it.
    fn resume_at(&self, index: usize, start: u64, end: u64) -> u64 {
        let recorded = self.state.lock().ok().and_then(|s| s.partial.get(&index).copied()).unwrap_or(0);
        (start + recorded).min(end)
    }

    /// Record that segment `index` has `bytes` written and synced from its start.
    fn checkpoint(&self, dest: &Path, index: usize, bytes: u64) -> Result<()> {
        let mut s = self.state.lock().map_err(|_| HubError::Io("state lock".into()))?;
        s.partial.insert(index, bytes);
        save_state(dest, &s)
    }

    fn finish(&self, dest: &Path, index: usize) -> Result<()> {
        let mut s = self.state.lock().map_err(|_| HubError::Io("state lock".into()))?;
        s.done.replace_range(index..=index, "1");
        s.partial.remove(&index);
        save_state(dest, &s)?;
        if let Ok(Some(tx)) = self.front.lock().as_deref() {
            let _ = tx.send(front(&s));
        }
        Ok(())
    }
}

async fn worker(client: &HubClient, job: &Job, opts: &Options, segment: u64, shared: &Shared, stop: &CancellationToken) -> Result<()> {
    let mut file = tokio::fs::OpenOptions::new().write(true).open(part_path(&job.dest)).await?;
    while let Some(index) = shared.next() {
        let start = index as u64 * segment;
        let end = (start + segment).min(job.size); // exclusive
        fetch_segment(client, job, opts, &mut file, index, start, end, shared, stop).await?;
        file.flush().await?;
        file.sync_data().await?;
        shared.finish(&job.dest, index)?;
        shared.report(false);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn fetch_segment(
    client: &HubClient,
    job: &Job,
    opts: &Options,
    file: &mut tokio::fs::File,
    index: usize,
    start: u64,
    end: u64,
    shared: &Shared,
    stop: &CancellationToken,
) -> Result<()> {
    let mut at = shared.resume_at(index, start, end);
    let mut last_error = String::new();
    for attempt in 0..opts.attempts {
        if stop.is_cancelled() {
            return Err(HubError::Cancelled);
        }
        match fetch_from(client, job, opts, file, Segment { index, start, end }, at, shared, stop).await {
            Ok(()) => return Ok(()),
            Err((reached, e)) => {
                at = reached;
                if at >= end {
                    return Ok(());
                }
                if !e.is_transient() {
                    return Err(e);
                }
                last_error = e.to_string();
                let wait = match &e {
                    HubError::RateLimited(d) => *d,
                    _ => opts.backoff.saturating_mul(1 << attempt.min(5)).min(Duration::from_secs(30)),
                };
                tracing::warn!(attempt, ?wait, error = %e, "download interrupted; resuming");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return Err(HubError::Cancelled),
                }
            }
        }
    }
    Err(HubError::GaveUp { attempts: opts.attempts, last: last_error })
}

/// One segment of the file: bytes `[start, end)`, number `index` in the state.
#[derive(Clone, Copy)]
struct Segment {
    index: usize,
    start: u64,
    end: u64,
}

/// Stream `[at, segment.end)` into the file, checkpointing as it goes. On failure, returns how far
/// it got.
#[allow(clippy::too_many_arguments)]
async fn fetch_from(
    client: &HubClient,
    job: &Job,
    opts: &Options,
    file: &mut tokio::fs::File,
    segment: Segment,
    at: u64,
    shared: &Shared,
    stop: &CancellationToken,
) -> std::result::Result<(), (u64, HubError)> {
    let end = segment.end;
    let req = client.get(&job.url).header(RANGE, format!("bytes={at}-{}", end - 1));
    let resp = tokio::select! {
        r = tokio::time::timeout(opts.stall, req.send()) => match r {
            Ok(r) => check(r, &job.url).await.map_err(|e| (at, e))?,
            Err(_) => return Err((at, HubError::Offline("no answer".into()))),
        },
        _ = stop.cancelled() => return Err((at, HubError::Cancelled)),
    };
    if resp.status() != StatusCode::PARTIAL_CONTENT && !(resp.status() == StatusCode::OK && at == 0 && end == job.size) {
        return Err((at, HubError::BadResponse(format!("asked for a byte range, got {}", resp.status()))));
    }
    file.seek(std::io::SeekFrom::Start(at)).await.map_err(|e| (at, e.into()))?;
    let mut pos = at;
    let mut checkpointed = (pos, Instant::now());
    let mut stream = resp.bytes_stream();
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(opts.stall, stream.next()) => n,
            _ = stop.cancelled() => return Err((pos, HubError::Cancelled)),
        };
        let chunk = match next {
            Err(_) => return Err((pos, HubError::Offline(format!("stalled: no data for {} s", opts.stall.as_secs())))),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err((pos, HubError::Offline(e.to_string()))),
            Ok(Some(Ok(c))) => c,
        };
        let take = chunk.len().min((end - pos) as usize);
        file.write_all(&chunk[..take]).await.map_err(|e| (pos, e.into()))?;
        pos += take as u64;
        // Bytes count toward progress as they land; a failed attempt keeps them (it resumes from `pos`).
        shared.done.fetch_add(take as u64, Ordering::Relaxed);
        shared.report(false);
        if pos >= end {
            break;
        }
        if pos > checkpointed.0 && checkpointed.1.elapsed() >= CHECKPOINT {
            // Synced before it is recorded: the state never claims bytes the disk may not have.
            file.flush().await.map_err(|e| (pos, e.into()))?;
            file.sync_data().await.map_err(|e| (pos, e.into()))?;
            shared.checkpoint(&job.dest, segment.index, pos - segment.start).map_err(|e| (pos, e))?;
            checkpointed = (pos, Instant::now());
        }
    }
    if pos < end {
        return Err((pos, HubError::Offline("the connection closed early".into())));
    }
    Ok(())
}

/// `hashed`: the sha256 of the part file's first bytes, and how many, from the hashing thread.
async fn verify_and_finish(job: &Job, hashed: Option<(Sha256, u64)>) -> Result<()> {
    let part = part_path(&job.dest);
    let actual_size = std::fs::metadata(&part)?.len();
    if actual_size != job.size {
        discard(&job.dest);
        return Err(HubError::SizeMismatch { expected: job.size, actual: actual_size });
    }
    if let Some(expected) = &job.sha256 {
        let path = part.clone();
        let (mut hasher, at) = hashed.unwrap_or_else(|| (Sha256::new(), 0));
        let size = job.size;
        let actual = tokio::task::spawn_blocking(move || {
            sha256_range(&path, &mut hasher, at, size)?;
            Ok::<_, HubError>(hex(hasher))
        })
        .await
        .map_err(|e| HubError::Io(e.to_string()))??;
        if !actual.eq_ignore_ascii_case(expected) {
            discard(&job.dest);
            return Err(HubError::ChecksumMismatch { expected: expected.clone(), actual });
        }
    }
    std::fs::rename(&part, &job.dest)?;
    let _ = std::fs::remove_file(state_path(&job.dest));
    Ok(())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    sha256_range(path, &mut hasher, 0, u64::MAX)?;
    Ok(hex(hasher))
}

/// Feed the file's bytes `[from, to)` (or to its end, if shorter) to `hasher`; returns where it stopped.
fn sha256_range(path: &Path, hasher: &mut Sha256, from: u64, to: u64) -> Result<u64> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::open(path)?;
    f.seek(std::io::SeekFrom::Start(from))?;
    let mut at = from;
    let mut buf = vec![0u8; 1 << 20];
    while at < to {
        let want = buf.len().min(usize::try_from(to - at).unwrap_or(usize::MAX));
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(at)
}

fn hex(hasher: Sha256) -> String {
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
