//! Hearth's table of known GPUs and Apple chips: VRAM and memory bandwidth. It names the GPUs of
//! "what if" machines, and gives the bandwidth that sets decoding speed for a detected GPU (no API
//! reports bandwidth). Figures are the makers' published specifications.

use types::{CpuInfo, GpuInfo, GpuKind, GpuSource, GpuVendor, HardwareProfile, MemoryInfo, OsInfo, SimdFeatures};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnownGpu {
    pub name: &'static str,
    pub vendor: GpuVendor,
    /// GiB of VRAM; for Apple chips, the unified memory of the configuration.
    pub memory_gib: u32,
    pub bandwidth_gbps: f32,
    pub unified: bool,
}

const fn nv(name: &'static str, memory_gib: u32, bandwidth_gbps: f32) -> KnownGpu {
    KnownGpu { name, vendor: GpuVendor::Nvidia, memory_gib, bandwidth_gbps, unified: false }
}
const fn amd(name: &'static str, memory_gib: u32, bandwidth_gbps: f32) -> KnownGpu {
    KnownGpu { name, vendor: GpuVendor::Amd, memory_gib, bandwidth_gbps, unified: false }
}
const fn apple(name: &'static str, memory_gib: u32, bandwidth_gbps: f32) -> KnownGpu {
    KnownGpu { name, vendor: GpuVendor::Apple, memory_gib, bandwidth_gbps, unified: true }
}

pub const GPUS: &[KnownGpu] = &[
    nv("RTX 3060", 12, 360.0),
    nv("RTX 3060 Ti", 8, 448.0),
    nv("RTX 3070", 8, 448.0),
    nv("RTX 3080", 10, 760.0),
    nv("RTX 3090", 24, 936.0),
    nv("RTX 3090 Ti", 24, 1008.0),
    nv("RTX 4060", 8, 272.0),
    nv("RTX 4060 Ti 16GB", 16, 288.0),
    nv("RTX 4070", 12, 504.0),
    nv("RTX 4070 Ti Super", 16, 672.0),
    nv("RTX 4080", 16, 717.0),
    nv("RTX 4090", 24, 1008.0),
    nv("RTX 5090", 32, 1792.0),
    nv("Tesla T4", 16, 320.0),
    nv("L4", 24, 300.0),
    nv("A10", 24, 600.0),
    nv("L40S", 48, 864.0),
    nv("A100 40GB", 40, 1555.0),
    nv("A100 80GB", 80, 2039.0),
    nv("H100 80GB", 80, 3350.0),
    nv("H200", 141, 4800.0),
    amd("RX 6800 XT", 16, 512.0),
    amd("RX 7900 XT", 20, 800.0),
    amd("RX 7900 XTX", 24, 960.0),
    KnownGpu { name: "Arc A770", vendor: GpuVendor::Intel, memory_gib: 16, bandwidth_gbps: 560.0, unified: false },
    apple("M1 16GB", 16, 68.0),
    apple("M1 Max 64GB", 64, 400.0),
    apple("M2 Pro 32GB", 32, 200.0),
    apple("M2 Max 96GB", 96, 400.0),
    apple("M3 Pro 36GB", 36, 150.0),
    apple("M3 Max 128GB", 128, 400.0),
    apple("M4 Pro 48GB", 48, 273.0),
    apple("M4 Max 128GB", 128, 546.0),
    apple("M1 Ultra 128GB", 128, 800.0),
    apple("M2 Ultra 192GB", 192, 800.0),
];

/// Bandwidth of a detected GPU by its name ("NVIDIA GeForce RTX 4090" → 1008 GB/s). The longest
/// catalog name contained in the GPU's name wins, so "RTX 3090 Ti" is not read as "RTX 3090".
pub fn bandwidth_for(name: &str) -> Option<f32> {
    let lower = name.to_lowercase();
    GPUS.iter()
        .filter(|g| {
            // Apple entries carry a memory size in their catalog name; match on the chip alone.
            let key = if g.unified { g.name.split_whitespace().take(2).collect::<Vec<_>>().join(" ") } else { g.name.to_string() };
            let key = key.to_lowercase().replace("16gb", "").replace("40gb", "").replace("80gb", "");
            lower.contains(key.trim())
        })
        .max_by_key(|g| g.name.len())
        .map(|g| g.bandwidth_gbps)
}

pub fn find(name: &str) -> Option<&'static KnownGpu> {
    let lower = name.to_lowercase();
    GPUS.iter()
        .find(|g| g.name.to_lowercase() == lower)
        .or_else(|| GPUS.iter().filter(|g| g.name.to_lowercase().contains(&lower)).min_by_key(|g| g.name.len()))
}

