//! The graphics APIs' view: wgpu adapter enumeration. Only enumeration: no device is created, no
//! surface is opened, so this is cheap and works without a display.

use crate::sources::{AdapterKind, WgpuAdapter, WgpuAdapters};

pub struct WgpuEnumeration;

impl WgpuAdapters for WgpuEnumeration {
    fn wgpu_adapters(&self) -> Vec<WgpuAdapter> {
        // GL is left out on purpose: it names the same devices Vulkan does, without PCI addresses,
        // and creating a GL context needs a display.
        let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            flags: wgpu::InstanceFlags::empty(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        pollster::block_on(instance.enumerate_adapters(backends))
            .into_iter()
            .map(|adapter| {
                let info = adapter.get_info();
                WgpuAdapter {
                    name: info.name,
                    vendor_id: info.vendor,
                    device_id: info.device,
                    kind: match info.device_type {
                        wgpu::DeviceType::DiscreteGpu => AdapterKind::Discrete,
                        wgpu::DeviceType::IntegratedGpu => AdapterKind::Integrated,
                        wgpu::DeviceType::VirtualGpu => AdapterKind::Virtual,
                        wgpu::DeviceType::Cpu => AdapterKind::Cpu,
                        wgpu::DeviceType::Other => AdapterKind::Other,
                    },
                    api: match info.backend {
                        wgpu::Backend::Vulkan => "Vulkan",
                        wgpu::Backend::Metal => "Metal",
                        wgpu::Backend::Dx12 => "DX12",
                        wgpu::Backend::Gl => "GL",
                        _ => "other",
                    }
                    .to_string(),
                    pci_bus_id: info.device_pci_bus_id.to_lowercase(),
                }
            })
            .collect()
    }
}
