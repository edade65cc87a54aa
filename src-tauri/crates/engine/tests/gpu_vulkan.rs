//! The GPU path on a real Vulkan device: Mesa's lavapipe, which `make test` installs. It computes on
//! the CPU, but it is a conformant Vulkan device with its own buffers, so offload, the plan's devices,
//! llama.cpp's per-device figures and the output can all be checked here.
//!
//! lavapipe is a software device, which Hearth never counts as a GPU for a person; these tests opt in
//! with `HEARTH_ALLOW_SOFTWARE_GPU=1` (set for the worker processes they start). Without a Vulkan
//! device the tests fail under CI and are skipped, saying so, elsewhere.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::{EngineHost, LoadParams};
use types::{EngineDeviceKind, EngineReport, LoadSettings};

fn allow_software_gpu() {
    // Read by the workers these tests start (they inherit the environment) and by the merge below.
    std::env::set_var("HEARTH_ALLOW_SOFTWARE_GPU", "1");
}

fn worker() -> engine::WorkerCommand {
    engine::WorkerCommand { program: env!("CARGO_BIN_EXE_hearth-engine-worker").into(), args: Vec::new() }
}

/// The engine's report, which must list a Vulkan device (a test that calls this carries the
/// `hearth_missing_vulkan` ignore: testkit).
fn vulkan_report() -> EngineReport {
    allow_software_gpu();
    let report = engine::devices::query(&worker()).expect("the worker lists its devices");
    let has_vulkan = report.devices.iter().any(|d| d.backend == "Vulkan");
    assert!(has_vulkan, "{}, and the engine lists no Vulkan device: {report:?}", testkit::Resource::Vulkan.reason());
    report
}

/// The profile the app would build from this report, with lavapipe counted as a GPU.
fn profile(report: &EngineReport) -> types::HardwareProfile {
    let facts = hardware::system_facts(&std::env::temp_dir());
    let mut p = hardware::assemble(facts, &report.devices, &[], &[]);
    p.engine_cpu_variant = report.cpu_variant.clone();
    p
}

#[test]
#[cfg_attr(hearth_missing_vulkan, ignore = "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)")]
fn the_worker_reports_its_vulkan_device_and_cpu_variant() {
    let report = vulkan_report();
    let vk = report.devices.iter().find(|d| d.backend == "Vulkan").expect("a Vulkan device");
    assert!(vk.name.starts_with("Vulkan"), "{vk:?}");
    assert!(matches!(vk.kind, EngineDeviceKind::Gpu | EngineDeviceKind::IntegratedGpu), "{vk:?}");
    assert!(vk.memory_total > 0, "{vk:?}");
    assert!(report.devices.iter().any(|d| d.backend == "CPU"), "{report:?}");
    let variant = report.cpu_variant.clone().expect("the CPU backend variant is named");
    assert!(!variant.is_empty());
    // With the opt-in, the software device is a GPU the planner may use, named as llama.cpp names it.
    let p = profile(&report);
    assert_eq!(p.gpus.len(), 1, "{:?}", p.gpus);
    assert_eq!(p.gpus[0].engine_device.as_deref(), Some(vk.name.as_str()));
    assert!(p.gpus[0].usable_by_engine());
}

/// A request with one clear answer, greedy: counting. What the GPU says is compared with what the
/// CPU backend says. The test model's first token is a near tie on open questions, where kernels
/// that sum in another order pick another word: asked for the capital of France, ggml's plain C
/// build and Vulkan said "The capital of France is Paris." and the AVX2 build "La femme de
/// France, …"; a poem began "The waves…" on one and "In the depths…" on another. Counting has no
/// such tie, and the AVX2 build (which development builds use), the plain C build and Vulkan on
/// lavapipe all answer "1. 1\n2. 2\n3. 3…". Equal text means the layers on the GPU computed the
/// same model.
const QUESTION: &str =
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nCount from 1 to 20.<|im_end|>\n<|im_start|>assistant\n";

/// A folder holding only one CPU backend (the reference build, where there are variants) and the
/// Vulkan backend, for the workers'
/// `HEARTH_BACKENDS_DIR`. Made once per test process, each file written under another name and
/// renamed into place: the tests run in parallel, and a worker of another test that found a
/// half-copied `libggml-vulkan.so` there saw no Vulkan device (which failed CI once).
fn reference_cpu_backends(report: &EngineReport) -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let built = std::path::PathBuf::from(report.backends_dir.clone().expect("the worker names its backends folder"));
        let dir = std::env::temp_dir().join(format!("hearth-reference-cpu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp folder");
        // The CPU backend's reference build where the build has variants (a package's); a
        // development build has one CPU backend, built for this machine (src-tauri/cmake/).
        let cpu = if built.join("libggml-cpu-x64.so").exists() { "libggml-cpu-x64.so" } else { "libggml-cpu.so" };
        for lib in [cpu, "libggml-vulkan.so"] {
            let part = dir.join(format!("{lib}.part"));
            std::fs::copy(built.join(lib), &part).expect("copy a backend");
            std::fs::rename(&part, dir.join(lib)).expect("move a backend into place");
        }
        dir
    })
    .clone()
}

