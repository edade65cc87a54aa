//! What can be wrong with a picture, as the values its sentence is written from (STYLE.md).

use types::{Audience, ErrorCode};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    #[error("the picture is {} MB; Hearth reads pictures of up to 20 MB", .bytes / 1_000_000)]
    FileTooLarge { bytes: u64 },
    #[error("the picture is {width} × {height} pixels; Hearth reads pictures of up to 100 megapixels")]
    TooManyPixels { width: u32, height: u32 },
    #[error("this is not a PNG, JPEG, WebP or GIF picture{}", .starts.as_ref().map(|s| format!(" (it starts with “{s}”)")).unwrap_or_default())]
    NotAPicture { starts: Option<String> },
    /// `reason` is the decoder's own words: in the details.
    #[error("the {format} picture is damaged or cut short")]
    Damaged { format: &'static str, reason: String },
    #[error("only pictures sent in the request are read (a data: URL, such as data:image/png;base64,…); Hearth never fetches a {scheme}: address")]
    NotADataUrl { scheme: String },
    #[error("the picture's data URL cannot be read: {reason}")]
    BadDataUrl { reason: String },
}

impl ImageError {
    /// The sentence as an API client reads it, as part of a larger one.
    pub fn clause(&self) -> String {
        self.to_string()
    }
}

impl types::Problem for ImageError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidInput
    }

    fn sentence(&self, _to: Audience) -> String {
        let text = self.to_string();
        let mut chars = text.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".").unwrap_or_default()
    }

    fn details(&self) -> Option<String> {
        match self {
            ImageError::Damaged { reason, .. } => Some(reason.clone()),
            _ => None,
        }
    }
}
