//! The operating system's view, through sysinfo: CPU, RAM, the disk under the models folder, and the
//! GPUs the OS lists (with VRAM where the driver reports it).

use std::path::Path;

use sysinfo::{CpuRefreshKind, Disks, Gpus, MemoryRefreshKind, RefreshKind, System};
use types::{CpuInfo, DiskInfo, DiskKind, MemoryInfo, OsInfo, SimdFeatures};

use crate::sources::{OsGpu, OsGpus};

pub struct SysinfoGpus;

impl OsGpus for SysinfoGpus {
    fn os_gpus(&self) -> Vec<OsGpu> {
        let Ok(gpus) = Gpus::new_with_refreshed_list() else {
            return Vec::new();
        };
        gpus.iter()
            .map(|g| {
                let pci = g.pci().to_string();
                OsGpu {
                    name: g.model().unwrap_or_default().to_string(),
                    vendor: g.vendor().map(str::to_string),
                    // sysinfo reports ffffffff:ff:ff.255 when there is no PCI address (Apple Silicon).
                    pci_bus_id: (!pci.starts_with("ffff")).then_some(pci.to_lowercase()),
                    vram_total: g.total_memory(),
                    vram_used: g.used_memory(),
                }
            })
            .collect()
    }
}

pub fn os_info() -> OsInfo {
    OsInfo {
        name: System::name().unwrap_or_else(|_| std::env::consts::OS.to_string()),
        version: System::os_version().unwrap_or_default(),
        arch: std::env::consts::ARCH.to_string(),
    }
}

pub fn cpu_info() -> CpuInfo {
    let sys = System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()));
    let (brand, logical) = match &sys {
        Ok(sys) => (sys.cpus().first().map(|c| c.brand().trim().to_string()).unwrap_or_default(), sys.cpus().len()),
        Err(_) => (String::new(), 0),
    };
    let logical = if logical == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { logical };
    let physical = System::physical_core_count().unwrap_or(logical).clamp(1, logical);
    CpuInfo {
        brand: if brand.is_empty() { "Unknown CPU".to_string() } else { brand },
        physical_cores: physical as u32,
        logical_cores: logical as u32,
        features: simd_features(),
    }
}

pub fn memory_info() -> MemoryInfo {
    match System::new_with_specifics(RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram())) {
        Ok(sys) => MemoryInfo { total_bytes: sys.total_memory(), available_bytes: sys.available_memory() },
        Err(_) => MemoryInfo { total_bytes: 0, available_bytes: 0 },
    }
}

/// The disk that holds `models_dir`: the mount point that is the longest prefix of the folder (or of
/// its nearest existing ancestor, since the folder may not exist yet).
pub fn disk_info(models_dir: &Path) -> Option<DiskInfo> {
    let existing = models_dir.ancestors().find(|p| p.exists())?;
    let resolved = existing.canonicalize().ok()?;
    let disks = Disks::new_with_refreshed_list().ok()?;
    let disk = disks.iter().filter(|d| resolved.starts_with(d.mount_point())).max_by_key(|d| d.mount_point().as_os_str().len())?;
    Some(DiskInfo {
        models_dir: models_dir.display().to_string(),
        mount_point: disk.mount_point().display().to_string(),
        file_system: disk.file_system().to_string_lossy().into_owned(),
        kind: match disk.kind() {
            sysinfo::DiskKind::SSD => DiskKind::Ssd,
            sysinfo::DiskKind::HDD => DiskKind::Hdd,
            sysinfo::DiskKind::Unknown(_) => DiskKind::Unknown,
        },
        total_bytes: disk.total_space(),
        free_bytes: disk.available_space(),
    })
}

fn simd_features() -> SimdFeatures {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        SimdFeatures {
            avx: std::arch::is_x86_feature_detected!("avx"),
            avx2: std::arch::is_x86_feature_detected!("avx2"),
            avx512: std::arch::is_x86_feature_detected!("avx512f"),
            fma: std::arch::is_x86_feature_detected!("fma"),
            f16c: std::arch::is_x86_feature_detected!("f16c"),
            neon: false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        SimdFeatures { neon: std::arch::is_aarch64_feature_detected!("neon"), ..Default::default() }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        SimdFeatures::default()
    }
}
