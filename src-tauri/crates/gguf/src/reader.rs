//! Reading a header whose length is not known in advance: fetch a first chunk, parse, and when the
//! parser says it ran out of bytes, fetch more (at least what it needs, at least double) until the
//! header is complete or the cap is reached. The same loop serves a local file and a remote one
//! (HTTP Range requests), so only the header is ever read, never the weights.

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{GgufError, Result};
use crate::facts::ModelFacts;
use crate::header;

/// The first read: enough for most headers without a vocabulary.
pub const FIRST_CHUNK: u64 = 512 << 10;
/// No real header is this large (the largest vocabularies take about 10 MB).
pub const HEADER_CAP: u64 = 64 << 20;

/// Something that can hand out byte ranges of a file: an HTTP client with Range requests, in the hub
/// crate; a byte vector in tests.
pub trait RangeSource {
    /// Bytes `[start, start + len)`, or fewer at the end of the file.
    fn fetch(&self, start: u64, len: u64) -> impl Future<Output = std::result::Result<Vec<u8>, String>> + Send;
}

/// The growing buffer, shared by the file and remote loops.
struct Growing {
    buf: Vec<u8>,
    want: u64,
    cap: u64,
    eof: bool,
}

impl Growing {
    fn new(first: u64, cap: u64) -> Self {
        Self { buf: Vec::new(), want: first.min(cap), cap, eof: false }
    }

    /// The next range to read, if more is wanted.
    fn next(&self) -> (u64, u64) {
        let have = self.buf.len() as u64;
        (have, self.want.saturating_sub(have))
    }

    fn accept(&mut self, bytes: Vec<u8>, asked: u64) {
        if (bytes.len() as u64) < asked {
            self.eof = true;
        }
        self.buf.extend_from_slice(&bytes);
    }

    /// Try to parse; `Ok(None)` means read more.
    fn step(&mut self) -> Result<Option<ModelFacts>> {
        match header::parse(&self.buf) {
            Ok(h) => ModelFacts::from_header(h).map(Some),
            Err(GgufError::Truncated { needed, have }) => {
                if self.eof {
                    return Err(GgufError::Truncated { needed, have });
                }
                if self.buf.len() as u64 >= self.cap || needed > self.cap {
                    return Err(GgufError::HeaderTooLarge { limit: self.cap });
                }
                self.want = needed.max(self.want.saturating_mul(2)).min(self.cap);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// A complete header held in memory.
pub fn parse_bytes(bytes: &[u8]) -> Result<ModelFacts> {
    ModelFacts::from_header(header::parse(bytes)?)
}

/// A local file. Also checks that the file holds all the tensor data the header promises, so a
/// half-downloaded file is an error here and not a crash at load time.
pub fn read_file(path: &Path) -> Result<ModelFacts> {
    let mut file = std::fs::File::open(path).map_err(|e| GgufError::Io(format!("{}: {e}", path.display())))?;
    let len = file.metadata().map_err(|e| GgufError::Io(e.to_string()))?.len();
    let mut g = Growing::new(FIRST_CHUNK, HEADER_CAP);
    let facts = loop {
        let (start, want) = g.next();
        let mut chunk = Vec::new();
        file.seek(SeekFrom::Start(start)).map_err(|e| GgufError::Io(e.to_string()))?;
        (&mut file).take(want).read_to_end(&mut chunk).map_err(|e| GgufError::Io(e.to_string()))?;
        g.accept(chunk, want);
        if let Some(facts) = g.step()? {
            break facts;
        }
    };
    if facts.data_end() > len {
        return Err(GgufError::Truncated { needed: facts.data_end(), have: len });
    }
    Ok(facts)
}

/// A remote file, through Range requests. Only the header is fetched.
pub async fn read_remote<S: RangeSource>(source: &S) -> Result<ModelFacts> {
    read_remote_with(source, FIRST_CHUNK, HEADER_CAP).await
}

pub async fn read_remote_with<S: RangeSource>(source: &S, first: u64, cap: u64) -> Result<ModelFacts> {
    let mut g = Growing::new(first, cap);
    loop {
        let (start, want) = g.next();
        let chunk = source.fetch(start, want).await.map_err(GgufError::Remote)?;
        g.accept(chunk, want);
        if let Some(facts) = g.step()? {
            return Ok(facts);
        }
    }
}

/// Total bytes fetched is what a test of "never the weights" checks; this is the bytes-in-memory source.
impl RangeSource for Vec<u8> {
    fn fetch(&self, start: u64, len: u64) -> impl Future<Output = std::result::Result<Vec<u8>, String>> + Send {
        let start = (start as usize).min(self.len());
        let end = start.saturating_add(len as usize).min(self.len());
        let out = self[start..end].to_vec();
        async move { Ok(out) }
    }
}
