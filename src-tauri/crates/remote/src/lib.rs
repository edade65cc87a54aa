//! Chat with a model that runs on another machine: a rented GPU serving vLLM or llama.cpp's server,
//! or another computer running `hearth serve`. Any endpoint that speaks OpenAI's API (`/v1/models`,
//! `/v1/chat/completions`) or Anthropic's (`/v1/models`, `/v1/messages`) will do.
//!
//! A reply streams as [`ReplyEvent`]s, like a local model's: its text, then figures measured on this
//! side (time to first token, tokens per second; the token count from the endpoint's `usage` when it
//! sends one). Each way it can go wrong is one [`RemoteError`] (a [`HearthError`] once it leaves)
//! with a sentence a person can act on: unreachable, key refused, model gone, reply cut mid-stream.
//!
//! Only standard sampling fields are sent (temperature, top_p, max_tokens, seed, stop): OpenAI
//! itself refuses fields it does not know, such as llama.cpp's top_k or min_p.

mod error;
mod sse;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use types::{ApiKind, ChatMessage, ChatRole, GenerationStats, HearthError, SamplingParams, StopReason};

pub use error::RemoteError;

/// How long to wait for an endpoint to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a reply may go without a byte before it counts as cut: long enough for a big model on a
/// busy server to read a long prompt, short enough that a dead connection does not hang Chat.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Anthropic's API needs a version header; this is the one its Messages API is documented with.
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Anthropic's API needs `max_tokens`; when the person set none, this many.
const ANTHROPIC_MAX_TOKENS: u32 = 4096;
/// The most of a list of models read (thousands of models fit), and of an error's body.
const MAX_LIST_BYTES: usize = 8 << 20;
const MAX_ERROR_BYTES: usize = 64 << 10;

/// An endpoint and how to reach it.
#[derive(Clone)]
pub struct Endpoint {
    /// What the person called it; every error message names it.
    pub name: String,
    /// Normalised by [`base_url`]: no trailing `/` or `/v1`.
    pub base_url: String,
    pub kind: ApiKind,
    pub key: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    // Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("name", &self.name).field("base_url", &self.base_url).field("kind", &self.kind).finish()
    }
}

/// `http://host:port`, `http://host:port/`, `http://host:port/v1` → `http://host:port`: people paste
/// any of these. Only http and https.
pub fn base_url(url: &str) -> Result<String, HearthError> {
    let trimmed = url.trim().trim_end_matches('/');
    let base = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
    let parsed =
        reqwest::Url::parse(base).map_err(|e| RemoteError::NotAnAddress { given: url.trim().to_string(), reason: e.to_string() })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(RemoteError::NotHttp { given: url.trim().to_string() }.into());
    }
    Ok(base.to_string())
}

