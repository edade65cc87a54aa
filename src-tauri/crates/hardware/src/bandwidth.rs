//! A quick measurement of RAM bandwidth: every physical core copies its own buffer a few times, the
//! way llama.cpp's threads stream weights while decoding. About 20-40 ms; the fit planner turns the
//! figure into a speed prediction for models that run from RAM.

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
        std::thread::scope(|s| {
            for (src, dst) in &mut buffers {
                s.spawn(move || {
                    dst.copy_from_slice(src);
                    std::hint::black_box(&dst);
                });
            }
        });
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[PASSES / 2];
    let bytes = (2 * CHUNK * threads) as f64;
    (median > 0.0).then(|| (bytes / median / 1e9) as f32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bandwidth_is_a_plausible_figure() {
        let bw = super::measure_ram_bandwidth(2).unwrap();
        assert!(bw > 0.5 && bw < 2000.0, "{bw} GB/s");
    }
}
