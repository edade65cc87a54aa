//! The disk side of a download, off the async runtime and off the connections' path.
//!
//! Each connection hands the chunks it receives to its own writer thread, so receiving the next
//! bytes and writing the last ones overlap (they took turns through `tokio::fs`, which also copied
//! every chunk once more). The writer also hashes: when the bytes it writes are the next ones the
//! sha256 needs, it hashes them while they are still in the CPU's cache, which with one connection
//! is every byte. Bytes written out of order (the later segments of a parallel download) are hashed
//! by the catch-up thread, which reads them back once they are finished and synced.
//!
//! Writers pass what they finished (a segment, or a checkpoint inside one) to the syncer, after the
//! bytes are written, so the state never claims a byte that was not written.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::error::{HubError, Result};

/// How much of the file, from its start, the sha256 has taken in.
pub(super) struct HashFront {
    pub hasher: Sha256,
    pub at: u64,
}

impl HashFront {
    pub fn new() -> Self {
        Self { hasher: Sha256::new(), at: 0 }
    }
}

/// What a connection asks of its writer thread, in order.
pub(super) enum Op {
    /// `data` goes at byte `at` of the file; it belongs to the segment that starts at `segment_start`.
    Write { segment_start: u64, at: u64, data: Bytes },
    /// The first `bytes` of segment `index` are sent: record them once written.
    Checkpoint { index: usize, bytes: u64 },
    /// Segment `index` is whole: record it as done once written.
    Finish { index: usize },
}

/// What a writer reports to the syncer, once the bytes it covers are written.
pub(super) enum Record {
    Partial { index: usize, bytes: u64 },
    Done { index: usize },
}

/// A writer thread's loop: write each chunk at its place, hash it in passing when it is the next
/// the sha256 needs, and pass checkpoints on to the syncer. Ends when its connection hangs up; an
/// error stops the whole download (`stop`) and is returned.
pub(super) fn write_loop(
    part: &Path,
    ops: &mut tokio::sync::mpsc::Receiver<Op>,
    records: &mpsc::Sender<Record>,
    hash: Option<&Mutex<HashFront>>,
    stop: &CancellationToken,
) -> Result<()> {
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).open(part)?;
        // Where the file's cursor is, so sequential chunks need no seek.
        let mut cursor = None;
        while let Some(op) = ops.blocking_recv() {
            match op {
                Op::Write { segment_start, at, data } => {
                    if cursor != Some(at) {
                        file.seek(SeekFrom::Start(at))?;
                    }
                    file.write_all(&data)?;
                    cursor = Some(at + data.len() as u64);
                    if let Some(hash) = hash {
                        hash_in_passing(part, hash, segment_start, at, &data)?;
                    }
                }
                Op::Checkpoint { index, bytes } => {
                    let _ = records.send(Record::Partial { index, bytes });
                }
                Op::Finish { index } => {
                    let _ = records.send(Record::Done { index });
                }
            }
        }
        Ok(())
    })();
    if result.is_err() {
        stop.cancel();
    }
    result
}

/// Hash `data` (just written at `at`, in the segment starting at `segment_start`) if the sha256 has
/// reached it. If the sha256 stopped earlier in this same segment (it was busy, or the segment
/// resumed from an earlier run), the bytes between are this segment's, already written: read them
/// back first. Anything else is left to the catch-up thread. Never waits for the lock.
fn hash_in_passing(part: &Path, hash: &Mutex<HashFront>, segment_start: u64, at: u64, data: &[u8]) -> Result<()> {
    let Ok(mut h) = hash.try_lock() else {
        return Ok(());
    };
    if h.at < segment_start || h.at > at {
        return Ok(());
    }
    if h.at < at {
        let from = h.at;
        h.at = sha256_range(part, &mut h.hasher, from, at)?;
        if h.at < at {
            return Ok(());
        }
    }
    h.hasher.update(data);
    h.at += data.len() as u64;
    Ok(())
}

/// The catch-up thread: hash the part file from where the sha256 stands up to the finished front the
/// syncer announces, for the bytes no writer could hash in passing. Returns when the announcements
/// end, or as soon as the download is stopped.
pub(super) fn catch_up(part: &Path, fronts: &mpsc::Receiver<u64>, hash: &Mutex<HashFront>, stop: &CancellationToken) -> Result<()> {
    while let Ok(front) = fronts.recv() {
        let to = fronts.try_iter().fold(front, u64::max);
        loop {
            if stop.is_cancelled() {
                return Err(HubError::Cancelled);
            }
            let mut h = hash.lock().map_err(|_| HubError::Io("hash lock".into()))?;
            let from = h.at;
            if from >= to {
                break;
            }
            // A bounded step, so the lock is free often for the writers.
            let reached = sha256_range(part, &mut h.hasher, from, to.min(from + (8 << 20)))?;
            h.at = reached;
            if reached == from {
                break; // the file ends early: the size check at the end says so
            }
        }
    }
    Ok(())
}

/// Feed the file's bytes `[from, to)` (or to its end, if shorter) to `hasher`; returns where it stopped.
pub(super) fn sha256_range(path: &Path, hasher: &mut Sha256, from: u64, to: u64) -> Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
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

pub(super) fn hex(hasher: Sha256) -> String {
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
