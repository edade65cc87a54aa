//! What Hearth has learnt about this machine's speed: measured over predicted tokens/second from real
//! runs, kept in the home folder (`speed-calibration`, one number) so every later prediction uses it.

use std::path::Path;

const FILE: &str = "speed-calibration";
const BANDWIDTH: &str = "ram-bandwidth";

pub fn load(home: &Path) -> Option<f32> {
    let text = std::fs::read_to_string(home.join(FILE)).ok()?;
    text.trim().parse::<f32>().ok().filter(|f| f.is_finite() && *f > 0.0)
}

pub fn save(home: &Path, factor: f32) -> std::io::Result<()> {
    // Write then rename, so a crash never leaves half a number behind.
    let tmp = home.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, format!("{factor}\n"))?;
    std::fs::rename(tmp, home.join(FILE))
}

/// The RAM bandwidth to plan with: the best measured on this machine so far. One measurement taken
/// while something else loads the memory (a build, a browser) reads far too low, and would make every
/// prediction too slow until the next start; the machine's real bandwidth does not go down.
pub fn remember_bandwidth(home: &Path, measured: Option<f32>) -> Option<f32> {
    let stored =
        std::fs::read_to_string(home.join(BANDWIDTH)).ok().and_then(|t| t.trim().parse::<f32>().ok()).filter(|b| b.is_finite() && *b > 0.0);
    let best = match (stored, measured) {
        (Some(s), Some(m)) => Some(s.max(m)),
        (s, m) => s.or(m),
    };
    if let Some(b) = best.filter(|b| Some(*b) != stored) {
        let tmp = home.join(format!("{BANDWIDTH}.tmp"));
        if std::fs::write(&tmp, format!("{b}\n")).is_ok() {
            let _ = std::fs::rename(tmp, home.join(BANDWIDTH));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_best_bandwidth_seen_is_kept() {
        let dir = std::env::temp_dir().join(format!("hearth-bw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(super::remember_bandwidth(&dir, Some(20.0)), Some(20.0));
        assert_eq!(super::remember_bandwidth(&dir, Some(3.0)), Some(20.0), "a slow reading under load is ignored");
        assert_eq!(super::remember_bandwidth(&dir, Some(25.0)), Some(25.0));
        assert_eq!(super::remember_bandwidth(&dir, None), Some(25.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_saved_factor_loads_back_and_garbage_is_ignored() {
        let dir = std::env::temp_dir().join(format!("hearth-calib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(super::load(&dir), None);
        super::save(&dir, 0.86).unwrap();
        assert_eq!(super::load(&dir), Some(0.86));
        std::fs::write(dir.join(super::FILE), "NaN").unwrap();
        assert_eq!(super::load(&dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
