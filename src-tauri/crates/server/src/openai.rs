//! OpenAI's response shapes, as plain functions from what the engine said to JSON: whole
//! completions (`chat.completion`, `text_completion`) with `usage`, the chunks of a stream
//! (`chat.completion.chunk` with `choices[0].delta`, or `text_completion` with `text`), the
//! `usage`-only chunk, and the model list. Each response has one id and one `created` time, shared
//! by all its chunks.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use types::{GenerationStats, StopReason, TokenLogprob};

use crate::backend::{Loaded, ModelEntry, ModelState};
use crate::request::Endpoint;

/// What every object of one response shares.
#[derive(Debug, Clone)]
pub struct Head {
    pub id: String,
    pub created: i64,
    pub model: String,
    pub endpoint: Endpoint,
    /// The client asked for log-probabilities: `logprobs` is an object (else `null`).
    pub logprobs: bool,
}

/// A call as a response carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOut {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

static NEXT: AtomicU64 = AtomicU64::new(1);

impl Head {
    pub fn new(endpoint: Endpoint, model: &str, logprobs: bool) -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let prefix = match endpoint {
            Endpoint::Chat => "chatcmpl",
            Endpoint::Text => "cmpl",
        };
        // Unique within a run and across runs: the start time and a counter.
        let id = format!("{prefix}-{:x}{:04x}", now.as_micros(), NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff);
        Self { id, created: i64::try_from(now.as_secs()).unwrap_or(0), model: model.to_string(), endpoint, logprobs }
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

    /// The `logprobs` of a choice for these tokens, in this endpoint's shape; `null` when the
    /// client did not ask. Chat: `{"content": [{token, logprob, bytes, top_logprobs}]}`.
    /// Completions (OpenAI's legacy shape): `tokens`, `token_logprobs`, `top_logprobs` (one
    /// object of token → logprob per token) and `text_offset` (bytes into the completion).
    fn logprobs(&self, tokens: &[TokenLogprob], offset: usize) -> Value {
        if !self.logprobs {
            return Value::Null;
        }
        match self.endpoint {
            Endpoint::Chat => {
                let entry = |t: &TokenLogprob| json!({ "token": t.token, "logprob": t.logprob, "bytes": t.bytes });
                let content: Vec<Value> = tokens
                    .iter()
                    .map(|t| {
                        let mut e = entry(t);
                        e["top_logprobs"] = Value::Array(t.top.iter().map(entry).collect());
                        e
                    })
                    .collect();
                json!({ "content": content, "refusal": null })
            }
            Endpoint::Text => {
                let mut at = offset;
                let offsets: Vec<usize> = tokens
                    .iter()
                    .map(|t| {
                        let here = at;
                        at += t.bytes.len();
                        here
                    })
                    .collect();
                let top: Vec<Value> =
                    tokens.iter().map(|t| Value::Object(t.top.iter().map(|a| (a.token.clone(), json!(a.logprob))).collect())).collect();
                json!({
                    "tokens": tokens.iter().map(|t| t.token.as_str()).collect::<Vec<_>>(),
                    "token_logprobs": tokens.iter().map(|t| t.logprob).collect::<Vec<_>>(),
                    "top_logprobs": top,
                    "text_offset": offsets,
                })
            }
        }
    }

    /// Call `index`'s id in this reply (OpenAI's `call_…`; Anthropic's `toolu_…` is made from it).
    pub fn call_id(&self, index: usize) -> String {
        format!("call_{}_{index}", self.id.rsplit('-').next().unwrap_or("0"))
    }

    /// A piece of a call as OpenAI streams it: the first with the call's id, type and name, every
    /// one with more of its arguments.
    pub fn call_chunk(&self, index: usize, name: Option<&str>, arguments: &str, include_usage: bool) -> Value {
        let call = match name {
            Some(name) => json!({ "index": index, "id": self.call_id(index), "type": "function", "function": { "name": name, "arguments": arguments } }),
            None => json!({ "index": index, "function": { "arguments": arguments } }),
        };
        self.wrap(
            true,
            json!([{ "index": 0, "delta": { "tool_calls": [call] }, "logprobs": null, "finish_reason": null }]),
            include_usage.then_some(Value::Null),
        )
    }