/// One device's plan beside llama.cpp's buffers there, MiB.
fn plan_against_llama(plan: &types::DeviceUse, llama: &types::DeviceBuffers) -> String {
    let mib = |b: u64| b as f64 / 1048576.0;
    format!(
        "weights {:.1} / {:.1} MiB, KV {:.1} / {:.1} MiB, compute {:.1} / {:.1} MiB (plan / llama.cpp)",
        mib(plan.memory.weights),
        mib(llama.weights_bytes),
        mib(plan.memory.kv_cache),
        mib(llama.kv_cache_bytes),
        mib(plan.memory.compute),
        mib(llama.compute_bytes)
    )
}

async fn greedy_text(host: &EngineHost, params: LoadParams) -> (String, types::LoadedModelInfo) {
    let info = host.load_and_wait(params).await.expect("loads");
    let (pieces, _) = run(host, raw(QUESTION, greedy(32))).await.expect("answers");
    (pieces.concat(), info)
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_vulkan, ignore = "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)")]
async fn all_and_half_the_layers_on_the_gpu_answer_as_the_cpu_does() {
    let report = vulkan_report();
    let path = model();
    let _one = one_at_a_time().await;
    let vk = report.devices.iter().find(|d| d.backend == "Vulkan").expect("vulkan").name.clone();
    // The workers of this test run one CPU backend, the reference build where there are variants.
    std::env::set_var("HEARTH_BACKENDS_DIR", reference_cpu_backends(&report));
    let host = host();

    let cpu = LoadParams { n_ctx: Some(2048), ..LoadParams::new(&path) };
    let (on_cpu, info) = greedy_text(&host, cpu.clone()).await;
    assert!(on_cpu.contains("2. 2\n3. 3"), "{on_cpu}");
    assert_eq!(info.n_gpu_layers, 0);
    assert!(info.devices.iter().all(|d| !d.name.starts_with("Vulkan")), "a CPU plan touched the GPU: {:?}", info.devices);

    let full = LoadParams { devices: vec![vk.clone()], n_gpu_layers: u32::MAX, ..cpu.clone() };
    let (on_gpu, info) = greedy_text(&host, full).await;
    let layers = info.n_layers;
    let vk_buffers = info.devices.iter().find(|d| d.name == vk).expect("buffers on the GPU");
    assert!(vk_buffers.weights_bytes > 0 && vk_buffers.kv_cache_bytes > 0, "{:?}", info.devices);
    assert_eq!(on_gpu, on_cpu, "the greedy reply differs between the GPU and the CPU");

    let half = LoadParams { devices: vec![vk.clone()], n_gpu_layers: layers / 2, ..cpu };
    let (on_half, info) = greedy_text(&host, half).await;
    assert_eq!(info.n_gpu_layers, layers / 2);
    assert_eq!(on_half, on_cpu, "the greedy reply differs with half the layers on the GPU");
}

/// The plan's figures for the GPU against what llama.cpp allocated there, at three contexts.
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_vulkan, ignore = "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)")]
async fn the_plan_for_the_gpu_matches_llama_cpps_own_buffers() {
    let report = vulkan_report();
    let path = model();
    let _one = one_at_a_time().await;
    let hw = profile(&report);
    let facts = gguf::read_file(&path).expect("header");
    let host = host();
    let mib = |b: u64| b as f64 / 1048576.0;
    for ctx in [512u32, 4096, 8192] {
        let plan = fit::plan(&facts, &hw, &LoadSettings { context: Some(ctx), ..LoadSettings::default() });
        let gpu = plan.devices.iter().find(|d| d.is_gpu).expect("the plan uses the GPU");
        assert_eq!(plan.gpu_layers, plan.total_layers, "the test model fits the device whole: {plan:?}");
        let params = LoadParams::from_plan(&path, &plan);
        assert_eq!(params.devices, vec![gpu.engine_device.clone().expect("named")]);
        let info = host.load_and_wait(params).await.expect("loads as planned");
        let got = info.devices.iter().find(|d| Some(&d.name) == gpu.engine_device.as_ref()).expect("GPU buffers");
        eprintln!("ctx {ctx}: {}", plan_against_llama(gpu, got));
        // Weights and K/V within 3 %, compute within FIT.md's 15 % (the Vulkan backend's graph
        // allocator packs a little tighter than the CPU's, which the formula is fitted to).
        let within = |plan: u64, real: u64, share: f64, what: &str| {
            let off = (plan as f64 - real as f64).abs() / (real as f64).max(1.0);
            assert!(off <= share, "ctx {ctx}: {what} planned {:.1} MiB, llama.cpp {:.1} MiB", mib(plan), mib(real));
        };
        within(gpu.memory.weights, got.weights_bytes, 0.03, "weights");
        within(gpu.memory.kv_cache, got.kv_cache_bytes, 0.03, "K/V cache");
        within(gpu.memory.compute, got.compute_bytes, 0.15, "compute");
    }
}

