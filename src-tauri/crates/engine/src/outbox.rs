//! What the worker's main thread hands to the replies it runs (session.rs, reply.rs): where their
//! events go, and which requests the host cancelled. Its own module, so that generation depends on
//! these two and not on the worker's loop (and can be driven in-process).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::protocol::{write_frame, Event, FrameError, RequestId};

/// Writes event frames to stdout. Stdout's own lock keeps frames whole.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventSink;

impl EventSink {
    pub fn send(&self, event: &Event) -> Result<(), FrameError> {
        write_frame(&mut std::io::stdout().lock(), event)
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
