//! What a chat with a loaded model is made of, shared by the engine (which runs llama.cpp in a worker
//! process), the window's Chat view and the OpenAI-compatible server: the messages, the sampling
//! settings, and what the engine reports back (load progress, the loaded model's memory, the figures
//! of a finished reply and why it stopped).

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

/// Who wrote a message. `Tool` carries a tool's answer back to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
    Tool,
}

impl ChatRole {
    /// The role's name as chat templates expect it (`"system"`, `"user"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
            ChatRole::Tool => "tool",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
    /// The functions an assistant message called (OpenAI's `tool_calls`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a `Tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Pictures in the message, each at its place in `content`, read by the model's projector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ChatImage>,
}

impl ChatMessage {
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None, images: Vec::new() }
    }
}

/// The most pictures one request carries to a model: 16 (a Gemma 3 picture is 256 tokens, so 16
/// fill a 4K context; each crosses to the worker as up to a few megabytes of pixels).
pub const MAX_IMAGES: usize = 16;

/// A picture in a message, decoded and scaled already (`hearth-images`), so that what reaches the
/// worker is pixels a projector can read and never a file format to parse. RGB, 3 bytes a pixel,
/// row by row; base64 in JSON.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChatImage {
    /// Where the picture sits in the message's text: a byte offset, at a character boundary
    /// (the end of the text when it is past it).
    pub at: u32,
    pub width: u32,
    pub height: u32,
    #[serde(with = "base64_bytes")]
    #[specta(type = String)]
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for ChatImage {
    // Megabytes of pixels in a log line help nobody.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChatImage {{ at: {}, {} × {} }}", self.at, self.width, self.height)
    }
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// A function call a model made: its id (for the tool's answer to name), the function, and its
/// arguments as JSON text (as OpenAI's wire format carries them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// How the next token is picked. A temperature of 0 (or below) picks the most likely token every
/// time, and then top-k/top-p/min-p and the seed do not matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", default)]
pub struct SamplingParams {
    #[specta(type = Number)]
    pub temperature: f32,
    /// 0 turns top-k off.
    pub top_k: u32,
    /// 1.0 turns top-p off.
    #[specta(type = Number)]
    pub top_p: f32,
    /// 0.0 turns min-p off.
    #[specta(type = Number)]
    pub min_p: f32,
    /// 1.0 turns the repeat penalty off.
    #[specta(type = Number)]
    pub repeat_penalty: f32,
    /// How many of the last tokens the repeat penalty looks at (and the frequency and presence
    /// penalties).
    pub repeat_last_n: u32,
    /// OpenAI's: lowers a token's logit by this much per time it already appeared (0 is off).
    #[specta(type = Number)]
    pub frequency_penalty: f32,
    /// OpenAI's: lowers a token's logit by this much once it has appeared at all (0 is off).
    #[specta(type = Number)]
    pub presence_penalty: f32,
    /// Added to a token's logit before sampling: (token id, bias); -100 all but bans it.
    pub logit_bias: Vec<(i32, f32)>,
    /// `None` draws a fresh seed for every reply.
    pub seed: Option<u32>,
    /// `None` lets the reply run until the model ends it or the context is full.
    pub max_tokens: Option<u32>,
    /// The reply ends before the first of these strings, which is never shown.
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    /// llama.cpp's own defaults.
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            logit_bias: Vec::new(),
            seed: None,
            max_tokens: None,
            stop: Vec::new(),
        }
    }
}

/// What to do when a conversation no longer fits in the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ContextOverflow {
    /// Refuse a prompt that does not fit, and end a reply that fills the context (`ContextFull`).
    #[default]
    Stop,
    /// Leave out the oldest turns (never the system message, never the last message) until the
    /// prompt fits with room for the reply.
    DropOldest,
}

/// Why a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// The model ended its turn.
    Eos,
    MaxTokens,
    /// One of the stop strings came.
    Stop,
    Cancelled,
    ContextFull,
}

/// How likely the model found a token it wrote (natural log of its probability under the model's
/// own distribution, before sampling settings), and the likeliest alternatives at that step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenLogprob {
    /// The token's text (lossy where it is part of a character).
    pub token: String,
    pub bytes: Vec<u8>,
    pub logprob: f32,
    /// The likeliest tokens at this step, likeliest first (as many as asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TokenLogprob>,
}

/// The figures of one finished reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GenerationStats {
    /// The whole prompt, in tokens.
    pub prompt_tokens_total: u32,
    /// Prompt tokens found already in the K/V cache from the previous request, not decoded again.
    pub reused_prefix_tokens: u32,
    /// Prompt tokens actually decoded: `prompt_tokens_total - reused_prefix_tokens`.
    pub prompt_tokens: u32,
    #[specta(type = Number)]
    pub prompt_ms: f64,
    pub generated_tokens: u32,
    /// From the first sampled token to the end of the reply.
    #[specta(type = Number)]
    pub generation_ms: f64,
    /// From the moment the engine took the request to its first token of text.
    #[specta(type = Number)]
    pub time_to_first_token_ms: f64,
    pub stop_reason: StopReason,
    /// Generation speed, tokens per second (`generated_tokens` over `generation_ms`), as every
    /// surface shows it; `None` before any token. Set when the reply ends (`finished`).
    #[serde(default)]
    #[specta(type = Option<Number>)]
    pub tokens_per_second: Option<f64>,
    /// Of `prompt_tokens_total`, the tokens pictures became through the projector.
    #[serde(default)]
    pub image_tokens: u32,
    /// Time spent encoding pictures with the projector (part of `prompt_ms`).
    #[serde(default)]
    #[specta(type = Number)]
    pub image_ms: f64,
}

