//! The settings a person can change, kept in the database: where models are downloaded, which Hub
//! to talk to, and where models run (for all of them, and per model: this module is the one place
//! that turns those into the [`LoadSettings`] every load plans with). The environment wins over a saved value (`HF_ENDPOINT`, `HF_TOKEN`), as in every
//! Hugging Face tool, and Settings shows when it does.

use std::path::{Path, PathBuf};

use hub::HubClient;
use store::Store;
use types::{LoadSettings, RunOnSettings, Settings, SettingsChange};

use crate::token::TokenStore;
use crate::{LibraryError, Result};

const MODELS_DIR: &str = "models_dir";
const HUB_ENDPOINT: &str = "hub_endpoint";
const RUN_ON: &str = "run_on";
const PARALLEL: &str = "parallel";
const MAX_MODELS: &str = "max_models";
/// Models kept loaded at once unless Settings say otherwise (`runtime::DEFAULT_MAX_MODELS`).
pub const DEFAULT_MAX_MODELS: u32 = 2;
/// Followed by the model file's path: that model's own choice.
const MODEL_RUN_ON: &str = "run_on:";
/// Followed by a model's path: the chat template chosen for it.
const MODEL_TEMPLATE: &str = "template:";
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

/// Where models run when a model has no choice of its own.
pub fn run_on(store: &Store) -> RunOnSettings {
    read_run_on(store, RUN_ON).unwrap_or_default()
}

/// The model's own choice of where it runs, if it has one.
pub fn model_run_on(store: &Store, model: &Path) -> Option<RunOnSettings> {
    read_run_on(store, &format!("{MODEL_RUN_ON}{}", model.display()))
}

/// Give a model its own choice of where it runs, or (`None`) make it follow Settings again.
pub fn set_model_run_on(store: &Store, model: &Path, run: Option<&RunOnSettings>) -> Result<()> {
    let value = run.map(run_on_json).transpose()?;
    store.set_setting(&format!("{MODEL_RUN_ON}{}", model.display()), value.as_deref().unwrap_or(""))?;
    Ok(())
}

/// The chat template chosen for `model` (a llama.cpp built-in's name); `None`: the file's own.
pub fn model_template(store: &Store, model: &Path) -> Option<String> {
    store.setting(&format!("{MODEL_TEMPLATE}{}", model.display())).ok().flatten().filter(|s| !s.is_empty())
}

/// Choose a chat template for `model`, or (`None`) go back to the file's own. The name is checked
/// by the caller against the engine's list (`engine::template::family::BUILT_IN`).
pub fn set_model_template(store: &Store, model: &Path, name: Option<&str>) -> Result<()> {
    store.set_setting(&format!("{MODEL_TEMPLATE}{}", model.display()), name.unwrap_or(""))?;
    Ok(())
}

/// The settings a load of `model` plans with: its own choice of where it runs, else the one in
/// Settings. Chat, the server and the model lists all plan with this, so a badge shows what a load
/// will do.
/// Replies a model writes at once, as Settings say; 0 for the planner's choice.
pub fn parallel(store: &Store) -> u32 {
    read_number(store, PARALLEL).filter(|n| *n <= 64).unwrap_or(0)
}

/// Models kept loaded at once, as Settings say.
pub fn max_models(store: &Store) -> u32 {
    read_number(store, MAX_MODELS).filter(|n| (1..=8).contains(n)).unwrap_or(DEFAULT_MAX_MODELS)
}

fn read_number(store: &Store, key: &str) -> Option<u32> {
    store.setting(key).ok().flatten().and_then(|v| v.trim().parse().ok())
}

pub fn load_settings(store: &Store, model: Option<&Path>) -> LoadSettings {
    let parallel = Some(parallel(store)).filter(|n| *n > 0);
    let run = model.and_then(|m| model_run_on(store, m)).unwrap_or_else(|| run_on(store));
    let chat_template = model.and_then(|m| model_template(store, m));
    LoadSettings { run, chat_template, parallel, ..LoadSettings::default() }
}

fn run_on_json(run: &RunOnSettings) -> Result<String> {
    serde_json::to_string(run).map_err(|e| LibraryError::Invalid(e.to_string()))
}

fn read_run_on(store: &Store, key: &str) -> Option<RunOnSettings> {
    let saved = store.setting(key).ok().flatten().filter(|s| !s.is_empty())?;
    match serde_json::from_str(&saved) {
        Ok(run) => Some(run),
        Err(e) => {
            // Written by another version: the default is safe, and saving again replaces it.
            tracing::warn!(key, error = %e, "ignoring a saved run-on setting Hearth cannot read");
            None
        }
    }
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
        run: run_on(store),
        parallel: parallel(store),
        max_models: max_models(store),
    }
}

