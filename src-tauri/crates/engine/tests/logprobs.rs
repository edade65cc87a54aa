//! Log-probabilities through the worker with the real test model: one entry per written token,
//! whose bytes make up the reply; under greedy decoding each token is the likeliest at its step
//! (its log-probability equals the first alternative's); alternatives come likeliest first; none
//! is above 0, and their probabilities sum to at most 1.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::ReplyEvent;
use types::{ChatMessage, ChatRole, StopReason, TokenLogprob};

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn each_written_token_comes_with_its_log_probability_and_the_likeliest_alternatives() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let mut params = chat(vec![ChatMessage::new(ChatRole::User, "What is the capital of France?")], greedy(12));
    params.logprobs = Some(3);
    let mut generation = host.generate(params).await.expect("generate");
    let (mut text, mut logprobs): (String, Vec<TokenLogprob>) = (String::new(), Vec::new());
    let stats = loop {
        match generation.events.recv().await.expect("event") {
            ReplyEvent::Logprobs(l) => logprobs.extend(l),
            ReplyEvent::Started { .. } | ReplyEvent::Call { .. } => {}
            ReplyEvent::Text(t) => text.push_str(&t),
            ReplyEvent::Done(stats) => break stats,
            ReplyEvent::Failed(e) => panic!("{e}"),
        }
    };
    assert_eq!(stats.stop_reason, StopReason::MaxTokens);
    assert_eq!(logprobs.len(), stats.generated_tokens as usize, "one per written token");
    let bytes: Vec<u8> = logprobs.iter().flat_map(|t| t.bytes.clone()).collect();
    assert_eq!(String::from_utf8_lossy(&bytes), text);
    for t in &logprobs {
        assert_eq!(t.top.len(), 3, "{t:?}");
        assert!(t.logprob <= 0.0 && t.logprob.is_finite(), "{t:?}");
        assert_eq!(t.top[0].bytes, t.bytes, "greedy writes the likeliest token: {t:?}");
        assert!((t.top[0].logprob - t.logprob).abs() < 1e-6, "{t:?}");
        assert!(t.top.windows(2).all(|w| w[0].logprob >= w[1].logprob), "likeliest first: {t:?}");
        assert!(t.top.iter().map(|a| a.logprob.exp()).sum::<f32>() <= 1.0 + 1e-4, "{t:?}");
    }

    // Not asked for: none sent.
    let mut generation = host.generate(chat(vec![ChatMessage::new(ChatRole::User, "Hi")], greedy(4))).await.expect("generate");
    loop {
        match generation.events.recv().await.expect("event") {
            ReplyEvent::Logprobs(l) => panic!("not asked for: {l:?}"),
            ReplyEvent::Started { .. } | ReplyEvent::Call { .. } => {}
            ReplyEvent::Text(_) => {}
            ReplyEvent::Done(_) => break,
            ReplyEvent::Failed(e) => panic!("{e}"),
        }
    }
}
