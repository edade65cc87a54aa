//! The runtime with the real test model (SmolLM2-135M) and a copy of it under another name: two
//! models stay loaded at once when memory allows, the one used least recently goes when there is
//! no room (by count or by memory), a red plan is refused before anything is unloaded, and a model
//! already loaded with the same plan is not loaded again.

use std::path::{Path, PathBuf};

use runtime::{LoadRequest, Owner, Runtime};
use types::{ErrorCode, LoadSettings};

// One test at a time: llama.cpp's threads spin while they wait, and two cores are few.
static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn worker() -> engine::WorkerCommand {
    engine::WorkerCommand { program: env!("CARGO_BIN_EXE_runtime-test-worker").into(), args: Vec::new() }
}

/// The test model and a copy of it (another file, so another model as far as anyone can tell),
/// made once in a folder every run reuses.
fn two_models() -> (PathBuf, PathBuf) {
    let a = testkit::test_model();
    (a.clone(), copy_of(&a, "SmolLM2-copy.gguf"))
}

/// `model` copied once under `name` (written aside, then renamed, so a killed run leaves no half file).
fn copy_of(model: &Path, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("hearth-runtime-test-models");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let to = dir.join(name);
    if !to.exists() {
        let part = dir.join(format!("{name}.{}.part", std::process::id()));
        std::fs::copy(model, &part).expect("copy the test model");
        std::fs::rename(&part, &to).expect("rename the copy");
    }
    to
}

/// A CPU machine with `ram_gib` of RAM; loads at a 2K context, one slot.
fn runtime(ram_gib: u32) -> Runtime {
    let rt = Runtime::new(worker(), hardware::catalog::imagined(None, 1, ram_gib));
    rt.set_load_settings(std::sync::Arc::new(|_: &Path| LoadSettings {
        context: Some(2048),
        parallel: Some(1),
        ..LoadSettings::default()
    }));
    rt
}

