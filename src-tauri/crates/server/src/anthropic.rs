//! Anthropic's Messages API on the same engine: `POST /v1/messages` and
//! `POST /v1/messages/count_tokens`. A request is read into the same `ValidRequest` the OpenAI
//! endpoints use (system, content blocks, `tool_use` and `tool_result` blocks, tools with their
//! `input_schema`, `tool_choice`, `stop_sequences`, `max_tokens`), and the reply is written in
//! Anthropic's shapes: a `message` with content blocks, `stop_reason` and `usage`, or the event
//! sequence `message_start`, `content_block_start`, `ping`, `content_block_delta`…,
//! `content_block_stop`, `message_delta`, `message_stop`. Errors come in Anthropic's shape too.

use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use engine::Prompt;
use serde_json::{json, Map, Value};
use types::{ChatMessage, ChatRole, GenerationStats, StopReason, ToolCall};

use crate::error::ApiError;
use crate::openai::CallOut;
use crate::request::{check_tool_choice, Endpoint, ToolChoice, ValidRequest};

/// Whether a request's path is one of Anthropic's, whose errors take Anthropic's shape.
pub fn is_anthropic_path(path: &str) -> bool {
    path.starts_with("/v1/messages")
}

/// An error in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`.
pub fn error_response(e: ApiError) -> Response {
    let status = e.status();
    let kind = match status {
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::FORBIDDEN => "permission_error",
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
        StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
        StatusCode::SERVICE_UNAVAILABLE => "overloaded_error",
        s if s.is_server_error() => "api_error",
        _ => "invalid_request_error",
    };
    let message = e.public_message();
    // OpenAI's response first, for its status, its headers (Retry-After, WWW-Authenticate) and
    // its logging; then Anthropic's body.
    let mut response = e.into_response();
    *response.body_mut() = axum::body::Body::from(json!({ "type": "error", "error": { "type": kind, "message": message } }).to_string());
    response
}

