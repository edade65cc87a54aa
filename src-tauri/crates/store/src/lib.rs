//! Hearth's one SQLite database (`hearth.sqlite3` in the home folder): the library of model files,
//! conversations and their messages, the downloads in flight (so a restarted app resumes them), and
//! settings. Schema changes are numbered migrations applied in order and recorded in
//! `PRAGMA user_version`; a database from a newer Hearth is refused rather than damaged.

mod conversations;
mod downloads;
mod migrations;
mod models;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension};

pub use conversations::{ConversationRow, MessageRow, MessageStatus};
pub use downloads::{Download, DownloadStatus, NewDownload};
pub use models::{ModelRow, ModelSource};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is from a newer Hearth (schema {found}, this one knows {known}); update Hearth")]
    TooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is busy")]
    Poisoned,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One connection behind a mutex: the app's writes are few and small, and SQLite in WAL mode lets a
/// second process (the CLI) read and write beside it.
pub struct Store {
    conn: Mutex<Connection>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::with(conn)
    }

    pub fn in_memory() -> Result<Self> {
        Self::with(Connection::open_in_memory()?)
    }

    fn with(mut conn: Connection) -> Result<Self> {
        migrations::migrate(&mut conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    pub(crate) fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn()?.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn()?.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}
