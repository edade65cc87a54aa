//! The tool calls of Chat's replies: written when the model makes one, updated as it waits for the
//! person, runs and ends, read back with their conversation. Deleted with their reply.

use rusqlite::params;
use types::{ChatToolCall, ToolCallState};

use crate::{now, Result, Store};

/// How a call's state is written in the database: the window's enum, by name.
fn state_str(s: ToolCallState) -> &'static str {
    match s {
        ToolCallState::Waiting => "waiting",
        ToolCallState::Running => "running",
        ToolCallState::Done => "done",
        ToolCallState::Denied => "denied",
        ToolCallState::Failed => "failed",
        ToolCallState::Stopped => "stopped",
    }
}

fn parse_state(s: &str) -> ToolCallState {
    match s {
        "waiting" => ToolCallState::Waiting,
        "running" => ToolCallState::Running,
        "done" => ToolCallState::Done,
        "denied" => ToolCallState::Denied,
        "failed" => ToolCallState::Failed,
        _ => ToolCallState::Stopped,
    }
}

/// A call as the model made it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToolCall {
    pub message_id: i64,
    pub offset: u32,
    pub server: String,
    pub tool: String,
    pub arguments: String,
    pub state: ToolCallState,
    pub read_only: bool,
    pub destructive: bool,
}

const COLUMNS: &str = "t.id, t.message_id, t.offset, t.server, t.tool, t.arguments, t.state, t.result, t.images, t.is_error, t.read_only, t.destructive";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ChatToolCall)> {
    let images: String = r.get(8)?;
    Ok((
        r.get(1)?,
        ChatToolCall {
            id: r.get(0)?,
            offset: r.get(2)?,
            server: r.get(3)?,
            tool: r.get(4)?,
            arguments: r.get(5)?,
            state: parse_state(&r.get::<_, String>(6)?),
            result: r.get(7)?,
            images: serde_json::from_str(&images).unwrap_or_default(),
            is_error: r.get(9)?,
            read_only: r.get(10)?,
            destructive: r.get(11)?,
        },
    ))
}

impl Store {
    pub fn add_tool_call(&self, call: &NewToolCall) -> Result<ChatToolCall> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO tool_calls (message_id, offset, server, tool, arguments, state, read_only, destructive, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![call.message_id, call.offset, call.server, call.tool, call.arguments, state_str(call.state), call.read_only, call.destructive, now()],
        )?;
        Ok(ChatToolCall {
            id: conn.last_insert_rowid(),
            offset: call.offset,
            server: call.server.clone(),
            tool: call.tool.clone(),
            arguments: call.arguments.clone(),
            state: call.state,
            result: None,
            images: Vec::new(),
            is_error: false,
            read_only: call.read_only,
            destructive: call.destructive,
        })
    }

    /// Records where a call stands and, once it has one, its result.
    pub fn update_tool_call(&self, call: &ChatToolCall) -> Result<()> {
        let images = serde_json::to_string(&call.images).unwrap_or_else(|_| "[]".into());
        self.conn()?.execute(
            "UPDATE tool_calls SET state = ?2, result = ?3, images = ?4, is_error = ?5 WHERE id = ?1",
            params![call.id, state_str(call.state), call.result, images, call.is_error],
        )?;
        Ok(())
    }

    /// Every tool call of a conversation's replies, by reply, in order.
    pub fn tool_calls(&self, conversation_id: i64) -> Result<std::collections::HashMap<i64, Vec<ChatToolCall>>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM tool_calls t JOIN messages m ON m.id = t.message_id WHERE m.conversation_id = ?1 ORDER BY t.id"
        ))?;
        let mut by_reply: std::collections::HashMap<i64, Vec<ChatToolCall>> = std::collections::HashMap::new();
        for r in stmt.query_map([conversation_id], row)? {
            let (message, call) = r?;
            by_reply.entry(message).or_default().push(call);
        }
        Ok(by_reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::{MessageState, ToolImage};

    #[test]
    fn a_replys_calls_are_kept_updated_stopped_by_a_restart_and_deleted_with_it() {
        let s = Store::in_memory().unwrap();
        let c = s.create_conversation("t", None, "{}").unwrap();
        let reply = s.add_message(c.id, "assistant", "Let me look.", MessageState::Streaming).unwrap();
        let new = NewToolCall {
            message_id: reply,
            offset: 12,
            server: "files".into(),
            tool: "read_text_file".into(),
            arguments: r#"{"path":"/a"}"#.into(),
            state: ToolCallState::Waiting,
            read_only: true,
            destructive: false,
        };
        let mut call = s.add_tool_call(&new).unwrap();
        let waiting = s.add_tool_call(&NewToolCall { tool: "write_file".into(), ..new.clone() }).unwrap();
        call.state = ToolCallState::Done;
        call.result = Some("the text".into());
        call.images = vec![ToolImage { mime_type: "image/png".into(), data: "iVBOR".into() }];
        s.update_tool_call(&call).unwrap();
        let calls = &s.tool_calls(c.id).unwrap()[&reply];
        assert_eq!(calls[0], call);
        assert_eq!(calls[1].state, ToolCallState::Waiting);
        // An app that stopped with a call waiting: the call is stopped, not left waiting forever.
        s.mark_interrupted().unwrap();
        assert_eq!(s.tool_calls(c.id).unwrap()[&reply][1].state, ToolCallState::Stopped);
        assert_eq!(waiting.id, calls[1].id);
        s.truncate_from(c.id, reply).unwrap();
        assert!(s.tool_calls(c.id).unwrap().is_empty(), "the calls go with their reply");
    }
}
