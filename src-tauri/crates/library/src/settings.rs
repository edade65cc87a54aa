//! The settings a person can change, kept in the database: where models are downloaded, and which
//! Hub to talk to. The environment wins over a saved value (`HF_ENDPOINT`, `HF_TOKEN`), as in every
//! Hugging Face tool, and Settings shows when it does.

use std::path::{Path, PathBuf};

use hub::HubClient;
use store::Store;
use types::{Settings, SettingsChange};

use crate::token::TokenStore;
use crate::{LibraryError, Result};

const MODELS_DIR: &str = "models_dir";
const HUB_ENDPOINT: &str = "hub_endpoint";
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where downloads go: the saved folder, else `default` (the home's `models/`).
pub fn models_dir(store: &Store, default: &Path) -> PathBuf {
    store.setting(MODELS_DIR).ok().flatten().filter(|s| !s.is_empty()).map(PathBuf::from).unwrap_or_else(|| default.to_path_buf())
}

/// The Hub's address and whether `HF_ENDPOINT` chose it.
pub fn hub_endpoint(store: &Store) -> (String, bool) {
    if let Some(e) = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.trim().is_empty()) {
        return (e.trim().trim_end_matches('/').to_string(), true);
    }
    let saved = store.setting(HUB_ENDPOINT).ok().flatten().filter(|s| !s.is_empty());
    (saved.unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()), false)
}

/// A Hub client for the endpoint and token in effect now.
pub fn hub_client(store: &Store, tokens: &TokenStore) -> Result<HubClient> {
    let (endpoint, _) = hub_endpoint(store);
    Ok(HubClient::new(&endpoint, tokens.get().map(|(t, _)| t))?)
}

pub fn current(store: &Store, tokens: &TokenStore, default_models_dir: &Path) -> Settings {
    let dir = models_dir(store, default_models_dir);
    let (hub_endpoint, hub_endpoint_from_env) = hub_endpoint(store);
    Settings {
        models_dir_is_default: dir == default_models_dir,
        models_dir: dir.display().to_string(),
        hub_endpoint,
        hub_endpoint_from_env,
        token: tokens.status(),
    }
}

/// Apply a change from Settings after checking every field, so a bad value changes nothing.
pub fn apply(store: &Store, tokens: &TokenStore, change: &SettingsChange) -> Result<()> {
    let dir = change.models_dir.as_deref().map(str::trim).map(checked_folder).transpose()?;
    let endpoint = change.hub_endpoint.as_deref().map(str::trim).map(checked_endpoint).transpose()?;
    if let Some(dir) = dir {
        store.set_setting(MODELS_DIR, &dir)?;
    }
    if let Some(endpoint) = endpoint {
        store.set_setting(HUB_ENDPOINT, &endpoint)?;
    }
    match change.token.as_deref().map(str::trim) {
        Some("") => tokens.clear()?,
        Some(t) => {
            tokens.set(t)?;
        }
        None => {}
    }
    Ok(())
}

/// An absolute folder Hearth can write to (created if missing); "" for the default.
fn checked_folder(dir: &str) -> Result<String> {
    if dir.is_empty() {
        return Ok(String::new());
    }
    let path = PathBuf::from(dir);
    if !path.is_absolute() {
        return Err(LibraryError::Invalid(format!("Choose a full path for the models folder, not {dir:?}.")));
    }
    std::fs::create_dir_all(&path).map_err(|e| LibraryError::Invalid(format!("Hearth cannot create {dir}: {e}")))?;
    // Writable, or every download would fail at its first byte.
    let probe = path.join(".hearth-write-test");
    std::fs::write(&probe, b"").map_err(|e| LibraryError::Invalid(format!("Hearth cannot write to {dir}: {e}")))?;
    let _ = std::fs::remove_file(probe);
    Ok(path.display().to_string())
}

/// An https address without a trailing slash (http only for a Hub on this machine, see
/// [`hub::checked_endpoint`]); "" for huggingface.co.
fn checked_endpoint(url: &str) -> Result<String> {
    if url.is_empty() {
        return Ok(String::new());
    }
    match hub::checked_endpoint(url) {
        Ok(_) if !url.contains(char::is_whitespace) => Ok(url.trim_end_matches('/').to_string()),
        Err(hub::HubError::InsecureEndpoint(_)) => Err(LibraryError::Invalid(format!(
            "The Hub address must start with https://; plain http:// is only for a Hub on this computer, not {url:?}."
        ))),
        _ => Err(LibraryError::Invalid(format!("The Hub address must start with https://, not {url:?}."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_changes_nothing_and_good_ones_stick() {
        let store = Store::in_memory().unwrap();
        let home = std::env::temp_dir().join(format!("hearth-settings-{}", std::process::id()));
        let tokens = TokenStore::new(Box::new(crate::token::NoKeychain), &home);
        let default = home.join("models");
        let bad =
            SettingsChange { models_dir: Some(home.join("m2").display().to_string()), hub_endpoint: Some("ftp://x".into()), token: None };
        assert!(apply(&store, &tokens, &bad).unwrap_err().to_string().contains("https://"));
        assert_eq!(models_dir(&store, &default), default, "the folder did not change with a bad endpoint");
        assert!(apply(&store, &tokens, &SettingsChange { models_dir: Some("relative/dir".into()), ..Default::default() }).is_err());

        let good = SettingsChange {
            models_dir: Some(home.join("m2").display().to_string()),
            hub_endpoint: Some("http://127.0.0.1:9/".into()),
            token: None,
        };
        apply(&store, &tokens, &good).unwrap();
        assert_eq!(models_dir(&store, &default), home.join("m2"));
        let s = current(&store, &tokens, &default);
        assert!(!s.models_dir_is_default);
        if std::env::var_os("HF_ENDPOINT").is_none() {
            assert_eq!(s.hub_endpoint, "http://127.0.0.1:9");
            assert!(!s.hub_endpoint_from_env);
        }
        // Off this machine, only https: the token and every file would cross the network in the clear.
        for insecure in ["http://mirror.example.com", "http://192.168.1.5:8080", "http://127.0.0.1.example.com"] {
            let change = SettingsChange { hub_endpoint: Some(insecure.into()), ..Default::default() };
            let err = apply(&store, &tokens, &change).unwrap_err().to_string();
            assert!(err.contains("only for a Hub on this computer"), "{insecure}: {err}");
        }
        for fine in ["https://hf-mirror.com", "http://localhost:8080", "http://[::1]:9000"] {
            apply(&store, &tokens, &SettingsChange { hub_endpoint: Some(fine.into()), ..Default::default() }).unwrap();
        }
        // Empty strings go back to the defaults.
        apply(&store, &tokens, &SettingsChange { models_dir: Some(String::new()), hub_endpoint: Some(String::new()), token: None })
            .unwrap();
        assert_eq!(models_dir(&store, &default), default);
        let _ = std::fs::remove_dir_all(&home);
    }
}