/// A GPU with too little free memory for the whole model: the plan is yellow, puts part of the
/// layers there, and the load does exactly that, stays inside the GPU's budget, and answers.
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_vulkan, ignore = "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)")]
async fn a_plan_squeezed_by_a_small_gpu_loads_part_of_the_layers_and_answers() {
    let report = vulkan_report();
    let path = model();
    let _one = one_at_a_time().await;
    std::env::set_var("HEARTH_BACKENDS_DIR", reference_cpu_backends(&report));
    let mut hw = profile(&report);
    // 280 MiB for the model once the backend's overhead (as the planner counts it) is taken: the whole
    // model at 8K needs about 300 (92 of weights, 180 of K/V, 24 of compute).
    let settings = LoadSettings { context: Some(8192), safety_margin_bytes: 0, ..LoadSettings::default() };
    let overhead = fit::budgets(&hw, &settings).gpus[0].overhead;
    hw.gpus[0].vram_free_bytes = Some((280 << 20) + overhead);
    let facts = gguf::read_file(&path).expect("header");
    let plan = fit::plan(&facts, &hw, &settings);
    assert_eq!((plan.verdict, plan.mode), (types::Verdict::Yellow, types::PlanMode::PartialGpu), "{plan:?}");
    assert!(plan.gpu_layers > 0 && plan.gpu_layers < plan.total_layers, "{plan:?}");
    let gpu = plan.devices.iter().find(|d| d.is_gpu).expect("the plan uses the GPU");

    let host = host();
    let info = host.load_and_wait(LoadParams::from_plan(&path, &plan)).await.expect("loads as planned");
    assert_eq!(info.n_gpu_layers, plan.gpu_layers);
    let got = info.devices.iter().find(|d| Some(&d.name) == gpu.engine_device.as_ref()).expect("GPU buffers");
    let used = got.weights_bytes + got.kv_cache_bytes + got.compute_bytes;
    eprintln!("{}/{} layers: {}", plan.gpu_layers, plan.total_layers, plan_against_llama(gpu, got));
    assert!(used <= gpu.budget_bytes, "llama.cpp put {used} bytes on the GPU, over the plan's budget {}", gpu.budget_bytes);
    let (pieces, _) = run(&host, raw(QUESTION, greedy(32))).await.expect("answers");
    assert!(pieces.concat().contains("2. 2\n3. 3"), "{}", pieces.concat());
}

/// Workers that see two GPUs: lavapipe listed twice. ggml-vulkan opens a device of its own for each
/// entry of `GGML_VK_VISIBLE_DEVICES`, so `0,0` gives two Vulkan devices with their own buffers and
/// queues. Set for these workers only (through `env`): the other tests here mean one device.
fn two_gpu_worker() -> engine::WorkerCommand {
    engine::WorkerCommand {
        program: "env".into(),
        args: vec!["GGML_VK_VISIBLE_DEVICES=0,0".into(), env!("CARGO_BIN_EXE_hearth-engine-worker").into()],
    }
}

