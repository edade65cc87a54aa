//! Benchmark: plan 10,000 model files (the presets at every quantization, over and over, against a
//! machine with two GPUs) and print how long it takes. Run with `make bench`.

use std::time::Instant;

use gguf::synthetic::{self, Quant};
use types::LoadSettings;

fn main() {
    let files: Vec<gguf::ModelFacts> = synthetic::presets()
        .iter()
        .flat_map(|shape| Quant::all().map(|q| gguf::parse_bytes(&synthetic::model(shape, q, false).header().0).expect("header")))
        .collect();
    let machines = [
        hardware::catalog::imagined(hardware::catalog::find("RTX 3090"), 2, 64),
        hardware::catalog::imagined(hardware::catalog::find("RTX 4060"), 1, 16),
        hardware::catalog::imagined(None, 0, 32),
    ];
    let settings = LoadSettings::default();
    for hw in &machines {
        let gpus = hw.gpus.first().map(|g| format!("{} ×{}", g.name, hw.gpus.len())).unwrap_or_else(|| "no GPU".into());
        let mut best = f64::MAX;
        for _ in 0..5 {
            let started = Instant::now();
            let mut green = 0;
            for i in 0..10_000 {
                let plan = fit::plan(&files[i % files.len()], hw, &settings);
                green += usize::from(plan.verdict == types::Verdict::Green);
            }
            best = best.min(started.elapsed().as_secs_f64());
            std::hint::black_box(green);
        }
        println!("plan 10,000 files on {gpus:<16} {:>7.1} ms (best of 5), {:.1} µs a file", best * 1e3, best * 1e2);
    }
}
