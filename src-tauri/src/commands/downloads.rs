//! Downloads: start one from a model's page, list them, pause, resume, cancel. Row ids cross as `u32`
//! (TypeScript numbers): nobody's download list reaches four billion rows.

use library::queue_internal as internal;
use tauri::ipc::Channel;
use tauri::State;
use types::{DownloadItem, HearthError};

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
    // The projector that reads pictures for the model comes with it (`gguf::choose_projector`).
    let projector = gguf::choose_projector(&wanted.name, wanted.quant.as_deref(), page.projectors.iter().map(String::as_str));
    let parts: Vec<hub::Sibling> =
        info.siblings.iter().filter(|s| wanted.parts.contains(&s.rfilename) || Some(s.rfilename.as_str()) == projector).cloned().collect();
    state.queue.downloads.enqueue(&repo, "main", &parts).await.map_err(|e| match e {
        library::LibraryError::Hub(h) => h.into(),
        other => internal(other),
    })?;
    state.queue.wake();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn downloads_list(state: State<'_, AppState>) -> Result<Vec<DownloadItem>, HearthError> {
    // SQLite and the disk: off the IPC thread.
    let queue = state.queue.clone();
    tauri::async_runtime::spawn_blocking(move || queue.items()).await.map_err(internal)?
}

/// The download list now, then again whenever a download moves (at most every
/// `library::WATCH_EVERY`), pushed into `on_items` until the window stops listening: the
/// Downloads view and the frame's indicator follow it instead of asking every half second.
#[tauri::command]
#[specta::specta]
pub fn downloads_watch(state: State<'_, AppState>, on_items: Channel<Vec<DownloadItem>>) {
    state.queue.watch(move |items| on_items.send(items).is_ok());
}

#[tauri::command]
#[specta::specta]
pub async fn download_pause(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.queue.downloads.pause(i64::from(id)).map_err(internal)
}

#[tauri::command]
#[specta::specta]
pub async fn download_resume(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.queue.downloads.resume(i64::from(id)).map_err(internal)?;
    state.queue.wake();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn download_cancel(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.queue.downloads.cancel(i64::from(id)).map_err(internal)
}
