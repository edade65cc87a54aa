//! Chat: conversations, the model loaded in the engine, and replies streamed over a Channel. Each
//! command hands over to the `chat` crate; ids cross as `u32` (TypeScript numbers). The ones that
//! read or write SQLite are `async`, so Tauri runs them off the window's IPC thread.

use std::path::PathBuf;

use tauri::ipc::Channel;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use types::{ChatEvent, Conversation, ConversationSettings, ErrorCode, HearthError, LoadEvent, LoadedModel, Message};

use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn chat_conversations(state: State<'_, AppState>, query: Option<String>) -> Result<Vec<Conversation>, HearthError> {
    state.chat.conversations(query.as_deref())
}

/// A new conversation with default settings, for the model loaded now (if any).
#[tauri::command]
#[specta::specta]
pub async fn chat_create(state: State<'_, AppState>) -> Result<Conversation, HearthError> {
    let model = state.chat.remote().map(|m| m.label()).or_else(|| state.chat.loaded().map(|m| m.path));
    state.chat.create(model.as_deref(), &ConversationSettings::default())
}

#[tauri::command]
#[specta::specta]
pub async fn chat_messages(state: State<'_, AppState>, id: u32) -> Result<Vec<Message>, HearthError> {
    state.chat.messages(i64::from(id))
}

#[tauri::command]
#[specta::specta]
pub async fn chat_rename(state: State<'_, AppState>, id: u32, title: String) -> Result<(), HearthError> {
    state.chat.rename(i64::from(id), &title)
}

#[tauri::command]
#[specta::specta]
pub async fn chat_delete(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.chat.delete(i64::from(id))
}

#[tauri::command]
#[specta::specta]
pub async fn chat_set_settings(state: State<'_, AppState>, id: u32, settings: ConversationSettings) -> Result<(), HearthError> {
    state.chat.set_settings(i64::from(id), &settings)
}

/// Save the message (with its pictures, as data URLs) and stream the reply into `on_event`;
/// resolves when the reply has ended.
#[tauri::command]
#[specta::specta]
pub async fn chat_send(
    state: State<'_, AppState>,
    id: u32,
    text: String,
    pictures: Vec<String>,
    on_event: Channel<ChatEvent>,
) -> Result<(), HearthError> {
    state.chat.send(i64::from(id), &text, &pictures, |e| drop(on_event.send(e))).await
}

/// A picture of a conversation, whole, as a data URL (the window shows thumbnails until one is
/// opened).
#[tauri::command]
#[specta::specta]
pub async fn chat_picture(state: State<'_, AppState>, id: u32, hash: String) -> Result<String, HearthError> {
    let chat = state.chat.clone();
    tauri::async_runtime::spawn_blocking(move || chat.picture(i64::from(id), &hash)).await.map_err(library::queue_internal)?
}

#[tauri::command]
#[specta::specta]
pub async fn chat_regenerate(state: State<'_, AppState>, id: u32, on_event: Channel<ChatEvent>) -> Result<(), HearthError> {
    state.chat.regenerate(i64::from(id), |e| drop(on_event.send(e))).await
}

#[tauri::command]
#[specta::specta]
pub async fn chat_edit(
    state: State<'_, AppState>,
    id: u32,
    message_id: u32,
    text: String,
    on_event: Channel<ChatEvent>,
) -> Result<(), HearthError> {
    state.chat.edit(i64::from(id), i64::from(message_id), &text, |e| drop(on_event.send(e))).await
}

#[tauri::command]
#[specta::specta]
pub async fn chat_stop(state: State<'_, AppState>, id: u32) -> Result<(), HearthError> {
    state.chat.stop(i64::from(id)).await;
    Ok(())
}

/// Write the conversation to a file the person picks; `None` when they cancel.
#[tauri::command]
#[specta::specta]
pub async fn chat_export(app: tauri::AppHandle, state: State<'_, AppState>, id: u32, json: bool) -> Result<Option<String>, HearthError> {
    let format = if json { chat::ExportFormat::Json } else { chat::ExportFormat::Markdown };
    let text = state.chat.export(i64::from(id), format)?;
    let title = state.chat.get(i64::from(id))?.title;
    let name: String = title.chars().map(|c| if c.is_alphanumeric() || c == ' ' || c == '-' { c } else { '_' }).collect();
    let ext = if json { "json" } else { "md" };
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_file_name(format!("{}.{ext}", name.trim()))
            .add_filter(if json { "JSON" } else { "Markdown" }, &[ext])
            .blocking_save_file()
    })
    .await
    .map_err(|e| HearthError::new(ErrorCode::Internal, "The save dialog failed.").with_details(e.to_string()))?;
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else { return Ok(None) };
    std::fs::write(&path, text)
        .map_err(|e| HearthError::new(ErrorCode::InvalidInput, format!("{} could not be written.", path.display())).with_details(e.to_string()))?;
    Ok(Some(path.display().to_string()))
}

/// Load a model with the plan for this machine and the person's choice of where it runs, reporting
/// progress into `on_event`. A red plan is refused with `WOULD_NOT_FIT` and its warning; `force`
/// (after the person confirmed that warning) loads it anyway.
#[tauri::command]
#[specta::specta]
pub async fn engine_load(
    state: State<'_, AppState>,
    path: String,
    force: bool,
    on_event: Channel<LoadEvent>,
) -> Result<LoadedModel, HearthError> {
    // The runtime plans with the probed machine: wait for the probe if it is still running.
    {
        let state = state.inner().clone();
        tauri::async_runtime::spawn_blocking(move || state.hearth.profile())
            .await
            .map_err(|e| HearthError::new(ErrorCode::Internal, "The probe failed.").with_details(e.to_string()))?;
    }
    let path = PathBuf::from(path);
    let settings = library::settings::load_settings(&state.hearth.store, Some(&path));
    // What it will take, before the load puts the file in the page cache; the load teaches the next.
    let estimate = {
        let (state, path) = (state.inner().clone(), path.clone());
        tauri::async_runtime::spawn_blocking(move || library::load_time::estimate(&state.hearth.store, &path)).await.ok().flatten()
    };
    // The server shares the runtime, so it answers with what Chat loaded.
    let loaded = state.chat.load(&path, &settings, force, |e| drop(on_event.send(e))).await?;
    if let Some(e) = estimate {
        library::load_time::learn(&state.hearth.store, &e, loaded.info.load_ms / 1000.0);
    }
    Ok(loaded)
}

#[tauri::command]
#[specta::specta]
pub async fn engine_unload(state: State<'_, AppState>) -> Result<(), HearthError> {
    state.chat.unload().await
}

#[tauri::command]
#[specta::specta]
pub fn engine_loaded(state: State<'_, AppState>) -> Option<LoadedModel> {
    state.chat.loaded()
}

/// What Chat answers with, now and at every change after (a load, an unload, a model unloaded
/// to make room, a worker that died, a connection chosen), for as long as the window listens:
/// the window follows this instead of asking after each reply. Returns at once.
#[tauri::command]
#[specta::specta]
pub fn engine_watch(state: State<'_, AppState>, on: Channel<types::ChatModel>) {
    let (chat, mut runtime) = (state.chat.clone(), state.hearth.runtime.changes());
    let mut mine = chat.changes();
    tauri::async_runtime::spawn(async move {
        loop {
            if on.send(chat.model()).is_err() {
                return; // the window has gone
            }
            tokio::select! {
                r = runtime.changed() => if r.is_err() { return },
                c = mine.changed() => if c.is_err() { return },
            }
        }
    });
}
