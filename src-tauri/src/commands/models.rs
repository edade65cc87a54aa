//! My Models: the library listed with facts and fit, import in place, reveal, delete.

use std::path::PathBuf;

use tauri::State;
use tauri_plugin_dialog::DialogExt;
use types::{ErrorCode, HearthError, LocalModel};

use crate::commands::library_error;
use crate::state::AppState;

/// Every model file on this machine, scanned afresh (the folders may have changed behind our back).
#[tauri::command]
#[specta::specta]
pub async fn models_list(state: State<'_, AppState>) -> Result<Vec<LocalModel>, HearthError> {
    let state = state.inner().clone();
    blocking(move || {
        let models = state.hearth.models()?;
        // What My Models shows, the server offers.
        state.server.set_models(&models);
        Ok(models)
    })
    .await
}

/// Import a file or a folder by path (what the picker returns; also what a drop gives).
#[tauri::command]
#[specta::specta]
pub async fn model_import(state: State<'_, AppState>, path: String) -> Result<u32, HearthError> {
    let state = state.inner().clone();
    blocking(move || library::import(&state.hearth.store, &PathBuf::from(path)).map(|n| n as u32).map_err(library_error)).await
}

/// Ask for a file (or a folder) with the system's picker and import it; `None` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn model_pick_and_import(app: tauri::AppHandle, state: State<'_, AppState>, folder: bool) -> Result<Option<u32>, HearthError> {
    let state = state.inner().clone();
    blocking(move || {
        let dialog = app.dialog().file().set_title(if folder { "Import a folder of models" } else { "Import a model file" });
        let picked = if folder { dialog.blocking_pick_folder() } else { dialog.add_filter("GGUF model", &["gguf"]).blocking_pick_file() };
        let Some(path) = picked.and_then(|p| p.into_path().ok()) else { return Ok(None) };
        library::import(&state.hearth.store, &path).map(|n| Some(n as u32)).map_err(library_error)
    })
    .await
}

/// Delete a downloaded model (every part), or take an imported one off the list. Returns
/// "deleted" or "forgotten".
#[tauri::command]
#[specta::specta]
pub async fn model_delete(state: State<'_, AppState>, id: u32) -> Result<String, HearthError> {
    let state = state.inner().clone();
    blocking(move || {
        let roots = [state.hearth.models_dir(), state.hearth.home.models_dir()];
        match library::delete(&state.hearth.store, i64::from(id), &roots).map_err(library_error)? {
            library::Removed::Deleted => Ok("deleted".to_string()),
            library::Removed::Forgotten => Ok("forgotten".to_string()),
        }
    })
    .await
}

/// Give one model its own choice of where it runs, or (`run` null) make it follow Settings again.
/// The next listing and load plan with it.
#[tauri::command]
#[specta::specta]
pub async fn model_set_run_on(state: State<'_, AppState>, path: String, run: Option<types::RunOnSettings>) -> Result<(), HearthError> {
    library::settings::set_model_run_on(&state.hearth.store, std::path::Path::new(&path), run.as_ref()).map_err(library_error)
}

/// Choose a llama.cpp built-in chat template for one model, or (`template` null) go back to the
/// file's own. The next load renders with it.
#[tauri::command]
#[specta::specta]
pub async fn model_set_template(state: State<'_, AppState>, path: String, template: Option<String>) -> Result<(), HearthError> {
    if let Some(name) = &template {
        if !engine::template::family::is_built_in(name) {
            return Err(HearthError::new(types::ErrorCode::InvalidInput, format!("There is no built-in chat template called \"{name}\".")));
        }
    }
    library::settings::set_model_template(&state.hearth.store, std::path::Path::new(&path), template.as_deref()).map_err(library_error)
}

/// The chat templates a person can choose for a model.
#[tauri::command]
#[specta::specta]
pub fn template_choices() -> Vec<types::TemplateChoice> {
    engine::template::family::BUILT_IN
        .iter()
        .map(|(name, label)| types::TemplateChoice { name: (*name).into(), label: (*label).into() })
        .collect()
}

/// Show the file in the system's file manager.
#[tauri::command]
#[specta::specta]
pub async fn model_reveal(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    let models = state.hearth.store.models().map_err(|e| library_error(e.into()))?;
    let row = models
        .into_iter()
        .find(|m| m.id == i64::from(id))
        .ok_or_else(|| HearthError::new(ErrorCode::NotFound, "That model is no longer in the library."))?;
    tauri_plugin_opener::reveal_item_in_dir(&row.path)
        .map_err(|e| HearthError::new(ErrorCode::Internal, "The file manager could not be opened.").with_details(e.to_string()))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, HearthError> + Send + 'static) -> Result<T, HearthError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| HearthError::new(ErrorCode::Internal, "A background task failed.").with_details(e.to_string()))?
}

/// How long loading `path` will take (its size over its disk's measured read speed, less what is
/// in memory already); `None` where the disk could not be measured. The first call for a disk
/// measures it (a quarter-second read) and keeps the figure.
#[tauri::command]
#[specta::specta]
pub async fn model_load_estimate(state: State<'_, AppState>, path: String) -> Result<Option<types::LoadEstimate>, HearthError> {
    let state = state.inner().clone();
    // Only a model file: the path comes from the window, and the estimate reads the file (its
    // size, what of it is cached), so anything else would let a page in it probe the disk.
    let path = PathBuf::from(path);
    if !library::load_time::is_model_file(&path) {
        return Ok(None);
    }
    blocking(move || Ok(library::load_time::estimate(&state.hearth.store, &path))).await
}
