//! The Hugging Face token: `HF_TOKEN` when set (it wins, as in every Hugging Face tool), else the one
//! saved from Settings in the operating system's keychain. Where no keychain answers (a headless
//! Linux box without a Secret Service), it is kept in a file in Hearth's home that only this user can
//! read, and Settings says so. The token itself is never logged, printed or sent back to the window:
//! only a hint of its last characters.

use std::path::{Path, PathBuf};

use types::{TokenPlace, TokenStatus};

use crate::{LibraryError, Result};

/// A place that keeps one secret. The OS keychain in the app; fakes in tests.
pub trait Keychain: Send + Sync {
    /// `Ok(None)` when nothing is saved; `Err` when the keychain itself cannot be used.
    fn get(&self) -> std::result::Result<Option<String>, String>;
    fn set(&self, secret: &str) -> std::result::Result<(), String>;
    fn delete(&self) -> std::result::Result<(), String>;
}

/// One secret in the operating system's keychain, through the `keyring` crate: Hearth's entry
/// named `account`.
pub struct OsKeychain {
    account: String,
}

const SERVICE: &str = "Hearth";
const ACCOUNT: &str = "huggingface-token";

impl OsKeychain {
    pub fn new(account: impl Into<String>) -> Self {
        Self { account: account.into() }
    }

    fn entry(&self) -> std::result::Result<keyring::Entry, String> {
        keyring::Entry::new(SERVICE, &self.account).map_err(|e| e.to_string())
    }
}

/// The keychain entry `account`, or none when `HEARTH_NO_KEYCHAIN=1` (tests and portable installs
/// must not touch the person's own keychain).
pub fn keychain_for(account: &str) -> Box<dyn Keychain> {
    if std::env::var_os("HEARTH_NO_KEYCHAIN").is_some_and(|v| v == "1") {
        Box::new(NoKeychain)
    } else {
        Box::new(OsKeychain::new(account))
    }
}

impl Keychain for OsKeychain {
    fn get(&self) -> std::result::Result<Option<String>, String> {
        match self.entry()?.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
    fn set(&self, secret: &str) -> std::result::Result<(), String> {
        self.entry()?.set_password(secret).map_err(|e| e.to_string())
    }
    fn delete(&self) -> std::result::Result<(), String> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// One secret kept in the keychain, or in a private file where no keychain answers: the Hub token,
/// a connection's key. Never in both (a stale copy in the file would come back after a keychain
/// reset).
pub struct Secret {
    keychain: Box<dyn Keychain>,
    file: PathBuf,
}

impl Secret {
    pub fn new(keychain: Box<dyn Keychain>, file: PathBuf) -> Self {
        Self { keychain, file }
    }

    /// The secret and where it is kept, if it is.
    pub fn get(&self) -> Option<(String, TokenPlace)> {
        if let Ok(Some(t)) = self.keychain.get() {
            return Some((t, TokenPlace::Keychain));
        }
        let t = std::fs::read_to_string(&self.file).ok()?;
        let t = t.trim();
        (!t.is_empty()).then(|| (t.to_string(), TokenPlace::File))
    }

    /// Keep `value` (already checked), in the keychain or else the private file; `what` names it in
    /// the log and the error.
    pub fn set(&self, value: &str, what: &str) -> Result<TokenPlace> {
        match self.keychain.set(value) {
            Ok(()) => {
                let _ = std::fs::remove_file(&self.file);
                Ok(TokenPlace::Keychain)
            }
            Err(why) => {
                tracing::info!("no keychain ({why}); keeping {what} in a private file");
                write_private(&self.file, value).map_err(|e| LibraryError::Invalid(format!("{what} could not be saved: {e}")))?;
                Ok(TokenPlace::File)
            }
        }
    }

    /// Forget it, from both places.
    pub fn clear(&self, what: &str) -> Result<()> {
        let _ = self.keychain.delete();
        match std::fs::remove_file(&self.file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LibraryError::Invalid(format!("{what} could not be removed: {e}"))),
        }
    }
}

pub struct TokenStore {
    secret: Secret,
    /// `HF_TOKEN` as this process found it (it wins over the saved one); tests set their own.
    environment: Option<String>,
}

impl TokenStore {
    /// The token store for Hearth's home folder. `HEARTH_NO_KEYCHAIN=1` skips the keychain (for tests
    /// and portable installs, which must not touch the person's own keychain).
    pub fn for_home(home: &Path) -> Self {
        Self::new(keychain_for(ACCOUNT), home)
    }

    pub fn new(keychain: Box<dyn Keychain>, home: &Path) -> Self {
        let secret = Secret::new(keychain, home.join("secrets").join("hf-token"));
        Self { secret, environment: None }.with_environment(std::env::var("HF_TOKEN").ok())
    }

    /// The store with this `HF_TOKEN` instead of the process's (tests: none reads the environment
    /// it runs in).
    pub fn with_environment(self, token: Option<String>) -> Self {
        Self { environment: environment_token(token), ..self }
    }

    /// The token to send to the Hub, and where it came from.
    pub fn get(&self) -> Option<(String, TokenPlace)> {
        if let Some(t) = &self.environment {
            return Some((t.clone(), TokenPlace::Environment));
        }
        self.secret.get()
    }