/// Each GPU's plan against llama.cpp's buffers there: weights within 2 % (a layer more or less on a
/// GPU is 6 % of its share of the test model's weights, so this checks the split), K/V within 3 %,
/// compute no more than 15 % under and 30 % over. Over is the safe side, and where it is taken: a
/// second GPU that does not pipeline holds 11.8 MiB of compute at context 512 where the
/// single-device formula says 15.1.
fn gpus_as_planned(plan: &types::FitPlan, info: &types::LoadedModelInfo, what: &str) {
    let mib = |b: u64| b as f64 / 1048576.0;
    for gpu in plan.devices.iter().filter(|d| d.is_gpu) {
        let name = gpu.engine_device.clone().expect("named");
        let got = info.devices.iter().find(|d| d.name == name).expect("buffers on each GPU");
        eprintln!(
            "{what}: {name}, {} layers{}: {}",
            gpu.layers,
            if gpu.has_output { " and the output" } else { "" },
            plan_against_llama(gpu, got)
        );
        let within = |plan: u64, real: u64, under: f64, over: f64, kind: &str| {
            let off = (plan as f64 - real as f64) / (real as f64).max(1.0);
            assert!(-under <= off && off <= over, "{what}, {name}: {kind} planned {:.1} MiB, llama.cpp {:.1} MiB", mib(plan), mib(real));
        };
        within(gpu.memory.weights, got.weights_bytes, 0.02, 0.02, "weights");
        within(gpu.memory.kv_cache, got.kv_cache_bytes, 0.03, 0.03, "K/V cache");
        within(gpu.memory.compute, got.compute_bytes, 0.15, 0.30, "compute");
    }
}

/// Two GPUs: the plan splits the layers between them and the load makes the same split (llama.cpp
/// splits by free memory, which the planner follows: `fit::place`), with each GPU's buffers as
/// planned, the copies llama.cpp keeps between GPUs included, at two contexts with flash attention
/// and one without, all layers on the GPUs (llama.cpp then overlaps micro-batches across them) and all
/// but one; the model answers. A plan for the second GPU alone leaves the first untouched.
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_vulkan, ignore = "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)")]
async fn two_gpus_take_the_layers_as_planned_and_a_plan_for_one_touches_only_it() {
    let _ = vulkan_report();
    let path = model();
    let _one = one_at_a_time().await;
    let report = engine::devices::query(&two_gpu_worker()).expect("the worker lists its devices");
    let vk: Vec<String> = report.devices.iter().filter(|d| d.backend == "Vulkan").map(|d| d.name.clone()).collect();
    assert_eq!(vk.len(), 2, "two Vulkan devices: {report:?}");
    let hw = profile(&report);
    assert_eq!(hw.gpus.len(), 2, "{:?}", hw.gpus);
    let facts = gguf::read_file(&path).expect("header");
    let host = EngineHost::new(two_gpu_worker());

    // Without flash attention the single-device formula is well over llama.cpp at long contexts
    // (152 MiB planned where the first GPU held 102 at 8192, the safe side), so only 512 is held to
    // the margins here.
    for (ctx, flash_attention) in [(512u32, true), (8192, true), (512, false)] {
        let settings = LoadSettings { context: Some(ctx), flash_attention, ..LoadSettings::default() };
        let all = fit::plan(&facts, &hw, &settings);
        assert_eq!(all.gpu_layers, all.total_layers, "{all:?}");
        let gpus: Vec<&types::DeviceUse> = all.devices.iter().filter(|d| d.is_gpu).collect();
        assert!(gpus.len() == 2 && gpus.iter().all(|g| g.layers > 0), "the layers are split over both: {:?}", all.devices);
        let params = LoadParams::from_plan(&path, &all);
        assert_eq!(params.devices, vk);
        let info = host.load_and_wait(params).await.expect("loads as planned");
        gpus_as_planned(&all, &info, &format!("ctx {ctx}, flash attention {flash_attention}, all layers"));

        let run = types::RunOnSettings { run_on: types::RunOn::Auto, gpu_layers: Some(all.total_layers - 1) };
        let partial = fit::plan(&facts, &hw, &LoadSettings { run, ..settings });
        let info = host.load_and_wait(LoadParams::from_plan(&path, &partial)).await.expect("loads as planned");
        gpus_as_planned(&partial, &info, &format!("ctx {ctx}, flash attention {flash_attention}, one layer on the CPU"));
    }
    let (pieces, _) = run(&host, raw(QUESTION, greedy(32))).await.expect("answers");
    assert!(pieces.concat().contains("2. 2\n3. 3"), "{}", pieces.concat());

    let second = types::RunOnSettings { run_on: types::RunOn::Gpu { device: vk[1].clone() }, gpu_layers: None };
    let plan = fit::plan(&facts, &hw, &LoadSettings { context: Some(4096), run: second, ..LoadSettings::default() });
    let params = LoadParams::from_plan(&path, &plan);
    assert_eq!(params.devices, vec![vk[1].clone()]);
    let info = host.load_and_wait(params).await.expect("loads on the second GPU");
    let on = |name: &str| info.devices.iter().find(|d| d.name == name).map_or(0, |d| d.weights_bytes + d.kv_cache_bytes + d.compute_bytes);
    assert_eq!(on(&vk[0]), 0, "a plan for {} put buffers on {}: {:?}", vk[1], vk[0], info.devices);
    assert!(on(&vk[1]) > 0, "{:?}", info.devices);
}