/// `base_url` is plain http to a machine that is neither this one nor on a private network: the key
/// and the conversations would cross the internet unencrypted. Loopback, private (10/8, 172.16/12,
/// 192.168/16, fc00::/7), link-local addresses, names without a dot (`gpu-box`, `localhost`) and
/// `.local` names count as near; any other name is taken as far (it may resolve anywhere).
pub fn plain_over_internet(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else { return false };
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else { return false };
    match host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => !(ip.is_loopback() || ip.is_private() || ip.is_link_local()),
        Ok(std::net::IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            !(ip.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
        Err(_) => {
            // A name without a dot ("gpu-box") is one the local network resolves.
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            !(!name.contains('.') || name.ends_with(".localhost") || name.ends_with(".local"))
        }
    }
}

/// What a reply sends, in order: `Text` pieces, then one `Done` or one `Failed`: Hearth's one
/// reply stream (`types::ReplyEvent`; a connection sends no logprobs).
pub use types::ReplyEvent;

/// Redirects followed within one request, all to the same origin.
const MAX_REDIRECTS: usize = 5;

/// A redirect is followed only to the same origin (scheme, host and port): the request carries the
/// connection's key, and reqwest drops only `Authorization` on a redirect to another host, not
/// Anthropic's `x-api-key`. A redirect elsewhere ends the request with its 3xx, which `check` turns
/// into a sentence.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(reqwest::Url::origin);
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if first.as_ref() == Some(&attempt.url().origin()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

fn client() -> Result<reqwest::Client, RemoteError> {
    reqwest::Client::builder()
        .redirect(same_origin_redirects())
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("Hearth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RemoteError::NoClient { reason: e.to_string() })
}

impl Endpoint {
    fn request(&self, client: &reqwest::Client, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = client.request(method, format!("{}{path}", self.base_url));
        if let Some(key) = self.key.as_deref().filter(|k| !k.is_empty()) {
            r = match self.kind {
                ApiKind::Openai => r.bearer_auth(key),
                ApiKind::Anthropic => r.header("x-api-key", key),
            };
        }
        if self.kind == ApiKind::Anthropic {
            r = r.header("anthropic-version", ANTHROPIC_VERSION);
        }
        r
    }

    /// The models it serves (`GET /v1/models`), sorted.
    pub async fn models(&self) -> Result<Vec<String>, HearthError> {
        let response = self.request(&client()?, reqwest::Method::GET, "/v1/models").send().await.map_err(|e| self.unreachable(&e))?;
        let response = self.check(response, None).await?;
        let bytes = read_limited(response, MAX_LIST_BYTES).await.map_err(|e| self.bad_answer("its list of models", e))?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| self.bad_answer("its list of models", e))?;
        let mut ids: Vec<String> = body["data"]
            .as_array()
            .ok_or_else(|| self.bad_answer("its list of models", "no `data` list"))?
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Start a reply from `model` to `messages`. Returns once the endpoint has accepted the request
    /// (so a wrong key or an unknown model fails here); the text follows from [`Reply::next`].
    /// Dropping the reply closes the connection, which stops the generation on servers that notice
    /// (llama.cpp's, vLLM, Hearth's).
    pub async fn chat(&self, model: &str, messages: &[ChatMessage], sampling: &SamplingParams) -> Result<Reply, HearthError> {
        let (path, body) = match self.kind {
            ApiKind::Openai => ("/v1/chat/completions", openai_body(model, messages, sampling)),
            ApiKind::Anthropic => ("/v1/messages", anthropic_body(model, messages, sampling)),
        };
        let started = Instant::now();
        let response = self.request(&client()?, reqwest::Method::POST, path).json(&body).send().await.map_err(|e| self.unreachable(&e))?;
        let response = self.check(response, Some(model)).await?;
        Ok(Reply {
            endpoint: self.name.clone(),
            kind: self.kind,
            body: Box::pin(response.bytes_stream()),
            events: sse::Events::default(),
            started,
            first: None,
            pieces: 0,
            prompt_tokens: 0,
            generated: None,
            stop: None,
            ended: false,
        })
    }

    /// A response with an error status turned into its sentence; a good one passed through.
    async fn check(&self, response: Response, model: Option<&str>) -> Result<Response, RemoteError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).map(str::to_string);
        let said = said(response).await;
        let (connection, code) = (self.name.clone(), status.as_u16());
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RemoteError::Refused { connection, status: code, said },
            StatusCode::NOT_FOUND => match model {
                Some(model) => RemoteError::ModelGone { connection, model: model.to_string(), said: Some(said) },
                None => RemoteError::NoModelList { connection, base_url: self.base_url.clone(), said },
            },
            s if s.is_redirection() => RemoteError::Redirected { connection, status: code, location, said },
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => RemoteError::Busy { connection, status: code, said },
            _ => RemoteError::Status { connection, status: code, said },
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> RemoteError {
        let reason = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_else(|| e.to_string());
        RemoteError::Unreachable { connection: self.name.clone(), base_url: self.base_url.clone(), reason }
    }

    fn bad_answer(&self, what: &'static str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Unreadable { connection: self.name.clone(), what, reason: e.to_string() }
    }
}

/// A body, up to `limit` bytes: an endpoint that sends more is not one to believe.
async fn read_limited(response: Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if body.len() + chunk.len() > limit {
            return Err(format!("it sent more than {} KiB", limit / 1024));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error an endpoint gave in its body, in a line: OpenAI's `{"error": {"message"}}`, a plain
/// `{"error": "…"}`, or the text itself.
async fn said(response: Response) -> String {
    let text = read_limited(response, MAX_ERROR_BYTES).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().or(v["error"].as_str()).or(v["message"].as_str()).map(str::to_string))
        .unwrap_or(text);
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line
    }
}

fn role(role: ChatRole) -> &'static str {
    match role {
        ChatRole::System => "system",
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
        ChatRole::Tool => "tool",
    }
}

fn openai_body(model: &str, messages: &[ChatMessage], s: &SamplingParams) -> Value {
    let messages: Vec<Value> = messages.iter().map(|m| json!({ "role": role(m.role), "content": m.content })).collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
        "temperature": s.temperature,
        "top_p": s.top_p,
    });
    if let Some(n) = s.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(seed) = s.seed {
        body["seed"] = json!(seed);
    }
    if !s.stop.is_empty() {
        body["stop"] = json!(s.stop);
    }
    body
}

