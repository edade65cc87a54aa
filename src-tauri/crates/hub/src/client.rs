//! The Hub's HTTP API: search, model info with file sizes and sha256, the file tree, the model card.
//! The base URL is `HF_ENDPOINT` when set (mirrors, and our tests' mock Hub), the token `HF_TOKEN` or
//! the one from Settings.
//!
//! What leaves the machine: the token goes only to the endpoint's exact origin (scheme, host and
//! port, compared as parsed URLs, so `http://hub:9000@elsewhere:9001/` is elsewhere), and reqwest
//! drops it on a redirect to another origin (the CDN); a next-page URL must be on that origin; an
//! endpoint off this machine must be https, or the token and every file would cross the network in
//! the clear. What comes in: every answer read whole into memory (JSON, the card) has a size limit,
//! so a hostile or broken server cannot fill the memory.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LINK, RETRY_AFTER};
use reqwest::{Response, StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::error::{HubError, Result};

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The most of one JSON answer (a search page, model info, a page of the file tree) Hearth reads.
/// The largest real ones (model info of a repo with thousands of files) are a few MiB.
pub const MAX_JSON_BYTES: u64 = 16 << 20;
/// The most of a model card Hearth reads; real cards are tens of KiB.
pub const MAX_CARD_BYTES: u64 = 2 << 20;

#[derive(Clone)]
pub struct HubClient {
    endpoint: String,
    /// The endpoint, parsed and checked; `None` for one that may not be used, whose error every
    /// request returns. Not refused in `new`: an app whose saved setting predates the rule still
    /// opens, and Settings can fix it.
    base: Option<Url>,
    token: Option<String>,
    pub(crate) http: reqwest::Client,
}

impl std::fmt::Debug for HubClient {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient").field("endpoint", &self.endpoint).field("token", &self.token.as_ref().map(|_| "…")).finish()
    }
}

/// A Hub address Hearth may use: an http(s) URL with a host, https unless the host is this machine
/// (`localhost`, 127.0.0.0/8, `::1`: the mock Hub, a mirror on this machine).
pub fn checked_endpoint(endpoint: &str) -> Result<Url> {
    let invalid = || HubError::InvalidEndpoint(endpoint.to_string());
    let url = Url::parse(endpoint.trim()).map_err(|_| invalid())?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(invalid)?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(host) => Ok(url),
        "http" => Err(HubError::InsecureEndpoint(endpoint.to_string())),
        _ => Err(invalid()),
    }
}

