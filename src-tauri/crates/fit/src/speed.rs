//! Predicted generation speed. Decoding reads every active weight once per token, so it is bound by
//! memory bandwidth: time per token ≈ Σ over devices bytes read there / (η × bandwidth) + a fixed
//! cost. η is the share of peak bandwidth llama.cpp reaches: about 0.55 on GPUs, 0.65 on CPUs.

use types::SpeedRange;

use crate::budget::Budgets;
use crate::place::Placement;

pub const GPU_EFFICIENCY: f64 = 0.55;
pub const CPU_EFFICIENCY: f64 = 0.65;
/// Per-token cost that bandwidth does not explain (kernel launches, sampling), seconds.
const FIXED_GPU: f64 = 0.002;
const FIXED_CPU: f64 = 0.001;

/// `calibration` is measured over predicted speed from earlier real runs on this machine.
pub fn predict(p: &Placement, b: &Budgets, calibration: f64) -> Option<SpeedRange> {
    let cpu = p.devices.len() - 1;
    let mut seconds = 0.0;
    let mut any_gpu = false;
    for (i, d) in p.devices.iter().enumerate() {
        if d.bytes_per_token == 0 {
            continue;
        }
        let (bw, eta) = if i == cpu {
            (f64::from(b.ram_bandwidth_gbps), CPU_EFFICIENCY)
        } else {
            any_gpu = true;
            (f64::from(b.gpus[i].bandwidth_gbps), GPU_EFFICIENCY)
        };
        if bw <= 0.0 || eta <= 0.0 {
            return None;
        }
        seconds += d.bytes_per_token as f64 / (eta * bw * 1e9);
    }
    seconds += if any_gpu { FIXED_GPU } else { FIXED_CPU };
    let tps = calibration / seconds;
    Some(SpeedRange { low: (tps * 0.8) as f32, high: (tps * 1.2) as f32, expected: tps as f32 })
}
