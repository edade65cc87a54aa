//! Several replies at once through one context (slots, continuous batching), with the real test
//! model: each says what it says alone, a cancel stops only its own reply, a request beyond the
//! slots waits for one, and a conversation that comes back finds its own cache in its slot.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::{ReplyEvent, GenerateParams, LoadParams};
use futures_util::future::join_all;
use types::{ChatMessage, ChatRole, StopReason};

const QUESTIONS: [&str; 5] = [
    "Write a short poem about the sea.",
    "What is the capital of France?",
    "List three colours.",
    "Explain what a prime number is.",
    "Say hello in Spanish.",
];

fn ask(question: &str) -> GenerateParams {
    chat(vec![ChatMessage::new(ChatRole::User, question)], greedy(24))
}

async fn slots_host(n: u32) -> engine::EngineHost {
    let path = model();
    let host = host();
    let info = host.load_and_wait(LoadParams { n_ctx: Some(1024), n_parallel: n, ..LoadParams::new(path) }).await.expect("loads");
    assert_eq!((info.slots, info.n_ctx), (n, 1024), "each slot has the whole context");
    host
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn four_replies_at_once_each_say_what_they_say_alone() {
    let _one = one_at_a_time().await;
    let host = slots_host(4).await;
    let mut alone = Vec::new();
    for q in &QUESTIONS[..4] {
        alone.push(run(&host, ask(q)).await.expect("answers alone").0.concat());
    }
    // The same four again, at once; a fresh host, so no slot has any of them cached.
    let host = slots_host(4).await;
    let together = join_all(QUESTIONS[..4].iter().map(|q| run(&host, ask(q)))).await;
    for ((q, a), t) in QUESTIONS.iter().zip(&alone).zip(together) {
        let (pieces, stats) = t.expect("answers together");
        assert_eq!(&pieces.concat(), a, "{q}: batched with three others, greedy decoding must say the same");
        assert_eq!(stats.stop_reason, StopReason::MaxTokens);
        assert!(!a.is_empty());
    }
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_request_beyond_the_slots_waits_and_then_answers() {
    let _one = one_at_a_time().await;
    let host = slots_host(2).await;
    let replies = join_all(QUESTIONS.iter().map(|q| run(&host, ask(q)))).await;
    for (q, r) in QUESTIONS.iter().zip(replies) {
        let (pieces, stats) = r.unwrap_or_else(|e| panic!("{q}: {e}"));
        assert!(!pieces.concat().is_empty(), "{q}");
        assert_eq!(stats.generated_tokens, 24, "{q}");
    }
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn cancelling_one_reply_leaves_the_others_running() {
    let _one = one_at_a_time().await;
    let host = slots_host(3).await;
    let long = |q: &str| chat(vec![ChatMessage::new(ChatRole::User, q)], greedy(48));
    let alone = run(&host, long(QUESTIONS[1])).await.expect("alone").0.concat();
    let mut doomed = host.generate(long(QUESTIONS[0])).await.expect("starts");
    let others = [host.generate(long(QUESTIONS[1])).await.expect("starts"), host.generate(long(QUESTIONS[2])).await.expect("starts")];
    // Once the doomed reply has written something, cancel it.
    loop {
        match doomed.events.recv().await.expect("events") {
            ReplyEvent::Text(_) => break,
            ReplyEvent::Done(s) => panic!("ended before the cancel: {s:?}"),
            ReplyEvent::Failed(e) => panic!("{e}"),
            ReplyEvent::Started { .. } | ReplyEvent::Logprobs(_) | ReplyEvent::Call { .. } => {}
        }
    }
    host.cancel(doomed.id).await;
    let stopped = loop {
        match doomed.events.recv().await.expect("events") {
            ReplyEvent::Done(s) => break s,
            ReplyEvent::Failed(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert_eq!(stopped.stop_reason, StopReason::Cancelled);
    assert!(stopped.generated_tokens < 48);
    for (i, mut g) in others.into_iter().enumerate() {
        let mut text = String::new();
        let stats = loop {
            match g.events.recv().await.expect("events") {
                ReplyEvent::Text(t) => text.push_str(&t),
                ReplyEvent::Done(s) => break s,
                ReplyEvent::Failed(e) => panic!("{e}"),
                ReplyEvent::Started { .. } | ReplyEvent::Logprobs(_) | ReplyEvent::Call { .. } => {}
            }
        };
        assert_eq!(stats.stop_reason, StopReason::MaxTokens, "reply {i} ran to its end");
        if i == 0 {
            assert_eq!(text, alone, "the cancel changed nothing for the others");
        }
    }
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_conversation_that_comes_back_reuses_its_own_slot() {
    let _one = one_at_a_time().await;
    let host = slots_host(2).await;
    let first = |q: &str| vec![ChatMessage::new(ChatRole::User, q)];
    let (a, b) = (first(QUESTIONS[0]), first(QUESTIONS[1]));
    let (ra, rb) = tokio::join!(run(&host, chat(a.clone(), greedy(16))), run(&host, chat(b.clone(), greedy(16))));
    let (ra, rb) = (ra.expect("a").0.concat(), rb.expect("b").0.concat());
    // Each conversation's second turn: its first turn is still in the slot it used.
    for (mut conversation, reply) in [(a, ra), (b, rb)] {
        conversation.push(ChatMessage::new(ChatRole::Assistant, &reply));
        conversation.push(ChatMessage::new(ChatRole::User, "Tell me more."));
        let (_, stats) = run(&host, chat(conversation, greedy(8))).await.expect("second turn");
        assert!(
            stats.reused_prefix_tokens >= 10,
            "the second turn found its first turn cached (reused {} of {})",
            stats.reused_prefix_tokens,
            stats.prompt_tokens_total
        );
    }
}
