//! Hearth's desktop shell: a thin adapter between the window and the backend crates. Commands are a
//! few lines each; everything they do lives in crates that are tested without a window.

mod bindings;
mod commands;
mod links;
mod server;
mod state;

pub use bindings::{specta_builder, typescript_bindings, BINDINGS_PATH};

/// The hidden first argument that makes the app's executable run as the engine's worker process.
pub const ENGINE_WORKER_FLAG: &str = "--engine-worker";

pub fn run() {
    hardware::quiet_headless_vulkan();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let state = match state::AppState::new() {
        Ok(state) => state,
        Err(e) => {
            // Nothing can work without a home folder; say so plainly rather than open a broken window.
            eprintln!("Hearth cannot start: {}", e.message);
            std::process::exit(1);
        }
    };
    // Probe while the window and WebKit start, so the Hardware view paints with data at once.
    state.warm_up();

    let builder = specta_builder();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        // Its link-click script is off: links are Hearth's to open (`links`), and the window may not
        // call the plugin itself.
        .plugin(tauri_plugin_opener::Builder::new().open_js_links_on_click(false).build())
        .manage(state)
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            links::build_main_window(app)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("Hearth stopped with an error: {e}");
            std::process::exit(1);
        })
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                // MCP servers (and their process groups) go with the app.
                let servers = tauri::Manager::state::<state::AppState>(app).hearth.mcp.clone();
                tauri::async_runtime::block_on(async move {
                    tokio::time::timeout(std::time::Duration::from_secs(5), servers.stop_all()).await.ok();
                });
            }
        });
}
