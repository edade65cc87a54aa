//! MCP servers (tools) for Settings and Chat: their states and tools, mcp.json as text to edit
//! (saved only when it reads), imports from the other apps, the person's standing answers, and the
//! answer to a call that waits. Each hands over to the `mcp` and `chat` crates.

use tauri::State;
use types::{ErrorCode, HearthError, McpOverview, McpServer, McpState, McpTool, ToolDecision};

use crate::state::AppState;

fn overview(state: &AppState) -> McpOverview {
    let servers = &state.hearth.mcp;
    let permissions = state.chat.permissions();
    McpOverview {
        path: servers.file().map(|p| p.display().to_string()).unwrap_or_default(),
        file_error: servers.file_error().map(|e| e.to_string()),
        servers: servers.statuses().into_iter().map(server).collect(),
        read_only_without_asking: permissions.read_only_without_asking,
        always_allowed: permissions.always.into_iter().collect(),
        importable: mcp::other_apps_files().into_iter().filter(|(_, p)| p.is_file()).map(|(a, p)| (a.to_string(), p.display().to_string())).collect(),
    }
}

fn server(s: mcp::Status) -> McpServer {
    let (state, reason) = match s.state {
        mcp::State::Off => (McpState::Off, None),
        mcp::State::Starting => (McpState::Starting, None),
        mcp::State::Ready { .. } => (McpState::Ready, None),
        mcp::State::Failed { reason } => (McpState::Failed, Some(reason)),
        mcp::State::Reconnecting => (McpState::Reconnecting, None),
    };
    let tools = s
        .tools
        .into_iter()
        .map(|t| McpTool { name: t.name, description: t.description, read_only: t.read_only, destructive: t.destructive })
        .collect();
    McpServer { name: s.name, shown: s.shown, state, reason, tools }
}

fn file(state: &AppState) -> Result<std::path::PathBuf, HearthError> {
    state.hearth.mcp.file().map(std::path::Path::to_path_buf).ok_or_else(|| HearthError::new(ErrorCode::Internal, "Hearth has no mcp.json."))
}

#[tauri::command]
#[specta::specta]
pub async fn mcp_overview(state: State<'_, AppState>) -> Result<McpOverview, HearthError> {
    Ok(overview(&state))
}

/// mcp.json as it is on disk (empty when there is none), for the JSON editor.
#[tauri::command]
#[specta::specta]
pub async fn mcp_config_text(state: State<'_, AppState>) -> Result<String, HearthError> {
    match std::fs::read_to_string(file(&state)?) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok("{\n  \"mcpServers\": {}\n}\n".into()),
        Err(e) => Err(HearthError::new(ErrorCode::HomeUnavailable, "mcp.json could not be read.").with_details(e.to_string())),
    }
}

/// Saves the editor's text when it reads as mcp.json (else the error names the line, and the file
/// is left as it was), then starts the servers it holds.
#[tauri::command]
#[specta::specta]
pub async fn mcp_save_config(state: State<'_, AppState>, text: String) -> Result<McpOverview, HearthError> {
    let mut config = mcp::McpConfig::parse(&text)?;
    for (name, spec) in &config.servers {
        spec.transport(name)?;
    }
    // Keys typed into env values or headers go to the keychain; the file keeps a marker.
    library::mcp_secrets::keep(&mut config, state.hearth.home.root()).map_err(hearth::library_error)?;
    config.write(&file(&state)?)?;
    state.hearth.mcp.reload().await?;
    Ok(overview(&state))
}

/// Takes the servers of another app's file (LM Studio's, Cursor's, Claude Desktop's) whose names
/// are new here, and starts them.
#[tauri::command]
#[specta::specta]
pub async fn mcp_import(state: State<'_, AppState>, path: String) -> Result<McpOverview, HearthError> {
    let theirs = mcp::McpConfig::read(std::path::Path::new(&path))?;
    let path = file(&state)?;
    let mut ours = mcp::McpConfig::read(&path)?;
    ours.import(theirs);
    library::mcp_secrets::keep(&mut ours, state.hearth.home.root()).map_err(hearth::library_error)?;
    ours.write(&path)?;
    state.hearth.mcp.reload().await?;
    Ok(overview(&state))
}

/// Starts one server again (after a failure, or to pick up what changed on its side).
#[tauri::command]
#[specta::specta]
pub async fn mcp_restart(state: State<'_, AppState>, name: String) -> Result<McpOverview, HearthError> {
    // A server that still fails is shown failed, with its sentence: that is the answer.
    state.hearth.mcp.start(&name).await.ok();
    Ok(overview(&state))
}

#[tauri::command]
#[specta::specta]
pub async fn mcp_set_permissions(
    state: State<'_, AppState>,
    read_only_without_asking: bool,
    always_allowed: Vec<(String, String)>,
) -> Result<McpOverview, HearthError> {
    let permissions = chat::Permissions { always: always_allowed.into_iter().collect(), read_only_without_asking };
    state.chat.set_permissions(&permissions)?;
    Ok(overview(&state))
}

/// The person's answer to a tool call that waits in a reply.
#[tauri::command]
#[specta::specta]
pub async fn chat_decide(state: State<'_, AppState>, call_id: u32, decision: ToolDecision) -> Result<(), HearthError> {
    state.chat.decide(i64::from(call_id), decision)
}
