//! Hearth's one SQLite database (`hearth.sqlite3` in the home folder): the library of model files,
//! conversations and their messages, the downloads in flight (so a restarted app resumes them),
//! settings, and the local API's stored responses. Schema changes are numbered migrations applied in
//! order and recorded in `PRAGMA user_version`; a database from a newer Hearth is refused rather
//! than damaged.
//!
//! The file holds conversations and settings: on Unix it and its journals are this user's alone
//! (0600), created so and tightened when an older Hearth left them readable by others.

mod conversations;
mod downloads;
mod message_images;
mod migrations;
mod models;
mod responses;
mod tool_calls;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension};

pub use conversations::{ConversationRow, MessageRow};
pub use downloads::{Download, NewDownload};
pub use message_images::StoredImage;
pub use models::{ModelRow, ModelSource};
pub use responses::{StoredResponse, RESPONSE_DAYS};
pub use tool_calls::NewToolCall;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is from a newer Hearth (schema {found}, this one knows {known}); update Hearth")]
    TooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is busy")]
    Poisoned,
    #[error("the database could not be made private to you: {0}")]
    Private(std::io::Error),
}

/// What the person reads: a database from a newer Hearth says so (they can act on it); SQLite's own
/// words go to the details.
impl types::Problem for StoreError {
    fn code(&self) -> types::ErrorCode {
        match self {
            StoreError::TooNew { .. } | StoreError::Private(_) => types::ErrorCode::HomeUnavailable,
            StoreError::Sqlite(_) | StoreError::Poisoned => types::ErrorCode::Internal,
        }
    }

    fn sentence(&self, _to: types::Audience) -> String {
        match self {
            StoreError::TooNew { found, known } => {
                format!("Hearth's database is from a newer Hearth (schema {found}, this one knows {known}): update Hearth.")
            }
            StoreError::Private(_) => "Hearth could not make its database private to you.".into(),
            StoreError::Sqlite(_) | StoreError::Poisoned => "Hearth could not read or write its database.".into(),
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            StoreError::Sqlite(e) => Some(e.to_string()),
            StoreError::Private(e) => Some(e.to_string()),
            StoreError::TooNew { .. } | StoreError::Poisoned => None,
        }
    }
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

/// Create the database file with mode 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm`
/// files the database's mode), and tighten a database and journals that already exist.
fn make_private(path: &Path) -> std::io::Result<()> {
    let mut create = std::fs::OpenOptions::new();
    create.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    drop(create.open(path)?);
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm", "-journal"] {
        use std::os::unix::fs::PermissionsExt;
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::metadata(&p) {
            Ok(m) if m.permissions().mode() & 0o777 != 0o600 => std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        make_private(path).map_err(StoreError::Private)?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::with(conn)
    }

    pub fn in_memory() -> Result<Self> {
        Self::with(Connection::open_in_memory()?)
    }

    fn with(mut conn: Connection) -> Result<Self> {
        // A reply's tool calls go with it (ON DELETE CASCADE), in memory as on disk.
        conn.pragma_update(None, "foreign_keys", "ON")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: the database holds conversations and settings; on Unix only this user may read it.
    #[cfg(unix)]
    #[test]
    fn the_database_and_its_journals_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = std::env::temp_dir().join(format!("hearth-store-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.sqlite3");
        {
            let s = Store::open(&path).unwrap();
            s.set_setting("k", "v").unwrap();
            assert_eq!(mode(&path), 0o600, "created private");
            assert_eq!(mode(&dir.join("h.sqlite3-wal")), 0o600, "SQLite's journal follows the database");
        }
        // One an older Hearth left readable by everyone is tightened when opened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = Store::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(s.setting("k").unwrap().as_deref(), Some("v"), "the data is untouched");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
