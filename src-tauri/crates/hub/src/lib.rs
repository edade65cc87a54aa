//! The Hugging Face Hub: search, model info, model cards, GGUF headers read through Range requests,
//! and a download manager that resumes, retries and verifies. Tests run against the mock Hub in
//! `tests/mockhub`, a real HTTP server on 127.0.0.1.

mod client;
pub mod download;
mod error;
mod paths;
mod remote;

pub use client::{
    checked_endpoint, GgufSummary, HubClient, Lfs, ModelInfo, ModelSummary, SearchPage, Sibling, Sort, TreeEntry, DEFAULT_ENDPOINT,
    MAX_CARD_BYTES, MAX_JSON_BYTES,
};
pub use error::{HubError, Result};
pub use paths::model_file_path;
pub use remote::{remote_facts, RemoteFile};
