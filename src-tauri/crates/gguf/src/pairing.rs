//! Which projector (an `mmproj` file: what reads pictures for a model) goes with which model, by
//! the files' names and places, as llama.cpp pairs them when it pulls a model with `-hf`: the
//! projector in the deepest folder the model's path shares with it (the model's own folder first,
//! then the folders above it), F16 when there is a choice (what llama.cpp's converter writes
//! first and every vision repository has), else BF16 or F32, else the model's own quantization.
//! A projector is only paired with a model of the width it writes (`clip.vision.projection_dim`,
//! which llama.cpp's converter sets to the text model's width): a folder holding several models
//! gives each only a projector made for its kind.

use std::path::{Path, PathBuf};

/// Whether a file, by its name, is a projector rather than a model: `mmproj` anywhere in it
/// (`mmproj-F16.gguf`, `mmproj-google_gemma-3-4b-it-f16.gguf`, `gemma-3-4b-it-mmproj-bf16.gguf`).
pub fn is_projector_name(file_name: &str) -> bool {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name).to_ascii_lowercase().contains("mmproj")
}

/// The projector for the model at `model` (a path relative to a repository or a folder, `/`
/// separated) among `candidates` (paths in the same tree). `quant` is the model's quantization
/// label, for the last preference.
pub fn choose<'a>(model: &str, quant: Option<&str>, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let model_dir = parent(model);
    candidates
        .into_iter()
        .filter(|c| is_projector_name(c) && model_dir.starts_with(parent(c)))
        // Deepest folder first, then the preferred type, then by name (a stable choice).
        .min_by_key(|c| (std::cmp::Reverse(parent(c).len()), preference(c, quant), c.to_string()))
}

/// The projector beside the model file at `model_path` on disk: in its folder, else in the two
/// folders above it, whose width (when the header says it) is `model_width`.
pub fn projector_beside(model_path: &Path, model_width: Option<u64>) -> Option<PathBuf> {
    let quant = quant_hint(&model_path.file_name()?.to_string_lossy());
    let mut dir = model_path.parent()?;
    for _ in 0..3 {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")))
            .filter(|p| p.file_name().is_some_and(|n| is_projector_name(&n.to_string_lossy())))
            .filter(|p| p.is_file() && fits(p, model_width))
            .collect();
        found.sort();
        let names: Vec<String> = found.iter().map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect();
        if let Some(name) = choose("model.gguf", quant.as_deref(), names.iter().map(String::as_str)) {
            return Some(dir.join(name));
        }
        dir = dir.parent()?;
    }
    None
}

/// The projector beside the model at `model_path` (`projector_beside`), with its header: what a
/// load of the model takes with it, and what its plan counts.
pub fn projector_facts_beside(model_path: &Path, model: &crate::ModelFacts) -> Option<(PathBuf, crate::ModelFacts)> {
    let path = projector_beside(model_path, model.embedding_length)?;
    let facts = crate::read_file(&path).ok()?;
    Some((path, facts))
}

/// Whether the projector at `path` writes embeddings `model_width` wide, as far as its header says.
fn fits(path: &Path, model_width: Option<u64>) -> bool {
    let Ok(facts) = crate::read_file(path) else { return false };
    if !matches!(facts.metadata.get("clip.has_vision_encoder"), Some(crate::Value::Bool(true))) {
        return false;
    }
    match (model_width, facts.uint("clip.vision.projection_dim")) {
        (Some(model), Some(projector)) => model == projector,
        _ => true,
    }
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// 0 is best: F16, then BF16, F32, the model's own quantization, anything else.
fn preference(name: &str, quant: Option<&str>) -> u8 {
    let upper = name.rsplit('/').next().unwrap_or(name).to_ascii_uppercase();
    let has = |label: &str| {
        upper.match_indices(label).any(|(i, _)| {
            let before = upper[..i].chars().last();
            let after = upper[i + label.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    };
    if has("F16") {
        0
    } else if has("BF16") {
        1
    } else if has("F32") {
        2
    } else if quant.is_some_and(|q| has(&q.to_ascii_uppercase())) {
        3
    } else {
        4
    }
}

/// The quantization label a model's file name ends with ("…-Q4_K_M.gguf" → "Q4_K_M"), roughly:
/// only used to prefer a projector of the same.
fn quant_hint(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".gguf")?;
    let last = stem.rsplit(['-', '.']).next()?;
    last.chars().next().is_some_and(|c| matches!(c.to_ascii_uppercase(), 'Q' | 'I' | 'F' | 'B')).then(|| last.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projectors_are_told_apart_by_name() {
        assert!(is_projector_name("mmproj-F16.gguf"));
        assert!(is_projector_name("sub/gemma-3-4b-it-MMPROJ-bf16.gguf"));
        assert!(!is_projector_name("gemma-3-4b-it-Q4_K_M.gguf"));
    }

    #[test]
    fn the_deepest_shared_folder_wins_then_f16_then_the_models_own_quantization() {
        let repo = ["mmproj-F32.gguf", "mmproj-F16.gguf", "Q4_K_M/mmproj-Q8_0.gguf", "Q8_0/mmproj-F16.gguf"];
        // The projector in the model's own folder, over F16 one level up.
        assert_eq!(choose("Q4_K_M/m-Q4_K_M.gguf", Some("Q4_K_M"), repo), Some("Q4_K_M/mmproj-Q8_0.gguf"));
        // At the top: F16 over F32; a folder beside the model's is not shared with it.
        assert_eq!(choose("m-Q4_K_M.gguf", Some("Q4_K_M"), repo), Some("mmproj-F16.gguf"));
        assert_eq!(choose("other/m.gguf", None, ["Q8_0/mmproj-F16.gguf"]), None);
        // BF16 is not F16; the model's quantization when there is no float one.
        assert_eq!(choose("m.gguf", None, ["mmproj-BF16.gguf", "mmproj-F32.gguf"]), Some("mmproj-BF16.gguf"));
        assert_eq!(choose("m-Q8_0.gguf", Some("Q8_0"), ["mmproj-Q4_0.gguf", "mmproj-Q8_0.gguf"]), Some("mmproj-Q8_0.gguf"));
        assert_eq!(choose("m.gguf", None, ["m-Q4_K_M.gguf"]), None, "a model is no projector");
    }

    #[test]
    fn a_projector_beside_a_model_is_found_only_for_a_model_of_its_width() {
        use crate::synthetic::{projector, tiny_gemma3_projector};
        let dir = std::env::temp_dir().join(format!("hearth-pairing-{}", std::process::id()));
        let sub = dir.join("Q4_K_M");
        std::fs::create_dir_all(&sub).unwrap();
        let model = sub.join("m-Q4_K_M.gguf");
        std::fs::write(&model, b"not read").unwrap();
        std::fs::write(dir.join("mmproj-F16.gguf"), projector(&tiny_gemma3_projector(576)).to_bytes()).unwrap();
        std::fs::write(dir.join("mmproj-F32.gguf"), projector(&tiny_gemma3_projector(576)).to_bytes()).unwrap();
        std::fs::write(dir.join("mmproj-broken.gguf"), b"GGUF").unwrap();
        assert_eq!(projector_beside(&model, Some(576)), Some(dir.join("mmproj-F16.gguf")));
        assert_eq!(projector_beside(&model, None), Some(dir.join("mmproj-F16.gguf")));
        assert_eq!(projector_beside(&model, Some(4096)), None, "made for another width");
        let _ = std::fs::remove_dir_all(dir);
    }
}
