//! The Hub as the Discover view sees it: search results and a model's page.

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum HubSort {
    Downloads,
    Likes,
    Trending,
    Updated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HubModel {
    pub id: String,
    pub author: String,
    #[specta(type = Number)]
    pub downloads: u64,
    #[specta(type = Number)]
    pub likes: u64,
    pub gated: bool,
    pub updated: Option<String>,
    #[specta(type = Option<Number>)]
    pub parameters: Option<u64>,
    pub architecture: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HubSearch {
    pub models: Vec<HubModel>,
    /// Where the next page is, if there is one.
    pub next: Option<String>,
}

/// One downloadable model file: a single GGUF, or all parts of a split one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HubFile {
    /// The file to load (the first part of a split model).
    pub name: String,
    pub quant: Option<String>,
    pub parts: Vec<String>,
    #[specta(type = Number)]
    pub size_bytes: u64,
}

/// A file of a repository with its plan on this machine: what a recommendation is made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFile {
    pub name: String,
    #[specta(type = Number)]
    pub size_bytes: u64,
    pub plan: crate::FitPlan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HubModelPage {
    pub model: HubModel,
    /// The model card's Markdown. Untrusted: the window sanitizes it before showing it.
    pub card: String,
    pub files: Vec<HubFile>,
    /// Vision projectors (`mmproj-*.gguf`), offered with the model.
    pub projectors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum DownloadState {
    Queued,
    Running,
    Paused,
    Failed,
    Done,
    Cancelled,
}

/// A download as the Downloads view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DownloadItem {
    #[specta(type = Number)]
    pub id: i64,
    pub repo: String,
    pub file: String,
    pub state: DownloadState,
    #[specta(type = Number)]
    pub done_bytes: u64,
    #[specta(type = Number)]
    pub total_bytes: u64,
    #[specta(type = Number)]
    pub bytes_per_second: f64,
    pub error: Option<String>,
}
