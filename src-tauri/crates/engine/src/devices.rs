//! Which devices the engine can run on, decided inside the worker.
//!
//! llama.cpp's backends are libraries loaded at run time (`GGML_BACKEND_DL`): the CPU backend in
//! one build per instruction set (SSE4.2 … AVX-512), of which ggml loads the best this CPU runs, and
//! the Vulkan backend (CUDA and ROCm ones when built beside them). A backend whose driver or loader
//! is missing fails to load and is skipped, with the reason in the log and in the report, so the app
//! starts on any machine. Only the worker loads them: a GPU driver that crashes takes the worker down,
//! never the window. The host asks with `Request::Devices` (`query`), answered by `Event::Devices`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use types::{EngineDevice, EngineDeviceKind, EngineReport, ErrorCode, HearthError};

use crate::host::WorkerCommand;
use crate::logs;
use crate::protocol::{read_frame, write_frame, Event, Request};

/// Where the backend libraries are looked for, first found wins:
/// 1. `HEARTH_BACKENDS_DIR`;
/// 2. beside the executable, or in `../lib/hearth` from it (the .deb puts them in /usr/lib/hearth);
/// 3. (`None` here) the folder this build of llama.cpp installed them in: a development build,
///    `cargo run` and `cargo test`.
fn backends_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HEARTH_BACKENDS_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe_dir = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf));
    let beside = exe_dir.iter().flat_map(|d| [d.clone(), d.join("../lib/hearth")]).collect::<Vec<_>>();
    beside.into_iter().find(|d| has_backends(d))
}

fn has_backends(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().contains("ggml-cpu"))).unwrap_or(false)
}

/// What loading the backends left to report: the libraries that failed, with why, and the folder.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub skipped: Vec<String>,
    pub dir: Option<String>,
}

/// Loads the backend libraries; call once, before `LlamaBackend::init`. With backends built in
/// (macOS's Metal build) there is nothing to load.
pub fn load_backends() -> Loaded {
    if software_gpu_allowed() && std::env::var_os("GGML_VK_VISIBLE_DEVICES").is_none() {
        // ggml-vulkan hides devices of CPU type (lavapipe, SwiftShader) unless told which to use.
        // Device 0 is the only one on the machines this is for (CI, a VM); anyone with several
        // Vulkan devices sets GGML_VK_VISIBLE_DEVICES to the one they mean.
        std::env::set_var("GGML_VK_VISIBLE_DEVICES", "0");
    }
    load_from(backends_dir())
}

#[cfg(any(target_os = "linux", target_os = "windows"))]
fn load_from(dir: Option<PathBuf>) -> Loaded {
    logs::start_capture();
    match dir {
        Some(dir) => {
            tracing::debug!("loading llama.cpp backends from {}", dir.display());
            llama_cpp_2::llama_backend::load_backends_from_path(&dir);
        }
        None => llama_cpp_2::llama_backend::load_backends(),
    }
    if llama_cpp_2::list_llama_ggml_backend_devices().is_empty() {
        tracing::error!("no llama.cpp backend could be loaded; the engine has no device to run on");
    }
    // ggml logs each library it loaded ("loaded CPU backend from DIR/libggml-cpu-haswell.so") and
    // each it could not, with the loader's reason ("libvulkan.so.1: cannot open shared object
    // file"): the reasons a person needs, kept for the report.
    let lines = logs::take_capture();
    let dir = lines.iter().find_map(|l| {
        let path = l.split(" backend from ").nth(1)?;
        Path::new(path.trim()).parent().map(|p| p.display().to_string())
    });
    let skipped = lines.into_iter().filter(|l| l.contains("failed to load") || l.contains("cannot open")).collect();
    Loaded { skipped, dir }
}

#[cfg(not(any(target_os = "linux", target_os = "windows")))]
fn load_from(_: Option<PathBuf>) -> Loaded {
    Loaded::default()
}

/// `HEARTH_ALLOW_SOFTWARE_GPU=1`: a software Vulkan device may be used (tests, the curious).
pub fn software_gpu_allowed() -> bool {
    std::env::var("HEARTH_ALLOW_SOFTWARE_GPU").is_ok_and(|v| v == "1")
}

