//! Which files `org/name[:QUANT]` means.

use hub::{ModelInfo, Sibling};

use crate::{LibraryError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    /// The parts to download, in order (one for a single file).
    pub files: Vec<Sibling>,
    pub quant: Option<String>,
    /// The projector that reads pictures for it, when the repository has one
    /// (`gguf::choose_projector`): pulled with it.
    pub projector: Option<Sibling>,
}

/// The quantization label in a file name: "Qwen2.5-7B-Instruct-Q4_K_M.gguf" → "Q4_K_M".
pub fn quant_of(file: &str) -> Option<String> {
    let base = file.rsplit('/').next()?.strip_suffix(".gguf")?;
    let base = match gguf::parse_split_name(&format!("{base}.gguf")) {
        Some((stem, _, _)) => stem.to_string(),
        None => base.to_string(),
    };
    let upper = base.to_uppercase();
    let known = [
        "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M", "IQ4_XS", "IQ4_NL", "Q2_K_S",
        "Q2_K_L", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q3_K_XL", "Q4_K_S", "Q4_K_M", "Q4_K_L", "Q4_0", "Q4_1", "Q5_K_S", "Q5_K_M",
        "Q5_K_L", "Q5_0", "Q5_1", "Q6_K_L", "Q6_K", "Q8_0", "BF16", "F16", "F32", "MXFP4",
    ];
    // The longest label that ends the name (or stands before a separator) wins: Q4_K_M over Q4_K.
    known
        .iter()
        .filter(|k| {
            upper.ends_with(*k) || upper.contains(&format!("{k}.")) || upper.contains(&format!("{k}-")) || upper.contains(&format!("-{k}"))
        })
        .max_by_key(|k| k.len())
        .map(|k| k.to_string())
}

/// The files for `quant` (case-insensitive), or the only quantization there is. Vision projectors
/// (`mmproj-*`) are not model weights and are never picked here.
pub fn pick(info: &ModelInfo, quant: Option<&str>) -> Result<Picked> {
    let weights: Vec<&Sibling> = info.gguf_files().filter(|s| !gguf::is_projector_name(&s.rfilename)).collect();
    let chosen: Vec<&Sibling> = match quant {
        Some(q) => weights.iter().copied().filter(|s| quant_of(&s.rfilename).is_some_and(|f| f.eq_ignore_ascii_case(q))).collect(),
        None => {
            let mut quants: Vec<Option<String>> = weights.iter().map(|s| quant_of(&s.rfilename)).collect();
            quants.dedup();
            if quants.len() == 1 {
                weights.clone()
            } else {
                Vec::new()
            }
        }
    };
    if chosen.is_empty() {
        return Err(LibraryError::NoSuchFile { repo: info.id.clone(), quant: quant.map(str::to_string) });
    }
    // A split model: its parts, in order. Otherwise the one file.
    let mut files: Vec<Sibling> = chosen.into_iter().cloned().collect();
    files.sort_by(|a, b| a.rfilename.cmp(&b.rfilename));
    if gguf::parse_split_name(files[0].rfilename.rsplit('/').next().unwrap_or("")).is_none() {
        files.truncate(1);
    }
    let quant = quant_of(&files[0].rfilename);
    let projector = gguf::choose_projector(&files[0].rfilename, quant.as_deref(), info.gguf_files().map(|s| s.rfilename.as_str()))
        .and_then(|name| info.siblings.iter().find(|s| s.rfilename == name))
        .cloned();
    Ok(Picked { quant, files, projector })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sib(name: &str) -> Sibling {
        Sibling { rfilename: name.into(), size: Some(1), lfs: None }
    }

    #[test]
    fn quant_labels_are_read_from_file_names() {
        assert_eq!(quant_of("Qwen2.5-7B-Instruct-Q4_K_M.gguf").as_deref(), Some("Q4_K_M"));
        assert_eq!(quant_of("llama-3-8b.Q5_K_S.gguf").as_deref(), Some("Q5_K_S"));
        assert_eq!(quant_of("Llama-70B-Q4_K_M-00002-of-00003.gguf").as_deref(), Some("Q4_K_M"));
        assert_eq!(quant_of("model-f16.gguf").as_deref(), Some("F16"));
        assert_eq!(quant_of("README.md"), None);
    }

    #[test]
    fn a_split_model_is_picked_whole_with_its_projector_beside() {
        let info = ModelInfo {
            id: "org/m".into(),
            sha: None,
            gated: false,
            siblings: vec![
                sib("m-Q4_K_M-00002-of-00002.gguf"),
                sib("m-Q4_K_M-00001-of-00002.gguf"),
                sib("m-Q8_0.gguf"),
                sib("mmproj-m-f16.gguf"),
            ],
            gguf: None,
            downloads: 0,
            likes: 0,
        };
        let p = pick(&info, Some("q4_k_m")).unwrap();
        assert_eq!(
            p.files.iter().map(|f| f.rfilename.as_str()).collect::<Vec<_>>(),
            ["m-Q4_K_M-00001-of-00002.gguf", "m-Q4_K_M-00002-of-00002.gguf"]
        );
        assert_eq!(p.projector.map(|s| s.rfilename).as_deref(), Some("mmproj-m-f16.gguf"), "pulled with it, never as the model");
        assert_eq!(pick(&info, Some("Q8_0")).unwrap().files.len(), 1);
        assert!(pick(&info, None).is_err(), "two quantizations: the caller must choose");
        assert!(pick(&info, Some("Q2_K")).unwrap_err().to_string().contains("no GGUF file at Q2_K"));
    }
}
