//! The endpoints: `GET /v1/models` (and `/v1/models/{id}`), `POST /v1/chat/completions`,
//! `POST /v1/completions`. A completion goes: body (size- and time-limited) → `request::parse` → the model
//! by name (404 `model_not_found`) → a place in the queue (429 when full) → `ensure_loaded` →
//! `generate` → the first piece of the reply. Everything up to and including that first piece
//! fails with a proper HTTP status; after it, a stream carries an error as a `data: {"error":…}`
//! event, since the headers are gone.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::GenerateParams;
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::watch;
use types::{ContextOverflow, HearthError};

use crate::anthropic;
use crate::backend::{find_model, Backend};
use crate::config::ValidConfig;
use crate::error::ApiError;
use crate::log::LogSlot;
use crate::openai::{self, finish_reason, Head};
use crate::queue::Gate;
use crate::reply::{Piece, Reply};
use crate::request::{self, Endpoint, ToolChoice};
use crate::responses;
use engine::tools::Forced;
use engine::Constraint;

/// What every handler shares.
pub struct App<B> {
    pub backend: Arc<B>,
    pub gate: Arc<Gate>,
    pub config: ValidConfig,
    pub stopping: watch::Receiver<bool>,
    /// Stored responses of the Responses API (Hearth's database, or memory).
    pub responses: Arc<store::Store>,
}

pub async fn list_models<B: Backend>(State(app): State<Arc<App<B>>>) -> Json<serde_json::Value> {
    Json(openai::model_list(&app.backend.models()))
}

pub async fn get_model<B: Backend>(State(app): State<Arc<App<B>>>, Path(id): Path<String>) -> Response {
    match find_model(&app.backend.models(), &id) {
        Some(m) => Json(openai::model_object(m)).into_response(),
        None => ApiError::ModelNotFound(id).into_response(),
    }
}

/// `POST /v1/embeddings`: a vector per input from the model (which must be an embedding model:
/// its file names a pooling), in OpenAI's shape, floats or base64 of little-endian f32s.
pub async fn embeddings<B: Backend>(State(app): State<Arc<App<B>>>, Extension(slot): Extension<LogSlot>, body: Body) -> Response {
    let made = async {
        let body = read_body(body, app.config.max_body_bytes, app.config.stall_timeout).await?;
        let req = request::embeddings(&body, app.config.max_prompt_chars)?;
        slot.set_model(&req.model);
        let models = app.backend.models();
        let entry = find_model(&models, &req.model).ok_or_else(|| ApiError::ModelNotFound(req.model.clone()))?;
        slot.set_model(&entry.id);
        let mut turn = app.gate.enter(&entry.id, app.backend.slots(&entry.id))?;
        let loaded = turn.model(app.backend.as_ref(), &entry.id, app.config.auto_load).await?;
        let (vectors, tokens) = app.backend.embed(&loaded, req.inputs).await?;
        let width = vectors.first().map_or(0, Vec::len);
        if let Some(asked) = req.dimensions.filter(|d| *d != width) {
            return Err(ApiError::invalid(
                format!("`dimensions` {asked} is not this model's size: its embeddings have {width}, and this server does not cut them down."),
                Some("dimensions"),
            ));
        }
        let data: Vec<serde_json::Value> = vectors
            .iter()
            .enumerate()
            .map(|(index, v)| {
                let embedding = if req.base64 {
                    use base64::Engine as _;
                    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    serde_json::json!(base64::engine::general_purpose::STANDARD.encode(bytes))
                } else {
                    serde_json::json!(v)
                };
                serde_json::json!({ "object": "embedding", "index": index, "embedding": embedding })
            })
            .collect();
        Ok(Json(serde_json::json!({
            "object": "list",
            "data": data,
            "model": loaded.id,
            "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
        }))
        .into_response())
    };
    respond(&slot, made.await, false)
}

