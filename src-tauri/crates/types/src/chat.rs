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
}

impl Default for ConversationSettings {
    fn default() -> Self {
        // Dropping the oldest turns keeps a long chat going; the system prompt is always kept.
        Self { system_prompt: String::new(), sampling: SamplingParams::default(), context_overflow: ContextOverflow::DropOldest }
    }
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
