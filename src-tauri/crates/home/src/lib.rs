//! Hearth's one home folder. Every piece of state (the database, the models folder by default, logs)
//! lives below it, so a test, a portable install or a second profile sets `HEARTH_HOME` and never
//! touches the person's own data.
//!
//! Resolution order: `HEARTH_HOME` if set and not empty, else the platform's app-data folder
//! (`~/.local/share/hearth`, `~/Library/Application Support/Hearth`, `%APPDATA%\Hearth`).
//!
//! The folder holds the conversations, the database's settings and, without a keychain, the Hugging
//! Face token: on Unix it is this user's alone (0700), created so and tightened when it already
//! exists (an older Hearth, or a folder made by hand, left it as the umask said), and so are the
//! database (0600) and `secrets/` (0700, its files 0600).

use std::path::{Path, PathBuf};

use types::{shown_path, Audience, ErrorCode, HearthError, Problem};

pub const ENV_VAR: &str = "HEARTH_HOME";

/// Why Hearth has no home folder to work in.
#[derive(Debug, Clone)]
pub enum HomeError {
    NoFolder,
    Create { path: PathBuf, reason: String },
    Private { path: PathBuf, reason: String },
}

impl Problem for HomeError {
    fn code(&self) -> ErrorCode {
        ErrorCode::HomeUnavailable
    }

    fn sentence(&self, to: Audience) -> String {
        match self {
            HomeError::NoFolder => "Hearth could not find a folder for its data. Set HEARTH_HOME to a writable folder.".into(),
            HomeError::Create { path, .. } => format!("Hearth could not create its data folder {}.", shown_path(path, to)),
            HomeError::Private { path, .. } => format!("Hearth could not make its data folder {} private to you.", shown_path(path, to)),
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            HomeError::NoFolder => None,
            HomeError::Create { reason, .. } | HomeError::Private { reason, .. } => Some(reason.clone()),
        }
    }
}

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
            None => platform_default().ok_or(HomeError::NoFolder)?,
        };
        Self::at(root)
    }

    /// A home at an explicit folder, created if missing, and private to this user on Unix.
    pub fn at(root: impl Into<PathBuf>) -> Result<Self, HearthError> {
        let root = root.into();
        create_private_dir(&root).map_err(|e| HomeError::Create { path: root.clone(), reason: e.to_string() })?;
        let home = Self { root };
        home.make_private().map_err(|e| HomeError::Private { path: home.root.clone(), reason: e.to_string() })?;
        Ok(home)
    }

    /// Tighten what is already there: the folder, the database and its journals, `mcp.json` (its
    /// servers' env values and headers may be keys), `secrets/`.
    fn make_private(&self) -> std::io::Result<()> {
        restrict(&self.root, DIR_MODE)?;
        restrict_if_present(&self.mcp_config_path(), FILE_MODE)?;
        let db = self.database_path();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = db.clone().into_os_string();
            path.push(suffix);
            restrict_if_present(Path::new(&path), FILE_MODE)?;
        }
        let secrets = self.secrets_dir();
        if secrets.is_dir() {
            restrict(&secrets, DIR_MODE)?;
            for entry in std::fs::read_dir(&secrets)? {
                let path = entry?.path();
                if path.is_file() {
                    restrict_if_present(&path, FILE_MODE)?;
                }
            }
        }
        Ok(())
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

    /// The MCP servers Hearth may start, in Cursor's / LM Studio's notation (`mcp` crate).
    pub fn mcp_config_path(&self) -> PathBuf {
        self.root.join("mcp.json")
    }

    /// Pictures attached in Chat, each kept once by the hash of its bytes (`chat::pictures`).
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Secrets kept as files where no keychain answers (the Hugging Face token): 0700, files 0600.
    pub fn secrets_dir(&self) -> PathBuf {
        self.root.join("secrets")
    }
}

/// rwx for this user only.
const DIR_MODE: u32 = 0o700;
/// rw for this user only.
const FILE_MODE: u32 = 0o600;

/// Create `dir` (and its parents), the folder itself with [`DIR_MODE`] from the start, so there is no
/// moment where another user could open it. Parents get the usual mode: they are not Hearth's.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    match builder.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Set `path`'s permission bits to `mode` (Unix; elsewhere the folder's ACLs already keep it to the
/// user). A shared folder with the sticky bit (`/tmp`) is refused rather than changed: a home
/// pointed at it by mistake must not lock every other user out of it.
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode();
        if current & 0o1000 != 0 {
            return Err(std::io::Error::other(format!("{} is a shared folder (like /tmp); choose a folder of your own", path.display())));
        }
        if current & 0o7777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// [`restrict`], for a file that may not exist (yet).
fn restrict_if_present(path: &Path, mode: u32) -> std::io::Result<()> {
    match restrict(path, mode) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
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

    /// Issue 13: the home folder is this user's alone, created so and tightened if it was not, and so
    /// are the database, its journals and the secrets already in it.
    #[cfg(unix)]
    #[test]
    fn the_home_and_what_it_keeps_are_private_to_this_user() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let dir = std::env::temp_dir().join(format!("hearth-home-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);

        let fresh = dir.join("fresh");
        Home::at(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700, "created private");

        // A home an older Hearth left open to everyone.
        let old = dir.join("old");
        std::fs::create_dir_all(old.join("secrets")).unwrap();
        for (file, m) in [("hearth.sqlite3", 0o644), ("hearth.sqlite3-wal", 0o666), ("secrets/hf-token", 0o644)] {
            std::fs::write(old.join(file), b"x").unwrap();
            std::fs::set_permissions(old.join(file), std::fs::Permissions::from_mode(m)).unwrap();
        }
        for d in [&old, &old.join("secrets")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let home = Home::at(&old).unwrap();
        assert_eq!(mode(home.root()), 0o700);
        assert_eq!(mode(&home.secrets_dir()), 0o700);
        assert_eq!(mode(&home.database_path()), 0o600);
        assert_eq!(mode(&old.join("hearth.sqlite3-wal")), 0o600);
        assert_eq!(mode(&old.join("secrets/hf-token")), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A home pointed at a shared folder by mistake is refused, not made private: chmod 0700 on /tmp
    /// would lock every other user out of it.
    #[cfg(unix)]
    #[test]
    fn a_shared_folder_is_not_taken_over() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hearth-home-shared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = Home::at(&dir).unwrap_err();
        assert_eq!(err.code, ErrorCode::HomeUnavailable);
        assert!(err.details.unwrap_or_default().contains("shared folder"));
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o1777, "left as it was");
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
