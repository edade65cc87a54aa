//! The CPU backend is built in one variant per instruction set, and the engine loads the best one
//! this CPU runs. Checked by running the worker under qemu-user as a Nehalem (SSE4.2, no AVX): it must
//! pick a variant without AVX2 and still answer.
//!
//! What this checks and what it cannot: qemu-user changes what CPUID reports, so ggml's choice of
//! variant is tested; but qemu still executes AVX2 instructions if they come, so a variant that used
//! an instruction the CPU lacks would not crash here as it would on a real old CPU.
//!
//! Only a package's build has the variants: development and test builds make one CPU backend for
//! the machine that builds (src-tauri/cmake/one-cpu-backend.cmake, to keep CI's cold build short).
//! So these tests are ignored in `make test` and run by `make check-package`, which builds the
//! engine as `make package` does.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::{EngineHost, LoadParams, WorkerCommand};

/// The worker run by qemu as another CPU (a test that calls this carries the `hearth_missing_qemu`
/// ignore: testkit).
fn as_cpu(model: &str) -> WorkerCommand {
    let qemu = testkit::need(testkit::Resource::Qemu);
    let worker = env!("CARGO_BIN_EXE_hearth-engine-worker");
    WorkerCommand { program: qemu, args: vec!["-cpu".into(), model.into(), worker.into()] }
}

#[test]
#[cfg_attr(hearth_missing_qemu, ignore = "needs qemu-x86_64: make deps-test (Debian package qemu-user)")]
#[cfg(target_arch = "x86_64")]
#[ignore = "needs the package build's CPU variants: make check-package"]
fn a_cpu_without_avx_gets_a_variant_without_avx2() {
    let nehalem = as_cpu("Nehalem");
    let report = engine::devices::query(&nehalem).expect("the worker answers under qemu");
    let variant = report.cpu_variant.expect("a CPU variant is loaded");
    // ggml names its x86 variants after the CPUs that introduced their instruction sets.
    let has_avx2 = ["haswell", "skylakex", "icelake", "alderlake", "sapphirerapids", "zen4", "cannonlake", "cascadelake", "cooperlake"];
    assert!(!has_avx2.contains(&variant.as_str()), "a Nehalem got the {variant} variant");
    assert!(["x64", "sse42", "sandybridge", "ivybridge", "piledriver"].contains(&variant.as_str()), "{variant}");

    // The same machine natively picks a variant at least as good as AVX2 where it has AVX2.
    let native = engine::devices::query(&WorkerCommand { program: env!("CARGO_BIN_EXE_hearth-engine-worker").into(), args: vec![] })
        .expect("the worker answers");
    eprintln!("Nehalem under qemu: {variant}; this CPU: {:?}", native.cpu_variant);
    assert_ne!(native.cpu_variant.as_deref(), Some(variant.as_str()), "this machine is not a Nehalem");
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_qemu, ignore = "needs qemu-x86_64: make deps-test (Debian package qemu-user)")]
#[cfg(target_arch = "x86_64")]
#[ignore = "needs the package build's CPU variants: make check-package"]
async fn the_engine_still_answers_as_a_nehalem() {
    let nehalem = as_cpu("Nehalem");
    let path = model();
    let _one = one_at_a_time().await;
    let host = EngineHost::new(nehalem);
    host.load_and_wait(LoadParams { n_ctx: Some(512), ..LoadParams::new(path) }).await.expect("loads under qemu");
    let (pieces, stats) = run(&host, raw(CHATML_PROMPT, greedy(4))).await.expect("answers under qemu");
    assert!(stats.generated_tokens > 0 && !pieces.concat().is_empty(), "{pieces:?}");
}

/// On this machine, natively: the package's best variant for this CPU answers a first prompt, or,
/// where this CPU traps on it (a newer Xeon whose hypervisor reports AMX and refuses it), the load
/// fails once with the sentence that says so, that variant is left out, and the next load answers
/// on the next one down. It prints which happened.
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg(target_arch = "x86_64")]
#[ignore = "needs the package build's CPU variants: make check-package"]
async fn the_first_prompt_is_answered_natively_even_where_the_best_variant_traps() {
    let path = model();
    let _one = one_at_a_time().await;
    let native = WorkerCommand { program: env!("CARGO_BIN_EXE_hearth-engine-worker").into(), args: vec![] };
    let params = LoadParams { n_ctx: Some(512), ..LoadParams::new(path) };
    let host = EngineHost::new(native.clone());
    if let Err(e) = host.load_and_wait(params.clone()).await {
        assert!(e.message.contains("illegal instruction"), "{e:?}");
        eprintln!("trapped once: {}; left out: {:?}", e.message, engine::devices::avoided::list());
        host.load_and_wait(params).await.expect("loads on the next variant down");
    }
    let (pieces, _) = run(&host, raw(CHATML_PROMPT, greedy(4))).await.expect("answers");
    let report = engine::devices::query(&native).expect("the worker answers");
    eprintln!("answered {:?} on {:?}, left out {:?}", pieces.concat(), report.cpu_variant, report.avoided_cpu_variants);
}
