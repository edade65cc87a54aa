//! The outermost check, before any work (no body read, no model loaded, no CORS answer): web pages
//! may not use the API unless the person listed their origin.
//!
//! - `Host` must be a loopback name or address (`localhost`, `127.0.0.1`, `[::1]`, any port) or a
//!   host the person listed; else 403. This stops DNS rebinding: a page on `evil.example` whose
//!   name now resolves to 127.0.0.1 reaches the server, but its requests still say
//!   `Host: evil.example`. With an API key and no hosts listed, any `Host` is taken: a rebound
//!   page has the server's address but not its key, and a server on the network is reached by
//!   names and addresses nobody could list in advance (its IP, its mDNS name, a proxy's name).
//! - A request with an `Origin` that is not in the allowed origins is refused (403), not merely
//!   left without CORS headers: a "simple" cross-site POST needs no preflight and would otherwise
//!   start a generation (and load a model) whose answer the page just cannot read. Browsers that
//!   send `Sec-Fetch-Site: cross-site` or `same-site` without an origin (an image, a script) are
//!   refused likewise.
//! - A POST body must be `application/json` (415): a page can send `text/plain` or a typeless
//!   body without a preflight, never `application/json`.
//!
//! Refusals are logged (the live log, the counters), with the reason.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::ValidConfig;
use crate::error::ApiError;
use crate::log::Recorder;

#[derive(Clone)]
pub struct Guard {
    /// `None`: any host (a key is required and no host is listed).
    hosts: Option<Vec<String>>,
    origins: Vec<HeaderValue>,
    recorder: Recorder,
}

impl Guard {
    pub fn new(config: &ValidConfig, recorder: Recorder) -> Self {
        let any_host = config.api_key.is_some() && config.allowed_hosts.is_empty();
        Self { hosts: (!any_host).then(|| config.allowed_hosts.clone()), origins: config.allowed_origins.clone(), recorder }
    }

    /// Why `request` is refused, if it is.
    fn refusal(&self, request: &Request) -> Option<ApiError> {
        let headers = request.headers();
        if let Some(hosts) = &self.hosts {
            // HTTP/1.1 puts it in `Host`; an absolute-form request line (or HTTP/2) in the URI.
            let host = request.uri().authority().map(|a| a.as_str()).or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()));
            let name = host.map(host_name);
            if !name.is_some_and(|n| is_loopback(&n) || hosts.contains(&n)) {
                return Some(ApiError::WrongHost);
            }
        }
        if !self.origin_allowed(headers) {
            return Some(ApiError::ForeignOrigin);
        }
        if request.method() == Method::POST && !is_json(headers) {
            return Some(ApiError::NotJson);
        }
        None
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let mut origins = headers.get_all(header::ORIGIN).iter().peekable();
        if origins.peek().is_none() {
            // No origin: not a browser's cross-origin request, unless Fetch Metadata says so.
            let site = headers.get("sec-fetch-site").map(HeaderValue::as_bytes);
            return !matches!(site, Some(b"cross-site" | b"same-site"));
        }
        origins.all(|o| self.origins.iter().any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(o.as_bytes())))
    }
}

pub async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let Some(refusal) = guard.refusal(&request) else { return next.run(request).await };
    let host = request.headers().get(header::HOST);
    let origin = request.headers().get(header::ORIGIN);
    tracing::info!(?host, ?origin, path = %request.uri().path(), reason = %refusal, "refused a request");
    let response = refusal.clone().into_response();
    guard.recorder.refused(request.method().as_str(), request.uri().path(), response.status().as_u16(), refusal.to_string());
    response
}

/// A `Host` (or an allowed host as written) reduced to the name: without port, IPv6 brackets or
/// trailing dot, lowercase. `[::1]:1234` → `::1`, `LocalHost.:80` → `localhost`.
pub fn host_name(host: &str) -> String {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => match host.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost` or a loopback address. Other names are not checked against DNS: that is what a
/// rebinding page controls.
fn is_loopback(name: &str) -> bool {
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `application/json`, with parameters or not (`; charset=utf-8`), in any case.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    value.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_port_brackets_and_case() {
        assert_eq!(host_name("localhost:1234"), "localhost");
        assert_eq!(host_name("LocalHost."), "localhost");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("[::1]"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("evil.example:1234"), "evil.example");
        assert_eq!(host_name("::1"), "::1", "a bare IPv6 address is not cut at its last colon");
        for loopback in ["localhost", "127.0.0.1", "::1", "127.3.2.1"] {
            assert!(is_loopback(loopback), "{loopback}");
        }
        for not in ["evil.example", "localhost.evil.example", "0.0.0.0", "192.168.1.4", "127.0.0.1.nip.io", ""] {
            assert!(!is_loopback(not), "{not}");
        }
    }

    #[test]
    fn only_json_is_json() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        for not in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json-seq"] {
            assert!(!with(not), "{not}");
        }
        assert!(!is_json(&HeaderMap::new()), "no type at all is what a page's fetch of a Blob sends");
    }
}
