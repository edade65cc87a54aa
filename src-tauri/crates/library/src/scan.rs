//! Model files already on this machine: Hearth's models folder, the Hugging Face cache
//! (`~/.cache/huggingface/hub`, or `HF_HUB_CACHE` / `HF_HOME`), and LM Studio's models folder
//! (`~/.lmstudio/models`, or the older `~/.cache/lm-studio/models`). Found files are listed in place,
//! never copied.

use std::path::{Path, PathBuf};

use store::ModelSource;

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub path: PathBuf,
    pub source: ModelSource,
    pub size: u64,
}

/// The other apps' folders for this user, where they exist.
pub fn known_folders() -> Vec<(PathBuf, ModelSource)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let hf = std::env::var_os("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .or_else(|| home.as_ref().map(|h| h.join(".cache/huggingface/hub")));
    let mut out = Vec::new();
    if let Some(hf) = hf {
        out.push((hf, ModelSource::HfCache));
    }
    if let Some(h) = home {
        out.push((h.join(".lmstudio/models"), ModelSource::LmStudio));
        out.push((h.join(".cache/lm-studio/models"), ModelSource::LmStudio));
    }
    out
}

/// Every `.gguf` below `folders` (depth-limited, links not followed), skipping part files.
pub fn scan(folders: &[(PathBuf, ModelSource)]) -> Vec<Found> {
    let mut out = Vec::new();
    for (dir, source) in folders {
        walk(dir, *source, 0, &mut out);
    }
    out
}

fn walk(dir: &Path, source: ModelSource, depth: u32, out: &mut Vec<Found>) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        // The HF cache keeps files as links from snapshots/ into blobs/: follow a link only to a file.
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if meta.is_dir() && !is_link {
            walk(&path, source, depth + 1, out);
        } else if meta.is_file() && path.extension().is_some_and(|e| e == "gguf") {
            out.push(Found { path, source, size: meta.len() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_gguf_files_in_the_hf_cache_layout_and_skips_the_rest() {
        let root = std::env::temp_dir().join(format!("hearth-scan-{}", std::process::id()));
        let snap = root.join("models--org--m/snapshots/abc");
        let blobs = root.join("models--org--m/blobs");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join("sha"), b"GGUF....").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(blobs.join("sha"), snap.join("m-Q4_K_M.gguf")).unwrap();
        std::fs::write(snap.join("m-Q8_0.gguf.part"), b"x").unwrap();
        std::fs::write(snap.join("README.md"), b"x").unwrap();
        let found = scan(&[(root.clone(), ModelSource::HfCache)]);
        #[cfg(unix)]
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found.iter().all(|f| f.path.extension().unwrap() == "gguf"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
