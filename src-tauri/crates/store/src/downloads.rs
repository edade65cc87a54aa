//! Downloads in flight, kept so a restarted app picks them up where they were.

use rusqlite::{params, OptionalExtension, Row};

use types::DownloadState;

use crate::{now, Result, Store};

/// How a download's state is written in the database: the one enum, the window's
/// (`types::DownloadState`), stored as its name.
fn status_str(s: DownloadState) -> &'static str {
    match s {
        DownloadState::Queued => "queued",
        DownloadState::Running => "running",
        DownloadState::Paused => "paused",
        DownloadState::Failed => "failed",
        DownloadState::Done => "done",
        DownloadState::Cancelled => "cancelled",
    }
}

fn parse_status(s: &str) -> DownloadState {
    match s {
        "running" => DownloadState::Running,
        "paused" => DownloadState::Paused,
        "failed" => DownloadState::Failed,
        "done" => DownloadState::Done,
        "cancelled" => DownloadState::Cancelled,
        _ => DownloadState::Queued,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewDownload {
    pub repo: String,
    pub revision: String,
    pub file: String,
    pub url: String,
    pub dest: String,
    pub size: u64,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub id: i64,
    pub spec: NewDownload,
    pub status: DownloadState,
    pub error: Option<String>,
}

fn row(r: &Row<'_>) -> rusqlite::Result<Download> {
    Ok(Download {
        id: r.get(0)?,
        spec: NewDownload {
            repo: r.get(1)?,
            revision: r.get(2)?,
            file: r.get(3)?,
            url: r.get(4)?,
            dest: r.get(5)?,
            size: r.get::<_, i64>(6)? as u64,
            sha256: r.get(7)?,
        },
        status: parse_status(&r.get::<_, String>(8)?),
        error: r.get(9)?,
    })
}

const COLUMNS: &str = "id, repo, revision, file, url, dest, size, sha256, status, error";

impl Store {
    /// Queue a download; the same file again returns the existing one (re-queued if it had failed or
    /// been cancelled).
    pub fn enqueue_download(&self, d: &NewDownload) -> Result<Download> {
        let conn = self.conn()?;
        let t = now();
        conn.execute(
            "INSERT INTO downloads (repo, revision, file, url, dest, size, sha256, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?8)
             ON CONFLICT(repo, revision, file) DO UPDATE SET
               status = CASE WHEN downloads.status IN ('failed', 'cancelled') THEN 'queued' ELSE downloads.status END,
               error = NULL, updated_at = excluded.updated_at",
            params![d.repo, d.revision, d.file, d.url, d.dest, d.size as i64, d.sha256, t],
        )?;
        Ok(conn.query_row(
            &format!("SELECT {COLUMNS} FROM downloads WHERE repo = ?1 AND revision = ?2 AND file = ?3"),
            params![d.repo, d.revision, d.file],
            row,
        )?)
    }

    /// The download of this file, if it was ever queued.
    pub fn find_download(&self, repo: &str, revision: &str, file: &str) -> Result<Option<Download>> {
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {COLUMNS} FROM downloads WHERE repo = ?1 AND revision = ?2 AND file = ?3"),
                params![repo, revision, file],
                row,
            )
            .optional()?)
    }

    /// Give a download a new spec (the Hub's size and sha256 now, where it goes now) and status, if it
    /// is still in status `expected` (the queue may have started it meanwhile). Returns the row as it
    /// is after.
    pub fn respecify_download(&self, id: i64, expected: DownloadState, d: &NewDownload, status: DownloadState) -> Result<Option<Download>> {
        let conn = self.conn()?;
        conn.execute(
            "UPDATE downloads SET url = ?3, dest = ?4, size = ?5, sha256 = ?6, status = ?7, error = NULL, updated_at = ?8
             WHERE id = ?1 AND status = ?2",
            params![id, status_str(expected), d.url, d.dest, d.size as i64, d.sha256, status_str(status), now()],
        )?;
        Ok(conn.query_row(&format!("SELECT {COLUMNS} FROM downloads WHERE id = ?1"), [id], row).optional()?)
    }

    pub fn download(&self, id: i64) -> Result<Option<Download>> {
        Ok(self.conn()?.query_row(&format!("SELECT {COLUMNS} FROM downloads WHERE id = ?1"), [id], row).optional()?)
    }

    pub fn downloads(&self) -> Result<Vec<Download>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM downloads ORDER BY created_at, id"))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub fn set_download_status(&self, id: i64, status: DownloadState, error: Option<&str>) -> Result<()> {
        self.conn()?.execute(
            "UPDATE downloads SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, status_str(status), error, now()],
        )?;
        Ok(())
    }

    /// After a restart: whatever was running when the app died goes back to the queue.
    pub fn requeue_interrupted(&self) -> Result<usize> {
        Ok(self.conn()?.execute("UPDATE downloads SET status = 'queued' WHERE status = 'running'", [])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(file: &str) -> NewDownload {
        NewDownload {
            repo: "org/model".into(),
            revision: "main".into(),
            file: file.into(),
            url: "http://x".into(),
            dest: format!("/m/{file}"),
            size: 10,
            sha256: None,
        }
    }

    #[test]
    fn a_download_survives_a_restart_and_is_not_queued_twice() {
        let dir = std::env::temp_dir().join(format!("hearth-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.sqlite3");
        let id = {
            let s = Store::open(&path).unwrap();
            let d = s.enqueue_download(&spec("a.gguf")).unwrap();
            s.set_download_status(d.id, DownloadState::Running, None).unwrap();
            assert_eq!(s.enqueue_download(&spec("a.gguf")).unwrap().id, d.id);
            d.id
        };
        let s = Store::open(&path).unwrap();
        assert_eq!(s.requeue_interrupted().unwrap(), 1);
        assert_eq!(s.download(id).unwrap().unwrap().status, DownloadState::Queued);
        s.set_download_status(id, DownloadState::Failed, Some("boom")).unwrap();
        let again = s.enqueue_download(&spec("a.gguf")).unwrap();
        assert_eq!((again.status, again.error), (DownloadState::Queued, None));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_download_is_respecified_only_in_the_status_it_was_seen_in() {
        let s = Store::in_memory().unwrap();
        let d = s.enqueue_download(&spec("a.gguf")).unwrap();
        s.set_download_status(d.id, DownloadState::Done, None).unwrap();
        let newer = NewDownload { size: 20, sha256: Some("cd".into()), dest: "/n/a.gguf".into(), ..spec("a.gguf") };
        // Seen queued, but it is done by now: nothing changes.
        let after = s.respecify_download(d.id, DownloadState::Queued, &newer, DownloadState::Queued).unwrap().unwrap();
        assert_eq!((after.status, after.spec.size), (DownloadState::Done, 10));
        let after = s.respecify_download(d.id, DownloadState::Done, &newer, DownloadState::Queued).unwrap().unwrap();
        assert_eq!((after.status, &after.spec), (DownloadState::Queued, &newer));
        assert_eq!(s.find_download("org/model", "main", "a.gguf").unwrap().unwrap().id, d.id);
        assert!(s.find_download("org/model", "main", "b.gguf").unwrap().is_none());
    }

    #[test]
    fn migrations_are_recorded_and_a_newer_database_is_refused() {
        let s = Store::in_memory().unwrap();
        assert_eq!(s.schema_version().unwrap(), crate::migrations::known());
        s.set_setting("models_dir", "/x").unwrap();
        s.set_setting("models_dir", "/y").unwrap();
        assert_eq!(s.setting("models_dir").unwrap().as_deref(), Some("/y"));
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        assert!(matches!(crate::migrations::migrate(&mut conn), Err(crate::StoreError::TooNew { found: 999, .. })));
    }

    #[test]
    fn the_library_lists_each_path_once() {
        let s = Store::in_memory().unwrap();
        let a = s.upsert_model("/m/a.gguf", crate::ModelSource::Downloaded, Some("org/m"), Some("a.gguf"), 5, Some("ab")).unwrap();
        let b = s.upsert_model("/m/a.gguf", crate::ModelSource::Downloaded, None, None, 6, None).unwrap();
        assert_eq!(a, b);
        let rows = s.models().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].size, rows[0].sha256.as_deref()), (6, Some("ab")));
        s.remove_model(a).unwrap();
        assert!(s.models().unwrap().is_empty());
    }
}
