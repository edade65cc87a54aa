//! Conversations with a loaded model, for the Chat view (and any other front end): load a model with
//! the fit planner's plan, send a message and stream the reply, stop it, regenerate it, edit an
//! earlier message and resend, export.
//!
//! Nothing is lost: the person's message is saved before generation starts, and the reply is saved
//! from its first token on and rewritten as it streams (at most every [`SAVE_EVERY`]), so a killed
//! app keeps what was generated; `Chat::new` marks replies a dead process left streaming as
//! interrupted. If the engine's worker dies mid-reply, the reply keeps its text, is marked failed
//! with the engine's message, and the model counts as unloaded; the window carries on.
//!
//! Talks to: `runtime::Runtime` (which loads models and owns their workers), `engine` (a reply's
//! generation), `store::Store` (SQLite).

mod convert;
mod export;
mod title;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::{EngineHost, GenerateEvent, GenerateParams, Prompt, RequestId};
use runtime::{LoadRequest, Owner, Runtime};
use store::Store;
use types::{
    ChatEvent, ChatMessage, ChatRole, Conversation, ConversationSettings, ErrorCode, HearthError, LoadEvent, LoadSettings, LoadedModel,
    Message, MessageState, StopReason,
};

pub use convert::{conversation, message};
pub use export::{export, ExportFormat};

/// How often a streaming reply is written to the database: often enough that a kill loses at most
/// this much of it, seldom enough that a fast model does not spend its time in SQLite.
pub const SAVE_EVERY: Duration = Duration::from_millis(250);

/// The title of a conversation before its first message names it.
pub const NEW_TITLE: &str = "New chat";

