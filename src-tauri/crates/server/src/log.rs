//! What the server tells the app and the tests about the requests it answers: a `RequestLog` per
//! request on a broadcast channel (the Server view's live log), and running counters (`Metrics`).
//! The logging middleware gives every request a `LogSlot`; handlers fill in the model and
//! figures; a streamed reply takes the slot over and writes the entry when its stream ends, so
//! the entry of a reply whose client left says `cancelled` with the tokens it really got.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::broadcast;
use types::RequestLog;

/// Counters since the server started.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    /// Generations that ran to their end (`stop` or `length`).
    pub completed: AtomicU64,
    /// Requests refused with 429.
    pub rejected_busy: AtomicU64,
    /// Requests refused before any work (`guard`): a wrong `Host`, a foreign `Origin`, not JSON.
    pub refused: AtomicU64,
    /// Generations whose client went away before the end.
    pub cancelled: AtomicU64,
    /// Requests answered with an error status, or streams that carried an error event.
    pub errors: AtomicU64,
    /// Pieces of text received from the engine, over all generations.
    pub tokens: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    pub requests: u64,
    pub completed: u64,
    pub rejected_busy: u64,
    pub refused: u64,
    pub cancelled: u64,
    pub errors: u64,
    pub tokens: u64,
}

impl Metrics {
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        MetricsSnapshot {
            requests: get(&self.requests),
            completed: get(&self.completed),
            rejected_busy: get(&self.rejected_busy),
            refused: get(&self.refused),
            cancelled: get(&self.cancelled),
            errors: get(&self.errors),
            tokens: get(&self.tokens),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::SeqCst);
    }
}

/// Where entries go.
#[derive(Clone)]
pub struct Recorder {
    pub tx: broadcast::Sender<RequestLog>,
    pub metrics: Arc<Metrics>,
}

impl Recorder {
    /// The entry of a request `guard` refused (it never reaches `log_requests`).
    pub fn refused(&self, method: &str, path: &str, status: u16, error: String) {
        for counter in [&self.metrics.requests, &self.metrics.refused, &self.metrics.errors] {
            Metrics::add(counter, 1);
        }
        let slot = LogSlot::new(method.to_string(), path.to_string(), self.clone());
        slot.set_error(error);
        slot.write(status);
    }
}

struct Draft {
    entry: RequestLog,
    started: Instant,
    /// A stream took the slot over and writes the entry itself.
    deferred: bool,
    written: bool,
}

/// One request's log entry in the making.
#[derive(Clone)]
pub struct LogSlot {
    draft: Arc<Mutex<Draft>>,
    recorder: Recorder,
}

/// The figures a finished generation adds to its entry.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub tokens_per_second: Option<f64>,
    pub finish_reason: Option<String>,
    pub error: Option<String>,
}

impl LogSlot {
    fn new(method: String, path: String, recorder: Recorder) -> Self {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let entry = RequestLog {
            method,
            path,
            model: None,
            status: 0,
            prompt_tokens: None,
            completion_tokens: None,
            tokens_per_second: None,
            duration_ms: 0.0,
            finish_reason: None,
            error: None,
            at,
        };
        Self { draft: Arc::new(Mutex::new(Draft { entry, started: Instant::now(), deferred: false, written: false })), recorder }
    }

    pub fn set_model(&self, model: &str) {
        if let Ok(mut d) = self.draft.lock() {
            d.entry.model = Some(model.to_string());
        }
    }

    pub fn set_outcome(&self, outcome: Outcome) {
        if let Ok(mut d) = self.draft.lock() {
            d.entry.prompt_tokens = outcome.prompt_tokens;
            d.entry.completion_tokens = outcome.completion_tokens;
            d.entry.tokens_per_second = outcome.tokens_per_second;
            d.entry.finish_reason = outcome.finish_reason;
            if outcome.error.is_some() {
                d.entry.error = outcome.error;
            }
        }
    }

    pub fn set_error(&self, message: String) {
        if let Ok(mut d) = self.draft.lock() {
            d.entry.error = Some(message);
        }
    }

    /// A streamed reply writes the entry when it ends (`write`), not the middleware.
    pub fn defer(&self) {
        if let Ok(mut d) = self.draft.lock() {
            d.deferred = true;
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.recorder.metrics
    }

    /// Sends the entry, once.
    pub fn write(&self, status: u16) {
        let entry = {
            let Ok(mut d) = self.draft.lock() else { return };
            if d.written {
                return;
            }
            d.written = true;
            d.entry.status = status;
            d.entry.duration_ms = d.started.elapsed().as_secs_f64() * 1000.0;
            d.entry.clone()
        };
        tracing::debug!(method = %entry.method, path = %entry.path, status, ms = entry.duration_ms, "request");
        // No subscriber is fine: nobody is watching the log.
        self.recorder.tx.send(entry).ok();
    }

    fn deferred(&self) -> bool {
        self.draft.lock().map(|d| d.deferred).unwrap_or(false)
    }
}

/// The middleware: a slot for every request, the entry written when the response is ready (or
/// later, by a stream that took it over).
pub async fn log_requests(State(recorder): State<Recorder>, mut request: Request, next: Next) -> Response {
    Metrics::add(&recorder.metrics.requests, 1);
    let slot = LogSlot::new(request.method().to_string(), request.uri().path().to_string(), recorder.clone());
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() == 429 {
        Metrics::add(&recorder.metrics.rejected_busy, 1);
    } else if status.is_client_error() || status.is_server_error() {
        Metrics::add(&recorder.metrics.errors, 1);
    }
    if !slot.deferred() {
        slot.write(status.as_u16());
    }
    response
}
