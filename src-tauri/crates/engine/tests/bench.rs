//! The llama-bench style measurement through the worker, with the real test model: it times every
//! repetition of both tests, leaves the cache empty so the next reply is what a fresh engine says,
//! and a cancel ends it early.

#[path = "support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use engine::protocol::BenchParams;
use types::{ChatMessage, ChatRole};

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn bench_times_each_repetition_and_leaves_the_cache_empty() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let question = || chat(vec![ChatMessage::new(ChatRole::User, "Name a colour.")], greedy(8));
    let (before, _) = run(&host, question()).await.expect("reply");

    let params = BenchParams { n_prompt: 64, n_gen: 16, repetitions: 2 };
    let result = host.bench(params, |_| {}).await.expect("bench");
    assert_eq!(result.prompt_ms.len(), 2);
    assert_eq!(result.gen_ms.len(), 2);
    assert!(result.prompt_ms.iter().chain(&result.gen_ms).all(|&ms| ms > 0.0), "{result:?}");
    assert_eq!(result.n_threads, engine::physical_cores() as u32);

    let (after, stats) = run(&host, question()).await.expect("reply after the bench");
    assert_eq!(stats.reused_prefix_tokens, 0, "the bench must leave the cache empty");
    assert_eq!(after.concat(), before.concat());
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_bench_longer_than_the_context_is_refused() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let params = BenchParams { n_prompt: 4096, n_gen: 0, repetitions: 1 };
    let e = host.bench(params, |_| {}).await.expect_err("too long");
    assert_eq!(e.code, types::ErrorCode::ContextFull);
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_cancel_ends_a_bench_early() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let host = std::sync::Arc::new(host);
    let (id_tx, id_rx) = tokio::sync::oneshot::channel();
    let canceller = {
        let host = host.clone();
        tokio::spawn(async move {
            let id = id_rx.await.expect("id");
            tokio::time::sleep(Duration::from_millis(300)).await;
            host.cancel(id).await;
            Instant::now()
        })
    };
    // About a minute of work uncancelled.
    let params = BenchParams { n_prompt: 0, n_gen: 1000, repetitions: 50 };
    let result = host.bench(params, |id| id_tx.send(id).expect("send")).await.expect("bench");
    let cancelled_at = canceller.await.expect("canceller");
    assert!(cancelled_at.elapsed() < Duration::from_secs(2), "took {:?} after the cancel", cancelled_at.elapsed());
    assert!(result.gen_ms.len() < 50, "{result:?}");
}