pub struct Chat {
    store: Arc<Store>,
    runtime: Arc<Runtime>,
    /// The model Chat answers with (one of the runtime's).
    model: Mutex<Option<PathBuf>>,
    /// The generation running in each conversation, and the engine it runs in, to stop it.
    running: Mutex<HashMap<i64, (Arc<EngineHost>, RequestId)>>,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> HearthError {
    HearthError::new(ErrorCode::Internal, "Hearth could not read or write its conversations.").with_details(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Chat {
    pub fn new(store: Arc<Store>, runtime: Arc<Runtime>) -> Self {
        match store.mark_interrupted() {
            Ok(0) => {}
            Ok(n) => tracing::info!(replies = n, "replies cut short by the last run are marked interrupted"),
            Err(e) => tracing::warn!(error = %e, "could not mark interrupted replies"),
        }
        Self { store, runtime, model: Mutex::new(None), running: Mutex::new(HashMap::new()) }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The model Chat loaded, if the runtime still has it.
    pub fn loaded(&self) -> Option<LoadedModel> {
        let mut model = lock(&self.model);
        let resident = model.as_deref().and_then(|p| self.runtime.residents().into_iter().find(|m| m.path() == p));
        if resident.is_none() {
            // The worker died, or the model was unloaded to make room for another (the server
            // loads models too): say so rather than show, and answer with, a model that is gone.
            *model = None;
        }
        resident.map(|m| m.model)
    }

    /// Load `path` with the plan for this machine and `settings` (the person's choice of where it
    /// runs), reporting progress. A model that the planner says cannot load is refused before the
    /// worker tries (and fails slowly, or takes the machine's memory with it) with `WouldNotFit` and
    /// a warning of what loading it anyway does; `force`, after the person confirmed that warning,
    /// loads the red plan as drawn. The runtime decides what else stays loaded.
    pub async fn load(
        &self,
        path: &Path,
        settings: &LoadSettings,
        force: bool,
        on: impl Fn(LoadEvent),
    ) -> Result<LoadedModel, HearthError> {
        let request = LoadRequest { force, settings: Some(settings.clone()), ..LoadRequest::by(Owner::App) };
        let result = self.runtime.load(path, request, |fraction| on(LoadEvent::Progress { fraction })).await;
        match &result {
            Ok(model) => {
                *lock(&self.model) = Some(path.to_path_buf());
                on(LoadEvent::Loaded { model: model.clone() });
            }
            Err(error) => on(LoadEvent::Failed { error: error.clone() }),
        }
        result
    }

    /// Unloads Chat's model.
    pub async fn unload(&self) -> Result<(), HearthError> {
        let Some(path) = lock(&self.model).take() else { return Ok(()) };
        self.runtime.unload(&path).await
    }

    pub fn conversations(&self, query: Option<&str>) -> Result<Vec<Conversation>, HearthError> {
        Ok(self.store.conversations(query).map_err(internal)?.into_iter().map(conversation).collect())
    }

    pub fn create(&self, model_path: Option<&str>, settings: &ConversationSettings) -> Result<Conversation, HearthError> {
        let json = serde_json::to_string(settings).map_err(internal)?;
        Ok(conversation(self.store.create_conversation(NEW_TITLE, model_path, &json).map_err(internal)?))
    }

    pub fn get(&self, id: i64) -> Result<Conversation, HearthError> {
        self.store
            .conversation(id)
            .map_err(internal)?
            .map(conversation)
            .ok_or_else(|| HearthError::new(ErrorCode::NotFound, "That conversation no longer exists."))
    }

    pub fn rename(&self, id: i64, title: &str) -> Result<(), HearthError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(HearthError::new(ErrorCode::InvalidInput, "A conversation needs a title."));
        }
        self.store.rename_conversation(id, &title.chars().take(200).collect::<String>()).map_err(internal)
    }

    pub fn delete(&self, id: i64) -> Result<(), HearthError> {
        self.store.delete_conversation(id).map_err(internal)
    }

    pub fn set_settings(&self, id: i64, settings: &ConversationSettings) -> Result<(), HearthError> {
        let json = serde_json::to_string(settings).map_err(internal)?;
        self.store.set_conversation_settings(id, &json).map_err(internal)
    }

    pub fn messages(&self, id: i64) -> Result<Vec<Message>, HearthError> {
        Ok(self.store.messages(id).map_err(internal)?.into_iter().map(message).collect())
    }

    /// Save the person's message, then stream a reply to it.
    pub async fn send(&self, id: i64, text: &str, on: impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(HearthError::new(ErrorCode::InvalidInput, "Type a message first."));
        }
        let conv = self.get(id)?;
        let user = self.store.add_message(id, "user", text, MessageState::Done).map_err(internal)?;
        if conv.title == NEW_TITLE {
            self.store.rename_conversation(id, &title::from_message(text)).map_err(internal)?;
        }
        self.reply(id, Some(user), &on).await
    }

    /// Write the last reply anew: the messages after the last of the person's go, and a new reply
    /// streams.
    pub async fn regenerate(&self, id: i64, on: impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let msgs = self.store.messages(id).map_err(internal)?;
        let last_user = msgs
            .iter()
            .rposition(|m| m.role == "user")
            .ok_or_else(|| HearthError::new(ErrorCode::InvalidInput, "There is no message to reply to."))?;
        if let Some(next) = msgs.get(last_user + 1) {
            self.store.truncate_from(id, next.id).map_err(internal)?;
        }
        self.reply(id, None, &on).await
    }

    /// Replace one of the person's messages (and everything after it) with `text`, and reply to it.
    pub async fn edit(&self, id: i64, message_id: i64, text: &str, on: impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let target = self.store.message(message_id).map_err(internal)?;
        if !target.is_some_and(|m| m.conversation_id == id && m.role == "user") {
            return Err(HearthError::new(ErrorCode::InvalidInput, "Only your own messages can be edited."));
        }
        self.store.truncate_from(id, message_id).map_err(internal)?;
        self.send(id, text, on).await
    }

    /// Stop the reply streaming in conversation `id`; it keeps the text so far, marked stopped.
    pub async fn stop(&self, id: i64) {
        let running = lock(&self.running).get(&id).cloned();
        if let Some((engine, request)) = running {
            engine.cancel(request).await;
        }
    }

    pub fn export(&self, id: i64, format: ExportFormat) -> Result<String, HearthError> {
        Ok(export(&self.get(id)?, &self.messages(id)?, format))
    }

    /// Stream a reply to the conversation as it stands, saving it as it comes.
    async fn reply(&self, id: i64, user: Option<i64>, on: &impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let conv = self.get(id)?;
        let Some(model) = self.loaded() else {
            let error = HearthError::new(ErrorCode::NoModelLoaded, "Load a model first: pick one at the top of the chat.");
            on(ChatEvent::Failed { conversation_id: id, reply_id: None, error: error.clone() });
            return Err(error);
        };
        if conv.model_path.as_deref() != Some(model.path.as_str()) {
            self.store.set_conversation_model(id, Some(&model.path)).map_err(internal)?;
        }
        let mut messages = Vec::new();
        if !conv.settings.system_prompt.trim().is_empty() {
            messages.push(ChatMessage::new(ChatRole::System, conv.settings.system_prompt.trim()));
        }
        for m in self.store.messages(id).map_err(internal)? {
            // A failed reply with no text says nothing to the model; cut-short replies keep their part.
            if m.content.is_empty() {
                continue;
            }
            messages.push(ChatMessage::new(convert::role(&m.role), m.content));
        }
        let reply = self.store.add_message(id, "assistant", "", MessageState::Streaming).map_err(internal)?;
        on(ChatEvent::Started { conversation_id: id, user_message_id: user, reply_id: reply });

        let params = GenerateParams {
            prompt: Prompt::Chat(messages),
            sampling: conv.settings.sampling.clone(),
            context_overflow: conv.settings.context_overflow,
            // Refused in the worker if the server has loaded another model since `loaded()`.
            model: Some(PathBuf::from(&model.path)),
            constraint: None,
            logprobs: None,
            tools: None,
        };
        let Some(engine) = self.runtime.get(Path::new(&model.path)).map(|m| m.engine) else {
            let error = HearthError::new(ErrorCode::NoModelLoaded, "The model was unloaded before it could answer. Load it again.");
            return self.fail(id, reply, "", error, on);
        };
        let mut generation = match engine.generate(params).await {
            Ok(g) => g,
            Err(error) => return self.fail(id, reply, "", error, on),
        };
        lock(&self.running).insert(id, (engine, generation.id));
        let mut text = String::new();
        let mut saved = Instant::now();
        let outcome = loop {
            match generation.events.recv().await {
                Some(GenerateEvent::Token(piece)) => {
                    text.push_str(&piece);
                    on(ChatEvent::Text { conversation_id: id, reply_id: reply, text: piece });
                    if saved.elapsed() >= SAVE_EVERY {
                        self.store.update_message(reply, &text, MessageState::Streaming, None, None).map_err(internal)?;
                        saved = Instant::now();
                    }
                }
                // Chat does not ask for them.
                Some(GenerateEvent::Logprobs(_)) => {}
                Some(GenerateEvent::Done(stats)) => break Ok(stats),
                Some(GenerateEvent::Error(e)) => break Err(e),
                None => break Err(HearthError::new(ErrorCode::EngineCrashed, "The engine stopped without finishing the reply.")),
            }
        };
        lock(&self.running).remove(&id);
        match outcome {
            Ok(stats) => {
                let status = if stats.stop_reason == StopReason::Cancelled { MessageState::Stopped } else { MessageState::Done };
                let json = serde_json::to_string(&stats).map_err(internal)?;
                self.store.update_message(reply, &text, status, Some(&json), None).map_err(internal)?;
                on(ChatEvent::Done { conversation_id: id, reply_id: reply, stats });
                Ok(())
            }
            Err(error) => self.fail(id, reply, &text, error, on),
        }
    }

    fn fail(&self, id: i64, reply: i64, text: &str, error: HearthError, on: &impl Fn(ChatEvent)) -> Result<(), HearthError> {
        if error.code == ErrorCode::EngineCrashed {
            *lock(&self.model) = None;
        }
        self.store.update_message(reply, text, MessageState::Failed, None, Some(&error.message)).map_err(internal)?;
        on(ChatEvent::Failed { conversation_id: id, reply_id: Some(reply), error: error.clone() });
        Err(error)
    }
}
