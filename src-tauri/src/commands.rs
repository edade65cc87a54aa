//! The commands the window can call. Each is registered in `bindings.rs`, which also generates their
//! TypeScript signatures.

pub mod app;
pub mod downloads;
pub mod fit;
pub mod hardware;
pub mod hub;
