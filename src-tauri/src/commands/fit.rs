//! The fit planner for the window: the "what fits" grid for this machine or an imagined one, and the
//! table of GPUs an imagined machine can have.

use tauri::State;
use types::{CatalogGpu, ErrorCode, FitGrid, HearthError, WhatIf};

use crate::state::AppState;

/// The grid of model sizes by quantization, coloured for this machine, or for `what_if` when given.
#[tauri::command]
#[specta::specta]
pub async fn what_fits(state: State<'_, AppState>, what_if: Option<WhatIf>) -> Result<FitGrid, HearthError> {
    let state = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || match what_if {
        None => Ok(fit::what_fits(&state.hearth.profile(), "This machine")),
        Some(w) => {
            let gpu = match &w.gpu {
                Some(name) => Some(
                    hardware::catalog::find(name)
                        .ok_or_else(|| HearthError::new(ErrorCode::Internal, format!("Hearth does not know the GPU {name}.")))?,
                ),
                None => None,
            };
            let count = w.count.clamp(1, 8);
            let ram = w.ram_gib.clamp(4, 2048);
            let hw = hardware::catalog::imagined(gpu, count, ram);
            let machine = match gpu {
                Some(g) if g.unified => g.name.to_string(),
                Some(g) if count > 1 => format!("{} ×{count} · {ram} GB RAM", g.name),
                Some(g) => format!("{} · {ram} GB RAM", g.name),
                None => format!("No GPU · {ram} GB RAM"),
            };
            Ok(fit::what_fits(&hw, &machine))
        }
    })
    .await
    .map_err(|e| HearthError::new(ErrorCode::Internal, "Planning failed.").with_details(e.to_string()))?
}

/// GPUs Hearth knows, for the what-if picker.
#[tauri::command]
#[specta::specta]
pub fn gpu_catalog() -> Vec<CatalogGpu> {
    hardware::catalog::GPUS.iter().map(|g| CatalogGpu { name: g.name.to_string(), memory_gib: g.memory_gib, unified: g.unified }).collect()
}

/// What would run the model at `path` well (green), cheapest first: this machine another way,
/// hardware to buy, GPUs to rent, planned with the person's settings for the file.
#[tauri::command]
#[specta::specta]
pub async fn model_advice(state: State<'_, AppState>, path: String) -> Result<types::Advice, HearthError> {
    let state = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || {
        let path = std::path::PathBuf::from(path);
        let facts = gguf::read_file(&path).map_err(|error| runtime::RuntimeError::Unreadable { path: path.clone(), error })?;
        let settings = library::settings::load_settings(&state.hearth.store, Some(&path));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(advisor::advise(&facts, &name, &state.hearth.profile(), &settings))
    })
    .await
    .map_err(|e| HearthError::new(ErrorCode::Internal, "Planning failed.").with_details(e.to_string()))?
}

/// The budget configurations of the what-if picker (entry, mid, high).
#[tauri::command]
#[specta::specta]
pub fn what_if_presets() -> Vec<types::WhatIfPreset> {
    advisor::presets()
}
