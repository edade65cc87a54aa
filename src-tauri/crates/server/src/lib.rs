//! Hearth's OpenAI-compatible HTTP server (axum): `GET /v1/models`, `POST /v1/chat/completions`,
//! `POST /v1/completions`, `/v1/embeddings`, `/v1/responses` (stored in SQLite) and Anthropic's
//! `/v1/messages`, streamed as server-sent events or answered whole, over any
//! `Backend` — `EngineBackend` (Hearth's engine, loading models with the fit planner's plan) in the
//! app and in `hearth serve`, a fake in tests.
//!
//! Safe by default (`ServerConfig::default`): it listens on 127.0.0.1 only and refuses any other
//! address without an API key; with a key, requests need `Authorization: Bearer <key>` (the server
//! keeps only its digest); no web page can use it: a `Host` that is not loopback (DNS rebinding),
//! an `Origin` not listed, a body that is not JSON are refused before any work; no CORS unless
//! origins are listed; bodies over 32 MiB get 413; each loaded model writes as many replies at once as it has slots,
//! four more requests wait (`queue.rs`), the rest get 429 with `Retry-After`; a client that goes away, or stops taking data, cancels its
//! generation; connections are capped and must send their request head in time. Errors tell
//! clients no path and no log line of the engine.
//! Every request is logged on a broadcast channel (`types::RequestLog`) for the app's live log.
//!
//! Modules: `config` (settings, validated), `serve` (start, stop, router, idle reaper), `listen`
//! (accept loop: connection cap, timeouts), `guard` (Host, Origin, content type), `routes`
//! (handlers, SSE), `request` (OpenAI requests, validated), `openai` (response shapes),
//! `anthropic` (Messages), `responses` (the Responses API's requests, output items and events), `reply`
//! (one generation in flight), `queue` (the engine slot and its bounded queue), `auth`, `log`,
//! `error` (with what a client may read of an engine error), `backend` (the trait),
//! `engine_backend`.

mod attachments;
mod auth;
mod backend;
mod config;
mod engine_backend;
mod error;
mod guard;
mod listen;
mod log;
mod openai;
mod pictures;
mod queue;
mod reply;
mod request;
mod routes;
mod anthropic;
mod responses;
mod serve;

pub use backend::{find_model, Backend, Loaded, LoadedId, ModelEntry, ModelState};
pub use attachments::use_reader as use_document_reader;
pub use auth::KeyDigest;
pub use config::{ServerConfig, ValidConfig};
pub use engine_backend::EngineBackend;
pub use error::{ApiError, ServeError};
pub use log::MetricsSnapshot;
pub use serve::{serve, RunningServer};
