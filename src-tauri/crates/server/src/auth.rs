//! The API key check: with a key configured, every request needs `Authorization: Bearer <key>`,
//! else 401 in OpenAI's shape. The server never keeps the key itself, only its SHA-256 digest
//! (`KeyDigest`), which is also what the app stores (`sha256:` and 64 hex digits): a stolen
//! database or config shows no usable key. A given key is hashed and the digests compared in
//! constant time, so neither the key's bytes nor its length leak through timing. Keys are random
//! (the Server view makes 24 random bytes), so an unsalted hash is enough, as for GitHub's tokens.
//! CORS preflights never get here: the CORS layer outside answers them.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::log::LogSlot;

/// The SHA-256 digest of an API key: all the server keeps of it. Written (and stored) as
/// `sha256:` and 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    const PREFIX: &'static str = "sha256:";

    /// The digest of a key.
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.trim().as_bytes()).into())
    }

    /// A stored digest (`sha256:` and 64 hex digits, any case), or `None` for anything else.
    pub fn parse(stored: &str) -> Option<Self> {
        let hex = stored.trim().strip_prefix(Self::PREFIX)?;
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// Whether `value` is written as a digest (it may still be a malformed one).
    pub fn looks_stored(value: &str) -> bool {
        value.trim().starts_with(Self::PREFIX)
    }

    /// What to store in place of `key_or_digest`: the key's digest, or the value itself when it
    /// already is one (settings saved again keep their digest, not a digest of the digest).
    pub fn stored(key_or_digest: &str) -> String {
        match Self::parse(key_or_digest) {
            Some(d) => d.to_string(),
            None => Self::of(key_or_digest).to_string(),
        }
    }

    /// Whether `given` is the key, compared in constant time.
    pub fn admits(&self, given: &str) -> bool {
        bool::from(Self::of(given).0.ct_eq(&self.0))
    }
}

impl fmt::Display for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::PREFIX)?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({self})")
    }
}

/// The key's digest, or `None` for an open (loopback-only) server.
#[derive(Clone)]
pub struct ApiKey(pub Option<KeyDigest>);

impl ApiKey {
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(expected) = &self.0 else { return true };
        let Some(given) = authorization.and_then(bearer) else { return false };
        expected.admits(given)
    }
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn require_key(State(key): State<ApiKey>, request: Request, next: Next) -> Response {
    let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    // Anthropic's clients send the key as `x-api-key`.
    let anthropic_key = request.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(|k| format!("Bearer {k}"));
    if key.admits(given) || (anthropic_key.is_some() && key.admits(anthropic_key.as_deref())) {
        return next.run(request).await;
    }
    if let Some(slot) = request.extensions().get::<LogSlot>() {
        slot.set_error(ApiError::Unauthorized.to_string());
    }
    if crate::anthropic::is_anthropic_path(request.uri().path()) {
        return crate::anthropic::error_response(ApiError::Unauthorized);
    }
    ApiError::Unauthorized.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_bearer_key_is_admitted() {
        let key = ApiKey(Some(KeyDigest::of("sk-local-123")));
        assert!(key.admits(Some("Bearer sk-local-123")));
        assert!(key.admits(Some("bearer  sk-local-123 ")));
        assert!(!key.admits(Some("Bearer sk-local-12")));
        assert!(!key.admits(Some("Bearer sk-local-1234")));
        assert!(!key.admits(Some("sk-local-123")));
        assert!(!key.admits(Some("Basic sk-local-123")));
        assert!(!key.admits(None));
        assert!(ApiKey(None).admits(None), "no key configured: open (the config allows that on loopback only)");
    }

    #[test]
    fn the_stored_form_is_the_digest_and_admits_the_key_it_came_from() {
        let key = "hearth-0123456789abcdef0123456789abcdef0123456789abcdef";
        let stored = KeyDigest::stored(key);
        // SHA-256 of the key, as `sha256sum` prints it.
        let mut hex = String::new();
        for b in Sha256::digest(key.as_bytes()) {
            hex.push_str(&format!("{b:02x}"));
        }
        assert_eq!(stored, format!("sha256:{hex}"));
        assert!(!stored.contains(key) && !stored.contains("hearth-"), "the key itself is not in what is stored");
        let digest = KeyDigest::parse(&stored).unwrap();
        assert!(digest.admits(key));
        assert!(!digest.admits(&stored), "the digest is not a key: whoever reads it cannot use it");
        assert!(!digest.admits("hearth-0123"));
        assert_eq!(KeyDigest::stored(&stored), stored, "storing again keeps the digest, not a digest of it");
        assert_eq!(KeyDigest::parse(&stored.to_uppercase().replace("SHA256:", "sha256:")), Some(digest.clone()));
        assert!(format!("{digest:?}").contains(&hex));
    }

    #[test]
    fn malformed_digests_are_not_digests() {
        for bad in ["sha256:", "sha256:abc", &format!("sha256:{}", "g".repeat(64)), &format!("sha256:{}", "a".repeat(65)), &format!("sha256:{}", "é".repeat(32))] {
            assert!(KeyDigest::parse(bad).is_none(), "{bad}");
            assert!(KeyDigest::looks_stored(bad), "{bad}");
        }
        assert!(!KeyDigest::looks_stored("hearth-123"));
    }
}
