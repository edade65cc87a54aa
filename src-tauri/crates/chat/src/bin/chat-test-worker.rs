//! The engine worker, for this crate's integration tests (the app and the CLI start themselves with
//! a hidden flag instead).

fn main() -> std::process::ExitCode {
    engine::run_worker()
}