/// `GET /api/models`: every model with its state, its fit here and, when this server loaded it,
/// the load's figures (as LM Studio's `/api/v0/models` and Ollama's `/api/ps` tell).
pub async fn model_states<B: Backend>(State(app): State<Arc<App<B>>>) -> Json<serde_json::Value> {
    let states = app.backend.states().await;
    Json(serde_json::json!({ "object": "list", "data": states.iter().map(openai::model_state).collect::<Vec<_>>() }))
}

/// `POST /api/models/load` and `/api/models/unload`, body `{"model": NAME}`: load a model now
/// (with its fit plan; a model that will not fit is a 400 `model_would_not_fit`), or unload one
/// this server loaded. Each takes its turn with the completions, so nothing is unloaded under a
/// reply (it waits for the replies under way). Answers with the model's state.
pub async fn load_model<B: Backend>(State(app): State<Arc<App<B>>>, body: Body) -> Result<Json<serde_json::Value>, ApiError> {
    lifecycle(&app, body, true).await
}

pub async fn unload_model<B: Backend>(State(app): State<Arc<App<B>>>, body: Body) -> Result<Json<serde_json::Value>, ApiError> {
    lifecycle(&app, body, false).await
}

/// How long `/api/models/load` waits for a load (a 70B model from a slow disk takes minutes).
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

async fn lifecycle<B: Backend>(app: &App<B>, body: Body, load: bool) -> Result<Json<serde_json::Value>, ApiError> {
    let body = read_body(body, 64 << 10, app.config.stall_timeout).await?;
    let name = request::model_name(&body)?;
    let models = app.backend.models();
    let entry = find_model(&models, &name).ok_or_else(|| ApiError::ModelNotFound(name.clone()))?;
    let _alone = app.gate.exclusive(&entry.id).await;
    if load {
        // The runtime's one queue of loads, as Chat's (it never unloads a model that is answering
        // someone to make room), bounded: a load that has not ended in this time is given up.
        tokio::time::timeout(LOAD_TIMEOUT, app.backend.load(&entry.id)).await.map_err(|_| ApiError::Timeout(LOAD_TIMEOUT.as_secs()))??;
    } else {
        app.backend.unload(&entry.id).await?;
    }
    let states = app.backend.states().await;
    let state = states.iter().find(|s| s.entry.id == entry.id).ok_or_else(|| ApiError::ModelNotFound(name))?;
    Ok(Json(openai::model_state(state)))
}

/// The OpenAPI 3.1 description of every route (`openapi.json` beside this crate's Cargo.toml; a
/// test holds it to the router, `make fuzz-api` fuzzes the server from it).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /openapi.json`: the description, with the names of the models this server has now as the
/// values `model` takes (any other is a 404), so that a client, or a fuzzer, can tell them.
pub async fn openapi<B: Backend>(State(app): State<Arc<App<B>>>) -> Response {
    let mut spec: serde_json::Value = match serde_json::from_str(OPENAPI) {
        Ok(v) => v,
        Err(e) => {
            let broken = types::HearthError::new(types::ErrorCode::Internal, "The API description is broken.").with_details(e.to_string());
            return ApiError::Engine(broken).into_response();
        }
    };
    let names: Vec<String> = app.backend.models().into_iter().map(|m| m.id).collect();
    if !names.is_empty() {
        if let Some(schemas) = spec.pointer_mut("/components/schemas").and_then(serde_json::Value::as_object_mut) {
            for schema in schemas.values_mut() {
                if let Some(model) = schema.pointer_mut("/properties/model") {
                    model["enum"] = serde_json::json!(names);
                }
            }
        }
    }
    Json(spec).into_response()
}

pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_string())
}

pub async fn chat_completions<B: Backend>(State(app): State<Arc<App<B>>>, Extension(slot): Extension<LogSlot>, body: Body) -> Response {
    answer(&app, &slot, body, Endpoint::Chat).await
}

pub async fn completions<B: Backend>(State(app): State<Arc<App<B>>>, Extension(slot): Extension<LogSlot>, body: Body) -> Response {
    answer(&app, &slot, body, Endpoint::Text).await
}

async fn answer<B: Backend>(app: &App<B>, slot: &LogSlot, body: Body, endpoint: Endpoint) -> Response {
    respond(slot, start(app, slot, body, endpoint).await, false)
}

