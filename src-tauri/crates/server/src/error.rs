//! The server's errors. `ServeError` is why the server would not start. `ApiError` is the one enum
//! a request can fail with (as in text-generation-inference's router): `status` maps each variant
//! to an HTTP status, and `body` to OpenAI's error shape
//! `{"error": {"message", "type", "param", "code"}}`, which is sent as a response body before a
//! stream starts and as a `data:` event inside a stream that has started. What a client is told of
//! an engine error names no absolute path and carries no worker log line (`HearthError::public`,
//! written by the crate that failed from its typed values); the whole of
//! it goes to the log (tracing) and to the app's live log instead.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use types::{ErrorCode, HearthError};


#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("The server will not listen on {0} without an API key: anyone on the network could use your models. Set an API key, or listen on 127.0.0.1.")]
    InsecureHost(String),
    #[error("\"{0}\" is not an IP address to listen on (use 127.0.0.1, ::1, localhost, or an address of this machine).")]
    BadHost(String),
    #[error("\"{0}\" is not an origin for CORS: write it as a browser sends it, e.g. http://localhost:5173 (no path, no wildcard).")]
    BadOrigin(String),
    #[error("\"{0}\" is not a host name for the server: write it as clients address it, e.g. hearth.lan or 192.168.1.4 (no scheme, no path).")]
    BadAllowedHost(String),
    #[error("The API key starts with \"sha256:\" but is not a stored key digest (sha256: and 64 hex digits). Choose a key that does not start with sha256:.")]
    BadKey,
    #[error("{0}")]
    BadLimit(String),
    #[error("{}", bind_sentence(.addr, .source))]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    /// The database the Responses API keeps its stored responses in would not open.
    #[error("The server could not open the database it keeps stored responses in.")]
    Responses(#[source] store::StoreError),
}

/// Why the server could not listen, in the person's words; the OS's own words go to the details.
fn bind_sentence(addr: &std::net::SocketAddr, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("The server could not listen on {addr}: another program is using port {}. Choose another port, or stop that program.", addr.port())
        }
        std::io::ErrorKind::PermissionDenied => format!(
            "The server could not listen on {addr}: this user may not use port {} (ports below 1024 need more rights). Choose a port above 1024.",
            addr.port()
        ),
        std::io::ErrorKind::AddrNotAvailable => format!("The server could not listen on {addr}: that address is not one of this machine's."),
        _ => format!("The server could not listen on {addr}."),
    }
}

/// The settings are the person's: each refusal is a sentence about them, with no path in it.
impl types::Problem for ServeError {
    fn code(&self) -> ErrorCode {
        match self {
            ServeError::Responses(e) => e.code(),
            _ => ErrorCode::InvalidInput,
        }
    }

    fn sentence(&self, to: types::Audience) -> String {
        match self {
            // The store's own sentence says what to do (a database from a newer Hearth: update).
            ServeError::Responses(e) => e.sentence(to),
            _ => self.to_string(),
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            ServeError::Responses(e) => e.details(),
            ServeError::Bind { source, .. } => Some(source.to_string()),
            _ => None,
        }
    }
}

