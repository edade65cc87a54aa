//! A CPU backend variant that this processor says it can run and then cannot (SIGILL: a hypervisor
//! that reports AMX and refuses `tilezero`, as seen on a newer Xeon) must not take a load down.
//! The worker dies of the illegal instruction while it warms up; the host leaves that variant out
//! from then on (and writes so in Hearth's home), and the runtime loads again with the next one
//! down, so the load the person asked for succeeds.
//!
//! The trap is real (`ud2`, a real SIGILL) but placed by fault injection: the worker executes it
//! when its CPU variant is the one named in `HEARTH_FAULT_TRAP_CPU_VARIANT`. The two variants are
//! real builds of llama.cpp's CPU backend: this machine's own (named "native" here, so ggml picks
//! it first) and the baseline x86-64 one `make test-cpu-variant` builds.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::path::{Path, PathBuf};

use runtime::{LoadRequest, Owner, Runtime};
use types::LoadSettings;

/// The baseline build (a test that calls this carries the `hearth_missing_cpu_x64` ignore: testkit).
fn x64_build() -> PathBuf {
    testkit::need(testkit::Resource::CpuX64)
}

fn test_worker() -> PathBuf {
    env!("CARGO_BIN_EXE_runtime-test-worker").into()
}

/// The worker with its backends from `dir`, trapping on the "native" variant.
fn trapping_worker(dir: &Path) -> engine::WorkerCommand {
    engine::WorkerCommand {
        program: "env".into(),
        args: vec![
            format!("HEARTH_BACKENDS_DIR={}", dir.display()),
            "HEARTH_FAULT_TRAP_CPU_VARIANT=native".into(),
            test_worker().display().to_string(),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_cpu_x64, ignore = "needs the baseline x86-64 CPU backend: make test-cpu-variant")]
async fn a_cpu_variant_that_traps_is_left_out_and_the_load_goes_on_with_the_next_one_down() {
    let model = testkit::test_model();
    let x64 = x64_build();
    // This machine's own build, from where a plain worker loads it.
    let plain = engine::WorkerCommand { program: test_worker(), args: Vec::new() };
    let own = engine::devices::query(&plain).expect("a plain worker answers").backends_dir.expect("its backends folder");
    let native = Path::new(&own).join("libggml-cpu.so");
    assert!(native.exists(), "{}", native.display());

    let dir = std::env::temp_dir().join(format!("hearth-cpu-trap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let backends = dir.join("backends");
    std::fs::create_dir_all(&backends).unwrap();
    // Copies, not links: a variant is named by the file the process mapped, which a link resolves.
    std::fs::copy(&native, backends.join("libggml-cpu-native.so")).unwrap();
    std::fs::copy(&x64, backends.join("libggml-cpu-x64.so")).unwrap();
    let worker = trapping_worker(&backends);

    // ggml picks the better build: this machine's own.
    let before = engine::devices::query(&worker).expect("the worker answers");
    assert_eq!(before.cpu_variant.as_deref(), Some("native"), "{before:?}");
    assert!(before.avoided_cpu_variants.is_empty());

    let remembered = dir.join(engine::devices::avoided::FILE);
    engine::devices::avoided::remember_in(remembered.clone());
    let rt = Runtime::new(worker.clone(), hardware::catalog::imagined(None, 1, 16));
    rt.set_load_settings(std::sync::Arc::new(|_: &Path| LoadSettings { context: Some(512), parallel: Some(1), ..LoadSettings::default() }));
    let loaded = rt.load(&model, LoadRequest::by(Owner::App), |_| {}).await.expect("the load goes on without the variant that trapped");
    println!("loaded after a trap: {} in {:.0} ms", loaded.file_name, loaded.info.load_ms);

    assert_eq!(engine::devices::avoided::list(), vec!["native".to_string()]);
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&remembered).expect("remembered in the home")).unwrap();
    assert_eq!(saved["avoid"], serde_json::json!(["native"]), "{saved}");
    assert!(saved["cpu"].as_str().is_some_and(|c| !c.is_empty()), "{saved}");

    // Every worker from now on runs the next one down, and says what it left out.
    let after = engine::devices::query(&worker).expect("the worker answers");
    assert_eq!(after.cpu_variant.as_deref(), Some("x64"), "{after:?}");
    assert_eq!(after.avoided_cpu_variants, vec!["native".to_string()]);

    // And the loaded model answers.
    let resident = rt.residents().into_iter().next().expect("a resident");
    let params = engine::GenerateParams {
        prompt: engine::Prompt::Raw("The capital of France is".into()),
        sampling: types::SamplingParams { temperature: 0.0, max_tokens: Some(4), ..Default::default() },
        context_overflow: types::ContextOverflow::Stop,
        model: None,
        // A number: at least one digit before the end, whatever this CPU makes the model write.
        constraint: Some(engine::Constraint::JsonSchema { schema: r#"{"type": "integer"}"#.into() }),
        logprobs: None,
        tools: None,
    };
    let mut generation = resident.engine.generate(params).await.expect("generate");
    let mut text = String::new();
    loop {
        match generation.events.recv().await.expect("an event") {
            engine::ReplyEvent::Text(t) => text.push_str(&t),
            engine::ReplyEvent::Done(_) => break,
            engine::ReplyEvent::Failed(e) => panic!("{e}"),
            engine::ReplyEvent::Started { .. } | engine::ReplyEvent::Logprobs(_) | engine::ReplyEvent::Call { .. } => {}
        }
    }
    assert!(!text.is_empty());
    rt.unload(&model).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
