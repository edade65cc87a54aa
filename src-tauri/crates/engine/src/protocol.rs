//! The wire between `EngineHost` and its worker process: requests go to the worker's stdin, events
//! come back on its stdout. Each message is one frame: a little-endian u32 length, then that many
//! bytes of JSON. Every request carries an id chosen by the host, and every event names the request
//! it answers, so the host can route events to the right caller. Frames larger than
//! `MAX_FRAME_BYTES` are refused on both sides, so a corrupt length can never make either side
//! allocate gigabytes.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use types::{
    CacheType, ChatMessage, ContextOverflow, GenerationStats, HearthError, LoadedModelInfo, SamplingParams, TokenLogprob,
};

/// Large enough for a prompt of a million-token context written out as text, small enough that a
/// garbage length is caught.
pub const MAX_FRAME_BYTES: u32 = 64 * 1024 * 1024;

/// The id the host gives each request; events carry the id of the request they answer.
pub type RequestId = u64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadParams {
    pub path: PathBuf,
    /// Layers to put on the GPU; 0 for CPU only, `u32::MAX` for all of them.
    pub n_gpu_layers: u32,
    /// Context length in tokens; `None` takes the model's trained context.
    pub n_ctx: Option<u32>,
    /// `None` takes the physical core count, which is what llama.cpp runs fastest with.
    pub n_threads: Option<u32>,
    /// Tokens decoded per batch while reading the prompt.
    pub n_batch: u32,
    pub cache_type_k: CacheType,
    pub cache_type_v: CacheType,
    pub flash_attention: bool,
    pub use_mmap: bool,
    /// The GPUs to use, by llama.cpp's names ("Vulkan0"), in the order the plan split the layers
    /// over them. Empty: the CPU only, and no GPU is touched at all (not even for a large batch of
    /// prompt tokens, which llama.cpp would otherwise send to any device it has).
    #[serde(default)]
    pub devices: Vec<String>,
    /// A llama.cpp built-in chat template chosen for this model (`template::family::BUILT_IN`),
    /// used instead of the file's own; `None`: the file's, or its family's when it has none.
    #[serde(default)]
    pub chat_template: Option<String>,
    /// Replies written at once (slots): each has `n_ctx` cells of its own, and a request beyond
    /// them waits for one to be free.
    #[serde(default = "one")]
    pub n_parallel: u32,
    /// The longest input one embedding takes, in tokens: the plan's (`FitPlan::embed_tokens`),
    /// which sized the context embeddings are made in to fit beside the model.
    #[serde(default = "max_embed")]
    pub embed_tokens: u32,
    /// The model's projector (an mmproj file), through which it reads pictures; `None`: text only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projector: Option<PathBuf>,
}

fn one() -> u32 {
    1
}

fn max_embed() -> u32 {
    types::MAX_EMBED_TOKENS
}

impl LoadParams {
    /// The load a fit plan describes: its GPU layers, context, cache types and flash attention.
    /// The one place the planner's answer becomes llama.cpp's settings (Chat, the server and the CLI
    /// all load this way).
    pub fn from_plan(path: impl Into<PathBuf>, plan: &types::FitPlan) -> Self {
        let devices: Vec<String> = plan.devices.iter().filter(|d| d.is_gpu).filter_map(|d| d.engine_device.clone()).collect();
        Self {
            // Layers only go where the plan names a device llama.cpp knows.
            n_gpu_layers: if devices.is_empty() { 0 } else { plan.gpu_layers },
            devices,
            n_ctx: Some(plan.context),
            cache_type_k: plan.cache_k,
            cache_type_v: plan.cache_v,
            flash_attention: plan.flash_attention,
            n_parallel: plan.slots.max(1),
            embed_tokens: plan.embed_tokens.unwrap_or(types::MAX_EMBED_TOKENS),
            ..Self::new(path)
        }
    }

    /// The chat template a person chose for the model (`LoadSettings::chat_template`).
    pub fn with_chat_template(self, chat_template: Option<String>) -> Self {
        Self { chat_template, ..self }
    }

