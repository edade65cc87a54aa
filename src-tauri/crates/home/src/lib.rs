//! Hearth's one home folder. Every piece of state (the database, the models folder by default, logs)
//! lives below it, so a test, a portable install or a second profile sets `HEARTH_HOME` and never
//! touches the person's own data.
//!
//! Resolution order: `HEARTH_HOME` if set and not empty, else the platform's app-data folder
//! (`~/.local/share/hearth`, `~/Library/Application Support/Hearth`, `%APPDATA%\Hearth`).

use std::path::{Path, PathBuf};

use types::{ErrorCode, HearthError};

pub const ENV_VAR: &str = "HEARTH_HOME";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home for this process: `HEARTH_HOME`, or the platform default. Creates the folder.
    pub fn resolve() -> Result<Self, HearthError> {
        let from_env = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()).map(PathBuf::from);
        let root = match from_env {
            Some(path) => path,
            None => platform_default().ok_or_else(|| {
                HearthError::new(
                    ErrorCode::HomeUnavailable,
                    "Hearth could not find a folder for its data. Set HEARTH_HOME to a writable folder.",
                )
            })?,
        };
        Self::at(root)
    }

    /// A home at an explicit folder, created if missing.
    pub fn at(root: impl Into<PathBuf>) -> Result<Self, HearthError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| {
            HearthError::new(ErrorCode::HomeUnavailable, format!("Hearth could not create its data folder {}.", root.display()))
                .with_details(e.to_string())
        })?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The default models folder. A setting may point elsewhere later; this is where it starts.
    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    pub fn database_path(&self) -> PathBuf {
        self.root.join("hearth.sqlite3")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}

fn platform_default() -> Option<PathBuf> {
    // macOS and Windows conventionally capitalise app folders; Linux's XDG folders are lower case.
    let name = if cfg!(target_os = "linux") { "hearth" } else { "Hearth" };
    dirs::data_dir().map(|d| d.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_lives_below_the_root() {
        let dir = std::env::temp_dir().join(format!("hearth-home-test-{}", std::process::id()));
        let home = Home::at(&dir).unwrap();
        assert!(dir.is_dir());
        for p in [home.models_dir(), home.database_path(), home.logs_dir()] {
            assert!(p.starts_with(&dir), "{} escapes the home folder", p.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_home_is_a_clear_error() {
        // A path below a regular file can never be created.
        let file = std::env::temp_dir().join(format!("hearth-home-file-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        let err = Home::at(file.join("sub")).unwrap_err();
        assert_eq!(err.code, ErrorCode::HomeUnavailable);
        assert!(err.message.contains("could not create"));
        std::fs::remove_file(&file).unwrap();
    }
}
