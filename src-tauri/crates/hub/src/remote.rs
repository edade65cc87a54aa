//! A model file on the Hub as a [`gguf::RangeSource`]: the GGUF reader asks for byte ranges and only
//! the header is ever fetched, never the weights.

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
        let req = self.client.get(&self.url).header(RANGE, format!("bytes={start}-{}", start + len.max(1) - 1));
        let url = self.url.clone();
        async move {
            let resp = check(req.send().await, &url).await.map_err(|e| e.to_string())?;
            let whole = resp.status() == StatusCode::OK;
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            // A server that ignores Range sends the whole file: keep only what was asked for.
            let body = if whole { body.slice((start as usize).min(body.len())..) } else { body };
            Ok(body[..(len as usize).min(body.len())].to_vec())
        }
    }
}

/// The header of a remote GGUF file, read through Range requests.
pub async fn remote_facts(client: &HubClient, repo: &str, revision: &str, path: &str) -> Result<gguf::ModelFacts> {
    let file = RemoteFile::new(client, repo, revision, path);
    gguf::read_remote(&file).await.map_err(|e| match e {
        gguf::GgufError::Remote(m) => crate::error::HubError::Offline(m),
        other => crate::error::HubError::BadResponse(other.to_string()),
    })
}
