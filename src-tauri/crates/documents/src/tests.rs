use super::*;

#[test]
fn kinds_come_from_the_name_and_a_pdf_from_its_bytes() {
    let kind = |name: &str| DocumentKind::of(name, b"plain").unwrap();
    assert_eq!(kind("Report.PDF"), DocumentKind::Pdf);
    assert_eq!(kind("a/b/notes.md"), DocumentKind::Markdown);
    assert_eq!(kind("C:\\work\\lib.rs"), DocumentKind::Code);
    assert_eq!(kind("page.htm"), DocumentKind::Html);
    assert_eq!(kind("LICENSE"), DocumentKind::Text);
    assert_eq!(kind("book.epub"), DocumentKind::Epub);
    assert_eq!(DocumentKind::of("scan.jpg", b"%PDF-1.4").unwrap(), DocumentKind::Pdf);
    assert_eq!(DocumentKind::of("photo.jpg", b"\xff\xd8").unwrap_err(), DocumentError::Unsupported { name: "photo.jpg".into() });
}

#[test]
fn an_offset_finds_its_page() {
    let doc = Document {
        name: "x.pdf".into(),
        kind: DocumentKind::Pdf,
        text: "one\n\ntwo".into(),
        pages: vec![Page { number: 1, start: 0, end: 3 }, Page { number: 2, start: 5, end: 8 }],
        unread_pages: vec![],
    };
    assert_eq!((doc.page_at(0), doc.page_at(2), doc.page_at(6), doc.page_at(9)), (Some(1), Some(1), Some(2), None));
    assert_eq!(doc.page(2), Some("two"));
}

#[test]
fn a_file_over_the_limit_is_refused_whole() {
    let big = vec![b'a'; MAX_FILE_BYTES as usize + 1];
    assert!(matches!(read(&big, "big.txt"), Err(DocumentError::TooLarge { .. })));
}
