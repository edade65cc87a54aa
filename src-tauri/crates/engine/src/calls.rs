//! A reply with tools on offer, split as it comes into the person's text and the calls the model
//! writes (`prompt::tool_stream`), between the worker's events and whoever reads them: every
//! surface gets the calls the same way, as `ReplyEvent::Call`, while they are being written.

use tokio::sync::mpsc;
use types::ReplyEvent;

use crate::host::{Generation, MAX_BACKLOG};
use crate::tool_stream::{CallStream, Piece};

/// `inner`'s events, its text split into text and calls. Dropping the returned receiver drops
/// `inner`'s (at its next event), which cancels the generation as usual.
pub fn split(mut inner: Generation) -> Generation {
    let (tx, events) = mpsc::channel(MAX_BACKLOG);
    let id = inner.id;
    tokio::spawn(async move {
        let mut calls = CallStream::new();
        while let Some(event) = inner.events.recv().await {
            let (pieces, event) = match event {
                ReplyEvent::Text(text) => (calls.push(&text), None),
                last @ (ReplyEvent::Done(_) | ReplyEvent::Failed(_)) => (calls.finish(), Some(last)),
                other => (Vec::new(), Some(other)),
            };
            for piece in pieces {
                let event = match piece {
                    Piece::Text(text) => ReplyEvent::Text(text),
                    Piece::Call { index, name, arguments } => ReplyEvent::Call { index, name, arguments },
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            if let Some(event) = event {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    });
    Generation { id, events }
}
