//! The real `Backend`: Hearth's engine (`engine::EngineHost`, llama.cpp in a worker process), a
//! list of model files, and this machine's hardware profile. A model is loaded the way the Chat
//! view loads one: read its header, ask `fit::plan` for layers, context and cache types, refuse a
//! red verdict, then load with that plan.
//!
//! The engine may be shared with the app's Chat view; `adopt` tells this backend about a model the
//! app loaded, so a request for it does not reload it (and the idle TTL never unloads it).
//!
//! Talks to: `engine::EngineHost`, `gguf::read_file`, `fit::plan`, `hardware::Prober`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use engine::{EngineHost, GenerateParams, Generation, LoadParams};
use types::{ErrorCode, HardwareProfile, HearthError, LoadSettings, LoadedModelInfo, Verdict};

use crate::backend::{Backend, LoadedId, ModelEntry};

#[derive(Debug, Clone)]
struct Loaded {
    id: String,
    path: PathBuf,
    /// Loaded by this backend (and so unloaded by it when idle), not adopted from the app.
    ours: bool,
}

pub struct EngineBackend {
    engine: Arc<EngineHost>,
    models: RwLock<Vec<ModelEntry>>,
    /// The machine loads are planned for; the app sets it once its probe is done.
    hardware: RwLock<HardwareProfile>,
    /// Which model the engine has, as far as this backend knows; checked against
    /// `EngineHost::is_loaded` before use, since the worker can die or the app can unload.
    loaded: Mutex<Option<Loaded>>,
    /// The last load's figures, for the app and tests.
    last_load: Mutex<Option<LoadedModelInfo>>,
}

impl EngineBackend {
    pub fn new(engine: Arc<EngineHost>, models: Vec<ModelEntry>, hardware: HardwareProfile) -> Self {
        Self { engine, models: RwLock::new(models), hardware: RwLock::new(hardware), loaded: Mutex::new(None), last_load: Mutex::new(None) }
    }

    /// This machine, probed the way the Hardware view probes it (`models_dir` picks the disk).
    pub fn probe_hardware(models_dir: &Path) -> HardwareProfile {
        hardware::Prober::system().probe(models_dir)
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

    /// Tells the backend the app loaded `path` into the shared engine (or unloaded, with `None`).
    pub fn adopt(&self, path: Option<&Path>) {
        let entry = path.map(|p| {
            let models = self.models();
            let id = models.iter().find(|m| m.path == p).map_or_else(|| ModelEntry::from_path(p).id, |m| m.id.clone());
            Loaded { id, path: p.to_path_buf(), ours: false }
        });
        if let Ok(mut l) = self.loaded.lock() {
            *l = entry;
        }
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

    fn current(&self) -> Option<Loaded> {
        let mut loaded = self.loaded.lock().ok()?;
        if !self.engine.is_loaded() {
            *loaded = None;
        }
        loaded.clone()
    }

    fn set_current(&self, value: Option<Loaded>) {
        if let Ok(mut l) = self.loaded.lock() {
            *l = value;
        }
    }

    async fn load(&self, entry: &ModelEntry) -> Result<(), HearthError> {
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
        let plan = fit::plan(&facts, &hardware, &LoadSettings::default());
        if plan.verdict == Verdict::Red {
            return Err(HearthError::new(
                ErrorCode::ModelLoadFailed,
                format!("{} will not fit on this machine: {}", entry.file_name(), plan.reason),
            ));
        }
        // The model in now gives its memory back before the next one loads.
        if self.engine.is_loaded() {
            self.set_current(None);
            self.engine.unload().await?;
        }
        let params = LoadParams::from_plan(&entry.path, &plan);
        tracing::info!(model = %entry.id, ctx = plan.context, gpu_layers = plan.gpu_layers, "loading for the server");
        let info = self.engine.load_and_wait(params).await?;
        if let Ok(mut l) = self.last_load.lock() {
            *l = Some(info);
        }
        self.set_current(Some(Loaded { id: entry.id.clone(), path: entry.path.clone(), ours: true }));
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
            return Ok(LoadedId { id: current.id, path: current.path });
        }
        if !auto_load {
            return Err(HearthError::new(
                ErrorCode::NoModelLoaded,
                format!("The model `{model}` is not loaded and this server does not load models by itself. Load it in Hearth first, or turn on auto-load in the server settings."),
            ));
        }
        self.load(&entry).await?;
        Ok(LoadedId { id: entry.id, path: entry.path })
    }

    async fn generate(&self, model: &LoadedId, params: GenerateParams) -> Result<Generation, HearthError> {
        if self.current().is_none_or(|c| c.path != model.path) {
            return Err(HearthError::new(
                ErrorCode::NoModelLoaded,
                format!("The model `{}` was unloaded before it could answer. Try again.", model.id),
            ));
        }
        self.engine.generate(params).await
    }

    fn loaded(&self) -> Option<String> {
        self.current().filter(|c| c.ours).map(|c| c.id)
    }

    async fn unload_idle(&self) {
        if self.current().is_some_and(|c| c.ours) {
            tracing::info!("unloading the server's model after its idle time");
            self.set_current(None);
            if let Err(e) = self.engine.unload().await {
                tracing::warn!(error = %e, "could not unload the idle model");
            }
        }
    }
}