    /// CPU only, a 4K context, f16 cache, no flash attention: what works everywhere.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            n_gpu_layers: 0,
            n_ctx: Some(4096),
            n_threads: None,
            n_batch: 512,
            cache_type_k: CacheType::F16,
            cache_type_v: CacheType::F16,
            flash_attention: false,
            use_mmap: true,
            devices: Vec::new(),
            chat_template: None,
            n_parallel: 1,
            embed_tokens: types::MAX_EMBED_TOKENS,
            projector: None,
        }
    }

    /// The projector to load beside the model.
    pub fn with_projector(self, projector: Option<PathBuf>) -> Self {
        Self { projector, ..self }
    }
}

/// What to generate from: a conversation (rendered with the model's chat template) or a prompt
/// written out already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Prompt {
    Chat(Vec<ChatMessage>),
    Raw(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateParams {
    pub prompt: Prompt,
    #[serde(default)]
    pub sampling: SamplingParams,
    #[serde(default)]
    pub context_overflow: ContextOverflow,
    /// The model this request was written for. The worker refuses it if another one is loaded by
    /// the time the request is read (Chat and the server share the engine, and either may load a
    /// model between the other's check and its request); `None` takes whatever is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// What the reply must be, enforced token by token while sampling; `None`: free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Constraint>,
    /// The functions the model may call, in OpenAI's `tools` shape, rendered through the model's
    /// template (or into the text when it takes none). The host tells the calls in the reply
    /// apart from its text as they are written (`calls::split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<serde_json::Value>,
    /// Report each written token's log-probability and this many likeliest alternatives (0–20);
    /// `None`: no log-probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
}

/// What to embed: text (tokenized as the model's tokenizer does, with its special tokens), or
/// tokens already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EmbedInput {
    Text(String),
    Tokens(Vec<i32>),
}

/// The most alternatives a token's log-probabilities list (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u32 = 20;

/// A shape the reply is held to by constrained decoding: a grammar llama.cpp's own JSON-schema
/// converter (`json_schema_to_grammar`, from its `common` library) makes, applied by llama.cpp's
/// grammar sampler. Converted in the worker, so a schema that trips the converter can only take
/// the worker down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Constraint {
    /// Any JSON object (OpenAI's `response_format: {"type": "json_object"}`).
    JsonObject,
    /// JSON valid against this schema, written as JSON text.
    JsonSchema { schema: String },
}

/// A measurement the way llama.cpp's `llama-bench` makes it, on the loaded model's own context:
/// prompt processing (`n_prompt` arbitrary tokens decoded in batches from an empty cache) and text
/// generation (`n_gen` tokens decoded one at a time from an empty cache, whatever the model would
/// have said, end-of-generation tokens included). Each test runs once untimed to warm up, then
/// `repetitions` times with the cache cleared before each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchParams {
    /// 0 skips the prompt test.
    pub n_prompt: u32,
    /// 0 skips the generation test.
    pub n_gen: u32,
    pub repetitions: u32,
}

/// The wall time of each timed repetition, in milliseconds; empty for a test that was skipped.
/// A cancelled bench ends early with what it had measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchResult {
    pub prompt_ms: Vec<f64>,
    pub gen_ms: Vec<f64>,
    pub n_threads: u32,
}

/// Host → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Request {
    /// Load a model, dropping the one loaded before. Answered by `LoadProgress`…, then `Loaded` or
    /// `Error`.
    Load { id: RequestId, params: LoadParams },
    /// Drop the model. Answered by `Unloaded`.
    Unload { id: RequestId },
    /// Answered by `Started`, `Token`…, then `Done` or `Error`.
    Generate { id: RequestId, params: GenerateParams },
    /// Stop the generation `id` (running or queued); it then ends with `Done`, reason `Cancelled`.
    /// Not answered itself.
    Cancel { id: RequestId },
    /// Answered by `Tokens` or `Error`.
    Tokenize { id: RequestId, text: String, add_special: bool },
    /// Embeddings of each input by the loaded model (pooled as its file says, L2-normalised).
    Embed { id: RequestId, inputs: Vec<EmbedInput> },
    /// Answered by `BenchResult` or `Error`; a `Cancel` with its id ends it early. The cache is
    /// empty afterwards.
    Bench { id: RequestId, params: BenchParams },
    /// Answered by `Devices`: what the backends the worker loaded can run on.
    Devices { id: RequestId },
}

