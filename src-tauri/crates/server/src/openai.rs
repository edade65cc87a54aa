//! OpenAI's response shapes, as plain functions from what the engine said to JSON: whole
//! completions (`chat.completion`, `text_completion`) with `usage`, the chunks of a stream
//! (`chat.completion.chunk` with `choices[0].delta`, or `text_completion` with `text`), the
//! `usage`-only chunk, and the model list. Each response has one id and one `created` time, shared
//! by all its chunks.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use types::{GenerationStats, StopReason};

use crate::backend::ModelEntry;
use crate::request::Endpoint;

/// What every object of one response shares.
#[derive(Debug, Clone)]
pub struct Head {
    pub id: String,
    pub created: i64,
    pub model: String,
    pub endpoint: Endpoint,
}

static NEXT: AtomicU64 = AtomicU64::new(1);

impl Head {
    pub fn new(endpoint: Endpoint, model: &str) -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let prefix = match endpoint {
            Endpoint::Chat => "chatcmpl",
            Endpoint::Text => "cmpl",
        };
        // Unique within a run and across runs: the start time and a counter.
        let id = format!("{prefix}-{:x}{:04x}", now.as_micros(), NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff);
        Self { id, created: i64::try_from(now.as_secs()).unwrap_or(0), model: model.to_string(), endpoint }
    }

    fn object(&self, streamed: bool) -> &'static str {
        match (self.endpoint, streamed) {
            (Endpoint::Chat, false) => "chat.completion",
            (Endpoint::Chat, true) => "chat.completion.chunk",
            (Endpoint::Text, _) => "text_completion",
        }
    }

    fn wrap(&self, streamed: bool, choices: Value, usage: Option<Value>) -> Value {
        let mut v = json!({ "id": self.id, "object": self.object(streamed), "created": self.created, "model": self.model, "system_fingerprint": null, "choices": choices });
        if let Some(usage) = usage {
            v["usage"] = usage;
        }
        v
    }

    /// A whole, non-streamed answer.
    pub fn completion(&self, text: &str, stats: &GenerationStats) -> Value {
        let choice = match self.endpoint {
            Endpoint::Chat => {
                json!({ "index": 0, "message": { "role": "assistant", "content": text }, "logprobs": null, "finish_reason": finish_reason(stats.stop_reason) })
            }
            Endpoint::Text => json!({ "index": 0, "text": text, "logprobs": null, "finish_reason": finish_reason(stats.stop_reason) }),
        };
        self.wrap(false, json!([choice]), Some(usage(stats)))
    }

    /// A chunk of a stream. `role` only on a chat stream's first chunk; `finish` on its last.
    /// With `include_usage`, every chunk carries `"usage": null` and the usage chunk comes last.
    pub fn chunk(&self, text: Option<&str>, first: bool, finish: Option<&str>, include_usage: bool) -> Value {
        let choice = match self.endpoint {
            Endpoint::Chat => {
                let mut delta = json!({});
                if first {
                    delta["role"] = json!("assistant");
                }
                if let Some(text) = text {
                    delta["content"] = json!(text);
                }
                json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish })
            }
            Endpoint::Text => json!({ "index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": finish }),
        };
        self.wrap(true, json!([choice]), include_usage.then_some(Value::Null))
    }

    /// The last chunk before `[DONE]` when the client asked for `stream_options.include_usage`.
    pub fn usage_chunk(&self, stats: &GenerationStats) -> Value {
        self.wrap(true, json!([]), Some(usage(stats)))
    }
}

pub fn usage(stats: &GenerationStats) -> Value {
    json!({
        "prompt_tokens": stats.prompt_tokens_total,
        "completion_tokens": stats.generated_tokens,
        "total_tokens": stats.prompt_tokens_total + stats.generated_tokens,
    })
}

/// OpenAI knows `stop` (the model ended, or a stop string came) and `length` (a token limit: the
/// request's, or the context's).
pub fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::MaxTokens | StopReason::ContextFull => "length",
        StopReason::Eos | StopReason::Stop | StopReason::Cancelled => "stop",
    }
}

pub fn model_object(m: &ModelEntry) -> Value {
    json!({ "id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by })
}

pub fn model_list(models: &[ModelEntry]) -> Value {
    json!({ "object": "list", "data": models.iter().map(model_object).collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> GenerationStats {
        GenerationStats {
            prompt_tokens_total: 10,
            reused_prefix_tokens: 0,
            prompt_tokens: 10,
            prompt_ms: 1.0,
            generated_tokens: 3,
            generation_ms: 1.0,
            time_to_first_token_ms: 1.0,
            stop_reason: StopReason::MaxTokens,
        }
    }

    // The wire format clients parse; pinned.
    #[test]
    fn chat_shapes() {
        let head = Head { id: "chatcmpl-1".into(), created: 5, model: "m".into(), endpoint: Endpoint::Chat };
        let full = head.completion("hi", &stats());
        assert_eq!(full["object"], "chat.completion");
        assert_eq!(full["choices"][0]["message"], json!({"role": "assistant", "content": "hi"}));
        assert_eq!(full["choices"][0]["finish_reason"], "length");
        assert_eq!(full["usage"], json!({"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}));
        let first = head.chunk(Some(""), true, None, false);
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
        assert!(first.get("usage").is_none());
        let last = head.chunk(None, false, Some("stop"), true);
        assert_eq!(last["choices"][0]["delta"], json!({}));
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(last["usage"], Value::Null);
        let usage = head.usage_chunk(&stats());
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 13);
    }

    #[test]
    fn text_shapes() {
        let head = Head::new(Endpoint::Text, "m");
        assert!(head.id.starts_with("cmpl-"));
        let full = head.completion("once", &stats());
        assert_eq!(full["object"], "text_completion");
        assert_eq!(full["choices"][0]["text"], "once");
        assert_eq!(head.chunk(Some("x"), true, None, false)["choices"][0]["text"], "x");
        assert_ne!(Head::new(Endpoint::Text, "m").id, head.id);
    }
}
