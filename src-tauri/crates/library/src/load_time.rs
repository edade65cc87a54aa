//! How long a model will take to load, said before it loads: loading reads the whole file, so the
//! time is its size over its disk's read speed, except for what the page cache already holds (a
//! model read recently), which comes at the cache's speed.
//!
//! Each disk is measured once (`hardware::disk_speed`: a quarter-gigabyte read that bypasses the
//! cache) and the figures are kept in the database by the disk's device number, so a models folder
//! on an NVMe drive and the Hugging Face cache on a hard disk each get their own.

use std::path::Path;

use hardware::disk_speed::{self, ReadSpeed};
use serde::{Deserialize, Serialize};
use store::Store;
use types::LoadEstimate;

/// Followed by the disk's device number.
const DISK_READ: &str = "disk_read:";
/// Seconds a load takes beyond reading the file, learned from the loads so far.
const OVERHEAD: &str = "load_overhead_s";

#[derive(Serialize, Deserialize)]
struct Kept {
    disk: f64,
    cache: f64,
    uncached: bool,
    /// Which file was read, for whoever wonders where the figure came from.
    sample: String,
}

/// The device number of the disk `path` is on (`0` where the system has none to give).
fn device(path: &Path) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map(|m| m.dev()).unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0
    }
}

/// The read speed of the disk `file` is on: kept from an earlier measurement, or measured now (from
/// the largest file beside it, or from `file` itself) and kept.
pub fn read_speed(store: &Store, file: &Path) -> Option<ReadSpeed> {
    let key = format!("{DISK_READ}{}", device(file));
    if let Some(k) = store.setting(&key).ok().flatten().and_then(|json| serde_json::from_str::<Kept>(&json).ok()) {
        return Some(ReadSpeed { disk: k.disk, cache: k.cache, uncached: k.uncached });
    }
    let sample = file.parent().and_then(disk_speed::largest_file).unwrap_or_else(|| file.to_path_buf());
    let speed = match disk_speed::measure(&sample) {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(error = %e, file = %sample.display(), "could not measure the disk's read speed");
            return None;
        }
    };
    tracing::info!(disk_mb_s = speed.disk / 1e6, cache_mb_s = speed.cache / 1e6, uncached = speed.uncached, "measured the models disk");
    let kept = Kept { disk: speed.disk, cache: speed.cache, uncached: speed.uncached, sample: sample.display().to_string() };
    if let Ok(json) = serde_json::to_string(&kept) {
        let _ = store.set_setting(&key, &json);
    }
    Some(speed)
}

/// The bytes a load reads: the file, or every part of a split model.
pub fn model_bytes(path: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match (gguf::split_siblings(name), path.parent()) {
        (Some(parts), Some(dir)) => parts.iter().map(|p| size(&dir.join(p))).sum(),
        _ => size(path),
    }
}

/// The load time of the model whose first (or only) file is `path`: reading it, plus what loads
/// took beyond reading so far (starting the worker, llama.cpp's setup, the context).
/// A regular `.gguf` file (what a load estimate may be asked for).
pub fn is_model_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) && path.is_file()
}

pub fn estimate(store: &Store, path: &Path) -> Option<LoadEstimate> {
    let bytes = model_bytes(path);
    // Before a first measurement reads the file into the cache.
    let cached = disk_speed::cached_fraction(path).unwrap_or(0.0);
    let speed = read_speed(store, path)?;
    let overhead = store.setting(OVERHEAD).ok().flatten().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    Some(LoadEstimate {
        seconds: seconds(bytes, cached, &speed) + overhead,
        bytes,
        cached_fraction: cached,
        disk_bytes_per_second: speed.disk,
        cache_bytes_per_second: speed.cache,
        uncached: speed.uncached,
        overhead_seconds: overhead,
    })
}

/// Learn from a load that took `measured` seconds what loads cost beyond reading the file: the
/// average of the last few, each the time left over once the read is taken out.
pub fn learn(store: &Store, predicted: &LoadEstimate, measured: f64) {
    let read = predicted.seconds - predicted.overhead_seconds;
    let this = (measured - read).max(0.0);
    let kept = store.setting(OVERHEAD).ok().flatten().and_then(|s| s.parse::<f64>().ok());
    let next = kept.map_or(this, |k| 0.5 * k + 0.5 * this);
    let _ = store.set_setting(OVERHEAD, &format!("{next:.3}"));
}

/// The part of the file not in the cache at the disk's speed, the rest at the cache's.
fn seconds(bytes: u64, cached: f64, speed: &ReadSpeed) -> f64 {
    let bytes = bytes as f64;
    bytes * (1.0 - cached) / speed.disk.max(1.0) + bytes * cached / speed.cache.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_bytes_come_at_the_disks_speed_and_cached_ones_at_the_caches() {
        let s = ReadSpeed { disk: 500e6, cache: 5e9, uncached: true };
        assert!((seconds(4_000_000_000, 0.0, &s) - 8.0).abs() < 1e-9);
        assert!((seconds(4_000_000_000, 1.0, &s) - 0.8).abs() < 1e-9);
        assert!((seconds(4_000_000_000, 0.5, &s) - 4.4).abs() < 1e-9);
    }

    #[test]
    fn a_disk_is_measured_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("hearth-load-time-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("hearth.sqlite3")).unwrap();
        let model = dir.join("model.gguf");
        std::fs::write(&model, vec![1u8; 40 << 20]).unwrap();
        let first = estimate(&store, &model).expect("measured");
        assert_eq!((first.bytes, first.overhead_seconds), (40 << 20, 0.0));
        // A load that took a second longer than its read teaches the next estimate half of that.
        learn(&store, &first, first.seconds + 1.0);
        let taught = estimate(&store, &model).unwrap();
        assert!((taught.overhead_seconds - 1.0).abs() < 0.01, "{taught:?}");
        learn(&store, &taught, taught.seconds - taught.overhead_seconds);
        assert!((estimate(&store, &model).unwrap().overhead_seconds - 0.5).abs() < 0.01);
        assert!(first.seconds > 0.0 && first.disk_bytes_per_second > 1e6, "{first:?}");
        // Kept: the second asks the database, not the disk (the file it read is gone).
        std::fs::remove_file(&model).unwrap();
        std::fs::write(dir.join("other.gguf"), b"x").unwrap();
        let again = read_speed(&store, &dir.join("other.gguf")).expect("kept");
        assert!((again.disk / first.disk_bytes_per_second - 1.0).abs() < 1e-9, "{again:?} against {first:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
