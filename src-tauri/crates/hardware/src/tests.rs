//! Fake machines: each test hands the merge what the three sources would report on a real machine of
//! that kind, and checks the profile a person would be shown.

use super::*;
use crate::sources::{AdapterKind, EngineDevice, EngineDeviceKind, OsGpu, WgpuAdapter};
use types::{GpuKind, GpuSource, GpuVendor, SimdFeatures};

const GIB: u64 = 1 << 30;

fn facts(ram_gib: u64) -> SystemFacts {
    SystemFacts {
        os: OsInfo { name: "Linux".into(), version: "12".into(), arch: "x86_64".into() },
        cpu: CpuInfo {
            brand: "Test CPU".into(),
            physical_cores: 8,
            logical_cores: 16,
            features: SimdFeatures { avx2: true, ..Default::default() },
        },
        memory: MemoryInfo { total_bytes: ram_gib * GIB, available_bytes: ram_gib * GIB / 2 },
        disk: None,
    }
}

fn cpu_device() -> EngineDevice {
    EngineDevice {
        name: "CPU".into(),
        description: "Test CPU".into(),
        backend: "CPU".into(),
        kind: EngineDeviceKind::Cpu,
        memory_total: 64 * GIB,
        memory_free: 32 * GIB,
    }
}

fn engine_gpu(name: &str, backend: &str, description: &str, total_gib: u64, free_gib: u64) -> EngineDevice {
    EngineDevice {
        name: name.into(),
        description: description.into(),
        backend: backend.into(),
        kind: EngineDeviceKind::Gpu,
        memory_total: total_gib * GIB,
        memory_free: free_gib * GIB,
    }
}

fn adapter(name: &str, vendor: u32, device: u32, kind: AdapterKind, api: &str, pci: &str) -> WgpuAdapter {
    WgpuAdapter { name: name.into(), vendor_id: vendor, device_id: device, kind, api: api.into(), pci_bus_id: pci.into() }
}

fn os_gpu(name: &str, vendor: &str, pci: Option<&str>, total_gib: Option<u64>) -> OsGpu {
    OsGpu {
        name: name.into(),
        vendor: Some(vendor.into()),
        pci_bus_id: pci.map(str::to_string),
        vram_total: total_gib.map(|g| g * GIB),
        vram_used: total_gib.map(|_| GIB),
    }
}

#[test]
fn one_nvidia_card_seen_by_all_three_sources_is_one_gpu() {
    let engine = vec![cpu_device(), engine_gpu("CUDA0", "CUDA", "NVIDIA GeForce RTX 4090", 24, 23)];
    let wgpu = vec![
        adapter("NVIDIA GeForce RTX 4090", 0x10de, 0x2684, AdapterKind::Discrete, "Vulkan", "0000:01:00.0"),
        // Windows lists the same card again through DirectX 12, without a bus address.
        adapter("NVIDIA GeForce RTX 4090", 0x10de, 0x2684, AdapterKind::Discrete, "DX12", ""),
    ];
    let os = vec![os_gpu("AD102 [GeForce RTX 4090]", "NVIDIA Corporation", Some("0000:01:00.0"), Some(24))];
    let p = assemble(facts(64), &engine, &wgpu, &os);

    assert_eq!(p.gpus.len(), 1, "{:#?}", p.gpus);
    let g = &p.gpus[0];
    assert_eq!(g.name, "NVIDIA GeForce RTX 4090");
    assert_eq!(g.vendor, GpuVendor::Nvidia);
    assert_eq!(g.kind, GpuKind::Discrete);
    assert_eq!(g.engine_backend.as_deref(), Some("CUDA"));
    assert_eq!(g.apis, vec!["DX12".to_string(), "Vulkan".to_string()]);
    // The engine's own figures win: that is the memory llama.cpp will be able to allocate.
    assert_eq!(g.vram_total_bytes, Some(24 * GIB));
    assert_eq!(g.vram_free_bytes, Some(23 * GIB));
    assert!(!g.unified_memory);
    assert_eq!(g.sources, vec![GpuSource::Engine, GpuSource::Wgpu, GpuSource::Os]);
    assert_eq!(p.engine_backends, vec!["CPU".to_string(), "CUDA".to_string()]);
    assert!(p.summary.contains("RTX 4090 (24 GB)") && p.summary.contains("32B"), "{}", p.summary);
}

