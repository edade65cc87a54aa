//! What can go wrong with a connection, with the values of what went wrong: the connection's name
//! (every sentence names it), the address, the HTTP status, the model. What the endpoint said in its
//! body (`said`) and a library's own words (reqwest's, serde_json's, url's: `reason`) are carried as
//! they came, for the details: they are not Hearth's to type.

use types::{Audience, ErrorCode, Problem};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// What the person gave does not parse as a URL.
    NotAnAddress { given: String, reason: String },
    /// It parses, but is not http(s) or has no host.
    NotHttp { given: String },
    /// reqwest could not build its client.
    NoClient { reason: String },
    /// The endpoint did not answer (`reason`: the connection error, its cause when it has one).
    Unreachable { connection: String, base_url: String, reason: String },
    /// HTTP 401 or 403.
    Refused { connection: String, status: u16, said: String },
    /// The endpoint does not serve `model`: a 404 to a chat request, or a list of models without it
    /// (`said`: `None`).
    ModelGone { connection: String, model: String, said: Option<String> },
    /// A 404 to `/v1/models`: not an OpenAI-compatible server at this address.
    NoModelList { connection: String, base_url: String, said: String },
    /// A redirect to another origin, which Hearth does not follow with the key.
    Redirected { connection: String, status: u16, location: Option<String>, said: String },
    /// HTTP 429 or 503.
    Busy { connection: String, status: u16, said: String },
    /// Any other error status.
    Status { connection: String, status: u16, said: String },
    /// A body Hearth cannot read: `what` is "its list of models", "part of the reply", ….
    Unreadable { connection: String, what: &'static str, reason: String },
    /// An error event in the middle of the stream.
    StoppedReply { connection: String, said: String },
    /// The stream broke off before its end (`reason`: reqwest's, when it gave one).
    Cut { connection: String, reason: Option<String> },
}

impl Problem for RemoteError {
    fn code(&self) -> ErrorCode {
        use RemoteError::*;
        match self {
            NotAnAddress { .. } | NotHttp { .. } => ErrorCode::InvalidInput,
            NoClient { .. } => ErrorCode::Internal,
            Unreachable { .. } | NoModelList { .. } | Redirected { .. } => ErrorCode::RemoteUnreachable,
            Refused { .. } => ErrorCode::RemoteRefused,
            ModelGone { .. } => ErrorCode::RemoteModelGone,
            Busy { .. } => ErrorCode::RateLimited,
            Status { .. } | Unreadable { .. } | StoppedReply { .. } => ErrorCode::BadResponse,
            Cut { .. } => ErrorCode::RemoteCut,
        }
    }

    /// The same for both readers: the sentences name the connection and its address, which whoever
    /// uses the connection knows, and nothing of this machine.
    fn sentence(&self, _to: Audience) -> String {
        use RemoteError::*;
        match self {
            NotAnAddress { given, .. } => format!("“{given}” is not an address (http://HOST:PORT)."),
            NotHttp { given } => format!("“{given}” is not an http:// or https:// address."),
            NoClient { .. } => "Hearth could not start its HTTP client.".into(),
            Unreachable { connection, base_url, .. } => {
                format!("{connection} did not answer at {base_url}. Is its server running, and is the address right?")
            }
            Refused { connection, status, .. } => {
                format!("{connection} refused the key (HTTP {status}). Check the key in Settings → Connections.")
            }
            ModelGone { connection, model, .. } => format!("{connection} does not serve “{model}” any more. Pick another of its models."),
            NoModelList { connection, base_url, .. } => {
                format!("{connection} has no /v1/models at {base_url}: is this the address of an OpenAI-compatible server?")
            }
            Redirected { connection, status, location, .. } => format!(
                "{connection} sent Hearth on to another address (HTTP {status}{}); Hearth does not follow it with the key. Use that address for the connection if you trust it.",
                location.as_deref().map(|l| format!(", to {l}")).unwrap_or_default()
            ),
            Busy { connection, status, .. } => format!("{connection} is busy (HTTP {status}). Try again in a moment."),
            Status { connection, status, said } => format!("{connection} answered HTTP {status}: {said}"),
            Unreadable { connection, what, .. } => format!("{connection} sent {what} in a form Hearth cannot read."),
            StoppedReply { connection, said } => format!("{connection} stopped the reply: {said}"),
            Cut { connection, .. } => format!(
                "The connection to {connection} broke off in the middle of the reply. The text so far is kept; Regenerate tries again."
            ),
        }
    }

    fn details(&self) -> Option<String> {
        use RemoteError::*;
        match self {
            NotAnAddress { reason, .. } | NoClient { reason } | Unreachable { reason, .. } | Unreadable { reason, .. } => {
                Some(reason.clone())
            }
            Refused { said, .. } | NoModelList { said, .. } | Redirected { said, .. } | Busy { said, .. } | Status { said, .. } => {
                Some(said.clone())
            }
            ModelGone { said, .. } => said.clone(),
            Cut { reason, .. } => reason.clone(),
            NotHttp { .. } | StoppedReply { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::HearthError;

    #[test]
    fn a_refused_key_names_the_connection_and_the_status() {
        let e = HearthError::from(RemoteError::Refused { connection: "GPU box".into(), status: 403, said: "Invalid key.".into() });
        assert_eq!(e.code, ErrorCode::RemoteRefused);
        assert_eq!(e.message, "GPU box refused the key (HTTP 403). Check the key in Settings → Connections.");
        assert_eq!(e.details.as_deref(), Some("Invalid key."));
        assert_eq!(e.public, None);
        let redirected = HearthError::from(RemoteError::Redirected {
            connection: "GPU box".into(),
            status: 307,
            location: Some("https://elsewhere/v1".into()),
            said: String::new(),
        });
        assert_eq!(redirected.code, ErrorCode::RemoteUnreachable);
        assert!(redirected.message.starts_with("GPU box sent Hearth on to another address (HTTP 307, to https://elsewhere/v1); "));
    }
}