impl Request {
    pub fn id(&self) -> RequestId {
        match self {
            Request::Load { id, .. }
            | Request::Unload { id }
            | Request::Generate { id, .. }
            | Request::Cancel { id }
            | Request::Tokenize { id, .. }
            | Request::Embed { id, .. }
            | Request::Bench { id, .. }
            | Request::Devices { id } => *id,
        }
    }
}

/// Worker → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    LoadProgress {
        id: RequestId,
        fraction: f32,
    },
    Loaded {
        id: RequestId,
        info: LoadedModelInfo,
    },
    Unloaded {
        id: RequestId,
    },
    /// A reply was taken on: its prompt's length in tokens, and how many the cache held.
    Started {
        id: RequestId,
        prompt_tokens: u32,
        cached_tokens: u32,
    },
    /// A piece of the reply's text, with the log-probabilities of the tokens that wrote it when
    /// they were asked for.
    Token {
        id: RequestId,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        logprobs: Vec<TokenLogprob>,
    },
    Done {
        id: RequestId,
        stats: GenerationStats,
    },
    Tokens {
        id: RequestId,
        tokens: Vec<i32>,
    },
    /// One vector per input, and the tokens read in all.
    Embeddings {
        id: RequestId,
        vectors: Vec<Vec<f32>>,
        tokens: u32,
    },
    BenchResult {
        id: RequestId,
        result: BenchResult,
    },
    Devices {
        id: RequestId,
        report: types::EngineReport,
    },
    /// The whole error, the client's sentence with it: the host cannot write it again.
    Error {
        id: RequestId,
        error: HearthError,
    },
}

impl Event {
    pub fn id(&self) -> RequestId {
        match self {
            Event::LoadProgress { id, .. }
            | Event::Loaded { id, .. }
            | Event::Unloaded { id }
            | Event::Token { id, .. }
            | Event::Started { id, .. }
            | Event::Done { id, .. }
            | Event::Tokens { id, .. }
            | Event::Embeddings { id, .. }
            | Event::BenchResult { id, .. }
            | Event::Devices { id, .. }
            | Event::Error { id, .. } => *id,
        }
    }

    pub fn error(id: RequestId, e: &HearthError) -> Self {
        Event::Error { id, error: e.clone() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the engine's pipe failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the other side closed the pipe in the middle of a frame")]
    Truncated,
    #[error("a frame of {0} bytes is larger than the {MAX_FRAME_BYTES} allowed")]
    TooLarge(u64),
    #[error("a frame could not be read as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(message)?;
    let len = u32::try_from(body.len()).ok().filter(|n| *n <= MAX_FRAME_BYTES).ok_or(FrameError::TooLarge(body.len() as u64))?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

fn check_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header);
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(u64::from(len)));
    }
    Ok(len as usize)
}

/// Writes one frame and flushes, so the other side sees it at once.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, message: &T) -> Result<(), FrameError> {
    w.write_all(&encode(message)?)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame; `Ok(None)` when the pipe closed cleanly between frames.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<Option<T>, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut body = vec![0u8; check_len(header)?];
    r.read_exact(&mut body).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(serde_json::from_slice(&body)?))
}

pub async fn write_frame_async<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, message: &T) -> Result<(), FrameError> {
    w.write_all(&encode(message)?).await?;
    w.flush().await?;
    Ok(())
}

