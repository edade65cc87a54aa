//! What `hearth run`, `chat` and `bench` share: find the model (a path, or a name from the library),
//! plan its load for this machine with the fit planner, and load it through the runtime (the same
//! load Chat and the server make) into a worker that is this same executable started with the
//! hidden `--engine-worker` flag, with a progress bar on stderr. Talks to the store and library
//! (names), fit (the plan), and the runtime.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use anyhow::{bail, Context};
use engine::{EngineHost, WorkerCommand};
use runtime::{LoadRequest, Owner};
use types::{FitPlan, LoadSettings, LoadedModel, LoadedModelInfo, Verdict};

/// The hidden first argument that makes `hearth` the engine's worker process.
pub const WORKER_FLAG: &str = "--engine-worker";

/// Without `--ctx`, a model's context is capped here: enough for a chat, cheap to allocate.
const DEFAULT_CTX: u32 = 4096;

/// MODEL as people type it: an existing path, else the library model the name means
/// (`hearth::find`: the same lookup everywhere).
pub fn resolve(spec: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let model = hearth()?.find(spec)?;
    Ok(PathBuf::from(model.path))
}

/// Hearth as the window assembles it (`hearth::Hearth`): the same home, database, folders, names,
/// hardware profile and runtime, with this executable as the engine's worker. One per process,
/// so the machine is probed once however many steps ask.
pub fn hearth() -> anyhow::Result<hearth::Hearth> {
    static ONE: std::sync::OnceLock<Result<hearth::Hearth, String>> = std::sync::OnceLock::new();
    ONE.get_or_init(|| {
        let home = home::Home::resolve().map_err(|e| format!("finding Hearth's home folder: {}", e.message))?;
        let worker = worker().map_err(|e| format!("{e:#}"))?;
        hearth::Hearth::open(home, worker, |m| eprintln!("hearth: {m}")).map_err(|e| e.message)
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// Where a model runs, as `run`, `chat`, `bench` and `serve` take it (the app's Settings offer the
/// same choices).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunOnArgs {
    /// Run on the CPU only: no GPU is touched.
    #[arg(long, conflicts_with = "gpu")]
    pub cpu: bool,
    /// Run on this GPU alone, by the engine's name for it (`hearth probe` lists them: Vulkan0, CUDA1).
    #[arg(long, value_name = "DEVICE")]
    pub gpu: Option<String>,
    /// Put this many layers on the GPU (as llama.cpp counts them) instead of as many as fit.
    #[arg(long, value_name = "N")]
    pub gpu_layers: Option<u32>,
    /// Load a model the plan says will not fit (it warns first what that does).
    #[arg(long)]
    pub force: bool,
    /// Render chats with this llama.cpp built-in template instead of the file's own: chatml,
    /// llama3, llama2, mistral-v3, mistral-v7, gemma, phi3, phi4, command-r… (without it, a file
    /// with no template gets its family's).
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
}

impl RunOnArgs {
    pub fn settings(&self) -> types::RunOnSettings {
        let run_on = match (&self.gpu, self.cpu) {
            (Some(device), _) => types::RunOn::Gpu { device: device.clone() },
            (None, true) => types::RunOn::Cpu,
            (None, false) => types::RunOn::Auto,
        };
        types::RunOnSettings { run_on, gpu_layers: self.gpu_layers }
    }

    /// `saved` (the person's choices for a model) with what these flags say in its place: where
    /// it runs when any of --cpu, --gpu, --gpu-layers is given, and the template when --template is.
    pub fn over(&self, saved: LoadSettings) -> LoadSettings {
        let given = self.cpu || self.gpu.is_some() || self.gpu_layers.is_some();
        LoadSettings {
            run: if given { self.settings() } else { saved.run.clone() },
            chat_template: self.template.clone().or(saved.chat_template.clone()),
            ..saved
        }
    }
}

/// The fit plan for this machine, and the settings it was made with: the person's saved choices
/// for the model, under `run`'s flags; `ctx` overrides the capped default context. A red plan stops here unless `run.force`, and then
/// its warning is printed.
pub fn plan(path: &Path, ctx: Option<u32>, run: &RunOnArgs) -> anyhow::Result<Planned> {
    let (planned, plan) = plan_at(path, ctx, run)?;
    match plan.verdict {
        Verdict::Grey => bail!("{} will not run here: {} ({})", path.display(), plan.label, plan.reason),
        Verdict::Red if !run.force => {
            bail!("{} Pass --force to load it anyway.", fit::overflow_warning(&path.display().to_string(), &plan))
        }
        Verdict::Red => eprintln!("hearth: warning: {}", fit::overflow_warning(&path.display().to_string(), &plan)),
        Verdict::Green | Verdict::Yellow => {}
    }
    Ok(planned)
}

/// The plan for a model at a context (default: the model's, up to `DEFAULT_CTX`), whatever its
/// verdict: for a load, and for "would a larger context still run well here?".
pub fn plan_at(path: &Path, ctx: Option<u32>, run: &RunOnArgs) -> anyhow::Result<(Planned, types::FitPlan)> {
    let facts = gguf::read_file(path).with_context(|| format!("reading {}", path.display()))?;
    let hw = hardware_profile();
    let trained = facts.context_length.map_or(DEFAULT_CTX, |c| u32::try_from(c).unwrap_or(u32::MAX));
    let context = ctx.unwrap_or(trained.min(DEFAULT_CTX));
    // The person's saved choices for this model (where it runs, its template), as the window and
    // `hearth serve` plan with them, under what the flags here say.
    let saved = library::settings::load_settings(&hearth()?.store, Some(path));
    let settings = LoadSettings { context: Some(context), ..run.over(saved) };
    let projector = gguf::projector_facts_beside(path, &facts);
    let plan = fit::plan_with_projector(&facts, projector.as_ref().map(|(_, f)| f), &hw, &settings);
    Ok((Planned { facts, hw, settings, force: run.force }, plan))
}

/// A load, planned: what `load` carries out (the runtime plans it again, the same way, and the
/// load's record carries that plan).
pub struct Planned {
    pub facts: gguf::ModelFacts,
    pub hw: types::HardwareProfile,
    pub settings: LoadSettings,
    pub force: bool,
}

/// This machine as the app and the server see it (`runtime::probe`): the worker's devices, the
/// remembered RAM bandwidth and the speed calibration.
pub fn hardware_profile() -> types::HardwareProfile {
    match hearth() {
        Ok(h) => h.profile(),
        Err(e) => {
            eprintln!("hearth: {e:#}");
            prober().probe(&std::env::temp_dir())
        }
    }
}

/// The plan's memory per device beside llama.cpp's own buffers, MiB, one line each.
pub fn memory_report(plan: &FitPlan, info: &LoadedModelInfo) -> String {
    let mib = |b: u64| b as f64 / 1048576.0;
    let mut out = String::from("memory (MiB)         weights      K/V  compute\n");
    for d in &plan.devices {
        let m = &d.memory;
        let name = d.engine_device.clone().unwrap_or_else(|| d.name.clone());
        out += &format!("  plan  {name:<13}{:>9.1}{:>9.1}{:>9.1}\n", mib(m.weights), mib(m.kv_cache), mib(m.compute));
        if m.repacked > 0 {
            // llama.cpp names the CPU's repacked copy of the weights apart.
            out += &format!("  plan  {:<13}{:>9.1}{:>9.1}{:>9.1}\n", "CPU_REPACK", mib(m.repacked), 0.0, 0.0);
        }
    }
    for d in &info.devices {
        out += &format!("  llama {:<14}{:>9.1}{:>9.1}{:>9.1}\n", d.name, mib(d.weights_bytes), mib(d.kv_cache_bytes), mib(d.compute_bytes));
    }
    out
}

/// The worker: this executable with its hidden flag.
fn worker() -> anyhow::Result<WorkerCommand> {
    let program = std::env::current_exe().context("finding the hearth executable to start the engine with")?;
    Ok(WorkerCommand { program, args: vec![WORKER_FLAG.to_string()] })
}

/// This machine, with the devices the engine's worker reports (the CLI never loads llama.cpp's
/// backends in its own process either). A worker that cannot answer leaves the engine CPU-only, and
/// says so on stderr.
pub fn prober() -> hardware::Prober {
    match worker() {
        Ok(w) => runtime::prober(w, |m| eprintln!("hearth: {m}")),
        Err(e) => {
            eprintln!("hearth: {e:#}");
            hardware::Prober::system(types::EngineReport::default)
        }
    }
}

/// What loading `path` will take, from the disk's kept read speed (measured on first use), with the
/// database to learn from the load; `None` where it cannot be measured.
fn load_estimate(path: &Path) -> Option<(store::Store, types::LoadEstimate)> {
    let store = home::Home::resolve().ok().and_then(|h| store::Store::open(&h.database_path()).ok())?;
    let estimate = library::load_time::estimate(&store, path)?;
    Some((store, estimate))
}

/// " (predicted 2.1 s: 4.10 GB, disk 1.90 GB/s, 30 % in memory already)".
fn predicted_text(e: &types::LoadEstimate) -> String {
    let cached = if e.cached_fraction >= 0.995 {
        ", all in memory already".to_string()
    } else if e.cached_fraction > 0.005 {
        format!(", {:.0} % in memory already", e.cached_fraction * 100.0)
    } else {
        String::new()
    };
    format!(
        " (predicted {:.1} s: {:.2} GB, disk {:.2} GB/s{}{cached}, {:.1} s to set up)",
        e.seconds,
        e.bytes as f64 / 1e9,
        e.disk_bytes_per_second / 1e9,
        if e.uncached { "" } else { " as the page cache reads it" },
        e.overhead_seconds
    )
}

/// Loads what `plan` planned, through the runtime, drawing progress on stderr (a bar on a
/// terminal, two lines otherwise); the engine it runs in, and the load's record.
pub async fn load(path: &Path, planned: &Planned, threads: Option<u32>) -> anyhow::Result<(Arc<EngineHost>, LoadedModel)> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tty = std::io::stderr().is_terminal();
    if !tty {
        eprintln!("Loading {name}…");
    }
    // Before the load reads the file: afterwards all of it is in the page cache.
    let estimate = load_estimate(path);
    // The one runtime (`Hearth::runtime`), planning for the machine `plan` probed.
    let runtime = hearth()?.runtime.clone();
    let request = LoadRequest { force: planned.force, settings: Some(planned.settings.clone()), threads, ..LoadRequest::by(Owner::Cli) };
    let loaded = runtime
        .load(path, request, |fraction| {
            if tty {
                let filled = (fraction.clamp(0.0, 1.0) * 25.0) as usize;
                eprint!("\r  {}{} {:3.0} %  loading {name}", "█".repeat(filled), "░".repeat(25 - filled), fraction * 100.0);
                let _ = std::io::stderr().flush();
            }
        })
        .await;
    if tty {
        eprint!("\r\x1b[2K");
    }
    let model = loaded.map_err(|e| anyhow::Error::msg(e.message))?;
    let engine = runtime.get(path).map(|m| m.engine).context("the engine stopped answering after the load")?;
    let info = &model.info;
    let predicted = match &estimate {
        Some((store, e)) => {
            library::load_time::learn(store, e, info.load_ms / 1000.0);
            predicted_text(e)
        }
        None => String::new(),
    };
    eprintln!(
        "Loaded {name} in {:.1} s{predicted} · context {}{} · {} threads · {}/{} layers on GPU",
        info.load_ms / 1000.0,
        info.n_ctx,
        if info.slots > 1 { format!(" × {} slots", info.slots) } else { String::new() },
        info.n_threads,
        info.n_gpu_layers,
        info.n_layers + 1
    );
    Ok((engine, model))
}

/// The tokio runtime a command runs its async work on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
