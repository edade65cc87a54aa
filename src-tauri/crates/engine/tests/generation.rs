//! The engine with the real test model, through the worker process: a reply streams token by token
//! and matches llama.cpp run directly in this process; turn 2 of a chat decodes only what is new
//! and says the same as a fresh engine; stop strings, max_tokens and seeds are honoured.

#[path = "support/common.rs"]
mod common;

use common::*;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use types::{ChatMessage, ChatRole, SamplingParams, StopReason};

/// The same greedy reply computed in this process with llama-cpp-2 directly, detokenized at once.
fn one_shot_greedy(prompt: &str, max_tokens: usize) -> String {
    let path = model().expect("model");
    engine::devices::load_backends();
    let backend = LlamaBackend::init().expect("backend");
    let model = LlamaModel::load_from_file(&backend, &path, &LlamaModelParams::default()).expect("model");
    let threads = engine::physical_cores();
    // Exactly the context the worker makes for the same load (flash attention off by default: a
    // different kernel rounds differently, and a small model's greedy path soon parts).
    let cparams = engine::llama_params::context_params(&load_params(path.clone()), threads);
    let mut ctx = model.new_context(&backend, cparams).expect("context");
    let vocab = model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
    let mut batch = LlamaBatch::new(512, 1);
    for (i, t) in tokens.iter().enumerate() {
        batch.add(*t, i as i32, &[0], i + 1 == tokens.len()).expect("batch");
    }
    ctx.decode(&mut batch).expect("decode");
    let mut sampler = LlamaSampler::greedy();
    let mut bytes = Vec::new();
    for pos in tokens.len()..tokens.len() + max_tokens {
        let token = sampler.sample(&ctx, batch.n_tokens() - 1);
        if vocab.is_eog(token) {
            break;
        }
        bytes.extend(vocab.token_to_piece(token, false, None));
        batch.clear();
        batch.add(token, pos as i32, &[0], true).expect("batch");
        ctx.decode(&mut batch).expect("decode");
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn a_greedy_reply_streams_token_by_token_and_equals_a_one_shot_run() {
    let _serial = one_at_a_time().await;
    let Some(host) = loaded_host().await else { return };
    let (pieces, stats) = run(&host, raw(CHATML_PROMPT, greedy(48))).await.expect("reply");
    let streamed: String = pieces.concat();
    println!(
        "{} pieces, {} tokens, prompt {} tokens in {:.0} ms, {:.0} tokens/s, first token after {:.0} ms: {streamed:?}",
        pieces.len(),
        stats.generated_tokens,
        stats.prompt_tokens,
        stats.prompt_ms,
        stats.tokens_per_second().unwrap_or(0.0),
        stats.time_to_first_token_ms
    );
    assert!(pieces.len() >= 10, "a reply comes in many pieces, got {}", pieces.len());
    assert!(stats.generated_tokens >= 10);
    // Reading the prompt is most of the wait for the first token, and the prompt's figure is that
    // reading: it was once taken when the prompt was queued, before the decode, and said a prompt
    // was read at over a million tokens a second.
    assert!(
        stats.prompt_ms <= stats.time_to_first_token_ms && stats.prompt_ms >= stats.time_to_first_token_ms * 0.5,
        "prompt {:.2} ms, first token {:.2} ms",
        stats.prompt_ms,
        stats.time_to_first_token_ms
    );
    let expected = one_shot_greedy(CHATML_PROMPT, 48);
    assert_eq!(streamed, expected);
    assert_eq!(stats.stop_reason, if stats.generated_tokens == 48 { StopReason::MaxTokens } else { StopReason::Eos });
}

#[tokio::test]
async fn turn_two_decodes_only_what_is_new_and_says_what_a_fresh_engine_says() {
    let _serial = one_at_a_time().await;
    let Some(host) = loaded_host().await else { return };
    let mut messages =
        vec![ChatMessage::new(ChatRole::System, "You are a helpful assistant."), ChatMessage::new(ChatRole::User, "Name three colours.")];
    let (pieces, first) = run(&host, chat(messages.clone(), greedy(32))).await.expect("turn 1");
    messages.push(ChatMessage::new(ChatRole::Assistant, pieces.concat()));
    messages.push(ChatMessage::new(ChatRole::User, "And three animals?"));
    let (second_pieces, second) = run(&host, chat(messages.clone(), greedy(24))).await.expect("turn 2");
    println!(
        "turn 1: {} prompt tokens decoded of {}; turn 2: {} decoded of {} ({} reused), {:.0} ms vs {:.0} ms",
        first.prompt_tokens,
        first.prompt_tokens_total,
        second.prompt_tokens,
        second.prompt_tokens_total,
        second.reused_prefix_tokens,
        first.prompt_ms,
        second.prompt_ms
    );
    assert_eq!(first.reused_prefix_tokens, 0);
    assert_eq!(first.prompt_tokens, first.prompt_tokens_total);
    assert_eq!(second.prompt_tokens, second.prompt_tokens_total - second.reused_prefix_tokens);
    assert!(second.reused_prefix_tokens >= first.prompt_tokens_total, "turn 1's whole prompt is reused");
    assert!(second.prompt_tokens * 2 < second.prompt_tokens_total, "turn 2 decodes much less than its prompt");

    // The reused cache must give the same reply as decoding everything afresh.
    let Some(fresh) = loaded_host().await else { return };
    let (fresh_pieces, fresh_stats) = run(&fresh, chat(messages, greedy(24))).await.expect("fresh turn 2");
    assert_eq!(fresh_stats.reused_prefix_tokens, 0);
    assert_eq!(second_pieces.concat(), fresh_pieces.concat());

    // The same request again: everything but the last token comes from the cache.
    let (_, again) = run(&host, raw(CHATML_PROMPT, greedy(1))).await.expect("raw");
    let (_, again2) = run(&host, raw(CHATML_PROMPT, greedy(1))).await.expect("raw again");
    assert_eq!(again2.prompt_tokens, 1);
    assert_eq!(again2.reused_prefix_tokens, again.prompt_tokens_total - 1);
}

#[tokio::test]
async fn stop_strings_and_max_tokens_are_honoured() {
    let _serial = one_at_a_time().await;
    let Some(host) = loaded_host().await else { return };
    let (pieces, full) = run(&host, raw(CHATML_PROMPT, greedy(40))).await.expect("reference");
    let text = pieces.concat();
    // A stop string from the middle of the reference reply: the reply must end right before it.
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words.len() >= 6, "reference too short: {text:?}");
    let stop = format!("{} {}", words[3], words[4]);
    let at = text.find(&stop).expect("the stop string is in the reply");
    let sampling = SamplingParams { stop: vec!["never appears".into(), stop.clone()], ..greedy(40) };
    let (stopped_pieces, stopped) = run(&host, raw(CHATML_PROMPT, sampling)).await.expect("stopped");
    let stopped_text = stopped_pieces.concat();
    println!("reference {full:?}\nstop at {stop:?}: {stopped_text:?}");
    assert_eq!(stopped.stop_reason, StopReason::Stop);
    assert_eq!(stopped_text, text[..at]);
    assert!(!stopped_text.contains(&stop));

    let (_, capped) = run(&host, raw(CHATML_PROMPT, greedy(5))).await.expect("capped");
    assert_eq!(capped.generated_tokens, 5);
    assert_eq!(capped.stop_reason, StopReason::MaxTokens);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_text() {
    let _serial = one_at_a_time().await;
    let Some(host) = loaded_host().await else { return };
    let sampled = |seed| SamplingParams { temperature: 0.8, seed: Some(seed), max_tokens: Some(32), ..SamplingParams::default() };
    let (a, _) = run(&host, raw(CHATML_PROMPT, sampled(42))).await.expect("a");
    let (b, _) = run(&host, raw(CHATML_PROMPT, sampled(42))).await.expect("b");
    let (c, _) = run(&host, raw(CHATML_PROMPT, sampled(7))).await.expect("c");
    println!("seed 42: {:?}\nseed 7: {:?}", a.concat(), c.concat());
    assert_eq!(a.concat(), b.concat());
    assert!(!a.is_empty());
}

#[tokio::test]
async fn tokenize_and_load_figures_come_from_llama_cpp() {
    let _serial = one_at_a_time().await;
    let Some(path) = model() else { return };
    let host = host();
    let mut events = host.load(load_params(path)).await.expect("load");
    let mut progress = Vec::new();
    let info = loop {
        match events.recv().await.expect("an event") {
            engine::LoadEvent::Progress(p) => progress.push(p.fraction),
            engine::LoadEvent::Loaded(info) => break info,
            engine::LoadEvent::Error(e) => panic!("{e}"),
        }
    };
    println!("{info:?}, {} progress events", progress.len());
    assert!(!progress.is_empty() && progress.windows(2).all(|w| w[0] <= w[1]));
    assert!(host.is_loaded());
    assert!(info.has_chat_template);
    // The README's table: 92.1 MiB of weights, 11.2 MiB of f16 K/V at 512 tokens, so 45 at 2048.
    let mib = |b: u64| b as f64 / 1048576.0;
    assert!((mib(info.weights_bytes) - 92.1).abs() < 1.0, "weights {}", mib(info.weights_bytes));
    assert!((mib(info.kv_cache_bytes) - 45.0).abs() < 1.0, "kv {}", mib(info.kv_cache_bytes));
    assert!(info.compute_bytes > 0);
    let tokens = host.tokenize("<|im_start|>user", false).await.expect("tokens");
    assert_eq!(tokens.len(), 2, "the special token is parsed as one: {tokens:?}");
    host.unload().await.expect("unload");
    assert!(!host.is_loaded());
    assert_eq!(host.pid(), None);
}

#[tokio::test]
async fn a_conversation_longer_than_the_context_is_refused_or_shortened_as_asked() {
    let _serial = one_at_a_time().await;
    let Some(path) = model() else { return };
    let host = host();
    let n_ctx = host.load_and_wait(engine::LoadParams { n_ctx: Some(256), ..load_params(path) }).await.expect("load").n_ctx;
    let mut messages = vec![ChatMessage::new(ChatRole::System, "You are a helpful assistant.")];
    for i in 0..12 {
        messages.push(ChatMessage::new(
            ChatRole::User,
            format!("Question {i}: tell me something about the number {i} and why it matters to people."),
        ));
        messages.push(ChatMessage::new(
            ChatRole::Assistant,
            format!("The number {i} is interesting for many reasons, some of them historical and some mathematical."),
        ));
    }
    messages.push(ChatMessage::new(ChatRole::User, "Which number did we start with?"));

    let refused = run(&host, chat(messages.clone(), greedy(16))).await.expect_err("too long");
    assert_eq!(refused.code, types::ErrorCode::ContextFull, "{}", refused.message);

    let mut shortened = chat(messages, greedy(16));
    shortened.context_overflow = types::ContextOverflow::DropOldest;
    let (_, stats) = run(&host, shortened).await.expect("old turns left out");
    println!("context {n_ctx}: prompt cut down to {} tokens", stats.prompt_tokens_total);
    assert!(stats.prompt_tokens_total + 16 <= n_ctx);

    // A reply that fills the context ends with ContextFull instead of failing.
    let (_, full) = run(
        &host,
        raw(&"Once upon a time there was a story. ".repeat(20), SamplingParams { temperature: 0.0, ..SamplingParams::default() }),
    )
    .await
    .expect("fills up");
    println!("{full:?}");
    assert_eq!(full.stop_reason, StopReason::ContextFull);
    assert_eq!(full.prompt_tokens_total + full.generated_tokens, n_ctx + 1);
}
