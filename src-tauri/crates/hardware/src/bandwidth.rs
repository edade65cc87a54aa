//! A quick measurement of RAM bandwidth: every physical core copies its own buffer a few times, the
//! way llama.cpp's threads stream weights while decoding. About 20-40 ms; the fit planner turns the
//! figure into a speed prediction for models that run from RAM, and the prediction decides whether
//! a model is green (fast enough to read along) or yellow.
//!
//! What else runs at that moment must not change the figure (issue 27): a machine busy at start-up
//! (a browser, a build, the window's own web view starting) would otherwise make every model look
//! slower than it is, for as long as the figure is kept. So each pass is timed by the copying
//! threads' own CPU time, not the wall clock: a thread that another process pushed off its core
//! stops its clock while it waits, and a copy stalled on memory still counts (the CPU is busy
//! waiting for RAM). Where a thread's CPU time cannot be read, the wall clock is used.
//!
//! Measured here (2 cores, `cargo run -p hearth-hardware --example bandwidth_under_load`, a busy
//! thread on each core against none): by the wall clock the loaded figure was 0.60 of the quiet
//! one; by CPU time 1.04-1.21 (the copies, pushed off their cores in turn, then have the memory bus
//! more to themselves). Counting only undisturbed passes was tried too and read 0.35-0.67: with
//! every core busy, few passes are undisturbed.

use std::time::Instant;

/// Bytes each thread copies per pass: well past any CPU cache.
const CHUNK: usize = 16 << 20;
const PASSES: usize = 5;

/// GB/s counting bytes read plus bytes written; `None` if the clock says nothing useful.
pub fn measure_ram_bandwidth(threads: usize) -> Option<f32> {
    let threads = threads.clamp(1, 16);
    let mut buffers: Vec<(Vec<u8>, Vec<u8>)> = (0..threads).map(|i| (vec![i as u8 + 1; CHUNK], vec![0u8; CHUNK])).collect();
    // One untimed pass so the pages are really mapped.
    for (src, dst) in &mut buffers {
        dst.copy_from_slice(src);
    }
    // The median of a few passes: what decoding sustains, not a lucky burst or a pass that another
    // process interrupted. (The fastest pass was tried and read about 2x what decoding reaches here,
    // likely from the last level cache: the speed test caught it. A machine busy at start-up is
    // covered by `calibration::remember_bandwidth`, which keeps the best median seen.)
    let mut times = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        let started = Instant::now();
        let on_cpu = std::thread::scope(|s| {
            let copies: Vec<_> = buffers
                .iter_mut()
                .map(|(src, dst)| {
                    s.spawn(move || {
                        let before = thread_cpu_seconds();
                        dst.copy_from_slice(src);
                        std::hint::black_box(&dst);
                        Some(thread_cpu_seconds()? - before?)
                    })
                })
                .collect();
            // The pass lasts as long as its slowest copy.
            copies.into_iter().map(|c| c.join().ok().flatten()).try_fold(0.0f64, |slowest, t| t.map(|t| slowest.max(t)))
        });
        let wall = started.elapsed().as_secs_f64();
        times.push(on_cpu.filter(|t| *t > 0.0).map_or(wall, |t| t.min(wall)));
    }
    times.sort_by(f64::total_cmp);
    let median = times[PASSES / 2];
    let bytes = (2 * CHUNK * threads) as f64;
    (median > 0.0).then(|| (bytes / median / 1e9) as f32)
}

/// The CPU time this thread has used, in seconds. (The one unsafe call: libc's clock for the
/// calling thread, which std does not offer.)
#[cfg(unix)]
#[allow(unsafe_code)]
fn thread_cpu_seconds() -> Option<f64> {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    ok.then(|| t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
fn thread_cpu_seconds() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn bandwidth_is_a_plausible_figure() {
        let bw = super::measure_ram_bandwidth(2).unwrap();
        assert!(bw > 0.5 && bw < 2000.0, "{bw} GB/s");
    }
}
