//! DOCX and EPUB: zip archives of XML. Every entry is read through a bound (the size the archive
//! declares can lie), and all of them together through another, so a zip bomb stops at
//! `MAX_UNPACKED` with a sentence instead of filling memory.

use std::io::{Cursor, Read};

use quick_xml::events::Event;
use quick_xml::Reader as Xml;
use zip::ZipArchive;

use crate::{html, DocumentError};

/// The most one document's archive may unpack to: 256 MiB (a novel's EPUB is a few MB unpacked;
/// a DOCX with pictures more, but pictures are never unpacked here).
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;
/// The most entries an archive may list.
const MAX_ENTRIES: usize = 20_000;

struct Archive {
    zip: ZipArchive<Cursor<Vec<u8>>>,
    kind: &'static str,
    unpacked: u64,
}

impl Archive {
    fn open(bytes: &[u8], kind: &'static str) -> Result<Self, DocumentError> {
        let zip = ZipArchive::new(Cursor::new(bytes.to_vec())).map_err(|e| malformed(kind, e.to_string()))?;
        if zip.len() > MAX_ENTRIES {
            return Err(malformed(kind, format!("it lists {} files", zip.len())));
        }
        Ok(Self { zip, kind, unpacked: 0 })
    }

    /// An entry's text, or None when the archive has no such entry.
    fn text(&mut self, name: &str) -> Result<Option<String>, DocumentError> {
        let kind = self.kind;
        let entry = match self.zip.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(malformed(kind, format!("{name}: {e}"))),
        };
        let room = MAX_UNPACKED - self.unpacked;
        let mut bytes = Vec::new();
        entry.take(room + 1).read_to_end(&mut bytes).map_err(|e| malformed(kind, format!("{name}: {e}")))?;
        if bytes.len() as u64 > room {
            return Err(DocumentError::ZipBomb { kind: kind.into(), limit: MAX_UNPACKED });
        }
        self.unpacked += bytes.len() as u64;
        String::from_utf8(bytes).map(Some).map_err(|_| malformed(kind, format!("{name} is not UTF-8 XML")))
    }

    fn required(&mut self, name: &str) -> Result<String, DocumentError> {
        let kind = self.kind;
        self.text(name)?.ok_or_else(|| malformed(kind, format!("it has no {name}")))
    }
}

fn malformed(kind: &str, reason: String) -> DocumentError {
    DocumentError::Malformed { kind: kind.into(), reason }
}

/// A Word document's text: paragraphs one a line, tabs and breaks kept, a table's cells separated
/// by " | " and its rows one a line (so a table reads as a table, not as run-together words).
pub fn docx(bytes: &[u8]) -> Result<String, DocumentError> {
    let mut archive = Archive::open(bytes, "DOCX")?;
    let xml = archive.required("word/document.xml")?;
    let mut out = String::new();
    let mut reader = Xml::from_str(&xml);
    let mut in_text = false;
    let mut cell_started = false;
    loop {
        match reader.read_event().map_err(|e| malformed("DOCX", e.to_string()))? {
            Event::Start(e) => match e.local_name().as_ref() {
                "t" => in_text = true,
                "tc" => {
                    if cell_started {
                        out.push_str(" | ");
                    }
                    cell_started = true;
                }
                "tr" => cell_started = false,
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                // A paragraph ends a line, except the last in a table cell (the cell's end says).
                "p" => out.push('\n'),
                "tc" => {
                    if out.ends_with('\n') {
                        out.pop();
                    }
                }
                "tr" => out.push('\n'),
                _ => {}
            },
            Event::Text(t) if in_text => out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => out.push_str(&entity(&r)),
            Event::Eof => break,
            _ => {}
        }
        if out.len() > crate::MAX_TEXT_BYTES {
            return Err(DocumentError::TooMuchText { limit: crate::MAX_TEXT_BYTES });
        }
    }
    Ok(out.trim_end().to_owned())
}

/// An e-book's text: its chapters in reading order (the package's spine), each read as HTML.
pub fn epub(bytes: &[u8]) -> Result<String, DocumentError> {
    let mut archive = Archive::open(bytes, "EPUB")?;
    let container = archive.required("META-INF/container.xml")?;
    let package =
        attribute_of(&container, "rootfile", "full-path").ok_or_else(|| malformed("EPUB", "its container names no package".into()))?;
    let opf = archive.required(&package)?;
    let base = package.rsplit_once('/').map(|(dir, _)| format!("{dir}/")).unwrap_or_default();
    let (manifest, spine) = manifest_and_spine(&opf)?;
    let mut out = String::new();
    for id in spine {
        let Some(href) = manifest.iter().find(|(i, _)| *i == id).map(|(_, h)| h.clone()) else { continue };
        let href = href.split('#').next().unwrap_or_default();
        let path = normalize(&format!("{base}{}", percent_decode(href)));
        let Some(chapter) = archive.text(&path)? else { continue };
        let text = html::text(&chapter)?;
        if !text.trim().is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(text.trim());
        }
        if out.len() > crate::MAX_TEXT_BYTES {
            return Err(DocumentError::TooMuchText { limit: crate::MAX_TEXT_BYTES });
        }
    }
    Ok(out)
}

/// The package's manifest (id → href) and its spine (ids in reading order).
fn manifest_and_spine(opf: &str) -> Result<(Vec<(String, String)>, Vec<String>), DocumentError> {
    let mut reader = Xml::from_str(opf);
    let (mut manifest, mut spine) = (Vec::new(), Vec::new());
    loop {
        match reader.read_event().map_err(|e| malformed("EPUB", e.to_string()))? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "item" => {
                    if let (Some(id), Some(href)) = (attr(&e, "id"), attr(&e, "href")) {
                        manifest.push((id, href));
                    }
                }
                "itemref" => spine.extend(attr(&e, "idref")),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((manifest, spine))
}

fn attribute_of(xml: &str, element: &str, name: &str) -> Option<String> {
    let mut reader = Xml::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == element => return attr(&e, name),
            Event::Eof => return None,
            _ => {}
        }
    }
}

fn attr(e: &quick_xml::events::BytesStart, name: &str) -> Option<String> {
    let a = e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name)?;
    let raw: &str = &a.value;
    Some(quick_xml::escape::unescape(raw).map_or_else(|_| raw.to_owned(), |c| c.into_owned()))
}

/// `&amp;` and the rest, and character references.
fn entity(r: &quick_xml::events::BytesRef) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match r.as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    }
    .to_owned()
}

/// A path inside the archive with its `.` and `..` segments resolved (`OEBPS/Text/../ch1.xhtml`
/// is `OEBPS/ch1.xhtml`), as the archive names its entries.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// An href's %XX escapes (a chapter named "chapter%201.xhtml" is the file "chapter 1.xhtml").
fn percent_decode(href: &str) -> String {
    let bytes = href.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = href.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
