//! What a model's name means, the same in `hearth run NAME`, `hearth serve --model NAME` and
//! wherever else a person types one: a file name (with or without `.gguf`) or a library id is
//! exact and wins; else the one model whose file name, repository or `repo/file` contains the
//! name, case-insensitively. Several: the name is ambiguous and the error lists them.

use std::path::Path;

use types::{shown_path, Audience, ErrorCode, LocalModel, Problem};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    EmptyLibrary { name: String },
    NotFound { name: String },
    /// `paths`: the library models the name matches.
    Ambiguous { name: String, paths: Vec<String> },
}

impl Problem for NameError {
    fn code(&self) -> ErrorCode {
        match self {
            NameError::EmptyLibrary { .. } | NameError::NotFound { .. } => ErrorCode::NotFound,
            NameError::Ambiguous { .. } => ErrorCode::InvalidInput,
        }
    }

    fn sentence(&self, to: Audience) -> String {
        match self {
            NameError::EmptyLibrary { name } => {
                format!("There is no model file at {name:?} and the library is empty; pull one with `hearth pull ORG/NAME:QUANT`.")
            }
            NameError::NotFound { name } => {
                format!("There is no model file at {name:?} and no library model matches it; `hearth ls` lists them.")
            }
            NameError::Ambiguous { name, paths } => {
                let shown: Vec<String> = paths.iter().map(|p| shown_path(Path::new(p), to)).collect();
                format!("{name:?} names {} library models, name one of them: {}.", paths.len(), shown.join(", "))
            }
        }
    }
}

/// The model `name` means among `models`.
pub fn find<'a>(models: &'a [LocalModel], name: &str) -> Result<&'a LocalModel, NameError> {
    let want = name.trim().to_lowercase();
    let file = |m: &LocalModel| m.file_name.to_lowercase();
    let exact: Vec<&LocalModel> = models
        .iter()
        .filter(|m| file(m) == want || file(m).strip_suffix(".gguf") == Some(want.as_str()) || m.id.to_string() == want)
        .collect();
    if let [one] = exact.as_slice() {
        return Ok(one);
    }
    let names = |m: &LocalModel| {
        let mut n = vec![file(m)];
        if let Some(repo) = &m.repo {
            n.push(repo.to_lowercase());
            n.push(format!("{}/{}", repo.to_lowercase(), file(m)));
        }
        n
    };
    let matches: Vec<&LocalModel> = models.iter().filter(|m| names(m).iter().any(|n| n.contains(&want))).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] if models.is_empty() => Err(NameError::EmptyLibrary { name: name.to_string() }),
        [] => Err(NameError::NotFound { name: name.to_string() }),
        many => Err(NameError::Ambiguous { name: name.to_string(), paths: many.iter().map(|m| m.path.clone()).collect() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: i64, path: &str, repo: Option<&str>) -> LocalModel {
        LocalModel {
            id,
            path: path.into(),
            file_name: path.rsplit('/').next().unwrap_or(path).into(),
            origin: types::ModelOrigin::Downloaded,
            repo: repo.map(str::to_string),
            size_bytes: 0,
            parts: 1,
            architecture: None,
            parameters: None,
            quant: None,
            context_length: None,
            plan: None,
            problem: None,
            run: None,
            chat_template: None,
            projector: None,
        }
    }

    #[test]
    fn an_exact_file_name_wins_else_one_substring_else_a_clear_error() {
        let models = [
            model(1, "/m/qwen/Qwen2.5-7B-Instruct-Q4_K_M.gguf", Some("bartowski/Qwen2.5-7B-Instruct-GGUF")),
            model(2, "/m/qwen/Qwen2.5-7B-Instruct-Q8_0.gguf", Some("bartowski/Qwen2.5-7B-Instruct-GGUF")),
            model(3, "/m/smol/SmolLM2-135M-Instruct.Q4_1.gguf", None),
        ];
        assert_eq!(find(&models, "smollm2").unwrap().id, 3, "a unique substring, any case");
        assert_eq!(find(&models, "Qwen2.5-7B-Instruct-Q8_0").unwrap().id, 2, "the file name without .gguf");
        assert_eq!(find(&models, "qwen2.5-7b-instruct-q4_k_m.gguf").unwrap().id, 1);
        assert_eq!(find(&models, "bartowski/qwen2.5-7b-instruct-gguf/qwen2.5-7b-instruct-q8").unwrap().id, 2, "repo/file");
        assert_eq!(find(&models, "3").unwrap().id, 3, "the library id");
        let e = find(&models, "qwen").unwrap_err();
        assert!(matches!(&e, NameError::Ambiguous { paths, .. } if paths.len() == 2), "{e:?}");
        // A client of the API reads the matches' file names, the person their paths.
        let said = types::HearthError::from(e.clone());
        assert!(said.message.contains('/'), "{}", said.message);
        assert!(!said.public_message().contains('/'), "{}", said.public_message());
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert_eq!(find(&models, "llama").unwrap_err(), NameError::NotFound { name: "llama".into() });
        assert_eq!(find(&[], "llama").unwrap_err().code(), ErrorCode::NotFound);
    }
}
