//! My Models: every model file on this machine as one list — Hearth's downloads, files the person
//! imported in place, and what the Hugging Face cache and LM Studio already hold — each with its facts
//! and its fit. Split models are one entry. Import registers files without copying them; delete
//! removes only what Hearth itself downloaded.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use store::{ModelRow, ModelSource, Store};
use types::{HardwareProfile, LocalModel, ModelOrigin};

use crate::scan::{scan, Found};
use crate::{quant_of, LibraryError, Result};

/// The settings key listing imported folders (one path per line), rescanned on every listing so
/// files added to them later appear.
const IMPORTED_FOLDERS: &str = "imported_folders";

/// Refresh the library from disk and return it, newest first: scan `folders` (the models folder and
/// the other apps' folders) and the imported ones, register what is new, forget rows whose file is
/// gone, and plan each model for `hw`.
pub fn list(store: &Store, folders: &[(PathBuf, ModelSource)], hw: &HardwareProfile) -> Result<Vec<LocalModel>> {
    let mut all = folders.to_vec();
    all.extend(imported_folders(store)?.into_iter().map(|f| (f, ModelSource::Imported)));
    let known: HashSet<String> = store.models()?.into_iter().map(|m| m.path).collect();
    for Found { path, source, size } in scan(&all) {
        let path = path.display().to_string();
        if !known.contains(&path) {
            store.upsert_model(&path, source, None, None, size, None)?;
        }
    }

    let mut out = Vec::new();
    for row in store.models()? {
        let path = PathBuf::from(&row.path);
        if !path.is_file() {
            // Deleted or moved outside Hearth: the list shows what is there, not what was.
            store.remove_model(row.id)?;
            continue;
        }
        // The later parts of a split model are listed through their first part; a projector
        // through the model it reads pictures for.
        let name = file_name(&path);
        if gguf::parse_split_name(&name).is_some_and(|(_, index, _)| index > 1) || gguf::is_projector_name(&name) {
            continue;
        }
        out.push(describe(store, &row, &path, hw));
    }
    // Hearth's own models first, then what other apps hold; newest first within each (a stable sort
    // over rows that come newest first).
    out.sort_by_key(|m| matches!(m.origin, ModelOrigin::HfCache | ModelOrigin::LmStudio));
    Ok(out)
}

/// One row with its facts and plan. An unreadable header is a `problem`, not an error: the file is
/// still listed so the person can see it and delete it.
fn describe(store: &Store, row: &ModelRow, path: &Path, hw: &HardwareProfile) -> LocalModel {
    let name = file_name(path);
    let parts = split_parts(path);
    // Lengths of files anyone can make (a sparse file claims what it likes): they saturate.
    let size_bytes = parts.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).fold(0u64, u64::saturating_add);
    let mut model = LocalModel {
        id: row.id,
        path: row.path.clone(),
        file_name: name.clone(),
        origin: origin(row.source),
        repo: row.repo.clone(),
        size_bytes,
        parts: parts.len() as u32,
        architecture: None,
        parameters: None,
        quant: quant_of(&name),
        context_length: None,
        plan: None,
        problem: None,
        run: crate::settings::model_run_on(store, path),
        chat_template: crate::settings::model_template(store, path),
        projector: None,
    };
    match read_all_parts(&parts) {
        Ok(facts) => {
            model.architecture = Some(facts.architecture.clone());
            model.parameters = Some(facts.parameter_count);
            model.context_length = facts.context_length;
            model.quant = model.quant.or_else(|| facts.file_type_label.clone());
            let projector = gguf::projector_facts_beside(path, &facts);
            model.projector = projector.as_ref().map(|(p, _)| p.display().to_string());
            if size_bytes < facts.data_end() && parts.len() == 1 {
                model.problem = Some(format!("The file is incomplete: {} of {} bytes.", size_bytes, facts.data_end()));
            } else {
                // Planned as its load will be: with its own choice of where it runs, else Settings'.
                let settings = crate::settings::load_settings(store, Some(path));
                model.plan = Some(fit::plan_with_projector(&facts, projector.as_ref().map(|(_, f)| f), hw, &settings));
            }
        }
        Err(e) => model.problem = Some(e),
    }
    model
}

