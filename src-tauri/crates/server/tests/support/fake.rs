//! A scripted `Backend` for the HTTP tests that need no model: it "generates" words with a delay,
//! fails mid-reply when the prompt says FAIL, fails with a path and log lines in its message when
//! it says LEAK, and counts loads, unloads and cancellations.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::{ReplyEvent, GenerateParams, Generation, Prompt};
use server::{Backend, Loaded, LoadedId, ModelEntry, ModelState};
use types::{ErrorCode, GenerationStats, HearthError, StopReason};

#[derive(Default)]
pub struct Fake {
    pub loaded: AtomicBool,
    pub loads: AtomicU64,
    pub unloads: AtomicU64,
    /// Generations whose receiver was dropped before the end.
    pub cancelled: Arc<AtomicU64>,
    /// Pause between words.
    pub delay_ms: u64,
}

impl Fake {
    pub fn with_delay(delay_ms: u64) -> Self {
        Self { delay_ms, ..Default::default() }
    }
}

pub const MODEL: &str = "Fake-Model.Q4_0";

impl Backend for Fake {
    fn models(&self) -> Vec<ModelEntry> {
        vec![ModelEntry::from_path(format!("/nowhere/{MODEL}.gguf"))]
    }

    async fn ensure_loaded(&self, model: &str, auto_load: bool) -> Result<LoadedId, HearthError> {
        if !self.loaded.load(Ordering::SeqCst) {
            if !auto_load {
                return Err(HearthError::new(ErrorCode::NoModelLoaded, format!("The model `{model}` is not loaded.")));
            }
            self.loads.fetch_add(1, Ordering::SeqCst);
            self.loaded.store(true, Ordering::SeqCst);
        }
        Ok(LoadedId { id: model.to_string(), path: format!("/nowhere/{MODEL}.gguf").into() })
    }

    async fn generate(&self, _model: &LoadedId, params: GenerateParams) -> Result<Generation, HearthError> {
        let prompt = match &params.prompt {
            Prompt::Chat(m) => m.iter().map(|m| m.content.clone()).collect::<Vec<_>>().join(" "),
            Prompt::Raw(p) => p.clone(),
        };
        if prompt.contains("REFUSE") {
            return Err(HearthError::new(ErrorCode::ContextFull, "The prompt does not fit."));
        }
        if prompt.contains("LEAK") {
            // As the engine words a crash while loading: a path, then the worker's last lines.
            return Err(engine::EngineError::LoadFailed {
                path: "/home/ann/private/secret.gguf".into(),
                reason: "bad magic: /home/ann/private/secret.gguf".into(),
            }
            .into());
        }
        let max = params.sampling.max_tokens.unwrap_or(5);
        let (tx, events) = tokio::sync::mpsc::channel(4);
        let delay = self.delay_ms;
        let cancelled = self.cancelled.clone();
        tokio::spawn(async move {
            for i in 0..max {
                if prompt.contains("FAIL") && i == 2 {
                    tx.send(ReplyEvent::Failed(HearthError::new(ErrorCode::EngineCrashed, "The engine stopped unexpectedly.")))
                        .await
                        .ok();
                    return;
                }
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                if tx.send(ReplyEvent::Text(format!("w{i} "))).await.is_err() {
                    cancelled.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            let stats = GenerationStats {
                prompt_tokens_total: 7,
                reused_prefix_tokens: 0,
                prompt_tokens: 7,
                prompt_ms: 1.0,
                generated_tokens: max,
                generation_ms: 10.0,
                time_to_first_token_ms: 1.0,
                stop_reason: StopReason::MaxTokens,
                tokens_per_second: None,
                image_tokens: 0,
                image_ms: 0.0,
            };
            tx.send(ReplyEvent::Done(stats)).await.ok();
        });
        Ok(Generation { id: 1, events })
    }

    fn loaded(&self) -> Option<String> {
        self.loaded.load(Ordering::SeqCst).then(|| MODEL.to_string())
    }

    async fn unload_idle(&self, _model: &str) {
        if self.loaded.swap(false, Ordering::SeqCst) {
            self.unloads.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn states(&self) -> Vec<ModelState> {
        let loaded = if self.loaded.load(Ordering::SeqCst) { Loaded::ByServer(None) } else { Loaded::No };
        self.models().into_iter().map(|entry| ModelState { entry, plan: None, loaded: loaded.clone() }).collect()
    }

    async fn unload(&self, _model: &str) -> Result<(), HearthError> {
        if self.loaded.swap(false, Ordering::SeqCst) {
            self.unloads.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}
