use thiserror::Error;

/// Why a document gave no text. Each says it in a sentence a person can act on; none loses
/// anything (the file is only read).
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
pub enum DocumentError {
    #[error("The file is {} MB; Hearth reads documents up to {} MB.", bytes.div_ceil(1 << 20), limit >> 20)]
    TooLarge { bytes: u64, limit: u64 },
    #[error("The document holds more than {} MB of text; Hearth reads up to that much of one document. Split it, or attach the part you need.", limit >> 20)]
    TooMuchText { limit: usize },
    #[error("Hearth cannot read {name} as a document: it reads PDF, DOCX, EPUB, HTML, Markdown, plain text and source code.")]
    Unsupported { name: String },
    #[error("{name} is not text: it holds binary data (a program, a picture or an archive named as text).")]
    Binary { name: String },
    #[error("The PDF is encrypted (password-protected); Hearth cannot read it. Save a copy without the password, or print it to a new PDF, and attach that.")]
    Encrypted,
    #[error("The PDF has no text to read in its {pages} page(s): it is likely a scan (pictures of pages). A model that sees images can read a page attached as a picture.")]
    NoTextLayer { pages: u32 },
    #[error("The document has no text in it.")]
    Empty,
    #[error("The file is damaged or is not a valid {kind}: {reason}")]
    Malformed { kind: String, reason: String },
    #[error("The {kind} is a zip archive that unpacks to more than {} MB (a zip bomb, or not a document); Hearth stopped reading it.", limit >> 20)]
    ZipBomb { kind: String, limit: u64 },
    #[error("Reading the document failed inside the reader ({reason}). The file may be damaged or built to break readers; nothing else was affected.")]
    ReaderFailed { reason: String },
    #[error("Hearth's document reader could not start ({reason}); the file was not read.")]
    ReaderUnavailable { reason: String },
    #[error("Reading the document took longer than {seconds} s, so Hearth stopped it. The file may be damaged or very large.")]
    TimedOut { seconds: u64 },
    #[error("Reading the document was cancelled.")]
    Cancelled,
    #[error("Hearth could not read the file: {reason}")]
    Io { reason: String },
}