#[test]
fn two_different_gpus_stay_two_and_keep_their_own_memory() {
    let engine = vec![
        cpu_device(),
        engine_gpu("CUDA0", "CUDA", "NVIDIA GeForce RTX 3090", 24, 22),
        engine_gpu("CUDA1", "CUDA", "NVIDIA GeForce RTX 3060", 12, 11),
    ];
    let wgpu = vec![
        adapter("NVIDIA GeForce RTX 3060", 0x10de, 0x2504, AdapterKind::Discrete, "Vulkan", "0000:02:00.0"),
        adapter("NVIDIA GeForce RTX 3090", 0x10de, 0x2204, AdapterKind::Discrete, "Vulkan", "0000:01:00.0"),
    ];
    let os = vec![
        os_gpu("GA102 [GeForce RTX 3090]", "NVIDIA Corporation", Some("0000:01:00.0"), Some(24)),
        os_gpu("GA106 [GeForce RTX 3060]", "NVIDIA Corporation", Some("0000:02:00.0"), Some(12)),
    ];
    let p = assemble(facts(64), &engine, &wgpu, &os);

    assert_eq!(p.gpus.len(), 2, "{:#?}", p.gpus);
    let by_name = |n: &str| p.gpus.iter().find(|g| g.name.contains(n)).expect(n);
    assert_eq!(by_name("3090").vram_total_bytes, Some(24 * GIB));
    assert_eq!(by_name("3060").vram_total_bytes, Some(12 * GIB));
    assert!(p.gpus.iter().all(|g| g.sources.len() == 3));
    assert!(p.summary.contains("2 GPUs (36 GB together)"), "{}", p.summary);
}

#[test]
fn two_identical_cards_are_two_devices_not_one_and_not_four() {
    let engine = vec![
        cpu_device(),
        engine_gpu("CUDA0", "CUDA", "NVIDIA GeForce RTX 3090", 24, 23),
        engine_gpu("CUDA1", "CUDA", "NVIDIA GeForce RTX 3090", 24, 20),
    ];
    let wgpu = vec![
        adapter("NVIDIA GeForce RTX 3090", 0x10de, 0x2204, AdapterKind::Discrete, "Vulkan", "0000:01:00.0"),
        adapter("NVIDIA GeForce RTX 3090", 0x10de, 0x2204, AdapterKind::Discrete, "Vulkan", "0000:02:00.0"),
        adapter("NVIDIA GeForce RTX 3090", 0x10de, 0x2204, AdapterKind::Discrete, "DX12", ""),
        adapter("NVIDIA GeForce RTX 3090", 0x10de, 0x2204, AdapterKind::Discrete, "DX12", ""),
    ];
    let p = assemble(facts(128), &engine, &wgpu, &[]);
    assert_eq!(p.gpus.len(), 2, "{:#?}", p.gpus);
    let free: Vec<_> = p.gpus.iter().map(|g| g.vram_free_bytes).collect();
    assert_eq!(free, vec![Some(23 * GIB), Some(20 * GIB)]);
    assert!(p.gpus.iter().all(|g| g.apis == vec!["DX12".to_string(), "Vulkan".to_string()]));
}

#[test]
fn apple_silicon_is_one_unified_gpu_and_memory_is_not_counted_twice() {
    // Metal reports its recommended working set (about 75 % of RAM), not memory of its own.
    let engine = vec![
        EngineDevice { memory_total: 128 * GIB, ..cpu_device() },
        EngineDevice {
            name: "MTL0".into(),
            description: "Apple M3 Max".into(),
            backend: "Metal".into(),
            kind: EngineDeviceKind::Gpu,
            memory_total: 96 * GIB,
            memory_free: 96 * GIB,
        },
    ];
    let wgpu = vec![adapter("Apple M3 Max", 0, 0, AdapterKind::Integrated, "Metal", "")];
    let os = vec![OsGpu { name: "Apple M3 Max".into(), vendor: Some("Apple".into()), pci_bus_id: None, vram_total: None, vram_used: None }];
    let mut f = facts(128);
    f.os = OsInfo { name: "Darwin".into(), version: "15.1".into(), arch: "aarch64".into() };
    let p = assemble(f, &engine, &wgpu, &os);

    assert_eq!(p.gpus.len(), 1, "{:#?}", p.gpus);
    let g = &p.gpus[0];
    assert_eq!(g.vendor, GpuVendor::Apple);
    assert_eq!(g.kind, GpuKind::Integrated);
    assert!(g.unified_memory);
    assert_eq!(g.engine_backend.as_deref(), Some("Metal"));
    assert_eq!(g.vram_total_bytes, Some(96 * GIB));
    // RAM stays RAM: the GPU's share is inside it, not added to it.
    assert_eq!(p.memory.total_bytes, 128 * GIB);
    assert!(p.summary.contains("shares 128 GB"), "{}", p.summary);
    assert!(!p.summary.contains("224"), "memory counted twice: {}", p.summary);
}