/// Reads a Messages request. `max_tokens` is required, as Anthropic requires it.
pub fn parse(body: &[u8], max_prompt_chars: usize, count_only: bool) -> Result<ValidRequest, ApiError> {
    let o = crate::request::json_object(body)?;
    let model = o.get("model").and_then(Value::as_str).ok_or_else(|| ApiError::invalid("`model` is required.", Some("model")))?.to_string();
    let mut messages = Vec::new();
    match o.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => messages.push(ChatMessage::new(ChatRole::System, s.clone())),
        Some(Value::Array(blocks)) => messages.push(ChatMessage::new(ChatRole::System, text_of(blocks, "system")?)),
        Some(_) => return Err(ApiError::invalid("`system` must be a string or an array of text blocks.", Some("system"))),
    }
    let Some(Value::Array(items)) = o.get("messages") else {
        return Err(ApiError::invalid("`messages` must be an array of messages.", Some("messages")));
    };
    if items.is_empty() {
        return Err(ApiError::invalid("`messages` must hold at least one message.", Some("messages")));
    }
    let blocks = items.iter().filter_map(|m| m.get("content")?.as_array()).flatten();
    crate::pictures::count(blocks.clone().filter(|b| b.get("type").and_then(Value::as_str) == Some("image")).count(), "messages")?;
    crate::attachments::count(blocks.filter(|b| b.get("type").and_then(Value::as_str) == Some("document")).count(), "messages")?;
    for (i, m) in items.iter().enumerate() {
        messages.extend(message(m, i)?);
    }
    let chars: usize = messages.iter().map(|m| m.content.chars().count()).sum();
    if chars > max_prompt_chars {
        return Err(ApiError::invalid(
            format!("The prompt is {chars} characters long; this server takes at most {max_prompt_chars}."),
            Some("messages"),
        ));
    }
    // `thinking` ({"type": "enabled", "budget_tokens": N} or "disabled") is accepted: a model that
    // reasons does so in its own way, and Hearth has no budget to hold it to. Refusing it broke
    // clients that always send it.
    let mut sampling = types::SamplingParams::default();
    match o.get("max_tokens").and_then(Value::as_u64) {
        Some(n) if n > 0 => sampling.max_tokens = Some(u32::try_from(n).unwrap_or(u32::MAX)),
        _ if count_only => {}
        _ => return Err(ApiError::invalid("`max_tokens` is required: a number of tokens above 0.", Some("max_tokens"))),
    }
    if let Some(t) = o.get("temperature").filter(|v| !v.is_null()) {
        let t = t
            .as_f64()
            .filter(|t| (0.0..=1.0).contains(t))
            .ok_or_else(|| ApiError::invalid("`temperature` must be between 0 and 1.", Some("temperature")))?;
        sampling.temperature = t as f32;
    }
    if let Some(p) = o.get("top_p").and_then(Value::as_f64) {
        sampling.top_p = p as f32;
    }
    if let Some(k) = o.get("top_k").and_then(Value::as_u64) {
        sampling.top_k = u32::try_from(k).unwrap_or(u32::MAX);
    }
    match o.get("stop_sequences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(s)) if s.iter().all(Value::is_string) => {
            sampling.stop = s.iter().filter_map(Value::as_str).filter(|x| !x.is_empty()).map(str::to_string).collect()
        }
        Some(_) => return Err(ApiError::invalid("`stop_sequences` must be an array of strings.", Some("stop_sequences"))),
    }
    crate::request::check_stops(&sampling.stop, "stop_sequences", MAX_STOP_SEQUENCES)?;
    let tools = tools(&o)?;
    let tool_choice = match o.get("tool_choice") {
        None | Some(Value::Null) => ToolChoice::Auto,
        Some(c) => match (c.get("type").and_then(Value::as_str), c.get("name").and_then(Value::as_str)) {
            (Some("auto"), _) => ToolChoice::Auto,
            (Some("any"), _) => ToolChoice::Required,
            (Some("none"), _) => ToolChoice::None,
            (Some("tool"), Some(name)) => ToolChoice::Named(name.to_string()),
            _ => {
                return Err(ApiError::invalid(
                    "`tool_choice` must be {\"type\": \"auto\" | \"any\" | \"none\"} or {\"type\": \"tool\", \"name\": …}.",
                    Some("tool_choice"),
                ))
            }
        },
    };
    check_tool_choice(&tool_choice, tools.as_ref(), "any")?;
    let parallel_tool_calls =
        !o.get("tool_choice").and_then(|c| c.get("disable_parallel_tool_use")).and_then(Value::as_bool).unwrap_or(false);
    Ok(ValidRequest {
        endpoint: Endpoint::Chat,
        model,
        prompt: Prompt::Chat(messages),
        sampling,
        stream: o.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: false,
        constraint: None,
        logprobs: None,
        tools,
        tool_choice,
        parallel_tool_calls,
    })
}

/// Anthropic's `tools` (`[{"name", "description", "input_schema"}]`) in OpenAI's shape, which the
/// engine renders; an empty array counts as none.
/// Stop sequences taken in one request (Anthropic names no limit; each is checked against the
/// reply at every token).
const MAX_STOP_SEQUENCES: usize = 16;

