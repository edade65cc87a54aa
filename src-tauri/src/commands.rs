//! The commands the window can call. Each is registered in `bindings.rs`, which also generates their
//! TypeScript signatures.

pub mod app;
pub mod chat;
pub mod connections;
pub mod downloads;
pub mod fit;
pub mod hardware;
pub mod hub;
pub mod links;
pub mod mcp;
pub mod models;
pub mod server;
pub mod settings;

/// A library failure as the window sees it (one mapping, the core's: the Hub's own codes, a plain
/// "cannot do that" for the person's mistakes, "internal" with details for the rest).
pub use hearth::library_error;
