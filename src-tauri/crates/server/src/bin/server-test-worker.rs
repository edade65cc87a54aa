//! The engine worker, for this crate's integration tests and examples.

fn main() -> std::process::ExitCode {
    engine::run_worker()
}
