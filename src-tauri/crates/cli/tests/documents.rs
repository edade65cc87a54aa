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

fn hearth(args: &[&str], home: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hearth")).args(args).env("HEARTH_HOME", home).output().expect("run hearth")
}

/// A document of `lines` numbered lines, each with a word of its own.
fn numbered(lines: usize) -> String {
    (1..=lines).map(|i| format!("Line {i}: the inventory code for shelf {i} is QX{:05}.\n", i * 37)).collect()
}

/// `hearth run MODEL "…" --attach FILE` at a 2,048 context, with the real test model: a short
/// document goes in whole (the prompt holds all its tokens, and stderr says so); one of about
/// 20,000 tokens is not sent at all, and the sentence gives the tokens and the context.
#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn run_reads_a_document_whole_when_it_fits_and_never_cuts_one_that_does_not() {
    let root = std::env::temp_dir().join(format!("hearth-cli-documents-{}", std::process::id()));
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let model = testkit::test_model().to_string_lossy().into_owned();
    let small = root.join("shelves.txt");
    std::fs::write(&small, numbered(12)).unwrap();
    let big = root.join("catalogue.md");
    std::fs::write(&big, numbered(800)).unwrap();
    let common = ["--temp", "0", "--max-tokens", "4", "--ctx", "2048", "--cpu"];

    let small_path = small.to_string_lossy().into_owned();
    let mut args = vec!["run", model.as_str(), "What is the code for shelf 7?", "--attach", small_path.as_str()];
    args.extend(common);
    let out = hearth(&args, &home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let read = stderr.lines().find(|l| l.contains("shelves.txt read whole (")).unwrap_or_else(|| panic!("says it read it whole: {stderr}"));
    let doc_tokens: u32 = read.rsplit('(').next().unwrap().trim_end_matches(" tokens)").replace(',', "").parse().unwrap();
    assert!((250..=450).contains(&doc_tokens), "about 300 tokens: {read}");
    let prompt_tokens: u32 = stderr.split("· prompt ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{stderr}"));
    assert!(prompt_tokens > doc_tokens, "the prompt holds the whole document: {prompt_tokens} tokens for a {doc_tokens}-token document");

    let big_path = big.to_string_lossy().into_owned();
    let mut args = vec!["run", model.as_str(), "Which shelf has QX00370?", "--attach", big_path.as_str()];
    args.extend(common);
    let out = hearth(&args, &home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "no reply: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("catalogue.md (") && stderr.contains("the context is 2,048") && stderr.contains("never cut"), "{stderr}");
    std::fs::remove_dir_all(&root).ok();
}
