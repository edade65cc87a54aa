//! What the Discover view shows: search results and a model's page, with split parts grouped into
//! one file and vision projectors set apart.

use hub::{HubClient, ModelInfo, ModelSummary};
use types::{FitPlan, HardwareProfile, HubFile, HubModel, HubModelPage, LoadSettings, PlannedFile};

use crate::pick::quant_of;

pub fn to_hub_model(m: &ModelSummary) -> HubModel {
    HubModel {
        id: m.id.clone(),
        author: m.author().to_string(),
        downloads: m.downloads,
        likes: m.likes,
        gated: m.gated,
        updated: m.last_modified.clone(),
        parameters: m.gguf.as_ref().and_then(|g| g.total),
        architecture: m.gguf.as_ref().and_then(|g| g.architecture.clone()),
    }
}

pub fn model_page(info: &ModelInfo, card: String) -> HubModelPage {
    let is_projector = gguf::is_projector_name;
    let mut files: Vec<HubFile> = Vec::new();
    let mut projectors = Vec::new();
    let mut names: Vec<&hub::Sibling> = info.gguf_files().collect();
    names.sort_by(|a, b| a.rfilename.cmp(&b.rfilename));
    for s in names {
        if is_projector(&s.rfilename) {
            projectors.push(s.rfilename.clone());
            continue;
        }
        let base = s.rfilename.rsplit('/').next().unwrap_or(&s.rfilename);
        let size = s.bytes().unwrap_or(0);
        match gguf::parse_split_name(base) {
            Some((_, index, _)) if index > 1 => {
                // Later parts join the first part's entry.
                let dir = s.rfilename.strip_suffix(base).unwrap_or("");
                if let Some(first) = files.iter_mut().rev().find(|f| {
                    f.name.starts_with(dir)
                        && gguf::split_siblings(f.name.rsplit('/').next().unwrap_or("")).is_some_and(|sibs| sibs.iter().any(|n| n == base))
                }) {
                    first.parts.push(s.rfilename.clone());
                    first.size_bytes += size;
                    continue;
                }
                files.push(HubFile {
                    name: s.rfilename.clone(),
                    quant: quant_of(&s.rfilename),
                    parts: vec![s.rfilename.clone()],
                    size_bytes: size,
                });
            }
            _ => files.push(HubFile {
                name: s.rfilename.clone(),
                quant: quant_of(&s.rfilename),
                parts: vec![s.rfilename.clone()],
                size_bytes: size,
            }),
        }
    }
    // Smallest first: the order of quality people read a quantization table in.
    files.sort_by_key(|f| f.size_bytes);
    let summary = ModelSummary {
        id: info.id.clone(),
        downloads: info.downloads,
        likes: info.likes,
        gated: info.gated,
        last_modified: None,
        pipeline_tag: None,
        tags: vec![],
        gguf: info.gguf.clone(),
    };
    HubModelPage { model: to_hub_model(&summary), card, files, projectors }
}

/// The fit plan of one file of a repository on a machine, from its header read with Range
/// requests (the weights are never fetched), with the projector it would be pulled with, chosen
/// among the repository's `projectors` (`gguf::choose_projector`; its header read the same way).
/// A header that cannot be read gives a grey plan that says why, not an error: the other files
/// still get theirs.
pub async fn plan_file(
    client: &HubClient,
    repo: &str,
    revision: &str,
    file: &str,
    projectors: &[String],
    hw: &HardwareProfile,
    settings: &LoadSettings,
) -> FitPlan {
    let chosen = gguf::choose_projector(file, crate::pick::quant_of(file).as_deref(), projectors.iter().map(String::as_str));
    let projector = match chosen {
        Some(name) => hub::remote_facts(client, repo, revision, name).await.ok(),
        None => None,
    };
    match hub::remote_facts(client, repo, revision, file).await {
        Ok(facts) => {
            let (hw, moved) = (hw.clone(), settings.clone());
            // Planning a large model's layout takes a few milliseconds of CPU: off the async threads.
            tokio::task::spawn_blocking(move || fit::plan_with_projector(&facts, projector.as_ref(), &hw, &moved))
                .await
                .unwrap_or_else(|e| fit::unknown(settings, &format!("planning failed: {e}")))
        }
        Err(e) => fit::unknown(settings, &e.to_string()),
    }
}

/// The file to recommend among planned files (`fit::recommend`): what Discover marks and what
/// `hearth pull ORG/NAME` downloads.
pub fn recommended(files: &[PlannedFile]) -> Option<String> {
    let candidates: Vec<fit::Candidate> =
        files.iter().map(|f| fit::Candidate { name: &f.name, size_bytes: f.size_bytes, plan: &f.plan }).collect();
    fit::recommend(&candidates).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub::{Lfs, Sibling};

    fn sib(name: &str, size: u64) -> Sibling {
        Sibling { rfilename: name.into(), size: Some(size), lfs: Some(Lfs { sha256: Some("ab".into()), oid: None, size: Some(size) }) }
    }

    #[test]
    fn split_parts_are_one_file_and_projectors_are_apart() {
        let info = ModelInfo {
            id: "org/M-GGUF".into(),
            sha: None,
            gated: false,
            siblings: vec![
                sib("M-Q8_0-00002-of-00002.gguf", 20),
                sib("M-Q8_0-00001-of-00002.gguf", 30),
                sib("M-Q4_K_M.gguf", 25),
                sib("mmproj-M-f16.gguf", 5),
                sib("README.md", 1),
            ],
            gguf: None,
            downloads: 1,
            likes: 2,
        };
        let page = model_page(&info, "# card".into());
        assert_eq!(page.files.len(), 2);
        assert_eq!(page.files[0].quant.as_deref(), Some("Q4_K_M"));
        let q8 = &page.files[1];
        assert_eq!((q8.name.as_str(), q8.parts.len(), q8.size_bytes), ("M-Q8_0-00001-of-00002.gguf", 2, 50));
        assert_eq!(page.projectors, vec!["mmproj-M-f16.gguf".to_string()]);
        assert_eq!(page.model.author, "org");
    }
}
