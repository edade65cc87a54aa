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

/// The Server view's settings, saved with the app's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ServerSettings {
    /// `127.0.0.1` (this computer only) unless the person chooses otherwise; anything else needs a key.
    pub host: String,
    pub port: u16,
    /// The key clients must send as `Authorization: Bearer …`; none on loopback by default.
    pub api_key: Option<String>,
    /// Browser origins allowed to call the server (CORS); empty for none.
    pub allowed_origins: Vec<String>,
    /// Load a model that a request names and that is not loaded.
    pub auto_load: bool,
    /// Unload a model the server loaded after this many idle minutes.
    pub idle_minutes: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { host: "127.0.0.1".into(), port: 1234, api_key: None, allowed_origins: Vec::new(), auto_load: true, idle_minutes: 10 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    /// `http://127.0.0.1:1234/v1` while running.
    pub base_url: Option<String>,
    pub settings: ServerSettings,
    /// The model that answers requests now.
    pub loaded_model: Option<String>,
    /// How many models clients can ask for.
    pub models: u32,
}