async fn start<B: Backend>(app: &App<B>, slot: &LogSlot, body: Body, endpoint: Endpoint) -> Result<Response, ApiError> {
    let body = read_body(body, app.config.max_body_bytes, app.config.stall_timeout).await?;
    let max = app.config.max_prompt_chars;
    let req = off_thread(move || request::parse(&body, endpoint, max)).await?;
    let (stream, include_usage) = (req.stream, req.include_usage);
    let Begun { mut reply, head } = begin(app, slot, req).await?;
    if stream {
        reply.stream();
        let stream = sse(SseReply { reply, head, include_usage, sent_any: false, text_offset: 0, calls: 0 });
        Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
    } else {
        whole(reply, head).await
    }
}

/// A generation under way for a request: its reply (its first piece read, so that an early
/// failure gets its own status, and given back), and what every object of the answer shares.
struct Begun {
    reply: Reply,
    head: Head,
}

/// The model by name, a turn in the queue, the model loaded, the generation started (with tools
/// rendered and a required call held by its grammar), its first piece read and given back.
async fn begin<B: Backend>(app: &App<B>, slot: &LogSlot, req: request::ValidRequest) -> Result<Begun, ApiError> {
    let endpoint = req.endpoint;
    let models = app.backend.models();
    // The log names what was asked for even when it is no model here: that is what a 404 is about.
    slot.set_model(&req.model);
    let entry = find_model(&models, &req.model).ok_or_else(|| ApiError::ModelNotFound(req.model.clone()))?;
    slot.set_model(&entry.id);
    let mut stopping = app.stopping.clone();
    let mut turn = app.gate.enter(&entry.id, app.backend.slots(&entry.id))?;
    let loaded = tokio::select! {
        loaded = turn.model(app.backend.as_ref(), &entry.id, app.config.auto_load) => loaded?,
        _ = stopping.wait_for(|s| *s) => return Err(ApiError::Busy(0)),
    };
    // Tools on offer (unless `tool_choice: none`); a required or named call holds decoding to
    // a call whose arguments match the function's parameters.
    let tools = req.tools.filter(|_| req.tool_choice != ToolChoice::None);
    let forced = match &req.tool_choice {
        ToolChoice::Required => Some(Forced::Any { parallel: req.parallel_tool_calls }),
        ToolChoice::Named(n) => Some(Forced::Named(n.clone())),
        _ => None,
    };
    let constraint = match (forced, &tools) {
        (Some(f), Some(t)) => Some(Constraint::JsonSchema {
            schema: engine::tools::forced_schema(t, &f)
                .ok_or_else(|| ApiError::invalid("`tool_choice` names no function among the `tools`.", Some("tool_choice")))?,
        }),
        _ => req.constraint,
    };
    let mut sampling = req.sampling;
    if let Some(cap) = app.config.max_reply_tokens {
        sampling.max_tokens = Some(sampling.max_tokens.map_or(cap, |n| n.min(cap)));
    }
    let params = GenerateParams {
        prompt: req.prompt,
        sampling,
        context_overflow: ContextOverflow::Stop,
        model: None,
        constraint,
        logprobs: req.logprobs,
        tools,
    };
    let generation = app.backend.generate(&loaded, params).await?;
    let mut reply = Reply::new(generation, turn, slot.clone(), app.stopping.clone());
    let head = Head::new(endpoint, &loaded.id, req.logprobs.is_some());
    match reply.next().await {
        Piece::Failed(e) => return Err(e),
        piece => reply.unread(piece),
    }
    Ok(Begun { reply, head })
}

/// `GET /health`: the server is up (as llama-server, LM Studio and Ollama answer it), with the
/// model the server loaded (`null` when none). No model needs to be loaded for it to be healthy.
pub async fn health<B: Backend>(State(app): State<Arc<App<B>>>) -> Response {
    Json(serde_json::json!({ "status": "ok", "model": app.backend.loaded() })).into_response()
}

