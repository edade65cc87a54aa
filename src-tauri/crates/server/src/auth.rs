//! The API key check: with a key configured, every request needs `Authorization: Bearer <key>`,
//! else 401 in OpenAI's shape. Both sides are hashed with SHA-256 and the digests compared in
//! constant time, so neither the key's bytes nor its length leak through timing. CORS preflights
//! never get here: the CORS layer outside answers them.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::log::LogSlot;

/// The key's digest, or `None` for an open (loopback-only) server.
#[derive(Clone)]
pub struct ApiKey(pub Option<Arc<[u8; 32]>>);

impl ApiKey {
    pub fn new(key: Option<&str>) -> Self {
        Self(key.map(|k| Arc::new(digest(k.as_bytes()))))
    }

    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(expected) = &self.0 else { return true };
        let Some(given) = authorization.and_then(bearer) else { return false };
        bool::from(digest(given.as_bytes()).ct_eq(expected.as_ref()))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn require_key(State(key): State<ApiKey>, request: Request, next: Next) -> Response {
    let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if key.admits(given) {
        return next.run(request).await;
    }
    if let Some(slot) = request.extensions().get::<LogSlot>() {
        slot.set_error(ApiError::Unauthorized.to_string());
    }
    ApiError::Unauthorized.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_bearer_key_is_admitted() {
        let key = ApiKey::new(Some("sk-local-123"));
        assert!(key.admits(Some("Bearer sk-local-123")));
        assert!(key.admits(Some("bearer  sk-local-123 ")));
        assert!(!key.admits(Some("Bearer sk-local-12")));
        assert!(!key.admits(Some("Bearer sk-local-1234")));
        assert!(!key.admits(Some("sk-local-123")));
        assert!(!key.admits(Some("Basic sk-local-123")));
        assert!(!key.admits(None));
        assert!(ApiKey::new(None).admits(None), "no key configured: open (the config allows that on loopback only)");
    }
}
