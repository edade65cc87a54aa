//! What the shell keeps for the life of the window: the home folder, the hardware profile, the Hub
//! client and the download queue.

use std::sync::{Arc, OnceLock};
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
    /// The Hub, at `HF_ENDPOINT` (or huggingface.co) with `HF_TOKEN` when set.
    pub hub: hub::HubClient,
    /// The download queue, running on Tauri's async runtime.
    pub queue: crate::downloads::Queue,
    profile: Arc<OnceLock<HardwareProfile>>,
}

impl AppState {
    pub fn new() -> Result<Self, HearthError> {
        let home = Home::resolve()?;
        let hub = hub::HubClient::from_env()?;
        let store = store::Store::open(&home.database_path()).map_err(|e| {
            HearthError::new(types::ErrorCode::HomeUnavailable, "Hearth could not open its database.").with_details(e.to_string())
        })?;
        let downloads = library::Downloads::new(Arc::new(store), hub.clone(), home.models_dir(), hub::download::Options::default());
        Ok(Self {
            started: Instant::now(),
            prober: Arc::new(Prober::system()),
            queue: crate::downloads::Queue::start(downloads),
            hub,
            home,
            profile: Arc::new(OnceLock::new()),
        })
    }

    /// Start the probe on a background thread; `profile()` waits for it if it is still running.
    pub fn warm_up(&self) {
        let (prober, profile, dir) = (self.prober.clone(), self.profile.clone(), self.home.models_dir());
        let root = self.home.root().to_path_buf();
        std::thread::spawn(move || {
            profile.get_or_init(|| probe(&prober, &dir, &root));
        });
    }

    /// The profile, probed once per run: GPUs and CPUs do not change while the app is open. Blocking.
    pub fn profile(&self) -> HardwareProfile {
        self.profile.get_or_init(|| probe(&self.prober, &self.home.models_dir(), self.home.root())).clone()
    }

    pub fn prober(&self) -> &Prober {
        &self.prober
    }
}

/// The machine as probed, with what Hearth has learnt about its speed.
fn probe(prober: &Prober, models_dir: &std::path::Path, home: &std::path::Path) -> HardwareProfile {
    let mut profile = prober.probe(models_dir);
    profile.speed_calibration = hardware::calibration::load(home);
    profile.ram_bandwidth_gbps = hardware::calibration::remember_bandwidth(home, profile.ram_bandwidth_gbps);
    profile
}
