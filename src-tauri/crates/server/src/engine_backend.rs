//! The real `Backend`: Hearth's engine (`engine::EngineHost`, llama.cpp in a worker process), a
//! list of model files, and this machine's hardware profile. A model is loaded the way the Chat
//! view loads one: read its header, ask `fit::plan` for layers, context and cache types, refuse a
//! red verdict, then load with that plan.
//!
//! The engine may be shared with the app's Chat view. Which model is in is the engine's to say
//! (`EngineHost::loaded_path`): a model the app loaded answers requests without a reload, and the
//! idle TTL unloads only a model this backend loaded itself.
//!
//! Talks to: `engine::EngineHost`, `gguf::read_file`, `fit::plan`, `hardware::Prober`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use engine::{EngineHost, GenerateParams, Generation, LoadParams};
use types::{ErrorCode, FitPlan, HardwareProfile, HearthError, LoadSettings, LoadedModelInfo, Verdict};

use crate::backend::{Backend, Loaded, LoadedId, ModelEntry, ModelState};

pub struct EngineBackend {
    engine: Arc<EngineHost>,
    models: RwLock<Vec<ModelEntry>>,
    /// The machine loads are planned for; the app sets it once its probe is done.
    hardware: RwLock<HardwareProfile>,
    /// The model this backend loaded itself, which it unloads when idle (if still in).
    ours: Mutex<Option<PathBuf>>,
    /// The last load's figures, for the app and tests.
    last_load: Mutex<Option<LoadedModelInfo>>,
    /// The settings a load of a model plans with (where it runs): the app's saved choices, the
    /// CLI's flags. Asked at each load, so a change in Settings applies to the next one.
    load_settings: RwLock<LoadSettingsFor>,
}

/// The settings to plan a model's load with, by the model file's path.
pub type LoadSettingsFor = Arc<dyn Fn(&Path) -> LoadSettings + Send + Sync>;

impl EngineBackend {
    pub fn new(engine: Arc<EngineHost>, models: Vec<ModelEntry>, hardware: HardwareProfile) -> Self {
        Self {
            engine,
            models: RwLock::new(models),
            hardware: RwLock::new(hardware),
            ours: Mutex::new(None),
            last_load: Mutex::new(None),
            load_settings: RwLock::new(Arc::new(|_: &Path| LoadSettings::default())),
        }
    }

    /// Plan later loads with `settings` (the person's choice of where each model runs).
    pub fn set_load_settings(&self, settings: LoadSettingsFor) {
        if let Ok(mut s) = self.load_settings.write() {
            *s = settings;
        }
    }

    /// This machine, probed the way the Hardware view probes it (`models_dir` picks the disk), with
    /// the devices `worker` reports.
    pub fn probe_hardware(models_dir: &Path, worker: engine::WorkerCommand) -> HardwareProfile {
        hardware::Prober::system(move || engine::devices::query_or_cpu(&worker, |m| tracing::warn!("{m}"))).probe(models_dir)
    }

    /// Plan later loads for `hardware` (the app's probe finished, or what Hearth learnt changed).
    pub fn set_hardware(&self, hardware: HardwareProfile) {
        if let Ok(mut h) = self.hardware.write() {
            *h = hardware;
        }
    }

    /// Replaces the list of models (the library changed).
    pub fn set_models(&self, models: Vec<ModelEntry>) {
        if let Ok(mut m) = self.models.write() {
            *m = models;
        }
    }

    /// The id of the model in the engine now, whoever loaded it: the one that answers requests.
    pub fn in_engine(&self) -> Option<String> {
        self.current().map(|c| c.id)
    }

    pub fn engine(&self) -> &Arc<EngineHost> {
        &self.engine
    }

    /// The worker process's id while one runs (tests read its memory and CPU time from /proc).
    pub fn worker_pid(&self) -> Option<u32> {
        self.engine.pid()
    }

    pub fn last_load(&self) -> Option<LoadedModelInfo> {
        self.last_load.lock().ok().and_then(|l| l.clone())
    }

    /// The model in the engine now, whoever loaded it, named as the model list names it.
    fn current(&self) -> Option<LoadedId> {
        let path = self.engine.loaded_path()?;
        let id = self.models().into_iter().find(|m| m.path == path).map_or_else(|| ModelEntry::from_path(&path).id, |m| m.id);
        Some(LoadedId { id, path })
    }

    /// The model in the engine, if this backend loaded it.
    fn current_ours(&self) -> Option<LoadedId> {
        let ours = self.ours.lock().ok()?.clone()?;
        self.current().filter(|c| c.path == ours)
    }

    /// `model` is still the one in the engine (the app may have loaded another since).
    fn still_in(&self, model: &LoadedId) -> Result<(), HearthError> {
        if self.current().is_none_or(|c| c.path != model.path) {
            return Err(HearthError::new(
                ErrorCode::NoModelLoaded,
                format!("The model `{}` was unloaded before it could answer. Try again.", model.id),
            ));
        }
        Ok(())
    }

    fn set_ours(&self, path: Option<PathBuf>) {
        if let Ok(mut o) = self.ours.lock() {
            *o = path;
        }
    }

