//! Downloading one file, so that it survives a flaky network, a closed lid and a restarted app, and
//! what lands on disk is exactly the file the Hub published.
//!
//! The file is cut into segments. Several connections take segments from a shared queue and write
//! them into `{file}.part` at their offsets; each finished segment is recorded in
//! `{file}.part.state`, so a restart resumes with the segments still missing. A failed or stalled
//! connection retries with backoff from the byte it had reached. The disk side runs on threads of
//! its own, so the connections only receive: writing and hashing in [`disk`], recording progress
//! and fsyncing in `Shared::keep_records` here (it owns the state). The sha256 is complete when the
//! last byte lands. Then the size and sha256 are checked; a mismatch deletes the
//! part file and says so; only a verified file is renamed into place.

mod disk;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::RANGE;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use self::disk::{Op, Record, ToHash};
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
    /// How often the part file is fsynced, so a power cut costs at most about this much of the
    /// download. Not after every segment: forcing the writeback as the bytes arrive cost about a
    /// fifth of the speed on a fast link (download benchmark), and a killed app needs no fsync.
    pub sync_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connections: 4,
            segment: 32 << 20,
            attempts: 8,
            stall: Duration::from_secs(20),
            backoff: Duration::from_millis(500),
            sync_every: Duration::from_secs(5),
        }
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
    /// One character per segment: '1' done, '0' not yet. Written, not necessarily synced: a killed
    /// process loses nothing of it (the bytes are in the kernel's page cache), a power cut might.
    done: String,
    /// For segments under way: bytes from the segment's start that are written. Saved about every
    /// [`CHECKPOINT`], so a killed process loses at most that much per connection, not whole
    /// segments (it lost up to 4 × 32 MiB before: the 98 MB test model restarted from zero).
    #[serde(default)]
    partial: BTreeMap<usize, u64>,
    /// The machine's boot these claims were made in (Linux's boot id; `None` elsewhere). After
    /// another boot, or where it cannot be told, only [`State::synced`] is trusted.
    #[serde(default)]
    boot: Option<String>,
    /// `done` and `partial` as of the last fsync of the part file: what survives a power cut.
    /// Absent in states saved before it existed, which recorded only synced bytes.
    #[serde(default)]
    synced: Option<Claims>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Claims {
    done: String,
    #[serde(default)]
    partial: BTreeMap<usize, u64>,
}

impl State {
    fn claims(&self) -> Claims {
        Claims { done: self.done.clone(), partial: self.partial.clone() }
    }
}

/// How often a connection records how far it got in its segment. Cheap now that a record is a small
/// file write with no fsync, so often: a killed app loses at most this much of each connection.
const CHECKPOINT: Duration = Duration::from_millis(250);

/// This boot of the machine, to tell a restarted app (its written bytes are safe) from a rebooted
/// machine (only synced bytes are).
fn current_boot() -> Option<String> {
    if cfg!(target_os = "linux") {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
    } else {
        None
    }
}

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
    let mut s: State = serde_json::from_slice(&std::fs::read(state_path(&job.dest)).ok()?).ok()?;
    let fresh = s.size == job.size && s.sha256 == job.sha256 && s.segment == opts.segment;
    // A state that does not describe this file's segments (damaged, edited) is ignored, not
    // trusted into an out-of-range segment.
    let count = job.size.div_ceil(s.segment.max(1)).max(1) as usize;
    let well_formed = |c: &str, partial: &BTreeMap<usize, u64>| {
        c.len() == count && c.bytes().all(|b| b == b'0' || b == b'1') && partial.iter().all(|(i, b)| *i < count && *b <= s.segment)
    };
    if !well_formed(&s.done, &s.partial) || s.synced.as_ref().is_some_and(|c| !well_formed(&c.done, &c.partial)) {
        return None;
    }
    let same_boot = s.boot.is_some() && s.boot == current_boot();
    if !same_boot {
        if let Some(synced) = s.synced.clone() {
            if synced.done.len() != s.done.len() {
                return None;
            }
            (s.done, s.partial) = (synced.done, synced.partial);
        }
    }
    (fresh && part_path(&job.dest).exists()).then_some(s)
}