fn tools(o: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Some(list) = o.get("tools").filter(|v| !v.is_null()) else { return Ok(None) };
    let Value::Array(items) = list else { return Err(ApiError::invalid("`tools` must be an array.", Some("tools"))) };
    let converted = items
        .iter()
        .map(|t| {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::invalid("Every tool needs a `name`.", Some("tools")))?;
            let schema = t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"}));
            if !schema.is_object() {
                return Err(ApiError::invalid("A tool's `input_schema` must be a JSON Schema object.", Some("tools")));
            }
            crate::request::enforceable(&schema, "tools.input_schema")?;
            let mut f = json!({ "name": name, "parameters": schema });
            if let Some(d) = t.get("description").and_then(Value::as_str) {
                f["description"] = json!(d);
            }
            Ok(json!({ "type": "function", "function": f }))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((!converted.is_empty()).then(|| Value::Array(converted)))
}

/// One Anthropic message as the engine's messages: its text; an assistant's `tool_use` blocks as
/// calls; a user's `tool_result` blocks as tool messages (before any text of the same turn).
fn message(m: &Value, i: usize) -> Result<Vec<ChatMessage>, ApiError> {
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => ChatRole::User,
        Some("assistant") => ChatRole::Assistant,
        _ => return Err(ApiError::invalid(format!("messages[{i}].role must be user or assistant."), Some("messages"))),
    };
    let blocks = match m.get("content") {
        Some(Value::String(s)) => return Ok(vec![ChatMessage::new(role, s.clone())]),
        Some(Value::Array(b)) => b,
        _ => {
            return Err(ApiError::invalid(
                format!("messages[{i}].content must be a string or an array of content blocks."),
                Some("messages"),
            ))
        }
    };
    let mut out = Vec::new();
    let mut main = ChatMessage::new(role, "");
    for (j, b) in blocks.iter().enumerate() {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => main.content.push_str(b.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("image") => {
                let path = format!("messages[{i}].content[{j}]");
                let place = crate::pictures::Place { param: "messages", path: &path, role };
                main.images.push(crate::pictures::from_anthropic(b, main.content.len(), &place)?);
            }
            Some("document") => {
                let path = format!("messages[{i}].content[{j}]");
                let place = crate::pictures::Place { param: "messages", path: &path, role };
                main.content.push_str(&crate::attachments::from_anthropic(b, &place)?);
            }
            Some("tool_use") if role == ChatRole::Assistant => main.tool_calls.push(ToolCall {
                id: b.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
                name: b.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                arguments: b.get("input").cloned().unwrap_or_else(|| json!({})).to_string(),
            }),
            // Reasoning replayed by clients that keep the whole history: left out of the prompt, as
            // thinking models' own templates leave earlier turns' reasoning out.
            Some("thinking" | "redacted_thinking") if role == ChatRole::Assistant => {}
            Some("tool_result") if role == ChatRole::User => {
                let content = match b.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => text_of(parts, "tool_result.content")?,
                    _ => String::new(),
                };
                let mut answer = ChatMessage::new(ChatRole::Tool, content);
                answer.tool_call_id = b.get("tool_use_id").and_then(Value::as_str).map(str::to_string);
                out.push(answer);
            }
            Some(other) => {
                return Err(ApiError::invalid(
                    format!("This server reads text, image, document, thinking, tool_use and tool_result blocks; messages[{i}] has a `{other}` block."),
                    Some("messages"),
                ))
            }
            None => return Err(ApiError::invalid(format!("messages[{i}] has a block without a `type`."), Some("messages"))),
        }
    }
    if !main.content.is_empty() || !main.tool_calls.is_empty() || !main.images.is_empty() || out.is_empty() {
        out.push(main);
    }
    Ok(out)
}

