//! Settings: the models folder, the Hub's address and the token (kept in the keychain; only a hint
//! of it ever comes back).

use tauri::State;
use types::{HearthError, Settings, SettingsChange};

use crate::commands::library_error;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub fn settings_get(state: State<'_, AppState>) -> Settings {
    library::settings::current(&state.hearth.store, &state.hearth.tokens, &state.hearth.home.models_dir())
}

/// Check and save a change, then use it at once: the next search, download and listing see it.
#[tauri::command]
#[specta::specta]
pub async fn settings_update(state: State<'_, AppState>, change: SettingsChange) -> Result<Settings, HearthError> {
    library::settings::apply(&state.hearth.store, &state.hearth.tokens, &change).map_err(library_error)?;
    state.reconfigure()?;
    Ok(settings_get(state))
}
