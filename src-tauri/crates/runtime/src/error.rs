//! Why the runtime will not load a model, with the values of what went wrong; the sentences are
//! written here for each reader (`Audience`).

use std::path::PathBuf;

use types::{shown_path, Audience, ErrorCode, FitPlan, Problem};

#[derive(Debug, Clone)]
pub enum RuntimeError {
    /// The planner cannot say what the file needs (`reason` is the plan's).
    Unplannable { file: String, reason: String },
    /// The plan is red and the person did not say "load it anyway".
    WouldNotFit { file: String, plan: Box<FitPlan> },
    /// Making room would unload a model that is answering someone.
    Busy,
    StoppedLoading,
    Unreadable { path: PathBuf, error: gguf::GgufError },
}

impl Problem for RuntimeError {
    fn code(&self) -> ErrorCode {
        match self {
            RuntimeError::Unplannable { .. } | RuntimeError::Unreadable { .. } => ErrorCode::ModelLoadFailed,
            RuntimeError::WouldNotFit { .. } => ErrorCode::WouldNotFit,
            RuntimeError::Busy => ErrorCode::ModelsBusy,
            RuntimeError::StoppedLoading => ErrorCode::EngineCrashed,
        }
    }

    fn sentence(&self, _to: Audience) -> String {
        match self {
            RuntimeError::Unplannable { file, reason } => format!("{file} cannot be planned: {reason}"),
            RuntimeError::WouldNotFit { file, plan } => fit::overflow_warning(file, plan),
            RuntimeError::Busy => "Every model loaded now is answering someone, and there is no room for another beside them. \
                                   Try again when a reply has ended."
                .into(),
            RuntimeError::StoppedLoading => "The engine stopped while loading the model.".into(),
            // The file name, whoever reads it: the header's error says what is wrong inside it.
            RuntimeError::Unreadable { path, error } => {
                format!("{} is not a model Hearth can read: {error}", shown_path(path, Audience::Client))
            }
        }
    }
}
