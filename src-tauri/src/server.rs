//! The OpenAI-compatible server as the app runs it: started and stopped from the Server view, with
//! its settings saved in the database and the last requests kept for the live log. It shares the
//! engine with Chat: a model loaded in Chat answers the server's requests too.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::{EngineBackend, ModelEntry, RunningServer, ServerConfig};
use types::{ErrorCode, HearthError, RequestLog, ServerSettings, ServerStatus};

const SETTINGS_KEY: &str = "server";
/// Requests kept for the live log.
const LOG_LINES: usize = 200;

#[derive(Clone)]
pub struct ServerControl {
    pub backend: Arc<EngineBackend>,
    running: Arc<tokio::sync::Mutex<Option<RunningServer>>>,
    log: Arc<Mutex<VecDeque<RequestLog>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ServerControl {
    pub fn new(backend: EngineBackend) -> Self {
        Self { backend: Arc::new(backend), running: Arc::default(), log: Arc::default() }
    }

    pub fn settings(store: &store::Store) -> ServerSettings {
        store.setting(SETTINGS_KEY).ok().flatten().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
    }

    /// The library's models as the server names them (`org/name/file` for downloads, the file name
    /// otherwise); split models once, by their first part; unreadable files left out.
    pub fn set_models(&self, models: &[types::LocalModel]) {
        let entries = models
            .iter()
            .filter(|m| m.plan.is_some())
            .map(|m| match m.repo.as_deref() {
                Some(repo) => ModelEntry::from_repo(repo, &m.path),
                None => ModelEntry::from_path(&m.path),
            })
            .collect();
        self.backend.set_models(entries);
    }

    pub async fn status(&self, store: &store::Store) -> ServerStatus {
        let running = self.running.lock().await;
        let settings = Self::settings(store);
        let base_url = running.as_ref().map(|r| {
            let addr = r.addr();
            format!(
                "http://{}:{}/v1",
                if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() },
                addr.port()
            )
        });
        ServerStatus {
            base_url,
            settings,
            loaded_model: self.backend.in_engine(),
            models: server::Backend::models(&*self.backend).len() as u32,
        }
    }

    /// Save `settings` and (re)start the server with them.
    pub async fn start(&self, hearth: &hearth::Hearth, settings: ServerSettings) -> Result<(), HearthError> {
        let store = &hearth.store;
        // The key is saved (and served) as its digest only: the Server view shows a key when it is
        // typed or generated, never again after.
        let api_key = settings.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()).map(server::KeyDigest::stored);
        let settings = ServerSettings { api_key, ..settings };
        let config = ServerConfig {
            host: settings.host.trim().to_string(),
            port: settings.port,
            api_key: settings.api_key.clone().filter(|k| !k.trim().is_empty()),
            allowed_origins: settings.allowed_origins.iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect(),
            auto_load: settings.auto_load,
            idle_ttl: Duration::from_secs(u64::from(settings.idle_minutes.max(1)) * 60),
            // Stored responses (the Responses API) in Hearth's database, kept across restarts.
            responses_db: Some(hearth.home.database_path()),
            ..ServerConfig::default()
        };
        // Checked before anything is saved or stopped: a bad setting changes nothing.
        config.validate()?;
        let json = serde_json::to_string(&settings)
            .map_err(|e| HearthError::new(ErrorCode::Internal, "The settings could not be written down.").with_details(e.to_string()))?;
        store
            .set_setting(SETTINGS_KEY, &json)
            .map_err(|e| HearthError::new(ErrorCode::Internal, "The settings could not be saved.").with_details(e.to_string()))?;

        let mut running = self.running.lock().await;
        if let Some(old) = running.take() {
            old.stop().await;
        }
        let server = server::serve(config, self.backend.clone()).await?;
        let mut logs = server.logs();
        let log = self.log.clone();
        tauri::async_runtime::spawn(async move {
            while let Ok(entry) = logs.recv().await {
                let mut l = lock(&log);
                if l.len() == LOG_LINES {
                    l.pop_front();
                }
                l.push_back(entry);
            }
        });
        *running = Some(server);
        Ok(())
    }

    pub async fn stop(&self) {
        if let Some(server) = self.running.lock().await.take() {
            server.stop().await;
        }
    }

    /// The last requests, newest first.
    pub fn log(&self) -> Vec<RequestLog> {
        lock(&self.log).iter().rev().cloned().collect()
    }
}
