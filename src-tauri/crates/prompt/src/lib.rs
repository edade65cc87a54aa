//! How a conversation becomes a prompt, and a reply becomes tool calls, for every model family.
//!
//! - `template` renders the chat with the model's own Jinja template, as Hugging Face does, on a
//!   budget that no published template can exceed (`template::bounds`); `template::family` gives a
//!   file without a template its family's.
//! - `tools` writes functions into the prompt of a template that knows nothing of them, finds the
//!   calls in what a model wrote, and builds the schema a forced call must match.
//!
//! Both read text anyone can publish or send, and neither needs llama.cpp, so they are fuzzed on
//! their own (`fuzz/`). The engine re-exports them (`engine::template`, `engine::tools`).

pub mod template;
pub mod tool_stream;
pub mod tools;