    /// How a load of `entry` would go here, with the settings it plans with.
    async fn plan(&self, entry: &ModelEntry) -> Result<(FitPlan, LoadSettings), HearthError> {
        let path = entry.path.clone();
        let facts = tokio::task::spawn_blocking(move || gguf::read_file(&path))
            .await
            .map_err(|e| HearthError::new(ErrorCode::Internal, "Reading the model's header stopped.").with_details(e.to_string()))?
            .map_err(|e| {
                HearthError::new(ErrorCode::ModelLoadFailed, format!("{} is not a model Hearth can read: {e}", entry.file_name()))
            })?;
        let hardware = self
            .hardware
            .read()
            .map(|h| h.clone())
            .map_err(|_| HearthError::new(ErrorCode::Internal, "the hardware profile lock is poisoned"))?;
        let settings = self.load_settings.read().map(|f| f(&entry.path)).unwrap_or_default();
        Ok((fit::plan(&facts, &hardware, &settings), settings))
    }

    async fn load_entry(&self, entry: &ModelEntry) -> Result<(), HearthError> {
        let (plan, settings) = self.plan(entry).await?;
        if plan.verdict == Verdict::Red {
            return Err(HearthError::new(
                ErrorCode::WouldNotFit,
                format!("{} will not fit on this machine: {}", entry.file_name(), plan.reason),
            ));
        }
        // The model in now gives its memory back before the next one loads.
        if self.engine.is_loaded() {
            self.engine.unload().await?;
        }
        let params = LoadParams::from_plan(&entry.path, &plan).with_chat_template(settings.chat_template.clone());
        tracing::info!(model = %entry.id, ctx = plan.context, gpu_layers = plan.gpu_layers, "loading for the server");
        let info = self.engine.load_and_wait(params).await?;
        if let Ok(mut l) = self.last_load.lock() {
            *l = Some(info);
        }
        self.set_ours(Some(entry.path.clone()));
        Ok(())
    }
}

impl Backend for EngineBackend {
    fn models(&self) -> Vec<ModelEntry> {
        self.models.read().map(|m| m.clone()).unwrap_or_default()
    }

    async fn ensure_loaded(&self, model: &str, auto_load: bool) -> Result<LoadedId, HearthError> {
        let entry = self
            .models()
            .into_iter()
            .find(|m| m.id == model)
            .ok_or_else(|| HearthError::new(ErrorCode::NotFound, format!("The model `{model}` does not exist.")))?;
        if let Some(current) = self.current().filter(|c| c.path == entry.path) {
            return Ok(current);
        }
        if !auto_load {
            return Err(HearthError::new(
                ErrorCode::NoModelLoaded,
                format!("The model `{model}` is not loaded and this server does not load models by itself. Load it in Hearth first, or turn on auto-load in the server settings."),
            ));
        }
        self.load_entry(&entry).await?;
        Ok(LoadedId { id: entry.id, path: entry.path })
    }

    async fn generate(&self, model: &LoadedId, params: GenerateParams) -> Result<Generation, HearthError> {
        self.still_in(model)?;
        // Checked again in the worker, which reads requests in order: the app may load another
        // model between this check and that request.
        self.engine.generate(GenerateParams { model: Some(model.path.clone()), ..params }).await
    }

    fn slots(&self) -> usize {
        self.engine.loaded_slots().map_or(1, |n| n as usize)
    }

    fn loaded(&self) -> Option<String> {
        self.current_ours().map(|c| c.id)
    }

    async fn embed(&self, model: &LoadedId, inputs: Vec<engine::EmbedInput>) -> Result<(Vec<Vec<f32>>, u32), HearthError> {
        self.still_in(model)?;
        self.engine.embed(inputs).await
    }

    async fn states(&self) -> Vec<ModelState> {
        let (current, ours) = (self.current(), self.current_ours());
        let mut states = Vec::new();
        for entry in self.models() {
            let plan = self.plan(&entry).await.ok().map(|(p, _)| p);
            let loaded = match (&current, &ours) {
                (_, Some(o)) if o.path == entry.path => Loaded::ByServer(self.last_load()),
                (Some(c), _) if c.path == entry.path => Loaded::ByOther,
                _ => Loaded::No,
            };
            states.push(ModelState { entry, plan, loaded });
        }
        states
    }

    async fn unload(&self, model: &str) -> Result<(), HearthError> {
        if self.current_ours().is_some_and(|c| c.id == model) {
            self.set_ours(None);
            return self.engine.unload().await;
        }
        if self.current().is_some_and(|c| c.id == model) {
            return Err(HearthError::new(
                ErrorCode::InvalidInput,
                format!("`{model}` was loaded in the Hearth app, not by this server: eject it there."),
            ));
        }
        Ok(())
    }

    async fn unload_idle(&self) {
        if self.current_ours().is_some() {
            tracing::info!("unloading the server's model after its idle time");
            self.set_ours(None);
            if let Err(e) = self.engine.unload().await {
                tracing::warn!(error = %e, "could not unload the idle model");
            }
        }
    }
}
