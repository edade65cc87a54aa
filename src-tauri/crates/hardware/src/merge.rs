//! Merging the three sources into one `GpuInfo` per physical device.
//!
//! The rules, in order:
//! 1. Software renderers (llvmpipe, lavapipe, WARP, SwiftShader) and display-only adapters of virtual
//!    machines and servers (QEMU's bochs, virtio, VMware SVGA, ASPEED BMC graphics) are not GPUs.
//! 2. wgpu lists a device once per graphics API: adapters with the same PCI address are one device;
//!    adapters without an address join a device with the same vendor and device id that lacks that API.
//! 3. The OS's GPUs join a wgpu device by PCI address, else by name.
//! 4. The engine's GPUs join a device by name (llama.cpp gives no PCI address through llama-cpp-2);
//!    two identical cards are paired in order, one engine device to one physical device.
//!    A software device the engine reports (lavapipe) counts only when `HEARTH_ALLOW_SOFTWARE_GPU=1`
//!    (tests, and the curious): it is slower than the CPU it runs on, so never a GPU for a person.
//! 5. Memory figures come from the engine when it sees the device (that is what the engine will get),
//!    else from the OS. On unified memory the figure is the GPU's share of RAM, never extra memory.

use std::collections::BTreeSet;

use types::{GpuInfo, GpuKind, GpuSource, GpuVendor};

use crate::sources::{AdapterKind, EngineDevice, EngineDeviceKind, OsGpu, WgpuAdapter};

/// Words in adapter names that mark a software renderer or a display-only virtual adapter.
const NOT_A_GPU: &[&str] = &[
    "llvmpipe",
    "lavapipe",
    "softpipe",
    "swiftshader",
    "microsoft basic render",
    "warp",
    "bochs",
    "virtio",
    "qxl",
    "cirrus",
    "vmware svga",
    "svga3d",
    "virtualbox",
    "hyper-v",
    "aspeed",
    "matrox",
];

/// For each GPU the OS shows but the engine cannot drive: why, and what to install. Never a silent
/// CPU fall-back: the Hardware view and `hearth probe` show this sentence beside the GPU.
/// `skipped` are the engine's own reasons for the backends it could not load.
pub fn explain_missing(gpus: &mut [GpuInfo], engine_backends: &[String], skipped: &[String]) {
    for g in gpus.iter_mut().filter(|g| g.engine_backend.is_none()) {
        let vulkan_loaded = engine_backends.iter().any(|b| b == "Vulkan");
        let vulkan_skipped = skipped.iter().find(|s| s.to_lowercase().contains("vulkan"));
        let driver = match g.vendor {
            GpuVendor::Nvidia => "the NVIDIA driver (its Vulkan support comes with it)",
            GpuVendor::Amd => "Mesa's Vulkan driver (RADV, Debian/Ubuntu package mesa-vulkan-drivers)",
            GpuVendor::Intel => "Mesa's Vulkan driver (ANV, Debian/Ubuntu package mesa-vulkan-drivers)",
            _ => "its Vulkan driver",
        };
        g.engine_missing = Some(if let Some(why) = vulkan_skipped {
            format!("The engine's Vulkan backend did not load ({why}). Install the Vulkan loader (libvulkan1) and {driver}.")
        } else if vulkan_loaded {
            format!("The engine's Vulkan backend does not see this GPU. Install {driver}, then restart Hearth.")
        } else if cfg!(target_os = "macos") {
            "The engine runs on Apple GPUs through Metal only.".to_string()
        } else {
            format!("This build of the engine has no backend for it. Install the Vulkan loader (libvulkan1) and {driver}.")
        });
    }
}

/// `HEARTH_ALLOW_SOFTWARE_GPU=1`: let a software Vulkan device the engine reports count as a GPU.
pub fn allow_software_gpu() -> bool {
    std::env::var("HEARTH_ALLOW_SOFTWARE_GPU").is_ok_and(|v| v == "1")
}

pub fn is_not_a_gpu(name: &str) -> bool {
    let lower = name.to_lowercase();
    NOT_A_GPU.iter().any(|w| lower.contains(w))
}

/// One physical device while it is being assembled.
#[derive(Debug, Default)]
struct Device {
    pci_bus_id: Option<String>,
    vendor_id: Option<u32>,
    device_id: Option<u32>,
    wgpu_name: Option<String>,
    wgpu_kind: Option<AdapterKind>,
    apis: BTreeSet<String>,
    os: Option<OsGpu>,
    engine: Option<EngineDevice>,
}

