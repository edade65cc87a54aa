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
    profile: Arc<OnceLock<HardwareProfile>>,
}

impl AppState {
    pub fn new() -> Result<Self, HearthError> {
        Ok(Self { home: Home::resolve()?, started: Instant::now(), prober: Arc::new(Prober::system()), profile: Arc::new(OnceLock::new()) })
    }

    /// Start the probe on a background thread; `profile()` waits for it if it is still running.
    pub fn warm_up(&self) {
        let (prober, profile, dir) = (self.prober.clone(), self.profile.clone(), self.home.models_dir());
        std::thread::spawn(move || {
            profile.get_or_init(|| prober.probe(&dir));
        });
    }

    /// The profile, probed once per run: GPUs and CPUs do not change while the app is open. Blocking.
    pub fn profile(&self) -> HardwareProfile {
        self.profile.get_or_init(|| self.prober.probe(&self.home.models_dir())).clone()
    }

    pub fn prober(&self) -> &Prober {
        &self.prober
    }
}
