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
        /// An MCP server (a tool provider) could not be started or reached, or failed a call.
        ToolServerFailed,
    }
}

/// An error as it leaves the crate that knew what went wrong: its code, the sentence for the person at
/// this machine, the sentence for a client of the API when that one must differ, and details for a
/// bug report. Each crate writes these from its own typed error (`Problem`), never from another
/// error's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct HearthError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<String>,
    /// What a client of the API reads instead of `message`: the same sentence written from the same
    /// values without an absolute path (a user name, a folder layout) or the worker's log lines.
    /// Absent when the two are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
}

impl HearthError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None, public: None }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// The sentence a client of the API may read.
    pub fn public_message(&self) -> &str {
        self.public.as_deref().unwrap_or(&self.message)
    }
}

/// Who reads a sentence. The person at this machine is told everything; a client of the API, which
/// may be another machine, is told what it needs to act on and nothing of this machine's folders or
/// the engine's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Person,
    Client,
}

/// A crate's typed error: the values of what went wrong, written as a sentence only when it reaches
/// an edge (the window, the CLI, the API) and for whoever reads it there.
pub trait Problem {
    fn code(&self) -> ErrorCode;
    fn sentence(&self, to: Audience) -> String;
    /// What a bug report needs beyond the sentence (another program's own words); the window and
    /// the log show it, the API never does.
    fn details(&self) -> Option<String> {
        None
    }
}

impl<P: Problem> From<P> for HearthError {
    fn from(p: P) -> Self {
        let message = p.sentence(Audience::Person);
        let public = Some(p.sentence(Audience::Client)).filter(|c| *c != message);
        Self { code: p.code(), message, details: p.details(), public }
    }
}

/// `path` as `to` may read it: whole for the person, only its file name for a client.
pub fn shown_path(path: &std::path::Path, to: Audience) -> String {
    match to {
        Audience::Person => path.display().to_string(),
        Audience::Client => path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
    }
}

/// The engine's last log lines after a sentence, for the person only: they name this machine's
/// folders and llama.cpp's internals.
pub fn with_log(sentence: String, last_lines: &[String], to: Audience) -> String {
    match to {
        Audience::Person if !last_lines.is_empty() => format!("{sentence} Its last lines:\n{}", last_lines.join("\n")),
        _ => sentence,
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

    struct Missing(std::path::PathBuf);

    impl Problem for Missing {
        fn code(&self) -> ErrorCode {
            ErrorCode::ModelLoadFailed
        }
        fn sentence(&self, to: Audience) -> String {
            with_log(format!("There is no model file at {}.", shown_path(&self.0, to)), &["gguf: /home/ann/x.gguf".into()], to)
        }
    }

    // Redaction works on the values, not on the English: the client's sentence is written with the
    // file name where the person's has the whole path, and without the log lines.
    #[test]
    fn a_client_reads_the_sentence_without_paths_or_log_lines() {
        let e = HearthError::from(Missing("/home/ann/My Models/x y.gguf".into()));
        assert_eq!(e.message, "There is no model file at /home/ann/My Models/x y.gguf. Its last lines:\ngguf: /home/ann/x.gguf");
        assert_eq!(e.public_message(), "There is no model file at x y.gguf.");
        let plain = HearthError::new(ErrorCode::NoModelLoaded, "No model is loaded.");
        assert_eq!(plain.public_message(), "No model is loaded.");
    }
}
