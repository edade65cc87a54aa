//! The three places GPU facts come from, each behind a trait so tests can hand in fakes (a `Vec` of
//! records is the fake: it implements the trait by returning itself).
//!
//! - [`EngineDevices`]: llama.cpp's device list — what the engine can really run layers on, with
//!   its own free/total memory figures (CUDA's, Metal's recommended working set, ...).
//! - [`WgpuAdapters`]: wgpu adapter enumeration — every GPU the OS exposes through Vulkan, Metal or
//!   DirectX 12, also those this engine build cannot use.
//! - [`OsGpus`]: sysinfo — the OS's own list (sysfs, NVML, IOKit, DXGI), with VRAM where it knows it.
//!
//! The same physical device shows up in several sources, and in wgpu once per graphics API; `merge`
//! turns these raw records into one `GpuInfo` per device.

pub use types::{EngineDevice, EngineDeviceKind, EngineReport};

/// wgpu's classification of an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    Discrete,
    Integrated,
    Virtual,
    /// A software renderer (llvmpipe, WARP, SwiftShader).
    Cpu,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgpuAdapter {
    pub name: String,
    /// PCI vendor id (0x10de NVIDIA, 0x1002 AMD, 0x8086 Intel, 0x106b Apple).
    pub vendor_id: u32,
    pub device_id: u32,
    pub kind: AdapterKind,
    /// "Vulkan", "Metal", "DX12", "GL".
    pub api: String,
    /// "0000:01:00.0" where the API reports it; empty otherwise.
    pub pci_bus_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsGpu {
    pub name: String,
    pub vendor: Option<String>,
    /// "0000:01:00.0"; `None` where the OS gives no real address (Apple Silicon).
    pub pci_bus_id: Option<String>,
    pub vram_total: Option<u64>,
    pub vram_used: Option<u64>,
}

/// The engine's own report. In the app and the CLI it comes from the engine's worker process: the
/// process that shows the window never loads llama.cpp's backends itself, so a GPU driver that
/// crashes can only take the worker down.
pub trait EngineDevices: Send + Sync {
    fn engine_report(&self) -> EngineReport;
}

pub trait WgpuAdapters: Send + Sync {
    fn wgpu_adapters(&self) -> Vec<WgpuAdapter>;
}

pub trait OsGpus: Send + Sync {
    fn os_gpus(&self) -> Vec<OsGpu>;
}

impl EngineDevices for Vec<EngineDevice> {
    fn engine_report(&self) -> EngineReport {
        EngineReport { devices: self.clone(), ..EngineReport::default() }
    }
}

impl EngineDevices for EngineReport {
    fn engine_report(&self) -> EngineReport {
        self.clone()
    }
}

/// A report made when asked (the app's and the CLI's: start a worker and ask it).
impl<F: Fn() -> EngineReport + Send + Sync> EngineDevices for F {
    fn engine_report(&self) -> EngineReport {
        self()
    }
}

impl WgpuAdapters for Vec<WgpuAdapter> {
    fn wgpu_adapters(&self) -> Vec<WgpuAdapter> {
        self.clone()
    }
}

impl OsGpus for Vec<OsGpu> {
    fn os_gpus(&self) -> Vec<OsGpu> {
        self.clone()
    }
}
