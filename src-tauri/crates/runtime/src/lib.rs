//! The one owner of the engine. Chat, the server and the CLI all load models here, and ask here
//! what is loaded; each model runs in a worker process of its own (`engine::EngineHost`).
//!
//! A load reads the file's header, plans it for this machine with the person's settings for that
//! file (`fit::plan`), refuses a red plan unless the person forced it (before anything is
//! unloaded), makes room, and loads with the plan. Making room: other loaded models stay when
//! there is a place for them (`max_models`) and the new one's plan with their memory held is as
//! good as alone (same verdict, context, GPU layers and slots); otherwise the one used least
//! recently goes, and the check runs again.
//!
//! The hardware profile is built once, the same way for all (`probe`): the devices the engine's
//! worker reports, the measured RAM bandwidth (remembered between runs) and the speed calibration.
//!
//! Talks to: `engine` (workers), `gguf` (headers), `fit` (plans), `hardware` (the profile).

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

mod error;

pub use error::RuntimeError;

use engine::{EngineHost, LoadParams, WorkerCommand};
use types::{FitPlan, HardwareProfile, HearthError, LoadSettings, LoadedModel, Verdict};

/// Models loaded at once when nothing says otherwise (and memory allows), as Ollama keeps
/// several: a chat's model and an editor's stay in together.
pub const DEFAULT_MAX_MODELS: usize = 2;

/// Who asked for a model to be loaded: the idle TTL of the server unloads only its own loads, and
/// only the app's Chat view unloads what it loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    App,
    Server,
    Cli,
}

/// How to load: who asks, whether a red plan is loaded anyway (after the person saw the warning),
/// settings in place of the person's saved ones (the CLI's flags), and a thread count.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    pub owner: Owner,
    pub force: bool,
    pub settings: Option<LoadSettings>,
    pub threads: Option<u32>,
}

impl LoadRequest {
    pub fn by(owner: Owner) -> Self {
        Self { owner, force: false, settings: None, threads: None }
    }
}

/// The settings a load of a model plans with, by the model file's path.
pub type SettingsFor = Arc<dyn Fn(&Path) -> LoadSettings + Send + Sync>;

/// A model in the engine.
#[derive(Clone)]
pub struct Resident {
    pub engine: Arc<EngineHost>,
    pub model: LoadedModel,
    pub owner: Owner,
    last_used: Instant,
}

impl Resident {
    pub fn path(&self) -> &Path {
        Path::new(&self.model.path)
    }
}