pub fn merge_gpus(engine: &[EngineDevice], wgpu: &[WgpuAdapter], os: &[OsGpu]) -> Vec<GpuInfo> {
    let mut devices: Vec<Device> = Vec::new();

    // Rule 2: adapters with an address first, so address-less ones find their device.
    let mut adapters: Vec<&WgpuAdapter> =
        wgpu.iter().filter(|a| !matches!(a.kind, AdapterKind::Cpu | AdapterKind::Virtual) && !is_not_a_gpu(&a.name)).collect();
    adapters.sort_by_key(|a| a.pci_bus_id.is_empty());
    for a in adapters {
        let found = if a.pci_bus_id.is_empty() {
            devices.iter().position(|d| d.vendor_id == Some(a.vendor_id) && d.device_id == Some(a.device_id) && !d.apis.contains(&a.api))
        } else {
            devices.iter().position(|d| d.pci_bus_id.as_deref() == Some(a.pci_bus_id.as_str()))
        };
        let d = match found {
            Some(i) => &mut devices[i],
            None => {
                devices.push(Device {
                    pci_bus_id: (!a.pci_bus_id.is_empty()).then(|| a.pci_bus_id.clone()),
                    vendor_id: Some(a.vendor_id),
                    device_id: Some(a.device_id),
                    wgpu_name: Some(a.name.clone()),
                    wgpu_kind: Some(a.kind),
                    ..Device::default()
                });
                devices.last_mut().expect("just pushed")
            }
        };
        d.apis.insert(a.api.clone());
    }

    // Rule 3.
    for g in os.iter().filter(|g| !is_not_a_gpu(&g.name) && !g.vendor.as_deref().is_some_and(is_not_a_gpu)) {
        let by_pci =
            g.pci_bus_id.as_ref().and_then(|pci| devices.iter().position(|d| d.os.is_none() && d.pci_bus_id.as_ref() == Some(pci)));
        let found = by_pci.or_else(|| best_name_match(&devices, &g.name, |d| d.os.is_none(), |d| d.wgpu_name.clone()));
        match found {
            Some(i) => devices[i].os = Some(g.clone()),
            None => devices.push(Device { pci_bus_id: g.pci_bus_id.clone(), os: Some(g.clone()), ..Device::default() }),
        }
    }

    // Rule 4.
    for e in engine
        .iter()
        .filter(|e| matches!(e.kind, EngineDeviceKind::Gpu | EngineDeviceKind::IntegratedGpu))
        .filter(|e| allow_software_gpu() || !is_not_a_gpu(&e.description))
    {
        let found = best_name_match(
            &devices,
            &e.description,
            |d| d.engine.is_none(),
            |d| d.os.as_ref().map(|o| o.name.clone()).or_else(|| d.wgpu_name.clone()),
        );
        match found {
            Some(i) => devices[i].engine = Some(e.clone()),
            None => devices.push(Device { engine: Some(e.clone()), ..Device::default() }),
        }
    }

    devices.into_iter().map(finish).collect()
}

/// The free device whose name matches `name` best: identical words first, then one name's words
/// contained in the other's ("GeForce RTX 4090" in "NVIDIA GeForce RTX 4090/PCIe/SSE2").
fn best_name_match(
    devices: &[Device],
    name: &str,
    free: impl Fn(&Device) -> bool,
    name_of: impl Fn(&Device) -> Option<String>,
) -> Option<usize> {
    let want = name_words(name);
    if want.is_empty() {
        return None;
    }
    let candidates: Vec<(usize, BTreeSet<String>)> = devices
        .iter()
        .enumerate()
        .filter(|(_, d)| free(d))
        .filter_map(|(i, d)| name_of(d).map(|n| (i, name_words(&n))))
        .filter(|(_, words)| !words.is_empty())
        .collect();
    candidates
        .iter()
        .find(|(_, w)| *w == want)
        .or_else(|| candidates.iter().find(|(_, w)| w.is_subset(&want) || want.is_subset(w)))
        .map(|(i, _)| *i)
}

/// The distinctive words of a GPU name: lower case, without vendor words, trademarks, driver
/// suffixes ("/PCIe/SSE2") and parenthesised driver notes ("(RADV NAVI31)").
fn name_words(name: &str) -> BTreeSet<String> {
    let lower = name.to_lowercase().replace("(r)", "").replace("(tm)", "");
    let mut kept = String::new();
    let mut depth = 0u32;
    for c in lower.split('/').next().unwrap_or_default().chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => kept.push(if c.is_alphanumeric() { c } else { ' ' }),
            _ => {}
        }
    }
    const VENDOR_WORDS: &[&str] = &["nvidia", "amd", "ati", "intel", "corporation", "inc", "advanced", "micro", "devices"];
    kept.split_whitespace().filter(|w| !VENDOR_WORDS.contains(w)).map(str::to_string).collect()
}

