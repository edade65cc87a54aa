//! HTML (a saved page, an EPUB chapter) into readable text, as `html2text` lays it out: paragraphs,
//! lists, headings marked, tables drawn as text tables (their cells kept together, not run into one
//! line), link targets as footnotes.

use crate::DocumentError;

/// Lines are wrapped at this width (wide: a model reads lines, a person reads the quote).
const WIDTH: usize = 120;

pub fn text(html: &str) -> Result<String, DocumentError> {
    html2text::config::plain()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), WIDTH)
        .map_err(|e| DocumentError::Malformed { kind: "HTML".into(), reason: e.to_string() })
}
