//! The real engine for the tests that run the model: the test model (SmolLM2-135M), a worker
//! process from this crate's own `server-test-worker` binary, and `EngineBackend` planning for an
//! imagined CPU machine with 16 GB (as the chat crate's tests do).

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use engine::WorkerCommand;
use server::{EngineBackend, ModelEntry};

/// The real test model: a test that calls this carries the `hearth_missing_test_model` ignore
/// (testkit).
pub fn model() -> PathBuf {
    testkit::test_model()
}

pub fn backend(worker: WorkerCommand, model: &Path) -> Arc<EngineBackend> {
    let runtime = runtime::Runtime::new(worker, hardware::catalog::imagined(None, 1, 16));
    Arc::new(EngineBackend::new(Arc::new(runtime), vec![ModelEntry::from_path(model)]))
}

/// Whether any model is loaded.
#[allow(dead_code)] // Not every test binary that includes this asks.
pub fn any_loaded(backend: &EngineBackend) -> bool {
    !backend.runtime().residents().is_empty()
}

pub fn model_id(model: &Path) -> String {
    ModelEntry::from_path(model).id
}
