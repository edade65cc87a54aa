//! The document reader as a program of its own, for this crate's tests (the app and the CLI are
//! readers themselves when started with `--read-document`).

fn main() -> std::process::ExitCode {
    documents::run_reader()
}
