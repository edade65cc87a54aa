//! The engine's view: llama.cpp's backend device list, through llama-cpp-2.

use crate::sources::{EngineDevice, EngineDeviceKind, EngineDevices};
use llama_cpp_2::LlamaBackendDeviceType;

pub struct LlamaDevices;

impl EngineDevices for LlamaDevices {
    fn engine_devices(&self) -> Vec<EngineDevice> {
        // llama.cpp logs every backend it registers to stderr; route that into tracing instead so a
        // CLI user sees a clean table.
        static LOGS: std::sync::Once = std::sync::Once::new();
        LOGS.call_once(|| llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default()));
        llama_cpp_2::list_llama_ggml_backend_devices()
            .into_iter()
            .map(|d| EngineDevice {
                name: d.name,
                description: d.description,
                backend: d.backend,
                kind: match d.device_type {
                    LlamaBackendDeviceType::Cpu => EngineDeviceKind::Cpu,
                    LlamaBackendDeviceType::Gpu => EngineDeviceKind::Gpu,
                    LlamaBackendDeviceType::IntegratedGpu => EngineDeviceKind::IntegratedGpu,
                    LlamaBackendDeviceType::Accelerator | LlamaBackendDeviceType::Unknown => EngineDeviceKind::Accelerator,
                },
                memory_total: d.memory_total as u64,
                memory_free: d.memory_free as u64,
            })
            .collect()
    }
}
