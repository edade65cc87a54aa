//! What can go wrong with MCP servers, each as the values a sentence is written from (STYLE.md):
//! the file, the server, the command and the PATH searched, the last lines a server wrote.

use std::path::PathBuf;

use types::{Audience, ErrorCode};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum McpError {
    #[error("{path} is not valid JSON at line {line}, column {column}: {reason}. Nothing was changed; fix the file or remove it.", path = .path.display())]
    Malformed { path: PathBuf, line: usize, column: usize, reason: String },
    #[error("{path} could not be read or written.", path = .path.display())]
    Unreadable { path: PathBuf, why: String },
    #[error("The MCP server `{server}` {reason}.")]
    Spec { server: String, reason: String },
    #[error("There is no MCP server named `{0}` in mcp.json.")]
    UnknownServer(String),
    #[error("The MCP server `{server}` has no tool named `{tool}`.")]
    UnknownTool { server: String, tool: String },
    #[error("The MCP server `{server}` could not start: `{command}` was not found on the PATH searched ({searched}). Install it, or write its full path in mcp.json.", searched = join_paths(.searched))]
    NotFound { server: String, command: String, searched: Vec<PathBuf> },
    #[error("The MCP server `{server}` could not start `{command}`.")]
    Spawn { server: String, command: String, why: String },
    #[error("The MCP server `{server}` stopped before it was ready.{}", last(.last_lines))]
    Exited { server: String, last_lines: Vec<String> },
    #[error("The MCP server `{server}` did not answer MCP's handshake: {reason}.{}", last(.last_lines))]
    Handshake { server: String, reason: String, last_lines: Vec<String> },
    #[error("The MCP server `{server}` could not be reached at {url}: {reason}.")]
    Unreachable { server: String, url: String, reason: String },
    #[error("`{tool}` on the MCP server `{server}` went {seconds} seconds without an answer or progress, and was stopped. (An answer larger than 16 MiB is refused, and counts as none.)")]
    CallTimedOut { server: String, tool: String, seconds: u64 },
    #[error("The MCP server `{server}` went away during `{tool}`.")]
    Disconnected { server: String, tool: String },
    #[error("The MCP server `{server}` refused `{tool}`: {reason}.")]
    CallRefused { server: String, tool: String, reason: String },
    #[error("The arguments for `{tool}` are not a JSON object.")]
    BadArguments { tool: String },
    /// A value Hearth kept out of mcp.json (in the keychain) is gone.
    #[error("The MCP server `{server}` needs `{name}`, which Hearth no longer has (was the keychain reset?): enter it again in Settings → Tools.")]
    SecretMissing { server: String, name: String },
}

fn join_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if shown.is_empty() {
        "an empty PATH".into()
    } else {
        shown.join(if cfg!(windows) { ";" } else { ":" })
    }
}

fn last(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!(" Its last lines:\n{}", lines.join("\n"))
    }
}

impl types::Problem for McpError {
    fn code(&self) -> ErrorCode {
        match self {
            McpError::Malformed { .. }
            | McpError::Spec { .. }
            | McpError::UnknownServer(_)
            | McpError::UnknownTool { .. }
            | McpError::BadArguments { .. }
            | McpError::SecretMissing { .. } => {
                ErrorCode::InvalidInput
            }
            McpError::Unreadable { .. } => ErrorCode::HomeUnavailable,
            _ => ErrorCode::ToolServerFailed,
        }
    }

    /// The person and a client read the same sentence: MCP servers are this machine's own
    /// settings, shown to nobody else (no API serves them).
    fn sentence(&self, _to: Audience) -> String {
        self.to_string()
    }

    fn details(&self) -> Option<String> {
        match self {
            McpError::Unreadable { why, .. } | McpError::Spawn { why, .. } => Some(why.clone()),
            _ => None,
        }
    }
}
