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

use types::{EngineDevice, EngineDeviceKind, EngineReport, HearthError};

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
    /// The CPU variants left out, as asked (`avoided`).
    pub avoided: Vec<String>,
}

/// Loads the backend libraries; call once, before `LlamaBackend::init`. With backends built in
/// (macOS's Metal build) there is nothing to load. CPU variants named in `AVOID_ENV` are left out
/// (`without_variants`), so ggml picks the best of the others.
pub fn load_backends() -> Loaded {
    if software_gpu_allowed() && std::env::var_os("GGML_VK_VISIBLE_DEVICES").is_none() {
        // ggml-vulkan hides devices of CPU type (lavapipe, SwiftShader) unless told which to use.
        // Device 0 is the only one on the machines this is for (CI, a VM); anyone with several
        // Vulkan devices sets GGML_VK_VISIBLE_DEVICES to the one they mean.
        std::env::set_var("GGML_VK_VISIBLE_DEVICES", "0");
    }
    let avoid = avoided::from_env();
    let dir = backends_dir();
    let dir = match (&dir, avoid.is_empty()) {
        (Some(d), false) => match without_variants(d, &avoid) {
            Ok(shadow) => Some(shadow),
            Err(e) => {
                tracing::warn!("could not leave out the CPU backend variants {avoid:?}: {e}");
                dir
            }
        },
        _ => dir,
    };
    let mut loaded = load_from(dir);
    loaded.avoided = avoid;
    loaded
}

/// A folder with every library of `dir` but the CPU backend variants named in `avoid`, linked (or,
/// where links cannot be made, copied) into a folder of its own under the temporary folder: ggml
/// loads the best CPU variant of a folder, and cannot be told to skip one.
fn without_variants(dir: &Path, avoid: &[String]) -> std::io::Result<PathBuf> {
    let tag: u64 = format!("{}|{}", dir.display(), avoid.join(",")).bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    let shadow = std::env::temp_dir().join(format!("hearth-backends-{tag:016x}"));
    std::fs::create_dir_all(&shadow)?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let left_out = variant_of(&name.to_string_lossy()).is_some_and(|v| avoid.contains(&v));
        let target = shadow.join(&name);
        if left_out || target.exists() || !entry.path().is_file() {
            continue;
        }
        #[cfg(unix)]
        let made = std::os::unix::fs::symlink(entry.path(), &target);
        #[cfg(not(unix))]
        let made = std::fs::hard_link(entry.path(), &target).or_else(|_| std::fs::copy(entry.path(), &target).map(|_| ()));
        made?;
    }
    Ok(shadow)
}

/// The CPU backend variants that stopped with an illegal instruction on this machine (SIGILL: the
/// CPU says it has an instruction set, as some hypervisors do for AMX, and then refuses it), left
/// out of every worker started after. The host adds one when its worker dies so (`host.rs`); a
/// file in Hearth's home (`remember_in`) keeps them for the next start.
pub mod avoided {
    use std::path::PathBuf;
    use std::sync::Mutex;

    /// The worker reads the variants to leave out from here.
    pub const ENV: &str = "HEARTH_AVOID_CPU_VARIANTS";
    /// Their file in Hearth's home.
    pub const FILE: &str = "cpu-variants.json";

    struct State {
        variants: Vec<String>,
        file: Option<PathBuf>,
    }

    static STATE: Mutex<State> = Mutex::new(State { variants: Vec::new(), file: None });

    fn state() -> std::sync::MutexGuard<'static, State> {
        STATE.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This processor, as the file names it: a file copied to another machine does not apply there.
    fn this_cpu() -> String {
        let kind = sysinfo::RefreshKind::nothing().with_cpu(sysinfo::CpuRefreshKind::nothing());
        sysinfo::System::new_with_specifics(kind)
            .ok()
            .and_then(|s| s.cpus().first().map(|c| c.brand().trim().to_string()))
            .unwrap_or_default()
    }

    /// Keeps the list in `file` (JSON: this CPU's name and the variants), reading what an earlier
    /// run left there for this CPU.
    pub fn remember_in(file: PathBuf) {
        let saved = std::fs::read(&file).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        let mut s = state();
        if let Some(saved) = saved.filter(|v| v["cpu"].as_str() == Some(this_cpu().as_str())) {
            for v in saved["avoid"].as_array().into_iter().flatten().filter_map(|v| v.as_str()) {
                if !s.variants.iter().any(|x| x == v) {
                    s.variants.push(v.to_string());
                }
            }
        }
        s.file = Some(file);
    }

    /// The variants left out now.
    pub fn list() -> Vec<String> {
        state().variants.clone()
    }

    /// Leaves `variant` out from now on; `false` when it already was.
    pub fn add(variant: &str) -> bool {
        let mut s = state();
        if s.variants.iter().any(|v| v == variant) {
            return false;
        }
        s.variants.push(variant.to_string());
        if let Some(file) = &s.file {
            let body = serde_json::json!({ "cpu": this_cpu(), "avoid": s.variants });
            if let Err(e) = std::fs::write(file, body.to_string()) {
                tracing::warn!("could not remember the CPU backend variants to leave out in {}: {e}", file.display());
            }
        }
        true
    }

    /// What a worker is started with: `(ENV, "a,b")`, or `None` when nothing is left out.
    pub fn env() -> Option<(&'static str, String)> {
        let s = state();
        (!s.variants.is_empty()).then(|| (ENV, s.variants.join(",")))
    }

    /// In the worker: the variants its host asked it to leave out.
    pub(crate) fn from_env() -> Vec<String> {
        std::env::var(ENV).unwrap_or_default().split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect()
    }
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
    Loaded { skipped, dir, avoided: Vec::new() }
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
    EngineReport {
        devices,
        cpu_variant: cpu_variant(),
        skipped: loaded.skipped.clone(),
        backends_dir: loaded.dir.clone(),
        avoided_cpu_variants: loaded.avoided.clone(),
    }
}

/// The CPU backend build ggml picked, from the library this process mapped
/// (`libggml-cpu-haswell.so` → "haswell"; a development build's only one, `libggml-cpu.so`, is
/// [`ONE_CPU_BUILD`]). Linux only; elsewhere `None`.
pub(crate) fn cpu_variant() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().filter_map(|l| l.rsplit('/').next()).find_map(variant_of)
}

/// How the worker names its CPU variant on stderr, first thing (`worker.rs`, read by `host.rs`).
pub const VARIANT_LINE: &str = "hearth-engine: CPU backend variant ";

/// Fault injection for the test of a trapping CPU variant (tests/cpu_trap.rs): a worker whose CPU
/// variant is the one named in `HEARTH_FAULT_TRAP_CPU_VARIANT` executes an illegal instruction
/// where it first computes, as a variant the CPU cannot run does. Nothing sets it outside tests.
pub(crate) fn trap_if_asked() {
    let asked = std::env::var("HEARTH_FAULT_TRAP_CPU_VARIANT").ok().filter(|v| !v.is_empty());
    if asked.is_some() && asked == cpu_variant() {
        illegal_instruction();
    }
}

#[allow(unsafe_code)]
fn illegal_instruction() -> ! {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    // SAFETY: `ud2` raises SIGILL (or the Windows exception for it); it does not return.
    unsafe {
        std::arch::asm!("ud2", options(noreturn))
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    std::process::abort()
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
    let fail = |reason: String| HearthError::from(crate::EngineError::DevicesUnlisted { reason });
    let mut child = Command::new(&command.program);
    child.args(&command.args);
    if let Some((name, value)) = avoided::env() {
        child.env(name, value);
    }
    let mut child = child
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
