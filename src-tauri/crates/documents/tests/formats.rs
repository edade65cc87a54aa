//! Each format read in this process: the text, in order, page numbers exact.

mod fixtures;

use documents::{read, DocumentError, DocumentKind};

#[test]
fn a_pdf_gives_each_pages_text_under_its_number() {
    let bytes =
        fixtures::pdf(&[&["Page one, first line.", "Page one, second line."], &["Page two says hello."], &["The third and last page."]]);
    let doc = read(&bytes, "report.pdf").unwrap();
    assert_eq!(doc.kind, DocumentKind::Pdf);
    assert_eq!(doc.pages.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(doc.page(1).unwrap(), "Page one, first line.\nPage one, second line.");
    assert_eq!(doc.page(2).unwrap(), "Page two says hello.");
    assert_eq!(doc.page(3).unwrap(), "The third and last page.");
    let at = doc.text.find("hello").unwrap();
    assert_eq!(doc.page_at(at), Some(2), "an offset in the text says its page");
    assert!(doc.unread_pages.is_empty());
}

#[test]
fn a_pdf_is_known_by_its_first_bytes_whatever_its_name() {
    let bytes = fixtures::pdf(&[&["Named as text."]]);
    assert_eq!(read(&bytes, "notes.txt").unwrap().kind, DocumentKind::Pdf);
}

#[test]
fn a_pdf_with_no_text_layer_says_it_is_likely_a_scan() {
    let err = read(&fixtures::blank_pdf(3), "scan.pdf").unwrap_err();
    assert_eq!(err, DocumentError::NoTextLayer { pages: 3 });
    assert!(err.to_string().contains("scan") && err.to_string().contains("picture"), "{err}");
}

#[test]
fn a_damaged_pdf_is_a_sentence() {
    let mut bytes = fixtures::pdf(&[&["Cut short."]]);
    bytes.truncate(bytes.len() / 3);
    let err = read(&bytes, "cut.pdf").unwrap_err();
    assert!(matches!(err, DocumentError::Malformed { .. } | DocumentError::NoTextLayer { .. } | DocumentError::Empty), "{err:?}");
    let err = read(b"%PDF-1.7 and nothing else", "junk.pdf").unwrap_err();
    assert!(matches!(err, DocumentError::Malformed { .. }), "{err:?}");
}

#[test]
fn a_docx_keeps_its_paragraphs_and_its_tables_rows() {
    let bytes = fixtures::docx(
        &["The contract starts on 1 May.", "Fees & terms < below >."],
        &[&["Item", "Price"], &["Rent", "1,200"], &["Deposit", "2,400"]],
    );
    let doc = read(&bytes, "contract.docx").unwrap();
    assert_eq!(doc.kind, DocumentKind::Docx);
    assert_eq!(doc.text, "The contract starts on 1 May.\nFees & terms < below >.\nItem | Price\nRent | 1,200\nDeposit | 2,400");
    assert!(doc.pages.is_empty());
}

#[test]
fn an_epub_reads_its_chapters_in_spine_order() {
    let bytes = fixtures::epub(&[("Chapter One", "It was a dark night."), ("Chapter Two", "Morning came.")]);
    let doc = read(&bytes, "book.epub").unwrap();
    let one = doc.text.find("It was a dark night.").expect("chapter one");
    let two = doc.text.find("Morning came.").expect("chapter two");
    assert!(one < two, "{}", doc.text);
    assert!(doc.text.contains("Chapter Two"));
}

#[test]
fn html_reads_as_text_with_its_table() {
    let html = "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body><h1>Manual</h1><p>Press <b>Start</b>.</p>\
                <table><tr><th>Mode</th><th>Watts</th></tr><tr><td>Eco</td><td>40</td></tr></table></body></html>";
    let doc = read(html.as_bytes(), "manual.html").unwrap();
    assert!(doc.text.contains("Manual") && doc.text.contains("Press") && doc.text.contains("Start"), "{}", doc.text);
    assert!(doc.text.lines().any(|l| l.contains("Eco") && l.contains("40")), "a table row stays one line: {}", doc.text);
    assert!(!doc.text.contains("alert") && !doc.text.contains("color:red"), "{}", doc.text);
}

#[test]
fn text_markdown_and_code_are_their_bytes() {
    for (name, kind) in [
        ("notes.txt", DocumentKind::Text),
        ("README.md", DocumentKind::Markdown),
        ("main.rs", DocumentKind::Code),
        ("Makefile", DocumentKind::Text),
    ] {
        let text = "fn main() {\n    println!(\"héllo\");\n}\n";
        let doc = read(text.as_bytes(), name).unwrap();
        assert_eq!((doc.kind, doc.text.as_str()), (kind, text), "{name}");
    }
}

#[test]
fn text_in_other_encodings_is_decoded() {
    let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
    utf8_bom.extend_from_slice("café".as_bytes());
    assert_eq!(read(&utf8_bom, "a.txt").unwrap().text, "café");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend("naïve".encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(read(&utf16, "b.txt").unwrap().text, "naïve");
    assert_eq!(read(b"caf\xe9 cr\xe8me", "c.txt").unwrap().text, "café crème", "Windows-1252, as old editors saved");
    let mut mostly = "naïve café über ".repeat(20).into_bytes();
    mostly.push(0xff);
    assert!(read(&mostly, "d.txt").unwrap().text.starts_with("naïve café"), "a stray byte does not turn UTF-8 into Windows-1252");
}

#[test]
fn binary_data_named_as_text_is_refused() {
    let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec();
    elf.extend((0..4096u32).map(|i| (i * 7 % 251) as u8));
    let err = read(&elf, "program.txt").unwrap_err();
    assert_eq!(err, DocumentError::Binary { name: "program.txt".into() });
    assert!(err.to_string().contains("binary"), "{err}");
}

#[test]
fn an_unknown_kind_and_an_empty_file_are_sentences() {
    assert!(matches!(read(b"GIF89a", "cat.gif").unwrap_err(), DocumentError::Unsupported { .. }));
    assert_eq!(read(b"  \n\n ", "empty.md").unwrap_err(), DocumentError::Empty);
}

#[test]
fn a_docx_that_is_not_a_zip_or_lacks_its_document_is_malformed() {
    assert!(matches!(read(b"not a zip at all", "x.docx").unwrap_err(), DocumentError::Malformed { .. }));
    let hollow = fixtures::zip(&[("[Content_Types].xml", b"<Types/>")]);
    let err = read(&hollow, "x.docx").unwrap_err();
    assert!(err.to_string().contains("word/document.xml"), "{err}");
}

#[test]
fn a_blank_first_page_does_not_share_an_offset_with_the_next() {
    let empty: &[&str] = &[];
    let doc = read(&fixtures::pdf(&[empty, &["Second page."]]), "cover.pdf").unwrap();
    assert_eq!(doc.page(2), Some("Second page."));
    assert_eq!(doc.page_at(doc.text.find("Second").unwrap()), Some(2));
}

#[test]
fn a_docx_or_epub_without_its_extension_is_known_by_its_entries() {
    let docx = fixtures::docx(&["Named without an extension."], &[]);
    assert_eq!(read(&docx, "report").unwrap().kind, DocumentKind::Docx);
    let epub = fixtures::epub(&[("One", "Sent as a bare name.")]);
    assert_eq!(read(&epub, "book").unwrap().kind, DocumentKind::Epub);
}