pub struct Runtime {
    worker: WorkerCommand,
    hardware: RwLock<HardwareProfile>,
    settings: RwLock<SettingsFor>,
    residents: Mutex<Vec<Resident>>,
    max_models: Mutex<usize>,
    /// One load at a time: each decides what stays by what is in.
    loading: tokio::sync::Mutex<()>,
    /// Bumped whenever what is loaded changes (a load, an unload, a worker that died): the feed
    /// the window follows instead of asking again (`changes`).
    changed: tokio::sync::watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runtime {
    pub fn new(worker: WorkerCommand, hardware: HardwareProfile) -> Self {
        Self {
            worker,
            hardware: RwLock::new(hardware),
            settings: RwLock::new(Arc::new(|_: &Path| LoadSettings::default())),
            residents: Mutex::new(Vec::new()),
            max_models: Mutex::new(DEFAULT_MAX_MODELS),
            loading: tokio::sync::Mutex::new(()),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// Changes to what is loaded: the value is a counter, bumped at each (read `residents`, or
    /// what you derive from it, when it moves).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Plan later loads for `hardware` (the probe finished, or what Hearth learnt changed).
    pub fn set_hardware(&self, hardware: HardwareProfile) {
        *self.hardware.write().unwrap_or_else(|e| e.into_inner()) = hardware;
    }

    pub fn hardware(&self) -> HardwareProfile {
        self.hardware.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Plan later loads with `settings` (the person's saved choices for each model).
    pub fn set_load_settings(&self, settings: SettingsFor) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// The settings a load of `path` plans with now.
    pub fn load_settings(&self, path: &Path) -> LoadSettings {
        let f = self.settings.read().unwrap_or_else(|e| e.into_inner()).clone();
        f(path)
    }

    /// Models kept loaded at once, at most (at least one).
    pub fn set_max_models(&self, n: usize) {
        *lock(&self.max_models) = n.max(1);
    }

    /// How a load of `path` would go here, with `settings` (the person's saved ones when `None`).
    pub fn plan(&self, path: &Path, settings: Option<&LoadSettings>) -> Result<FitPlan, HearthError> {
        let facts = read_header(path)?;
        let settings = settings.cloned().unwrap_or_else(|| self.load_settings(path));
        let projector = gguf::projector_facts_beside(path, &facts);
        Ok(fit::plan_with_projector(&facts, projector.as_ref().map(|(_, f)| f), &self.hardware(), &settings))
    }

    /// Every model loaded now (a worker that died takes its model with it).
    pub fn residents(&self) -> Vec<Resident> {
        self.live().clone()
    }

    /// The record, less any model whose worker died.
    fn live(&self) -> std::sync::MutexGuard<'_, Vec<Resident>> {
        let mut r = lock(&self.residents);
        let before = r.len();
        r.retain(|m| m.engine.loaded_path().is_some());
        if r.len() != before {
            self.bump();
        }
        r
    }

    /// The model at `path` if it is loaded, marked as used now.
    pub fn get(&self, path: &Path) -> Option<Resident> {
        let mut r = self.live();
        let m = r.iter_mut().find(|m| m.path() == path)?;
        m.last_used = Instant::now();
        Some(m.clone())
    }

    /// Loads `path` as its plan says (see the module's description), reporting progress (0..1).
    /// A model already loaded with the same plan is not loaded again.
    pub async fn load(&self, path: &Path, request: LoadRequest, on_progress: impl Fn(f32)) -> Result<LoadedModel, HearthError> {
        let _one = self.loading.lock().await;
        let facts = read_header(path)?;
        let hw = self.hardware();
        let settings = request.settings.clone().unwrap_or_else(|| self.load_settings(path));
        // A projector beside the model is loaded with it, so that it reads pictures; the plan
        // counts it where it will be.
        let projector = gguf::projector_facts_beside(path, &facts);
        let projector_facts = projector.as_ref().map(|(_, f)| f);
        let alone = fit::plan_with_projector(&facts, projector_facts, &hw, &settings);
        let name = engine::file_name(path);
        match alone.verdict {
            Verdict::Grey => {
                return Err(RuntimeError::Unplannable { file: name, reason: alone.reason }.into())
            }
            // Refused before anything is unloaded: the models in use stay.
            Verdict::Red if !request.force => return Err(RuntimeError::WouldNotFit { file: name, plan: Box::new(alone) }.into()),
            _ => {}
        }
        if let Some(same) = self.get(path) {
            if same_load(&same.model.plan, &alone) && same.engine.loaded_path().as_deref() == Some(path) {
                // The person's own load claims it: the server's idle TTL must not take it from Chat.
                if request.owner == Owner::App {
                    self.claim(path, Owner::App);
                }
                return Ok(same.model);
            }
            self.unload(path).await?;
        }
        let plan = self.make_room(&facts, projector_facts, &hw, &settings, &alone).await?;
        let params = LoadParams { n_threads: request.threads, ..LoadParams::from_plan(path, &plan) }
            .with_chat_template(settings.chat_template.clone())
            .with_projector(projector.as_ref().map(|(p, _)| p.clone()));
        tracing::info!(model = %name, ctx = plan.context, slots = plan.slots, gpu_layers = plan.gpu_layers, "loading");
        // A CPU backend variant that this processor cannot run traps while the model loads (the
        // worker warms up there); the host then leaves it out, and the load is made once more
        // with the next variant down, so the person never sees it.
        let left_out = engine::devices::avoided::list().len();
        match self.load_in_new_engine(path, &name, &params, &plan, request.owner, &on_progress).await {
            Err(_) if engine::devices::avoided::list().len() > left_out => {
                tracing::warn!(model = %name, "loading again without the CPU backend variant that trapped");
                self.load_in_new_engine(path, &name, &params, &plan, request.owner, &on_progress).await
            }
            result => result,
        }
    }

    async fn load_in_new_engine(
        &self,
        path: &Path,
        name: &str,
        params: &LoadParams,
        plan: &FitPlan,
        owner: Owner,
        on_progress: &impl Fn(f32),
    ) -> Result<LoadedModel, HearthError> {
        let engine = Arc::new(EngineHost::new(self.worker.clone()));
        let mut events = engine.load(params.clone()).await?;
        while let Some(event) = events.recv().await {
            match event {
                engine::LoadEvent::Progress(p) => on_progress(p.fraction),
                engine::LoadEvent::Loaded(info) => {
                    let model = LoadedModel { path: path.display().to_string(), file_name: name.to_string(), info, plan: plan.clone() };
                    lock(&self.residents).push(Resident { engine, model: model.clone(), owner, last_used: Instant::now() });
                    self.bump();
                    return Ok(model);
                }
                engine::LoadEvent::Error(e) => return Err(e),
            }
        }
        Err(RuntimeError::StoppedLoading.into())
    }

    /// Unloads models, least recently used first, until the new one can join those left as well
    /// as it would run alone; returns the plan to load with.
    async fn make_room(
        &self,
        facts: &gguf::ModelFacts,
        projector: Option<&gguf::ModelFacts>,
        hw: &HardwareProfile,
        settings: &LoadSettings,
        alone: &FitPlan,
    ) -> Result<FitPlan, HearthError> {
        loop {
            let others = self.residents();
            if others.is_empty() {
                return Ok(alone.clone());
            }
            if others.len() < *lock(&self.max_models) {
                let with = fit::plan_with_projector(facts, projector, hw, &held_by(&others, hw, settings));
                if alone.verdict != Verdict::Red
                    && (with.verdict, with.context, with.gpu_layers, with.slots)
                        == (alone.verdict, alone.context, alone.gpu_layers, alone.slots)
                {
                    return Ok(with);
                }
            }
            // Never one that is answering someone (Chat streaming from it, a server request): its
            // reply would be cut. The person, or the client, tries again when it is done.
            let oldest = others.iter().filter(|m| !m.engine.is_answering()).min_by_key(|m| m.last_used).map(|m| m.path().to_path_buf());
            let Some(path) = oldest else {
                return Err(RuntimeError::Busy.into());
            };
            tracing::info!(model = %path.display(), "unloading the model used least recently to make room");
            self.unload(&path).await?;
        }
    }

    /// Records `owner` as the one who loaded `path`.
    fn claim(&self, path: &Path, owner: Owner) {
        if let Some(m) = lock(&self.residents).iter_mut().find(|m| m.path() == path) {
            m.owner = owner;
        }
    }

    /// Unloads `path` (nothing when it is not loaded); its worker ends and its memory is free
    /// when this returns.
    pub async fn unload(&self, path: &Path) -> Result<(), HearthError> {
        let gone = {
            let mut r = lock(&self.residents);
            let at = r.iter().position(|m| m.path() == path);
            at.map(|i| r.remove(i))
        };
        match gone {
            Some(m) => {
                self.bump();
                m.engine.unload().await
            }
            None => Ok(()),
        }
    }

    /// Unloads every model.
    pub async fn unload_all(&self) {
        let all: Vec<Resident> = std::mem::take(&mut *lock(&self.residents));
        if !all.is_empty() {
            self.bump();
        }
        for m in all {
            if let Err(e) = m.engine.unload().await {
                tracing::warn!(error = %e, "could not unload a model");
            }
        }
    }
}

/// Two plans that load the model the same way (the budgets they were drawn in may differ: one
/// made beside other models holds less).
fn same_load(a: &FitPlan, b: &FitPlan) -> bool {
    let layout = |p: &FitPlan| p.devices.iter().map(|d| (d.engine_device.clone(), d.layers, d.has_output)).collect::<Vec<_>>();
    (a.gpu_layers, a.context, a.slots, a.cache_k, a.cache_v, a.flash_attention)
        == (b.gpu_layers, b.context, b.slots, b.cache_k, b.cache_v, b.flash_attention)
        && layout(a) == layout(b)
}

/// `settings` with the memory `others` hold taken from what the new model may use.
fn held_by(others: &[Resident], hw: &HardwareProfile, settings: &LoadSettings) -> LoadSettings {
    let mut held_gpu = vec![0u64; hw.gpus.len()];
    let mut held_ram = 0u64;
    for m in others {
        for d in &m.model.plan.devices {
            let gpu = d.engine_device.as_ref().and_then(|e| hw.gpus.iter().position(|g| g.engine_device.as_ref() == Some(e)));
            match (d.is_gpu, gpu) {
                (true, Some(i)) => held_gpu[i] = held_gpu[i].saturating_add(d.total_bytes),
                _ => held_ram = held_ram.saturating_add(d.total_bytes),
            }
        }
    }
    LoadSettings { held_gpu_bytes: held_gpu, held_ram_bytes: held_ram, ..settings.clone() }
}

fn read_header(path: &Path) -> Result<gguf::ModelFacts, HearthError> {
    Ok(gguf::read_file(path).map_err(|error| RuntimeError::Unreadable { path: path.to_path_buf(), error })?)
}

/// This machine as every part of Hearth plans for it: the probe (with the devices `prober`'s
/// engine worker reports), the RAM bandwidth measured once and remembered in `home`, and the speed
/// calibration learnt from real runs.
pub fn probe(prober: &hardware::Prober, models_dir: &Path, home: &Path) -> HardwareProfile {
    let mut profile = prober.probe(models_dir);
    profile.speed_calibration = hardware::calibration::load(home);
    profile.ram_bandwidth_gbps = hardware::calibration::remember_bandwidth(home, profile.ram_bandwidth_gbps);
    profile
}

/// A prober whose devices come from a worker of `worker`'s (the caller's process never loads
/// llama.cpp's backends); a worker that cannot answer leaves the engine CPU-only, said through
/// `warn`.
pub fn prober(worker: WorkerCommand, warn: impl Fn(&str) + Send + Sync + 'static) -> hardware::Prober {
    hardware::Prober::system(move || engine::devices::query_or_cpu(&worker, &warn))
}
