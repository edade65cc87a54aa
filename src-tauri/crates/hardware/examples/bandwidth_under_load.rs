//! The RAM bandwidth figure on a quiet machine and on one kept busy (a busy thread per core, as a
//! build or a browser would), side by side: the speed predictions, and so the green/yellow verdicts,
//! rest on it, and a busy moment at start-up should not make every model look slow (issue 27, not
//! solved yet: here the loaded figure is about 0.6 of the quiet one). Prints the median of several
//! measurements each way and their ratio. A benchmark, in `make bench`:
//! `cargo run -p hearth-hardware --example bandwidth_under_load`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const ROUNDS: usize = 9;

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

fn measure(threads: usize) -> f32 {
    median((0..ROUNDS).map(|_| hardware::measure_ram_bandwidth(threads).unwrap_or(0.0)).collect())
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let quiet = measure(cores);
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..cores)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let loaded = measure(cores);
    stop.store(true, Ordering::Relaxed);
    for b in busy {
        let _ = b.join();
    }
    println!("RAM bandwidth, {cores} copying threads, median of {ROUNDS}:");
    println!("  quiet                      {quiet:6.1} GB/s");
    println!("  a busy thread on each core {loaded:6.1} GB/s");
    println!("  loaded / quiet             {:6.2}", loaded / quiet);
}
