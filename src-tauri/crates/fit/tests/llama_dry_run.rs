//! llama.cpp's own figures for a model and a context, without allocating: the model is loaded with
//! `no_alloc`, a context is made with the settings under test, and the buffer sizes llama.cpp logs
//! ("model buffer size", "KV buffer size", "compute buffer size") are collected through tracing.

use std::sync::{Arc, Mutex, OnceLock};

use engine::llama_params;
use engine::LoadParams;
use llama_cpp_2::llama_backend::LlamaBackend;
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
    /// The CPU weights llama.cpp copies into its repacked layout (`CPU_REPACK`), beside the file's.
    pub repack: u64,
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

/// One run of llama.cpp at a time: the log buffer is shared, and tests run on parallel threads.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
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

/// llama.cpp's figures for a load, CPU only, with exactly the model and context parameters the
/// engine loads with (`engine::llama_params`). With `no_alloc` nothing is allocated (a dry run, for
/// files larger than RAM); llama.cpp then logs zero for the model and KV buffers, so weights come
/// from the model's own size and the KV cache from its "size = … MiB (N cells …)" line.
pub fn dry_run(load: &LoadParams, no_alloc: bool) -> Figures {
    let _turn = one_at_a_time();
    let logs = logs();
    logs.lock().unwrap().clear();
    let mparams = llama_params::model_params(load, &[]).expect("model params").with_no_alloc(no_alloc);
    let model = match LlamaModel::load_from_file(backend(), &load.path, &mparams) {
        Ok(m) => m,
        Err(e) => panic!("load: {e}\n{}", logs.lock().unwrap().join("\n")),
    };
    let cparams = llama_params::context_params(load, 2);
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
    Figures {
        weights,
        kv,
        compute: sum(&lines, "compute buffer size"),
        output: sum(&lines, "output buffer size"),
        repack: sum(&lines, "CPU_REPACK model buffer size"),
    }
}

#[allow(dead_code)]
pub fn all_lines() -> Vec<String> {
    logs().lock().unwrap().clone()
}

/// llama.cpp's figures for a projector (an mmproj file) loaded beside `load`'s model, on the CPU.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProjectorFigures {
    /// "load_hparams: model size: N MiB": the file's tensors.
    pub weights: u64,
    /// "reserve_compute_meta: CPU compute buffer size = N MiB": the warm-up's graph.
    pub compute: u64,
    /// Whether llama.cpp took the projector (it refuses one of another width after logging both).
    pub loaded: bool,
}

/// Loads the model of `load` as the engine does and its projector (`load.projector`) as the
/// engine's `Vision::load` does (llama.cpp's multimodal library, on a GPU when the load has GPU
/// devices), and reads the projector's sizes from llama.cpp's log lines as the engine's worker
/// reads them for `LoadedModelInfo::vision` (`engine/src/logs.rs`, `projector_sizes`). In this
/// process, as `dry_run`: a test here cannot start the engine's worker (its executable is known
/// only to the engine's own tests), and the lines are llama.cpp's either way.
pub fn projector(load: &LoadParams) -> ProjectorFigures {
    use llama_cpp_2::mtmd::{MtmdContext, MtmdContextParams};
    let projector = load.projector.as_deref().expect("a load with a projector");
    let _turn = one_at_a_time();
    let logs = logs();
    let mparams = llama_params::model_params(load, &[]).expect("model params");
    let model = match LlamaModel::load_from_file(backend(), &load.path, &mparams) {
        Ok(m) => m,
        Err(e) => panic!("load: {e}\n{}", logs.lock().unwrap_or_else(|e| e.into_inner()).join("\n")),
    };
    logs.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let params =
        MtmdContextParams { use_gpu: !load.devices.is_empty(), print_timings: false, n_threads: 2, ..MtmdContextParams::default() };
    let ctx = MtmdContext::init_from_file(&projector.to_string_lossy(), &model, &params);
    let loaded = ctx.is_ok();
    drop(ctx);
    drop(model);
    let lines = logs.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let weights = lines
        .iter()
        .filter_map(|l| l.split("model size:").nth(1))
        .filter_map(|r| r.trim().trim_end_matches("MiB").trim().parse::<f64>().ok())
        .map(|mib| (mib * MIB) as u64)
        .sum();
    ProjectorFigures { weights, compute: sum(&lines, "compute buffer size"), loaded }
}
