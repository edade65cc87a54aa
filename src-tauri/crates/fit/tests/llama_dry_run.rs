//! llama.cpp's own figures for a model and a context, without allocating: the model is loaded with
//! `no_alloc`, a context is made with the settings under test, and the buffer sizes llama.cpp logs
//! ("model buffer size", "KV buffer size", "compute buffer size") are collected through tracing.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[derive(Debug, Default, Clone, Copy)]
pub struct Figures {
    pub weights: u64,
    pub kv: u64,
    pub compute: u64,
    pub output: u64,
}

const MIB: f64 = 1024.0 * 1024.0;

struct Collect(Arc<Mutex<Vec<String>>>);

struct Msg(String);
impl Visit for Msg {
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

impl<S: tracing::Subscriber> Layer<S> for Collect {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut m = Msg(String::new());
        event.record(&mut m);
        if let Ok(mut v) = self.0.lock() {
            v.push(m.0);
        }
    }
}

fn logs() -> &'static Arc<Mutex<Vec<String>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Collect(logs.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test binary");
        llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
        logs
    })
}

fn backend() -> &'static LlamaBackend {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        engine::devices::load_backends();
        LlamaBackend::init().expect("llama backend")
    })
}

/// Sum of "<what> buffer size = N MiB" lines.
fn sum(lines: &[String], what: &str) -> u64 {
    lines
        .iter()
        .filter(|l| l.contains(what))
        .filter_map(|l| l.split('=').nth(1))
        .filter_map(|r| r.trim().trim_end_matches("MiB").trim().parse::<f64>().ok())
        .map(|mib| (mib * MIB) as u64)
        .sum()
}

pub fn cache(name: &str) -> KvCacheType {
    match name {
        "q8_0" => KvCacheType::Q8_0,
        "q4_0" => KvCacheType::Q4_0,
        _ => KvCacheType::F16,
    }
}

/// llama.cpp's figures for `path` at `n_ctx` with the given cache types, CPU only, flash attention
/// on auto. With `no_alloc` nothing is allocated (a dry run, for files larger than RAM); llama.cpp then
/// logs zero for the model and KV buffers, so weights come from the model's own size and the KV cache
/// from its "size = … MiB (N cells …)" line.
pub fn dry_run(path: &Path, n_ctx: u32, cache_k: &str, cache_v: &str, no_alloc: bool) -> Figures {
    // One dry run at a time: the log buffer is shared, and tests run on parallel threads.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let logs = logs();
    logs.lock().unwrap().clear();
    let mparams = LlamaModelParams::default().with_no_alloc(no_alloc).with_n_gpu_layers(0);
    let model = match LlamaModel::load_from_file(backend(), path, &mparams) {
        Ok(m) => m,
        Err(e) => panic!("load: {e}\n{}", logs.lock().unwrap().join("\n")),
    };
    let cparams = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_threads(2)
        .with_n_threads_batch(2)
        .with_type_k(cache(cache_k))
        .with_type_v(cache(cache_v))
        .with_swa_full(false);
    let ctx = model.new_context(backend(), cparams).expect("context");
    let weights = model.size();
    drop(ctx);
    drop(model);
    let lines = logs.lock().unwrap().clone();
    // One "size = … (N cells …)" line per cache: two for sliding-window models (base and SWA).
    let kv = lines
        .iter()
        .filter(|l| l.contains(" cells, "))
        .filter_map(|l| l.split("size =").nth(1))
        .filter_map(|r| r.split_whitespace().next())
        .filter_map(|mib| mib.parse::<f64>().ok())
        .map(|mib| (mib * MIB) as u64)
        .sum();
    Figures { weights, kv, compute: sum(&lines, "compute buffer size"), output: sum(&lines, "output buffer size") }
}

#[allow(dead_code)]
pub fn all_lines() -> Vec<String> {
    logs().lock().unwrap().clone()
}