/// `POST /v1/messages`: Anthropic's Messages API (anthropic.rs), on the same path as a chat
/// completion from the queue on.
pub async fn messages<B: Backend>(State(app): State<Arc<App<B>>>, Extension(slot): Extension<LogSlot>, body: Body) -> Response {
    respond(&slot, start_message(&app, &slot, body).await, true)
}

async fn start_message<B: Backend>(app: &App<B>, slot: &LogSlot, body: Body) -> Result<Response, ApiError> {
    let body = read_body(body, app.config.max_body_bytes, app.config.stall_timeout).await?;
    let max = app.config.max_prompt_chars;
    let req = off_thread(move || anthropic::parse(&body, max, false)).await?;
    let (stream, stops) = (req.stream, req.sampling.stop.clone());
    let Begun { mut reply, head } = begin(app, slot, req).await?;
    // Anthropic's ids are `msg_…`.
    let id = head.id.replacen("chatcmpl-", "msg_", 1);
    if !stream {
        let whole = collect(reply, &head).await?;
        return Ok(Json(anthropic::message_object(&id, &head.model, &whole.text, &whole.calls, &whole.stats, &stops)).into_response());
    }
    reply.stream();
    let state = MessageStream { reply, head, id, stops, opened: false, open: None, blocks: 0, calls: 0 };
    let events = stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        let (events, more) = state.step().await;
        Some((stream::iter(events.into_iter().map(Ok::<_, Infallible>)), more.then_some(state)))
    })
    .flatten();
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

/// A Messages reply as Anthropic's event sequence: text in a `text` block and each call in a
/// `tool_use` block, its input streamed as the model writes it (`input_json_delta`).
struct MessageStream {
    reply: Reply,
    head: Head,
    id: String,
    stops: Vec<String>,
    opened: bool,
    /// The block open now: its index, and whether it is a call's.
    open: Option<(usize, bool)>,
    /// Blocks begun so far.
    blocks: usize,
    calls: usize,
}

impl MessageStream {
    /// Closes the block open (if any) and opens the next one; its index.
    fn begin_block(&mut self, events: &mut Vec<Event>, call: bool) -> usize {
        if let Some((index, _)) = self.open.take() {
            events.push(anthropic::block_stop(index));
        }
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some((index, call));
        index
    }

    async fn step(&mut self) -> (Vec<Event>, bool) {
        let piece = self.reply.next().await;
        let mut events = Vec::new();
        if !self.opened {
            self.opened = true;
            events.extend(anthropic::opening(&self.id, &self.head.model, self.reply.started()));
        }
        match piece {
            Piece::Text(t, _) => {
                let index = match self.open {
                    Some((index, false)) => index,
                    _ => {
                        let index = self.begin_block(&mut events, false);
                        events.push(anthropic::text_start(index));
                        index
                    }
                };
                events.push(anthropic::text_delta(index, &t));
                (events, true)
            }
            Piece::Call { index, name: Some(name), arguments } => {
                let block = self.begin_block(&mut events, true);
                events.push(anthropic::tool_use_start(block, &self.head.call_id(index), &name));
                self.calls += 1;
                if !arguments.is_empty() {
                    events.push(anthropic::input_delta(block, &arguments));
                }
                (events, true)
            }
            Piece::Call { name: None, arguments, .. } => {
                if let Some((block, true)) = self.open {
                    events.push(anthropic::input_delta(block, &arguments));
                }
                (events, true)
            }
            Piece::Done(stats) => {
                if self.blocks == 0 {
                    // A message always has a block: an empty text one when nothing was written.
                    let index = self.begin_block(&mut events, false);
                    events.push(anthropic::text_start(index));
                    events.push(anthropic::text_delta(index, ""));
                }
                if let Some((index, _)) = self.open.take() {
                    events.push(anthropic::block_stop(index));
                }
                events.extend(anthropic::closing(&stats, self.calls > 0, &self.stops));
                (events, false)
            }
            Piece::Failed(e) => {
                tracing::warn!(error = %e, "a streamed message failed after its headers");
                let kind = if e.status().is_server_error() { "api_error" } else { "invalid_request_error" };
                events.push(anthropic::event(
                    "error",
                    serde_json::json!({ "type": "error", "error": { "type": kind, "message": e.public_message() } }),
                ));
                (events, false)
            }
        }
    }
}

