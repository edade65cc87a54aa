//! How much memory the planner may use on each device of a machine.
//!
//! - A GPU the engine can use: its free VRAM (what llama.cpp reported), plus what Hearth would free by
//!   unloading its own models, less the backend's own context and the safety margin.
//! - RAM: the total less what the system keeps (max(2 GiB, 10 %)), plus what Hearth would free. Total,
//!   not "available": the verdict should not flicker with a browser's tabs.
//! - Less, on each, what other models Hearth keeps loaded beside this one hold (`held_*`, set by the
//!   runtime when it decides whether a model can join them).
//! - Unified memory (Apple Silicon): the GPU's budget is Metal's recommended working set, and RAM and
//!   GPU are one pool, so whatever the GPU takes is also taken from RAM (never counted twice).

use types::{GpuVendor, HardwareProfile, LoadSettings, RunOn};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct GpuBudget {
    pub name: String,
    /// llama.cpp's name for it, carried into the plan so the load uses exactly this device.
    pub engine_device: Option<String>,
    /// For weights, KV and compute, after overhead and margin.
    pub budget: u64,
    /// The free memory llama.cpp will read on the device when it loads (what Hearth frees first
    /// included): the layers are split between GPUs in proportion to it (`place::layout`).
    pub free_at_load: u64,
    /// The backend's own context, reported as overhead in the plan.
    pub overhead: u64,
    pub unified: bool,
    pub bandwidth_gbps: f32,
}

#[derive(Debug, Clone)]
pub struct Budgets {
    pub gpus: Vec<GpuBudget>,
    /// GPUs the engine could use that the person's "run on" setting leaves out, by name.
    pub set_aside: Vec<String>,
    /// The GPU the setting asks for (llama.cpp's name) when the engine has no such device.
    pub missing_choice: Option<String>,
    pub ram: u64,
    pub ram_bandwidth_gbps: f32,
}

/// The backend's context on the device, beyond the buffers llama.cpp reports. ESTIMATES, not
/// measured by Hearth: CUDA's is about 460 MiB with cuBLAS (llama.cpp users' reports), Metal's
/// about 512 MiB. Vulkan has no figure of its own yet and borrows CUDA's: the only Vulkan device
/// at hand (lavapipe) shares system memory and cannot show a real driver's overhead. The buffers
/// themselves (weights, K/V, compute) are measured against llama.cpp on Vulkan, within 1 %
/// (`engine/tests/gpu_vulkan.rs`).
fn backend_overhead(vendor: GpuVendor, backend: &str) -> u64 {
    match (vendor, backend) {
        (GpuVendor::Apple, _) | (_, "Metal") => 512 * MIB,
        _ => 460 * MIB,
    }
}

/// RAM the system keeps for itself.
pub fn ram_reserve(total: u64) -> u64 {
    (2 * GIB).max(total / 10)
}

/// Bandwidth of a GPU not in Hearth's table: a cautious mid-range figure.
const UNKNOWN_GPU_GBPS: f32 = 250.0;
/// RAM bandwidth when it was not measured: single-channel-ish laptop memory.
const UNKNOWN_RAM_GBPS: f32 = 20.0;

pub fn budgets(hw: &HardwareProfile, s: &LoadSettings) -> Budgets {
    // The person's choice decides which usable GPUs the planner may use at all.
    let chosen = |g: &types::GpuInfo| match &s.run.run_on {
        RunOn::Auto => true,
        RunOn::Cpu => false,
        RunOn::Gpu { device } => g.engine_device.as_deref() == Some(device.as_str()),
    };
    let usable = || hw.gpus.iter().enumerate().filter(|(_, g)| g.usable_by_engine());
    let set_aside = usable().filter(|(_, g)| !chosen(g)).map(|(_, g)| g.name.clone()).collect();
    let missing_choice = match &s.run.run_on {
        RunOn::Gpu { device } if !usable().any(|(_, g)| chosen(g)) => Some(device.clone()),
        _ => None,
    };
    let gpus = usable()
        .filter(|(_, g)| chosen(g))
        .map(|(i, g)| {
            let overhead = backend_overhead(g.vendor, g.engine_backend.as_deref().unwrap_or_default());
            let free = g
                .vram_free_bytes
                .or(g.vram_total_bytes)
                .unwrap_or(0)
                .saturating_add(s.freed_gpu_bytes.get(i).copied().unwrap_or(0))
                .saturating_sub(s.held_gpu_bytes.get(i).copied().unwrap_or(0));
            let free = free.min(g.vram_total_bytes.unwrap_or(u64::MAX));
            GpuBudget {
                name: g.name.clone(),
                engine_device: g.engine_device.clone(),
                budget: free.saturating_sub(overhead.saturating_add(s.safety_margin_bytes)),
                free_at_load: free,
                overhead,
                unified: g.unified_memory,
                bandwidth_gbps: g.bandwidth_gbps.unwrap_or(UNKNOWN_GPU_GBPS),
            }
        })
        // A GPU with no memory to speak of is not worth a layer.
        .filter(|g| g.budget > 256 * MIB)
        .collect();
    let total = hw.memory.total_bytes;
    Budgets {
        gpus,
        set_aside,
        missing_choice,
        ram: total.saturating_sub(ram_reserve(total)).saturating_add(s.freed_ram_bytes).saturating_sub(s.held_ram_bytes),
        ram_bandwidth_gbps: hw.ram_bandwidth_gbps.unwrap_or(UNKNOWN_RAM_GBPS),
    }
}
