//! The server's settings, in two steps (as ripgrep does): `ServerConfig` is what a person or the
//! app writes, `ValidConfig` is what `serve` runs with, and only `ServerConfig::validate` builds
//! one. Validation is where "safe by default" is enforced: a host that is not loopback needs an API
//! key, every CORS origin must be a well-formed origin, every allowed host a bare host name, and
//! the API key becomes its digest (`KeyDigest`): `ValidConfig` holds no key.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::http::HeaderValue;

use crate::auth::KeyDigest;
use crate::error::ServeError;

/// How the server listens and whom it answers. `Default` is the safe setting: loopback only, no
/// CORS, requests addressed to loopback names only, 32 MiB bodies, four waiting requests, models
/// unloaded after ten idle minutes, 128 connections, a head within 10 s, a client that takes no
/// data for 30 s cut off.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// An IP address, or `localhost`. Anything but loopback needs `api_key`.
    pub host: String,
    /// 0 picks a free port (see `RunningServer::addr`).
    pub port: u16,
    /// When set, every request needs `Authorization: Bearer <key>`. Either the key, or its digest
    /// as `KeyDigest::stored` writes it (`sha256:` and 64 hex digits), which is what the app
    /// stores; so a key may not itself be written that way.
    pub api_key: Option<String>,
    /// Origins (`https://example.com`, `http://localhost:5173`) that browsers may call from.
    /// Empty: no CORS headers at all, so web pages cannot read the answers.
    pub allowed_origins: Vec<String>,
    /// Host names (`hearth.lan`, `192.168.1.4`) requests may be addressed to, besides `localhost`,
    /// `127.0.0.1` and `[::1]`; any port. Other `Host` headers are refused with 403 — a web page
    /// that rebinds its own name to 127.0.0.1 still sends its own name — unless the server has an
    /// API key and this list is empty (see `guard`).
    pub allowed_hosts: Vec<String>,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
    /// Longer prompts (all messages' text together) are refused with 400 before they queue.
    pub max_prompt_chars: usize,
    /// Requests that may wait while one generates; more get 429 with `Retry-After`.
    pub queue_limit: usize,
    /// A model the server loaded is unloaded after this long without a request.
    pub idle_ttl: Duration,
    /// Load a model that is asked for and not loaded. Off: such a request gets 400
    /// `model_not_loaded`, and only what the app loaded answers.
    pub auto_load: bool,
    /// Open connections at most. Beyond it a new connection takes the place of the longest-open
    /// one that has no request in flight, or is closed at once when every one has (`listen`).
    pub max_connections: usize,
    /// A connection must deliver a whole request head within this time after it opens, and again
    /// after each reply when kept alive: the header-read and the idle-connection timeout (hyper
    /// runs one timer for both). Else it is closed.
    pub header_timeout: Duration,
    /// A client that takes no data of a reply for this long (its socket buffers are full) has its
    /// connection closed, which cancels its generation and frees the engine; a request body must
    /// arrive whole within it too (408 otherwise).
    pub stall_timeout: Duration,
    /// The longest reply, in tokens: a request that asks for more, or names no limit, gets this
    /// many at most (and `finish_reason: "length"`). `None`: a reply may run until the context is
    /// full, as OpenAI's and llama-server's do (`hearth serve --max-tokens`, llama-server's `-n`).
    pub max_reply_tokens: Option<u32>,
    /// The database stored responses (`POST /v1/responses` with `store`) are kept in, so that
    /// `previous_response_id` works across restarts: Hearth's own (`hearth.sqlite3`). `None`: kept
    /// in memory while the server runs.
    pub responses_db: Option<std::path::PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1234,
            api_key: None,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            // Room for pictures: each may be up to 20 MB as sent (a data URL is a third larger).
            max_body_bytes: 32 * 1024 * 1024,
            max_prompt_chars: 512 * 1024,
            queue_limit: 4,
            idle_ttl: Duration::from_secs(10 * 60),
            auto_load: true,
            max_connections: 128,
            header_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            max_reply_tokens: None,
            responses_db: None,
        }
    }
}

/// A `ServerConfig` that passed `validate`.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    pub addr: SocketAddr,
    pub api_key: Option<KeyDigest>,
    pub allowed_origins: Vec<HeaderValue>,
    /// Lowercase, without port or brackets (`hearth.lan`, `192.168.1.4`, `fe80::1`).
    pub allowed_hosts: Vec<String>,
    pub max_body_bytes: usize,
    pub max_prompt_chars: usize,
    pub queue_limit: usize,
    pub idle_ttl: Duration,
    pub auto_load: bool,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub stall_timeout: Duration,
    pub max_reply_tokens: Option<u32>,
    pub responses_db: Option<std::path::PathBuf>,
}

