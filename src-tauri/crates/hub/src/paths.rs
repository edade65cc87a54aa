//! Every path that comes from the Hub is checked before it touches the disk: only plain names, no
//! `..`, no absolute paths, nothing that leaves the models folder.

use std::path::{Component, Path, PathBuf};

use crate::error::{HubError, Result};

/// `{models}/{org}/{name}/{file}` when every part is safe.
pub fn model_file_path(models: &Path, repo: &str, file: &str) -> Result<PathBuf> {
    let (org, name) = repo.split_once('/').ok_or_else(|| HubError::UnsafePath(repo.to_string()))?;
    let mut out = models.to_path_buf();
    for part in [org, name] {
        out.push(plain(part, repo)?);
    }
    for part in file.split('/') {
        out.push(plain(part, file)?);
    }
    Ok(out)
}

fn plain<'a>(part: &'a str, whole: &str) -> Result<&'a str> {
    let bad = part.is_empty()
        || part == "."
        || part == ".."
        || part.contains('\\')
        || part.contains('\0')
        || part.contains(':')
        || Path::new(part).components().count() != 1
        || !matches!(Path::new(part).components().next(), Some(Component::Normal(_)));
    if bad {
        return Err(HubError::UnsafePath(whole.to_string()));
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_make_it_to_disk() {
        let m = Path::new("/models");
        assert_eq!(
            model_file_path(m, "Qwen/Qwen2.5-7B-GGUF", "q4/model.gguf").unwrap(),
            Path::new("/models/Qwen/Qwen2.5-7B-GGUF/q4/model.gguf")
        );
        for (repo, file) in [
            ("a/b", "../../etc/passwd"),
            ("a/b", "/etc/passwd"),
            ("a/b", "x/../../y"),
            ("../x", "m.gguf"),
            ("a/b", "C:\\evil.gguf"),
            ("a/b", "m\\..\\x"),
            ("a", "m.gguf"),
            ("a/b", ""),
            ("a/b", "x//y"),
        ] {
            assert!(model_file_path(m, repo, file).is_err(), "{repo} {file}");
        }
    }
}
