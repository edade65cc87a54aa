//! The engine when things go wrong, with the real test model through the worker process: a cancel
//! stops a reply within one token; a dropped receiver cancels too; a worker killed mid-reply gives
//! ENGINE_CRASHED (with its last log lines) and the next load starts a fresh one; a damaged model
//! file gives MODEL_LOAD_FAILED and the host carries on.

#[path = "support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use engine::{ReplyEvent, GenerateParams, LoadEvent};
use types::{ErrorCode, StopReason};

/// A prompt the model continues for a long time.
const STORY: &str = "Once upon a time, in a small village by the sea, there lived";

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_cancel_stops_the_reply_within_one_token() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let mut generation = host.generate(raw(STORY, greedy(1000))).await.expect("generate");
    let mut before = 0;
    while before < 5 {
        match generation.events.recv().await.expect("event") {
            ReplyEvent::Text(_) => before += 1,
            ReplyEvent::Started { .. } => {}
            other => panic!("ended before the cancel: {other:?}"),
        }
    }
    host.cancel(generation.id).await;
    let mut after = 0;
    let stats = loop {
        match generation.events.recv().await.expect("event") {
            ReplyEvent::Text(_) => after += 1,
            ReplyEvent::Done(stats) => break stats,
            ReplyEvent::Failed(e) => panic!("{e}"),
            ReplyEvent::Logprobs(l) => panic!("not asked for: {l:?}"),
            ReplyEvent::Started { .. } => panic!("started twice"),
            ReplyEvent::Call { .. } => panic!("no tools were offered"),
        }
    };
    println!("{before} tokens before the cancel, {after} after; {} generated in all", stats.generated_tokens);
    assert_eq!(stats.stop_reason, StopReason::Cancelled);
    assert!(after <= 1, "{after} tokens came after the cancel");
    assert!(stats.generated_tokens <= before + 1);
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn dropping_the_receiver_cancels_the_reply() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let mut generation = host.generate(raw(STORY, greedy(2000))).await.expect("generate");
    assert!(matches!(generation.events.recv().await, Some(ReplyEvent::Started { .. })));
    assert!(matches!(generation.events.recv().await, Some(ReplyEvent::Text(_))));
    drop(generation);
    // The worker answers one request at a time: this answer comes only once the reply has stopped.
    let started = Instant::now();
    let tokens = tokio::time::timeout(Duration::from_secs(10), host.tokenize("hello", false))
        .await
        .expect("the dropped reply was not cancelled")
        .expect("tokens");
    println!("tokenize answered {:?} after the drop", started.elapsed());
    assert!(!tokens.is_empty());
}

#[cfg(unix)]
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_worker_killed_mid_reply_gives_engine_crashed_and_the_next_load_works() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let mut generation = host.generate(raw(STORY, greedy(1000))).await.expect("generate");
    assert!(matches!(generation.events.recv().await, Some(ReplyEvent::Started { .. })));
    assert!(matches!(generation.events.recv().await, Some(ReplyEvent::Text(_))));
    let pid = host.pid().expect("a worker runs");
    let status = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill");
    assert!(status.success());
    let error = loop {
        match tokio::time::timeout(Duration::from_secs(10), generation.events.recv()).await.expect("an answer") {
            Some(ReplyEvent::Text(_) | ReplyEvent::Started { .. }) => {}
            Some(ReplyEvent::Failed(e)) => break e,
            other => panic!("expected an error, got {other:?}"),
        }
    };
    println!("{}", error.message);
    assert_eq!(error.code, ErrorCode::EngineCrashed);
    assert!(error.message.contains("SIGKILL") || error.message.contains("signal"), "{}", error.message);
    assert!(error.message.contains("last lines"), "the worker's log is quoted: {}", error.message);
    assert!(!host.is_loaded());
    assert_eq!(host.generate(raw(STORY, greedy(4))).await.expect_err("no model").code, ErrorCode::NoModelLoaded);

    host.load_and_wait(load_params(model())).await.expect("a fresh worker loads");
    assert_ne!(host.pid(), Some(pid));
    let (pieces, stats) = run(&host, raw(STORY, greedy(8))).await.expect("reply after restart");
    assert_eq!(stats.generated_tokens, 8);
    assert!(!pieces.concat().is_empty());
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_damaged_model_file_gives_model_load_failed_and_the_host_carries_on() {
    let _serial = one_at_a_time().await;
    let path = model();
    let dir = std::env::temp_dir().join(format!("hearth-engine-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let garbage = dir.join("garbage.gguf");
    std::fs::write(&garbage, b"GGUF\x03\x00\x00\x00this is not a model at all".repeat(100)).expect("write");
    // The real header, cut off long before the weights end.
    let truncated = dir.join("truncated.gguf");
    let bytes = std::fs::read(&path).expect("model");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
    let missing = dir.join("missing.gguf");

    let host = host();
    for bad in [&garbage, &truncated, &missing] {
        let mut events = host.load(load_params(bad.clone())).await.expect("load sent");
        let error = loop {
            match events.recv().await.expect("an answer") {
                LoadEvent::Progress(_) => {}
                LoadEvent::Error(e) => break e,
                LoadEvent::Loaded(_) => panic!("{} loaded", bad.display()),
            }
        };
        println!("{}: {}", bad.display(), error.message);
        assert_eq!(error.code, ErrorCode::ModelLoadFailed, "{}", error.message);
        assert!(!host.is_loaded());
    }
    let info = host.load_and_wait(load_params(path)).await.expect("the real model still loads");
    assert!(info.weights_bytes > 0);
    let (_, stats) = run(&host, raw(STORY, greedy(4))).await.expect("reply");
    assert_eq!(stats.generated_tokens, 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chat and the server share one engine, and either may load a model between the other's check and
/// its request. The engine is the one record of which model is in, and a request that names the
/// model it was written for is refused by the worker if another one is loaded by then.
#[cfg(unix)]
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn the_engine_says_which_model_is_in_and_refuses_a_request_for_another() {
    let _serial = one_at_a_time().await;
    let path = model();
    // The same weights under a second name stand for a second model.
    let dir = std::env::temp_dir().join(format!("hearth-engine-two-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let other = dir.join("other.gguf");
    let _ = std::fs::remove_file(&other);
    std::os::unix::fs::symlink(&path, &other).expect("symlink");

    let host = host();
    assert_eq!(host.loaded_path(), None);
    host.load_and_wait(load_params(path.clone())).await.expect("load");
    assert_eq!(host.loaded_path().as_deref(), Some(path.as_path()));
    let written_for_first = || GenerateParams { model: Some(path.clone()), ..raw("Hello", greedy(2)) };
    run(&host, written_for_first()).await.expect("a request for the loaded model runs");

    // The other party loads its model; a request written for the first one is refused, clearly.
    host.load_and_wait(load_params(other.clone())).await.expect("load the other");
    assert_eq!(host.loaded_path().as_deref(), Some(other.as_path()));
    let e = run(&host, written_for_first()).await.expect_err("refused");
    assert_eq!(e.code, ErrorCode::NoModelLoaded);
    assert!(e.message.contains("other.gguf was loaded in its place"), "{}", e.message);
    run(&host, raw("Hello", greedy(2))).await.expect("a request for whatever is loaded runs");

    host.unload().await.expect("unload");
    assert_eq!(host.loaded_path(), None);
    let _ = std::fs::remove_dir_all(&dir);
}