/// The facts of a model from all its parts: the first part has the metadata, every part has tensors.
fn read_all_parts(parts: &[PathBuf]) -> std::result::Result<gguf::ModelFacts, String> {
    let (first, rest) = parts.split_first().ok_or("no file")?;
    let mut facts = gguf::read_file(first).map_err(|e| format!("Not a readable GGUF model: {e}"))?;
    for p in rest {
        if !p.is_file() {
            return Err(format!("Part {} is missing.", file_name(p)));
        }
        let more = gguf::read_file(p).map_err(|e| format!("Part {} is unreadable: {e}", file_name(p)))?;
        facts.parameter_count = facts.parameter_count.saturating_add(more.parameter_count);
        facts.tensor_bytes = facts.tensor_bytes.saturating_add(more.tensor_bytes);
        facts.tensors.extend(more.tensors);
    }
    Ok(facts)
}

/// Every part of the model whose first part is `path` (just `path` for a single file).
fn split_parts(path: &Path) -> Vec<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    match gguf::split_siblings(&file_name(path)) {
        Some(names) => names.into_iter().map(|n| dir.join(n)).collect(),
        None => vec![path.to_path_buf()],
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn origin(source: ModelSource) -> ModelOrigin {
    match source {
        ModelSource::Downloaded => ModelOrigin::Downloaded,
        ModelSource::Imported => ModelOrigin::Imported,
        ModelSource::HfCache => ModelOrigin::HfCache,
        ModelSource::LmStudio => ModelOrigin::LmStudio,
    }
}

fn imported_folders(store: &Store) -> Result<Vec<PathBuf>> {
    Ok(store.setting(IMPORTED_FOLDERS)?.unwrap_or_default().lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect())
}

/// Import a GGUF file, or every GGUF file in a folder, in place: nothing is copied. A folder is
/// remembered, so files put there later are listed too. Returns how many model files were added.
pub fn import(store: &Store, path: &Path) -> Result<usize> {
    // One sentence for a path that is missing, unreadable or no model: the path comes from the
    // window, and different answers would tell a page in it which files exist.
    let refused = || LibraryError::Invalid(format!("{} is not a GGUF model, or a folder of them, that Hearth can read.", file_name(path)));
    let path = path.canonicalize().map_err(|_| refused())?;
    if path.is_dir() {
        let found = scan(&[(path.clone(), ModelSource::Imported)]);
        if found.is_empty() {
            return Err(refused());
        }
        let mut folders = imported_folders(store)?;
        if !folders.contains(&path) {
            folders.push(path);
            let joined = folders.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join("\n");
            store.set_setting(IMPORTED_FOLDERS, &joined)?;
        }
        for f in &found {
            store.upsert_model(&f.path.display().to_string(), ModelSource::Imported, None, None, f.size, None)?;
        }
        return Ok(found.len());
    }
    // A single file must at least be a model llama.cpp could read, or the list would fill with junk.
    gguf::read_file(&path).map_err(|e| {
        tracing::info!("not imported, {} is not a GGUF model: {e}", path.display());
        refused()
    })?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    store.upsert_model(&path.display().to_string(), ModelSource::Imported, None, None, size, None)?;
    Ok(1)
}

/// What deleting a model does, by where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The files were deleted from Hearth's models folder.
    Deleted,
    /// The entry was taken off the list; the person's file stays where it is.
    Forgotten,
}

