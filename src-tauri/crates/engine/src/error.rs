//! What can go wrong in the engine, with the values of what went wrong. The sentences are written
//! here for each reader (`Audience`): the person at this machine reads the model's whole path and
//! the worker's last log lines; a client of the API reads the file name and no log. Text from
//! llama.cpp or the operating system (`reason`) is carried as it came: it is not Hearth's to type.

use std::path::PathBuf;

use types::{shown_path, with_log, Audience, ErrorCode, Problem};

#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    NoModel,
    /// A reply asked for a model the worker no longer holds.
    Replaced { asked: String, loaded: String },
    NotStarted { program: PathBuf, reason: String },
    NoPipes,
    StoppedLoading,
    StoppedBeforeAnswer,
    ShuttingDown,
    StoppedListening { reason: String },
    TableBroke,
    Stopped,
    /// The worker ended; `last_lines` is its log's tail.
    Died { status: String, last_lines: Vec<String> },
    DiedLoading { status: String, last_lines: Vec<String> },
    IllegalInstruction { variant: String },
    DevicesUnlisted { reason: String },
    DevicesRefused { reason: String },
    NoSuchDevice { name: String, have: Vec<String> },
    FileMissing { path: PathBuf },
    LoadFailed { path: PathBuf, reason: String },
    NoContext { reason: String },
    ReaderBehind { pieces: usize },
    AnswerTooLarge { mib: u64, limit_mib: u64 },
    /// Refused by Hearth's check before llama.cpp's converter sees it.
    Schema(schema::SchemaError),
    SchemaRefused { reason: String },
    GrammarDeadEnd,
    NoTokenChosen,
    /// Neither the model's template nor llama.cpp's built-in ones could render the conversation.
    Template { jinja: String, builtin: String },
    NoSuchTemplate { name: String },
    TooLong { tokens: usize, n_ctx: usize },
    CacheFull,
    BenchTooLong { n_prompt: u32, n_gen: u32, n_ctx: u32 },
    SlotsBusy,
    NotAnEmbedder { arch: String },
    TokenOutOfVocab { n_vocab: i32 },
    EmptyInput,
    InputTooLong { tokens: usize, limit: usize },
    EmbeddingsCancelled,
    NoPooledEmbedding,
    /// llama.cpp failed at a step that should not fail (`what`: "decode", "queue a token", …).
    Llama { what: &'static str, reason: String },
    TooManyLogits,
    /// The load names a projector file that is not there.
    ProjectorMissing { path: PathBuf },
    /// The projector writes embeddings of another width than the model reads.
    ProjectorWidth { projector: PathBuf, projector_width: u64, model_width: u64 },
    /// llama.cpp's multimodal library refused the projector; its reason is in the worker's log.
    ProjectorFailed { projector: PathBuf, last_lines: Vec<String> },
    /// A picture was sent to a model loaded without a projector.
    NoVision { model: String },
    /// The projector could not read a picture (`reason`: which step failed).
    PictureUnread { reason: String },
    /// The template left out or repeated the place of a picture.
    PicturesMisplaced { sent: usize, placed: usize },
    TooManyPictures { sent: usize, limit: usize },
}

impl Problem for EngineError {
    fn code(&self) -> ErrorCode {
        use EngineError::*;
        match self {
            NoModel | Replaced { .. } => ErrorCode::NoModelLoaded,
            NotStarted { .. }
            | NoPipes
            | StoppedLoading
            | StoppedBeforeAnswer
            | ShuttingDown
            | StoppedListening { .. }
            | TableBroke
            | Stopped
            | Died { .. }
            | IllegalInstruction { .. }
            | DevicesUnlisted { .. } => ErrorCode::EngineCrashed,
            DiedLoading { .. } | DevicesRefused { .. } | NoSuchDevice { .. } | FileMissing { .. } | LoadFailed { .. } | NoContext { .. } => {
                ErrorCode::ModelLoadFailed
            }
            AnswerTooLarge { .. }
            | Schema(_)
            | SchemaRefused { .. }
            | GrammarDeadEnd
            | NotAnEmbedder { .. }
            | TokenOutOfVocab { .. }
            | EmptyInput
            | EmbeddingsCancelled
            | NoPooledEmbedding
            | NoVision { .. }
            | PictureUnread { .. }
            | PicturesMisplaced { .. }
            | TooManyPictures { .. } => ErrorCode::InvalidInput,
            ProjectorMissing { .. } | ProjectorWidth { .. } | ProjectorFailed { .. } => ErrorCode::ModelLoadFailed,
            Template { .. } | NoSuchTemplate { .. } => ErrorCode::TemplateError,
            TooLong { .. } | CacheFull | BenchTooLong { .. } | InputTooLong { .. } => ErrorCode::ContextFull,
            ReaderBehind { .. } | NoTokenChosen | SlotsBusy | Llama { .. } | TooManyLogits => ErrorCode::Internal,
        }
    }

