//! Starting and stopping the server: `serve` validates the config, binds, builds the router
//! (`guard` outermost, then CORS, the request log, the API key check, the routes) and runs it on
//! the current tokio runtime through `listen` (connection cap, timeouts) with a reaper that unloads
//! the server's model after its idle TTL. `RunningServer` is the handle the app and `hearth serve`
//! keep: its address, the live log, the counters, and `stop`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, Method};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};
use types::RequestLog;

use crate::auth::{require_key, ApiKey};
use crate::backend::Backend;
use crate::config::{ServerConfig, ValidConfig};
use crate::error::ServeError;
use crate::guard::{self, Guard};
use crate::listen::{self, Limits, Registry};
use crate::log::{log_requests, Metrics, MetricsSnapshot, Recorder};
use crate::queue::Gate;
use crate::routes::{self, App};

/// Entries a slow log reader may fall behind by before it misses some.
const LOG_CAPACITY: usize = 1024;
/// How long `stop` lets replies in flight end before it drops them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A server that is listening. Dropping it stops the server too (without waiting).
pub struct RunningServer {
    addr: std::net::SocketAddr,
    logs: broadcast::Sender<RequestLog>,
    metrics: Arc<Metrics>,
    connections: Arc<Mutex<Registry>>,
    stopping: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    reaper: JoinHandle<()>,
}

impl RunningServer {
    /// Where it listens (with the real port when the config said 0).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The live log: one entry per request from now on.
    pub fn logs(&self) -> broadcast::Receiver<RequestLog> {
        self.logs.subscribe()
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// Connections open now (at most `max_connections`).
    pub fn connections(&self) -> usize {
        Registry::open(&self.connections)
    }

    /// Stops listening, ends replies in flight with an error event, and waits for the server to
    /// finish (at most a few seconds).
    pub async fn stop(mut self) {
        self.stopping.send(true).ok();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Resolves when the server has stopped (for `hearth serve`, which runs until Ctrl-C).
    pub async fn stopped(&mut self) {
        if let Some(task) = self.task.as_mut() {
            task.await.ok();
        }
        self.task = None;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stopping.send(true).ok();
        self.reaper.abort();
    }
}

/// Validates `config`, binds, and serves `backend` until the returned handle stops.
pub async fn serve<B: Backend>(config: ServerConfig, backend: Arc<B>) -> Result<RunningServer, ServeError> {
    let config = config.validate()?;
    let listener = listen::bind(config.addr).map_err(|source| ServeError::Bind { addr: config.addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.addr, source })?;
    let (stopping, stop_rx) = watch::channel(false);
    let (logs, _) = broadcast::channel(LOG_CAPACITY);
    let metrics = Arc::new(Metrics::default());
    let gate = Gate::new(config.queue_limit);
    let recorder = Recorder { tx: logs.clone(), metrics: metrics.clone() };
    let responses = match &config.responses_db {
        Some(path) => store::Store::open(path),
        None => store::Store::in_memory(),
    }
    .map_err(ServeError::Responses)?;
    let app = Arc::new(App {
        backend: backend.clone(),
        gate: gate.clone(),
        config: config.clone(),
        stopping: stop_rx.clone(),
        responses: Arc::new(responses),
    });
    let router = router(app, &config, recorder);
    let limits = Limits { header_timeout: config.header_timeout, stall_timeout: config.stall_timeout };
    let connections = Registry::new(config.max_connections);
    let task = tokio::spawn(listen::run(listener, router, limits, connections.clone(), stop_rx.clone()));
    let reaper = tokio::spawn(reap_idle(backend, gate, config.idle_ttl, stop_rx));
    tracing::info!(%addr, "OpenAI-compatible server listening");
    Ok(RunningServer { addr, logs, metrics, connections, stopping, task: Some(task), reaper })
}

fn router<B: Backend>(app: Arc<App<B>>, config: &ValidConfig, recorder: Recorder) -> Router {
    let router = Router::new()
        .route("/v1/models", get(routes::list_models::<B>))
        .route("/v1/models/{*id}", get(routes::get_model::<B>))
        .route("/v1/chat/completions", post(routes::chat_completions::<B>))
        .route("/v1/completions", post(routes::completions::<B>))
        .route("/v1/embeddings", post(routes::embeddings::<B>))
        .route("/v1/responses", post(routes::responses::<B>))
        .route("/v1/responses/{id}", get(routes::get_response::<B>).delete(routes::delete_response::<B>))
        .route("/v1/messages", post(routes::messages::<B>))
        .route("/v1/messages/count_tokens", post(routes::count_tokens::<B>))
        .route("/api/models", get(routes::model_states::<B>))
        .route("/api/models/load", post(routes::load_model::<B>))
        .route("/api/models/unload", post(routes::unload_model::<B>))
        .route("/openapi.json", get(routes::openapi::<B>))
        .route("/health", get(routes::health::<B>))
        .fallback(routes::no_route)
        .with_state(app)
        .layer(from_fn_with_state(ApiKey(config.api_key.clone()), require_key))
        .layer(from_fn_with_state(recorder.clone(), log_requests));
    // No CORS layer at all without origins: browsers on other origins cannot read any answer.
    let router = if config.allowed_origins.is_empty() {
        router
    } else {
        router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(config.allowed_origins.clone()))
                .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(Duration::from_secs(600)),
        )
    };
    router.layer(from_fn_with_state(Guard::new(config, recorder), guard::check))
}

/// Unloads each model the server loaded once nothing has run on it for `ttl`, holding it alone
/// while it does so that no request starts with it in between.
async fn reap_idle<B: Backend>(backend: Arc<B>, gate: Arc<Gate>, ttl: Duration, mut stopping: watch::Receiver<bool>) {
    let every = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
        if backend.loaded().is_none() {
            continue;
        }
        for (model, alone) in gate.idle(ttl) {
            backend.unload_idle(&model).await;
            drop(alone);
        }
    }
}
