//! Reading in the child process (`hearth-document-reader`): what a hostile file does there stays
//! there, and comes back as a sentence. (Unix: the stand-in readers are /bin/false and a shell script.)

#![cfg(unix)]

mod fixtures;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use documents::{DocumentError, Reader};
use lopdf::content::Operation;

fn reader() -> Reader {
    Reader::program(env!("CARGO_BIN_EXE_hearth-document-reader"))
}

static GO: AtomicBool = AtomicBool::new(false);

#[test]
fn a_pdf_is_read_in_the_child_with_its_pages() {
    let bytes = fixtures::pdf(&[&["First page."], &["Second page."]]);
    let doc = reader().read(&bytes, "two.pdf", &GO).unwrap();
    assert_eq!(doc.page(2), Some("Second page."));
    assert_eq!(doc.name, "two.pdf");
}

#[test]
fn a_page_that_makes_the_pdf_reader_panic_is_named_and_the_others_kept() {
    // `Tf` with a number where the font's name goes: pdf-extract 0.12 unwraps it and panics.
    let bytes = fixtures::pdf_with(&[&["Page one is fine."], &["Page two is poisoned."], &["Page three is fine."]], |page, ops| {
        if page == 1 {
            ops.insert(1, Operation::new("Tf", vec![7.into(), 12.into()]));
        }
    });
    let doc = reader().read(&bytes, "poisoned.pdf", &GO).unwrap();
    assert_eq!(doc.pages.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(doc.unread_pages.len(), 1);
    assert_eq!(doc.unread_pages[0].0, 2);
    assert!(doc.unread_pages[0].1.contains("reader failed"), "{:?}", doc.unread_pages);
}

#[test]
fn an_encrypted_pdf_says_so() {
    let bytes = fixtures::encrypted_pdf();
    let err = reader().read(&bytes, "locked.pdf", &GO).unwrap_err();
    assert_eq!(err, DocumentError::Encrypted, "{err}");
}

#[test]
fn a_zip_bomb_named_docx_stops_at_the_bound() {
    let bomb = fixtures::docx_bomb();
    assert!(bomb.len() < 2_000_000, "the bomb itself is small: {} bytes", bomb.len());
    let err = reader().read(&bomb, "bomb.docx", &GO).unwrap_err();
    assert!(matches!(err, DocumentError::ZipBomb { .. }), "{err:?}");
}

#[test]
fn a_two_gigabyte_text_file_is_refused_before_it_is_read() {
    let dir = std::env::temp_dir().join(format!("hearth-documents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.txt");
    std::fs::File::create(&path).unwrap().set_len(2 * 1024 * 1024 * 1024).unwrap();
    let started = Instant::now();
    let err = reader().read_file(&path, &GO).unwrap_err();
    assert!(matches!(err, DocumentError::TooLarge { bytes, .. } if bytes == 2 * 1024 * 1024 * 1024), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "refused from its size, not read");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reader_that_dies_is_a_sentence_and_a_hung_one_is_stopped() {
    // A program that is not a reader and dies at once: what a stack overflow or an abort looks
    // like from here.
    let err = Reader::program("/bin/false").read(b"text", "a.txt", &GO).unwrap_err();
    assert!(matches!(err, DocumentError::ReaderFailed { .. }), "{err:?}");
    // One that never answers: stopped at the limit.
    let started = Instant::now();
    let err = Reader::program(hanging_program()).with_time_limit(Duration::from_millis(300)).read(b"text", "a.txt", &GO).unwrap_err();
    assert_eq!(err, DocumentError::TimedOut { seconds: 0 });
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_read_can_be_cancelled() {
    let cancelled = AtomicBool::new(true);
    let err = Reader::program(hanging_program()).read(b"text", "a.txt", &cancelled).unwrap_err();
    assert_eq!(err, DocumentError::Cancelled);
}

/// A script that takes its arguments and never answers.
fn hanging_program() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("hearth-hanging-reader-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::write(&path, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
