//! A conversation written out as Markdown (to read or share) or JSON (to keep or process). A
//! message's pictures go in whole, as data URLs (`pictures`, by hash), so the export stands alone.

use std::collections::HashMap;

use serde_json::json;
use types::{ChatRole, Conversation, Message, MessageState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Json,
}

pub fn export(conv: &Conversation, messages: &[Message], format: ExportFormat, pictures: &HashMap<String, String>) -> String {
    let picture = |hash: &str| pictures.get(hash).cloned().unwrap_or_default();
    match format {
        ExportFormat::Markdown => markdown(conv, messages, &picture),
        ExportFormat::Json => {
            let value = json!({
                "title": conv.title,
                "model": conv.model_path,
                "settings": conv.settings,
                "messages": messages.iter().map(|m| json!({
                    "role": m.role.as_str(),
                    "content": m.content,
                    "state": m.state,
                    "stats": m.stats,
                    "toolCalls": m.tool_calls,
                    "images": m.images.iter().map(|i| json!({ "at": i.at, "width": i.width, "height": i.height, "dataUrl": picture(&i.hash) })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }
    }
}

fn markdown(conv: &Conversation, messages: &[Message], picture: &dyn Fn(&str) -> String) -> String {
    let mut out = format!("# {}\n\n", conv.title);
    if let Some(model) = conv.model_path.as_deref().and_then(|p| p.rsplit(['/', '\\']).next()) {
        out.push_str(&format!("Model: `{model}`\n\n"));
    }
    if !conv.settings.system_prompt.trim().is_empty() {
        out.push_str(&format!("**System prompt:** {}\n\n", conv.settings.system_prompt.trim()));
    }
    for m in messages {
        let who = match m.role {
            ChatRole::User => "You",
            ChatRole::Assistant => "Assistant",
            ChatRole::System => "System",
            ChatRole::Tool => "Tool",
        };
        out.push_str(&format!("## {who}\n\n"));
        for (n, i) in m.images.iter().enumerate() {
            out.push_str(&format!("![picture {}]({})\n\n", n + 1, picture(&i.hash)));
        }
        out.push_str(&format!("{}\n\n", m.content.trim_end()));
        // Each call as a quote after the reply: what was called, how it ended, what came back.
        for c in &m.tool_calls {
            let state = format!("{:?}", c.state).to_lowercase();
            out.push_str(&format!("> **Tool call** `{}` → `{}` `{}` ({state})\n", c.server, c.tool, c.arguments));
            if let Some(result) = c.result.as_deref().filter(|r| !r.is_empty()) {
                for line in result.lines() {
                    out.push_str(&format!("> {line}\n"));
                }
            }
            out.push('\n');
        }
        match m.state {
            MessageState::Interrupted => out.push_str("*(interrupted)*\n\n"),
            MessageState::Stopped => out.push_str("*(stopped)*\n\n"),
            MessageState::Failed => out.push_str(&format!("*(failed: {})*\n\n", m.error.as_deref().unwrap_or("unknown error"))),
            MessageState::Done | MessageState::Streaming => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::ConversationSettings;

    #[test]
    fn markdown_and_json_carry_every_message() {
        let conv = Conversation {
            id: 1,
            title: "Bread".into(),
            model_path: Some("/m/SmolLM2.gguf".into()),
            settings: ConversationSettings { system_prompt: "Be brief.".into(), ..Default::default() },
            updated_at: 0,
            message_count: 2,
        };
        let msgs = vec![
            Message {
                id: 1,
                role: ChatRole::User,
                content: "How?".into(),
                state: MessageState::Done,
                stats: None,
                error: None,
                tool_calls: Vec::new(),
                images: vec![types::MessageImage { hash: "ab".into(), at: 0, width: 2, height: 1, thumbnail: "data:image/jpeg;base64,/9j".into() }],
            },
            Message {
                id: 2,
                role: ChatRole::Assistant,
                content: "Knead it.".into(),
                state: MessageState::Stopped,
                stats: None,
                error: None,
                tool_calls: vec![types::ChatToolCall {
                    id: 1,
                    offset: 9,
                    server: "files".into(),
                    tool: "read_text_file".into(),
                    arguments: r#"{"path":"bread.md"}"#.into(),
                    state: types::ToolCallState::Done,
                    result: Some("Flour.\nWater.".into()),
                    images: Vec::new(),
                    is_error: false,
                    read_only: true,
                    destructive: false,
                }],
                images: Vec::new(),
            },
        ];
        let pictures = HashMap::from([("ab".to_string(), "data:image/png;base64,iVBOR".to_string())]);
        let md = export(&conv, &msgs, ExportFormat::Markdown, &pictures);
        assert_eq!(
            md,
            "# Bread\n\nModel: `SmolLM2.gguf`\n\n**System prompt:** Be brief.\n\n## You\n\n![picture 1](data:image/png;base64,iVBOR)\n\nHow?\n\n## Assistant\n\nKnead it.\n\n\
             > **Tool call** `files` → `read_text_file` `{\"path\":\"bread.md\"}` (done)\n> Flour.\n> Water.\n\n*(stopped)*\n\n"
        );
        let v: serde_json::Value = serde_json::from_str(&export(&conv, &msgs, ExportFormat::Json, &pictures)).unwrap();
        assert_eq!(v["messages"][0]["images"][0]["dataUrl"], "data:image/png;base64,iVBOR", "the picture itself, not its thumbnail");
        assert_eq!(v["messages"][1]["content"], "Knead it.");
        assert_eq!(v["messages"][1]["state"], "stopped");
        assert_eq!(v["settings"]["systemPrompt"], "Be brief.");
        assert_eq!(v["messages"][1]["toolCalls"][0]["result"], "Flour.\nWater.");
    }
}
