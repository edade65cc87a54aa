//! Hardware view: the profile, and the memory figures that move while it is open.

use tauri::State;
use types::{ErrorCode, HardwareProfile, HearthError, MemoryNow};

use crate::state::AppState;

/// The machine's hardware profile (probed once per run).
#[tauri::command]
#[specta::specta]
pub async fn hardware_profile(state: State<'_, AppState>) -> Result<HardwareProfile, HearthError> {
    let state = state.inner().clone();
    off_the_ipc_thread(move || state.hearth.profile()).await
}

/// Available RAM and free VRAM now, for the view's live bars.
#[tauri::command]
#[specta::specta]
pub async fn memory_now(state: State<'_, AppState>) -> Result<MemoryNow, HearthError> {
    let state = state.inner().clone();
    off_the_ipc_thread(move || state.hearth.prober().memory_now(&state.hearth.profile())).await
}

/// Probing blocks for up to a few hundred milliseconds; run it where it cannot stall other commands.
async fn off_the_ipc_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, HearthError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| HearthError::new(ErrorCode::ProbeFailed, "Hearth could not read this machine's hardware.").with_details(e.to_string()))
}
