//! The library as My Models and Settings show it: model files on disk with their facts and fit, and
//! the settings a person can change.

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

use crate::FitPlan;

/// Where a model file came from, which decides what Hearth may do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ModelOrigin {
    /// Downloaded by Hearth into its models folder: Hearth may delete it.
    Downloaded,
    /// A file or folder the person imported; listed in place, never copied, never deleted by Hearth.
    Imported,
    /// Found in the Hugging Face cache.
    HfCache,
    /// Found in LM Studio's models folder.
    LmStudio,
}

/// One model on disk: a single GGUF file, or every part of a split one as one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LocalModel {
    #[specta(type = Number)]
    pub id: i64,
    /// The file to load (the first part of a split model).
    pub path: String,
    pub file_name: String,
    pub origin: ModelOrigin,
    /// `org/name` when it came from the Hub.
    pub repo: Option<String>,
    /// Bytes on disk, all parts together.
    #[specta(type = Number)]
    pub size_bytes: u64,
    pub parts: u32,
    pub architecture: Option<String>,
    #[specta(type = Option<Number>)]
    pub parameters: Option<u64>,
    pub quant: Option<String>,
    #[specta(type = Option<Number>)]
    pub context_length: Option<u64>,
    /// The fit on this machine at the default settings; none when the header cannot be read.
    pub plan: Option<FitPlan>,
    /// Why the file cannot be used, when its header is unreadable or a part is missing.
    pub problem: Option<String>,
    /// The model's own choice of where it runs; `None` follows Settings.
    pub run: Option<crate::RunOnSettings>,
    /// A llama.cpp built-in chat template chosen for this model; `None`: the file's own (or its
    /// family's when it has none).
    pub chat_template: Option<String>,
    /// The projector (mmproj file) loaded with it to read pictures, found beside it
    /// (`gguf::projector_beside`); `None`: it reads text only.
    #[serde(default)]
    pub projector: Option<String>,
}

/// Where the Hugging Face token is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum TokenPlace {
    /// The operating system's keychain (Keychain, Credential Manager, Secret Service).
    Keychain,
    /// A file only this user can read, because no keychain answered.
    File,
    /// `HF_TOKEN` in the environment, which wins over the saved one.
    Environment,
}

/// The token as Settings may show it: never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TokenStatus {
    /// `hf_…Xy9z`: enough to recognise it, not enough to use it.
    pub hint: String,
    pub place: TokenPlace,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Where downloads go.
    pub models_dir: String,
    pub models_dir_is_default: bool,
    /// The Hub's address in use.
    pub hub_endpoint: String,
    /// True when `HF_ENDPOINT` set it, so the saved value is not used.
    pub hub_endpoint_from_env: bool,
    pub token: Option<TokenStatus>,
    /// Where models run unless a model has its own choice: Auto, the CPU, or one GPU.
    pub run: crate::RunOnSettings,
    /// Replies a model writes at once (its slots); 0: as many as fit (the planner's choice).
    pub parallel: u32,
    /// Models kept loaded at once when memory allows.
    pub max_models: u32,
}

/// A change from the Settings view: each field left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SettingsChange {
    /// A folder path; an empty string goes back to the default.
    pub models_dir: Option<String>,
    /// An address; an empty string goes back to huggingface.co.
    pub hub_endpoint: Option<String>,
    /// A new token; an empty string removes the saved one.
    pub token: Option<String>,
    /// Where models run, for every model without its own choice.
    pub run: Option<crate::RunOnSettings>,
    /// Replies at once (1–64), or 0 for the planner's choice.
    #[serde(default)]
    pub parallel: Option<u32>,
    /// Models kept loaded at once (1–8).
    #[serde(default)]
    pub max_models: Option<u32>,
}
