//! What can go wrong in a conversation, with the values of what went wrong. The engine's, the
//! runtime's and a connection's own errors (`EngineError`, `RuntimeError`, `RemoteError`) pass
//! through Chat as they are; these are Chat's.

use types::{Audience, ErrorCode, Problem};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatError {
    /// The conversation's database could not be read or written, or its settings or a reply's
    /// figures not turned into JSON: `reason` is SQLite's or serde_json's words.
    Storage {
        reason: String,
    },
    NoConversation,
    NoTitle,
    EmptyMessage,
    NothingToReplyTo,
    /// An edit of a message that is not one of the person's in this conversation.
    NotYours,
    /// Chat answers with nothing: no model is loaded here or chosen on a connection.
    NoModel,
    /// The local model went between choosing it and starting the reply.
    Unloaded,
    /// The engine's stream of events ended without `Done` or `Failed`.
    EngineStopped,
    /// A connection's reply went on after it had ended.
    EndedTwice,
    /// The connection Chat answered with is no longer among the person's.
    ConnectionRemoved {
        connection: String,
    },
    /// A decision for a tool call that is not waiting for one (it ended, or was stopped).
    NotWaiting,
    /// A picture's file under the home's images folder is gone or unreadable.
    PictureGone {
        reason: String,
    },
    /// A message with pictures, to a model that reads text only (the window offers the installed
    /// ones that see images).
    TextOnly {
        model: String,
    },
    /// More pictures than one message takes.
    TooManyPictures {
        sent: usize,
    },
}

impl Problem for ChatError {
    fn code(&self) -> ErrorCode {
        use ChatError::*;
        match self {
            Storage { .. } => ErrorCode::Internal,
            NoConversation | ConnectionRemoved { .. } => ErrorCode::NotFound,
            NoTitle | EmptyMessage | NothingToReplyTo | NotYours => ErrorCode::InvalidInput,
            NoModel | Unloaded => ErrorCode::NoModelLoaded,
            EngineStopped => ErrorCode::EngineCrashed,
            EndedTwice => ErrorCode::RemoteCut,
            NotWaiting | TextOnly { .. } | TooManyPictures { .. } => ErrorCode::InvalidInput,
            PictureGone { .. } => ErrorCode::NotFound,
        }
    }

    fn sentence(&self, _to: Audience) -> String {
        use ChatError::*;
        match self {
            Storage { .. } => "Hearth could not read or write its conversations.".into(),
            NoConversation => "That conversation no longer exists.".into(),
            NoTitle => "A conversation needs a title.".into(),
            EmptyMessage => "Type a message first.".into(),
            NothingToReplyTo => "There is no message to reply to.".into(),
            NotYours => "Only your own messages can be edited.".into(),
            NoModel => "Load a model first: pick one at the top of the chat.".into(),
            Unloaded => "The model was unloaded before it could answer. Load it again.".into(),
            EngineStopped => "The engine stopped without finishing the reply.".into(),
            EndedTwice => "The reply ended twice.".into(),
            ConnectionRemoved { connection } => format!("The connection {connection} was removed. Pick another model."),
            NotWaiting => "That tool call is no longer waiting for an answer.".into(),
            PictureGone { .. } => "A picture of this conversation is no longer in Hearth's images folder.".into(),
            TextOnly { model } => format!(
                "{model} reads text only, so it cannot see pictures. Load a model that sees images (one with an mmproj file beside \
                 it, such as Gemma 3 4B), or send text alone."
            ),
            TooManyPictures { sent } => format!("A message takes at most {} pictures; this one has {sent}.", types::MAX_IMAGES),
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            ChatError::Storage { reason } | ChatError::PictureGone { reason } => Some(reason.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::HearthError;

    #[test]
    fn a_removed_connection_is_named_and_storage_words_go_to_the_details() {
        let e = HearthError::from(ChatError::ConnectionRemoved { connection: "GPU box".into() });
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.message, "The connection GPU box was removed. Pick another model.");
        assert_eq!((e.details, e.public), (None, None));
        let e = HearthError::from(ChatError::Storage { reason: "database error: disk I/O error".into() });
        assert_eq!(e.code, ErrorCode::Internal);
        assert_eq!(e.message, "Hearth could not read or write its conversations.");
        assert_eq!(e.details.as_deref(), Some("database error: disk I/O error"));
    }
}
