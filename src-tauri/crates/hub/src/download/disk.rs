//! The disk side of a download, off the async runtime and off the connections' path.
//!
//! Each connection hands the chunks it receives to its own writer thread, so receiving the next
//! bytes and writing the last ones overlap (they took turns through `tokio::fs`, which also copied
//! every chunk once more). Each written chunk goes on to the hashing thread (the same buffer, not a
//! copy), which takes it in if it is the next the sha256 needs — with one connection, every byte,
//! so the sha256 is complete when the last byte is written and nothing is read back. Bytes written
//! out of order (the later segments of a parallel download) are read back from the file once the
//! finished front of the file reaches them. (With the writer hashing too, one connection on
//! loopback was bound by that one thread at about 1.0 GB/s; apart, about 1.35 GB/s, where curl,
//! which does not hash, does 1.1: the download benchmark.)
//!
//! Writers pass what they finished (a segment, or a checkpoint inside one) to the syncer, after the
//! bytes are written, so the state never claims a byte that was not written.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::error::{HubError, Result};

/// What the hashing thread is given.
pub(super) enum ToHash {
    /// `data` was just written at byte `at`, in the segment that starts at `segment_start`.
    Written { segment_start: u64, at: u64, data: Bytes },
    /// Every byte before this one is written (finished segments from the start of the file).
    Front(u64),
}

/// Chunks written and not yet hashed, at most (each up to a few hundred KiB).
pub(super) const HASH_QUEUE: usize = 64;

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

/// A writer thread's loop: write each chunk at its place and pass it on to the hashing thread, and
/// pass checkpoints on to the syncer. Ends when its connection hangs up; an error stops the whole
/// download (`stop`) and is returned.
pub(super) fn write_loop(
    part: &Path,
    ops: &mut tokio::sync::mpsc::Receiver<Op>,
    records: &mpsc::Sender<Record>,
    hash: Option<&mpsc::SyncSender<ToHash>>,
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
                    // Never waits: when the hashing thread is behind (reading back what came out of
                    // order, or a resumed file's start), the chunk is dropped and read back later.
                    if let Some(hash) = hash {
                        let _ = hash.try_send(ToHash::Written { segment_start, at, data });
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

/// The hashing thread: the sha256 of the file from its start, as far as it can get, from the
/// chunks the writers pass on and, for bytes that came out of order, from the file once the front
/// reaches them. Returns the hasher and how many bytes it took in when every sender has hung up, or
/// as soon as the download is stopped.
pub(super) fn hash_loop(part: &Path, given: &mpsc::Receiver<ToHash>, stop: &CancellationToken) -> Result<(Sha256, u64)> {
    let mut hasher = Sha256::new();
    let mut at = 0;
    while let Ok(next) = given.recv() {
        if stop.is_cancelled() {
            return Err(HubError::Cancelled);
        }
        match next {
            ToHash::Written { segment_start, at: from, data } => {
                // Taken if the sha256 has reached this chunk's segment: the bytes of the segment
                // before the chunk were written before it (by the same connection, or an earlier
                // run), so they are read back first. Otherwise the front will bring it here later.
                if at < segment_start || at > from {
                    continue;
                }
                if at < from {
                    at = sha256_range(part, &mut hasher, at, from)?;
                    if at < from {
                        continue;
                    }
                }
                hasher.update(&data);
                at += data.len() as u64;
            }
            ToHash::Front(front) => {
                while at < front {
                    if stop.is_cancelled() {
                        return Err(HubError::Cancelled);
                    }
                    let reached = sha256_range(part, &mut hasher, at, front.min(at + (8 << 20)))?;
                    if reached == at {
                        break; // the file ends early: the size check at the end says so
                    }
                    at = reached;
                }
            }
        }
    }
    Ok((hasher, at))
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
