//! `hearth` is its own document reader: started with `--read-document NAME`, it reads the bytes
//! on stdin and answers in JSON, and does nothing else (no probe, no home).

use std::sync::atomic::AtomicBool;

#[test]
fn hearth_reads_a_document_in_a_copy_of_itself() {
    let reader = documents::Reader::program(env!("CARGO_BIN_EXE_hearth"));
    let go = AtomicBool::new(false);
    let doc = reader.read("# Notes\n\nThe key is under the mat.\n".as_bytes(), "notes.md", &go).unwrap();
    assert_eq!(doc.kind, documents::DocumentKind::Markdown);
    assert!(doc.text.contains("under the mat"));
    let err = reader.read(b"\x00\x01\x02binary", "notes.txt", &go).unwrap_err();
    assert_eq!(err, documents::DocumentError::Binary { name: "notes.txt".into() });
}
