//! Everything that can be wrong with a GGUF header, as a typed error with a sentence a person can read.
//! Hostile input ends here, never in a panic or a huge allocation.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GgufError {
    #[error("not a GGUF file (it starts with {found:02x?}, a GGUF file starts with \"GGUF\")")]
    NotGguf { found: [u8; 4] },
    #[error("GGUF version {0} is not supported (Hearth reads versions 2 and 3)")]
    UnsupportedVersion(u32),
    #[error("this is a big-endian GGUF file, which Hearth cannot read")]
    BigEndian,
    /// The bytes end before the header does. `needed` is how many bytes are needed at least.
    #[error("the file is truncated: the header needs at least {needed} bytes, only {have} are there")]
    Truncated { needed: u64, have: u64 },
    #[error("the header is larger than {limit} bytes, more than any real model's")]
    HeaderTooLarge { limit: u64 },
    #[error("{what} is {size}, over the limit of {limit}: the file is damaged or hostile")]
    TooLarge { what: &'static str, size: u64, limit: u64 },
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 { what: String },
    #[error("unknown metadata value type {value_type} for key {key:?}")]
    UnknownValueType { key: String, value_type: u32 },
    #[error("tensor {tensor:?} has unknown type {ggml_type}")]
    UnknownTensorType { tensor: String, ggml_type: u32 },
    #[error("tensor {tensor:?} is invalid: {why}")]
    BadTensor { tensor: String, why: String },
    #[error("metadata key {key:?} has the wrong type: expected {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("metadata key {0:?} appears twice")]
    DuplicateKey(String),
    #[error("the header is missing {0}")]
    Missing(&'static str),
    #[error("could not read the file: {0}")]
    Io(String),
    #[error("could not fetch the header: {0}")]
    Remote(String),
}

pub type Result<T> = std::result::Result<T, GgufError>;