impl ServerConfig {
    pub fn validate(&self) -> Result<ValidConfig, ServeError> {
        let host = self.host.trim();
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| ServeError::BadHost(self.host.clone()))?
        };
        let api_key = match self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            None => None,
            Some(k) if KeyDigest::looks_stored(k) => Some(KeyDigest::parse(k).ok_or(ServeError::BadKey)?),
            Some(k) => Some(KeyDigest::of(k)),
        };
        if !ip.is_loopback() && api_key.is_none() {
            return Err(ServeError::InsecureHost(ip.to_string()));
        }
        let allowed_origins = self
            .allowed_origins
            .iter()
            .map(|o| valid_origin(o).ok_or_else(|| ServeError::BadOrigin(o.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let allowed_hosts = self
            .allowed_hosts
            .iter()
            .map(|h| valid_host(h).ok_or_else(|| ServeError::BadAllowedHost(h.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        if self.max_body_bytes == 0 {
            return Err(ServeError::BadLimit("max_body_bytes must be above 0".into()));
        }
        if self.max_connections == 0 {
            return Err(ServeError::BadLimit("max_connections must be above 0".into()));
        }
        if self.max_reply_tokens == Some(0) {
            return Err(ServeError::BadLimit("max_reply_tokens must be above 0".into()));
        }
        if self.header_timeout.is_zero() || self.stall_timeout.is_zero() {
            return Err(ServeError::BadLimit("header_timeout and stall_timeout must be above 0".into()));
        }
        Ok(ValidConfig {
            addr: SocketAddr::new(ip, self.port),
            api_key,
            allowed_origins,
            allowed_hosts,
            max_body_bytes: self.max_body_bytes,
            max_prompt_chars: self.max_prompt_chars,
            queue_limit: self.queue_limit,
            idle_ttl: self.idle_ttl,
            auto_load: self.auto_load,
            max_connections: self.max_connections,
            header_timeout: self.header_timeout,
            stall_timeout: self.stall_timeout,
            max_reply_tokens: self.max_reply_tokens,
            responses_db: self.responses_db.clone(),
        })
    }
}

/// `scheme://host[:port]` with nothing after it, as browsers send in `Origin`.
fn valid_origin(origin: &str) -> Option<HeaderValue> {
    let origin = origin.trim().trim_end_matches('/');
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))?;
    let ok = !rest.is_empty() && !rest.contains(['/', '?', '#', ' ', '*']);
    ok.then(|| HeaderValue::from_str(origin).ok()).flatten()
}

/// A host name or IP address as `Host` carries it, without scheme, path or port: lowercase, without
/// a trailing dot or IPv6 brackets (`guard::host_name` reduces `Host` headers the same way).
fn valid_host(host: &str) -> Option<String> {
    let name = crate::guard::host_name(host.trim());
    let ok = !name.is_empty()
        && (name.parse::<IpAddr>().is_ok() || name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')));
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_without_a_key_is_fine_and_the_default() {
        let v = ServerConfig::default().validate().unwrap();
        assert!(v.addr.ip().is_loopback());
        assert!(ServerConfig { host: "localhost".into(), ..Default::default() }.validate().is_ok());
        assert!(ServerConfig { host: "::1".into(), ..Default::default() }.validate().is_ok());
    }

    #[test]
    fn any_other_host_needs_a_key() {
        for host in ["0.0.0.0", "192.168.1.4", "::"] {
            let e = ServerConfig { host: host.into(), ..Default::default() }.validate().unwrap_err();
            assert!(matches!(e, ServeError::InsecureHost(_)), "{host}: {e}");
            assert!(e.to_string().contains("API key"), "{e}");
            let blank = ServerConfig { host: host.into(), api_key: Some("  ".into()), ..Default::default() };
            assert!(blank.validate().is_err(), "a blank key is no key");
            let keyed = ServerConfig { host: host.into(), api_key: Some("k".into()), ..Default::default() };
            assert!(keyed.validate().is_ok());
        }
    }

    #[test]
    fn origins_must_be_origins() {
        let ok = ServerConfig { allowed_origins: vec!["http://localhost:5173".into(), "https://a.example/".into()], ..Default::default() };
        assert_eq!(ok.validate().unwrap().allowed_origins.len(), 2);
        for bad in ["*", "a.example", "https://a.example/path", "ftp://x"] {
            let c = ServerConfig { allowed_origins: vec![bad.into()], ..Default::default() };
            assert!(matches!(c.validate(), Err(ServeError::BadOrigin(_))), "{bad}");
        }
    }

    #[test]
    fn the_key_is_kept_as_its_digest_and_a_stored_digest_is_taken_as_is() {
        let plain = ServerConfig { api_key: Some(" sk-1 ".into()), ..Default::default() }.validate().unwrap();
        assert_eq!(plain.api_key, Some(KeyDigest::of("sk-1")));
        assert!(!format!("{plain:?}").contains("sk-1"), "no key in the valid config");
        let stored = ServerConfig { api_key: Some(KeyDigest::stored("sk-1")), ..Default::default() }.validate().unwrap();
        assert_eq!(stored.api_key, plain.api_key);
        let bad = ServerConfig { api_key: Some("sha256:1234".into()), ..Default::default() };
        assert!(matches!(bad.validate(), Err(ServeError::BadKey)));
        // A digest is a key for the non-loopback rule too.
        let lan = ServerConfig { host: "0.0.0.0".into(), api_key: Some(KeyDigest::stored("sk-1")), ..Default::default() };
        assert!(lan.validate().is_ok());
    }

    #[test]
    fn allowed_hosts_are_bare_host_names() {
        let c = ServerConfig { allowed_hosts: vec!["Hearth.LAN".into(), "192.168.1.4:1234".into(), "[fe80::1]".into(), "box.".into()], ..Default::default() };
        assert_eq!(c.validate().unwrap().allowed_hosts, ["hearth.lan", "192.168.1.4", "fe80::1", "box"]);
        for bad in ["", "http://a.example", "a.example/x", "a b", "*"] {
            let c = ServerConfig { allowed_hosts: vec![bad.into()], ..Default::default() };
            assert!(matches!(c.validate(), Err(ServeError::BadAllowedHost(_))), "{bad:?}");
        }
    }
}
