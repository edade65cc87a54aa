//! The worker's logging. Everything the worker and llama.cpp log goes to stderr (stdout carries only
//! protocol frames), where the host keeps the last lines for crash reports. While a model loads (or
//! the backends do), llama.cpp's lines are also collected: its "… buffer size = N MiB" lines are the
//! memory llama.cpp really allocated, per device, which the `Loaded` event reports.

use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// `Some` while a load is collecting llama.cpp's lines.
static CAPTURE: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// Sets up stderr logging (filter from `HEARTH_ENGINE_LOG`, default `info`) and routes llama.cpp's
/// logs into it.
pub fn init() {
    let filter = EnvFilter::try_from_env("HEARTH_ENGINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .with_filter(filter);
    // A second init (tests calling run_worker twice in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(stderr).with(Capture).try_init();
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
}

pub fn start_capture() {
    if let Ok(mut c) = CAPTURE.lock() {
        *c = Some(Vec::new());
    }
}

pub fn take_capture() -> Vec<String> {
    CAPTURE.lock().ok().and_then(|mut c| c.take()).unwrap_or_default()
}

/// The lines collected so far, collecting on.
pub fn peek_capture() -> Vec<String> {
    CAPTURE.lock().ok().and_then(|c| c.clone()).unwrap_or_default()
}

struct Capture;

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let Ok(mut capture) = CAPTURE.lock() else { return };
        let Some(lines) = capture.as_mut() else { return };
        let mut m = Message(String::new());
        event.record(&mut m);
        lines.push(m.0);
    }
}

/// Bytes llama.cpp allocated, summed over devices, from its log lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BufferSizes {
    pub weights: u64,
    pub kv: u64,
    pub compute: u64,
}

/// The same lines per device, in the order llama.cpp first names each one. The device is the word
/// before the buffer's kind: "load_tensors:   Vulkan0 model buffer size = …", "llama_kv_cache:
/// CPU KV buffer size = …", "sched_reserve:  Vulkan_Host compute buffer size = …".
pub fn device_buffers(lines: &[String]) -> Vec<types::DeviceBuffers> {
    let mut out: Vec<types::DeviceBuffers> = Vec::new();
    for line in lines {
        let Some(bytes) = mib_after_equals(line) else { continue };
        let before = line.split('=').next().unwrap_or_default();
        let words: Vec<&str> = before.split_whitespace().collect();
        let Some(kind_at) = words.iter().position(|w| matches!(*w, "model" | "KV" | "compute" | "output")) else { continue };
        if !before.contains("buffer size") || kind_at == 0 {
            continue;
        }
        let name = words[kind_at - 1].trim_end_matches(':').to_string();
        let i = match out.iter().position(|d| d.name == name) {
            Some(i) => i,
            None => {
                out.push(types::DeviceBuffers { name, ..Default::default() });
                out.len() - 1
            }
        };
        match words[kind_at] {
            "model" => out[i].weights_bytes += bytes,
            "KV" => out[i].kv_cache_bytes += bytes,
            _ => out[i].compute_bytes += bytes,
        }
    }
    out
}

pub fn buffer_sizes(lines: &[String]) -> BufferSizes {
    let mut sizes = BufferSizes::default();
    for line in lines {
        let Some(bytes) = mib_after_equals(line) else { continue };
        if line.contains("model buffer size") {
            sizes.weights += bytes;
        } else if line.contains("KV buffer size") {
            sizes.kv += bytes;
        } else if line.contains("compute buffer size") || line.contains("output buffer size") {
            sizes.compute += bytes;
        }
    }
    sizes
}

/// A projector's weights and compute buffers, from the lines llama.cpp's multimodal library logs as
/// it loads one: "load_hparams: model size:  812.55 MiB" and "alloc_compute_meta:  CPU compute
/// buffer size =  126.23 MiB" (one per device).
pub fn projector_sizes(lines: &[String]) -> BufferSizes {
    let mut sizes = BufferSizes::default();
    for line in lines {
        if let Some(value) = line.split("model size:").nth(1) {
            let mib: f64 = value.trim().trim_end_matches("MiB").trim().parse().unwrap_or(0.0);
            sizes.weights = (mib * 1024.0 * 1024.0) as u64;
        } else if line.contains("compute buffer size") {
            sizes.compute += mib_after_equals(line).unwrap_or(0);
        }
    }
    sizes
}

fn mib_after_equals(line: &str) -> Option<u64> {
    let value = line.split('=').nth(1)?.trim().trim_end_matches("MiB").trim();
    let mib: f64 = value.parse().ok()?;
    Some((mib * 1024.0 * 1024.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_sizes_are_summed_per_kind_from_llama_cpp_lines() {
        let lines: Vec<String> = [
            "load_tensors:   CPU_Mapped model buffer size =    92.12 MiB",
            "llama_kv_cache:        CPU KV buffer size =    11.25 MiB",
            "llama_context:        CPU  output buffer size =     0.19 MiB",
            "sched_reserve:        CPU compute buffer size =   102.00 MiB",
            "something else = 5 MiB",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = buffer_sizes(&lines);
        assert_eq!(s.weights, (92.12f64 * 1048576.0) as u64);
        assert_eq!(s.kv, (11.25f64 * 1048576.0) as u64);
        assert_eq!(s.compute, (0.19f64 * 1048576.0) as u64 + 102 * 1048576);
    }

    #[test]
    fn a_projectors_sizes_are_read_from_its_own_lines() {
        let lines: Vec<String> = [
            "clip_ctx: CLIP using CPU backend",
            "load_hparams: model size:         812.55 MiB",
            "alloc_compute_meta:        CPU compute buffer size =   126.23 MiB",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = projector_sizes(&lines);
        assert_eq!(s.weights, (812.55f64 * 1048576.0) as u64);
        assert_eq!(s.compute, (126.23f64 * 1048576.0) as u64);
    }

    #[test]
    fn buffers_are_kept_per_device_as_llama_cpp_names_them() {
        let lines: Vec<String> = [
            "load_tensors:   CPU_Mapped model buffer size =    40.00 MiB",
            "load_tensors:      Vulkan0 model buffer size =    52.00 MiB",
            "llama_kv_cache:    Vulkan0 KV buffer size =    10.00 MiB",
            "llama_kv_cache:        CPU KV buffer size =     1.25 MiB",
            "llama_context:  Vulkan_Host  output buffer size =     0.19 MiB",
            "sched_reserve:    Vulkan0 compute buffer size =   100.00 MiB",
            "sched_reserve: Vulkan_Host compute buffer size =     2.00 MiB",
            "graph_reserve: reserving a graph for ubatch with n_tokens = 512",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let d = device_buffers(&lines);
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["CPU_Mapped", "Vulkan0", "CPU", "Vulkan_Host"]);
        assert_eq!(d[1].weights_bytes, 52 << 20);
        assert_eq!(d[1].kv_cache_bytes, 10 << 20);
        assert_eq!(d[1].compute_bytes, 100 << 20);
        assert_eq!(d[3].compute_bytes, (0.19f64 * 1048576.0) as u64 + (2 << 20));
    }
}