/// llama.cpp's device list, as the loaded backends see it now.
pub fn report(loaded: &Loaded) -> EngineReport {
    let devices = llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .map(|d| EngineDevice {
            name: d.name,
            description: d.description,
            backend: d.backend,
            kind: match d.device_type {
                llama_cpp_2::LlamaBackendDeviceType::Cpu => EngineDeviceKind::Cpu,
                llama_cpp_2::LlamaBackendDeviceType::Gpu => EngineDeviceKind::Gpu,
                llama_cpp_2::LlamaBackendDeviceType::IntegratedGpu => EngineDeviceKind::IntegratedGpu,
                _ => EngineDeviceKind::Accelerator,
            },
            memory_total: d.memory_total as u64,
            memory_free: d.memory_free as u64,
        })
        .collect();
    EngineReport { devices, cpu_variant: cpu_variant(), skipped: loaded.skipped.clone(), backends_dir: loaded.dir.clone() }
}

/// The CPU backend build ggml picked, from the library this process mapped
/// (`libggml-cpu-haswell.so` → "haswell"; a development build's only one, `libggml-cpu.so`, is
/// [`ONE_CPU_BUILD`]). Linux only; elsewhere `None`.
fn cpu_variant() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().filter_map(|l| l.rsplit('/').next()).find_map(variant_of)
}

/// What a build with one CPU backend (src-tauri/cmake/one-cpu-backend.cmake) calls it.
pub const ONE_CPU_BUILD: &str = "built for this CPU";

fn variant_of(file: &str) -> Option<String> {
    let name = file.split(".so").next()?;
    match name.strip_prefix("libggml-cpu") {
        Some("") => Some(ONE_CPU_BUILD.to_string()),
        Some(rest) => rest.strip_prefix('-').map(str::to_string),
        None => None,
    }
}

/// Starts a worker, asks it for its devices, and lets it go. The window and the CLI call this where
/// they would otherwise initialise llama.cpp themselves.
/// The engine's devices from a short-lived worker, or CPU only when no worker can answer: how the
/// app, the CLI and the server all probe. Each skipped backend, and a worker that failed, is one
/// line to `warn` (the app and server log it, the CLI prints it), never a silent CPU fall-back.
pub fn query_or_cpu(command: &WorkerCommand, warn: impl Fn(&str)) -> EngineReport {
    match query(command) {
        Ok(report) => {
            for why in &report.skipped {
                warn(&format!("a GPU backend was skipped: {why}"));
            }
            report
        }
        Err(e) => {
            warn(&e.message);
            EngineReport::default()
        }
    }
}

pub fn query(command: &WorkerCommand) -> Result<EngineReport, HearthError> {
    let fail = |why: String| HearthError::new(ErrorCode::EngineCrashed, format!("The engine could not list its devices: {why}."));
    let mut child = Command::new(&command.program)
        .args(&command.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("it did not start ({e})")))?;
    let answer = (|| {
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        write_frame(&mut stdin, &Request::Devices { id: 1 }).map_err(|e| e.to_string())?;
        drop(stdin); // the worker exits once it has answered
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        loop {
            match read_frame::<_, Event>(&mut stdout).map_err(|e| e.to_string())? {
                Some(Event::Devices { report, .. }) => return Ok(report),
                Some(_) => continue,
                None => return Err("it exited without answering (a GPU driver may have crashed it)".to_string()),
            }
        }
    })();
    let _ = child.wait();
    answer.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_cpu_backends_is_not_a_backends_folder() {
        let dir = std::env::temp_dir().join(format!("hearth-backends-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!has_backends(&dir));
        std::fs::write(dir.join("libggml-cpu-haswell.so"), b"").unwrap();
        assert!(has_backends(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_cpu_variant_is_named_from_its_library() {
        assert_eq!(variant_of("libggml-cpu-haswell.so").as_deref(), Some("haswell"));
        assert_eq!(variant_of("libggml-cpu.so").as_deref(), Some(ONE_CPU_BUILD));
        assert_eq!(variant_of("libggml-vulkan.so"), None);
    }

    #[test]
    fn a_worker_that_cannot_start_means_cpu_only_and_says_why() {
        let worker = WorkerCommand { program: "/nonexistent/hearth-worker".into(), args: Vec::new() };
        let said = std::cell::RefCell::new(Vec::new());
        let report = query_or_cpu(&worker, |m| said.borrow_mut().push(m.to_string()));
        assert!(report.devices.is_empty() && report.cpu_variant.is_none(), "{report:?}");
        let said = said.into_inner();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].starts_with("The engine could not list its devices: it did not start"), "{said:?}");
    }
}