/// `POST /v1/responses`: OpenAI's Responses API (responses.rs), on the same path as a chat
/// completion from the queue on; a stored response is kept in the database when it completes.
pub async fn responses<B: Backend>(State(app): State<Arc<App<B>>>, Extension(slot): Extension<LogSlot>, body: Body) -> Response {
    respond(&slot, start_response(&app, &slot, body).await, false)
}

async fn start_response<B: Backend>(app: &App<B>, slot: &LogSlot, body: Body) -> Result<Response, ApiError> {
    let body = read_body(body, app.config.max_body_bytes, app.config.stall_timeout).await?;
    let draft = responses::read(&body)?;
    let mut history: Vec<serde_json::Value> = Vec::new();
    if let Some(id) = &draft.previous {
        let stored = app.responses.response(id).map_err(HearthError::from)?;
        let stored = stored.ok_or_else(|| ApiError::ResponseNotFound { id: id.clone(), param: Some("previous_response_id") })?;
        history = responses::history(&stored)?;
    }
    let max = app.config.max_prompt_chars;
    let (req, draft, mut history) = off_thread(move || Ok((draft.request(&history, max)?, draft, history))).await?;
    let Begun { reply, head } = begin(app, slot, req).await?;
    let writer = responses::Writer::new(&head, draft.echo());
    // What a stored response keeps: the conversation it answered (its output is in the response).
    history.extend(draft.items);
    let keep = draft.store.then(|| Keep { store: app.responses.clone(), model: head.model.clone(), history });
    let mut state = ResponseStream { reply, writer, keep, opened: false };
    if !draft.stream {
        loop {
            let (_, end) = state.step().await;
            match end {
                Some(Ok(response)) => return Ok(Json(response).into_response()),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
    }
    state.reply.stream();
    let events = stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        let (events, end) = state.step().await;
        let events = events.into_iter().map(|e| Ok::<_, Infallible>(Event::default().event(e["type"].as_str().unwrap_or("error")).data(e.to_string())));
        Some((stream::iter(events), end.is_none().then_some(state)))
    })
    .flatten();
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

/// Where a response is stored when it completes, and the conversation it answered.
struct Keep {
    store: Arc<store::Store>,
    model: String,
    history: Vec<serde_json::Value>,
}

/// A reply written as a response, piece by piece: the events of each step, and at the end the
/// final response (stored first, so that a client continuing from it at once finds it) or the error.
struct ResponseStream {
    reply: Reply,
    writer: responses::Writer,
    keep: Option<Keep>,
    opened: bool,
}

impl ResponseStream {
    async fn step(&mut self) -> (Vec<serde_json::Value>, Option<Result<serde_json::Value, ApiError>>) {
        let piece = self.reply.next().await;
        let mut events = Vec::new();
        if !self.opened {
            self.opened = true;
            events.extend(self.writer.opening());
        }
        match piece {
            Piece::Text(t, _) => events.extend(self.writer.text(&t)),
            Piece::Call { index, name, arguments } => events.extend(self.writer.call(index, name.as_deref(), &arguments)),
            Piece::Done(stats) => {
                let (end, response) = self.writer.done(&stats);
                if let Some(keep) = self.keep.take() {
                    let stored = store::StoredResponse {
                        id: self.writer.id.clone(),
                        model: keep.model,
                        history: serde_json::Value::Array(keep.history).to_string(),
                        response: response.to_string(),
                    };
                    if let Err(e) = keep.store.save_response(&stored) {
                        let e = ApiError::from(HearthError::from(e));
                        tracing::warn!(error = %e, "a response could not be stored");
                        events.extend(self.writer.failed(&e));
                        return (events, Some(Err(e)));
                    }
                }
                events.extend(end);
                return (events, Some(Ok(response)));
            }
            Piece::Failed(e) => {
                tracing::warn!(error = %e, "a response failed after it began");
                events.extend(self.writer.failed(&e));
                return (events, Some(Err(e)));
            }
        }
        (events, None)
    }
}

/// `GET /v1/responses/{id}`: a stored response as it was sent.
pub async fn get_response<B: Backend>(State(app): State<Arc<App<B>>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let stored = app.responses.response(&id).map_err(HearthError::from)?.ok_or(ApiError::ResponseNotFound { id, param: None })?;
    let response: serde_json::Value = serde_json::from_str(&stored.response)
        .map_err(|e| HearthError::new(types::ErrorCode::Internal, "A stored response could not be read.").with_details(e.to_string()))?;
    Ok(Json(response).into_response())
}

/// `DELETE /v1/responses/{id}`: forgets a stored response.
pub async fn delete_response<B: Backend>(State(app): State<Arc<App<B>>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    if !app.responses.delete_response(&id).map_err(HearthError::from)? {
        return Err(ApiError::ResponseNotFound { id, param: None });
    }
    Ok(Json(serde_json::json!({ "id": id, "object": "response", "deleted": true })).into_response())
}

/// `POST /v1/messages/count_tokens`: the prompt's tokens as the model's template renders the
/// request (tools included), counted by reading it through the engine with nothing generated.
pub async fn count_tokens<B: Backend>(State(app): State<Arc<App<B>>>, Extension(slot): Extension<LogSlot>, body: Body) -> Response {
    let counted = async {
        let body = read_body(body, app.config.max_body_bytes, app.config.stall_timeout).await?;
        let max = app.config.max_prompt_chars;
        let mut req = off_thread(move || anthropic::parse(&body, max, true)).await?;
        req.sampling.max_tokens = Some(0);
        req.stream = false;
        req.tool_choice = if req.tool_choice == ToolChoice::None { ToolChoice::None } else { ToolChoice::Auto };
        let Begun { reply, head } = begin(&app, &slot, req).await?;
        let whole = collect(reply, &head).await?;
        Ok(Json(serde_json::json!({ "input_tokens": whole.stats.prompt_tokens_total })).into_response())
    };
    respond(&slot, counted.await, true)
}

/// Runs a request's parser off the async threads: it decodes the pictures a request carries (a
/// large photo takes a moment) and reads its documents in the reader process.
async fn off_thread<T: Send + 'static>(parse: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(parse).await.map_err(|e| {
        ApiError::Engine(HearthError::new(types::ErrorCode::Internal, "The request could not be read.").with_details(e.to_string()))
    })?
}

