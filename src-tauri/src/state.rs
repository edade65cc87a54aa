//! What the shell keeps for the life of the window: the home folder, the database, the hardware
//! profile, the Hub client (rebuilt when Settings change it) and the download queue.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use hardware::Prober;
use home::Home;
use types::{HardwareProfile, HearthError};

#[derive(Clone)]
pub struct AppState {
    pub home: Home,
    /// When the process started, for the first-paint figure.
    pub started: Instant,
    prober: Arc<Prober>,
    pub store: Arc<store::Store>,
    /// The one owner of the engine: what is loaded, loading by plan (Chat, the server).
    pub runtime: Arc<runtime::Runtime>,
    /// Conversations, over the runtime.
    pub chat: Arc<chat::Chat>,
    /// The OpenAI-compatible server, over the same engine.
    pub server: crate::server::ServerControl,
    /// The Hugging Face token: `HF_TOKEN`, the keychain, or the private file.
    pub tokens: Arc<library::TokenStore>,
    /// The Hub at the endpoint and with the token in effect (see `library::settings`).
    hub: Arc<RwLock<hub::HubClient>>,
    /// The download queue, running on Tauri's async runtime.
    pub queue: library::DownloadQueue,
    profile: Arc<OnceLock<HardwareProfile>>,
}

impl AppState {
    pub fn new() -> Result<Self, HearthError> {
        let home = Home::resolve()?;
        // CPU backend variants that trapped on this machine stay left out across starts.
        engine::devices::avoided::remember_in(home.root().join(engine::devices::avoided::FILE));
        let store = Arc::new(store::Store::open(&home.database_path()).map_err(|e| {
            HearthError::new(types::ErrorCode::HomeUnavailable, "Hearth could not open its database.").with_details(e.to_string())
        })?);
        let tokens = Arc::new(library::TokenStore::for_home(home.root()));
        let hub = library::settings::hub_client(&store, &tokens).map_err(crate::commands::library_error)?;
        let models_dir = library::settings::models_dir(&store, &home.models_dir());
        let downloads = library::Downloads::new(store.clone(), hub.clone(), models_dir, hub::download::Options::default());
        let exe = std::env::current_exe().map_err(|e| {
            HearthError::new(types::ErrorCode::Internal, "Hearth could not find its own program file.").with_details(e.to_string())
        })?;
        let worker = engine::WorkerCommand { program: exe, args: vec![crate::ENGINE_WORKER_FLAG.to_string()] };
        // The engine's devices come from a worker of their own: the window's process never loads
        // llama.cpp's backends (a GPU driver that crashes must not take the window with it).
        let prober = Arc::new(runtime::prober(worker.clone(), |m| tracing::warn!("{m}")));
        // Loads are planned for the machine as probed; probing here would slow the window's start,
        // so the runtime gets the profile when the probe is done (`profile`).
        let runtime = Arc::new(runtime::Runtime::new(worker, hardware::catalog::imagined(None, 1, 0)));
        // Every load plans with the person's saved choices for that model (where it runs, its
        // template), whoever asks: Chat or the server.
        let saved = store.clone();
        runtime.set_load_settings(Arc::new(move |path: &std::path::Path| library::settings::load_settings(&saved, Some(path))));
        runtime.set_max_models(library::settings::max_models(&store) as usize);
        let chat = Arc::new(chat::Chat::new(store.clone(), runtime.clone()));
        // Chat reads a connection's address and key as saved at the moment it replies.
        let (saved, root) = (store.clone(), home.root().to_path_buf());
        chat.set_endpoints(Arc::new(move |id: &str| library::Connections::new(&saved, &root).endpoint(id)));
        Ok(Self {
            chat,
            server: crate::server::ServerControl::new(server::EngineBackend::new(runtime.clone(), Vec::new())),
            runtime,
            started: Instant::now(),
            prober,
            queue: library::DownloadQueue::start(downloads, tauri::async_runtime::handle().inner().clone()),
            hub: Arc::new(RwLock::new(hub)),
            store,
            tokens,
            home,
            profile: Arc::new(OnceLock::new()),
        })
    }

    /// The person's connections to engines on other machines.
    pub fn connections(&self) -> library::Connections<'_> {
        library::Connections::new(&self.store, self.home.root())
    }

    /// Start the probe on a background thread; `profile()` waits for it if it is still running.
    pub fn warm_up(&self) {
        let state = self.clone();
        std::thread::spawn(move || {
            state.profile();
        });
    }

    /// The profile, probed once per run: GPUs and CPUs do not change while the app is open. Blocking.
    /// The runtime plans with it from then on.
    pub fn profile(&self) -> HardwareProfile {
        self.profile
            .get_or_init(|| {
                let profile = runtime::probe(&self.prober, &self.home.models_dir(), self.home.root());
                self.runtime.set_hardware(profile.clone());
                profile
            })
            .clone()
    }

    /// The Hub client in effect now.
    pub fn hub(&self) -> hub::HubClient {
        self.hub.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// After Settings change: a new Hub client (endpoint, token) and models folder, for the window's
    /// next request and the next download; the models kept loaded at once, for the next load.
    pub fn reconfigure(&self) -> Result<(), HearthError> {
        let client = library::settings::hub_client(&self.store, &self.tokens).map_err(crate::commands::library_error)?;
        *self.hub.write().unwrap_or_else(|e| e.into_inner()) = client.clone();
        self.queue.downloads.set_client(client);
        self.queue.downloads.set_models_dir(self.models_dir());
        self.runtime.set_max_models(library::settings::max_models(&self.store) as usize);
        Ok(())
    }

    /// Where downloads go now.
    pub fn models_dir(&self) -> PathBuf {
        library::settings::models_dir(&self.store, &self.home.models_dir())
    }

    /// The folders My Models lists: the models folder (and the default one, if Settings moved it, so
    /// earlier downloads stay listed) and the other apps' folders.
    pub fn model_folders(&self) -> Vec<(PathBuf, store::ModelSource)> {
        let mut folders = vec![(self.models_dir(), store::ModelSource::Downloaded)];
        if self.home.models_dir() != self.models_dir() {
            folders.push((self.home.models_dir(), store::ModelSource::Downloaded));
        }
        folders.extend(library::known_folders());
        folders
    }

    pub fn prober(&self) -> &Prober {
        &self.prober
    }
}
