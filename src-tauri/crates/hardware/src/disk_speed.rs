//! How fast the models disk reads, and how much of a model file is already in memory: what a
//! model's load time depends on. Loading reads the whole file once; from an NVMe drive that is a
//! few seconds for a 7B model, from a hard disk a minute, and from the page cache (a model read
//! recently) a fraction of a second.
//!
//! The disk is measured by reading up to [`SAMPLE_BYTES`] of the largest model file from the disk,
//! in large sequential blocks as llama.cpp reads: through the page cache once the file's pages are
//! dropped from it (Linux), else around it (`O_DIRECT` on Linux, `F_NOCACHE` on macOS); the cache
//! by reading the same bytes again through it. Cheap (a quarter of a
//! second on an SSD), so it is done once per models folder and kept (`library::settings`).

use std::path::{Path, PathBuf};
use std::time::Instant;

/// How much of a file the measurement reads: enough to see past a drive's burst, little enough
/// to stay cheap.
pub const SAMPLE_BYTES: u64 = 256 << 20;
/// Reads of this size, as llama.cpp's loader makes (and aligned, as `O_DIRECT` needs).
const BLOCK: usize = 4 << 20;
const ALIGN: usize = 4096;
/// A sample smaller than this says more about latency than speed.
const MIN_SAMPLE: u64 = 16 << 20;

/// A measured disk, and the page cache beside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadSpeed {
    /// Bytes per second from the disk itself.
    pub disk: f64,
    /// Bytes per second from the page cache (the same bytes, read again).
    pub cache: f64,
    /// Whether the disk figure bypassed the cache; where it could not (a file system without
    /// `O_DIRECT`, such as tmpfs), it is the cache's and says so.
    pub uncached: bool,
}

/// The largest regular file in `dir` (not descending), for the measurement to read.
pub fn largest_file(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.metadata().ok().filter(|m| m.is_file())?.len(), e.path())))
        .filter(|(len, _)| *len >= MIN_SAMPLE)
        .max_by_key(|(len, _)| *len)
        .map(|(_, p)| p)
}

/// Read speed of the disk `file` is on, from `file` itself.
pub fn measure(file: &Path) -> std::io::Result<ReadSpeed> {
    let len = std::fs::metadata(file)?.len().min(SAMPLE_BYTES) / BLOCK as u64 * BLOCK as u64;
    if len < MIN_SAMPLE {
        return Err(std::io::Error::other(format!("{} is too small to measure a disk with", file.display())));
    }
    let mut buffer = AlignedBuffer::new(BLOCK);
    // As a load reads it: through the page cache, with the kernel's read-ahead, once the file's
    // pages have been dropped from the cache. Where they cannot be (the file is mapped by a loaded
    // model), around the cache with O_DIRECT, which reads a little slower than read-ahead does.
    let (disk, uncached) = if drop_from_cache(file) && cached_fraction(file).is_some_and(|c| c < 0.02) {
        (timed(&mut std::fs::File::open(file)?, len, buffer.as_mut())?, true)
    } else {
        match open_uncached(file) {
            Ok(mut f) => (timed(&mut f, len, buffer.as_mut())?, true),
            Err(_) => (timed(&mut std::fs::File::open(file)?, len, buffer.as_mut())?, false),
        }
    };
    // Again through the cache: the first pass through it, if it bypassed it, then the timed one.
    let mut f = std::fs::File::open(file)?;
    timed(&mut f, len, buffer.as_mut())?;
    let mut f = std::fs::File::open(file)?;
    let cache = timed(&mut f, len, buffer.as_mut())?;
    Ok(ReadSpeed { disk, cache, uncached })
}

fn timed(f: &mut std::fs::File, len: u64, buffer: &mut [u8]) -> std::io::Result<f64> {
    use std::io::Read;
    let started = Instant::now();
    let mut read = 0u64;
    while read < len {
        let n = f.read(buffer)?;
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    Ok(read as f64 / started.elapsed().as_secs_f64().max(1e-6))
}

/// Ask the kernel to drop `file`'s clean, unmapped pages from the page cache; `true` if it took
/// the request (whether it could drop them all, `cached_fraction` tells).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn drop_from_cache(file: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::File::open(file) else { return false };
    // SAFETY: posix_fadvise on a descriptor this function owns; it reads and writes no memory.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn drop_from_cache(_: &Path) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn open_uncached(file: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(file)
}

#[cfg(target_os = "macos")]
#[allow(unsafe_code)]
fn open_uncached(file: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(file)?;
    // SAFETY: fcntl on a descriptor this function owns; F_NOCACHE takes an int.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_NOCACHE, 1) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn open_uncached(_: &Path) -> std::io::Result<std::fs::File> {
    Err(std::io::Error::other("no uncached reads on this system"))
}

/// The fraction (0–1) of `file` in the page cache now: what of it a load reads from memory rather
/// than from the disk. Asks the kernel (`mincore` over a mapping that is never touched, so nothing
/// is read); `None` where it cannot say. The only unsafe code outside the engine: mmap and mincore
/// have no safe wrapper in the standard library, and no maintained crate offers mincore.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn cached_fraction(file: &Path) -> Option<f64> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(file).ok()?;
    let len = usize::try_from(f.metadata().ok()?.len()).ok()?;
    if len == 0 {
        return Some(0.0);
    }
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok().filter(|p| *p > 0)?;
    // SAFETY: a read-only shared mapping of a file this function opened, of its length; it is only
    // passed to mincore (which reads no page) and unmapped before returning.
    let map = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, f.as_raw_fd(), 0) };
    if map == libc::MAP_FAILED {
        return None;
    }
    let pages = len.div_ceil(page);
    let mut resident = vec![0u8; pages];
    // SAFETY: `map` spans `len` bytes and `resident` has one byte per page of it.
    let ok = unsafe { libc::mincore(map, len, resident.as_mut_ptr().cast()) } == 0;
    // SAFETY: unmapping exactly what was mapped above.
    unsafe { libc::munmap(map, len) };
    ok.then(|| resident.iter().filter(|b| **b & 1 == 1).count() as f64 / pages as f64)
}

#[cfg(not(unix))]
pub fn cached_fraction(_: &Path) -> Option<f64> {
    None
}

/// A heap buffer aligned for `O_DIRECT`.
struct AlignedBuffer {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuffer {
    fn new(len: usize) -> Self {
        let raw = vec![0u8; len + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN);
        Self { raw, start, len }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_measured_and_its_cached_part_seen() {
        // Where /tmp is a tmpfs, O_DIRECT fails and the figure is the cache's (`uncached: false`).
        let dir = std::env::temp_dir().join(format!("hearth-disk-speed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("model.bin");
        std::fs::write(&file, vec![7u8; 32 << 20]).unwrap();
        std::fs::write(dir.join("small.bin"), b"too small to measure").unwrap();
        assert_eq!(largest_file(&dir), Some(file.clone()));
        let speed = measure(&file).unwrap();
        assert!(speed.disk > 1e6 && speed.cache > 1e6, "{speed:?}");
        // Just read through the cache: all of it is there.
        let cached = cached_fraction(&file).unwrap();
        assert!(cached > 0.9, "{cached}");
        assert!(measure(&dir.join("missing.bin")).is_err());
        assert!(measure(&dir.join("small.bin")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
