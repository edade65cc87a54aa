//! The typed boundary: every command (and, later, event) is registered here once, and the TypeScript
//! the window uses is generated from these Rust signatures into `ui/src/lib/api/bindings.ts`.
//! `cargo test -p hearth-app` fails when that file is stale; `make bindings` rewrites it.

use specta_typescript::Typescript;
use tauri_specta::{collect_commands, Builder, ErrorHandlingMode};

use crate::commands;

/// Where the generated file lives, relative to the workspace root.
pub const BINDINGS_PATH: &str = "ui/src/lib/api/bindings.ts";

pub fn specta_builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        // Commands reject with a `HearthError`; the API module turns every rejection into one.
        .error_handling(ErrorHandlingMode::Throw)
        // One TypeScript shape per type: our serde is symmetric, and split Serialize/Deserialize
        // twins would only make the UI's types harder to read.
        .disable_serde_phases()
        // The codes as a value too: the UI trusts a rejection's code only if it is one of these.
        .constant("ERROR_CODES", types::ErrorCode::ALL)
        .commands(collect_commands![
            commands::app::window_ready,
            commands::links::open_link,
            commands::hardware::hardware_profile,
            commands::hardware::memory_now,
            commands::fit::what_fits,
            commands::fit::gpu_catalog,
            commands::fit::model_advice,
            commands::fit::what_if_presets,
            commands::hub::hub_search,
            commands::hub::hub_search_next,
            commands::hub::hub_model,
            commands::hub::hub_file_fit,
            commands::hub::hub_recommend,
            commands::downloads::download_model,
            commands::downloads::downloads_list,
            commands::downloads::downloads_watch,
            commands::downloads::download_pause,
            commands::downloads::download_resume,
            commands::downloads::download_cancel,
            commands::models::models_list,
            commands::models::model_import,
            commands::models::model_pick_and_import,
            commands::models::model_delete,
            commands::models::model_reveal,
            commands::models::model_set_run_on,
            commands::models::model_set_template,
            commands::models::template_choices,
            commands::models::model_load_estimate,
            commands::settings::settings_get,
            commands::settings::settings_update,
            commands::chat::chat_conversations,
            commands::chat::chat_create,
            commands::chat::chat_messages,
            commands::chat::chat_rename,
            commands::chat::chat_delete,
            commands::chat::chat_set_settings,
            commands::chat::chat_picture,
            commands::chat::chat_send,
            commands::chat::chat_regenerate,
            commands::chat::chat_edit,
            commands::chat::chat_stop,
            commands::chat::chat_export,
            commands::mcp::chat_decide,
            commands::mcp::mcp_overview,
            commands::mcp::mcp_config_text,
            commands::mcp::mcp_save_config,
            commands::mcp::mcp_import,
            commands::mcp::mcp_restart,
            commands::mcp::mcp_set_permissions,
            commands::chat::engine_load,
            commands::chat::engine_unload,
            commands::chat::engine_loaded,
            commands::chat::engine_watch,
            commands::server::server_status,
            commands::server::server_start,
            commands::server::server_stop,
            commands::server::server_log,
            commands::connections::connections_list,
            commands::connections::connection_save,
            commands::connections::connection_remove,
            commands::connections::remote_models,
            commands::connections::chat_use_remote,
            commands::connections::chat_remote,
        ])
}

fn exporter() -> Typescript {
    Typescript::default().header("// Generated from the Rust types by `make bindings`. Do not edit.\n/* eslint-disable */")
}

/// Write the bindings to `path`.
pub fn typescript_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder().export(exporter(), path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn workspace_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The committed bindings must be exactly what the Rust types generate today.
    #[test]
    fn generated_typescript_bindings_are_up_to_date() {
        let fresh = std::env::temp_dir().join(format!("hearth-bindings-{}.ts", std::process::id()));
        super::typescript_bindings(&fresh).expect("export bindings");
        let fresh_text = std::fs::read_to_string(&fresh).expect("read fresh bindings");
        let _ = std::fs::remove_file(&fresh);
        let committed = std::fs::read_to_string(workspace_root().join(super::BINDINGS_PATH)).unwrap_or_default();
        assert!(committed == fresh_text, "{} is stale: run `make bindings` and commit the result", super::BINDINGS_PATH);
    }
}
