//! GGUF, the file format of llama.cpp models: read a header from a file, from bytes, or from a remote
//! file through HTTP Range requests, into [`ModelFacts`]; write synthetic headers for tests.
//!
//! Input is untrusted (a download, a Hub we do not control): every count and length is bounded before
//! it is used, and every failure is a [`GgufError`], never a panic.

mod cursor;
mod error;
mod facts;
mod ggml_type;
mod header;
mod pairing;
mod reader;
mod split;
pub mod synthetic;
pub mod write;

pub use error::{GgufError, Result};
pub use facts::{ModelFacts, SplitInfo, MAX_LAYERS};
pub use ggml_type::{file_type_label, GgmlType};
pub use header::{Array, TensorInfo, Value};
pub use reader::{parse_bytes, read_file, read_remote, read_remote_with, RangeSource, FIRST_CHUNK, HEADER_CAP};
pub use pairing::{choose as choose_projector, is_projector_name, projector_beside, projector_facts_beside};
pub use split::{parse_split_name, split_siblings};

#[cfg(test)]
mod tests;
