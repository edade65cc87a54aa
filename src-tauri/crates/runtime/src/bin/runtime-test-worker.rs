//! The engine worker, for this crate's integration tests.

fn main() -> std::process::ExitCode {
    engine::run_worker()
}
