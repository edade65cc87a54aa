//! What the worker's main thread hands to the replies it runs (session.rs, reply.rs): where their
//! events go, and which requests the host cancelled. Its own module, so that generation depends on
//! these two and not on the worker's loop (and can be driven in-process).

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use types::HearthError;

use crate::error::EngineError;

use crate::protocol::{write_frame, Event, FrameError, RequestId, MAX_FRAME_BYTES};

/// Writes event frames to stdout. Stdout's own lock keeps frames whole.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventSink;

impl EventSink {
    pub fn send(&self, event: &Event) -> Result<(), FrameError> {
        send_to(&mut std::io::stdout().lock(), event)
    }
}

/// Writes `event`; one too large for a frame (the embeddings of many long inputs) goes as an error
/// for its request instead, so that the host answers it rather than waiting for it for ever.
fn send_to<W: Write>(w: &mut W, event: &Event) -> Result<(), FrameError> {
    match write_frame(w, event) {
        Err(FrameError::TooLarge(n)) => {
            let e = HearthError::from(EngineError::AnswerTooLarge { mib: n >> 20, limit_mib: u64::from(MAX_FRAME_BYTES >> 20) });
            write_frame(w, &Event::error(event.id(), &e))?;
            Err(FrameError::TooLarge(n))
        }
        other => other,
    }
}

/// Ids of generations the host cancelled, filled by the reader thread.
#[derive(Debug, Clone, Default)]
pub struct Cancels(Arc<Mutex<HashSet<RequestId>>>);

impl Cancels {
    pub fn contains(&self, id: RequestId) -> bool {
        self.0.lock().map(|s| s.contains(&id)).unwrap_or(false)
    }

    pub(crate) fn insert(&self, id: RequestId) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(id);
        }
    }

    /// Forgets the cancels of requests older than `oldest`, the oldest request the worker has not
    /// finished with. The host numbers requests in order, so a cancel that crossed a reply that had
    /// already ended is not kept forever; one for a request not read yet (its id is newer) stays.
    pub(crate) fn forget_below(&self, oldest: RequestId) {
        if let Ok(mut s) = self.0.lock() {
            s.retain(|&c| c >= oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::read_frame;

    #[test]
    fn an_answer_too_large_for_a_frame_is_sent_as_an_error_for_its_request() {
        // 8 vectors of 2^20 floats: about 72 MB of JSON.
        let huge = Event::Embeddings { id: 7, vectors: vec![vec![0.123_456_f32; 1 << 20]; 8], tokens: 8 };
        let mut pipe = Vec::new();
        assert!(matches!(send_to(&mut pipe, &huge), Err(FrameError::TooLarge(_))));
        let sent: Event = read_frame(&mut pipe.as_slice()).unwrap().expect("a frame");
        match sent {
            Event::Error { id, error } => {
                assert_eq!((id, error.code), (7, types::ErrorCode::InvalidInput));
                assert!(error.message.contains("more than the 64 MiB"), "{}", error.message);
            }
            other => panic!("{other:?}"),
        }
        // A small answer goes as it is.
        let mut pipe = Vec::new();
        send_to(&mut pipe, &Event::Unloaded { id: 3 }).unwrap();
        assert!(matches!(read_frame(&mut pipe.as_slice()).unwrap(), Some(Event::Unloaded { id: 3 })));
    }
}
