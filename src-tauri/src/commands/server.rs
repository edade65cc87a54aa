//! The Server view: start and stop the OpenAI-compatible server, its settings, the live log.

use tauri::State;
use types::{HearthError, RequestLog, ServerSettings, ServerStatus};

use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn server_status(state: State<'_, AppState>) -> Result<ServerStatus, HearthError> {
    Ok(state.server.status(&state.hearth.store).await)
}

/// Save the settings and start (or restart) the server with them.
#[tauri::command]
#[specta::specta]
pub async fn server_start(state: State<'_, AppState>, settings: ServerSettings) -> Result<ServerStatus, HearthError> {
    // The library to offer, as My Models sees it (probing the machine first, if that has not
    // happened yet, which also gives the runtime the machine to plan loads for).
    let models = {
        let state = state.inner().clone();
        tauri::async_runtime::spawn_blocking(move || state.hearth.models())
            .await
            .map_err(|e| HearthError::new(types::ErrorCode::Internal, "The probe failed.").with_details(e.to_string()))?
    };
    state.server.set_models(&models?);
    state.server.start(&state.hearth, settings).await?;
    Ok(state.server.status(&state.hearth.store).await)
}

#[tauri::command]
#[specta::specta]
pub async fn server_stop(state: State<'_, AppState>) -> Result<ServerStatus, HearthError> {
    state.server.stop().await;
    Ok(state.server.status(&state.hearth.store).await)
}

#[tauri::command]
#[specta::specta]
pub fn server_log(state: State<'_, AppState>) -> Vec<RequestLog> {
    state.server.log()
}
