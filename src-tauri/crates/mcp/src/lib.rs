//! Hearth's MCP client, on the official Rust SDK (`rmcp`, pinned): the servers of `mcp.json`
//! (`config`, in the notation Cursor, LM Studio and Claude Desktop share), started over stdio in a
//! process group of their own on the PATH a terminal would have (`launch`) or reached over
//! streamable HTTP (`connection`), each with its state (`servers::Servers`, the one owner of them
//! while Hearth runs); their tools named for the model (`names`), calls bounded in time and their
//! results capped (`outcome`). Errors are `McpError`, a sentence each (`error`).

mod config;
mod connection;
mod error;
mod launch;
mod names;
mod outcome;
mod servers;

pub use config::{other_apps_files, McpConfig, Spec, Transport, DEFAULT_TIMEOUT};
pub use connection::{Connection, ToolInfo};
pub use error::McpError;
pub use launch::{resolve, search_path};
pub use names::{offer, Offered};
pub use outcome::{Image, Outcome, MAX_RESULT_CHARS};
pub use servers::{Fill, Servers, State, Status};
