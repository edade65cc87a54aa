//! The server's settings, in two steps (as ripgrep does): `ServerConfig` is what a person or the
//! app writes, `ValidConfig` is what `serve` runs with, and only `ServerConfig::validate` builds
//! one. Validation is where "safe by default" is enforced: a host that is not loopback needs an API
//! key, and every CORS origin must be a well-formed origin.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::http::HeaderValue;

use crate::error::ServeError;

/// How the server listens and whom it answers. `Default` is the safe setting: loopback only, no
/// CORS, 4 MiB bodies, four waiting requests, models unloaded after ten idle minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// An IP address, or `localhost`. Anything but loopback needs `api_key`.
    pub host: String,
    /// 0 picks a free port (see `RunningServer::addr`).
    pub port: u16,
    /// When set, every request needs `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Origins (`https://example.com`, `http://localhost:5173`) that browsers may call from.
    /// Empty: no CORS headers at all, so web pages cannot read the answers.
    pub allowed_origins: Vec<String>,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1234,
            api_key: None,
            allowed_origins: Vec::new(),
            max_body_bytes: 4 * 1024 * 1024,
            max_prompt_chars: 512 * 1024,
            queue_limit: 4,
            idle_ttl: Duration::from_secs(10 * 60),
            auto_load: true,
        }
    }
}

/// A `ServerConfig` that passed `validate`.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    pub addr: SocketAddr,
    pub api_key: Option<String>,
    pub allowed_origins: Vec<HeaderValue>,
    pub max_body_bytes: usize,
    pub max_prompt_chars: usize,
    pub queue_limit: usize,
    pub idle_ttl: Duration,
    pub auto_load: bool,
}

impl ServerConfig {
    pub fn validate(&self) -> Result<ValidConfig, ServeError> {
        let host = self.host.trim();
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| ServeError::BadHost(self.host.clone()))?
        };
        let api_key = self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()).map(str::to_string);
        if !ip.is_loopback() && api_key.is_none() {
            return Err(ServeError::InsecureHost(ip.to_string()));
        }
        let allowed_origins = self
            .allowed_origins
            .iter()
            .map(|o| valid_origin(o).ok_or_else(|| ServeError::BadOrigin(o.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        if self.max_body_bytes == 0 {
            return Err(ServeError::BadLimit("max_body_bytes must be above 0".into()));
        }
        Ok(ValidConfig {
            addr: SocketAddr::new(ip, self.port),
            api_key,
            allowed_origins,
            max_body_bytes: self.max_body_bytes,
            max_prompt_chars: self.max_prompt_chars,
            queue_limit: self.queue_limit,
            idle_ttl: self.idle_ttl,
            auto_load: self.auto_load,
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
}
