//! Conversations and their messages. The user's message is written before generation starts and a
//! reply is written from its first token on, then updated as it streams, so nothing the person typed
//! or the model wrote is lost when the app is killed: on the next start, replies still marked
//! `streaming` become `interrupted`.

use rusqlite::{params, OptionalExtension};

use types::MessageState;

use crate::{now, Result, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub id: i64,
    pub title: String,
    pub model_path: Option<String>,
    /// The conversation's settings as JSON (system prompt, sampling); the chat crate owns the shape.
    pub settings: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub message_count: i64,
}

/// How a message's state is written in the database: the one enum, the window's
/// (`types::MessageState`), stored as its name.
fn status_str(s: MessageState) -> &'static str {
    match s {
        MessageState::Done => "done",
        MessageState::Streaming => "streaming",
        MessageState::Interrupted => "interrupted",
        MessageState::Stopped => "stopped",
        MessageState::Failed => "failed",
    }
}

fn parse_status(s: &str) -> MessageState {
    match s {
        "streaming" => MessageState::Streaming,
        "interrupted" => MessageState::Interrupted,
        "stopped" => MessageState::Stopped,
        "failed" => MessageState::Failed,
        _ => MessageState::Done,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: i64,
    pub conversation_id: i64,
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    pub content: String,
    pub status: MessageState,
    /// The reply's figures as JSON, once it has finished.
    pub stats: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.title, c.model_path, c.settings, c.created_at, c.updated_at,
    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)";

fn conversation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConversationRow> {
    Ok(ConversationRow {
        id: r.get(0)?,
        title: r.get(1)?,
        model_path: r.get(2)?,
        settings: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        message_count: r.get(6)?,
    })
}

fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        role: r.get(2)?,
        content: r.get(3)?,
        status: parse_status(&r.get::<_, String>(4)?),
        stats: r.get(5)?,
        error: r.get(6)?,
        created_at: r.get(7)?,
    })
}

