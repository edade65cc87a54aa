//! A mock Hugging Face Hub: a real HTTP server on 127.0.0.1 that answers the Hub's endpoints with the
//! Hub's shapes (docs/HUB.md): search with `Link` pagination, model info with sizes and sha256, the file
//! tree, model cards, and `resolve` URLs that redirect to a second "CDN" address which serves bytes
//! with Range support. Tests switch faults on and off: drop the connection halfway, answer 500,
//! stall, throttle each connection, gate a repo, lie about a sha256, offer a path with `..`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub enum Data {
    Bytes(Arc<Vec<u8>>),
    /// A file on disk (the real test model, or a sparse synthetic one), served without loading it.
    Disk {
        path: PathBuf,
        len: u64,
    },
}

impl Data {
    pub fn len(&self) -> u64 {
        match self {
            Data::Bytes(b) => b.len() as u64,
            Data::Disk { len, .. } => *len,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone)]
pub struct File {
    pub path: String,
    pub data: Data,
    pub sha256: String,
}

impl File {
    pub fn bytes(path: &str, bytes: Vec<u8>) -> Self {
        let sha256 = hex(&Sha256::digest(&bytes));
        Self { path: path.into(), data: Data::Bytes(Arc::new(bytes)), sha256 }
    }
    /// A file on disk with a known sha256 (computing it for a sparse 40 GB file would take minutes).
    pub fn disk(path: &str, on_disk: PathBuf, sha256: &str) -> std::io::Result<Self> {
        let len = std::fs::metadata(&on_disk)?.len();
        Ok(Self { path: path.into(), data: Data::Disk { path: on_disk, len }, sha256: sha256.into() })
    }
}

#[derive(Clone)]
pub struct Repo {
    pub id: String,
    pub downloads: u64,
    pub likes: u64,
    pub gated: bool,
    pub card: String,
    pub files: Vec<File>,
    pub architecture: Option<String>,
    pub parameters: Option<u64>,
}

impl Repo {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            downloads: 0,
            likes: 0,
            gated: false,
            card: format!("# {id}\n"),
            files: vec![],
            architecture: None,
            parameters: None,
        }
    }
}

/// Faults, switched on by tests. Counters count down as faults are served.
#[derive(Default)]
pub struct Faults {
    /// Answer 500 to this many file requests.
    pub fail_500: AtomicU32,
    /// Drop the connection after this many bytes, for this many requests.
    pub drop_after_bytes: AtomicU64,
    pub drop_times: AtomicU32,
    /// Stop sending for this long halfway, for this many requests.
    pub stall_ms: AtomicU64,
    pub stall_times: AtomicU32,
    /// Bytes per second per connection; 0 is unlimited.
    pub throttle_bps: AtomicU64,
    /// Answer 429 with Retry-After: 1 to this many requests.
    pub rate_limit: AtomicU32,
    /// Report this sha256 for every file instead of the real one.
    pub wrong_sha: Mutex<Option<String>>,
}

struct Hub {
    repos: Mutex<Vec<Repo>>,
    faults: Arc<Faults>,
    base: String,
    cdn: String,
    /// Requests to the CDN, and the bytes it sent, per file path: tests check what was fetched.
    pub served: Mutex<HashMap<String, u64>>,
    requests: AtomicU64,
}

pub struct MockHub {
    pub base: String,
    pub cdn: String,
    hub: Arc<Hub>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl MockHub {
    /// Start on two free ports of 127.0.0.1 (the Hub and its CDN), on the current tokio runtime.
    pub async fn start(repos: Vec<Repo>) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0", repos).await
    }

    pub async fn start_on(addr: &str, repos: Vec<Repo>) -> std::io::Result<Self> {
        let api = tokio::net::TcpListener::bind(addr).await?;
        let cdn = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", api.local_addr()?);
        let cdn_base = format!("http://{}", cdn.local_addr()?);
        let hub = Arc::new(Hub {
            repos: Mutex::new(repos),
            faults: Arc::new(Faults::default()),
            base: base.clone(),
            cdn: cdn_base.clone(),
            served: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        });
        let api_app = Router::new()
            .route("/api/models", get(search))
            .route("/api/models/{org}/{name}", get(info))
            .route("/api/models/{org}/{name}/revision/{rev}", get(info_rev))
            .route("/api/models/{org}/{name}/tree/{rev}", get(tree))
            .route("/{org}/{name}/resolve/{rev}/{*path}", get(resolve))
            .with_state(hub.clone());
        let cdn_app = Router::new().route("/cdn/{org}/{name}/{*path}", get(serve)).with_state(hub.clone());
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(api, api_app.into_make_service_with_connect_info::<SocketAddr>()).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(cdn, cdn_app).await;
            }),
        ];
        Ok(Self { base, cdn: cdn_base, hub, tasks })
    }

    pub fn faults(&self) -> Arc<Faults> {
        self.hub.faults.clone()
    }

    pub fn add_repo(&self, repo: Repo) {
        if let Ok(mut r) = self.hub.repos.lock() {
            r.push(repo);
        }
    }

    /// Bytes the CDN has sent for a file path.
    pub fn bytes_served(&self, path: &str) -> u64 {
        self.hub.served.lock().map(|s| s.get(path).copied().unwrap_or(0)).unwrap_or(0)
    }

    pub fn requests(&self) -> u64 {
        self.hub.requests.load(Ordering::Relaxed)
    }
}

