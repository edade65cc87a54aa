//! The Hub's HTTP API: search, model info with file sizes and sha256, the file tree, the model card.
//! The base URL is `HF_ENDPOINT` when set (mirrors, and our tests' mock Hub), the token `HF_TOKEN` or
//! the one from Settings. The token is sent to the Hub only: reqwest drops it on a redirect to another
//! host (the CDN), so it never leaks.

use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, LINK, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::{HubError, Result};

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

#[derive(Clone)]
pub struct HubClient {
    endpoint: String,
    token: Option<String>,
    pub(crate) http: reqwest::Client,
}

impl std::fmt::Debug for HubClient {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient").field("endpoint", &self.endpoint).field("token", &self.token.as_ref().map(|_| "…")).finish()
    }
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
        let http = reqwest::Client::builder()
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| HubError::Offline(e.to_string()))?;
        Ok(Self { endpoint: endpoint.trim_end_matches('/').to_string(), token, http })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let req = self.http.get(url);
        match &self.token {
            Some(t) if url.starts_with(&self.endpoint) => req.header(AUTHORIZATION, format!("Bearer {t}")),
            _ => req,
        }
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

    /// A page by its full URL (the `next` of the previous page).
    pub async fn search_page(&self, url: &str) -> Result<SearchPage> {
        let resp = check(self.get(url).send().await, "the search").await?;
        let next = next_link(resp.headers());
        let models = resp.json().await.map_err(|e| HubError::BadResponse(e.to_string()))?;
        Ok(SearchPage { models, next })
    }

    pub async fn model_info(&self, repo: &str, revision: Option<&str>) -> Result<ModelInfo> {
        let url = match revision {
            Some(rev) => format!("{}/api/models/{repo}/revision/{rev}?blobs=true", self.endpoint),
            None => format!("{}/api/models/{repo}?blobs=true", self.endpoint),
        };
        let resp = check(self.get(&url).send().await, repo).await?;
        resp.json().await.map_err(|e| HubError::BadResponse(e.to_string()))
    }

    pub async fn file_tree(&self, repo: &str, revision: &str) -> Result<Vec<TreeEntry>> {
        let mut url = Some(format!("{}/api/models/{repo}/tree/{revision}?recursive=true", self.endpoint));
        let mut all = Vec::new();
        while let Some(u) = url.take() {
            let resp = check(self.get(&u).send().await, repo).await?;
            url = next_link(resp.headers());
            let page: Vec<TreeEntry> = resp.json().await.map_err(|e| HubError::BadResponse(e.to_string()))?;
            all.extend(page);
        }
        Ok(all)
    }

    /// The model card (README.md), Markdown with YAML front matter. Untrusted: sanitize before showing.
    pub async fn model_card(&self, repo: &str, revision: &str) -> Result<String> {
        let resp = check(self.get(&self.resolve_url(repo, revision, "README.md")).send().await, repo).await?;
        resp.text().await.map_err(|e| HubError::BadResponse(e.to_string()))
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
