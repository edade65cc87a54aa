//! Split models: `name-00001-of-00003.gguf` and its siblings belong together; all are downloaded and
//! the first is loaded.

/// `(stem, index 1-based, count)` for a split file name, `None` for a single file.
pub fn parse_split_name(file_name: &str) -> Option<(&str, u32, u32)> {
    let base = file_name.strip_suffix(".gguf")?;
    let (rest, count) = base.rsplit_once("-of-")?;
    let (stem, index) = rest.rsplit_once('-')?;
    if index.len() != 5 || count.len() != 5 {
        return None;
    }
    let index: u32 = index.parse().ok()?;
    let count: u32 = count.parse().ok()?;
    (index >= 1 && index <= count).then_some((stem, index, count))
}

/// The names of every part, in order, for the part `file_name`.
pub fn split_siblings(file_name: &str) -> Option<Vec<String>> {
    let (stem, _, count) = parse_split_name(file_name)?;
    Some((1..=count).map(|i| format!("{stem}-{i:05}-of-{count:05}.gguf")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names() {
        assert_eq!(parse_split_name("Llama-70B-Q4_K_M-00002-of-00003.gguf"), Some(("Llama-70B-Q4_K_M", 2, 3)));
        assert_eq!(parse_split_name("model.Q4_K_M.gguf"), None);
        assert_eq!(parse_split_name("m-00004-of-00003.gguf"), None);
        assert_eq!(split_siblings("m-00001-of-00002.gguf").unwrap(), vec!["m-00001-of-00002.gguf", "m-00002-of-00002.gguf"]);
    }
}