/// Delete a model Hearth downloaded (every part, then the folders it leaves empty), or forget an
/// imported one. Files in the Hugging Face cache or LM Studio's folder belong to those apps: Hearth
/// refuses rather than break their bookkeeping.
///
/// `roots` are the folders Hearth downloads into (the models folder now, and the default one, for
/// files downloaded before the setting changed); nothing outside them is ever deleted.
pub fn delete(store: &Store, id: i64, roots: &[PathBuf]) -> Result<Removed> {
    let row = store.models()?.into_iter().find(|m| m.id == id).ok_or(LibraryError::UnknownModel(id))?;
    let path = PathBuf::from(&row.path);
    match row.source {
        ModelSource::Imported => {
            if imported_folders(store)?.iter().any(|f| path.starts_with(f)) {
                return Err(LibraryError::Invalid(format!(
                    "{} is in a folder you imported; move or delete it there, and Hearth will follow.",
                    file_name(&path)
                )));
            }
            store.remove_model(id)?;
            Ok(Removed::Forgotten)
        }
        ModelSource::HfCache | ModelSource::LmStudio => Err(LibraryError::Invalid(format!(
            "{} belongs to {}; delete it there.",
            file_name(&path),
            if row.source == ModelSource::HfCache { "the Hugging Face cache" } else { "LM Studio" }
        ))),
        ModelSource::Downloaded => {
            // Never delete outside the models folders, whatever the database says.
            let roots: Vec<PathBuf> = roots.iter().map(|r| r.canonicalize().unwrap_or_else(|_| r.clone())).collect();
            let real_path = path.canonicalize().unwrap_or_else(|_| path.clone());
            let Some(root) = roots.iter().find(|r| real_path.starts_with(r)).cloned() else {
                return Err(LibraryError::Invalid(format!("{} is outside the models folder; Hearth leaves it alone.", path.display())));
            };
            for part in split_parts(&path) {
                let real = part.canonicalize().unwrap_or_else(|_| part.clone());
                if !real.starts_with(&root) {
                    return Err(LibraryError::Invalid(format!("{} is outside the models folder; Hearth leaves it alone.", part.display())));
                }
                match std::fs::remove_file(&real) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(LibraryError::Invalid(format!("{} could not be deleted: {e}", part.display()))),
                }
                let gone = real.display().to_string();
                if let Some(other) = store.models()?.into_iter().find(|m| m.path == gone || m.path == part.display().to_string()) {
                    store.remove_model(other.id)?;
                }
            }
            store.remove_model(id)?;
            // Tidy the org/name folders a download made, up to the models folder itself.
            let mut dir = real_path.parent().map(Path::to_path_buf);
            while let Some(d) = dir {
                if d == root || !d.starts_with(&root) || std::fs::remove_dir(&d).is_err() {
                    break;
                }
                dir = d.parent().map(Path::to_path_buf);
            }
            Ok(Removed::Deleted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gguf::synthetic::{self, Quant};

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hearth-models-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A 32 GB machine without a GPU, so plans are the same on every machine that runs the tests.
    fn hw() -> HardwareProfile {
        hardware::catalog::imagined(None, 1, 32)
    }

    #[test]
    fn lists_downloads_and_other_apps_files_with_facts_and_fit_and_forgets_deleted_files() {
        let root = temp("list");
        let models = root.join("models/org/m-GGUF");
        std::fs::create_dir_all(&models).unwrap();
        synthetic::model(&synthetic::llama32_1b(), Quant::Q4KM, false).write_sparse(&models.join("m-Q4_K_M.gguf")).unwrap();
        let lm = root.join("lmstudio/x");
        std::fs::create_dir_all(&lm).unwrap();
        synthetic::model(&synthetic::llama3_70b(), Quant::Q4KM, false).write_sparse(&lm.join("big-Q4_K_M.gguf")).unwrap();
        std::fs::write(lm.join("junk.gguf"), b"not a model").unwrap();

        let store = Store::in_memory().unwrap();
        let folders = vec![(root.join("models"), ModelSource::Downloaded), (root.join("lmstudio"), ModelSource::LmStudio)];
        let list = list(&store, &folders, &hw()).unwrap();
        assert_eq!(list.len(), 3, "{list:#?}");
        let small = list.iter().find(|m| m.file_name == "m-Q4_K_M.gguf").unwrap();
        assert_eq!(small.origin, ModelOrigin::Downloaded);
        assert_eq!(small.architecture.as_deref(), Some("llama"));
        assert_eq!(small.quant.as_deref(), Some("Q4_K_M"));
        assert_eq!(small.plan.as_ref().unwrap().verdict, types::Verdict::Green);
        let big = list.iter().find(|m| m.file_name == "big-Q4_K_M.gguf").unwrap();
        assert_eq!(big.origin, ModelOrigin::LmStudio);
        assert_eq!(big.plan.as_ref().unwrap().verdict, types::Verdict::Red, "a 70B Q4 does not fit 32 GB without a GPU");
        let junk = list.iter().find(|m| m.file_name == "junk.gguf").unwrap();
        assert!(junk.plan.is_none() && junk.problem.as_deref().unwrap().contains("Not a readable GGUF"), "{junk:?}");

        std::fs::remove_file(lm.join("junk.gguf")).unwrap();
        assert_eq!(super::list(&store, &folders, &hw()).unwrap().len(), 2);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A header with absurd numbers (a file anyone can publish) is listed with a verdict; it used to
    /// overflow in the planner and take the listing, and with it My Models, down (issue 13).
    #[test]
    fn a_hostile_header_is_listed_red_not_a_crash() {
        let root = temp("hostile");
        for (i, key) in ["llama.embedding_length", "llama.feed_forward_length", "llama.vocab_size", "llama.attention.key_length"]
            .into_iter()
            .enumerate()
        {
            let shape = synthetic::llama32_1b();
            let w = synthetic::model(&shape, Quant::Q4KM, false).without(key).u64(key, u64::MAX);
            w.write_sparse(&root.join(format!("hostile{i}-Q4_K_M.gguf"))).unwrap();
        }
        let store = Store::in_memory().unwrap();
        let list = list(&store, &[(root.clone(), ModelSource::Downloaded)], &hw()).unwrap();
        assert_eq!(list.len(), 4, "{list:#?}");
        for m in &list {
            let plan = m.plan.as_ref().unwrap_or_else(|| panic!("{} has no plan: {:?}", m.file_name, m.problem));
            assert_eq!(plan.verdict, types::Verdict::Red, "{}: {plan:?}", m.file_name);
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_split_model_is_one_entry_sized_and_planned_from_all_its_parts() {
        let root = temp("split");
        let whole = synthetic::model(&synthetic::llama32_3b(), Quant::Q8_0, false);
        // Two parts: the same header twice stands in for the tensors of each half.
        whole.write_sparse(&root.join("m-Q8_0-00001-of-00002.gguf")).unwrap();
        whole.write_sparse(&root.join("m-Q8_0-00002-of-00002.gguf")).unwrap();
        let store = Store::in_memory().unwrap();
        let one = gguf::read_file(&root.join("m-Q8_0-00001-of-00002.gguf")).unwrap();
        let list = list(&store, &[(root.clone(), ModelSource::Downloaded)], &hw()).unwrap();
        assert_eq!(list.len(), 1, "{list:#?}");
        assert_eq!(list[0].parts, 2);
        assert_eq!(list[0].parameters, Some(one.parameter_count * 2));
        let plan = list[0].plan.as_ref().unwrap();
        assert!(plan.total_bytes > one.tensor_bytes * 2, "planned from both parts: {plan:?}");

        std::fs::remove_file(root.join("m-Q8_0-00002-of-00002.gguf")).unwrap();
        let list = super::list(&store, &[(root.clone(), ModelSource::Downloaded)], &hw()).unwrap();
        assert!(list[0].problem.as_deref().unwrap().contains("missing"), "{:?}", list[0]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn import_registers_in_place_and_refuses_what_is_not_a_model() {
        let root = temp("import");
        let file = root.join("mine.gguf");
        synthetic::model(&synthetic::llama32_1b(), Quant::Q8_0, false).write_sparse(&file).unwrap();
        std::fs::write(root.join("notes.gguf"), b"hello").unwrap();
        let store = Store::in_memory().unwrap();

        assert_eq!(import(&store, &file).unwrap(), 1);
        let err = import(&store, &root.join("notes.gguf")).unwrap_err();
        assert!(err.to_string().contains("notes.gguf is not a GGUF model"), "{err}");
        // Missing, or there and no model: the same sentence (no oracle for which files exist).
        let absent = import(&store, &root.join("absent.gguf")).unwrap_err().to_string();
        assert_eq!(absent.replace("absent", "notes"), err.to_string());
        assert!(file.exists(), "import never moves the file");
        let list = list(&store, &[], &hw()).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].origin, ModelOrigin::Imported);

        // Forgetting an imported file keeps it on disk.
        assert_eq!(delete(&store, list[0].id, &[root.join("models")]).unwrap(), Removed::Forgotten);
        assert!(file.exists());
        assert!(super::list(&store, &[], &hw()).unwrap().is_empty());

        // A folder: its files now, and files added later.
        let folder = root.join("collection");
        std::fs::create_dir_all(&folder).unwrap();
        synthetic::model(&synthetic::llama32_1b(), Quant::Q4KM, false).write_sparse(&folder.join("a-Q4_K_M.gguf")).unwrap();
        assert_eq!(import(&store, &folder).unwrap(), 1);
        synthetic::model(&synthetic::llama32_1b(), Quant::Q8_0, false).write_sparse(&folder.join("a-Q8_0.gguf")).unwrap();
        assert_eq!(super::list(&store, &[], &hw()).unwrap().len(), 2);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn delete_removes_every_part_of_a_download_and_refuses_other_apps_files() {
        let root = temp("delete");
        let models = root.join("models");
        let dir = models.join("org/m-GGUF");
        std::fs::create_dir_all(&dir).unwrap();
        let m = synthetic::model(&synthetic::llama32_1b(), Quant::Q4KM, false);
        m.write_sparse(&dir.join("m-00001-of-00002.gguf")).unwrap();
        m.write_sparse(&dir.join("m-00002-of-00002.gguf")).unwrap();
        let hf = root.join("hf");
        std::fs::create_dir_all(&hf).unwrap();
        m.write_sparse(&hf.join("theirs.gguf")).unwrap();
        let store = Store::in_memory().unwrap();
        let folders = vec![(models.clone(), ModelSource::Downloaded), (hf.clone(), ModelSource::HfCache)];
        let list = list(&store, &folders, &hw()).unwrap();
        let ours = list.iter().find(|x| x.origin == ModelOrigin::Downloaded).unwrap();
        let theirs = list.iter().find(|x| x.origin == ModelOrigin::HfCache).unwrap();

        let err = delete(&store, theirs.id, &[models.clone()]).unwrap_err();
        assert!(err.to_string().contains("Hugging Face cache"), "{err}");
        assert!(hf.join("theirs.gguf").exists());

        assert_eq!(delete(&store, ours.id, &[models.clone()]).unwrap(), Removed::Deleted);
        assert!(!dir.join("m-00001-of-00002.gguf").exists() && !dir.join("m-00002-of-00002.gguf").exists());
        assert!(!models.join("org").exists(), "the empty org/name folders go too");
        assert!(models.exists(), "the models folder itself stays");
        assert_eq!(super::list(&store, &folders, &hw()).unwrap().len(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn delete_never_touches_a_file_outside_the_models_folder() {
        let root = temp("outside");
        let elsewhere = root.join("elsewhere.gguf");
        synthetic::model(&synthetic::llama32_1b(), Quant::Q4KM, false).write_sparse(&elsewhere).unwrap();
        let store = Store::in_memory().unwrap();
        // A row claiming to be a download, pointing outside the folder (an old models folder, a bad row).
        let id = store.upsert_model(&elsewhere.display().to_string(), ModelSource::Downloaded, None, None, 1, None).unwrap();
        let err = delete(&store, id, &[root.join("models")]).unwrap_err();
        assert!(err.to_string().contains("outside the models folder"), "{err}");
        assert!(elsewhere.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