    /// A whole, non-streamed answer.
    pub fn completion(&self, text: &str, logprobs: &[TokenLogprob], calls: &[CallOut], stats: &GenerationStats) -> Value {
        let logprobs = self.logprobs(logprobs, 0);
        let choice = match self.endpoint {
            Endpoint::Chat if !calls.is_empty() => {
                let tool_calls: Vec<Value> = calls
                    .iter()
                    .map(|c| json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments } }))
                    .collect();
                let content = if text.is_empty() { Value::Null } else { json!(text) };
                json!({ "index": 0, "message": { "role": "assistant", "content": content, "tool_calls": tool_calls }, "logprobs": logprobs, "finish_reason": "tool_calls" })
            }
            Endpoint::Chat => {
                json!({ "index": 0, "message": { "role": "assistant", "content": text }, "logprobs": logprobs, "finish_reason": finish_reason(stats.stop_reason) })
            }
            Endpoint::Text => json!({ "index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish_reason(stats.stop_reason) }),
        };
        self.wrap(false, json!([choice]), Some(usage(stats)))
    }

    /// A chunk of a stream. `role` only on a chat stream's first chunk; `finish` on its last.
    /// With `include_usage`, every chunk carries `"usage": null` and the usage chunk comes last.
    /// `logprobs` are those of this chunk's tokens; `offset`, the bytes of text sent before it.
    pub fn chunk(
        &self,
        text: Option<&str>,
        logprobs: &[TokenLogprob],
        offset: usize,
        first: bool,
        finish: Option<&str>,
        include_usage: bool,
    ) -> Value {
        let logprobs = if text.is_some() { self.logprobs(logprobs, offset) } else { Value::Null };
        let choice = match self.endpoint {
            Endpoint::Chat => {
                let mut delta = json!({});
                if first {
                    delta["role"] = json!("assistant");
                }
                if let Some(text) = text {
                    delta["content"] = json!(text);
                }
                json!({ "index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish })
            }
            Endpoint::Text => json!({ "index": 0, "text": text.unwrap_or(""), "logprobs": logprobs, "finish_reason": finish }),
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

/// A model's state for `/api/models`: the OpenAI model object, plus whether it is loaded (and by
/// whom), its fit here, and the load's figures when this server loaded it.
pub fn model_state(s: &ModelState) -> Value {
    let mut v = model_object(&s.entry);
    v["file"] = json!(s.entry.file_name());
    let (state, by) = match &s.loaded {
        Loaded::No => ("not-loaded", Value::Null),
        Loaded::ByServer(_) => ("loaded", json!("server")),
        Loaded::ByOther => ("loaded", json!("app")),
    };
    v["state"] = json!(state);
    v["loaded_by"] = by;
    v["fit"] = s.plan.as_ref().map_or(Value::Null, |p| {
        json!({
            "verdict": p.verdict,
            "label": p.label,
            "reason": p.reason,
            "context": p.context,
            "gpu_layers": p.gpu_layers,
            "total_layers": p.total_layers,
            "total_bytes": p.total_bytes,
            "devices": p.devices.iter().map(|d| json!({
                "name": d.name,
                "engine_device": d.engine_device,
                "layers": d.layers,
                "bytes": d.total_bytes,
            })).collect::<Vec<_>>(),
        })
    });
    v["load"] = match &s.loaded {
        Loaded::ByServer(Some(info)) => json!({
            "context": info.n_ctx,
            "gpu_layers": info.n_gpu_layers,
            "weights_bytes": info.weights_bytes,
            "kv_cache_bytes": info.kv_cache_bytes,
            "compute_bytes": info.compute_bytes,
            "template": info.template.label,
            "devices": info.devices.iter().map(|d| json!({
                "name": d.name,
                "weights_bytes": d.weights_bytes,
                "kv_cache_bytes": d.kv_cache_bytes,
                "compute_bytes": d.compute_bytes,
            })).collect::<Vec<_>>(),
        }),
        _ => Value::Null,
    };
    v
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
            tokens_per_second: None,
            image_tokens: 0,
            image_ms: 0.0,
        }
    }

    // The wire format clients parse; pinned.
    #[test]
    fn chat_shapes() {
        let head = Head { id: "chatcmpl-1".into(), created: 5, model: "m".into(), endpoint: Endpoint::Chat, logprobs: false };
        let full = head.completion("hi", &[], &[], &stats());
        assert_eq!(full["choices"][0]["logprobs"], Value::Null);
        assert_eq!(full["object"], "chat.completion");
        assert_eq!(full["choices"][0]["message"], json!({"role": "assistant", "content": "hi"}));
        assert_eq!(full["choices"][0]["finish_reason"], "length");
        assert_eq!(full["usage"], json!({"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}));
        let first = head.chunk(Some(""), &[], 0, true, None, false);
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
        assert!(first.get("usage").is_none());
        let last = head.chunk(None, &[], 0, false, Some("stop"), true);
        assert_eq!(last["choices"][0]["delta"], json!({}));
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(last["usage"], Value::Null);
        let usage = head.usage_chunk(&stats());
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 13);
    }

    #[test]
    fn text_shapes() {
        let head = Head::new(Endpoint::Text, "m", false);
        assert!(head.id.starts_with("cmpl-"));
        let full = head.completion("once", &[], &[], &stats());
        assert_eq!(full["object"], "text_completion");
        assert_eq!(full["choices"][0]["text"], "once");
        assert_eq!(head.chunk(Some("x"), &[], 0, true, None, false)["choices"][0]["text"], "x");
        assert_ne!(Head::new(Endpoint::Text, "m", false).id, head.id);
    }

    fn tokens() -> Vec<TokenLogprob> {
        let t = |s: &str, lp: f32| TokenLogprob { token: s.into(), bytes: s.as_bytes().to_vec(), logprob: lp, top: Vec::new() };
        vec![
            TokenLogprob { top: vec![t(" Paris", -0.1), t(" Lyon", -2.5)], ..t(" Paris", -0.1) },
            TokenLogprob { top: vec![t(".", -0.2)], ..t(".", -0.2) },
        ]
    }

    #[test]
    fn tool_calls_in_openais_shape_whole_and_streamed() {
        let head = Head::new(Endpoint::Chat, "m", false);
        let calls = vec![CallOut { id: head.call_id(0), name: "get_weather".into(), arguments: "{\"city\":\"Paris\"}".into() }];
        let full = head.completion("", &[], &calls, &stats());
        let message = &full["choices"][0]["message"];
        assert_eq!(full["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(message["content"], Value::Null);
        assert_eq!(message["tool_calls"][0]["type"], "function");
        assert_eq!(message["tool_calls"][0]["function"], json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}));
        assert!(message["tool_calls"][0]["id"].as_str().is_some_and(|id| id.starts_with("call_")));
        // Streamed: the first piece names the call with its id, the next ones add arguments.
        let first = head.call_chunk(0, Some("get_weather"), "{\"city\": \"Pa", false);
        let call = &first["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!((call["index"].as_u64(), call["id"].as_str(), call["type"].as_str()), (Some(0), Some(head.call_id(0).as_str()), Some("function")));
        assert_eq!(call["function"], json!({"name": "get_weather", "arguments": "{\"city\": \"Pa"}));
        let more = head.call_chunk(0, None, "ris\"}", false);
        assert_eq!(more["choices"][0]["delta"]["tool_calls"][0], json!({"index": 0, "function": {"arguments": "ris\"}"}}));
    }

    #[test]
    fn logprobs_in_each_endpoints_shape() {
        let chat = Head::new(Endpoint::Chat, "m", true);
        let full = chat.completion(" Paris.", &tokens(), &[], &stats());
        let content = &full["choices"][0]["logprobs"]["content"];
        assert_eq!(content[0]["token"], " Paris");
        assert_eq!(content[0]["bytes"], json!([32, 80, 97, 114, 105, 115]));
        assert_eq!(content[0]["top_logprobs"][1], json!({"token": " Lyon", "logprob": -2.5, "bytes": [32, 76, 121, 111, 110]}));
        assert_eq!(content[1]["logprob"], json!(-0.2f32));
        let chunk = chat.chunk(Some(" Paris."), &tokens(), 0, true, None, false);
        assert_eq!(chunk["choices"][0]["logprobs"]["content"].as_array().map(Vec::len), Some(2));
        assert_eq!(chat.chunk(None, &[], 7, false, Some("stop"), false)["choices"][0]["logprobs"], Value::Null);

        let text = Head::new(Endpoint::Text, "m", true);
        let l = &text.completion(" Paris.", &tokens(), &[], &stats())["choices"][0]["logprobs"];
        assert_eq!(l["tokens"], json!([" Paris", "."]));
        assert_eq!(l["text_offset"], json!([0, 6]));
        assert_eq!(l["top_logprobs"][0], json!({" Paris": -0.1f32, " Lyon": -2.5}));
        let l = &text.chunk(Some("."), &tokens()[1..], 6, false, None, false)["choices"][0]["logprobs"];
        assert_eq!(l["text_offset"], json!([6]));
    }
}
