//! Settings → Connections, and Chat with a model on another machine: the saved connections (their
//! keys stay in the backend), each one's models, and choosing one of them for Chat.

use tauri::State;
use types::{Connection, ConnectionInput, HearthError, RemoteModel, RemoteModels};

use crate::commands::library_error;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn connections_list(state: State<'_, AppState>) -> Result<Vec<Connection>, HearthError> {
    Ok(state.hearth.connections().list())
}

/// Add a connection (`id: null`) or change one; a bad field changes nothing.
#[tauri::command]
#[specta::specta]
pub async fn connection_save(state: State<'_, AppState>, input: ConnectionInput) -> Result<Connection, HearthError> {
    state.hearth.connections().save(&input).map_err(library_error)
}

#[tauri::command]
#[specta::specta]
pub async fn connection_remove(state: State<'_, AppState>, id: String) -> Result<(), HearthError> {
    if state.chat.remote().is_some_and(|m| m.connection_id == id) {
        state.chat.unload().await?;
    }
    state.hearth.connections().remove(&id).map_err(library_error)
}

/// Every connection's models, asked all at once; one that fails says why beside the others.
#[tauri::command]
#[specta::specta]
pub async fn remote_models(state: State<'_, AppState>) -> Result<Vec<RemoteModels>, HearthError> {
    let asks = state.hearth.connections().list().into_iter().map(|connection| {
        let endpoint = state.hearth.connections().endpoint(&connection.id);
        async move {
            let listed = match endpoint {
                Some(e) => e.models().await,
                None => Ok(Vec::new()),
            };
            match listed {
                Ok(models) => RemoteModels { connection, models, error: None },
                Err(error) => RemoteModels { connection, models: Vec::new(), error: Some(error) },
            }
        }
    });
    Ok(futures_util::future::join_all(asks).await)
}

/// Chat answers with `model` on its connection from now on (once the endpoint lists it).
#[tauri::command]
#[specta::specta]
pub async fn chat_use_remote(state: State<'_, AppState>, model: RemoteModel) -> Result<RemoteModel, HearthError> {
    state.chat.use_remote(model).await
}

/// The model on another machine Chat answers with, if any.
#[tauri::command]
#[specta::specta]
pub fn chat_remote(state: State<'_, AppState>) -> Option<RemoteModel> {
    state.chat.remote()
}