impl GenerationStats {
    /// The figures with `tokens_per_second` worked out from the others: what a reply's producer
    /// (the engine, a remote connection) calls once its reply has ended.
    pub fn finished(self) -> Self {
        let tokens_per_second =
            (self.generated_tokens > 0 && self.generation_ms > 0.0).then(|| f64::from(self.generated_tokens) * 1000.0 / self.generation_ms);
        Self { tokens_per_second, ..self }
    }
}

/// What a reply is made of, as it comes: the one stream every surface consumes (Chat, the OpenAI
/// and Anthropic streams, `hearth run` and `hearth chat`), from a model here (the engine) or on
/// another machine (a connection). Each surface only translates it into its own wire format.
/// It ends with `Done` (the figures and why it stopped, `GenerationStats::stop_reason`) or
/// `Failed`.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyEvent {
    /// The reply has started: its prompt is `prompt_tokens` long, of which the cache already held
    /// `cached_tokens` (a conversation's earlier turns). Comes first, before the prompt is read,
    /// so that a stream can say the prompt's size at its start (Anthropic's `message_start`).
    Started { prompt_tokens: u32, cached_tokens: u32 },
    /// More of the reply's text (for the person: with tools on offer, the calls are apart).
    Text(String),
    /// Part of a tool call as the model writes it: call `index` (from 0, in order), its `name` on
    /// its first piece only, then more of its arguments' JSON text.
    Call { index: usize, name: Option<String>, arguments: String },
    /// The log-probabilities of the tokens of the `Text` that comes next (only when asked for).
    Logprobs(Vec<TokenLogprob>),
    Done(GenerationStats),
    Failed(crate::HearthError),
}

/// How far a model load has got, from 0.0 to 1.0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoadProgress {
    #[specta(type = Number)]
    pub fraction: f32,
}

/// A model the engine has loaded, with the memory llama.cpp itself reports for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoadedModelInfo {
    /// The weights' size, as llama.cpp counts it.
    #[specta(type = Number)]
    pub model_size_bytes: u64,
    #[specta(type = Number)]
    pub parameters: u64,
    /// The context this load has, in tokens (each slot's).
    pub n_ctx: u32,
    /// Replies the model writes at once, each with `n_ctx` tokens of its own.
    pub slots: u32,
    /// The context the model was trained with.
    pub n_ctx_train: u32,
    pub n_layers: u32,
    pub n_gpu_layers: u32,
    pub n_threads: u32,
    /// The buffers llama.cpp allocated (summed over devices), from its own log lines: weights…
    #[specta(type = Number)]
    pub weights_bytes: u64,
    /// …the K/V cache…
    #[specta(type = Number)]
    pub kv_cache_bytes: u64,
    /// …and the compute and output buffers.
    #[specta(type = Number)]
    pub compute_bytes: u64,
    /// Whether the model's own chat template is used (`false`: a llama.cpp built-in stands in).
    pub has_chat_template: bool,
    /// Whether that template takes tools itself (`false`: Hearth writes them into the system
    /// message, in the Hermes format, which a model not trained for tools may well ignore).
    pub takes_tools: bool,
    /// The chat template the conversation is rendered with, and why that one.
    pub template: TemplateInUse,
    #[specta(type = Number)]
    pub load_ms: f64,
    /// The same buffers per device as llama.cpp names them ("CPU", "Vulkan0", "CUDA_Host"…), to set
    /// beside the plan's per-device figures.
    #[serde(default)]
    pub devices: Vec<DeviceBuffers>,
    /// The projector loaded with the model, through which it reads pictures; `None`: text only.
    #[serde(default)]
    pub vision: Option<VisionInfo>,
}

/// A loaded model's projector (mmproj): what reads pictures for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct VisionInfo {
    /// The projector's file name.
    pub file: String,
    /// The longer side, in pixels, a picture is scaled to before it is sent: the side the
    /// projector reads (larger pictures are scaled down by the projector anyway).
    pub image_side: u32,
    /// Its weights and compute buffer, from llama.cpp's own log lines.
    #[specta(type = Number)]
    pub weights_bytes: u64,
    #[specta(type = Number)]
    pub compute_bytes: u64,
}

/// The chat template a loaded model renders conversations with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInUse {
    /// llama.cpp's name for a built-in template ("gemma", "llama3", "chatml"…), or "file" for the
    /// model's own.
    pub name: String,
    /// What people call it: "Gemma", "Llama 3", "The model's own".
    pub label: String,
    pub source: TemplateSource,
    /// One sentence: why this template.
    pub why: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum TemplateSource {
    /// The file's own `tokenizer.chat_template`.
    #[default]
    File,
    /// The file has none: its family's, guessed from its vocabulary and architecture.
    Family,
    /// The person chose it for this model.
    Setting,
}

/// A chat template a person can choose for a model: llama.cpp's name and what people call it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TemplateChoice {
    pub name: String,
    pub label: String,
}

/// What llama.cpp allocated on one device (or host buffer type) for a loaded model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceBuffers {
    /// llama.cpp's buffer name: "CPU", "CPU_Mapped", "CPU_REPACK", "Vulkan0", "Vulkan_Host", "CUDA0"…
    pub name: String,
    #[specta(type = Number)]
    pub weights_bytes: u64,
    #[specta(type = Number)]
    pub kv_cache_bytes: u64,
    #[specta(type = Number)]
    pub compute_bytes: u64,
}
