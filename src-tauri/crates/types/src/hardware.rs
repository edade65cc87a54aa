//! What Hearth knows about the machine it runs on (or an imagined one): the `HardwareProfile`.
//! The `hardware` crate fills it from the OS, wgpu and llama.cpp; the fit planner reads it.
//!
//! Sizes are bytes in `u64`. They cross to TypeScript as `number` (each such field says so with
//! `#[specta(type = Number)]`, since specta refuses u64 by default): exact up to 2^53 bytes (8 PiB), far
//! beyond any memory or disk we will see.

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HardwareProfile {
    pub os: OsInfo,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    /// Every physical GPU, once each, software renderers excluded. Empty means "no GPU".
    pub gpus: Vec<GpuInfo>,
    /// The disk that holds the models folder; `None` when it could not be matched to a mount.
    pub disk: Option<DiskInfo>,
    /// The llama.cpp backends the engine loaded on this machine ("CPU", "Metal", "CUDA", "Vulkan", ...).
    pub engine_backends: Vec<String>,
    /// The build of llama.cpp's CPU backend the engine picked for this CPU ("haswell", "skylakex",
    /// "sse42", ...); `None` where the CPU backend is built in (macOS) or the engine did not say.
    #[serde(default)]
    pub engine_cpu_variant: Option<String>,
    /// CPU backend variants left out on this machine because they stopped with an illegal
    /// instruction (the next one down runs instead).
    #[serde(default)]
    pub engine_cpu_variants_avoided: Vec<String>,
    /// RAM bandwidth in GB/s, measured (or, for an imagined machine, typical for its class).
    #[specta(type = Option<Number>)]
    pub ram_bandwidth_gbps: Option<f32>,
    /// Measured over predicted tokens/second from real runs on this machine; scales the speed
    /// prediction. `None` until Hearth has run a model here.
    #[specta(type = Option<Number>)]
    pub speed_calibration: Option<f32>,
    /// One plain sentence on what this machine is good for.
    pub summary: String,
    /// How long the probe took, for the curious and for the benchmark.
    pub probe_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OsInfo {
    /// "Linux", "macOS", "Windows".
    pub name: String,
    pub version: String,
    /// "x86_64", "aarch64".
    pub arch: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CpuInfo {
    pub brand: String,
    pub physical_cores: u32,
    pub logical_cores: u32,
    pub features: SimdFeatures,
}

/// The SIMD extensions llama.cpp's CPU kernels care most about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SimdFeatures {
    pub avx: bool,
    pub avx2: bool,
    pub avx512: bool,
    pub fma: bool,
    pub f16c: bool,
    pub neon: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MemoryInfo {
    #[specta(type = Number)]
    pub total_bytes: u64,
    #[specta(type = Number)]
    pub available_bytes: u64,
}

/// A fresh reading of the figures that move while the app is open, for the Hardware view's refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MemoryNow {
    pub memory: MemoryInfo,
    /// Free VRAM per GPU, in the order of `HardwareProfile::gpus`; `None` where no source reports it.
    #[specta(type = Vec<Option<Number>>)]
    pub gpu_free_bytes: Vec<Option<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum GpuVendor {
    Nvidia,
    Amd,
    Intel,
    Apple,
    Qualcomm,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum GpuKind {
    Discrete,
    Integrated,
}

/// Which source saw a GPU. Kept so the UI (and a bug report) can say why Hearth believes what it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum GpuSource {
    /// llama.cpp's own device list: the engine can run layers here.
    Engine,
    /// wgpu adapter enumeration: the OS exposes it through Vulkan, Metal or DirectX 12.
    Wgpu,
    /// sysinfo: the OS lists it (sysfs, NVML, IOKit, DXGI).
    Os,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GpuInfo {
    pub name: String,
    pub vendor: GpuVendor,
    pub kind: GpuKind,
    /// The llama.cpp backend that drives it in this build ("CUDA", "Metal", "Vulkan"), or `None` when
    /// this build of the engine cannot use it.
    pub engine_backend: Option<String>,
    /// llama.cpp's name for it ("Vulkan0", "CUDA1"): how a load names the devices a plan uses.
    #[serde(default)]
    pub engine_device: Option<String>,
    /// Why the engine cannot use a GPU the OS shows, and what to install; `None` when it can.
    #[serde(default)]
    pub engine_missing: Option<String>,
    /// The graphics APIs the OS exposes it through ("Vulkan", "Metal", "DX12").
    pub apis: Vec<String>,
    /// Memory the GPU can use. On unified-memory machines this is the share of system RAM the GPU may
    /// take (Metal's recommended working set), not extra memory on top of RAM.
    #[specta(type = Option<Number>)]
    pub vram_total_bytes: Option<u64>,
    #[specta(type = Option<Number>)]
    pub vram_free_bytes: Option<u64>,
    /// True when the GPU's memory is the system RAM (Apple Silicon, integrated GPUs): the two must never
    /// be added together.
    pub unified_memory: bool,
    /// Memory bandwidth in GB/s, from Hearth's table of known GPUs; it sets decoding speed.
    #[specta(type = Option<Number>)]
    pub bandwidth_gbps: Option<f32>,
    pub sources: Vec<GpuSource>,
}

impl GpuInfo {
    pub fn usable_by_engine(&self) -> bool {
        self.engine_backend.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum DiskKind {
    Ssd,
    Hdd,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DiskInfo {
    /// The models folder this disk was chosen for.
    pub models_dir: String,
    pub mount_point: String,
    pub file_system: String,
    pub kind: DiskKind,
    #[specta(type = Number)]
    pub total_bytes: u64,
    #[specta(type = Number)]
    pub free_bytes: u64,
}

/// llama.cpp's classification of a backend device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EngineDeviceKind {
    Cpu,
    Gpu,
    IntegratedGpu,
    /// BLAS and similar: helps the CPU, holds no layers of its own.
    Accelerator,
}

/// One device of llama.cpp's device list, as the engine's worker sees it after loading its backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineDevice {
    /// llama.cpp's short name, "CUDA0", "Vulkan1", "MTL0", "CPU".
    pub name: String,
    /// The human name, "NVIDIA GeForce RTX 4090", "Apple M3 Max".
    pub description: String,
    /// The backend registry it belongs to, "CUDA", "Metal", "Vulkan", "CPU".
    pub backend: String,
    pub kind: EngineDeviceKind,
    pub memory_total: u64,
    pub memory_free: u64,
}

/// What the engine's worker reports about the backends it loaded: what it can run on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineReport {
    pub devices: Vec<EngineDevice>,
    /// The CPU backend variant picked for this CPU ("haswell", "x64", ...), where backends are loaded
    /// at run time.
    pub cpu_variant: Option<String>,
    /// Backend libraries that were found but could not be loaded, each with why (a missing driver or
    /// Vulkan loader); logged by the worker as well.
    pub skipped: Vec<String>,
    /// The folder the backend libraries were loaded from.
    #[serde(default)]
    pub backends_dir: Option<String>,
    /// CPU backend variants left out because they stopped with an illegal instruction on this
    /// machine (`engine::devices::avoided`).
    #[serde(default)]
    pub avoided_cpu_variants: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_round_trips_through_json_in_camel_case() {
        let profile = HardwareProfile {
            os: OsInfo { name: "Linux".into(), version: "12".into(), arch: "x86_64".into() },
            cpu: CpuInfo {
                brand: "AMD Ryzen 9 7950X".into(),
                physical_cores: 16,
                logical_cores: 32,
                features: SimdFeatures { avx2: true, ..Default::default() },
            },
            memory: MemoryInfo { total_bytes: 64 << 30, available_bytes: 40 << 30 },
            gpus: vec![],
            disk: None,
            engine_backends: vec!["CPU".into()],
            engine_cpu_variant: Some("haswell".into()),
            engine_cpu_variants_avoided: Vec::new(),
            ram_bandwidth_gbps: None,
            speed_calibration: None,
            summary: "x".into(),
            probe_ms: 12,
        };
        let json = serde_json::to_value(&profile).unwrap();
        assert_eq!(json["memory"]["totalBytes"], 64u64 << 30);
        assert_eq!(json["cpu"]["physicalCores"], 16);
        let back: HardwareProfile = serde_json::from_value(json).unwrap();
        assert_eq!(back, profile);
    }
}
