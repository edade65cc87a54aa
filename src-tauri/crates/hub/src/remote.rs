//! A model file on the Hub as a [`gguf::RangeSource`]: the GGUF reader asks for byte ranges and only
//! the header is ever fetched, never the weights. Never more than was asked for is read either, even
//! from a server that ignores Range and sends the whole file: the rest is left unread and the
//! connection dropped.

use futures_util::StreamExt;
use reqwest::header::RANGE;
use reqwest::StatusCode;

use crate::client::{check, HubClient};
use crate::error::Result;

pub struct RemoteFile<'a> {
    client: &'a HubClient,
    url: String,
}

impl<'a> RemoteFile<'a> {
    pub fn new(client: &'a HubClient, repo: &str, revision: &str, path: &str) -> Self {
        Self { client, url: client.resolve_url(repo, revision, path) }
    }
}

impl gguf::RangeSource for RemoteFile<'_> {
    fn fetch(&self, start: u64, len: u64) -> impl std::future::Future<Output = std::result::Result<Vec<u8>, String>> + Send {
        let req = self.client.get(&self.url).map(|r| r.header(RANGE, format!("bytes={start}-{}", start.saturating_add(len.max(1) - 1))));
        let url = self.url.clone();
        async move {
            let req = req.map_err(|e| e.to_string())?;
            let resp = check(req.send().await, &url).await.map_err(|e| e.to_string())?;
            // A server that ignores Range sends the whole file from its first byte.
            let skip = if resp.status() == StatusCode::OK { start } else { 0 };
            read_range(resp, skip, len).await.map_err(|e| e.to_string())
        }
    }
}

/// Bytes `[skip, skip + len)` of the body (fewer if it ends first), reading no further.
async fn read_range(resp: reqwest::Response, skip: u64, len: u64) -> std::result::Result<Vec<u8>, reqwest::Error> {
    let want = usize::try_from(len).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(want.min(16 << 20));
    let mut to_skip = skip;
    let mut stream = resp.bytes_stream();
    while out.len() < want {
        let Some(chunk) = stream.next().await else { break };
        let mut chunk = chunk?;
        if to_skip > 0 {
            let n = usize::try_from(to_skip).unwrap_or(usize::MAX).min(chunk.len());
            to_skip -= n as u64;
            chunk = chunk.slice(n..);
        }
        let take = chunk.len().min(want - out.len());
        out.extend_from_slice(&chunk[..take]);
    }
    Ok(out)
}

/// The header of a remote GGUF file, read through Range requests.
pub async fn remote_facts(client: &HubClient, repo: &str, revision: &str, path: &str) -> Result<gguf::ModelFacts> {
    let file = RemoteFile::new(client, repo, revision, path);
    gguf::read_remote(&file).await.map_err(|e| match e {
        gguf::GgufError::Remote(m) => crate::error::HubError::Offline(m),
        other => crate::error::HubError::BadResponse(other.to_string()),
    })
}