/// Apply a change from Settings after checking every field, so a bad value changes nothing.
pub fn apply(store: &Store, tokens: &TokenStore, change: &SettingsChange) -> Result<()> {
    if change.parallel.is_some_and(|n| n > 64) {
        return Err(LibraryError::Invalid("Replies at once must be between 1 and 64 (or Auto).".into()));
    }
    if change.max_models.is_some_and(|n| !(1..=8).contains(&n)) {
        return Err(LibraryError::Invalid("Models loaded at once must be between 1 and 8.".into()));
    }
    let dir = change.models_dir.as_deref().map(str::trim).map(checked_folder).transpose()?;
    let endpoint = change.hub_endpoint.as_deref().map(str::trim).map(checked_endpoint).transpose()?;
    if let Some(dir) = dir {
        store.set_setting(MODELS_DIR, &dir)?;
    }
    if let Some(endpoint) = endpoint {
        store.set_setting(HUB_ENDPOINT, &endpoint)?;
    }
    if let Some(run) = &change.run {
        store.set_setting(RUN_ON, &run_on_json(run)?)?;
    }
    if let Some(n) = change.parallel {
        store.set_setting(PARALLEL, &n.to_string())?;
    }
    if let Some(n) = change.max_models {
        store.set_setting(MAX_MODELS, &n.to_string())?;
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
        let bad = SettingsChange {
            models_dir: Some(home.join("m2").display().to_string()),
            hub_endpoint: Some("ftp://x".into()),
            token: None,
            run: None,
            ..Default::default()
        };
        assert!(apply(&store, &tokens, &bad).unwrap_err().to_string().contains("https://"));
        assert_eq!(models_dir(&store, &default), default, "the folder did not change with a bad endpoint");
        assert!(apply(&store, &tokens, &SettingsChange { models_dir: Some("relative/dir".into()), ..Default::default() }).is_err());

        let good = SettingsChange {
            models_dir: Some(home.join("m2").display().to_string()),
            hub_endpoint: Some("http://127.0.0.1:9/".into()),
            token: None,
            run: None,
            ..Default::default()
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
        apply(
            &store,
            &tokens,
            &SettingsChange { models_dir: Some(String::new()), hub_endpoint: Some(String::new()), ..Default::default() },
        )
        .unwrap();
        assert_eq!(models_dir(&store, &default), default);
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn a_models_chat_template_goes_with_its_loads_until_cleared() {
        let store = Store::in_memory().unwrap();
        let (a, b) = (Path::new("/models/a.gguf"), Path::new("/models/b.gguf"));
        assert_eq!(load_settings(&store, Some(a)).chat_template, None, "the file's own until chosen");
        set_model_template(&store, a, Some("gemma")).unwrap();
        assert_eq!(model_template(&store, a).as_deref(), Some("gemma"));
        assert_eq!(load_settings(&store, Some(a)).chat_template.as_deref(), Some("gemma"));
        assert_eq!(load_settings(&store, Some(b)).chat_template, None, "only a's");
        set_model_template(&store, a, None).unwrap();
        assert_eq!(load_settings(&store, Some(a)).chat_template, None);
    }

    #[test]
    fn a_models_own_run_on_choice_wins_over_settings_until_cleared() {
        use types::{RunOn, RunOnSettings};
        let store = Store::in_memory().unwrap();
        let home = std::env::temp_dir().join(format!("hearth-run-on-{}", std::process::id()));
        let tokens = TokenStore::new(Box::new(crate::token::NoKeychain), &home);
        let (a, b) = (Path::new("/models/a.gguf"), Path::new("/models/b.gguf"));
        assert_eq!(load_settings(&store, Some(a)).run, RunOnSettings::default(), "Auto until chosen");

        let cpu = RunOnSettings { run_on: RunOn::Cpu, gpu_layers: None };
        apply(&store, &tokens, &SettingsChange { run: Some(cpu.clone()), ..Default::default() }).unwrap();
        assert_eq!(current(&store, &tokens, &home).run, cpu);
        let own = RunOnSettings { run_on: RunOn::Gpu { device: "Vulkan1".into() }, gpu_layers: Some(12) };
        set_model_run_on(&store, a, Some(&own)).unwrap();
        assert_eq!(load_settings(&store, Some(a)).run, own, "a's own choice");
        assert_eq!(load_settings(&store, Some(b)).run, cpu, "b follows Settings");
        assert_eq!(model_run_on(&store, b), None);

        set_model_run_on(&store, a, None).unwrap();
        assert_eq!(load_settings(&store, Some(a)).run, cpu, "cleared: a follows Settings again");
        // A value Hearth cannot read (another version wrote it) is ignored, not an error.
        store.set_setting("run_on", "{not json").unwrap();
        assert_eq!(run_on(&store), RunOnSettings::default());
    }

    #[test]
    fn replies_and_models_at_once_flow_into_every_load_and_bad_numbers_change_nothing() {
        let store = Store::in_memory().unwrap();
        let home = std::env::temp_dir().join(format!("hearth-parallel-{}", std::process::id()));
        let tokens = TokenStore::new(Box::new(crate::token::NoKeychain), &home);
        let model = Path::new("/m/a.gguf");
        assert_eq!((load_settings(&store, Some(model)).parallel, max_models(&store)), (None, DEFAULT_MAX_MODELS), "Auto, 2");
        apply(&store, &tokens, &SettingsChange { parallel: Some(8), max_models: Some(1), ..Default::default() }).unwrap();
        assert_eq!(load_settings(&store, Some(model)).parallel, Some(8));
        let s = current(&store, &tokens, &home);
        assert_eq!((s.parallel, s.max_models), (8, 1));
        assert!(apply(&store, &tokens, &SettingsChange { parallel: Some(65), ..Default::default() }).is_err());
        let folder = home.join("elsewhere").display().to_string();
        let bad = SettingsChange { max_models: Some(0), parallel: Some(2), models_dir: Some(folder), ..Default::default() };
        assert!(apply(&store, &tokens, &bad).is_err());
        assert_eq!(models_dir(&store, &home), home, "nor the folder beside it");
        assert_eq!((parallel(&store), max_models(&store)), (8, 1), "a bad value changed nothing, not even the good one beside it");
        apply(&store, &tokens, &SettingsChange { parallel: Some(0), ..Default::default() }).unwrap();
        assert_eq!(load_settings(&store, Some(model)).parallel, None, "0 is Auto again");
    }
}