/// `localhost`, or a loopback address (an IPv6 one comes in brackets).
fn is_loopback(host: &str) -> bool {
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Same scheme, host and port (the default port filled in), as parsed URLs.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin().is_tuple() && a.origin() == b.origin()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Sort {
    Downloads,
    Likes,
    Trending,
    Updated,
}

impl Sort {
    fn param(self) -> &'static str {
        match self {
            Sort::Downloads => "downloads",
            Sort::Likes => "likes",
            Sort::Trending => "trendingScore",
            Sort::Updated => "lastModified",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GgufSummary {
    pub total: Option<u64>,
    pub architecture: Option<String>,
    pub context_length: Option<u64>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSummary {
    pub id: String,
    #[serde(default)]
    pub downloads: u64,
    #[serde(default)]
    pub likes: u64,
    #[serde(default, deserialize_with = "gated")]
    pub gated: bool,
    #[serde(default)]
    pub last_modified: Option<String>,
    #[serde(default)]
    pub pipeline_tag: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub gguf: Option<GgufSummary>,
}

impl ModelSummary {
    pub fn author(&self) -> &str {
        self.id.split_once('/').map(|(a, _)| a).unwrap_or("")
    }
}

/// `gated` is `false`, `"auto"` or `"manual"`.
fn gated<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => !s.is_empty() && s != "false",
        _ => false,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub models: Vec<ModelSummary>,
    /// The next page's full URL, from the `Link` header.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Lfs {
    pub sha256: Option<String>,
    pub oid: Option<String>,
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sibling {
    pub rfilename: String,
    pub size: Option<u64>,
    pub lfs: Option<Lfs>,
}

impl Sibling {
    pub fn sha256(&self) -> Option<&str> {
        self.lfs.as_ref().and_then(|l| l.sha256.as_deref().or(l.oid.as_deref()))
    }
    pub fn bytes(&self) -> Option<u64> {
        self.lfs.as_ref().and_then(|l| l.size).or(self.size)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub id: String,
    pub sha: Option<String>,
    #[serde(default, deserialize_with = "gated")]
    pub gated: bool,
    #[serde(default)]
    pub siblings: Vec<Sibling>,
    #[serde(default)]
    pub gguf: Option<GgufSummary>,
    #[serde(default)]
    pub downloads: u64,
    #[serde(default)]
    pub likes: u64,
}

impl ModelInfo {
    pub fn gguf_files(&self) -> impl Iterator<Item = &Sibling> {
        self.siblings.iter().filter(|s| s.rfilename.ends_with(".gguf"))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TreeEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    pub size: Option<u64>,
    pub lfs: Option<Lfs>,
}

impl HubClient {
    /// From the environment: `HF_ENDPOINT`, `HF_TOKEN`.
    pub fn from_env() -> Result<Self> {
        let endpoint = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty());
        let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
        Self::new(endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT), token)
    }

    pub fn new(endpoint: &str, token: Option<String>) -> Result<Self> {
        // reqwest's default redirect policy (10 hops) removes the Authorization header whenever a
        // hop changes the scheme, host or port; the `a_redirect_keeps_the_token_on_its_origin_only` test
        // holds it to that.
        let http = reqwest::Client::builder()
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| HubError::Offline(e.to_string()))?;
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        let base = checked_endpoint(&endpoint).ok();
        Ok(Self { endpoint, base, token, http })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The checked endpoint, or why this client may not be used.
    fn base(&self) -> Result<&Url> {
        self.base.as_ref().ok_or_else(|| checked_endpoint(&self.endpoint).err().unwrap_or(HubError::InvalidEndpoint(self.endpoint.clone())))
    }

    /// Whether `url` is on the endpoint's origin (scheme, host and port).
    pub fn is_on_hub(&self, url: &str) -> bool {
        match (self.base(), Url::parse(url)) {
            (Ok(base), Ok(url)) => same_origin(base, &url),
            _ => false,
        }
    }

    /// A GET of `url`, with the token only when `url` is on the endpoint's origin.
    pub(crate) fn get(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        let base = self.base()?;
        let target = Url::parse(url).map_err(|e| HubError::BadResponse(format!("{url} is not an address: {e}")))?;
        let on_hub = same_origin(base, &target);
        let req = self.http.get(target);
        Ok(match &self.token {
            Some(t) if on_hub => {
                let mut value = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| HubError::Unauthorized)?;
                // Kept out of reqwest's and hyper's debug output.
                value.set_sensitive(true);
                req.header(AUTHORIZATION, value)
            }
            _ => req,
        })
    }

    /// The body of `resp`, refused beyond `limit` bytes (before reading, when the length is given).
    async fn read_limited(resp: Response, limit: u64, what: &str) -> Result<Vec<u8>> {
        let too_large = || HubError::TooLarge { what: what.to_string(), limit };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| HubError::Offline(e.to_string()))?;
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn json<T: serde::de::DeserializeOwned>(resp: Response, what: &str) -> Result<T> {
        let body = Self::read_limited(resp, MAX_JSON_BYTES, what).await?;
        serde_json::from_slice(&body).map_err(|e| HubError::BadResponse(e.to_string()))
    }

    /// GGUF models matching `query`, most downloaded (or liked, trending, updated) first.
    pub async fn search(&self, query: &str, sort: Sort, limit: u32) -> Result<SearchPage> {
        let mut url = reqwest::Url::parse(&format!("{}/api/models", self.endpoint)).map_err(|e| HubError::BadResponse(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("search", query)
            .append_pair("filter", "gguf")
            .append_pair("sort", sort.param())
            .append_pair("direction", "-1")
            .append_pair("limit", &limit.to_string());
        for field in ["gguf", "downloads", "likes", "gated", "lastModified", "pipeline_tag", "tags"] {
            url.query_pairs_mut().append_pair("expand[]", field);
        }
        self.search_page(url.as_str()).await
    }

    /// A page by its full URL (the `next` of the previous page). The URL comes back from the window,
    /// so it must be on the Hub's origin: anything else would be a request, with the token, to
    /// wherever the caller liked.
    pub async fn search_page(&self, url: &str) -> Result<SearchPage> {
        if !self.is_on_hub(url) {
            self.base()?;
            return Err(HubError::ForeignUrl(url.to_string()));
        }
        let resp = check(self.get(url)?.send().await, "the search").await?;
        let next = next_link(resp.headers());
        let models = Self::json(resp, "the search").await?;
        Ok(SearchPage { models, next })
    }

    pub async fn model_info(&self, repo: &str, revision: Option<&str>) -> Result<ModelInfo> {
        let url = match revision {
            Some(rev) => format!("{}/api/models/{repo}/revision/{rev}?blobs=true", self.endpoint),
            None => format!("{}/api/models/{repo}?blobs=true", self.endpoint),
        };
        let resp = check(self.get(&url)?.send().await, repo).await?;
        Self::json(resp, repo).await
    }

    pub async fn file_tree(&self, repo: &str, revision: &str) -> Result<Vec<TreeEntry>> {
        let mut url = Some(format!("{}/api/models/{repo}/tree/{revision}?recursive=true", self.endpoint));
        let mut all = Vec::new();
        while let Some(u) = url.take() {
            let resp = check(self.get(&u)?.send().await, repo).await?;
            url = next_link(resp.headers());
            if let Some(next) = url.as_deref().filter(|n| !self.is_on_hub(n)) {
                return Err(HubError::ForeignUrl(next.to_string()));
            }
            let page: Vec<TreeEntry> = Self::json(resp, repo).await?;
            all.extend(page);
        }
        Ok(all)
    }

    /// The model card (README.md), Markdown with YAML front matter. Untrusted: sanitize before showing.
    pub async fn model_card(&self, repo: &str, revision: &str) -> Result<String> {
        let resp = check(self.get(&self.resolve_url(repo, revision, "README.md"))?.send().await, repo).await?;
        let body = Self::read_limited(resp, MAX_CARD_BYTES, &format!("the model card of {repo}")).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    pub fn resolve_url(&self, repo: &str, revision: &str, path: &str) -> String {
        format!("{}/{repo}/resolve/{revision}/{path}", self.endpoint)
    }
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let start = part.find('<')? + 1;
        let end = part.find('>')?;
        Some(part[start..end].to_string())
    })
}

/// Turn a response into the Hub's errors: 401 is "not found or private", 403 with
/// `X-Error-Code: GatedRepo` is a gated model, 429 carries `Retry-After`.
pub(crate) async fn check(resp: reqwest::Result<Response>, what: &str) -> Result<Response> {
    let resp = resp.map_err(|e| HubError::Offline(e.to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let code = resp.headers().get("x-error-code").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let retry = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(5));
    let message = resp
        .headers()
        .get("x-error-message")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
    Err(match status {
        StatusCode::FORBIDDEN if code == "GatedRepo" => HubError::Gated(what.to_string()),
        StatusCode::UNAUTHORIZED if code == "GatedRepo" => HubError::Gated(what.to_string()),
        StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED => {
            if code.is_empty() && status == StatusCode::UNAUTHORIZED && message.contains("token") {
                HubError::Unauthorized
            } else {
                HubError::NotFound(what.to_string())
            }
        }
        StatusCode::TOO_MANY_REQUESTS => HubError::RateLimited(retry),
        s => HubError::Http { status: s.as_u16(), message },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bearer token a request to `url` would carry. (reqwest turns a URL's own user and password
    /// into Basic authentication: theirs, not ours.)
    fn token_sent_to(client: &HubClient, url: &str) -> Option<String> {
        let req = client.get(url).ok()?.build().ok()?;
        req.headers().get(AUTHORIZATION).map(|v| v.to_str().unwrap_or("").to_string()).filter(|v| v.starts_with("Bearer"))
    }

    /// Issue 13: the token went to any URL that began with the endpoint's text, so
    /// `http://127.0.0.1:9000@127.0.0.1:9001/` (user `127.0.0.1`, password `9000`, host port 9001)
    /// and `https://huggingface.co.evil.example/` got it.
    #[test]
    fn the_token_goes_to_the_endpoints_exact_origin_only() {
        let local = HubClient::new("http://127.0.0.1:9000/", Some("hf_secret".into())).unwrap();
        assert_eq!(token_sent_to(&local, "http://127.0.0.1:9000/api/models").as_deref(), Some("Bearer hf_secret"));
        assert_eq!(token_sent_to(&local, "HTTP://127.0.0.1:9000/org/m/resolve/main/x.gguf").as_deref(), Some("Bearer hf_secret"));
        for elsewhere in [
            "http://127.0.0.1:9000@127.0.0.1:9001/",
            "http://127.0.0.1:9000@evil.example/api/models",
            "http://127.0.0.1:9001/api/models",
            "https://127.0.0.1:9000/api/models",
            "http://localhost:9000/api/models",
            "http://127.0.0.2:9000/api/models",
        ] {
            assert_eq!(token_sent_to(&local, elsewhere), None, "{elsewhere}");
            assert!(!local.is_on_hub(elsewhere), "{elsewhere}");
        }
        let hf = HubClient::new(DEFAULT_ENDPOINT, Some("hf_secret".into())).unwrap();
        assert!(token_sent_to(&hf, "https://huggingface.co:443/api/models").is_some(), "the default port is the same origin");
        for elsewhere in ["https://huggingface.co.evil.example/", "http://huggingface.co/api/models", "https://cdn-lfs.huggingface.co/x"] {
            assert_eq!(token_sent_to(&hf, elsewhere), None, "{elsewhere}");
        }
        assert!(!format!("{:?}", local.get("http://127.0.0.1:9000/").unwrap()).contains("hf_secret"), "marked sensitive");
    }

    #[test]
    fn an_endpoint_off_this_machine_must_be_https() {
        for fine in
            ["https://huggingface.co", "https://hf-mirror.com/prefix", "http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"]
        {
            assert!(checked_endpoint(fine).is_ok(), "{fine}");
        }
        for insecure in ["http://mirror.example.com", "http://10.0.0.2:8080", "http://127.0.0.1.nip.io", "http://localhost.example.com"] {
            assert!(matches!(checked_endpoint(insecure), Err(HubError::InsecureEndpoint(_))), "{insecure}");
        }
        for junk in ["ftp://huggingface.co", "huggingface.co", "https://", "file:///etc"] {
            assert!(matches!(checked_endpoint(junk), Err(HubError::InvalidEndpoint(_))), "{junk}");
        }
        // A client for such an endpoint is made (the app still opens), but sends nothing.
        let client = HubClient::new("http://mirror.example.com", Some("hf_secret".into())).unwrap();
        let err = client.get("http://mirror.example.com/api/models").unwrap_err();
        assert!(matches!(err, HubError::InsecureEndpoint(_)), "{err}");
        assert!(err.to_string().contains("must use https://"), "{err}");
    }
}