fn text_of(blocks: &[Value], what: &str) -> Result<String, ApiError> {
    blocks
        .iter()
        .map(|b| match (b.get("type").and_then(Value::as_str), b.get("text").and_then(Value::as_str)) {
            (Some("text"), Some(t)) => Ok(t.to_string()),
            _ => Err(ApiError::invalid(format!("`{what}` must hold text blocks only."), Some("messages"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|t| t.join(""))
}

/// Anthropic's `stop_reason` for how a reply ended.
pub fn stop_reason(reason: StopReason, called: bool) -> &'static str {
    if called {
        return "tool_use";
    }
    match reason {
        StopReason::MaxTokens | StopReason::ContextFull => "max_tokens",
        StopReason::Stop => "stop_sequence",
        _ => "end_turn",
    }
}

/// The stop sequence a reply ended at, when it is known which: the only one asked for.
pub fn stop_sequence(reason: StopReason, stops: &[String]) -> Value {
    match (reason, stops) {
        (StopReason::Stop, [one]) => json!(one),
        _ => Value::Null,
    }
}

fn tool_use_block(c: &CallOut) -> Value {
    let input: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
    json!({ "type": "tool_use", "id": toolu_id(&c.id), "name": c.name, "input": input })
}

/// A whole reply as Anthropic's `message`.
pub fn message_object(id: &str, model: &str, text: &str, calls: &[CallOut], stats: &GenerationStats, stops: &[String]) -> Value {
    let mut content = Vec::new();
    if !text.is_empty() || calls.is_empty() {
        content.push(json!({ "type": "text", "text": text }));
    }
    content.extend(calls.iter().map(tool_use_block));
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(stats.stop_reason, !calls.is_empty()),
        "stop_sequence": if calls.is_empty() { stop_sequence(stats.stop_reason, stops) } else { Value::Null },
        "usage": usage(stats),
    })
}

/// Anthropic's usage: `input_tokens` are the prompt's tokens read now, `cache_read_input_tokens`
/// those the K/V cache already held (a conversation's earlier turns), so that the two add up to
/// the prompt, as Anthropic's prompt caching counts them. Hearth writes no separate cache entry.
pub fn usage(stats: &GenerationStats) -> Value {
    usage_of(stats.prompt_tokens_total, stats.reused_prefix_tokens, stats.generated_tokens)
}

fn usage_of(prompt: u32, cached: u32, output: u32) -> Value {
    let cached = cached.min(prompt);
    json!({
        "input_tokens": prompt - cached,
        "output_tokens": output,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    })
}

/// One event of a streamed reply: its name and its data.
pub fn event(name: &str, data: Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// The events that open a stream. `started`: the prompt's tokens and those the cache held, which
/// clients that budget the context read from `message_start`.
pub fn opening(id: &str, model: &str, started: Option<(u32, u32)>) -> Vec<Event> {
    let (prompt, cached) = started.unwrap_or_default();
    let usage = usage_of(prompt, cached, 0);
    vec![
        event(
            "message_start",
            json!({ "type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": usage,
            }}),
        ),
        event("ping", json!({ "type": "ping" })),
    ]
}

pub fn text_start(index: usize) -> Event {
    event("content_block_start", json!({ "type": "content_block_start", "index": index, "content_block": { "type": "text", "text": "" } }))
}

pub fn text_delta(index: usize, text: &str) -> Event {
    event("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": text } }))
}

pub fn block_stop(index: usize) -> Event {
    event("content_block_stop", json!({ "type": "content_block_stop", "index": index }))
}

/// Anthropic's id for a call: `toolu_…`, made from OpenAI's `call_…` one.
fn toolu_id(call_id: &str) -> String {
    call_id.replacen("call_", "toolu_", 1)
}

/// A `tool_use` block's start: its id (`toolu_…`, from the call's), name and an empty input.
pub fn tool_use_start(index: usize, call_id: &str, name: &str) -> Event {
    let block = json!({ "type": "tool_use", "id": toolu_id(call_id), "name": name, "input": {} });
    event("content_block_start", json!({ "type": "content_block_start", "index": index, "content_block": block }))
}

/// More of a `tool_use` block's input, as the model writes it.
pub fn input_delta(index: usize, partial_json: &str) -> Event {
    event(
        "content_block_delta",
        json!({ "type": "content_block_delta", "index": index, "delta": { "type": "input_json_delta", "partial_json": partial_json } }),
    )
}

