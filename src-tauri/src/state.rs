//! What the shell keeps for the life of the window: the home folder and the hardware profile.

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
    profile: Arc<OnceLock<HardwareProfile>>,
}

impl AppState {
    pub fn new() -> Result<Self, HearthError> {
        Ok(Self {
            home: Home::resolve()?,
            started: Instant::now(),
            prober: Arc::new(Prober::system()),
            hub: hub::HubClient::from_env()?,
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
    profile
}
