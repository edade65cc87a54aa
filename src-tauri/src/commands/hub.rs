//! Discover: search the Hub, open a model's page, and plan each of its files from its remote header
//! (never by downloading weights).

use tauri::State;
use types::{FitPlan, HearthError, HubModelPage, HubSearch, HubSort, LoadSettings, PlannedFile};

use crate::state::AppState;

const PAGE: u32 = 30;

fn sort(s: HubSort) -> hub::Sort {
    match s {
        HubSort::Downloads => hub::Sort::Downloads,
        HubSort::Likes => hub::Sort::Likes,
        HubSort::Trending => hub::Sort::Trending,
        HubSort::Updated => hub::Sort::Updated,
    }
}

fn page(p: hub::SearchPage) -> HubSearch {
    HubSearch { models: p.models.iter().map(library::to_hub_model).collect(), next: p.next }
}

/// GGUF models on the Hub matching `query`.
#[tauri::command]
#[specta::specta]
pub async fn hub_search(state: State<'_, AppState>, query: String, sort_by: HubSort) -> Result<HubSearch, HearthError> {
    Ok(page(state.hub().search(query.trim(), sort(sort_by), PAGE).await?))
}

/// The next page of a search.
#[tauri::command]
#[specta::specta]
pub async fn hub_search_next(state: State<'_, AppState>, url: String) -> Result<HubSearch, HearthError> {
    Ok(page(state.hub().search_page(&url).await?))
}

/// A model's page: its card and its GGUF files grouped by quantization.
#[tauri::command]
#[specta::specta]
pub async fn hub_model(state: State<'_, AppState>, repo: String) -> Result<HubModelPage, HearthError> {
    let info = state.hub().model_info(&repo, None).await?;
    // A missing card is not an error: many GGUF repos have none.
    let card = state.hub().model_card(&repo, "main").await.unwrap_or_default();
    Ok(library::model_page(&info, card))
}

/// The fit plan of one remote file on this machine, from its header fetched with Range requests,
/// with the projector it comes with (one of the page's `projectors`). A header that cannot be
/// read gives a grey plan, not an error.
#[tauri::command]
#[specta::specta]
pub async fn hub_file_fit(state: State<'_, AppState>, repo: String, file: String, projectors: Vec<String>) -> Result<FitPlan, HearthError> {
    let hw = state.hearth.profile();
    Ok(library::discover::plan_file(&state.hub(), &repo, "main", &file, &projectors, &hw, &LoadSettings::default()).await)
}

/// The file to recommend among a page's planned files (`fit::recommend`, as `hearth pull` picks).
#[tauri::command]
#[specta::specta]
pub fn hub_recommend(files: Vec<PlannedFile>) -> Option<String> {
    library::discover::recommended(&files)
}
