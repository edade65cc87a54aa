//! The text of a document a person attaches to a message: PDF, DOCX, EPUB, HTML, Markdown, plain text
//! and source code. What comes out is one string and, for a PDF, where each page's text sits in it,
//! so a passage quoted later can say its page, and its quote is exactly these bytes.
//!
//! Reading is done by [`read`], but never in the process that has the window or the engine:
//! [`Reader`] runs it in a child process (this crate's `hearth-document-reader`, or the app or CLI
//! started with [`READER_FLAG`]) with a time and a memory limit, because a PDF parser meets hostile
//! files, and `pdf-extract` is known to panic on some (a panic, a stack overflow or an allocation
//! that never ends there is a sentence for the person, and the app goes on).
//!
//! The libraries, and why: `pdf-extract` (MIT, pure Rust, over `lopdf`) for PDFs, page by page, each
//! page read on its own so that one bad page does not lose the rest; `zip` + `quick-xml` for DOCX and
//! EPUB, which are zipped XML (every entry read through a bound, so a zip bomb is a sentence);
//! `html2text` for HTML and EPUB chapters (it parses with html5ever, the browsers' algorithm);
//! `encoding_rs` for text that is not UTF-8. No GPL code.

mod error;
mod html;
mod isolated;
mod kind;
mod pdf;
mod text;
pub mod whole;
mod zipped;

pub use error::DocumentError;
pub use isolated::{run_reader, Reader, READER_FLAG};
pub use kind::DocumentKind;
use serde::{Deserialize, Serialize};

/// The largest file read: 128 MiB (a 500-page scanned book is larger, but has no text to read; a
/// 500-page text PDF is a few MiB). A larger file is refused before it is read.
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// The most text a document may give: 64 MiB, about 16 million tokens, far beyond any context and
/// beyond what an index of passages is useful for; it bounds what a zip bomb or a PDF full of
/// repeated text can make the reader hold.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// A document's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The file's name, as the person gave it.
    pub name: String,
    pub kind: DocumentKind,
    /// All of its text, pages in order, separated by a blank line.
    pub text: String,
    /// For a PDF, each page's text in `text` (byte offsets); empty for formats without pages.
    pub pages: Vec<Page>,
    /// Pages that could not be read (their number, and why), for a PDF: said, not hidden.
    pub unread_pages: Vec<(u32, String)>,
}

/// One page: its number (from 1) and its text's bytes in [`Document::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub number: u32,
    pub start: usize,
    pub end: usize,
}

impl Document {
    /// The page that holds byte `offset` of the text, for a citation.
    pub fn page_at(&self, offset: usize) -> Option<u32> {
        self.pages.iter().find(|p| p.start <= offset && offset < p.end).map(|p| p.number)
    }

    /// A page's text.
    pub fn page(&self, number: u32) -> Option<&str> {
        self.pages.iter().find(|p| p.number == number).and_then(|p| self.text.get(p.start..p.end))
    }

    /// Whether every page's range lies in the text on character boundaries: checked where a
    /// document arrives from the reader process, before anything slices by them.
    pub fn is_consistent(&self) -> bool {
        self.pages.iter().all(|p| p.start <= p.end && self.text.get(p.start..p.end).is_some())
    }
}

/// Reads a document from its bytes, its kind from its name and its first bytes. Runs in this
/// process: hand a file from a person to [`Reader`] instead, which calls this in a child process.
pub fn read(bytes: &[u8], name: &str) -> Result<Document, DocumentError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DocumentError::TooLarge { bytes: bytes.len() as u64, limit: MAX_FILE_BYTES });
    }
    let kind = DocumentKind::of(name, bytes)?;
    let mut document = Document { name: name.to_owned(), kind, text: String::new(), pages: Vec::new(), unread_pages: Vec::new() };
    match kind {
        DocumentKind::Pdf => pdf::read(bytes, &mut document)?,
        DocumentKind::Docx => document.text = zipped::docx(bytes)?,
        DocumentKind::Epub => document.text = zipped::epub(bytes)?,
        DocumentKind::Html => document.text = html::text(&text::decode(bytes, name)?)?,
        DocumentKind::Text | DocumentKind::Markdown | DocumentKind::Code => document.text = text::decode(bytes, name)?,
    }
    if document.text.len() > MAX_TEXT_BYTES {
        return Err(DocumentError::TooMuchText { limit: MAX_TEXT_BYTES });
    }
    if document.text.trim().is_empty() {
        return Err(if kind == DocumentKind::Pdf && document.unread_pages.is_empty() {
            DocumentError::NoTextLayer { pages: document.pages.len() as u32 }
        } else {
            DocumentError::Empty
        });
    }
    Ok(document)
}

#[cfg(test)]
mod tests;
