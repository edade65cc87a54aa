//! The library of model files, and the download queue that fills it.
//!
//! - [`pick`] turns `org/name[:QUANT]` into the files to fetch (all parts of a split model).
//! - [`Downloads`] runs the queue: one download at a time, state in SQLite so a restarted app resumes
//!   it, pause / resume / cancel, progress events; a verified file enters the library.
//! - [`scan`] finds model files already on disk: the models folder, the Hugging Face cache, LM
//!   Studio's folder, so nothing is downloaded twice.
//! - [`Connections`] are the person's engines on other machines, with their keys in the keychain.

pub mod connections;
pub mod discover;
mod downloads;
pub mod load_time;
pub mod mcp_secrets;
mod models;
mod pick;
mod queue;
mod scan;
pub mod settings;
pub mod token;

pub use connections::Connections;
pub use discover::{model_page, to_hub_model};
pub use downloads::{DownloadEvent, Downloads};
pub use models::{delete, import, list, Removed};
pub use pick::{pick, quant_of, Picked};
pub use queue::{internal as queue_internal, DownloadQueue, WATCH_EVERY};
pub use scan::{known_folders, scan, Found};
pub use token::TokenStore;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    Hub(#[from] hub::HubError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{repo} has no GGUF file{}", .quant.as_ref().map(|q| format!(" at {q}")).unwrap_or_default())]
    NoSuchFile { repo: String, quant: Option<String> },
    #[error("no download with id {0}")]
    UnknownDownload(i64),
    #[error("no model with id {0} in the library")]
    UnknownModel(i64),
    /// Something the person asked for that cannot be done; the message says why.
    #[error("{0}")]
    Invalid(String),
}

impl types::Problem for LibraryError {
    fn code(&self) -> types::ErrorCode {
        use types::ErrorCode as C;
        match self {
            LibraryError::Hub(h) => h.code(),
            LibraryError::Invalid(_) => C::InvalidInput,
            LibraryError::NoSuchFile { .. } | LibraryError::UnknownModel(_) | LibraryError::UnknownDownload(_) => C::NotFound,
            LibraryError::Store(_) => C::Internal,
        }
    }

    fn sentence(&self, to: types::Audience) -> String {
        match self {
            LibraryError::Hub(h) => h.sentence(to),
            LibraryError::Invalid(why) => why.clone(),
            LibraryError::NoSuchFile { .. } => format!("{self}."),
            LibraryError::UnknownModel(_) | LibraryError::UnknownDownload(_) => "That is no longer in the library.".into(),
            LibraryError::Store(_) => "Hearth could not read or write its library.".into(),
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            LibraryError::Store(e) => Some(e.to_string()),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, LibraryError>;