impl Drop for MockHub {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = (status, json!({ "error": message }).to_string()).into_response();
    r.headers_mut().insert("x-error-code", HeaderValue::from_str(code).unwrap_or(HeaderValue::from_static("Error")));
    r.headers_mut().insert("x-error-message", HeaderValue::from_str(message).unwrap_or(HeaderValue::from_static("error")));
    r
}

fn find(hub: &Hub, id: &str) -> Option<Repo> {
    hub.repos.lock().ok()?.iter().find(|r| r.id == id).cloned()
}

fn sha_of(hub: &Hub, f: &File) -> String {
    hub.faults.wrong_sha.lock().ok().and_then(|w| w.clone()).unwrap_or_else(|| f.sha256.clone())
}

fn summary(hub: &Hub, r: &Repo) -> serde_json::Value {
    json!({
        "_id": format!("id-{}", r.id),
        "id": r.id,
        "downloads": r.downloads,
        "likes": r.likes,
        "gated": if r.gated { json!("manual") } else { json!(false) },
        "lastModified": "2026-10-01T12:00:00.000Z",
        "pipeline_tag": "text-generation",
        "tags": ["gguf"],
        "gguf": { "total": r.parameters, "architecture": r.architecture, "context_length": 8192 },
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "siblings": r.files.iter().map(|f| json!({
            "rfilename": f.path,
            "size": f.data.len(),
            "blobId": "b10b",
            "lfs": { "sha256": sha_of(hub, f), "size": f.data.len(), "pointerSize": 134 }
        })).collect::<Vec<_>>(),
    })
}