/// The events that close a stream.
pub fn closing(stats: &GenerationStats, called: bool, stops: &[String]) -> Vec<Event> {
    vec![
        event(
            "message_delta",
            json!({
                "type": "message_delta",
                "delta": { "stop_reason": stop_reason(stats.stop_reason, called), "stop_sequence": if called { Value::Null } else { stop_sequence(stats.stop_reason, stops) } },
                "usage": usage(stats),
            }),
        ),
        event("message_stop", json!({ "type": "message_stop" })),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<ValidRequest, ApiError> {
        parse(body.as_bytes(), 10_000, false)
    }

    #[test]
    fn a_messages_request_becomes_the_engines_conversation() {
        let r = read(r#"{"model": "m", "max_tokens": 50, "system": [{"type": "text", "text": "Be brief."}], "stop_sequences": ["END"],
            "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}], "tool_choice": {"type": "tool", "name": "get_weather"},
            "messages": [
              {"role": "user", "content": "Weather?"},
              {"role": "assistant", "content": [{"type": "text", "text": "Looking."}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18 C"}]}, {"type": "text", "text": "And tomorrow?"}]}
            ]}"#)
        .unwrap();
        assert_eq!(r.sampling.max_tokens, Some(50));
        assert_eq!(r.sampling.stop, vec!["END"]);
        assert_eq!(r.tool_choice, ToolChoice::Named("get_weather".into()));
        assert_eq!(r.tools.unwrap()[0]["function"]["parameters"], json!({"type": "object"}));
        let Prompt::Chat(m) = r.prompt else { panic!() };
        let roles: Vec<ChatRole> = m.iter().map(|m| m.role).collect();
        assert_eq!(roles, [ChatRole::System, ChatRole::User, ChatRole::Assistant, ChatRole::Tool, ChatRole::User]);
        assert_eq!(m[2].content, "Looking.");
        assert_eq!(m[2].tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!((m[3].tool_call_id.as_deref(), m[3].content.as_str()), (Some("toolu_1"), "18 C"));
    }

    #[test]
    fn what_anthropic_requires_or_refuses_is_a_400() {
        for bad in [
            r#"{"model": "m", "messages": [{"role": "user", "content": "x"}]}"#,
            r#"{"model": "m", "max_tokens": 5, "messages": []}"#,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}"#,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}"#,
            r#"{"model": "m", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}"#,
            r#"{"model": "m", "max_tokens": 5, "tool_choice": {"type": "any"}, "messages": [{"role": "user", "content": "x"}]}"#,
        ] {
            assert_eq!(read(bad).unwrap_err().status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        // count_tokens takes no max_tokens.
        assert!(parse(br#"{"model": "m", "messages": [{"role": "user", "content": "x"}]}"#, 100, true).is_ok());
        // Clients that send `thinking` and replay the reasoning in the history are answered
        // (issue 31); the reasoning stays out of the prompt.
        let r = read(
            r#"{"model": "m", "max_tokens": 50, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [
              {"role": "user", "content": "Hi"},
              {"role": "assistant", "content": [{"type": "thinking", "thinking": "They greet.", "signature": "s"}, {"type": "redacted_thinking", "data": "x"}, {"type": "text", "text": "Hello."}]},
              {"role": "user", "content": "And?"}]}"#,
        )
        .unwrap();
        let Prompt::Chat(m) = r.prompt else { panic!() };
        assert_eq!(m[1].content, "Hello.");
    }

    #[test]
    fn replies_and_errors_in_anthropics_shapes() {
        let stats = GenerationStats {
            prompt_tokens_total: 9,
            reused_prefix_tokens: 0,
            prompt_tokens: 9,
            prompt_ms: 1.0,
            generated_tokens: 3,
            generation_ms: 1.0,
            time_to_first_token_ms: 1.0,
            stop_reason: StopReason::Stop,
            tokens_per_second: None,
            image_tokens: 0,
            image_ms: 0.0,
        };
        let m = message_object("msg_1", "m", "Hi", &[], &stats, &["END".into()]);
        assert_eq!(m["content"], json!([{"type": "text", "text": "Hi"}]));
        assert_eq!((m["stop_reason"].as_str(), m["stop_sequence"].as_str()), (Some("stop_sequence"), Some("END")));
        assert_eq!(m["usage"], json!({"input_tokens": 9, "output_tokens": 3, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}));
        // A later turn: what the cache held is read from it, and the two add up to the prompt.
        let later = GenerationStats { reused_prefix_tokens: 7, prompt_tokens: 2, ..stats.clone() };
        let usage = &message_object("msg_2", "m", "Hi", &[], &later, &[])["usage"];
        assert_eq!((usage["input_tokens"].as_u64(), usage["cache_read_input_tokens"].as_u64()), (Some(2), Some(7)));
        let call = CallOut { id: "call_x_0".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() };
        let m = message_object("msg_1", "m", "", &[call], &stats, &[]);
        assert_eq!(m["content"], json!([{"type": "tool_use", "id": "toolu_x_0", "name": "f", "input": {"a": 1}}]));
        assert_eq!(m["stop_reason"], "tool_use");
        let r = error_response(ApiError::ModelNotFound("x".into()));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}
