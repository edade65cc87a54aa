//! Turns the bytes of generated tokens into text without ever splitting a character. A token is a
//! piece of bytes, and a multi-byte UTF-8 character (an emoji, most CJK text) is often spread over
//! two or three tokens; the decoder keeps the unfinished tail until the next token completes it.
//! Bytes that can never become valid UTF-8 come out as U+FFFD, as a lossy conversion would; a
//! character still unfinished when the reply ends (cut by max tokens) is dropped.

#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token's bytes; returns the text that is complete now (possibly empty).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // Valid by construction: from_utf8 said so up to this point.
                    out.push_str(&String::from_utf8_lossy(valid));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the next token.
                        None => {
                            rest = after;
                            break;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    /// The end of a reply. All that can be held is the start of one character that the reply was
    /// cut before finishing (max tokens, a stop): it is dropped, as it is no text. It came out as
    /// U+FFFD, and `hearth run "…" --max-tokens 8` ended in "😊�".
    pub fn finish(&mut self) -> String {
        self.pending.clear();
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_four_byte_emoji_split_over_three_tokens_comes_out_whole() {
        let bytes = "a👋b".as_bytes();
        let mut d = Utf8Decoder::new();
        assert_eq!(d.push(&bytes[..2]), "a");
        assert_eq!(d.push(&bytes[2..4]), "");
        assert_eq!(d.push(&bytes[4..5]), "👋");
        assert_eq!(d.push(&bytes[5..]), "b");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn every_split_of_mixed_text_reassembles_exactly() {
        let text = "héllo, 世界 🎉!";
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut d = Utf8Decoder::new();
                let mut s = d.push(&bytes[..i]);
                s += &d.push(&bytes[i..j]);
                s += &d.push(&bytes[j..]);
                s += &d.finish();
                assert_eq!(s, text, "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_and_decoding_goes_on() {
        let mut d = Utf8Decoder::new();
        assert_eq!(d.push(b"a\xffb"), "a\u{fffd}b");
        // A lead byte followed by a non-continuation byte.
        assert_eq!(d.push(b"\xe4x"), "\u{fffd}x");
    }

    #[test]
    fn an_unfinished_character_at_the_end_is_dropped() {
        let mut d = Utf8Decoder::new();
        assert_eq!(d.push("ok ".as_bytes()), "ok ");
        assert_eq!(d.push(&"世".as_bytes()[..2]), "");
        assert_eq!(d.finish(), "");
        // Bytes that can never be UTF-8 still show as the replacement sign, where they were.
        assert_eq!(d.push(&[b'a', 0xff, b'b']), "a\u{fffd}b");
    }
}
