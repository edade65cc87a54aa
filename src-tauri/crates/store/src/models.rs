//! The library: model files Hearth knows, wherever they live.

use rusqlite::params;

use crate::{now, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    Downloaded,
    Imported,
    HfCache,
    LmStudio,
}

impl ModelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSource::Downloaded => "downloaded",
            ModelSource::Imported => "imported",
            ModelSource::HfCache => "hf-cache",
            ModelSource::LmStudio => "lmstudio",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "imported" => ModelSource::Imported,
            "hf-cache" => ModelSource::HfCache,
            "lmstudio" => ModelSource::LmStudio,
            _ => ModelSource::Downloaded,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub id: i64,
    pub path: String,
    pub source: ModelSource,
    pub repo: Option<String>,
    pub file: Option<String>,
    pub size: u64,
    pub sha256: Option<String>,
}

impl Store {
    /// Add (or refresh) a model file; returns its id.
    pub fn upsert_model(
        &self,
        path: &str,
        source: ModelSource,
        repo: Option<&str>,
        file: Option<&str>,
        size: u64,
        sha256: Option<&str>,
    ) -> Result<i64> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO models (path, source, repo, file, size, sha256, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(path) DO UPDATE SET size = excluded.size, sha256 = COALESCE(excluded.sha256, models.sha256)",
            params![path, source.as_str(), repo, file, size as i64, sha256, now()],
        )?;
        Ok(conn.query_row("SELECT id FROM models WHERE path = ?1", [path], |r| r.get(0))?)
    }

    pub fn models(&self) -> Result<Vec<ModelRow>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT id, path, source, repo, file, size, sha256 FROM models ORDER BY added_at DESC, id DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok(ModelRow {
                id: r.get(0)?,
                path: r.get(1)?,
                source: ModelSource::parse(&r.get::<_, String>(2)?),
                repo: r.get(3)?,
                file: r.get(4)?,
                size: r.get::<_, i64>(5)? as u64,
                sha256: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub fn remove_model(&self, id: i64) -> Result<()> {
        self.conn()?.execute("DELETE FROM models WHERE id = ?1", [id])?;
        Ok(())
    }
}
