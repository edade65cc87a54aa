//! What Hearth has learnt about this machine's speed: measured over predicted tokens/second from real
//! runs, kept in the home folder (`speed-calibration`, one number) so every later prediction uses it.

use std::path::Path;

const FILE: &str = "speed-calibration";

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

#[cfg(test)]
mod tests {
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