/// The whole body, refused past `limit` bytes (413) or when it has not all come within `time`
/// (408): a client sending its body a byte at a time would otherwise hold its connection, and its
/// place among the open ones, for as long as it liked.
async fn read_body(body: Body, limit: usize, time: std::time::Duration) -> Result<Bytes, ApiError> {
    let read = async {
        let mut chunks = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| ApiError::invalid(format!("The request body could not be read: {e}"), None))?;
            if bytes.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    };
    tokio::time::timeout(time, read).await.map_err(|_| ApiError::Timeout(time.as_secs().max(1)))?
}

async fn whole(reply: Reply, head: Head) -> Result<Response, ApiError> {
    let whole = collect(reply, &head).await?;
    Ok(Json(head.completion(&whole.text, &whole.logprobs, &whole.calls, &whole.stats)).into_response())
}

/// A reply read to its end.
struct Whole {
    /// The person's text (around the calls, trimmed, when there are calls).
    text: String,
    calls: Vec<openai::CallOut>,
    logprobs: Vec<types::TokenLogprob>,
    stats: types::GenerationStats,
}

/// A reply read to its end: its text, its calls (put together from their pieces, each with an id
/// of its own, the arguments as compact JSON), the log-probabilities of its tokens, its figures.
async fn collect(mut reply: Reply, head: &Head) -> Result<Whole, ApiError> {
    let (mut text, mut logprobs, mut calls) = (String::new(), Vec::new(), Vec::<openai::CallOut>::new());
    loop {
        match reply.next().await {
            Piece::Text(t, l) => {
                text.push_str(&t);
                logprobs.extend(l);
            }
            Piece::Call { index, name: Some(name), arguments } => {
                calls.push(openai::CallOut { id: head.call_id(index), name, arguments });
            }
            Piece::Call { index, name: None, arguments } => {
                if let Some(call) = calls.get_mut(index) {
                    call.arguments.push_str(&arguments);
                }
            }
            Piece::Done(stats) => {
                for call in &mut calls {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&call.arguments) {
                        call.arguments = v.to_string();
                    }
                }
                if !calls.is_empty() {
                    text = text.trim().to_string();
                }
                return Ok(Whole { text, calls, logprobs, stats });
            }
            Piece::Failed(e) => return Err(e),
        }
    }
}

