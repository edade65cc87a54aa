//! What the server needs from whatever runs the models: the `Backend` trait. The server is generic
//! over it, so the app (sharing its engine with the Chat view), `hearth serve`, and the tests' fake
//! all plug in. `EngineBackend` (engine_backend.rs) is the real one.
//!
//! The server never has a backend load or unload a model while one of its own replies runs (its
//! gate holds the model shared for every reply and alone for a load, queue.rs), so a backend need
//! not guard against a load racing a generation of its own server.

use std::future::Future;
use std::path::{Path, PathBuf};

use engine::{GenerateParams, Generation};
use serde::Serialize;
use types::{FitPlan, HearthError, LoadedModelInfo};

/// A model the server offers, as `/v1/models` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelEntry {
    /// What clients put in `"model"`: the file name without `.gguf`, or `repo/file` for a model
    /// downloaded from the Hub.
    pub id: String,
    pub path: PathBuf,
    /// Who published it (the Hub's owner), else `"hearth"`.
    pub owned_by: String,
    /// The file's modification time, in seconds since the Unix epoch (0 when unknown).
    pub created: i64,
}

impl ModelEntry {
    /// An entry named after its file.
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let created = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        Self { id: stem(&path), path, owned_by: "hearth".into(), created }
    }

    /// An entry for a file of a Hub repository (`owner/name`): id `owner/name/file-stem`.
    pub fn from_repo(repo: &str, path: impl Into<PathBuf>) -> Self {
        let entry = Self::from_path(path);
        let owner = repo.split('/').next().unwrap_or("hearth").to_string();
        Self { id: format!("{repo}/{}", entry.id), owned_by: owner, ..entry }
    }

    /// The file's name, `.gguf` included.
    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Whether a client's `"model"` names this entry: its id, or its file name with or without
    /// `.gguf`, ignoring case.
    pub fn answers_to(&self, name: &str) -> bool {
        let name = name.trim();
        let file = self.file_name();
        name.eq_ignore_ascii_case(&self.id) || name.eq_ignore_ascii_case(&file) || name.eq_ignore_ascii_case(&stem(&self.path))
    }
}

fn stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.len().checked_sub(5) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".gguf") => name[..cut].to_string(),
        _ => name,
    }
}

/// The entry a client's `"model"` names: an exact id first, then any id, file name or stem
/// ignoring case.
pub fn find_model<'a>(models: &'a [ModelEntry], name: &str) -> Option<&'a ModelEntry> {
    models.iter().find(|m| m.id == name).or_else(|| models.iter().find(|m| m.answers_to(name)))
}

/// Proof from `Backend::ensure_loaded` that a model is in, for `Backend::generate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedId {
    pub id: String,
    pub path: PathBuf,
}

/// One model's state, for the lifecycle endpoints (`/api/models`).
#[derive(Debug, Clone)]
pub struct ModelState {
    pub entry: ModelEntry,
    /// How a load here would go; `None` when its header cannot be read.
    pub plan: Option<FitPlan>,
    pub loaded: Loaded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    No,
    /// Loaded by this server, with the load's figures when known.
    ByServer(Option<LoadedModelInfo>),
    /// Loaded by someone else sharing the engine (the app's Chat view): it answers requests, but
    /// only its owner unloads it.
    ByOther,
}

/// What runs the models for the server.
pub trait Backend: Send + Sync + 'static {
    /// The models clients may name, as they stand now (the library can change while serving).
    fn models(&self) -> Vec<ModelEntry>;

    /// Makes `model` (an id from `models`) the loaded one. When it is not loaded and `auto_load`
    /// is off, fails with `NO_MODEL_LOADED` and a sentence saying how to load it.
    fn ensure_loaded(&self, model: &str, auto_load: bool) -> impl Future<Output = Result<LoadedId, HearthError>> + Send;

    /// Starts a generation with the loaded model. Dropping the returned `events` must stop it.
    fn generate(&self, model: &LoadedId, params: GenerateParams) -> impl Future<Output = Result<Generation, HearthError>> + Send;

    /// How many replies `model` writes at once when loaded (its slots): the server lets that many
    /// run and `queue_limit` more wait.
    fn slots(&self, _model: &str) -> usize {
        1
    }

    /// The id of the model this backend loaded itself and may unload, if any.
    fn loaded(&self) -> Option<String>;

    /// Unloads `model` if this backend loaded it (called after its idle TTL); a model someone
    /// else loaded (the app's Chat view) stays.
    fn unload_idle(&self, model: &str) -> impl Future<Output = ()> + Send;

    /// Embeddings of each input by the loaded `model`, and the tokens read.
    fn embed(&self, _model: &LoadedId, _inputs: Vec<engine::EmbedInput>) -> impl Future<Output = Result<(Vec<Vec<f32>>, u32), HearthError>> + Send {
        async { Err(HearthError::new(types::ErrorCode::InvalidInput, "This server makes no embeddings.")) }
    }

    /// Every model with its fit plan here and whether it is loaded.
    fn states(&self) -> impl Future<Output = Vec<ModelState>> + Send;

    /// Loads `model` (an id from `models`) now, as `ensure_loaded` with auto-load would: with its
    /// plan, refusing a red one (`WOULD_NOT_FIT`).
    fn load(&self, model: &str) -> impl Future<Output = Result<(), HearthError>> + Send {
        async move { self.ensure_loaded(model, true).await.map(|_| ()) }
    }

    /// Unloads `model` if this server loaded it; a model that is not loaded is fine; one another
    /// part of Hearth loaded is refused (`INVALID_INPUT`), since it is not the server's to take.
    fn unload(&self, model: &str) -> impl Future<Output = Result<(), HearthError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_answers_to_its_id_and_file_name_in_any_case() {
        let smol = ModelEntry::from_path("/m/SmolLM2-135M-Instruct.Q4_1.gguf");
        let qwen = ModelEntry::from_repo("bartowski/Qwen2.5-7B-Instruct-GGUF", "/m/Qwen2.5-7B-Instruct-Q4_K_M.gguf");
        assert_eq!(smol.id, "SmolLM2-135M-Instruct.Q4_1");
        assert_eq!(qwen.id, "bartowski/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M");
        assert_eq!(qwen.owned_by, "bartowski");
        let models = vec![smol.clone(), qwen.clone()];
        for name in ["SmolLM2-135M-Instruct.Q4_1", "smollm2-135m-instruct.q4_1", "SmolLM2-135M-Instruct.Q4_1.GGUF"] {
            assert_eq!(find_model(&models, name), Some(&smol), "{name}");
        }
        assert_eq!(find_model(&models, "qwen2.5-7b-instruct-q4_k_m.gguf"), Some(&qwen));
        assert_eq!(find_model(&models, "BARTOWSKI/qwen2.5-7b-instruct-gguf/Qwen2.5-7B-Instruct-Q4_K_M"), Some(&qwen));
        assert_eq!(find_model(&models, "gpt-4o"), None);
        assert_eq!(find_model(&models, "SmolLM2"), None, "no prefix matching: a guess could load the wrong model");
    }
}
