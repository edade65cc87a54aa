//! Connections: engines on other machines (a rented GPU running vLLM or llama.cpp's server, another
//! computer running `hearth serve`) that Chat and the CLI talk to over their OpenAI- or
//! Anthropic-compatible HTTP API.

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{HearthError, TokenPlace};

/// Which API an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum ApiKind {
    /// `/v1/models` and `/v1/chat/completions` with `Authorization: Bearer KEY`: vLLM, TGI,
    /// llama.cpp's server, Ollama, LM Studio, `hearth serve`, OpenAI itself.
    #[default]
    Openai,
    /// `/v1/models` and `/v1/messages` with `x-api-key: KEY`: Anthropic, `hearth serve`.
    Anthropic,
}

/// A saved connection, as Settings and the model picker show it. The key itself never leaves the
/// backend: only where it is kept and a hint of its last characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: String,
    pub name: String,
    /// Without the trailing `/v1`: `http://127.0.0.1:8080`.
    pub base_url: String,
    pub kind: ApiKind,
    /// Where its key is kept, `None` without one.
    pub key_place: Option<TokenPlace>,
    pub key_hint: Option<String>,
    /// The person confirmed plain http to a machine beyond this one and its private network.
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// A connection to save: a new one (`id: None`) or a change to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInput {
    pub id: Option<String>,
    pub name: String,
    pub base_url: String,
    pub kind: ApiKind,
    /// `None`: keep the saved key (none for a new connection); `Some("")`: forget it.
    pub key: Option<String>,
    /// Needed for plain http to a machine beyond this one and its private network (the key and
    /// the conversations would cross the internet unencrypted): the person's confirmation.
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// One connection's models, or why they could not be listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RemoteModels {
    pub connection: Connection,
    pub models: Vec<String>,
    pub error: Option<HearthError>,
}

/// A model on a connection, as Chat answers with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RemoteModel {
    pub connection_id: String,
    pub connection_name: String,
    pub base_url: String,
    pub model: String,
}

impl RemoteModel {
    /// What a conversation records as its model: `NAME/MODEL @ URL` reads well and never looks like
    /// a file path.
    pub fn label(&self) -> String {
        format!("{} on {} ({})", self.model, self.connection_name, self.base_url)
    }
}
