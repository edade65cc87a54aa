//! Downloads: start one from a model's page, list them, pause, resume, cancel. Row ids cross as `u32`
//! (TypeScript numbers): nobody's download list reaches four billion rows.

use tauri::State;
use types::{DownloadItem, HearthError};

use crate::downloads::internal;
use crate::state::AppState;

/// Queue `file` of `repo` (all its parts for a split model) and start downloading.
#[tauri::command]
#[specta::specta]
pub async fn download_model(state: State<'_, AppState>, repo: String, file: String) -> Result<(), HearthError> {
    let info = state.hub().model_info(&repo, None).await?;
    let page = library::model_page(&info, String::new());
    let wanted = page
        .files
        .iter()
        .find(|f| f.name == file)
        .ok_or_else(|| HearthError::new(types::ErrorCode::NotFound, format!("{file} is not in {repo}.")))?;
    let parts: Vec<hub::Sibling> = info.siblings.iter().filter(|s| wanted.parts.contains(&s.rfilename)).cloned().collect();
    state.queue.downloads.enqueue(&repo, "main", &parts).await.map_err(|e| match e {
        library::LibraryError::Hub(h) => h.into(),
        other => internal(other),
    })?;
    state.queue.wake();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub fn downloads_list(state: State<'_, AppState>) -> Result<Vec<DownloadItem>, HearthError> {
    state.queue.items()
}

#[tauri::command]
#[specta::specta]
pub fn download_pause(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.queue.downloads.pause(i64::from(id)).map_err(internal)
}

#[tauri::command]
#[specta::specta]
pub fn download_resume(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.queue.downloads.resume(i64::from(id)).map_err(internal)?;
    state.queue.wake();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub fn download_cancel(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.queue.downloads.cancel(i64::from(id)).map_err(internal)
}