fn paths(rt: &Runtime) -> Vec<PathBuf> {
    let mut p: Vec<PathBuf> = rt.residents().iter().map(|m| m.path().to_path_buf()).collect();
    p.sort();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn two_models_stay_loaded_when_memory_allows_and_the_least_recently_used_goes_when_not() {
    let _one = ONE.lock().await;
    let (a, b) = two_models();
    let rt = runtime(16);
    // The change feed the window follows: each load and unload moves it, a load of what is in
    // does not.
    let mut changes = rt.changes();
    let moved = |c: &mut tokio::sync::watch::Receiver<u64>| {
        let m = c.has_changed().unwrap();
        c.mark_unchanged();
        m
    };
    let first = rt.load(&a, LoadRequest::by(Owner::App), |_| {}).await.expect("loads");
    assert!(moved(&mut changes), "a load is a change");
    rt.load(&b, LoadRequest::by(Owner::Server), |_| {}).await.expect("loads beside the first");
    assert!(moved(&mut changes));
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(paths(&rt), both, "16 GB holds both");
    // Each answers from its own worker.
    let pids: Vec<_> = rt.residents().iter().map(|m| m.engine.pid()).collect();
    assert!(pids[0] != pids[1] && pids.iter().all(Option::is_some));
    // Loading one that is in, with the same plan, loads nothing.
    let again = rt.load(&a, LoadRequest::by(Owner::App), |_| panic!("no second load")).await.unwrap();
    assert_eq!(again.info.load_ms, first.info.load_ms);
    assert!(!moved(&mut changes), "nothing changed");
    // The app asking for the server's model claims it: the server's idle TTL leaves it alone then.
    rt.load(&b, LoadRequest::by(Owner::App), |_| panic!("no second load")).await.unwrap();
    assert!(rt.residents().iter().all(|m| m.owner == Owner::App));

    // One model at most: the one used least recently (b, since a was just asked for) goes.
    rt.set_max_models(1);
    rt.get(&a).expect("a is in");
    let third = copy_of(&a, "SmolLM2-third.gguf");
    rt.load(&third, LoadRequest::by(Owner::Cli), |_| {}).await.expect("loads in place of the others");
    assert_eq!(paths(&rt), vec![third.clone()]);
    assert!(moved(&mut changes), "models unloaded to make room, and the new one");
    rt.unload_all().await;
    assert!(rt.residents().is_empty());
    assert!(moved(&mut changes), "unloading is a change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_model_that_fits_only_alone_unloads_the_others_first() {
    let _one = ONE.lock().await;
    let (a, b) = two_models();
    // Room for one test model and a little more, not for two: RAM less the system's 2 GiB.
    let mut hw = hardware::catalog::imagined(None, 1, 4);
    let rt = runtime(4);
    let plan = rt.plan(&a, None).unwrap();
    hw.memory.total_bytes = (2u64 << 30) + plan.total_bytes * 3 / 2;
    rt.set_hardware(hw);
    assert_eq!(rt.plan(&a, None).unwrap().verdict, types::Verdict::Green);
    rt.load(&a, LoadRequest::by(Owner::App), |_| {}).await.unwrap();
    rt.load(&b, LoadRequest::by(Owner::App), |_| {}).await.expect("loads once the first is out");
    assert_eq!(paths(&rt), vec![b.clone()], "the first made room");
    rt.unload_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_red_plan_is_refused_before_anything_is_unloaded_unless_forced() {
    let _one = ONE.lock().await;
    let (a, b) = two_models();
    let rt = runtime(16);
    rt.load(&a, LoadRequest::by(Owner::App), |_| {}).await.unwrap();
    // Then the machine turns out to have less RAM than the weights (2 GiB kept by the system).
    let mut hw = rt.hardware();
    hw.memory.total_bytes = (2u64 << 30) + (16 << 20);
    rt.set_hardware(hw);
    let e = rt.load(&b, LoadRequest::by(Owner::App), |_| {}).await.expect_err("red");
    assert_eq!(e.code, ErrorCode::WouldNotFit, "{e:?}");
    assert_eq!(paths(&rt), vec![a.clone()], "nothing was unloaded for a load that was refused");
    // Forced (after the person saw that warning), it loads in place of the other.
    rt.load(&b, LoadRequest { force: true, ..LoadRequest::by(Owner::App) }, |_| {}).await.expect("forced");
    assert_eq!(paths(&rt), vec![b.clone()]);
    rt.unload_all().await;
}

/// Making room never unloads a model that is answering someone: Chat streaming from it, or a
/// server request. A load that would need to is refused at once with `ModelsBusy`, the reply goes
/// on to its end, and the same load succeeds once it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_model_that_is_answering_someone_is_never_unloaded_to_make_room() {
    let _one = ONE.lock().await;
    let (a, b) = two_models();
    let rt = runtime(16);
    rt.set_max_models(1);
    rt.load(&a, LoadRequest::by(Owner::App), |_| {}).await.expect("loads");
    let resident = rt.get(&a).expect("a is in");
    let params = engine::GenerateParams {
        prompt: engine::Prompt::Raw("1, 2, 3, 4, 5, 6, 7, 8,".into()),
        sampling: types::SamplingParams { temperature: 0.0, max_tokens: Some(200), ..Default::default() },
        context_overflow: types::ContextOverflow::Stop,
        model: None,
        // A list of at least 300 numbers: no end before the cap, whatever this CPU's kernels make
        // the model write.
        constraint: Some(engine::Constraint::JsonSchema {
            schema: r#"{"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": 300}"#.into(),
        }),
        logprobs: None,
        tools: None,
    };
    let mut reply = resident.engine.generate(params).await.expect("a reply starts");
    let started = reply.events.recv().await.expect("a first event");
    assert!(matches!(started, engine::ReplyEvent::Started { .. }), "{started:?}");
    let first = reply.events.recv().await.expect("a second event");
    assert!(matches!(first, engine::ReplyEvent::Text(_)), "{first:?}");

    let refused = rt.load(&b, LoadRequest::by(Owner::Server), |_| {}).await.expect_err("a is answering");
    assert_eq!(refused.code, ErrorCode::ModelsBusy, "{}", refused.message);
    assert_eq!(paths(&rt), vec![a.clone()], "a stays");

    // The reply goes on to its end.
    let stats = loop {
        match reply.events.recv().await.expect("an event") {
            engine::ReplyEvent::Done(stats) => break stats,
            engine::ReplyEvent::Failed(e) => panic!("the reply was cut: {e}"),
            _ => {}
        }
    };
    assert_eq!(stats.stop_reason, types::StopReason::MaxTokens);
    // Now there is room.
    rt.load(&b, LoadRequest::by(Owner::Server), |_| {}).await.expect("loads once a is done");
    assert_eq!(paths(&rt), vec![b.clone()]);
    rt.unload_all().await;
}
