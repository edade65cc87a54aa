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
    // Figures saved before `tokens_per_second` was one of them are completed here, as they are when
    // a reply ends.
    let stats = row.stats.as_deref().and_then(|s| serde_json::from_str::<GenerationStats>(s).ok()).map(GenerationStats::finished);
    Message { id: row.id, role: role(&row.role), content: row.content, state: row.status, stats, error: row.error, tool_calls: Vec::new(), images: Vec::new() }
}

pub fn role(s: &str) -> ChatRole {
    match s {
        "system" => ChatRole::System,
        "assistant" => ChatRole::Assistant,
        "tool" => ChatRole::Tool,
        _ => ChatRole::User,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A reply saved before the figures carried tokens/s showed "0.0 tok/s" in the window: its
    // speed is worked out when it is read, as for a reply that ends now.
    #[test]
    fn figures_saved_without_a_speed_get_one() {
        let old = r#"{"promptTokensTotal":9,"reusedPrefixTokens":0,"promptTokens":9,"promptMs":5.0,"generatedTokens":20,"generationMs":400.0,"timeToFirstTokenMs":30.0,"stopReason":"eos"}"#;
        let row = MessageRow {
            id: 1,
            conversation_id: 1,
            role: "assistant".into(),
            content: "hi".into(),
            status: types::MessageState::Done,
            stats: Some(old.into()),
            error: None,
            created_at: 0,
        };
        assert_eq!(message(row).stats.expect("figures").tokens_per_second, Some(50.0));
    }
}
