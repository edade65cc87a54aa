//! Hearth's engine: llama.cpp in a worker process, and the async host that drives it.
//!
//! The host (`EngineHost`) starts the worker (`run_worker`, the same executable started with a
//! hidden flag, or the `hearth-engine-worker` binary) and speaks the framed protocol of `protocol`
//! over its stdin/stdout: load with progress, generate with streamed tokens, cancel, tokenize,
//! unload. If the worker dies, every pending request gets `ENGINE_CRASHED` with the last lines it
//! logged, and the next load starts a fresh one. Inside the worker, `session` renders the chat with
//! the model's own template (`template`, from the prompt crate), reuses the K/V cache for the prefix shared with the last
//! request, samples, and turns token bytes into text (`utf8`, `stop`).

mod calls;
pub mod devices;
mod error;
pub mod grammar;
mod host;
pub mod llama_params;
mod logs;
mod outbox;
pub mod protocol;
mod reply;
mod session;
mod stop;
mod utf8;
mod vision;
mod worker;

/// The JSON-schema check every constraint passes before llama.cpp's converter (its own crate, so
/// that it can be fuzzed without llama.cpp).
pub use schema;
/// Chat templates and tool calls as text (their own crate, fuzzed without llama.cpp).
pub use prompt::{template, tool_stream, tools};
pub use error::EngineError;
pub use host::{EngineHost, Generation, LoadEvent, WorkerCommand};
/// A reply as it comes: the one stream type every surface consumes.
pub use types::ReplyEvent;
pub use protocol::{Constraint, EmbedInput, GenerateParams, LoadParams, Prompt, RequestId};

/// The longest input one embedding takes, in tokens, on any load (a load's own limit is its
/// plan's, `LoadParams::embed_tokens`): the embedding context is made this long at most.
pub const MAX_EMBED_TOKENS: usize = types::MAX_EMBED_TOKENS as usize;

/// A model file's name, as messages and the model picker show it.
pub fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
pub use worker::{physical_cores, run_worker};
