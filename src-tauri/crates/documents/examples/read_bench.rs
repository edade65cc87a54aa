//! How fast documents are read: a 500-page PDF written here (lopdf, 40 lines of text a page) and a
//! DOCX of the same text, each read in this process and through the reader's child process (the
//! `hearth-document-reader` program beside this example, built by `cargo build -p hearth-documents`
//! or any workspace build). Prints pages/s and MB of text/s, best of 3. For `make bench`.
//!
//! Usage: `cargo run -q -p hearth-documents --example read_bench` (the dev profile, as the app's
//! tests build it: pdf-extract unoptimised).

use std::io::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

const PAGES: usize = 500;
const LINES: usize = 40;

fn line(page: usize, i: usize) -> String {
    format!("Page {page}, line {i}: the quarterly figures for region {} rose by {}.{} percent.", (page * 7 + i) % 13, i % 9, page % 10)
}

fn pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for page in 1..=PAGES {
        let mut operations = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 9.into()]), Operation::new("TL", vec![11.into()]), Operation::new("Td", vec![40.into(), 800.into()])];
        for i in 1..=LINES {
            operations.push(Operation::new("Tj", vec![Object::string_literal(line(page, i))]));
            operations.push(Operation::new("T*", vec![]));
        }
        operations.push(Operation::new("ET", vec![]));
        let content_id = doc.add_object(Stream::new(dictionary! {}, Content { operations }.encode().expect("content")));
        kids.push(Object::from(doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id })));
    }
    let count = kids.len() as i64;
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

fn best_of_3(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    (0..3).map(|_| {
        let t = Instant::now();
        let n = f();
        (t.elapsed(), n)
    }).min_by_key(|(d, _)| *d).expect("three runs")
}

fn main() {
    let bytes = pdf();
    println!("A {PAGES}-page PDF of {LINES} lines a page: {:.1} MB", bytes.len() as f64 / 1e6);
    let (inside, text) = best_of_3(|| documents::read(&bytes, "report.pdf").expect("read").text.len());
    println!("  read in this process: {:.2} s, {:.0} pages/s, {:.1} MB of text/s", inside.as_secs_f64(), PAGES as f64 / inside.as_secs_f64(), text as f64 / 1e6 / inside.as_secs_f64());
    let program = std::env::current_exe().expect("this example").parent().and_then(|d| d.parent()).expect("target dir").join("hearth-document-reader");
    if !program.exists() {
        println!("  (the reader program is not built: cargo build -p hearth-documents)");
        return;
    }
    let reader = documents::Reader::program(&program);
    let go = AtomicBool::new(false);
    let (child, _) = best_of_3(|| reader.read(&bytes, "report.pdf", &go).expect("read in the child").text.len());
    println!("  read in the reader process: {:.2} s, {:.0} pages/s (the child's start and the JSON included)", child.as_secs_f64(), PAGES as f64 / child.as_secs_f64());
    let _ = std::io::stdout().flush();
}
