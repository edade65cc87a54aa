//! The one error shape that crosses the IPC boundary: a stable code a program can match on, a message a
//! person can act on, and optional details for a bug report. The window shows `message`, never a Rust
//! debug string.

use serde::{Deserialize, Serialize};
use specta::Type;

/// Declares `ErrorCode` and `ErrorCode::ALL` from one list, so the list the UI checks codes
/// against (exported to TypeScript as `ERROR_CODES`) cannot miss one.
macro_rules! error_codes {
    ($(#[$meta:meta])* pub enum ErrorCode { $($(#[doc = $doc:literal])* $code:ident,)* }) => {
        $(#[$meta])*
        pub enum ErrorCode { $($(#[doc = $doc])* $code,)* }

        impl ErrorCode {
            /// Every code, in order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code),*];
        }
    };
}

error_codes! {
    /// Stable error codes. New codes are added at the end; none is ever renamed, since the UI and scripts
    /// match on them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum ErrorCode {
        /// Hearth's home folder could not be found or created.
        HomeUnavailable,
        /// Reading the hardware failed in a way that left no usable profile.
        ProbeFailed,
        /// Something that should not happen; the details say what.
        Internal,
        /// The Hub (or the network) cannot be reached: Hearth is offline.
        HubUnreachable,
        /// The model is gated: request access on its page, then add a token.
        GatedModel,
        /// The Hub has no such model or file (or it is private).
        NotFound,
        /// The Hub refused the token.
        Unauthorized,
        /// The Hub is rate-limiting; try again later.
        RateLimited,
        /// A download did not match the Hub's sha256 or size; it was deleted.
        DownloadChecksumMismatch,
        /// Not enough free disk space.
        DiskFull,
        /// The Hub sent something Hearth could not read.
        BadResponse,
        /// What the person gave cannot be used: not a GGUF file, not a folder, not an address.
        InvalidInput,
        /// The engine's worker process stopped unexpectedly; the model is no longer loaded.
        EngineCrashed,
        /// llama.cpp could not load the model file (damaged, unsupported, or not enough memory).
        ModelLoadFailed,
        /// The model's chat template could not turn the conversation into a prompt.
        TemplateError,
        /// The conversation does not fit in the model's context.
        ContextFull,
        /// A request needs a loaded model and none is loaded.
        NoModelLoaded,
        /// The plan says the model will not fit; the message says what loading it anyway would do,
        /// and only the person's confirmation (`force`) loads it.
        WouldNotFit,
        /// A connection's endpoint (another machine's engine) did not answer: not running, wrong
        /// address, or the network is down.
        RemoteUnreachable,
        /// A connection's endpoint refused the key (HTTP 401 or 403).
        RemoteRefused,
        /// A connection's endpoint no longer serves the model.
        RemoteModelGone,
        /// A connection's reply broke off mid-stream; the text so far is kept.
        RemoteCut,
        /// A model cannot be loaded now: making room would unload one that is answering someone.
        ModelsBusy,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct HearthError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<String>,
}

impl HearthError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

impl std::fmt::Display for HearthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HearthError {}

#[cfg(test)]
mod tests {
    use super::*;

    // The UI matches on this exact shape; a change here must be deliberate.
    #[test]
    fn error_serializes_as_code_message_details() {
        let e = HearthError::new(ErrorCode::ProbeFailed, "Could not read the hardware.").with_details("x");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"code":"PROBE_FAILED","message":"Could not read the hardware.","details":"x"}"#);
    }
}
