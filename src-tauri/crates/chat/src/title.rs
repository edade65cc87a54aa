//! A conversation's title from its first message: the first line, cut at a word near 60 characters.

const MAX: usize = 60;

pub fn from_message(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("New chat");
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let cut: String = line.chars().take(MAX).collect();
    let at_word = cut.rfind(char::is_whitespace).filter(|i| *i > MAX / 2).map(|i| &cut[..i]).unwrap_or(&cut);
    format!("{}…", at_word.trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::from_message;

    #[test]
    fn titles_are_the_first_line_cut_at_a_word() {
        assert_eq!(from_message("  \nHow do I bake bread?\nMore details"), "How do I bake bread?");
        let long = "Explain the difference between a mutex and a semaphore in operating systems, with examples";
        assert_eq!(from_message(long), "Explain the difference between a mutex and a semaphore in…");
        assert_eq!(from_message("日本語".repeat(30).as_str()).chars().count(), 61);
    }
}
