//! Server-sent events as both APIs stream them: events end with a blank line, and an event's `data:`
//! lines join with newlines. `event:` names, comments (`: ping`) and ids carry nothing Hearth needs:
//! OpenAI's chunks and Anthropic's events name their type inside the data.

/// The longest event read: a token's chunk is a few hundred bytes, a whole reply in one event some
/// kilobytes. An endpoint that sends more without ending an event is not followed further.
pub const MAX_EVENT: usize = 1 << 20;

#[derive(Default)]
pub struct Events {
    /// Bytes of events not yet ended by a blank line. Kept as bytes: a chunk may end mid-character.
    pending: Vec<u8>,
    /// No blank line starts before this offset of `pending`: each byte is looked at about once,
    /// however the stream is cut (scanning from the start at every chunk was quadratic in a long
    /// event: an endpoint sending a 1 MiB line a byte at a time would have kept a core busy for hours).
    scanned: usize,
    /// Bytes looked at while searching, for the test that the search stays linear.
    examined: usize,
}

impl Events {
    /// Take more of the stream; `Err` when an event would grow past [`MAX_EVENT`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() > MAX_EVENT && self.find_blank().is_none() {
            return Err(format!("an event longer than {} KiB", MAX_EVENT / 1024));
        }
        Ok(())
    }

    /// Where the first blank line in `pending` starts and its length, searching on from `scanned`.
    fn find_blank(&mut self) -> Option<(usize, usize)> {
        let from = self.scanned;
        let found = blank_line(&self.pending[from..]).map(|(at, gap)| (from + at, gap));
        self.examined += found.map_or(self.pending.len() - from, |(at, gap)| at + gap - from);
        // A blank line may start in the last three bytes and end in the next chunk.
        self.scanned = if found.is_some() { 0 } else { self.pending.len().saturating_sub(3) };
        found
    }

    /// The data of the next complete event that has any.
    pub fn next_data(&mut self) -> Option<String> {
        loop {
            let (end, gap) = self.find_blank()?;
            let event: Vec<u8> = self.pending.drain(..end + gap).take(end).collect();
            let text = String::from_utf8_lossy(&event);
            let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
            if !data.is_empty() {
                return Some(data.join("\n"));
            }
        }
    }
}

/// Where the first blank line starts, and its length (`\n\n`, `\r\n\r\n`).
fn blank_line(b: &[u8]) -> Option<(usize, usize)> {
    (0..b.len()).find_map(|i| {
        if b[i..].starts_with(b"\r\n\r\n") {
            Some((i, 4))
        } else if b[i..].starts_with(b"\n\n") {
            Some((i, 2))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = "event: message_start\ndata: {\"a\":1}\n\n: ping\n\ndata: x\r\ndata: y\r\n\r\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut e = Events::default();
            e.push(&stream.as_bytes()[..cut]).unwrap();
            let mut got = Vec::new();
            while let Some(d) = e.next_data() {
                got.push(d);
            }
            e.push(&stream.as_bytes()[cut..]).unwrap();
            while let Some(d) = e.next_data() {
                got.push(d);
            }
            assert_eq!(got, ["{\"a\":1}", "x\ny", "[DONE]"], "cut at {cut}");
        }
    }

    #[test]
    fn an_event_that_never_ends_is_refused_not_kept() {
        let mut e = Events::default();
        let line = [b'x'; 64 << 10];
        let refused = (0..40).map(|_| e.push(&line)).find_map(Result::err);
        assert!(refused.is_some_and(|why| why.contains("longer than 1024 KiB")));
    }

    #[test]
    fn a_long_event_cut_into_small_chunks_is_searched_once() {
        let mut e = Events::default();
        let event = format!("data: {}\n\n", "x".repeat(MAX_EVENT - 64));
        for chunk in event.as_bytes().chunks(7) {
            e.push(chunk).unwrap();
            if let Some(d) = e.next_data() {
                assert_eq!(d.len(), MAX_EVENT - 64);
            }
        }
        assert!(e.examined < 2 * event.len(), "{} bytes looked at for an event of {}", e.examined, event.len());
    }

    #[test]
    fn a_character_split_across_chunks_is_whole() {
        let bytes = "data: é\n\n".as_bytes();
        let mut e = Events::default();
        e.push(&bytes[..7]).unwrap();
        assert_eq!(e.next_data(), None);
        e.push(&bytes[7..]).unwrap();
        assert_eq!(e.next_data().as_deref(), Some("é"));
    }
}
