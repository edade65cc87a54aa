//! PDFs, page by page (`pdf-extract` over `lopdf`). Each page is read on its own: a page that fails,
//! or makes the reader panic, is named in `unread_pages` and the rest is kept (pdf-extract's own
//! by-pages loop stops at the first page that fails, silently).

use pdf_extract::{output_doc_page, Document as Pdf, PlainTextOutput};

use crate::{Document, DocumentError, Page};

pub fn read(bytes: &[u8], document: &mut Document) -> Result<(), DocumentError> {
    let malformed = |reason: String| DocumentError::Malformed { kind: "PDF".into(), reason };
    let mut pdf = Pdf::load_mem(bytes).map_err(|e| match e {
        // lopdf refuses to load some encrypted files outright.
        pdf_extract::Error::Decryption(_) => DocumentError::Encrypted,
        e => malformed(e.to_string()),
    })?;
    if pdf.is_encrypted() {
        // Many PDFs are "encrypted" with an empty user password (printing and copying
        // restrictions only): those open, as in any viewer.
        pdf.decrypt("").map_err(|_| DocumentError::Encrypted)?;
    }
    let numbers: Vec<u32> = pdf.get_pages().keys().copied().collect();
    if numbers.is_empty() {
        return Err(malformed("it has no pages".into()));
    }
    for number in numbers {
        let mut text = String::new();
        // pdf-extract panics on some pages (an operand of the wrong type, an encoding it does not
        // know): that page is named unread and the rest kept. What a panic cannot cover (a stack
        // overflow, memory) the child process does.
        let read =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| output_doc_page(&pdf, &mut PlainTextOutput::new(&mut text), number)));
        match read {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                document.unread_pages.push((number, e.to_string()));
                continue;
            }
            Err(panic) => {
                let why = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()));
                document
                    .unread_pages
                    .push((number, format!("the PDF reader failed on it ({})", why.unwrap_or_else(|| "no reason given".into()))));
                continue;
            }
        }
        // Every page after the first starts past a separator, even after a blank page, so that
        // no two pages start at the same offset.
        if !document.pages.is_empty() {
            document.text.push_str("\n\n");
        }
        let text = tidy(&text);
        let start = document.text.len();
        document.text.push_str(&text);
        document.pages.push(Page { number, start, end: document.text.len() });
        if document.text.len() > crate::MAX_TEXT_BYTES {
            return Err(DocumentError::TooMuchText { limit: crate::MAX_TEXT_BYTES });
        }
    }
    if document.pages.is_empty() {
        // Not one page could be read: the file is the problem, not a missing text layer.
        let (number, why) = &document.unread_pages[0];
        return Err(malformed(format!("no page could be read (page {number}: {why})")));
    }
    Ok(())
}

/// pdf-extract writes a page with blank lines around it and trailing spaces; the page's own text
/// is what is kept.
fn tidy(page: &str) -> String {
    page.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim_matches('\n').to_owned()
}
