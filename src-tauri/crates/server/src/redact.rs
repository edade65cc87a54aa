//! What of an engine error a client may read. The engine's messages are written for the person at
//! the app, and some name a model's absolute path (`/home/ann/models/x.gguf`: a user name, a folder
//! layout) or end with the worker's last log lines. Over HTTP a client gets the first line only,
//! without a sentence that introduces the lines cut off, and every absolute path reduced to its
//! file name. The whole message goes to the log (see `ApiError::into_response`).

/// `message` fit to send to a client.
pub fn public(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim_end();
    let first = match first.strip_suffix(':') {
        // "… no longer loaded. Its last lines:" — the sentence that led into the lines cut off.
        Some(lead) => lead.rfind(". ").map_or(lead, |end| &lead[..=end]).trim_end(),
        None => first,
    };
    without_paths(first)
}

/// Each absolute path (`/…`, `~/…`, `C:\…`, `\\server\…`) becomes its last component. A path may
/// hold spaces: a word after one that holds a separator belongs to it (`/home/ann/My Models/x.gguf`).
fn without_paths(text: &str) -> String {
    // (text, is a path) per word, paths with the words that continue them.
    let mut words: Vec<(String, bool)> = Vec::new();
    for word in text.split(' ') {
        let starts = is_absolute(word.trim_start_matches(OPENERS));
        match words.last_mut() {
            Some((path, true)) if !starts && word.contains(['/', '\\']) => {
                path.push(' ');
                path.push_str(word);
            }
            _ => words.push((word.to_string(), starts)),
        }
    }
    let shown: Vec<String> = words
        .into_iter()
        .map(|(w, path)| {
            if !path {
                return w;
            }
            let rest = w.trim_start_matches(OPENERS);
            let name = rest.rsplit(['/', '\\']).next().unwrap_or(rest);
            format!("{}{name}", &w[..w.len() - rest.len()])
        })
        .collect();
    shown.join(" ")
}

/// What may stand before a path in a sentence: `(/x)`, `"/x"`.
const OPENERS: [char; 5] = ['(', '"', '\'', '`', '['];

fn is_absolute(word: &str) -> bool {
    let b = word.as_bytes();
    (b.len() > 1 && b[0] == b'/' && b[1] != b'/')
        || word.starts_with("~/")
        || (b.len() > 2 && word.starts_with("\\\\"))
        || (b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_become_file_names() {
        assert_eq!(public("There is no model file at /home/ann/models/x.gguf."), "There is no model file at x.gguf.");
        assert_eq!(
            public("llama.cpp could not load /home/ann/My Models/x y.gguf (bad magic). The file may be damaged."),
            "llama.cpp could not load x y.gguf (bad magic). The file may be damaged."
        );
        assert_eq!(public("could not read (/Users/bo/m.gguf): eof"), "could not read (m.gguf): eof");
        assert_eq!(public(r"could not load C:\Users\Bo\AppData\m.gguf"), "could not load m.gguf");
        assert_eq!(public("at ~/models/m.gguf and \\\\nas\\share\\m.gguf"), "at m.gguf and m.gguf");
        assert_eq!(public("x.gguf will not fit on this machine: needs 9 GB / 8 GB"), "x.gguf will not fit on this machine: needs 9 GB / 8 GB");
        assert_eq!(public("bartowski/Qwen2.5-7B-Instruct-GGUF is not loaded"), "bartowski/Qwen2.5-7B-Instruct-GGUF is not loaded");
    }

    #[test]
    fn the_workers_log_lines_are_cut() {
        assert_eq!(
            public("The engine stopped unexpectedly (exit status: 134); the model is no longer loaded. Its last lines:\nggml.c:12: GGML_ASSERT failed\n/build/x.c"),
            "The engine stopped unexpectedly (exit status: 134); the model is no longer loaded."
        );
        assert_eq!(public("one line"), "one line");
        assert_eq!(public(""), "");
    }
}
