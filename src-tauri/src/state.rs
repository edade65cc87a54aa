//! What the shell keeps for the life of the window: Hearth itself (`hearth::Hearth`, assembled as
//! the `hearth` command assembles it), and what only the window has: Chat, the server it controls,
//! the Hub client (rebuilt when Settings change it) and the download queue.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use hearth::Hearth;
use home::Home;
use types::HearthError;

#[derive(Clone)]
pub struct AppState {
    /// Home, database, token, folders, hardware profile, runtime: shared with the CLI's assembly.
    pub hearth: Hearth,
    /// When the process started, for the first-paint figure.
    pub started: Instant,
    /// Conversations, over the runtime.
    pub chat: Arc<chat::Chat>,
    /// The OpenAI-compatible server, over the same engine.
    pub server: crate::server::ServerControl,
    /// The Hub at the endpoint and with the token in effect (see `library::settings`).
    hub: Arc<RwLock<hub::HubClient>>,
    /// The download queue, running on Tauri's async runtime.
    pub queue: library::DownloadQueue,
}

impl AppState {
    pub fn new() -> Result<Self, HearthError> {
        let exe = std::env::current_exe().map_err(|e| {
            HearthError::new(types::ErrorCode::Internal, "Hearth could not find its own program file.").with_details(e.to_string())
        })?;
        // The engine's devices come from a worker of their own: the window's process never loads
        // llama.cpp's backends (a GPU driver that crashes must not take the window with it).
        let worker = engine::WorkerCommand { program: exe, args: vec![crate::ENGINE_WORKER_FLAG.to_string()] };
        let hearth = Hearth::open(Home::resolve()?, worker, |m| tracing::warn!("{m}"))?;
        let hub = hearth.hub_client()?;
        let downloads = library::Downloads::new(hearth.store.clone(), hub.clone(), hearth.models_dir(), hub::download::Options::default());
        let chat = Arc::new(chat::Chat::new(hearth.store.clone(), hearth.runtime.clone(), hearth.home.images_dir()));
        // Conversations take their tools from the MCP servers of mcp.json, started with the window.
        chat.set_servers(hearth.mcp.clone());
        let servers = hearth.mcp.clone();
        tauri::async_runtime::spawn(async move { servers.start_all().await });
        // Chat reads a connection's address and key as saved at the moment it replies.
        let (saved, root) = (hearth.store.clone(), hearth.home.root().to_path_buf());
        chat.set_endpoints(Arc::new(move |id: &str| library::Connections::new(&saved, &root).endpoint(id)));
        Ok(Self {
            chat,
            server: crate::server::ServerControl::new(server::EngineBackend::new(hearth.runtime.clone(), Vec::new())),
            started: Instant::now(),
            queue: library::DownloadQueue::start(downloads, tauri::async_runtime::handle().inner().clone()),
            hub: Arc::new(RwLock::new(hub)),
            hearth,
        })
    }

    /// Start the probe on a background thread; `hearth.profile()` waits for it if it is still
    /// running.
    pub fn warm_up(&self) {
        let hearth = self.hearth.clone();
        std::thread::spawn(move || {
            hearth.profile();
        });
    }

    /// The Hub client in effect now.
    pub fn hub(&self) -> hub::HubClient {
        self.hub.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// After Settings change: a new Hub client (endpoint, token) and models folder, for the window's
    /// next request and the next download; the models kept loaded at once, for the next load.
    pub fn reconfigure(&self) -> Result<(), HearthError> {
        let client = self.hearth.hub_client()?;
        *self.hub.write().unwrap_or_else(|e| e.into_inner()) = client.clone();
        self.queue.downloads.set_client(client);
        self.queue.downloads.set_models_dir(self.hearth.models_dir());
        self.hearth.runtime.set_max_models(library::settings::max_models(&self.hearth.store) as usize);
        Ok(())
    }
}
