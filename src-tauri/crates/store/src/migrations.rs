//! Numbered schema migrations. Append only: a released migration is never edited.

use rusqlite::Connection;

use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: settings, the library, downloads.
    "CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL CHECK (source IN ('downloaded', 'imported', 'hf-cache', 'lmstudio')),
        repo TEXT,
        file TEXT,
        size INTEGER NOT NULL,
        sha256 TEXT,
        added_at INTEGER NOT NULL
    );
    CREATE TABLE downloads (
        id INTEGER PRIMARY KEY,
        repo TEXT NOT NULL,
        revision TEXT NOT NULL,
        file TEXT NOT NULL,
        url TEXT NOT NULL,
        dest TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'failed', 'done', 'cancelled')),
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (repo, revision, file)
    );",
    // 2: conversations and their messages. A reply is a row from its first token on (`streaming`),
    // so a killed app keeps what was generated; `settings` is the conversation's JSON (system prompt,
    // sampling).
    "CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        model_path TEXT,
        settings TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
        content TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('done', 'streaming', 'interrupted', 'stopped', 'failed')),
        stats TEXT,
        error TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
    CREATE INDEX conversations_by_update ON conversations (updated_at DESC);",
    // 3: the local API's stored responses (OpenAI's Responses API, `store: true`), so that
    // `previous_response_id` carries a conversation on across a restart. `history` is the JSON array
    // of input items the response answered, earlier turns included; `response` the object as sent.
    "CREATE TABLE api_responses (
        id TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        history TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX api_responses_by_age ON api_responses (created_at);",
    // 4: the tool calls of Chat's replies (MCP): each where it sits in its reply's text (`offset`,
    // bytes), what the model asked, where it stands, and what came back (`images`: JSON).
    "CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        offset INTEGER NOT NULL,
        server TEXT NOT NULL,
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'done', 'denied', 'failed', 'stopped')),
        result TEXT,
        images TEXT NOT NULL DEFAULT '[]',
        is_error INTEGER NOT NULL DEFAULT 0,
        read_only INTEGER NOT NULL DEFAULT 0,
        destructive INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX tool_calls_by_message ON tool_calls (message_id, id);",
    // 5: the pictures of Chat's messages: each kept once under the home's images/ folder by the
    // sha256 of its bytes (`hash`), and placed in its message's text at a byte offset (`at`).
    "CREATE TABLE message_images (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        hash TEXT NOT NULL,
        media_type TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL
    );
    CREATE INDEX message_images_by_message ON message_images (message_id, id);",
];

pub fn known() -> i64 {
    MIGRATIONS.len() as i64
}

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > known() {
        return Err(StoreError::TooNew { found: version, known: known() });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        // Each migration and its version bump commit together, or not at all.
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