async fn search(State(hub): State<Arc<Hub>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let needle = q.get("search").map(|s| s.to_lowercase()).unwrap_or_default();
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20).clamp(1, 100);
    let cursor: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let sort = q.get("sort").cloned().unwrap_or_else(|| "downloads".into());
    let Ok(repos) = hub.repos.lock().map(|r| r.clone()) else { return error(StatusCode::INTERNAL_SERVER_ERROR, "Error", "lock") };
    let mut hits: Vec<Repo> = repos.into_iter().filter(|r| r.id.to_lowercase().contains(&needle)).collect();
    hits.sort_by(|a, b| match sort.as_str() {
        "likes" => b.likes.cmp(&a.likes),
        _ => b.downloads.cmp(&a.downloads),
    });
    let page: Vec<serde_json::Value> = hits.iter().skip(cursor).take(limit).map(|r| summary(&hub, r)).collect();
    let mut resp = axum::Json(page).into_response();
    if cursor + limit < hits.len() {
        let next = format!("<{}/api/models?search={needle}&sort={sort}&limit={limit}&cursor={}>; rel=\"next\"", hub.base, cursor + limit);
        if let Ok(v) = HeaderValue::from_str(&next) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

async fn info(State(hub): State<Arc<Hub>>, Path((org, name)): Path<(String, String)>) -> Response {
    match find(&hub, &format!("{org}/{name}")) {
        Some(r) => axum::Json(summary(&hub, &r)).into_response(),
        None => error(StatusCode::UNAUTHORIZED, "RepoNotFound", "Repository not found"),
    }
}

async fn info_rev(hub: State<Arc<Hub>>, Path((org, name, _rev)): Path<(String, String, String)>) -> Response {
    info(hub, Path((org, name))).await
}

async fn tree(State(hub): State<Arc<Hub>>, Path((org, name, _rev)): Path<(String, String, String)>) -> Response {
    match find(&hub, &format!("{org}/{name}")) {
        Some(r) => axum::Json(
            r.files
                .iter()
                .map(|f| {
                    json!({ "type": "file", "oid": "0000", "size": f.data.len(), "path": f.path,
                    "lfs": { "oid": sha_of(&hub, f), "size": f.data.len(), "pointerSize": 134 } })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => error(StatusCode::UNAUTHORIZED, "RepoNotFound", "Repository not found"),
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some("Bearer hf_good_token")
}

async fn resolve(
    State(hub): State<Arc<Hub>>,
    Path((org, name, _rev, path)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    hub.requests.fetch_add(1, Ordering::Relaxed);
    let Some(repo) = find(&hub, &format!("{org}/{name}")) else {
        return error(StatusCode::UNAUTHORIZED, "RepoNotFound", "Repository not found");
    };
    if repo.gated && !authorized(&headers) {
        return error(StatusCode::FORBIDDEN, "GatedRepo", "Access to this model is restricted");
    }
    if path == "README.md" {
        return (StatusCode::OK, repo.card.clone()).into_response();
    }
    let Some(file) = repo.files.iter().find(|f| f.path == path) else {
        return error(StatusCode::NOT_FOUND, "EntryNotFound", "Entry not found");
    };
    let mut r = StatusCode::FOUND.into_response();
    let h = r.headers_mut();
    let location = format!("{}/cdn/{org}/{name}/{path}", hub.cdn);
    for (k, v) in [
        ("location", location),
        ("x-repo-commit", "0123456789abcdef0123456789abcdef01234567".to_string()),
        ("x-linked-etag", format!("\"{}\"", sha_of(&hub, file))),
        ("x-linked-size", file.data.len().to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    r
}

fn parse_range(headers: &HeaderMap, len: u64) -> Option<(u64, u64)> {
    let v = headers.get(header::RANGE)?.to_str().ok()?.strip_prefix("bytes=")?;
    let (a, b) = v.split_once('-')?;
    let start: u64 = a.parse().ok()?;
    let end: u64 = if b.is_empty() { len.saturating_sub(1) } else { b.parse::<u64>().ok()?.min(len.saturating_sub(1)) };
    (start <= end && start < len).then_some((start, end))
}

fn take(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

async fn serve(State(hub): State<Arc<Hub>>, Path((org, name, path)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    let Some(file) = find(&hub, &format!("{org}/{name}")).and_then(|r| r.files.into_iter().find(|f| f.path == path)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let faults = hub.faults.clone();
    if take(&faults.fail_500) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if take(&faults.rate_limit) {
        let mut r = StatusCode::TOO_MANY_REQUESTS.into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let len = file.data.len();
    let (start, end, status) = match parse_range(&headers, len) {
        Some((s, e)) => (s, e, StatusCode::PARTIAL_CONTENT),
        None if headers.contains_key(header::RANGE) => return StatusCode::RANGE_NOT_SATISFIABLE.into_response(),
        None => (0, len.saturating_sub(1), StatusCode::OK),
    };
    let drop_at = if take(&faults.drop_times) { Some(faults.drop_after_bytes.load(Ordering::Relaxed)) } else { None };
    let stall = if take(&faults.stall_times) { Duration::from_millis(faults.stall_ms.load(Ordering::Relaxed)) } else { Duration::ZERO };
    let throttle = faults.throttle_bps.load(Ordering::Relaxed);

    const CHUNK: u64 = 64 << 10;
    let served_key = path.clone();
    let hub2 = hub.clone();
    // The throttle paces against the clock since the body began (moved on by a stall), not by a sleep
    // per chunk: a 64 KiB chunk at 20 MB/s is 3.3 ms, which the timer rounds up to 4 ms, and the time
    // spent reading and sending would add to it, so per-chunk sleeps fell well short of the rate.
    let began = tokio::time::Instant::now();
    let body = futures_util::stream::unfold((start, 0u64, false, began), move |(pos, sent, stalled, began)| {
        let (file, hub, key) = (file.clone(), hub2.clone(), served_key.clone());
        async move {
            if pos > end {
                return None;
            }
            if let Some(limit) = drop_at {
                if sent >= limit {
                    // Hyper aborts the connection on a body error: the client sees a reset mid-file.
                    return Some((Err(std::io::Error::other("dropped by the mock")), (end + 1, sent, stalled, began)));
                }
            }
            let (mut stalled, mut began) = (stalled, began);
            if !stall.is_zero() && !stalled && sent >= (end + 1 - start) / 2 {
                tokio::time::sleep(stall).await;
                stalled = true;
                began += stall;
            }
            let n = CHUNK.min(end + 1 - pos);
            let n = drop_at.map(|l| n.min(l.saturating_sub(sent)).max(1)).unwrap_or(n);
            let chunk = match read_at(&file.data, pos, n).await {
                Ok(c) => c,
                Err(e) => return Some((Err(e), (end + 1, sent, stalled, began))),
            };
            if throttle > 0 {
                // This chunk goes out when the bytes sent so far, it included, are due at this rate.
                tokio::time::sleep_until(began + Duration::from_secs_f64((sent + n) as f64 / throttle as f64)).await;
            }
            if let Ok(mut s) = hub.served.lock() {
                *s.entry(key).or_insert(0) += n;
            }
            Some((Ok::<Bytes, std::io::Error>(chunk), (pos + n, sent + n, stalled, began)))
        }
    });
    let mut r = Response::new(Body::from_stream(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&(end + 1 - start).to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    r
}

async fn read_at(data: &Data, pos: u64, n: u64) -> std::io::Result<Bytes> {
    match data {
        Data::Bytes(b) => Ok(Bytes::copy_from_slice(&b[pos as usize..(pos + n) as usize])),
        Data::Disk { path, .. } => {
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            let mut f = tokio::fs::File::open(path).await?;
            f.seek(std::io::SeekFrom::Start(pos)).await?;
            let mut buf = vec![0u8; n as usize];
            f.read_exact(&mut buf).await?;
            Ok(Bytes::from(buf))
        }
    }
}