fn vendor_of(vendor_id: Option<u32>, names: &[&str]) -> GpuVendor {
    match vendor_id.map(|v| v & 0xffff) {
        Some(0x10de) => return GpuVendor::Nvidia,
        Some(0x1002) | Some(0x1022) => return GpuVendor::Amd,
        Some(0x8086) => return GpuVendor::Intel,
        Some(0x106b) => return GpuVendor::Apple,
        Some(0x5143) => return GpuVendor::Qualcomm,
        _ => {}
    }
    let all = names.join(" ").to_lowercase();
    let has = |w: &str| all.contains(w);
    if has("nvidia") || has("geforce") || has("quadro") || has("tesla") {
        GpuVendor::Nvidia
    } else if has("amd") || has("radeon") || has("advanced micro") || has("instinct") {
        GpuVendor::Amd
    } else if has("intel") || has("iris") || has("arc ") || has("uhd graphics") {
        GpuVendor::Intel
    } else if has("apple") {
        GpuVendor::Apple
    } else if has("adreno") || has("qualcomm") {
        GpuVendor::Qualcomm
    } else {
        GpuVendor::Other
    }
}

/// A readable name: the engine's description, else the OS's model name, else wgpu's, cleaned of
/// driver suffixes.
fn display_name(d: &Device) -> String {
    let raw = d
        .engine
        .as_ref()
        .map(|e| e.description.clone())
        .or_else(|| d.os.as_ref().map(|o| o.name.clone()).filter(|n| !n.is_empty()))
        .or_else(|| d.wgpu_name.clone())
        .unwrap_or_else(|| "Unknown GPU".to_string());
    let cut = raw.split('/').next().unwrap_or(&raw);
    let cut = match cut.find(" (") {
        Some(i) if i > 0 => &cut[..i],
        _ => cut,
    };
    cut.trim().to_string()
}

fn finish(d: Device) -> GpuInfo {
    let name = display_name(&d);
    let names: Vec<&str> =
        [Some(name.as_str()), d.os.as_ref().and_then(|o| o.vendor.as_deref()), d.wgpu_name.as_deref()].into_iter().flatten().collect();
    let vendor = vendor_of(d.vendor_id, &names);

    let kind = if d.engine.as_ref().is_some_and(|e| e.kind == EngineDeviceKind::IntegratedGpu) {
        GpuKind::Integrated
    } else {
        match d.wgpu_kind {
            Some(AdapterKind::Integrated) => GpuKind::Integrated,
            Some(AdapterKind::Discrete) => GpuKind::Discrete,
            _ => match vendor {
                GpuVendor::Apple | GpuVendor::Qualcomm => GpuKind::Integrated,
                GpuVendor::Intel if !name.to_lowercase().contains("arc") => GpuKind::Integrated,
                _ => GpuKind::Discrete,
            },
        }
    };
    let unified_memory = vendor == GpuVendor::Apple || kind == GpuKind::Integrated;

    let (vram_total_bytes, vram_free_bytes) = match (&d.engine, &d.os) {
        (Some(e), _) if e.memory_total > 0 => (Some(e.memory_total), Some(e.memory_free.min(e.memory_total))),
        (_, Some(o)) => match o.vram_total.filter(|t| *t > 0) {
            Some(total) => (Some(total), o.vram_used.map(|u| total.saturating_sub(u))),
            None => (None, None),
        },
        _ => (None, None),
    };

    let mut sources = Vec::new();
    if d.engine.is_some() {
        sources.push(GpuSource::Engine);
    }
    if !d.apis.is_empty() {
        sources.push(GpuSource::Wgpu);
    }
    if d.os.is_some() {
        sources.push(GpuSource::Os);
    }

    GpuInfo {
        bandwidth_gbps: crate::catalog::bandwidth_for(&name),
        name,
        vendor,
        kind,
        engine_backend: d.engine.as_ref().map(|e| e.backend.clone()),
        engine_device: d.engine.as_ref().map(|e| e.name.clone()),
        engine_missing: None,
        apis: d.apis.into_iter().collect(),
        vram_total_bytes,
        vram_free_bytes,
        unified_memory,
        sources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_words_drop_vendor_and_driver_noise() {
        let w = name_words("NVIDIA GeForce RTX 4090/PCIe/SSE2");
        assert_eq!(w, ["geforce", "rtx", "4090"].iter().map(|s| s.to_string()).collect());
        let w = name_words("AMD Radeon RX 7900 XTX (RADV NAVI31)");
        assert_eq!(w, ["radeon", "rx", "7900", "xtx"].iter().map(|s| s.to_string()).collect());
    }

    #[test]
    fn software_and_display_only_adapters_are_not_gpus() {
        for n in ["llvmpipe (LLVM 15.0.6, 256 bits)", "Microsoft Basic Render Driver", "SwiftShader Device", "ASPEED Graphics Family"] {
            assert!(is_not_a_gpu(n), "{n}");
        }
        assert!(!is_not_a_gpu("NVIDIA GeForce RTX 3060"));
    }

    #[test]
    fn display_name_strips_driver_notes() {
        let d = Device { wgpu_name: Some("AMD Radeon RX 7900 XTX (RADV NAVI31)".into()), ..Device::default() };
        assert_eq!(display_name(&d), "AMD Radeon RX 7900 XTX");
    }
}