const GIB: u64 = 1 << 30;

/// Typical dual-channel DDR5 desktop bandwidth, for imagined machines.
pub const DESKTOP_RAM_GBPS: f32 = 70.0;

/// An imagined machine: `count` of a catalog GPU (or none) and `ram_gib` of RAM, nothing in use.
/// Apple chips are one unified pool: `ram_gib` is ignored and the chip's memory is the RAM, of which
/// Metal lets the GPU use about three quarters (the recommended working set).
pub fn imagined(gpu: Option<&KnownGpu>, count: u32, ram_gib: u32) -> HardwareProfile {
    let (ram, gpus, backends, ram_bw) = match gpu {
        Some(g) if g.unified => {
            let ram = u64::from(g.memory_gib) * GIB;
            let working_set = ram / 4 * 3;
            let gpu = GpuInfo {
                name: format!("Apple {}", g.name.split_whitespace().take(2).collect::<Vec<_>>().join(" ")),
                vendor: GpuVendor::Apple,
                kind: GpuKind::Integrated,
                engine_backend: Some("Metal".into()),
                engine_device: Some("MTL0".into()),
                engine_missing: None,
                apis: vec!["Metal".into()],
                vram_total_bytes: Some(working_set),
                vram_free_bytes: Some(working_set),
                unified_memory: true,
                bandwidth_gbps: Some(g.bandwidth_gbps),
                sources: vec![GpuSource::Engine],
            };
            (ram, vec![gpu], vec!["Metal".to_string(), "CPU".to_string()], g.bandwidth_gbps)
        }
        Some(g) => {
            let vram = u64::from(g.memory_gib) * GIB;
            let backend = if g.vendor == GpuVendor::Nvidia { "CUDA" } else { "Vulkan" };
            let gpus = (0..count.max(1))
                .map(|i| GpuInfo {
                    name: g.name.to_string(),
                    vendor: g.vendor,
                    kind: GpuKind::Discrete,
                    engine_backend: Some(backend.into()),
                    engine_device: Some(format!("{backend}{i}")),
                    engine_missing: None,
                    apis: vec![],
                    vram_total_bytes: Some(vram),
                    vram_free_bytes: Some(vram),
                    unified_memory: false,
                    bandwidth_gbps: Some(g.bandwidth_gbps),
                    sources: vec![GpuSource::Engine],
                })
                .collect();
            (u64::from(ram_gib) * GIB, gpus, vec!["CPU".to_string(), backend.to_string()], DESKTOP_RAM_GBPS)
        }
        None => (u64::from(ram_gib) * GIB, vec![], vec!["CPU".to_string()], DESKTOP_RAM_GBPS),
    };
    let mut p = HardwareProfile {
        os: OsInfo { name: "Imagined".into(), version: String::new(), arch: "x86_64".into() },
        cpu: CpuInfo {
            brand: "A typical 8-core CPU".into(),
            physical_cores: 8,
            logical_cores: 16,
            features: SimdFeatures { avx: true, avx2: true, fma: true, f16c: true, ..Default::default() },
        },
        memory: MemoryInfo { total_bytes: ram, available_bytes: ram },
        gpus,
        disk: None,
        engine_backends: backends,
        engine_cpu_variant: None,
        engine_cpu_variants_avoided: Vec::new(),
        ram_bandwidth_gbps: Some(ram_bw),
        speed_calibration: None,
        summary: String::new(),
        probe_ms: 0,
    };
    p.summary = crate::summary::summary(&p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_prefers_the_most_specific_name() {
        assert_eq!(bandwidth_for("NVIDIA GeForce RTX 3090 Ti"), Some(1008.0));
        assert_eq!(bandwidth_for("NVIDIA GeForce RTX 3090"), Some(936.0));
        assert_eq!(bandwidth_for("Apple M3 Max"), Some(400.0));
        assert_eq!(bandwidth_for("NVIDIA H100 80GB HBM3"), Some(3350.0));
        assert_eq!(bandwidth_for("Mystery GPU"), None);
    }

    #[test]
    fn an_imagined_mac_is_one_pool() {
        let p = imagined(find("M2 Ultra 192GB"), 1, 16);
        assert_eq!(p.memory.total_bytes, 192 * GIB);
        assert_eq!(p.gpus.len(), 1);
        assert!(p.gpus[0].unified_memory);
        assert_eq!(p.gpus[0].vram_total_bytes, Some(144 * GIB));
        let two = imagined(find("RTX 3090"), 2, 64);
        assert_eq!(two.gpus.len(), 2);
    }
}
