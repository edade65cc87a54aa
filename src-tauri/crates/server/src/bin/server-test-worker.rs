//! The engine worker, for this crate's integration tests and examples; started with
//! `--read-document`, the document reader (as the app and `hearth serve` are).

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some(documents::READER_FLAG) {
        return documents::run_reader();
    }
    engine::run_worker()
}