#[test]
fn an_integrated_gpu_the_engine_cannot_use_is_shown_with_that_fact() {
    // A CPU-only engine build on a laptop with Intel graphics.
    let engine = vec![cpu_device()];
    let wgpu = vec![
        adapter("Intel(R) UHD Graphics 620 (KBL GT2)", 0x8086, 0x5917, AdapterKind::Integrated, "Vulkan", "0000:00:02.0"),
        adapter("llvmpipe (LLVM 15.0.6, 256 bits)", 0x10005, 0, AdapterKind::Cpu, "Vulkan", ""),
    ];
    let os = vec![os_gpu("UHD Graphics 620", "Intel Corporation", Some("0000:00:02.0"), None)];
    let p = assemble(facts(16), &engine, &wgpu, &os);

    assert_eq!(p.gpus.len(), 1, "{:#?}", p.gpus);
    let g = &p.gpus[0];
    assert_eq!(g.name, "UHD Graphics 620");
    assert_eq!(g.vendor, GpuVendor::Intel);
    assert_eq!(g.kind, GpuKind::Integrated);
    assert!(g.unified_memory);
    assert!(!g.usable_by_engine());
    assert_eq!(g.vram_total_bytes, None);
    assert!(p.summary.contains("cannot be used by this build"), "{}", p.summary);
    assert!(p.summary.contains("on the CPU from RAM"), "{}", p.summary);
}

#[test]
fn no_gpu_at_all_says_so_and_software_renderers_do_not_count() {
    // A headless server or VM: a software Vulkan driver and a display-only virtual adapter.
    let engine = vec![cpu_device()];
    let wgpu = vec![adapter("llvmpipe (LLVM 15.0.6, 256 bits)", 0x10005, 0, AdapterKind::Cpu, "Vulkan", "")];
    let os = vec![os_gpu("Bochs/QEMU Standard VGA", "QEMU", Some("0000:00:02.0"), None)];
    let p = assemble(facts(24), &engine, &wgpu, &os);

    assert!(p.gpus.is_empty(), "{:#?}", p.gpus);
    assert_eq!(p.engine_backends, vec!["CPU".to_string()]);
    assert!(p.summary.starts_with("No GPU: models run on the CPU from RAM"), "{}", p.summary);
    assert!(p.summary.contains("up to about 8B at Q4"), "{}", p.summary);
}

#[test]
fn a_gpu_only_the_engine_sees_is_still_listed() {
    // A headless server with no Vulkan loader and a sysinfo that does not know the card.
    let engine = vec![cpu_device(), engine_gpu("CUDA0", "CUDA", "NVIDIA H100 80GB HBM3", 80, 79)];
    let p = assemble(facts(256), &engine, &[], &[]);
    assert_eq!(p.gpus.len(), 1);
    assert_eq!(p.gpus[0].vendor, GpuVendor::Nvidia);
    assert_eq!(p.gpus[0].vram_total_bytes, Some(80 * GIB));
}

#[test]
fn probing_this_machine_reads_the_real_cpu_and_ram() {
    let dir = std::env::temp_dir();
    let p = Prober::system(Vec::<EngineDevice>::new()).probe(&dir);
    assert!(p.cpu.logical_cores >= 1);
    assert!(p.cpu.physical_cores >= 1 && p.cpu.physical_cores <= p.cpu.logical_cores);
    assert!(p.memory.total_bytes > 0 && p.memory.available_bytes <= p.memory.total_bytes);
    assert!(p.engine_backends.iter().any(|b| b == "CPU"), "{:?}", p.engine_backends);
    let disk = p.disk.expect("the temp folder is on some disk");
    assert!(disk.total_bytes >= disk.free_bytes);
    assert!(!p.summary.is_empty());
}

#[test]
fn a_gpu_the_engine_cannot_drive_says_why_and_what_to_install() {
    // The OS and wgpu see an RTX 3060, but the engine's Vulkan backend could not load.
    let wgpu = vec![WgpuAdapter {
        name: "NVIDIA GeForce RTX 3060".into(),
        vendor_id: 0x10de,
        device_id: 0x2504,
        kind: AdapterKind::Discrete,
        api: "Vulkan".into(),
        pci_bus_id: "0000:01:00.0".into(),
    }];
    let mut p = assemble(facts(32), &[cpu_device()], &wgpu, &[]);
    assert_eq!(p.gpus.len(), 1);
    assert!(!p.gpus[0].usable_by_engine());
    crate::merge::explain_missing(
        &mut p.gpus,
        &p.engine_backends,
        &["failed to load libggml-vulkan.so: libvulkan.so.1: cannot open shared object file".into()],
    );
    let why = p.gpus[0].engine_missing.clone().expect("a reason");
    assert!(why.contains("libvulkan1") && why.contains("NVIDIA driver"), "{why}");
}