/// The async twin of `read_frame`.
pub async fn read_frame_async<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> Result<Option<T>, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut header[got..]).await? {
            0 if got == 0 => return Ok(None),
            0 => return Err(FrameError::Truncated),
            n => got += n,
        }
    }
    let mut body = vec![0u8; check_len(header)?];
    r.read_exact(&mut body).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(serde_json::from_slice(&body)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::{ChatRole, StopReason};

    fn sample_requests() -> Vec<Request> {
        vec![
            Request::Load { id: 1, params: LoadParams::new("/m/a.gguf") },
            Request::Generate {
                id: 2,
                params: GenerateParams {
                    prompt: Prompt::Chat(vec![ChatMessage::new(ChatRole::User, "héllo 👋")]),
                    sampling: SamplingParams { seed: Some(7), stop: vec!["\n\n".into()], ..Default::default() },
                    context_overflow: ContextOverflow::DropOldest,
                    model: Some("/m/a.gguf".into()),
                    constraint: Some(Constraint::JsonSchema { schema: r#"{"type":"object"}"#.into() }),
                    logprobs: Some(3),
                    tools: Some(serde_json::json!([{"type": "function", "function": {"name": "f"}}])),
                },
            },
            Request::Cancel { id: 2 },
            Request::Tokenize { id: 3, text: "x".into(), add_special: true },
            Request::Unload { id: 4 },
            Request::Bench { id: 5, params: BenchParams { n_prompt: 512, n_gen: 128, repetitions: 3 } },
            Request::Devices { id: 6 },
            Request::Load {
                id: 7,
                params: LoadParams { devices: vec!["Vulkan0".into()], n_gpu_layers: 31, ..LoadParams::new("/m/b.gguf") },
            },
        ]
    }

    #[test]
    fn frames_round_trip_one_after_another() {
        let mut buf = Vec::new();
        for r in sample_requests() {
            write_frame(&mut buf, &r).unwrap();
        }
        let mut cursor = std::io::Cursor::new(buf);
        let mut back = Vec::new();
        while let Some(r) = read_frame::<_, Request>(&mut cursor).unwrap() {
            back.push(r);
        }
        assert_eq!(back, sample_requests());
    }

    #[test]
    fn frames_round_trip_async() {
        let event = Event::Done {
            id: 9,
            stats: GenerationStats {
                prompt_tokens_total: 10,
                reused_prefix_tokens: 4,
                prompt_tokens: 6,
                prompt_ms: 1.5,
                generated_tokens: 3,
                generation_ms: 2.0,
                time_to_first_token_ms: 1.7,
                stop_reason: StopReason::Stop,
                tokens_per_second: None,
                image_tokens: 0,
                image_ms: 0.0,
            },
        };
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut buf = Vec::new();
            write_frame_async(&mut buf, &event).await.unwrap();
            let mut slice = buf.as_slice();
            let back: Option<Event> = read_frame_async(&mut slice).await.unwrap();
            assert_eq!(back, Some(event.clone()));
            assert!(read_frame_async::<_, Event>(&mut slice).await.unwrap().is_none());
        });
    }

    #[test]
    fn the_wire_format_is_tagged_camel_case_json() {
        let json = serde_json::to_string(&Request::Cancel { id: 5 }).unwrap();
        assert_eq!(json, r#"{"type":"cancel","id":5}"#);
        let json = serde_json::to_string(&Event::Token { id: 5, text: "a".into(), logprobs: Vec::new() }).unwrap();
        assert_eq!(json, r#"{"type":"token","id":5,"text":"a"}"#);
        let result = BenchResult { prompt_ms: vec![1.5], gen_ms: Vec::new(), n_threads: 2 };
        let json = serde_json::to_string(&Event::BenchResult { id: 6, result }).unwrap();
        assert_eq!(json, r#"{"type":"benchResult","id":6,"result":{"promptMs":[1.5],"genMs":[],"nThreads":2}}"#);
    }

    #[test]
    fn a_frame_cut_short_is_truncated_not_eof() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Request::Unload { id: 1 }).unwrap();
        for cut in [1, 3, 4, buf.len() - 1] {
            let err = read_frame::<_, Request>(&mut &buf[..cut]).unwrap_err();
            assert!(matches!(err, FrameError::Truncated), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let mut buf = (MAX_FRAME_BYTES + 1).to_le_bytes().to_vec();
        buf.extend_from_slice(b"{}");
        let err = read_frame::<_, Request>(&mut buf.as_slice()).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge(n) if n == u64::from(MAX_FRAME_BYTES) + 1));
        let huge = Request::Tokenize { id: 1, text: "a".repeat(MAX_FRAME_BYTES as usize), add_special: false };
        assert!(matches!(write_frame(&mut Vec::new(), &huge), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn garbage_json_is_an_error() {
        let mut buf = 3u32.to_le_bytes().to_vec();
        buf.extend_from_slice(b"{x}");
        assert!(matches!(read_frame::<_, Request>(&mut buf.as_slice()), Err(FrameError::Json(_))));
    }
}