fn anthropic_body(model: &str, messages: &[ChatMessage], s: &SamplingParams) -> Value {
    // Anthropic takes the system prompt apart from the turns, and only user and assistant turns.
    let system: Vec<&str> = messages.iter().filter(|m| m.role == ChatRole::System).map(|m| m.content.as_str()).collect();
    let turns: Vec<Value> = messages
        .iter()
        .filter(|m| matches!(m.role, ChatRole::User | ChatRole::Assistant))
        .map(|m| json!({ "role": role(m.role), "content": m.content }))
        .collect();
    let mut body = json!({
        "model": model,
        "messages": turns,
        "stream": true,
        "max_tokens": s.max_tokens.unwrap_or(ANTHROPIC_MAX_TOKENS),
        "temperature": s.temperature.min(1.0),
        "top_p": s.top_p,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !s.stop.is_empty() {
        body["stop_sequences"] = json!(s.stop);
    }
    body
}

type Body = std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// A reply streaming from an endpoint.
pub struct Reply {
    endpoint: String,
    kind: ApiKind,
    body: Body,
    events: sse::Events,
    started: Instant,
    first: Option<Instant>,
    /// Text pieces received: the token count when the endpoint sends no usage.
    pieces: u32,
    prompt_tokens: u32,
    /// From the endpoint's usage, when it says.
    generated: Option<u32>,
    stop: Option<StopReason>,
    ended: bool,
}

impl Reply {
    /// The next event; `None` after `Done` or `Failed`.
    pub async fn next(&mut self) -> Option<ReplyEvent> {
        if self.ended {
            return None;
        }
        loop {
            while let Some(data) = self.events.next_data() {
                match self.read(&data) {
                    Ok(Some(event)) => return Some(self.end_on(event)),
                    Ok(None) => {}
                    Err(error) => return Some(self.end_on(ReplyEvent::Failed(error.into()))),
                }
                if self.ended {
                    return Some(ReplyEvent::Done(self.stats(self.stop.unwrap_or(StopReason::Eos))));
                }
            }
            match self.body.next().await {
                Some(Ok(bytes)) => {
                    if let Err(too_long) = self.events.push(&bytes) {
                        let error =
                            RemoteError::Unreadable { connection: self.endpoint.clone(), what: "part of the reply", reason: too_long };
                        return Some(self.end_on(ReplyEvent::Failed(error.into())));
                    }
                }
                Some(Err(e)) => return Some(self.end_on(ReplyEvent::Failed(self.cut(Some(&e)).into()))),
                // The connection closed before the end of the reply.
                None => return Some(self.end_on(ReplyEvent::Failed(self.cut(None).into()))),
            }
        }
    }

    /// The reply as stopped by the person: the figures so far.
    pub fn stopped(&self) -> GenerationStats {
        self.stats(StopReason::Cancelled)
    }

    fn end_on(&mut self, event: ReplyEvent) -> ReplyEvent {
        if !matches!(event, ReplyEvent::Text(_)) {
            self.ended = true;
        }
        event
    }

    fn cut(&self, e: Option<&reqwest::Error>) -> RemoteError {
        RemoteError::Cut { connection: self.endpoint.clone(), reason: e.map(|e| e.to_string()) }
    }

    /// One event's data: text, the end (sets `ended`), an error, or nothing to show (role
    /// announcements, pings, usage).
    fn read(&mut self, data: &str) -> Result<Option<ReplyEvent>, RemoteError> {
        if data.trim() == "[DONE]" {
            self.ended = true;
            return Ok(None);
        }
        let v: Value = serde_json::from_str(data).map_err(|e| RemoteError::Unreadable {
            connection: self.endpoint.clone(),
            what: "part of the reply",
            reason: format!("{e}: {}", data.chars().take(200).collect::<String>()),
        })?;
        if let Some(message) = v["error"]["message"].as_str().or(v["error"].as_str()) {
            return Err(RemoteError::StoppedReply { connection: self.endpoint.clone(), said: message.to_string() });
        }
        let text = match self.kind {
            ApiKind::Openai => self.read_openai(&v),
            ApiKind::Anthropic => self.read_anthropic(&v),
        };
        Ok(text.filter(|t| !t.is_empty()).map(|t| {
            self.first.get_or_insert_with(Instant::now);
            self.pieces += 1;
            ReplyEvent::Text(t)
        }))
    }

    fn read_openai(&mut self, v: &Value) -> Option<String> {
        if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0) as u32;
            self.generated = usage["completion_tokens"].as_u64().map(|n| n as u32);
        }
        let choice = &v["choices"][0];
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.stop = Some(match reason {
                "length" => StopReason::MaxTokens,
                _ => StopReason::Eos,
            });
        }
        choice["delta"]["content"].as_str().map(str::to_string)
    }

    fn read_anthropic(&mut self, v: &Value) -> Option<String> {
        match v["type"].as_str() {
            Some("message_start") => {
                self.prompt_tokens = v["message"]["usage"]["input_tokens"].as_u64().unwrap_or(0) as u32;
                None
            }
            Some("content_block_delta") => v["delta"]["text"].as_str().map(str::to_string),
            Some("message_delta") => {
                self.generated = v["usage"]["output_tokens"].as_u64().map(|n| n as u32).or(self.generated);
                self.stop = v["delta"]["stop_reason"].as_str().map(|r| match r {
                    "max_tokens" => StopReason::MaxTokens,
                    "stop_sequence" => StopReason::Stop,
                    _ => StopReason::Eos,
                });
                None
            }
            Some("message_stop") => {
                self.ended = true;
                None
            }
            _ => None,
        }
    }

    fn stats(&self, stop_reason: StopReason) -> GenerationStats {
        let now = Instant::now();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let ttft = self.first.map(|f| ms(f - self.started)).unwrap_or_else(|| ms(now - self.started));
        GenerationStats {
            prompt_tokens_total: self.prompt_tokens,
            reused_prefix_tokens: 0,
            prompt_tokens: self.prompt_tokens,
            // The endpoint's reading of the prompt is all this side sees before the first token.
            prompt_ms: ttft,
            generated_tokens: self.generated.unwrap_or(self.pieces),
            generation_ms: self.first.map(|f| ms(now - f)).unwrap_or(0.0),
            time_to_first_token_ms: ttft,
            stop_reason,
            tokens_per_second: None,
            image_tokens: 0,
            image_ms: 0.0,
        }
        .finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_near_only_on_this_machine_or_a_private_network() {
        for near in ["http://127.0.0.1:8080", "http://localhost:1234", "http://192.168.1.20:8000", "http://10.0.0.5", "http://172.20.1.1",
            "http://[::1]:8080", "http://[fd12::1]:80", "http://gpu-box.local:8080", "http://gpu-box:8000", "https://gpu.example.com", "https://203.0.113.7"]
        {
            assert!(!plain_over_internet(near), "{near}");
        }
        for far in ["http://gpu.example.com:8000", "http://203.0.113.7:8080", "http://172.32.0.1", "http://[2001:db8::1]:80"] {
            assert!(plain_over_internet(far), "{far}");
        }
    }

    #[test]
    fn addresses_are_normalised_and_bad_ones_refused() {
        assert_eq!(base_url("http://127.0.0.1:8080/v1/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(base_url(" https://gpu.example.com ").unwrap(), "https://gpu.example.com");
        assert_eq!(base_url("http://h:1/proxy/v1").unwrap(), "http://h:1/proxy");
        for bad in ["", "gpu-box:8080", "ftp://h/", "http://"] {
            assert_eq!(base_url(bad).unwrap_err().code, types::ErrorCode::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn anthropic_gets_the_system_prompt_apart_and_a_max_tokens() {
        let messages = [ChatMessage::new(ChatRole::System, "Be brief."), ChatMessage::new(ChatRole::User, "Hi")];
        let body = anthropic_body("m", &messages, &SamplingParams::default());
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["max_tokens"], ANTHROPIC_MAX_TOKENS);
        let body = openai_body("m", &messages, &SamplingParams { max_tokens: Some(7), ..Default::default() });
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["max_tokens"], 7);
        assert!(body.get("top_k").is_none(), "OpenAI refuses fields it does not know");
    }
}
