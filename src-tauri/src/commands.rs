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
pub mod models;
pub mod server;
pub mod settings;

use types::{ErrorCode, HearthError};

/// A library failure as the window sees it: the Hub's own codes, a plain "cannot do that" for the
/// person's mistakes, and "internal" (with details for a bug report) for the rest.
pub fn library_error(e: library::LibraryError) -> HearthError {
    match e {
        library::LibraryError::Hub(h) => h.into(),
        library::LibraryError::Invalid(why) => HearthError::new(ErrorCode::InvalidInput, why),
        library::LibraryError::UnknownModel(_) | library::LibraryError::UnknownDownload(_) => {
            HearthError::new(ErrorCode::NotFound, "That is no longer in the library.")
        }
        other => HearthError::new(ErrorCode::Internal, "Hearth could not read or write its library.").with_details(other.to_string()),
    }
}
