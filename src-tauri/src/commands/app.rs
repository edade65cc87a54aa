//! The window's life: it reports when it has painted real data, which gives the startup figure that
//! `make bench` reads from the log.

use tauri::State;

use crate::state::AppState;

/// Called once by the window after its first view has painted with real data.
#[tauri::command]
#[specta::specta]
pub fn window_ready(state: State<'_, AppState>) {
    let ms = state.started.elapsed().as_millis();
    tracing::info!(target: "hearth::startup", first_paint_ms = ms as u64, "window painted");
}
