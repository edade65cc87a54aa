//! The real `Backend`: Hearth's runtime (`runtime::Runtime`, which loads models by their fit plan,
//! each in a worker process of its own) and a list of model files. The runtime may be shared with
//! the app's Chat view: a model Chat loaded answers requests without a reload, and the idle TTL
//! unloads only models this server loaded itself.
//!
//! Talks to: `runtime::Runtime`.

use std::path::Path;
use std::sync::{Arc, RwLock};

use engine::{GenerateParams, Generation};
use runtime::{LoadRequest, Owner, Resident, Runtime};
use types::{ErrorCode, HearthError, LoadedModelInfo};

use crate::backend::{Backend, Loaded, LoadedId, ModelEntry, ModelState};

pub struct EngineBackend {
    runtime: Arc<Runtime>,
    models: RwLock<Vec<ModelEntry>>,
}

impl EngineBackend {
    pub fn new(runtime: Arc<Runtime>, models: Vec<ModelEntry>) -> Self {
        Self { runtime, models: RwLock::new(models) }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Replaces the list of models (the library changed).
    pub fn set_models(&self, models: Vec<ModelEntry>) {
        if let Ok(mut m) = self.models.write() {
            *m = models;
        }
    }

    /// The id of the model loaded last, whoever loaded it.
    pub fn in_engine(&self) -> Option<String> {
        // The runtime keeps its models in the order they were loaded.
        self.runtime.residents().last().map(|m| self.id_of(m.path()))
    }

    /// The worker process of the model loaded last, while one runs (tests read its memory and CPU
    /// time from /proc).
    pub fn worker_pid(&self) -> Option<u32> {
        self.runtime.residents().last().and_then(|m| m.engine.pid())
    }

    /// The figures of the model this server loaded last, while it is in.
    pub fn last_load(&self) -> Option<LoadedModelInfo> {
        self.runtime.residents().into_iter().rev().find(|m| m.owner == Owner::Server).map(|m| m.model.info)
    }

    fn entry(&self, model: &str) -> Result<ModelEntry, HearthError> {
        self.models()
            .into_iter()
            .find(|m| m.id == model)
            .ok_or_else(|| HearthError::new(ErrorCode::NotFound, format!("The model `{model}` does not exist.")))
    }

    /// The model list's name for a file.
    fn id_of(&self, path: &Path) -> String {
        self.models().into_iter().find(|m| m.path == path).map_or_else(|| ModelEntry::from_path(path).id, |m| m.id)
    }

    /// `model`, if it is loaded (marked as used now).
    fn resident(&self, model: &LoadedId) -> Result<Resident, HearthError> {
        self.runtime.get(&model.path).ok_or_else(|| {
            HearthError::new(ErrorCode::NoModelLoaded, format!("The model `{}` was unloaded before it could answer. Try again.", model.id))
        })
    }
}

impl Backend for EngineBackend {
    fn models(&self) -> Vec<ModelEntry> {
        self.models.read().map(|m| m.clone()).unwrap_or_default()
    }

    async fn ensure_loaded(&self, model: &str, auto_load: bool) -> Result<LoadedId, HearthError> {
        let entry = self.entry(model)?;
        if self.runtime.get(&entry.path).is_some() {
            return Ok(LoadedId { id: entry.id, path: entry.path });
        }
        if !auto_load {
            return Err(HearthError::new(
                ErrorCode::NoModelLoaded,
                format!("The model `{model}` is not loaded and this server does not load models by itself. Load it in Hearth first, or turn on auto-load in the server settings."),
            ));
        }
        tracing::info!(model = %entry.id, "loading for the server");
        self.runtime.load(&entry.path, LoadRequest::by(Owner::Server), |_| {}).await?;
        Ok(LoadedId { id: entry.id, path: entry.path })
    }

    async fn generate(&self, model: &LoadedId, params: GenerateParams) -> Result<Generation, HearthError> {
        let resident = self.resident(model)?;
        let mut params = params;
        // Pictures were read at the API's bound; now the model is known, at most the side its
        // projector reads, as the plan counted them (a Qwen-VL projector takes more tokens for a
        // larger picture). Off the async threads: scaling a dozen photos takes a moment.
        if let (Some(vision), engine::Prompt::Chat(messages)) = (&resident.model.info.vision, &mut params.prompt) {
            let side = vision.image_side;
            if messages.iter().flat_map(|m| &m.images).any(|i| i.width.max(i.height) > side) {
                let mut taken = std::mem::take(messages);
                taken = tokio::task::spawn_blocking(move || {
                    taken.iter_mut().flat_map(|m| m.images.iter_mut()).for_each(|p| images::shrink(p, side));
                    taken
                })
                .await
                .map_err(|e| HearthError::new(types::ErrorCode::Internal, "The pictures could not be scaled for the model.").with_details(e.to_string()))?;
                *messages = taken;
            }
        }
        // Checked again in the worker: a model that was replaced in the meantime answers nothing.
        resident.engine.generate(GenerateParams { model: Some(model.path.clone()), ..params }).await
    }

    fn slots(&self, model: &str) -> usize {
        let Ok(entry) = self.entry(model) else { return 1 };
        self.runtime.residents().iter().find(|m| m.path() == entry.path).map_or(1, |m| m.model.info.slots.max(1) as usize)
    }

    fn loaded(&self) -> Option<String> {
        self.runtime.residents().into_iter().rev().find(|m| m.owner == Owner::Server).map(|m| self.id_of(m.path()))
    }

    async fn embed(&self, model: &LoadedId, inputs: Vec<engine::EmbedInput>) -> Result<(Vec<Vec<f32>>, u32), HearthError> {
        self.resident(model)?.engine.embed(inputs).await
    }

    async fn states(&self) -> Vec<ModelState> {
        let residents = self.runtime.residents();
        let mut states = Vec::new();
        for entry in self.models() {
            let path = entry.path.clone();
            let plan = tokio::task::spawn_blocking({
                let runtime = self.runtime.clone();
                move || runtime.plan(&path, None).ok()
            })
            .await
            .ok()
            .flatten();
            let loaded = match residents.iter().find(|m| m.path() == entry.path) {
                Some(m) if m.owner == Owner::Server => Loaded::ByServer(Some(m.model.info.clone())),
                Some(_) => Loaded::ByOther,
                None => Loaded::No,
            };
            states.push(ModelState { entry, plan, loaded });
        }
        states
    }

    async fn unload(&self, model: &str) -> Result<(), HearthError> {
        let entry = self.entry(model)?;
        match self.runtime.residents().into_iter().find(|m| m.path() == entry.path) {
            None => Ok(()),
            Some(m) if m.owner == Owner::Server => self.runtime.unload(&entry.path).await,
            Some(_) => Err(HearthError::new(
                ErrorCode::InvalidInput,
                format!("`{model}` was loaded in the Hearth app, not by this server: eject it there."),
            )),
        }
    }

    async fn unload_idle(&self, model: &str) {
        let Ok(entry) = self.entry(model) else { return };
        for m in self.runtime.residents().into_iter().filter(|m| m.owner == Owner::Server && m.path() == entry.path) {
            tracing::info!(model = %m.model.file_name, "unloading the server's model after its idle time");
            if let Err(e) = self.runtime.unload(m.path()).await {
                tracing::warn!(error = %e, "could not unload the idle model");
            }
        }
    }
}
