//! A receiver that stops reading holds up nobody else (issue 13, item 2). The host has one task that
//! routes every worker event; it used to wait on a full channel, so a server stream whose HTTP
//! client stopped reading froze every other request, Chat's included. Now a generation whose
//! receiver falls the backlog behind is cancelled and told why, and the next request runs.

#[path = "support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use engine::ReplyEvent;
use types::ErrorCode;

/// A prompt the model continues for a long time.
const STORY: &str = "Once upon a time, in a small village by the sea, there lived";

const BACKLOG: usize = 16;

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_reader_that_never_reads_is_cancelled_and_holds_up_no_other_request() {
    let _serial = one_at_a_time().await;
    let path = model();
    let host = host().with_max_backlog(BACKLOG);
    host.load_and_wait(load_params(path)).await.expect("the test model loads");

    // Asked first, so the worker runs it first; nobody reads it until the end of the test.
    let mut stuck = host.generate(raw(STORY, greedy(1500))).await.expect("generate");
    // Chat's next reply (or another client's), queued behind it in the worker.
    let started = Instant::now();
    let (pieces, stats) = tokio::time::timeout(Duration::from_secs(60), run(&host, raw(STORY, greedy(8))))
        .await
        .expect("a receiver that never reads held up the next request")
        .expect("the next request completes");
    println!("the next request completed in {:?}", started.elapsed());
    assert_eq!(stats.generated_tokens, 8);
    assert!(!pieces.concat().is_empty());

    // The stuck receiver, read at last: the backlog (the start, then tokens), then the reason it
    // was stopped.
    let mut tokens = 0;
    let error = loop {
        match stuck.events.recv().await {
            Some(ReplyEvent::Text(_) | ReplyEvent::Started { .. }) => tokens += 1,
            Some(ReplyEvent::Failed(e)) => break e,
            other => panic!("expected tokens, then an error; got {other:?} after {tokens} tokens"),
        }
    };
    println!("{tokens} tokens queued, then: {}", error.message);
    assert_eq!(tokens, BACKLOG);
    assert_eq!(error.code, ErrorCode::Internal);
    assert!(error.message.contains("behind"), "{}", error.message);
    assert!(stuck.events.recv().await.is_none(), "nothing comes after the last event");

    // The host is still in order: the model answers another request.
    let (_, stats) = run(&host, raw(STORY, greedy(4))).await.expect("a reply after all this");
    assert_eq!(stats.generated_tokens, 4);
}
