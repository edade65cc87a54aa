//! Hardware detection: builds a [`HardwareProfile`] of this machine.
//!
//! CPU, RAM and the models disk come from sysinfo; GPUs come from three sources (llama.cpp's device
//! list, wgpu's adapters, the OS's list), each behind a trait in [`sources`] so tests can hand in a
//! fake machine, and are merged per physical device in [`merge`]. The GPU sources are queried on their
//! own threads: wgpu's Vulkan start-up is the slow part and should not wait for the others.

mod bandwidth;
pub mod calibration;
pub mod catalog;
pub mod disk_speed;
pub mod merge;
mod os_source;
pub mod sources;
pub mod summary;
mod wgpu_source;

use std::path::Path;
use std::time::Instant;

use types::{CpuInfo, DiskInfo, HardwareProfile, MemoryInfo, MemoryNow, OsInfo};

pub use bandwidth::measure_ram_bandwidth;
pub use os_source::SysinfoGpus;
use sources::{EngineDevice, EngineDeviceKind, EngineDevices, OsGpus, WgpuAdapters};
pub use wgpu_source::WgpuEnumeration;

/// On a machine with no desktop session (a server, CI, a container), Mesa's Vulkan device-select
/// layer tries to reach a Wayland compositor and prints "XDG_RUNTIME_DIR is invalid" to stderr while
/// wgpu enumerates adapters. Hearth enumerates every device itself, so the layer has nothing to do:
/// turn it off in that case. Call from `main` before any thread starts (it sets an env variable).
pub fn quiet_headless_vulkan() {
    let headless = std::env::var_os("XDG_RUNTIME_DIR").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none();
    if cfg!(target_os = "linux") && headless && std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

/// The system facts that are not GPUs, gathered together so a fake machine can supply them too.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemFacts {
    pub os: OsInfo,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    pub disk: Option<DiskInfo>,
}

pub struct Prober {
    pub engine: Box<dyn EngineDevices>,
    pub wgpu: Box<dyn WgpuAdapters>,
    pub os_gpus: Box<dyn OsGpus>,
}

impl Prober {
    /// The real machine, with the engine's report from `engine` (the app and the CLI ask their engine
    /// worker; a source that reports nothing means CPU only).
    pub fn system(engine: impl EngineDevices + 'static) -> Self {
        Self { engine: Box::new(engine), wgpu: Box::new(WgpuEnumeration), os_gpus: Box::new(SysinfoGpus) }
    }

    /// Probe everything. `models_dir` picks the disk to report.
    pub fn probe(&self, models_dir: &Path) -> HardwareProfile {
        let started = Instant::now();
        let (engine, wgpu, os_gpus, facts) = std::thread::scope(|s| {
            let engine = s.spawn(|| self.engine.engine_report());
            let wgpu = s.spawn(|| self.wgpu.wgpu_adapters());
            let os_gpus = s.spawn(|| self.os_gpus.os_gpus());
            let facts = system_facts(models_dir);
            // After the CPU facts, so the copy loop does not slow the other readings it shares cores with.
            let bandwidth = measure_ram_bandwidth(facts.cpu.physical_cores as usize);
            (engine.join().unwrap_or_default(), wgpu.join().unwrap_or_default(), os_gpus.join().unwrap_or_default(), (facts, bandwidth))
        });
        let (facts, bandwidth) = facts;
        let mut profile = assemble(facts, &engine.devices, &wgpu, &os_gpus);
        profile.engine_cpu_variant = engine.cpu_variant;
        profile.engine_cpu_variants_avoided = engine.avoided_cpu_variants;
        merge::explain_missing(&mut profile.gpus, &profile.engine_backends, &engine.skipped);
        profile.ram_bandwidth_gbps = bandwidth;
        profile.probe_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        profile
    }

    /// The figures that move: available RAM and free VRAM, in the order of `profile.gpus`. From the
    /// OS only: the Hardware view asks every two seconds, too often to start an engine worker (and
    /// its GPU drivers) each time; a GPU the OS gives no figure for keeps the engine's from the probe.
    pub fn memory_now(&self, profile: &HardwareProfile) -> MemoryNow {
        let memory = os_source::memory_info();
        let os = self.os_gpus.os_gpus();
        let fresh = merge::merge_gpus(&[], &[], &os);
        let gpu_free_bytes = profile
            .gpus
            .iter()
            .map(|g| fresh.iter().find(|f| f.name == g.name).and_then(|f| f.vram_free_bytes).or(g.vram_free_bytes))
            .collect();
        MemoryNow { memory, gpu_free_bytes }
    }
}

/// CPU, RAM, OS and the models disk, from sysinfo.
pub fn system_facts(models_dir: &Path) -> SystemFacts {
    SystemFacts {
        os: os_source::os_info(),
        cpu: os_source::cpu_info(),
        memory: os_source::memory_info(),
        disk: os_source::disk_info(models_dir),
    }
}

/// Build the profile from raw facts. Pure: this is what the tests drive with fake machines.
pub fn assemble(facts: SystemFacts, engine: &[EngineDevice], wgpu: &[sources::WgpuAdapter], os_gpus: &[sources::OsGpu]) -> HardwareProfile {
    let gpus = merge::merge_gpus(engine, wgpu, os_gpus);
    let mut engine_backends: Vec<String> = Vec::new();
    for d in engine.iter().filter(|d| d.kind != EngineDeviceKind::Accelerator || !d.backend.is_empty()) {
        if !engine_backends.contains(&d.backend) {
            engine_backends.push(d.backend.clone());
        }
    }
    if engine_backends.is_empty() {
        engine_backends.push("CPU".to_string());
    }
    let mut profile = HardwareProfile {
        os: facts.os,
        cpu: facts.cpu,
        memory: facts.memory,
        gpus,
        disk: facts.disk,
        engine_backends,
        engine_cpu_variant: None,
        engine_cpu_variants_avoided: Vec::new(),
        ram_bandwidth_gbps: None,
        speed_calibration: None,
        summary: String::new(),
        probe_ms: 0,
    };
    profile.summary = summary::summary(&profile);
    profile
}

#[cfg(test)]
mod tests;