/// Why a request failed, with what the client is told.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: bad JSON, a field of the wrong type or out of range.
    #[error("{message}")]
    InvalidRequest { message: String, param: Option<String>, code: Option<&'static str> },
    #[error("Incorrect API key provided. Send it as `Authorization: Bearer <key>` (Anthropic clients: `x-api-key: <key>`).")]
    Unauthorized,
    /// `Host` names neither loopback nor a listed host: a web page behind a rebound name.
    #[error("This server answers requests addressed to localhost, 127.0.0.1 or [::1], or to a host listed in its settings; web pages cannot call it.")]
    WrongHost,
    /// `Origin` (or `Sec-Fetch-Site`) says a web page sent it, from an origin not listed.
    #[error("This server does not answer web pages unless their origin is in its allowed origins (CORS).")]
    ForeignOrigin,
    #[error("Send the request body as JSON, with `Content-Type: application/json`.")]
    NotJson,
    #[error("The request body did not arrive within {0} seconds.")]
    Timeout(u64),
    #[error("The model `{0}` does not exist. GET /v1/models lists the models this server has.")]
    ModelNotFound(String),
    #[error("There is no {0} here. This server answers /v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/messages and /health.")]
    NoRoute(String),
    /// No stored response has this id (`param`: the field that named it, when a request did).
    #[error("No stored response has the id `{id}`: it was made with `store: false`, deleted, or is more than 30 days old.")]
    ResponseNotFound { id: String, param: Option<&'static str> },
    #[error("The request body is larger than this server accepts ({0} bytes).")]
    TooLarge(usize),
    #[error("The server is busy: one request is generating and {0} are waiting. Retry in a moment.")]
    Busy(usize),
    /// The engine's own error (load failed, crashed, context full, …).
    #[error("{}", .0.message)]
    Engine(HearthError),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        Self::InvalidRequest { message: message.into(), param: param.map(str::to_string), code: None }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::WrongHost | ApiError::ForeignOrigin => StatusCode::FORBIDDEN,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::ModelNotFound(_) | ApiError::NoRoute(_) | ApiError::ResponseNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Engine(e) => match e.code {
                ErrorCode::InvalidInput
                | ErrorCode::ContextFull
                | ErrorCode::TemplateError
                | ErrorCode::NoModelLoaded
                | ErrorCode::WouldNotFit => {
                    StatusCode::BAD_REQUEST
                }
                ErrorCode::NotFound => StatusCode::NOT_FOUND,
                ErrorCode::ModelsBusy => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// OpenAI's `type` and `code`.
    fn kind(&self) -> (&'static str, Option<&'static str>) {
        match self {
            ApiError::InvalidRequest { code, .. } => ("invalid_request_error", *code),
            ApiError::Unauthorized => ("invalid_request_error", Some("invalid_api_key")),
            ApiError::WrongHost => ("invalid_request_error", Some("host_not_allowed")),
            ApiError::ForeignOrigin => ("invalid_request_error", Some("origin_not_allowed")),
            ApiError::NotJson => ("invalid_request_error", Some("unsupported_media_type")),
            ApiError::Timeout(_) => ("invalid_request_error", Some("request_timeout")),
            ApiError::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            ApiError::NoRoute(_) => ("invalid_request_error", Some("unknown_url")),
            ApiError::ResponseNotFound { param: Some(_), .. } => ("invalid_request_error", Some("previous_response_not_found")),
            ApiError::ResponseNotFound { param: None, .. } => ("invalid_request_error", None),
            ApiError::TooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            ApiError::Busy(_) => ("rate_limit_error", Some("queue_full")),
            ApiError::Engine(e) => match e.code {
                ErrorCode::ContextFull => ("invalid_request_error", Some("context_length_exceeded")),
                ErrorCode::NoModelLoaded => ("invalid_request_error", Some("model_not_loaded")),
                ErrorCode::InvalidInput => ("invalid_request_error", None),
                ErrorCode::TemplateError => ("invalid_request_error", Some("template_error")),
                ErrorCode::WouldNotFit => ("invalid_request_error", Some("model_would_not_fit")),
                ErrorCode::NotFound => ("invalid_request_error", Some("model_not_found")),
                ErrorCode::ModelLoadFailed => ("server_error", Some("model_load_failed")),
                ErrorCode::EngineCrashed => ("server_error", Some("engine_crashed")),
                ErrorCode::ModelsBusy => ("server_error", Some("models_busy")),
                _ => ("server_error", None),
            },
        }
    }

    /// What the client is told: an engine error without paths or the worker's log lines.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Engine(e) => e.public_message().to_string(),
            other => other.to_string(),
        }
    }

    /// `{"error": {"message", "type", "param", "code"}}`.
    pub fn body(&self) -> Value {
        let (kind, code) = self.kind();
        let param = match self {
            ApiError::InvalidRequest { param, .. } => param.clone(),
            ApiError::ModelNotFound(_) => Some("model".into()),
            ApiError::ResponseNotFound { param, .. } => param.map(str::to_string),
            _ => None,
        };
        json!({ "error": { "message": self.public_message(), "type": kind, "param": param, "code": code } })
    }
}

impl From<HearthError> for ApiError {
    fn from(e: HearthError) -> Self {
        ApiError::Engine(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Engine(e) = &self {
            // The whole of it, paths and the worker's last lines included, stays on this machine.
            tracing::warn!(code = ?e.code, message = %e.message, details = ?e.details, "a request failed in the engine");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::Busy(_) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::Unauthorized = self {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Clients (the `openai` package among them) read this exact shape.
    #[test]
    fn errors_have_openai_shape_and_status() {
        let e = ApiError::ModelNotFound("gpt-9".into());
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let body = e.body();
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["param"], "model");
        assert!(body["error"]["message"].as_str().unwrap().contains("gpt-9"));
        let full = ApiError::from(HearthError::new(ErrorCode::ContextFull, "too long"));
        assert_eq!(full.status(), StatusCode::BAD_REQUEST);
        assert_eq!(full.body()["error"]["code"], "context_length_exceeded");
        let crash = ApiError::from(HearthError::new(ErrorCode::EngineCrashed, "gone"));
        assert_eq!(crash.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(ApiError::Busy(4).status(), StatusCode::TOO_MANY_REQUESTS);
        let r = ApiError::Busy(4).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn engine_errors_tell_the_client_no_path_and_no_log_line() {
        let e = ApiError::from(HearthError::from(engine::EngineError::DiedLoading {
            status: "signal 6".into(),
            last_lines: vec!["llama_model_load: error loading model: /home/ann/models/x.gguf".into()],
        }));
        let message = e.body()["error"]["message"].as_str().unwrap().to_string();
        assert_eq!(message, "llama.cpp stopped while loading the model (signal 6). The file may be damaged or not supported.");
        assert!(e.to_string().contains("/home/ann"), "the app's own log keeps the whole message");
        let e = ApiError::from(HearthError::from(engine::EngineError::FileMissing { path: "/home/ann/My Models/x.gguf".into() }));
        assert_eq!(e.body()["error"]["message"], "There is no model file at x.gguf.");
    }

    #[test]
    fn refusals_have_their_statuses() {
        assert_eq!(ApiError::WrongHost.status(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::ForeignOrigin.body()["error"]["code"], "origin_not_allowed");
        assert_eq!(ApiError::NotJson.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(ApiError::Timeout(30).status(), StatusCode::REQUEST_TIMEOUT);
    }
}
