//! Conversations as the Chat view sees them, and the events of a reply as it streams.

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

use crate::{ChatRole, ContextOverflow, FitPlan, GenerationStats, HearthError, LoadedModelInfo, SamplingParams};

/// A conversation's own settings: kept with it, applied to every reply in it. (Settings saved in an
/// older shape fall back to the defaults as a whole; see `chat::conversation`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSettings {
    /// Empty for none.
    pub system_prompt: String,
    pub sampling: SamplingParams,
    pub context_overflow: ContextOverflow,
    /// The MCP servers whose tools the model may call in this conversation (none by default).
    #[serde(default)]
    pub tools: ConversationTools,
}

impl Default for ConversationSettings {
    fn default() -> Self {
        // Dropping the oldest turns keeps a long chat going; the system prompt is always kept.
        Self {
            system_prompt: String::new(),
            sampling: SamplingParams::default(),
            context_overflow: ContextOverflow::DropOldest,
            tools: ConversationTools::default(),
        }
    }
}

/// The tools a conversation offers its model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationTools {
    /// Names of servers in mcp.json.
    pub servers: Vec<String>,
    /// Tools of those servers left out (server, tool): the model is offered the rest.
    #[serde(default)]
    pub off: Vec<(String, String)>,
    /// Hold the first answer of each reply to a call (a grammar does): `"required"` for any tool,
    /// or one tool's name as the model is offered it. For models too small to call tools of their
    /// own accord; `None`: the model decides.
    #[serde(default)]
    pub force: Option<String>,
}

/// Where a tool call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ToolCallState {
    /// Waiting for the person: Allow once, Always allow, or Deny.
    Waiting,
    Running,
    Done,
    /// The person said no; the model was told so.
    Denied,
    /// The call failed (the server's sentence is the result, and the model read it).
    Failed,
    /// Stopped before it ended (the person pressed Stop, or the app stopped).
    Stopped,
}

/// The person's answer to a call that waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ToolDecision {
    AllowOnce,
    /// Allow, and run this tool of this server without asking from now on.
    AlwaysAllow,
    Deny,
}

/// An image a tool returned, shown in the call's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ToolImage {
    pub mime_type: String,
    /// Base64.
    pub data: String,
}

/// A tool call in a reply: where it sits in the reply's text, what the model asked for, and what
/// came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChatToolCall {
    #[specta(type = Number)]
    pub id: i64,
    /// Bytes of the reply's text written before the call.
    pub offset: u32,
    pub server: String,
    /// The tool's name on its server.
    pub tool: String,
    /// The arguments, as the JSON text the model wrote.
    pub arguments: String,
    pub state: ToolCallState,
    /// What the model read back (capped), once it ran or was refused.
    pub result: Option<String>,
    pub images: Vec<ToolImage>,
    /// The tool or its server said it failed.
    pub is_error: bool,
    /// The server marks the tool read-only, or destructive.
    pub read_only: bool,
    pub destructive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    #[specta(type = Number)]
    pub id: i64,
    pub title: String,
    /// The model it was last used with.
    pub model_path: Option<String>,
    pub settings: ConversationSettings,
    /// Seconds since the Unix epoch.
    #[specta(type = Number)]
    pub updated_at: i64,
    #[specta(type = Number)]
    pub message_count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum MessageState {
    Done,
    /// Being written now.
    Streaming,
    /// Cut short because the app stopped; the text so far is kept.
    Interrupted,
    /// Stopped by the person.
    Stopped,
    /// The engine failed; `error` says why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[specta(type = Number)]
    pub id: i64,
    pub role: ChatRole,
    pub content: String,
    pub state: MessageState,
    pub stats: Option<GenerationStats>,
    pub error: Option<String>,
    /// A reply's tool calls, in order.
    pub tool_calls: Vec<ChatToolCall>,
    /// The pictures of a person's message, in order.
    #[serde(default)]
    pub images: Vec<MessageImage>,
}

/// A picture of a message, as the window shows it: a thumbnail in the message, the picture itself
/// on a click (`chat_image`, by its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MessageImage {
    /// The sha256 of the picture's bytes: how Hearth keeps it.
    pub hash: String,
    /// Where it sits in the message's text (bytes).
    pub at: u32,
    pub width: u32,
    pub height: u32,
    /// A small JPEG of it, as a data URL.
    pub thumbnail: String,
}

/// A reply as it streams to the window. Every event names the conversation and the reply it
/// belongs to: several conversations may be writing at once (one per slot), and the window follows
/// each on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type")]
pub enum ChatEvent {
    /// The person's message and the reply's row exist now (both saved).
    Started {
        #[specta(type = Number)]
        conversation_id: i64,
        #[specta(type = Option<Number>)]
        user_message_id: Option<i64>,
        #[specta(type = Number)]
        reply_id: i64,
    },
    /// More text of the reply.
    Text {
        #[specta(type = Number)]
        conversation_id: i64,
        #[specta(type = Number)]
        reply_id: i64,
        text: String,
    },
    Done {
        #[specta(type = Number)]
        conversation_id: i64,
        #[specta(type = Number)]
        reply_id: i64,
        stats: GenerationStats,
    },
    /// The reply failed, or (with no reply id) could not start.
    Failed {
        #[specta(type = Number)]
        conversation_id: i64,
        #[specta(type = Option<Number>)]
        reply_id: Option<i64>,
        error: HearthError,
    },
    /// A tool call of the reply, new or changed (waiting for the person, running, done).
    ToolCall {
        #[specta(type = Number)]
        conversation_id: i64,
        #[specta(type = Number)]
        reply_id: i64,
        call: ChatToolCall,
    },
    /// The conversation's row as it is now (its title from the first message, its message count
    /// and time): sent when a reply starts and when it ends, so the list needs no asking again.
    Conversation { conversation: Conversation },
}

/// What Chat answers with: a model loaded here, or one on another machine (or neither). The
/// window follows it through `engine_watch` rather than asking after each change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChatModel {
    pub loaded: Option<LoadedModel>,
    pub remote: Option<crate::RemoteModel>,
}

/// The model loaded in the engine, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoadedModel {
    pub path: String,
    pub file_name: String,
    pub info: LoadedModelInfo,
    /// The plan it was loaded with.
    pub plan: FitPlan,
}

/// Loading a model, as the model picker shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type")]
pub enum LoadEvent {
    Progress {
        #[specta(type = Number)]
        fraction: f32,
    },
    Loaded {
        model: LoadedModel,
    },
    Failed {
        error: HearthError,
    },
}