impl Store {
    pub fn create_conversation(&self, title: &str, model_path: Option<&str>, settings: &str) -> Result<ConversationRow> {
        let conn = self.conn()?;
        let t = now();
        conn.execute(
            "INSERT INTO conversations (title, model_path, settings, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![title, model_path, settings, t],
        )?;
        let id = conn.last_insert_rowid();
        Ok(conn.query_row(&format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?1"), [id], conversation_row)?)
    }

    pub fn conversation(&self, id: i64) -> Result<Option<ConversationRow>> {
        let conn = self.conn()?;
        Ok(conn
            .query_row(&format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?1"), [id], conversation_row)
            .optional()?)
    }

    /// Conversations, most recently used first; with `query`, only those whose title or messages
    /// contain it (case-insensitive for ASCII, as SQLite's LIKE is).
    pub fn conversations(&self, query: Option<&str>) -> Result<Vec<ConversationRow>> {
        let conn = self.conn()?;
        let q = query.map(str::trim).filter(|q| !q.is_empty());
        let rows = match q {
            None => {
                let mut stmt =
                    conn.prepare(&format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c ORDER BY c.updated_at DESC, c.id DESC"))?;
                let rows = stmt.query_map([], conversation_row)?.collect::<std::result::Result<Vec<_>, _>>()?;
                rows
            }
            Some(q) => {
                // LIKE's own wildcards in the query are matched literally.
                let pattern = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                let mut stmt = conn.prepare(&format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations c
                     WHERE c.title LIKE ?1 ESCAPE '\\'
                        OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.content LIKE ?1 ESCAPE '\\')
                     ORDER BY c.updated_at DESC, c.id DESC"
                ))?;
                let rows = stmt.query_map([pattern], conversation_row)?.collect::<std::result::Result<Vec<_>, _>>()?;
                rows
            }
        };
        Ok(rows)
    }

    pub fn rename_conversation(&self, id: i64, title: &str) -> Result<()> {
        self.conn()?.execute("UPDATE conversations SET title = ?2 WHERE id = ?1", params![id, title])?;
        Ok(())
    }

    pub fn set_conversation_model(&self, id: i64, model_path: Option<&str>) -> Result<()> {
        self.conn()?.execute("UPDATE conversations SET model_path = ?2 WHERE id = ?1", params![id, model_path])?;
        Ok(())
    }

    pub fn set_conversation_settings(&self, id: i64, settings: &str) -> Result<()> {
        self.conn()?.execute("UPDATE conversations SET settings = ?2 WHERE id = ?1", params![id, settings])?;
        Ok(())
    }

    /// Delete a conversation and all its messages.
    pub fn delete_conversation(&self, id: i64) -> Result<()> {
        let conn = self.conn()?;
        conn.execute("DELETE FROM messages WHERE conversation_id = ?1", [id])?;
        conn.execute("DELETE FROM conversations WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn messages(&self, conversation_id: i64) -> Result<Vec<MessageRow>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, conversation_id, role, content, status, stats, error, created_at FROM messages
             WHERE conversation_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([conversation_id], message_row)?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn message(&self, id: i64) -> Result<Option<MessageRow>> {
        let conn = self.conn()?;
        Ok(conn
            .query_row(
                "SELECT id, conversation_id, role, content, status, stats, error, created_at FROM messages WHERE id = ?1",
                [id],
                message_row,
            )
            .optional()?)
    }

    /// Append a message (and mark the conversation as just used); returns its id.
    pub fn add_message(&self, conversation_id: i64, role: &str, content: &str, status: MessageState) -> Result<i64> {
        let conn = self.conn()?;
        let t = now();
        conn.execute(
            "INSERT INTO messages (conversation_id, role, content, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![conversation_id, role, content, status_str(status), t],
        )?;
        let id = conn.last_insert_rowid();
        conn.execute("UPDATE conversations SET updated_at = ?2 WHERE id = ?1", params![conversation_id, t])?;
        Ok(id)
    }

    /// Write a message's text and state: called as a reply streams, and once when it ends.
    pub fn update_message(&self, id: i64, content: &str, status: MessageState, stats: Option<&str>, error: Option<&str>) -> Result<()> {
        self.conn()?.execute(
            "UPDATE messages SET content = ?2, status = ?3, stats = COALESCE(?4, stats), error = ?5 WHERE id = ?1",
            params![id, content, status_str(status), stats, error],
        )?;
        Ok(())
    }

    /// Delete `message_id` and every later message of its conversation: for an edit (the edited
    /// message is added anew) and a regenerate (the reply is written anew).
    pub fn truncate_from(&self, conversation_id: i64, message_id: i64) -> Result<usize> {
        Ok(self.conn()?.execute("DELETE FROM messages WHERE conversation_id = ?1 AND id >= ?2", params![conversation_id, message_id])?)
    }

    /// After a start: replies left `streaming` by a process that died are `interrupted`.
    pub fn mark_interrupted(&self) -> Result<usize> {
        let conn = self.conn()?;
        // A call that was waiting for the person or running when the app stopped did not end.
        conn.execute("UPDATE tool_calls SET state = 'stopped' WHERE state IN ('waiting', 'running')", [])?;
        Ok(conn.execute("UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'", [])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_keeps_its_messages_in_order_and_search_finds_it() {
        let s = Store::in_memory().unwrap();
        let a = s.create_conversation("Rust lifetimes", Some("/m/a.gguf"), "{}").unwrap();
        let b = s.create_conversation("Dinner ideas", None, "{}").unwrap();
        s.add_message(a.id, "user", "What is 'static?", MessageState::Done).unwrap();
        let reply = s.add_message(a.id, "assistant", "", MessageState::Streaming).unwrap();
        s.update_message(reply, "A lifetime that lasts", MessageState::Streaming, None, None).unwrap();
        s.add_message(b.id, "user", "Something with 100% more garlic", MessageState::Done).unwrap();

        let msgs = s.messages(a.id).unwrap();
        assert_eq!(msgs.iter().map(|m| m.role.as_str()).collect::<Vec<_>>(), ["user", "assistant"]);
        assert_eq!(msgs[1].content, "A lifetime that lasts");
        assert_eq!(s.conversation(a.id).unwrap().unwrap().message_count, 2);

        assert_eq!(s.conversations(Some("static")).unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [a.id]);
        assert_eq!(s.conversations(Some("dinner")).unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [b.id]);
        // A % in the query is a percent sign, not a wildcard.
        assert_eq!(s.conversations(Some("100%")).unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [b.id]);
        assert_eq!(s.conversations(Some("%")).unwrap().len(), 1);
        assert_eq!(s.conversations(None).unwrap().len(), 2);
    }

    #[test]
    fn a_reply_left_streaming_by_a_dead_process_is_interrupted_with_its_text() {
        let dir = std::env::temp_dir().join(format!("hearth-store-conv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite3");
        let _ = std::fs::remove_file(&path);
        {
            let s = Store::open(&path).unwrap();
            let c = s.create_conversation("t", None, "{}").unwrap();
            s.add_message(c.id, "user", "hi", MessageState::Done).unwrap();
            let r = s.add_message(c.id, "assistant", "", MessageState::Streaming).unwrap();
            s.update_message(r, "Hello! I was say", MessageState::Streaming, None, None).unwrap();
            // Dropped without finishing the reply, as a killed process would leave it.
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.mark_interrupted().unwrap(), 1);
        let c = s.conversations(None).unwrap()[0].id;
        let last = s.messages(c).unwrap().pop().unwrap();
        assert_eq!((last.content.as_str(), last.status), ("Hello! I was say", MessageState::Interrupted));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncate_and_delete() {
        let s = Store::in_memory().unwrap();
        let c = s.create_conversation("t", None, "{}").unwrap();
        let ids: Vec<i64> = (0..4)
            .map(|i| s.add_message(c.id, if i % 2 == 0 { "user" } else { "assistant" }, &i.to_string(), MessageState::Done).unwrap())
            .collect();
        assert_eq!(s.truncate_from(c.id, ids[2]).unwrap(), 2);
        assert_eq!(s.messages(c.id).unwrap().len(), 2);
        s.rename_conversation(c.id, "renamed").unwrap();
        assert_eq!(s.conversation(c.id).unwrap().unwrap().title, "renamed");
        s.delete_conversation(c.id).unwrap();
        assert!(s.conversation(c.id).unwrap().is_none());
        assert!(s.messages(c.id).unwrap().is_empty());
    }
}