/// The answer to a request, or its error in the shape of the API it came to (and in the log).
fn respond(slot: &LogSlot, result: Result<Response, ApiError>, anthropic_shape: bool) -> Response {
    match result {
        Ok(response) => response,
        Err(e) => {
            slot.set_error(e.to_string());
            if anthropic_shape {
                anthropic::error_response(e)
            } else {
                e.into_response()
            }
        }
    }
}

struct SseReply {
    reply: Reply,
    head: Head,
    include_usage: bool,
    sent_any: bool,
    /// Bytes of text sent so far (the `text_offset` of a completion's log-probabilities).
    text_offset: usize,
    /// Calls begun: they go out as OpenAI's `tool_calls` deltas while the model writes them (id
    /// and name, then the arguments in pieces), and the reply then ends with `tool_calls`.
    calls: usize,
}

fn data(value: &serde_json::Value) -> Event {
    Event::default().data(value.to_string())
}

impl SseReply {
    /// A chat stream opens with the role alone (`{"role": "assistant", "content": ""}`), as
    /// OpenAI's and llama-server's do; clients that take the first chunk for the role rely on it.
    fn role_chunk(&self, first: bool) -> Vec<Event> {
        if first && self.head.endpoint == Endpoint::Chat {
            vec![data(&self.head.chunk(Some(""), &[], 0, true, None, self.include_usage))]
        } else {
            Vec::new()
        }
    }

    /// The events for the next piece, and whether the stream goes on after them.
    async fn step(&mut self) -> (Vec<Event>, bool) {
        let piece = self.reply.next().await;
        let first = !self.sent_any;
        self.sent_any = true;
        match piece {
            Piece::Text(t, logprobs) => {
                let mut events = self.role_chunk(first);
                let chunk = self.head.chunk(Some(&t), &logprobs, self.text_offset, first && events.is_empty(), None, self.include_usage);
                self.text_offset += t.len();
                events.push(data(&chunk));
                (events, true)
            }
            Piece::Call { index, name, arguments } => {
                let mut events = self.role_chunk(first);
                if name.is_some() {
                    self.calls += 1;
                }
                events.push(data(&self.head.call_chunk(index, name.as_deref(), &arguments, self.include_usage)));
                (events, true)
            }
            Piece::Done(stats) => {
                let mut events = Vec::new();
                let finish = if self.calls == 0 { finish_reason(stats.stop_reason) } else { "tool_calls" };
                if first {
                    events.push(data(&self.head.chunk(Some(""), &[], self.text_offset, true, None, self.include_usage)));
                }
                events.push(data(&self.head.chunk(None, &[], self.text_offset, false, Some(finish), self.include_usage)));
                if self.include_usage {
                    events.push(data(&self.head.usage_chunk(&stats)));
                }
                events.push(Event::default().data("[DONE]"));
                (events, false)
            }
            Piece::Failed(e) => {
                tracing::warn!(error = %e, "a streamed reply failed after its headers");
                (vec![data(&e.body())], false)
            }
        }
    }
}

fn sse(reply: SseReply) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    stream::unfold(Some(reply), |state| async move {
        let mut state = state?;
        let (events, more) = state.step().await;
        // Dropping the state ends the reply (and writes its log entry) as soon as it is over.
        Some((stream::iter(events.into_iter().map(Ok)), more.then_some(state)))
    })
    .flatten()
}
