//! Embeddings through the worker. A chat model (the test model: its file names no pooling) is
//! refused with a sentence that says why. The same weights with a pooling named in the file (the
//! test model rewritten with `llama.pooling_type = 1`, mean) embed: one unit-length vector per
//! input, as wide as the model; the same text gives the same vector whether it comes alone, in a
//! batch or as its tokens; different texts give different vectors.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::EmbedInput;
use gguf::write::{rewrite, Edit, GgufWriter};
use types::ErrorCode;

fn pooled_model() -> std::path::PathBuf {
    let path = model();
    let copy = std::env::temp_dir().join(format!("hearth-embed-{}.gguf", std::process::id()));
    let edit = Edit { set: GgufWriter::new("llama").u32("llama.pooling_type", 1), ..Default::default() };
    rewrite(&path, &copy, &edit).expect("rewrite");
    copy
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_model_with_pooling_embeds_and_a_chat_model_says_it_cannot() {
    let _serial = one_at_a_time().await;
    let chat_model = model();
    let host = host();
    host.load_and_wait(load_params(chat_model)).await.expect("loads");
    let e = host.embed(vec![EmbedInput::Text("hello".into())]).await.expect_err("a chat model");
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.message.contains("cannot make embeddings"), "{}", e.message);

    let pooled = pooled_model();
    host.load_and_wait(load_params(pooled.clone())).await.expect("the pooled copy loads");
    let texts = ["The cat sat on the mat.", "A kitten sleeps on a rug.", "Quarterly revenue grew by four percent."];
    let (batch, tokens) = host.embed(texts.iter().map(|t| EmbedInput::Text(t.to_string())).collect()).await.expect("embeds");
    assert_eq!(batch.len(), 3);
    assert!(tokens > 15, "{tokens}");
    for v in &batch {
        assert_eq!(v.len(), 576, "SmolLM2-135M's width");
        assert!((cosine(v, v) - 1.0).abs() < 1e-4, "unit length");
    }
    assert!(cosine(&batch[0], &batch[1]) < 0.9999 && cosine(&batch[0], &batch[2]) < 0.9999, "different texts, different vectors");
    let (alone, _) = host.embed(vec![EmbedInput::Text(texts[0].into())]).await.expect("embeds");
    assert!(cosine(&alone[0], &batch[0]) > 0.9999, "alone as in a batch");
    let ids = host.tokenize(texts[0], true).await.expect("tokens");
    let (by_tokens, n) = host.embed(vec![EmbedInput::Tokens(ids.clone())]).await.expect("embeds");
    assert_eq!(n as usize, ids.len());
    assert!(cosine(&by_tokens[0], &batch[0]) > 0.9999, "tokens as text");
    let e = host.embed(vec![EmbedInput::Tokens(vec![1 << 30])]).await.expect_err("out of the vocabulary");
    assert_eq!(e.code, ErrorCode::InvalidInput);
    // Generation on the same load still works after embeddings.
    let (pieces, _) = run(&host, raw(CHATML_PROMPT, greedy(4))).await.expect("still generates");
    assert!(!pieces.is_empty());
    let _ = std::fs::remove_file(pooled);
}

/// Embeddings nobody waits for any more (the client went away, the future was dropped) stop
/// between inputs: the next request is answered within seconds, not after the whole batch (here
/// about 96,000 tokens, more than a minute of work on 2 cores).
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn embeddings_nobody_waits_for_stop_between_inputs() {
    let _serial = one_at_a_time().await;
    let pooled = pooled_model();
    let host = host();
    host.load_and_wait(load_params(pooled.clone())).await.expect("the pooled copy loads");
    let pid = host.pid();
    let long = "The cat sat on the mat and looked at the door. ".repeat(20);
    let inputs: Vec<EmbedInput> = (0..400).map(|_| EmbedInput::Text(long.clone())).collect();
    let gone = tokio::time::timeout(std::time::Duration::from_millis(500), host.embed(inputs)).await;
    assert!(gone.is_err(), "the batch was done in half a second");
    let t = std::time::Instant::now();
    host.tokenize("hello", false).await.expect("the next request is answered");
    println!("the next request after an abandoned batch of embeddings: {:?}", t.elapsed());
    assert!(t.elapsed() < std::time::Duration::from_secs(10), "the worker went on with the abandoned batch for {:?}", t.elapsed());
    assert_eq!(host.pid(), pid, "the same worker");
    let _ = std::fs::remove_file(pooled);
}

/// The longest input one embedding takes is the load's (`LoadParams::embed_tokens`, from the fit
/// plan, which sized the embedding context to fit beside the model): a longer input is refused
/// with a sentence that says the limit, a shorter one embeds, and the worker goes on.
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn an_input_longer_than_the_plan_allows_is_refused_and_the_worker_goes_on() {
    let _serial = one_at_a_time().await;
    let pooled = pooled_model();
    let host = host();
    host.load_and_wait(engine::LoadParams { embed_tokens: 16, ..load_params(pooled.clone()) }).await.expect("loads");
    let pid = host.pid();
    let long = "The cat sat on the mat and looked at the door for a long time. ".repeat(3);
    let e = host.embed(vec![EmbedInput::Text(long)]).await.expect_err("longer than 16 tokens");
    assert_eq!(e.code, ErrorCode::ContextFull, "{e:?}");
    assert!(e.message.contains("at most 16"), "{}", e.message);
    let (v, tokens) = host.embed(vec![EmbedInput::Text("A cat.".into())]).await.expect("a short input embeds");
    assert!(v.len() == 1 && tokens <= 16, "{tokens}");
    assert_eq!(host.pid(), pid, "the same worker");
    let _ = std::fs::remove_file(pooled);
}
