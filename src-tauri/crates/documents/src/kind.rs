use serde::{Deserialize, Serialize};

use crate::DocumentError;

/// What a file is, as far as reading its text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocumentKind {
    Pdf,
    Docx,
    Epub,
    Html,
    Markdown,
    /// Source code: read as text (its name says the language).
    Code,
    Text,
}

/// Extensions read as source code: the languages people paste into a chat most.
const CODE: &[&str] = &[
    "rs",
    "py",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "svelte",
    "vue",
    "c",
    "h",
    "cc",
    "cpp",
    "cxx",
    "hpp",
    "cs",
    "java",
    "kt",
    "kts",
    "go",
    "rb",
    "php",
    "swift",
    "m",
    "mm",
    "scala",
    "sh",
    "bash",
    "zsh",
    "fish",
    "ps1",
    "bat",
    "cmd",
    "lua",
    "pl",
    "r",
    "jl",
    "dart",
    "sql",
    "css",
    "scss",
    "less",
    "json",
    "jsonl",
    "yaml",
    "yml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "xml",
    "gradle",
    "cmake",
    "make",
    "mk",
    "dockerfile",
    "tf",
    "proto",
    "graphql",
    "hs",
    "ml",
    "ex",
    "exs",
    "erl",
    "clj",
    "zig",
    "nim",
    "v",
    "sv",
    "vhd",
    "asm",
    "s",
];
const TEXT: &[&str] = &["txt", "text", "log", "csv", "tsv", "rst", "adoc", "org", "tex", "bib", "srt", "vtt", ""];

impl DocumentKind {
    /// The kind of a file, from its name and its first bytes: a PDF says what it is whatever its
    /// name, and so does a DOCX or EPUB named otherwise; a name with no extension (`README`,
    /// `Makefile`) is text.
    pub fn of(name: &str, bytes: &[u8]) -> Result<Self, DocumentError> {
        let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let ext = file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        if bytes.starts_with(b"%PDF-") || ext == "pdf" {
            return Ok(Self::Pdf);
        }
        // A zip sent without its extension (an API client's bare file name): its first entries'
        // names say which kind (they are stored plainly in the local headers).
        if bytes.starts_with(b"PK\x03\x04") && !matches!(ext.as_str(), "docx" | "epub") {
            let head = &bytes[..bytes.len().min(64 * 1024)];
            let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
            if has(b"application/epub+zip") || has(b"META-INF/container.xml") {
                return Ok(Self::Epub);
            }
            if has(b"word/") {
                return Ok(Self::Docx);
            }
        }
        let kind = match ext.as_str() {
            "docx" => Self::Docx,
            "epub" => Self::Epub,
            "html" | "htm" | "xhtml" => Self::Html,
            "md" | "markdown" | "mdx" => Self::Markdown,
            e if CODE.contains(&e) => Self::Code,
            e if TEXT.contains(&e) => Self::Text,
            _ => return Err(DocumentError::Unsupported { name: file.to_owned() }),
        };
        Ok(kind)
    }

    /// Its name in a sentence.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Docx => "DOCX",
            Self::Epub => "EPUB",
            Self::Html => "HTML",
            Self::Markdown => "Markdown",
            Self::Code => "source code",
            Self::Text => "text",
        }
    }
}
