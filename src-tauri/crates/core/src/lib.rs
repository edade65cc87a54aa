//! Hearth assembled once. The window (`src-tauri`) and the `hearth` command build the same
//! `Hearth` from a home folder and a worker command, so that a model's name, its folders, its
//! plan and its verdict are the same wherever a person looks: `hearth ls`, `hearth fit` and My
//! Models agree, and `hearth run NAME` loads what Chat would.
//!
//! It owns: the home folder, the database, the Hugging Face token store, the hardware profile
//! (probed once, through a worker: this process never loads llama.cpp's backends) and the runtime
//! (the one record of what is loaded, planning every load with the person's saved choices for
//! that model), and the MCP servers of `mcp.json` (`mcp::Servers`, started by whoever uses them).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use hardware::Prober;
use home::Home;
use library::TokenStore;
use runtime::Runtime;
use store::{ModelSource, Store};
use types::{HardwareProfile, HearthError, LocalModel};

mod lookup;

pub use lookup::{find, NameError};

/// The parts of Hearth every surface shares. Cheap to clone (every part is shared).
#[derive(Clone)]
pub struct Hearth {
    pub home: Home,
    pub store: Arc<Store>,
    /// The Hugging Face token: `HF_TOKEN`, the keychain, or the private file.
    pub tokens: Arc<TokenStore>,
    /// The one owner of the engine: what is loaded, loading by plan (Chat, the server, the CLI).
    pub runtime: Arc<Runtime>,
    /// The MCP servers of the home's `mcp.json` (not started until someone starts them).
    pub mcp: Arc<mcp::Servers>,
    prober: Arc<Prober>,
    profile: Arc<OnceLock<HardwareProfile>>,
}

impl Hearth {
    /// Hearth at `home`, its engine workers started as `worker`; `warn` hears what the device
    /// probe could not do (a worker that would not answer leaves the engine CPU-only).
    pub fn open(home: Home, worker: engine::WorkerCommand, warn: impl Fn(&str) + Send + Sync + 'static) -> Result<Self, HearthError> {
        // CPU backend variants that trapped on this machine stay left out across starts.
        engine::devices::avoided::remember_in(home.root().join(engine::devices::avoided::FILE));
        let store = Arc::new(Store::open(&home.database_path())?);
        let tokens = Arc::new(TokenStore::for_home(home.root()));
        let prober = Arc::new(runtime::prober(worker.clone(), warn));
        // Loads are planned for the machine as probed; the profile comes when the probe is done
        // (`profile`), so that opening Hearth does not wait for it.
        let runtime = Arc::new(Runtime::new(worker, hardware::catalog::imagined(None, 1, 0)));
        // Every load plans with the person's saved choices for that model (where it runs, its
        // template), whoever asks.
        let saved = store.clone();
        runtime.set_load_settings(Arc::new(move |path: &Path| library::settings::load_settings(&saved, Some(path))));
        runtime.set_max_models(library::settings::max_models(&store) as usize);
        // Their env values and headers come from the keychain, where Hearth keeps them.
        let mcp = mcp::Servers::from_file(&home.mcp_config_path(), Some(library::mcp_secrets::fill(home.root().to_path_buf())));
        Ok(Self { home, store, tokens, runtime, mcp, prober, profile: Arc::new(OnceLock::new()) })
    }

    /// Where downloads go now (Settings may have moved it).
    pub fn models_dir(&self) -> PathBuf {
        library::settings::models_dir(&self.store, &self.home.models_dir())
    }

    /// The folders the library lists: the models folder (and the default one, if Settings moved
    /// it, so earlier downloads stay listed) and the other apps' folders (the Hugging Face cache,
    /// LM Studio's). Imported files are the database's.
    pub fn model_folders(&self) -> Vec<(PathBuf, ModelSource)> {
        let mut folders = vec![(self.models_dir(), ModelSource::Downloaded)];
        if self.home.models_dir() != self.models_dir() {
            folders.push((self.home.models_dir(), ModelSource::Downloaded));
        }
        folders.extend(library::known_folders());
        folders
    }

    /// This machine, probed once per process (GPUs and CPUs do not change while Hearth runs), with
    /// the remembered RAM bandwidth and speed calibration. Blocking. The runtime plans with it
    /// from then on.
    pub fn profile(&self) -> HardwareProfile {
        self.profile
            .get_or_init(|| {
                let profile = runtime::probe(&self.prober, &self.home.models_dir(), self.home.root());
                self.runtime.set_hardware(profile.clone());
                profile
            })
            .clone()
    }

    pub fn prober(&self) -> &Prober {
        &self.prober
    }

    /// Every model file, scanned afresh, each with its plan made with the person's saved choices
    /// for it: My Models, `hearth ls` and the server's model list. Blocking.
    pub fn models(&self) -> Result<Vec<LocalModel>, HearthError> {
        library::list(&self.store, &self.model_folders(), &self.profile()).map_err(library_error)
    }

    /// The model `name` means (see `find`), or a sentence that says why there is none. Blocking.
    pub fn find(&self, name: &str) -> Result<LocalModel, HearthError> {
        let models = self.models()?;
        Ok(find(&models, name).cloned()?)
    }

    /// The Hub at the endpoint and with the token in effect (Settings; `HF_ENDPOINT` and
    /// `HF_TOKEN` win).
    pub fn hub_client(&self) -> Result<hub::HubClient, HearthError> {
        library::settings::hub_client(&self.store, &self.tokens).map_err(library_error)
    }

    /// The person's connections to engines on other machines.
    pub fn connections(&self) -> library::Connections<'_> {
        library::Connections::new(&self.store, self.home.root())
    }
}

/// A library error as the window and the CLI show it.
pub fn library_error(e: library::LibraryError) -> HearthError {
    e.into()
}
