//! Shared by the engine's integration tests: a host driving the real worker binary, loaded with
//! the real test model (SmolLM2-135M-Instruct Q4_1), and helpers to run a request to its end.

#![allow(dead_code)]

use std::path::PathBuf;

use engine::{EngineHost, ReplyEvent, GenerateParams, LoadParams, Prompt, WorkerCommand};
use types::{ChatMessage, ContextOverflow, GenerationStats, HearthError, SamplingParams};

/// The real test model: a test that calls this carries the `hearth_missing_test_model` ignore
/// (testkit).
pub fn model() -> PathBuf {
    testkit::test_model()
}

pub fn host() -> EngineHost {
    EngineHost::new(WorkerCommand { program: env!("CARGO_BIN_EXE_hearth-engine-worker").into(), args: Vec::new() })
}

pub fn load_params(path: PathBuf) -> LoadParams {
    LoadParams { n_ctx: Some(2048), ..LoadParams::new(path) }
}

/// llama.cpp's threads wait for each other by spinning: two models decoding at once on a 2-core
/// machine run many times slower than one after the other. Each test that runs the model holds this.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// A host with the test model loaded.
pub async fn loaded_host() -> EngineHost {
    let path = model();
    let host = host();
    let info = host.load_and_wait(load_params(path)).await.expect("the test model loads");
    assert_eq!(info.n_ctx, 2048);
    host
}

pub fn greedy(max_tokens: u32) -> SamplingParams {
    SamplingParams { temperature: 0.0, max_tokens: Some(max_tokens), ..SamplingParams::default() }
}

pub fn chat(messages: Vec<ChatMessage>, sampling: SamplingParams) -> GenerateParams {
    GenerateParams {
        prompt: Prompt::Chat(messages),
        sampling,
        context_overflow: ContextOverflow::Stop,
        model: None,
        constraint: None,
        logprobs: None,
        tools: None,
    }
}

pub fn raw(prompt: &str, sampling: SamplingParams) -> GenerateParams {
    GenerateParams {
        prompt: Prompt::Raw(prompt.to_string()),
        sampling,
        context_overflow: ContextOverflow::Stop,
        model: None,
        constraint: None,
        logprobs: None,
        tools: None,
    }
}

/// Runs a request to its end: the text pieces as they came, and the figures.
pub async fn run(host: &EngineHost, params: GenerateParams) -> Result<(Vec<String>, GenerationStats), HearthError> {
    let mut generation = host.generate(params).await?;
    let mut pieces = Vec::new();
    while let Some(event) = generation.events.recv().await {
        match event {
            ReplyEvent::Text(t) => pieces.push(t),
            ReplyEvent::Done(stats) => return Ok((pieces, stats)),
            ReplyEvent::Failed(e) => return Err(e),
            ReplyEvent::Started { .. } | ReplyEvent::Logprobs(_) | ReplyEvent::Call { .. } => {}
        }
    }
    panic!("the event stream ended without Done or Error");
}

/// A ChatML prompt written out, as SmolLM2's template renders it.
pub const CHATML_PROMPT: &str =
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a short poem about the sea.<|im_end|>\n<|im_start|>assistant\n";
