//! What the OpenAI-compatible server reports about each request it answered, for the app's live
//! log of the Server view and for tests: who asked for what, how it ended, and how fast it went.

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

/// One answered request. Streamed replies are logged when their stream ends (finished, failed, or
/// the client went away), so the token counts are the real ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RequestLog {
    pub method: String,
    pub path: String,
    /// The model the request named, when it named one.
    pub model: Option<String>,
    /// The HTTP status sent (200 for a stream, even one that later carried an error event).
    pub status: u16,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    #[specta(type = Option<Number>)]
    pub tokens_per_second: Option<f64>,
    /// From the request's arrival to its last byte.
    #[specta(type = Number)]
    pub duration_ms: f64,
    /// `"stop"`, `"length"`, `"cancelled"` (the client went away) or `"error"`; `None` when no
    /// generation ran.
    pub finish_reason: Option<String>,
    /// The message sent to the client, for a request that failed.
    pub error: Option<String>,
    /// When the request arrived, in milliseconds since the Unix epoch.
    #[specta(type = Number)]
    pub at: i64,
}