fn done_bytes(s: &State) -> u64 {
    s.done.chars().enumerate().filter(|(_, c)| *c == '1').map(|(i, _)| s.segment.min(s.size - (i as u64) * s.segment)).sum::<u64>()
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
    if already_there(job, cancel).await? {
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
    let mut state = previous.unwrap_or_else(|| State {
        size: job.size,
        sha256: job.sha256.clone(),
        segment,
        done: "0".repeat(count),
        partial: BTreeMap::new(),
        boot: None,
        synced: None,
    });
    state.boot = current_boot();
    state.synced.get_or_insert_with(|| Claims { done: "0".repeat(count), partial: BTreeMap::new() });

    let part = part_path(&job.dest);
    let file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&part)?;
    file.set_len(job.size)?;
    drop(file);
    save_state(&job.dest, &state)?;

    let queue: VecDeque<usize> = state.done.chars().enumerate().filter(|(_, c)| *c == '0').map(|(i, _)| i).collect();
    let stop = cancel.child_token();
    // If this future is dropped mid-way, the connections (spawned tasks) stop too, rather than
    // write on into a part file that someone else may be resuming.
    let _stop_when_dropped = stop.clone().drop_guard();
    let first_front = front(&state);
    let shared = Arc::new(Shared {
        dest: job.dest.clone(),
        queue: Mutex::new(queue),
        state: Mutex::new(state),
        done: AtomicU64::new(already),
        started: Instant::now(),
        already,
        last_report: Mutex::new(Instant::now() - Duration::from_secs(1)),
        on_progress: Box::new(on_progress),
        total: job.size,
    });

    // The hashing thread takes the writers' chunks and the finished front the syncer announces.
    let (to_hash, hash_rx) = mpsc::sync_channel::<ToHash>(disk::HASH_QUEUE);
    let _ = to_hash.send(ToHash::Front(first_front));
    let hashing = job.sha256.as_ref().map(|_| {
        let (part, stop) = (part.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            let r = disk::hash_loop(&part, &hash_rx, &stop);
            // A file that cannot be read back stops the download now, not after the last byte.
            if matches!(r, Err(ref e) if !matches!(e, HubError::Cancelled)) {
                stop.cancel();
            }
            r
        })
    });
    let to_hash = hashing.as_ref().map(|_| to_hash);

    // The syncer records what the writers finished and fsyncs now and then.
    let (records, record_rx) = mpsc::channel::<Record>();
    let syncing = {
        let sync_every = opts.sync_every;
        let (part, shared, stop, to_hash) = (part.clone(), shared.clone(), stop.clone(), to_hash.clone());
        tokio::task::spawn_blocking(move || {
            let r = shared.keep_records(&part, &record_rx, to_hash.as_ref(), sync_every);
            if r.is_err() {
                stop.cancel();
            }
            r
        })
    };

    let mut workers = Vec::new();
    for _ in 0..opts.connections.clamp(1, 16).min(count) {
        let (client, job, opts, shared, stop) = (client.clone(), job.clone(), opts.clone(), shared.clone(), stop.clone());
        let sinks = Sinks { records: records.clone(), to_hash: to_hash.clone() };
        workers.push(tokio::spawn(async move {
            let r = worker(&client, &job, &opts, segment, &shared, &stop, sinks).await;
            if r.is_err() {
                // One fatal error stops the others: no point downloading the rest of a gated file.
                stop.cancel();
            }
            r
        }));
    }
    // The workers' writers hold the other senders: once they are all gone, the syncer ends, and
    // then the hashing thread.
    drop((records, to_hash));
    let mut results = Vec::new();
    for w in workers {
        results.push(joined(w.await));
    }
    results.push(joined(syncing.await));
    let mut hashed = None;
    if let Some(h) = hashing {
        match h.await.map_err(|e| HubError::Io(e.to_string())).and_then(|r| r) {
            Ok(h) => hashed = Some(h),
            Err(e) => results.push(Err(e)),
        }
    }
    if cancel.is_cancelled() {
        return Err(HubError::Cancelled);
    }
    // The first real cause: a worker that saw its writer vanish only says "cancelled".
    let mut first_error = None;
    for e in results.into_iter().filter_map(std::result::Result::err) {
        if first_error.is_none() || matches!(first_error, Some(HubError::Cancelled)) {
            first_error = Some(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    shared.report(true);
    verify_and_finish(job, hashed).await
}

/// Whether the file is already in place: the right size and, hashed, the Hub's sha256. The size
/// alone said yes to an older revision, a damaged copy or any file put there by hand. Without a
/// sha256 to compare (small non-LFS files) it is fetched again. A file that is not the one is left
/// for the download to replace when the new one is verified.
async fn already_there(job: &Job, cancel: &CancellationToken) -> Result<bool> {
    let Some(expected) = job.sha256.clone() else { return Ok(false) };
    if !std::fs::metadata(&job.dest).is_ok_and(|m| m.is_file() && m.len() == job.size) {
        return Ok(false);
    }
    let (dest, size, cancel) = (job.dest.clone(), job.size, cancel.clone());
    let actual = tokio::task::spawn_blocking(move || {
        let mut hasher = <Sha256 as sha2::Digest>::new();
        let mut at = 0;
        // In steps, so a pause or cancel is not kept waiting by a many-GiB file.
        while at < size {
            if cancel.is_cancelled() {
                return Err(HubError::Cancelled);
            }
            let reached = disk::sha256_range(&dest, &mut hasher, at, size.min(at + (64 << 20)))?;
            if reached == at {
                break;
            }
            at = reached;
        }
        Ok(disk::hex(hasher))
    })
    .await
    .map_err(|e| HubError::Io(e.to_string()))??;
    if actual.eq_ignore_ascii_case(&expected) {
        return Ok(true);
    }
    tracing::info!(dest = %job.dest.display(), "a file of the right size is in place but its sha256 differs; downloading it again");
    Ok(false)
}

fn joined(r: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    r.map_err(|e| HubError::Io(e.to_string())).and_then(|r| r)
}

/// Bytes from the start of the file that are in finished (written) segments.
fn front(s: &State) -> u64 {
    (s.done.bytes().take_while(|c| *c == b'1').count() as u64 * s.segment).min(s.size)
}

struct Shared {
    dest: PathBuf,
    queue: Mutex<VecDeque<usize>>,
    state: Mutex<State>,
    done: AtomicU64,
    started: Instant,
    already: u64,
    last_report: Mutex<Instant>,
    on_progress: Box<dyn Fn(Progress) + Send + Sync>,
    total: u64,
}

impl Shared {
    fn report(&self, force: bool) {
        let Ok(mut last) = self.last_report.lock() else {
            return;
        };
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

    /// The syncer: record what the writers report (the state is saved at once: a killed process
    /// keeps it), fsync the part file every `sync_every` and then mark those claims synced, and
    /// announce the finished front to the hashing thread. Ends when every writer has hung up. No
    /// fsync at the very end: a finished file is verified and renamed, and the kernel writes it back
    /// as it does any file (curl, browsers and huggingface_hub do the same).
    fn keep_records(
        &self,
        part: &Path,
        records: &mpsc::Receiver<Record>,
        to_hash: Option<&mpsc::SyncSender<ToHash>>,
        sync_every: Duration,
    ) -> Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(part)?;
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        loop {
            let wait = sync_every.saturating_sub(last_sync.elapsed()).max(Duration::from_millis(10));
            match records.recv_timeout(wait) {
                Ok(first) => {
                    let mut batch = vec![first];
                    batch.extend(records.try_iter());
                    self.record(batch, to_hash)?;
                    unsynced = true;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if unsynced && last_sync.elapsed() >= sync_every {
                // Taken before the fsync: every byte these claims cover was written before it.
                let claims = self.lock_state()?.claims();
                file.sync_data()?;
                let mut s = self.lock_state()?;
                s.synced = Some(claims);
                self.save(&s);
                (last_sync, unsynced) = (Instant::now(), false);
            }
        }
    }

    /// Saving the state as the download runs is worth a warning, not the download: on Windows a
    /// virus scanner or an indexer holding the file can make one rename fail, and a lost save costs
    /// at most a re-fetch of what it would have recorded. (A full disk stops the writers anyway.)
    fn save(&self, s: &State) {
        if let Err(e) = save_state(&self.dest, s) {
            tracing::warn!(error = %e, "could not save the download's progress; it will be tried again");
        }
    }

    fn lock_state(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| HubError::Io("state lock".into()))
    }

    /// Record what the writers report, and announce the finished front to the hashing thread.
    fn record(&self, batch: Vec<Record>, to_hash: Option<&mpsc::SyncSender<ToHash>>) -> Result<()> {
        let mut s = self.lock_state()?;
        for r in batch {
            match r {
                Record::Partial { index, bytes } => {
                    if s.done.as_bytes().get(index) == Some(&b'0') {
                        s.partial.insert(index, bytes);
                    }
                }
                Record::Done { index } => {
                    s.done.replace_range(index..=index, "1");
                    s.partial.remove(&index);
                }
            }
        }
        self.save(&s);
        let front = front(&s);
        drop(s);
        if let Some(to_hash) = to_hash {
            let _ = to_hash.send(ToHash::Front(front));
        }
        Ok(())
    }
}

/// Where a writer passes on what it wrote: to the syncer, and (when there is a sha256 to check) to
/// the hashing thread.
struct Sinks {
    records: mpsc::Sender<Record>,
    to_hash: Option<mpsc::SyncSender<ToHash>>,
}

/// Chunks a connection may have received and not yet written (a few MiB).
const WRITE_QUEUE: usize = 32;

/// One connection: take segments from the queue until it is empty, handing every chunk to this
/// connection's writer thread.
async fn worker(
    client: &HubClient,
    job: &Job,
    opts: &Options,
    segment: u64,
    shared: &Arc<Shared>,
    stop: &CancellationToken,
    sinks: Sinks,
) -> Result<()> {
    let (ops, mut op_rx) = tokio::sync::mpsc::channel::<Op>(WRITE_QUEUE);
    let writing = {
        let (part, stop) = (part_path(&job.dest), stop.clone());
        tokio::task::spawn_blocking(move || disk::write_loop(&part, &mut op_rx, &sinks.records, sinks.to_hash.as_ref(), &stop))
    };
    let fetched = async {
        while let Some(index) = shared.next() {
            let start = index as u64 * segment;
            let end = (start + segment).min(job.size); // exclusive
            fetch_segment(client, job, opts, &ops, index, start, end, shared, stop).await?;
            ops.send(Op::Finish { index }).await.map_err(|_| HubError::Cancelled)?;
            shared.report(false);
        }
        Ok(())
    }
    .await;
    drop(ops);
    // A writer's error (a full disk) is the cause; this side only saw its channel close.
    joined(writing.await)?;
    fetched
}

#[allow(clippy::too_many_arguments)]
async fn fetch_segment(
    client: &HubClient,
    job: &Job,
    opts: &Options,
    ops: &tokio::sync::mpsc::Sender<Op>,
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
        match fetch_from(client, job, opts, ops, Segment { index, start, end }, at, shared, stop).await {
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

/// Stream `[at, segment.end)` to the writer, asking for a checkpoint every [`CHECKPOINT`]. On failure,
/// returns how far it got.
#[allow(clippy::too_many_arguments)]
async fn fetch_from(
    client: &HubClient,
    job: &Job,
    opts: &Options,
    ops: &tokio::sync::mpsc::Sender<Op>,
    segment: Segment,
    at: u64,
    shared: &Shared,
    stop: &CancellationToken,
) -> std::result::Result<(), (u64, HubError)> {
    let end = segment.end;
    let req = client.get(&job.url).map_err(|e| (at, e))?.header(RANGE, format!("bytes={at}-{}", end - 1));
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
    let mut pos = at;
    let mut checkpointed = (pos, Instant::now());
    let mut stream = resp.bytes_stream();
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(opts.stall, stream.next()) => n,
            _ = stop.cancelled() => {
                // Paused or cancelled: what is written is recorded, so a resume does not fetch the
                // last second again. (A killed process keeps only the last checkpoint.)
                if pos > segment.start {
                    let _ = ops.send(Op::Checkpoint { index: segment.index, bytes: pos - segment.start }).await;
                }
                return Err((pos, HubError::Cancelled));
            }
        };
        let chunk = match next {
            Err(_) => return Err((pos, HubError::Offline(format!("stalled: no data for {} s", opts.stall.as_secs())))),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err((pos, HubError::Offline(e.to_string()))),
            Ok(Some(Ok(c))) => c,
        };
        let take = chunk.len().min((end - pos) as usize);
        let data = chunk.slice(..take);
        // A closed channel means the writer stopped on an error, which the worker reports.
        ops.send(Op::Write { segment_start: segment.start, at: pos, data }).await.map_err(|_| (pos, HubError::Cancelled))?;
        pos += take as u64;
        // Bytes count toward progress as they land; a failed attempt keeps them (it resumes from `pos`).
        shared.done.fetch_add(take as u64, Ordering::Relaxed);
        shared.report(false);
        if pos >= end {
            break;
        }
        if pos > checkpointed.0 && checkpointed.1.elapsed() >= CHECKPOINT {
            // The writer passes it on after these bytes are written.
            let bytes = pos - segment.start;
            ops.send(Op::Checkpoint { index: segment.index, bytes }).await.map_err(|_| (pos, HubError::Cancelled))?;
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
        let (mut hasher, at) = hashed.unwrap_or_else(|| (<Sha256 as sha2::Digest>::new(), 0));
        let size = job.size;
        let actual = tokio::task::spawn_blocking(move || {
            disk::sha256_range(&path, &mut hasher, at, size)?;
            Ok::<_, HubError>(disk::hex(hasher))
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
    let mut hasher = <Sha256 as sha2::Digest>::new();
    disk::sha256_range(path, &mut hasher, 0, u64::MAX)?;
    Ok(disk::hex(hasher))
}
