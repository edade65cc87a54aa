//! Stop strings: a reply ends before the first stop string, which is never shown. Because a stop
//! string can arrive spread over several tokens, text that could be the start of one is held back
//! until the next token shows whether it is; at the end of a reply the held text is released.

#[derive(Debug)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

/// What to show now, and whether a stop string was found (then nothing after it may be shown).
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    pub emit: String,
    pub stopped: bool,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), held: String::new() }
    }

    pub fn push(&mut self, text: &str) -> Step {
        self.held.push_str(text);
        let first = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min();
        if let Some(at) = first {
            let emit = self.held[..at].to_string();
            self.held.clear();
            return Step { emit, stopped: true };
        }
        // Hold back the longest tail that is the start of some stop string.
        let keep_from = self
            .held
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.held[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.held.len());
        let emit = self.held[..keep_from].to_string();
        self.held.drain(..keep_from);
        Step { emit, stopped: false }
    }

    /// The held-back text, at the end of a reply that ended some other way.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(&stops.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let mut out = String::new();
        for p in pieces {
            let step = m.push(p);
            out += &step.emit;
            if step.stopped {
                return (out, true);
            }
        }
        out += &m.finish();
        (out, false)
    }

    #[test]
    fn a_stop_string_split_over_tokens_is_never_shown() {
        assert_eq!(run(&["</end>"], &["Hello </", "en", "d> more"]), ("Hello ".into(), true));
    }

    #[test]
    fn a_false_start_is_released_when_it_turns_out_not_to_match() {
        let mut m = StopMatcher::new(&["STOP".to_string()]);
        assert_eq!(m.push("a ST"), Step { emit: "a ".into(), stopped: false });
        assert_eq!(m.push("ART"), Step { emit: "START".into(), stopped: false });
        assert_eq!(run(&["STOP"], &["x S"]), ("x S".into(), false));
    }

    #[test]
    fn the_earliest_of_several_stop_strings_wins() {
        assert_eq!(run(&["world", "lo w"], &["hello world"]), ("hel".into(), true));
    }

    #[test]
    fn multi_byte_text_is_held_on_character_boundaries() {
        assert_eq!(run(&["世界"], &["你好世", "界!"]), ("你好".into(), true));
        assert_eq!(run(&["é!"], &["café", " ok"]), ("café ok".into(), false));
    }

    #[test]
    fn no_stop_strings_pass_everything_through() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
        assert_eq!(run(&[""], &["a"]), ("a".into(), false));
    }
}
