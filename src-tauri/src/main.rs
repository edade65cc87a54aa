// Keep Windows from opening a console window next to the app in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // The engine's worker is this same executable started with a hidden flag, so an installed app
    // has nothing else to find; it never opens a window.
    if std::env::args().nth(1).as_deref() == Some(hearth_app::ENGINE_WORKER_FLAG) {
        return engine::run_worker();
    }
    // So is the document reader: a hostile PDF meets it, never the window's process.
    if std::env::args().nth(1).as_deref() == Some(documents::READER_FLAG) {
        return documents::run_reader();
    }
    hearth_app::run();
    std::process::ExitCode::SUCCESS
}
