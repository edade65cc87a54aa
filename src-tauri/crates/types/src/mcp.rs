//! MCP servers as Settings and the Chat view show them.

use serde::{Deserialize, Serialize};
use specta::Type;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum McpState {
    /// `disabled` in mcp.json.
    Off,
    Starting,
    Ready,
    Failed,
    Reconnecting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct McpTool {
    pub name: String,
    pub description: String,
    pub read_only: bool,
    pub destructive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct McpServer {
    pub name: String,
    /// The command it runs or the address it reaches, env values and headers masked.
    pub shown: String,
    pub state: McpState,
    /// Why it failed, in a sentence.
    pub reason: Option<String>,
    pub tools: Vec<McpTool>,
}

/// Everything Settings shows of MCP: the file, whether it could be read, the servers, and the
/// person's standing answers to tool calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct McpOverview {
    pub path: String,
    /// Why mcp.json could not be read (its line and column), when it could not.
    pub file_error: Option<String>,
    pub servers: Vec<McpServer>,
    /// Tools a server marks read-only run without asking.
    pub read_only_without_asking: bool,
    /// Tools allowed for good: server and tool.
    pub always_allowed: Vec<(String, String)>,
    /// The other apps whose files can be imported from here: name and path.
    pub importable: Vec<(String, String)>,
}
