//! The engine's worker process on its own, for tests and for running the engine by hand: it reads
//! framed requests on stdin and writes framed events on stdout (see `engine::protocol`). The app and
//! the CLI run the same code when started with their hidden worker flag.

fn main() -> std::process::ExitCode {
    engine::run_worker()
}