    pub fn status(&self) -> Option<TokenStatus> {
        self.get().map(|(t, place)| TokenStatus { hint: hint(&t), place })
    }

    /// Save a token: in the keychain, or in the private file when no keychain answers.
    pub fn set(&self, token: &str) -> Result<TokenPlace> {
        let token = token.trim();
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) || token.len() > 512 {
            return Err(LibraryError::Invalid("That does not look like a Hugging Face token (hf_…, one word).".into()));
        }
        self.secret.set(token, "The Hugging Face token")
    }

    /// Forget the saved token (from both places). `HF_TOKEN`, if set, still applies.
    pub fn clear(&self) -> Result<()> {
        self.secret.clear("The saved token")
    }
}

/// `HF_TOKEN`'s value as a token: trimmed, and none when blank.
fn environment_token(value: Option<String>) -> Option<String> {
    value.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// A keychain that is never there.
pub struct NoKeychain;

impl Keychain for NoKeychain {
    fn get(&self) -> std::result::Result<Option<String>, String> {
        Ok(None)
    }
    fn set(&self, _: &str) -> std::result::Result<(), String> {
        Err("the keychain is turned off (HEARTH_NO_KEYCHAIN)".into())
    }
    fn delete(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// `hf_…Xy9z`.
pub(crate) fn hint(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    let head: String = chars.iter().take_while(|c| **c != '_').take(3).collect();
    if chars.len() <= 8 {
        return "…".to_string();
    }
    if token.starts_with("hf_") {
        format!("hf_…{tail}")
    } else {
        format!("{head}…{tail}")
    }
}

/// Write `secret` to `path`, readable by this user only, replacing any earlier file atomically.
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("no folder"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    std::io::Write::write_all(&mut opts.open(&tmp)?, secret.as_bytes())?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A keychain in memory, shared with the test so it can look inside.
    #[derive(Clone, Default)]
    struct Fake(Arc<Mutex<Option<String>>>);

    impl Keychain for Fake {
        fn get(&self) -> std::result::Result<Option<String>, String> {
            Ok(self.0.lock().unwrap().clone())
        }
        fn set(&self, s: &str) -> std::result::Result<(), String> {
            *self.0.lock().unwrap() = Some(s.to_string());
            Ok(())
        }
        fn delete(&self) -> std::result::Result<(), String> {
            *self.0.lock().unwrap() = None;
            Ok(())
        }
    }

    fn home(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hearth-token-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_token_goes_to_the_keychain_and_only_a_hint_comes_back() {
        let keychain = Fake::default();
        let h = home("keychain");
        let store = TokenStore::new(Box::new(keychain.clone()), &h).with_environment(None);
        assert_eq!(store.set("  hf_abcdefghijklmnopWXYZ \n").unwrap(), TokenPlace::Keychain);
        assert_eq!(keychain.0.lock().unwrap().as_deref(), Some("hf_abcdefghijklmnopWXYZ"));
        assert!(!h.join("secrets/hf-token").exists(), "no copy on disk when the keychain took it");
        let status = store.status().unwrap();
        assert_eq!(status, TokenStatus { hint: "hf_…WXYZ".into(), place: TokenPlace::Keychain });
        assert!(!serde_json::to_string(&status).unwrap().contains("abcdefgh"));
        store.clear().unwrap();
        assert!(store.get().is_none());
    }

    #[test]
    fn without_a_keychain_the_token_is_kept_in_a_private_file() {
        let h = home("file");
        let store = TokenStore::new(Box::new(NoKeychain), &h).with_environment(None);
        assert_eq!(store.set("hf_secretsecretsecret1234").unwrap(), TokenPlace::File);
        assert_eq!(store.get(), Some(("hf_secretsecretsecret1234".to_string(), TokenPlace::File)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(h.join("secrets/hf-token")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.clear().unwrap();
        assert!(store.get().is_none());
        std::fs::remove_dir_all(&h).unwrap();
    }

    #[test]
    fn hf_token_wins_over_the_saved_one_and_a_blank_one_counts_as_none() {
        let keychain = Fake::default();
        let store = TokenStore::new(Box::new(keychain.clone()), &home("env")).with_environment(Some(" hf_fromtheenvironment1 \n".into()));
        store.set("hf_savedsavedsaved1234").unwrap();
        assert_eq!(store.get(), Some(("hf_fromtheenvironment1".to_string(), TokenPlace::Environment)));
        store.clear().unwrap();
        assert_eq!(store.status().map(|s| s.place), Some(TokenPlace::Environment), "HF_TOKEN still applies after a clear");
        let blank = TokenStore::new(Box::new(keychain), &home("env-blank")).with_environment(Some("  ".into()));
        blank.set("hf_savedsavedsaved1234").unwrap();
        assert_eq!(blank.get().map(|(_, place)| place), Some(TokenPlace::Keychain));
    }

    #[test]
    fn junk_is_refused_as_a_token() {
        let store = TokenStore::new(Box::new(Fake::default()), &home("junk"));
        assert!(store.set("").is_err());
        assert!(store.set("hf_two words").is_err());
    }

    #[test]
    fn hints_never_show_most_of_the_token() {
        assert_eq!(hint("hf_AbCdEfGhIjKlMnOp"), "hf_…MnOp");
        assert_eq!(hint("short"), "…");
        assert_eq!(hint("api_0123456789abcdef"), "api…cdef");
    }
}
