//! Rows from the database into the types the window and the CLI read.

use store::{ConversationRow, MessageRow};
use types::{ChatRole, Conversation, ConversationSettings, GenerationStats, Message};

pub fn conversation(row: ConversationRow) -> Conversation {
    // Settings saved by an older Hearth may lack fields (they take their defaults) or be damaged
    // (the conversation still opens, with default settings).
    let settings: ConversationSettings = serde_json::from_str(&row.settings).unwrap_or_default();
    Conversation {
        id: row.id,
        title: row.title,
        model_path: row.model_path,
        settings,
        updated_at: row.updated_at,
        message_count: row.message_count,
    }
}

pub fn message(row: MessageRow) -> Message {
    let stats: Option<GenerationStats> = row.stats.as_deref().and_then(|s| serde_json::from_str(s).ok());
    Message { id: row.id, role: role(&row.role), content: row.content, state: row.status, stats, error: row.error }
}

pub fn role(s: &str) -> ChatRole {
    match s {
        "system" => ChatRole::System,
        "assistant" => ChatRole::Assistant,
        "tool" => ChatRole::Tool,
        _ => ChatRole::User,
    }
}
