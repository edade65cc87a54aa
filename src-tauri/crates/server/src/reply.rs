//! One generation as the server sees it: the engine's events, the engine slot it holds, and the
//! log entry it will write. Streamed or not, a reply is read piece by piece through `next`; when
//! it is dropped before its end (the client went away: hyper drops the response body or the
//! handler's future), its `Generation` receiver is dropped with it, which cancels the generation
//! in the engine within one token, the slot goes to the next request, and the entry says
//! `cancelled`. A server shutting down ends replies with an error.

use engine::{ReplyEvent, Generation};
use tokio::sync::watch;
use types::{ErrorCode, GenerationStats, HearthError, StopReason, TokenLogprob};

use crate::error::ApiError;
use crate::log::{LogSlot, Metrics, Outcome};
use crate::openai::finish_reason;
use crate::queue::Turn;

pub enum Piece {
    /// Text, with the log-probabilities of its tokens when they were asked for.
    Text(String, Vec<TokenLogprob>),
    /// Part of a tool call (`ReplyEvent::Call`): its name on its first piece, then arguments.
    Call { index: usize, name: Option<String>, arguments: String },
    Done(GenerationStats),
    Failed(ApiError),
}

/// What one engine event is to a reply.
enum Event {
    Started,
    Logprobs(Vec<TokenLogprob>),
    Piece(Piece),
}

pub struct Reply {
    generation: Generation,
    _turn: Turn,
    slot: LogSlot,
    stopping: watch::Receiver<bool>,
    pieces: u32,
    ended: bool,
    streamed: bool,
    /// The prompt's tokens and those the cache held, once the engine has taken the reply on.
    started: Option<(u32, u32)>,
    /// A piece read and given back (`unread`): the next one `next` returns.
    unread: Option<Piece>,
}

impl Reply {
    pub fn new(generation: Generation, turn: Turn, slot: LogSlot, stopping: watch::Receiver<bool>) -> Self {
        Self { generation, _turn: turn, slot, stopping, pieces: 0, ended: false, streamed: false, started: None, unread: None }
    }

    /// The prompt's length in tokens and how many of them the cache held: known once the first
    /// piece has come (the engine says it before any text).
    pub fn started(&self) -> Option<(u32, u32)> {
        self.started
    }

    /// Gives back a piece read too early (the first, read before any header goes out so that an
    /// early failure gets its own status): `next` returns it again.
    pub fn unread(&mut self, piece: Piece) {
        self.unread = Some(piece);
    }

    /// The reply goes out as a stream, which writes its log entry when it ends.
    pub fn stream(&mut self) {
        self.streamed = true;
        self.slot.defer();
    }

    pub async fn next(&mut self) -> Piece {
        if let Some(piece) = self.unread.take() {
            return piece;
        }
        let mut logprobs = Vec::new();
        loop {
            match self.event().await {
                Event::Started => {}
                Event::Logprobs(l) => logprobs.extend(l),
                Event::Piece(Piece::Text(text, _)) => return Piece::Text(text, logprobs),
                Event::Piece(piece) => return piece,
            }
        }
    }

    async fn event(&mut self) -> Event {
        let event = tokio::select! {
            event = self.generation.events.recv() => Some(event),
            _ = self.stopping.wait_for(|s| *s) => None,
        };
        let Some(event) = event else {
            return Event::Piece(self.fail(ApiError::Engine(HearthError::new(ErrorCode::Internal, "The server is stopping; this reply was cut short."))));
        };
        match event {
            Some(ReplyEvent::Started { prompt_tokens, cached_tokens }) => {
                self.started = Some((prompt_tokens, cached_tokens));
                Event::Started
            }
            Some(ReplyEvent::Logprobs(l)) => Event::Logprobs(l),
            Some(ReplyEvent::Call { index, name, arguments }) => Event::Piece(Piece::Call { index, name, arguments }),
            Some(ReplyEvent::Text(text)) => {
                self.pieces += 1;
                Metrics::add(&self.slot.metrics().tokens, 1);
                Event::Piece(Piece::Text(text, Vec::new()))
            }
            Some(ReplyEvent::Done(stats)) => {
                self.ended = true;
                let counter = if stats.stop_reason == StopReason::Cancelled {
                    &self.slot.metrics().cancelled
                } else {
                    &self.slot.metrics().completed
                };
                Metrics::add(counter, 1);
                self.slot.set_outcome(Outcome {
                    prompt_tokens: Some(stats.prompt_tokens_total),
                    completion_tokens: Some(stats.generated_tokens),
                    tokens_per_second: stats.tokens_per_second,
                    finish_reason: Some(finish_reason(stats.stop_reason).into()),
                    error: None,
                });
                Event::Piece(Piece::Done(stats))
            }
            Some(ReplyEvent::Failed(e)) => Event::Piece(self.fail(ApiError::Engine(e))),
            None => Event::Piece(
                self.fail(ApiError::Engine(HearthError::new(ErrorCode::EngineCrashed, "The engine stopped without finishing the reply."))),
            ),
        }
    }

    fn fail(&mut self, error: ApiError) -> Piece {
        self.ended = true;
        Metrics::add(&self.slot.metrics().errors, 1);
        self.slot.set_outcome(Outcome {
            completion_tokens: Some(self.pieces),
            finish_reason: Some("error".into()),
            error: Some(error.to_string()),
            ..Outcome::default()
        });
        Piece::Failed(error)
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.ended {
            Metrics::add(&self.slot.metrics().cancelled, 1);
            self.slot.set_outcome(Outcome {
                completion_tokens: Some(self.pieces),
                finish_reason: Some("cancelled".into()),
                ..Outcome::default()
            });
        }
        // A stream's entry is written here, with the 200 its headers carried. A whole answer's is
        // written by the middleware, unless its handler was dropped (the client left): then here,
        // with nginx's 499 "client closed request", since no status was ever sent.
        if self.streamed {
            self.slot.write(200);
        } else if !self.ended {
            self.slot.write(499);
        }
    }
}