    fn sentence(&self, to: Audience) -> String {
        use EngineError::*;
        match self {
            NoModel => "No model is loaded. Load a model first.".into(),
            Replaced { asked, loaded } => format!("{asked} is no longer loaded ({loaded} was loaded in its place). Load it again."),
            NotStarted { program, reason } => format!("The engine could not be started ({}: {reason}).", shown_path(program, to)),
            NoPipes => "The engine was started without its pipes.".into(),
            StoppedLoading => "The engine stopped answering while loading.".into(),
            StoppedBeforeAnswer => "The engine stopped before it answered.".into(),
            ShuttingDown => "The engine is shutting down.".into(),
            StoppedListening { reason } => format!("The engine stopped listening ({reason})."),
            TableBroke => "The engine's request table broke.".into(),
            Stopped => "The engine has stopped.".into(),
            Died { status, last_lines } => {
                with_log(format!("The engine stopped unexpectedly ({status}); the model is no longer loaded."), last_lines, to)
            }
            DiedLoading { status, last_lines } => with_log(
                format!("llama.cpp stopped while loading the model ({status}). The file may be damaged or not supported."),
                last_lines,
                to,
            ),
            IllegalInstruction { variant } => format!(
                "llama.cpp's CPU backend built for {variant} stopped with an illegal instruction: this processor does not run it \
                 after all. Hearth leaves it out from now on and uses the next one down; load the model again."
            ),
            DevicesUnlisted { reason } => format!("The engine could not list its devices: {reason}."),
            DevicesRefused { reason } => format!("llama.cpp refused the plan's devices: {reason}"),
            NoSuchDevice { name, have } => {
                format!("The plan puts layers on {name}, which the engine does not have (it has {}).", have.join(", "))
            }
            FileMissing { path } => format!("There is no model file at {}.", shown_path(path, to)),
            LoadFailed { path, reason } => format!(
                "llama.cpp could not load {} ({}). The file may be damaged or incomplete, or of an architecture this version does not know.",
                shown_path(path, to),
                // llama.cpp's reason can quote the path it was given.
                match to {
                    Audience::Person => reason.clone(),
                    Audience::Client => reason.replace(&path.display().to_string(), &shown_path(path, to)),
                }
            ),
            NoContext { reason } => format!(
                "llama.cpp could not make a context of this size for the model ({reason}). Try a shorter context; \
                 a quantized V cache also needs flash attention."
            ),
            ReaderBehind { pieces } => format!("This reply was stopped: whoever asked for it fell {pieces} pieces behind reading it."),
            AnswerTooLarge { mib, limit_mib } => {
                format!("The answer would be {mib} MiB, more than the {limit_mib} MiB the engine sends at once. Ask for less at a time.")
            }
            Schema(refused) => format!("This JSON schema cannot be enforced: {refused}."),
            SchemaRefused { reason } => format!("This JSON schema cannot be enforced: {reason}."),
            GrammarDeadEnd => "The reply cannot go on: its JSON schema allows nothing at this point.".into(),
            NoTokenChosen => "The constrained sampler chose no token.".into(),
            Template { jinja, builtin } => format!(
                "This conversation cannot be turned into a prompt for this model: {jinja}, and llama.cpp's built-in templates {builtin}."
            ),
            NoSuchTemplate { name } => {
                format!("There is no built-in chat template called \"{name}\". Choose another in the model's settings.")
            }
            TooLong { tokens, n_ctx } => format!(
                "The conversation is {tokens} tokens long and the context holds {n_ctx}. Start a new chat, load the \
                 model with a longer context, or let old messages be left out."
            ),
            CacheFull => "The context is full: llama.cpp found no room in the cache.".into(),
            BenchTooLong { n_prompt, n_gen, n_ctx } => {
                format!("A bench of {n_prompt} prompt and {n_gen} generated tokens needs a context of that many; this one holds {n_ctx}.")
            }
            SlotsBusy => "Every sequence is busy.".into(),
            NotAnEmbedder { arch } => format!(
                "This model cannot make embeddings: its file names no pooling ({arch}.pooling_type), as chat models' files do not. \
                 Load an embedding model (nomic-embed, bge, all-MiniLM…)."
            ),
            TokenOutOfVocab { n_vocab } => format!("A token id is outside this model's vocabulary of {n_vocab}."),
            EmptyInput => "An input to embed is empty.".into(),
            InputTooLong { tokens, limit } => {
                format!("An input is {tokens} tokens long; this model embeds at most {limit} as loaded here.")
            }
            EmbeddingsCancelled => "The embeddings were cancelled: nobody waits for them any more.".into(),
            NoPooledEmbedding => "llama.cpp made no pooled embedding for this model.".into(),
            Llama { what, reason } => format!("llama.cpp could not {what}: {reason}"),
            TooManyLogits => "A batch asked for more logits than the context keeps.".into(),
            ProjectorMissing { path } => {
                format!("The model's projector (the part that reads pictures) is missing: there is no file at {}.", shown_path(path, to))
            }
            ProjectorWidth { projector, projector_width, model_width } => format!(
                "The projector {} does not belong to this model: it writes embeddings {projector_width} wide, and the model reads \
                 {model_width}. Choose the projector made for this model.",
                shown_path(projector, to)
            ),
            ProjectorFailed { projector, last_lines } => with_log(
                format!("llama.cpp could not load the projector {}: it may be damaged, or of a kind this version does not know.", shown_path(projector, to)),
                last_lines,
                to,
            ),
            NoVision { model } => format!(
                "{model} reads text only: it was loaded without a projector (an mmproj file), so it cannot read pictures. \
                 Send text, or use a model that sees images."
            ),
            PictureUnread { reason } => format!("The model's projector could not read a picture ({reason})."),
            PicturesMisplaced { sent, placed } => format!(
                "The conversation has {sent} pictures, and the model's chat template put {placed} in the prompt: it cannot carry \
                 pictures where they were sent (a picture in a system message, for instance)."
            ),
            TooManyPictures { sent, limit } => format!("{sent} pictures were sent; Hearth sends a model at most {limit} at once."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::HearthError;

    // What redact.rs once did by reading the English, done on the values.
    #[test]
    fn a_client_reads_no_path_and_no_log() {
        let path = PathBuf::from("/home/ann/My Models/x y.gguf");
        let e = HearthError::from(EngineError::LoadFailed {
            path: path.clone(),
            reason: "failed to open /home/ann/My Models/x y.gguf: bad magic".into(),
        });
        assert!(e.message.contains("/home/ann/My Models/x y.gguf"), "{}", e.message);
        assert_eq!(
            e.public_message(),
            "llama.cpp could not load x y.gguf (failed to open x y.gguf: bad magic). The file may be damaged or incomplete, \
             or of an architecture this version does not know."
        );
        let died = HearthError::from(EngineError::Died {
            status: "exit status: 134".into(),
            last_lines: vec!["ggml.c:12: GGML_ASSERT failed".into(), "/build/x.c".into()],
        });
        assert!(died.message.ends_with("Its last lines:\nggml.c:12: GGML_ASSERT failed\n/build/x.c"), "{}", died.message);
        assert_eq!(died.public_message(), "The engine stopped unexpectedly (exit status: 134); the model is no longer loaded.");
        assert_eq!(died.code, ErrorCode::EngineCrashed);
        assert_eq!(HearthError::from(EngineError::FileMissing { path }).public_message(), "There is no model file at x y.gguf.");
    }
}
