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
//! Chat answers with a model loaded here, or with a model on another machine through one of the
//! person's connections (`remote`): the same streaming, stop, regenerate, edit and saving for both.
//!
//! A conversation may offer its model the tools of MCP servers (`tools`; a local model only). A
//! reply that calls tools is one message: each call is saved where it sits in the text, waits for
//! the person unless they allowed it for good (`decide`), runs on its server, and its answer goes
//! back to the model, which writes on; at most `tools::MAX_TOOL_ROUNDS` rounds, and Stop ends a
//! call that waits or runs.
//!
//! Talks to: `runtime::Runtime` (which loads models and owns their workers), `engine` (a reply's
//! generation), `remote` (a reply from another machine), `store::Store` (SQLite).

mod convert;
mod error;
mod export;
pub mod pictures;
mod title;
mod tools;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::{EngineHost, ReplyEvent, GenerateParams, Generation, Prompt, RequestId};
use runtime::{LoadRequest, Owner, Runtime};
use store::Store;
use types::{
    ChatEvent, ChatMessage, ChatRole, ChatToolCall, Conversation, ConversationSettings, ErrorCode, HearthError, LoadEvent, LoadSettings,
    LoadedModel, Message, MessageState, RemoteModel, StopReason, ToolCallState, ToolDecision,
};

pub use convert::{conversation, message};
pub use error::ChatError;
pub use export::{export, ExportFormat};
pub use tools::{DENIED as TOOL_DENIED, NO_TOOLS_IN_TEMPLATE, STOPPED as TOOL_STOPPED, forced as forced_call, functions as tool_functions, run as run_tool, Permissions, MAX_TOOL_ROUNDS};

/// How often a streaming reply is written to the database: often enough that a kill loses at most
/// this much of it, seldom enough that a fast model does not spend its time in SQLite.
pub const SAVE_EVERY: Duration = Duration::from_millis(250);

/// The title of a conversation before its first message names it.
pub const NEW_TITLE: &str = "New chat";

/// Finds a connection's endpoint (address and key) by its id, as saved now: the app's is
/// `library::connections`. `None`: no such connection any more.
pub type Endpoints = Arc<dyn Fn(&str) -> Option<remote::Endpoint> + Send + Sync>;

/// What Chat answers with.
#[derive(Debug, Clone, PartialEq)]
enum Choice {
    /// A model the runtime loaded here.
    Local(PathBuf),
    /// A model on another machine.
    Remote(RemoteModel),
}

/// How to stop the reply running in a conversation.
#[derive(Clone)]
enum Running {
    Engine(Arc<EngineHost>, RequestId),
    Remote(Arc<tokio::sync::Notify>),
    /// Between two rounds of a reply: its tool calls wait for the person or run.
    Tools(Arc<tokio::sync::Notify>),
}

pub struct Chat {
    store: Arc<Store>,
    runtime: Arc<Runtime>,
    endpoints: Mutex<Endpoints>,
    /// The model Chat answers with (set through `choose`, which tells `changes`).
    model: Mutex<Option<Choice>>,
    /// Bumped whenever Chat's choice of model changes (`changes`).
    changed: tokio::sync::watch::Sender<u64>,
    /// The generation running in each conversation, to stop it.
    running: Mutex<HashMap<i64, Running>>,
    /// The MCP servers a conversation's tools come from (none until the app gives them).
    servers: Mutex<Option<Arc<mcp::Servers>>>,
    /// The calls waiting for the person, by id: their conversation, and where their answer goes.
    waiting: Mutex<HashMap<i64, (i64, tokio::sync::oneshot::Sender<ToolDecision>)>>,
    /// The pictures of messages, under the home's images folder.
    pictures: pictures::Pictures,
}

/// A reply's source: the engine here, or an endpoint there (with the person's Stop).
enum Source {
    Engine(Generation),
    Remote(remote::Reply, Arc<tokio::sync::Notify>),
}

impl Source {
    /// The reply's next event, wherever it is written; a source that ends without `Done` or
    /// `Failed` fails.
    async fn next(&mut self) -> ReplyEvent {
        match self {
            Source::Engine(generation) => {
                generation.events.recv().await.unwrap_or_else(|| ReplyEvent::Failed(ChatError::EngineStopped.into()))
            }
            Source::Remote(reply, stop) => tokio::select! {
                // Dropping the reply afterwards closes the connection, which stops the endpoint.
                () = stop.notified() => ReplyEvent::Done(reply.stopped()),
                event = reply.next() => event.unwrap_or_else(|| ReplyEvent::Failed(ChatError::EndedTwice.into())),
            },
        }
    }
}

/// A store or serde_json error, as Chat says it: its own words go to the details.
pub(crate) fn internal(e: impl std::fmt::Display) -> HearthError {
    ChatError::Storage { reason: e.to_string() }.into()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Chat {
    /// Chat over `store`'s conversations, answering through `runtime`, with the pictures of
    /// messages kept in `images_dir` (`home::Home::images_dir`).
    pub fn new(store: Arc<Store>, runtime: Arc<Runtime>, images_dir: PathBuf) -> Self {
        match store.mark_interrupted() {
            Ok(0) => {}
            Ok(n) => tracing::info!(replies = n, "replies cut short by the last run are marked interrupted"),
            Err(e) => tracing::warn!(error = %e, "could not mark interrupted replies"),
        }
        Self {
            store,
            runtime,
            endpoints: Mutex::new(Arc::new(|_: &str| None)),
            model: Mutex::new(None),
            changed: tokio::sync::watch::channel(0).0,
            running: Mutex::new(HashMap::new()),
            servers: Mutex::new(None),
            waiting: Mutex::new(HashMap::new()),
            pictures: pictures::Pictures::new(images_dir),
        }
    }

    /// The MCP servers whose tools conversations may use (the app's one `mcp::Servers`).
    pub fn set_servers(&self, servers: Arc<mcp::Servers>) {
        *lock(&self.servers) = Some(servers);
    }

    /// The person's answer to a call that waits for it.
    pub fn decide(&self, call_id: i64, decision: ToolDecision) -> Result<(), HearthError> {
        let (_, waiting) = lock(&self.waiting).remove(&call_id).ok_or(ChatError::NotWaiting)?;
        waiting.send(decision).map_err(|_| ChatError::NotWaiting.into())
    }

    /// The person's standing answers to tool calls.
    pub fn permissions(&self) -> Permissions {
        Permissions::read(&self.store)
    }

    pub fn set_permissions(&self, permissions: &Permissions) -> Result<(), HearthError> {
        permissions.write(&self.store).map_err(internal)
    }

    /// Changes to what Chat answers with (`model`): its own choice moved. What is loaded moving
    /// under it is the runtime's feed (`Runtime::changes`); a watcher follows both.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// What Chat answers with now, as the window shows it.
    pub fn model(&self) -> types::ChatModel {
        types::ChatModel { loaded: self.loaded(), remote: self.remote() }
    }

    /// Sets Chat's choice, and says so on `changes` when it moved.
    fn choose(&self, choice: Option<Choice>) {
        self.replace(|_| true, choice);
    }

    /// Sets Chat's model to `choice` if `still(current)`, in one hold of the lock: a check made
    /// before another task chose a model must not undo that choice.
    fn replace(&self, still: impl FnOnce(&Option<Choice>) -> bool, choice: Option<Choice>) {
        let mut model = lock(&self.model);
        if !still(&model) {
            return;
        }
        let moved = !matches!((&*model, &choice), (None, None));
        *model = choice;
        drop(model);
        if moved {
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Where Chat finds the person's connections.
    pub fn set_endpoints(&self, endpoints: Endpoints) {
        *lock(&self.endpoints) = endpoints;
    }

    fn endpoint(&self, model: &RemoteModel) -> Result<remote::Endpoint, HearthError> {
        let find = lock(&self.endpoints).clone();
        find(&model.connection_id).ok_or_else(|| ChatError::ConnectionRemoved { connection: model.connection_name.clone() }.into())
    }

    /// Answer with `model` on another machine from now on, once its endpoint has listed it: a
    /// wrong key, an endpoint that is down or a model it no longer has is said here, not at the
    /// first message. Chat's local model, if any, stays loaded for the runtime to keep or drop.
    pub async fn use_remote(&self, model: RemoteModel) -> Result<RemoteModel, HearthError> {
        let endpoint = self.endpoint(&model)?;
        let listed = endpoint.models().await?;
        if !listed.iter().any(|m| m == &model.model) {
            let gone = remote::RemoteError::ModelGone { connection: model.connection_name, model: model.model, said: None };
            return Err(gone.into());
        }
        self.choose(Some(Choice::Remote(model.clone())));
        Ok(model)
    }

    /// The model on another machine Chat answers with, if that is what it answers with.
    pub fn remote(&self) -> Option<RemoteModel> {
        match &*lock(&self.model) {
            Some(Choice::Remote(m)) => Some(m.clone()),
            _ => None,
        }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The model Chat loaded, if the runtime still has it.
    pub fn loaded(&self) -> Option<LoadedModel> {
        let Some(Choice::Local(path)) = lock(&self.model).clone() else { return None };
        let resident = self.runtime.residents().into_iter().find(|m| m.path() == path);
        if resident.is_none() {
            // The worker died, or the model was unloaded to make room for another (the server
            // loads models too): say so rather than show, and answer with, a model that is gone;
            // unless Chat chose another one meanwhile.
            self.replace(|now| matches!(now, Some(Choice::Local(p)) if *p == path), None);
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
                self.choose(Some(Choice::Local(path.to_path_buf())));
                on(LoadEvent::Loaded { model: model.clone() });
            }
            Err(error) => on(LoadEvent::Failed { error: error.clone() }),
        }
        result
    }

    /// Unloads Chat's model (or lets go of the remote one).
    pub async fn unload(&self) -> Result<(), HearthError> {
        let Some(choice) = lock(&self.model).take() else { return Ok(()) };
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        match choice {
            Choice::Local(path) => self.runtime.unload(&path).await,
            Choice::Remote(_) => Ok(()),
        }
    }

    pub fn conversations(&self, query: Option<&str>) -> Result<Vec<Conversation>, HearthError> {
        Ok(self.store.conversations(query).map_err(internal)?.into_iter().map(conversation).collect())
    }

    pub fn create(&self, model_path: Option<&str>, settings: &ConversationSettings) -> Result<Conversation, HearthError> {
        let json = serde_json::to_string(settings).map_err(internal)?;
        Ok(conversation(self.store.create_conversation(NEW_TITLE, model_path, &json).map_err(internal)?))
    }

    pub fn get(&self, id: i64) -> Result<Conversation, HearthError> {
        self.store.conversation(id).map_err(internal)?.map(conversation).ok_or_else(|| ChatError::NoConversation.into())
    }

    pub fn rename(&self, id: i64, title: &str) -> Result<(), HearthError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(ChatError::NoTitle.into());
        }
        self.store.rename_conversation(id, &title.chars().take(200).collect::<String>()).map_err(internal)
    }

    pub fn delete(&self, id: i64) -> Result<(), HearthError> {
        // A call waiting for the person in it waits no more (as if denied; its reply then ends).
        lock(&self.waiting).retain(|_, (conversation, _)| *conversation != id);
        self.store.delete_conversation(id).map_err(internal)
    }

    pub fn set_settings(&self, id: i64, settings: &ConversationSettings) -> Result<(), HearthError> {
        let json = serde_json::to_string(settings).map_err(internal)?;
        self.store.set_conversation_settings(id, &json).map_err(internal)
    }

    pub fn messages(&self, id: i64) -> Result<Vec<Message>, HearthError> {
        let mut calls = self.store.tool_calls(id).map_err(internal)?;
        let mut images = self.store.message_images(id).map_err(internal)?;
        Ok(self
            .store
            .messages(id)
            .map_err(internal)?
            .into_iter()
            .map(|row| {
                let calls = calls.remove(&row.id).unwrap_or_default();
                let images = images.remove(&row.id).unwrap_or_default().iter().map(|i| self.pictures.shown(i)).collect();
                Message { tool_calls: calls, images, ..message(row) }
            })
            .collect())
    }

    /// A picture of conversation `id` by its hash, as a data URL: what the window shows full size.
    pub fn picture(&self, id: i64, hash: &str) -> Result<String, HearthError> {
        let images = self.store.message_images(id).map_err(internal)?;
        let image = images.values().flatten().find(|i| i.hash == hash).ok_or(ChatError::PictureGone { reason: format!("no picture {hash} in conversation {id}") })?;
        self.pictures.data_url(image)
    }

    /// Save the person's message, then stream a reply to it. `pictures` (data URLs, as the window
    /// reads files) go before the text, as llama.cpp's own tools put them.
    pub async fn send(&self, id: i64, text: &str, pictures: &[String], on: impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let text = text.trim();
        if pictures.len() > types::MAX_IMAGES {
            return Err(ChatError::TooManyPictures { sent: pictures.len() }.into());
        }
        // Checked and kept before anything is saved: a damaged file is said now, and nothing is lost.
        let kept = pictures.iter().map(|p| self.pictures.keep(p, 0)).collect::<Result<Vec<_>, _>>()?;
        self.send_kept(id, text, kept, on).await
    }

    async fn send_kept(&self, id: i64, text: &str, kept: Vec<store::StoredImage>, on: impl Fn(ChatEvent)) -> Result<(), HearthError> {
        if text.is_empty() && kept.is_empty() {
            return Err(ChatError::EmptyMessage.into());
        }
        if !kept.is_empty() {
            self.check_sees()?;
        }
        let conv = self.get(id)?;
        let user = self.store.add_message(id, "user", text, MessageState::Done).map_err(internal)?;
        self.store.add_message_images(user, &kept).map_err(internal)?;
        if conv.title == NEW_TITLE {
            let title = if text.is_empty() { "A picture".to_string() } else { title::from_message(text) };
            self.store.rename_conversation(id, &title).map_err(internal)?;
        }
        self.reply(id, Some(user), &on).await
    }

    /// Pictures go to a model here that reads them (its projector loaded with it); anything else
    /// is told before the message is saved.
    fn check_sees(&self) -> Result<(), HearthError> {
        if let Some(remote) = self.remote() {
            return Err(ChatError::TextOnly { model: remote.label() }.into());
        }
        match self.loaded() {
            Some(m) if m.info.vision.is_some() => Ok(()),
            Some(m) => Err(ChatError::TextOnly { model: m.file_name }.into()),
            None => Err(ChatError::NoModel.into()),
        }
    }

    /// Write the last reply anew: the messages after the last of the person's go, and a new reply
    /// streams.
    pub async fn regenerate(&self, id: i64, on: impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let msgs = self.store.messages(id).map_err(internal)?;
        let last_user = msgs.iter().rposition(|m| m.role == "user").ok_or(ChatError::NothingToReplyTo)?;
        if let Some(next) = msgs.get(last_user + 1) {
            self.store.truncate_from(id, next.id).map_err(internal)?;
        }
        self.reply(id, None, &on).await
    }

    /// Replace one of the person's messages (and everything after it) with `text`, and reply to it.
    pub async fn edit(&self, id: i64, message_id: i64, text: &str, on: impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let target = self.store.message(message_id).map_err(internal)?;
        if !target.is_some_and(|m| m.conversation_id == id && m.role == "user") {
            return Err(ChatError::NotYours.into());
        }
        // The message's pictures stay with its new text.
        let kept = self.store.message_images(id).map_err(internal)?.remove(&message_id).unwrap_or_default();
        self.store.truncate_from(id, message_id).map_err(internal)?;
        self.send_kept(id, text.trim(), kept, on).await
    }

    /// Stop the reply streaming in conversation `id`; it keeps the text so far, marked stopped.
    pub async fn stop(&self, id: i64) {
        let running = lock(&self.running).get(&id).cloned();
        match running {
            Some(Running::Engine(engine, request)) => engine.cancel(request).await,
            Some(Running::Remote(stop) | Running::Tools(stop)) => stop.notify_one(),
            None => {}
        }
    }

    pub fn export(&self, id: i64, format: ExportFormat) -> Result<String, HearthError> {
        // Pictures go into the export whole, as data URLs.
        let mut pictures = HashMap::new();
        for image in self.store.message_images(id).map_err(internal)?.values().flatten() {
            if let Ok(url) = self.pictures.data_url(image) {
                pictures.insert(image.hash.clone(), url);
            }
        }
        Ok(export(&self.get(id)?, &self.messages(id)?, format, &pictures))
    }

    /// An error before the reply's row exists, told to the window as the reply's failure.
    fn fail_early(&self, id: i64, error: HearthError, on: &impl Fn(ChatEvent)) -> HearthError {
        on(ChatEvent::Failed { conversation_id: id, reply_id: None, error: error.clone() });
        error
    }

    /// Stream a reply to the conversation as it stands, saving it as it comes; with tools, round
    /// after round until the model answers without a call.
    async fn reply(&self, id: i64, user: Option<i64>, on: &impl Fn(ChatEvent)) -> Result<(), HearthError> {
        let conv = self.get(id)?;
        let choice = match self.remote() {
            Some(m) => Choice::Remote(m),
            None => match self.loaded() {
                Some(m) => Choice::Local(PathBuf::from(m.path)),
                None => {
                    let error = HearthError::from(ChatError::NoModel);
                    on(ChatEvent::Failed { conversation_id: id, reply_id: None, error: error.clone() });
                    return Err(error);
                }
            },
        };
        let label = match &choice {
            Choice::Local(path) => path.display().to_string(),
            Choice::Remote(m) => m.label(),
        };
        if conv.model_path.as_deref() != Some(label.as_str()) {
            self.store.set_conversation_model(id, Some(&label)).map_err(internal)?;
        }
        // Tools for a model here, from the conversation's servers that are ready.
        let servers = lock(&self.servers).clone();
        let offered = match (&choice, &servers) {
            (Choice::Local(_), Some(servers)) if !conv.settings.tools.servers.is_empty() => {
                let off = &conv.settings.tools.off;
                let mut offered = servers.offered(Some(&conv.settings.tools.servers));
                offered.retain(|o| !off.iter().any(|(s, t)| *s == o.server && *t == o.tool.name));
                offered
            }
            _ => Vec::new(),
        };
        let offered_name = |c: &ChatToolCall| {
            offered.iter().find(|o| o.server == c.server && o.tool.name == c.tool).map_or_else(|| c.tool.clone(), |o| o.model_name.clone())
        };
        let mut messages = Vec::new();
        if !conv.settings.system_prompt.trim().is_empty() {
            messages.push(ChatMessage::new(ChatRole::System, conv.settings.system_prompt.trim()));
        }
        let mut calls = self.store.tool_calls(id).map_err(internal)?;
        let mut images = self.store.message_images(id).map_err(internal)?;
        // Pictures reach a model that reads them, scaled to what its projector reads; a model
        // that does not is sent the conversation's words (the person's new pictures were refused
        // before they were saved).
        let side = match &choice {
            Choice::Local(path) => self.runtime.residents().into_iter().find(|m| m.path() == path).and_then(|m| m.model.info.vision).map(|v| v.image_side),
            Choice::Remote(_) => None,
        };
        for m in self.store.messages(id).map_err(internal)? {
            let pictures = match (images.remove(&m.id), side) {
                (Some(kept), Some(side)) => {
                    kept.iter().map(|i| self.pictures.pixels(i, side)).collect::<Result<Vec<_>, _>>().map_err(|e| self.fail_early(id, e, on))?
                }
                _ => Vec::new(),
            };
            match calls.remove(&m.id) {
                Some(made) if m.role == "assistant" => messages.extend(tools::turns(&m.content, &made, &offered_name)),
                // A failed reply with no text says nothing to the model; cut-short replies keep their part.
                _ if m.content.is_empty() && pictures.is_empty() => {}
                _ => messages.push(ChatMessage { images: pictures, ..ChatMessage::new(convert::role(&m.role), m.content) }),
            }
        }
        let reply = self.store.add_message(id, "assistant", "", MessageState::Streaming).map_err(internal)?;
        on(ChatEvent::Started { conversation_id: id, user_message_id: user, reply_id: reply });
        self.tell_conversation(id, on);

        let mut text = String::new();
        let mut saved = Instant::now();
        let mut round = 0;
        let outcome = loop {
            // The last round offers no tools, so the model answers in words.
            let offer = if round < tools::MAX_TOOL_ROUNDS { &offered[..] } else { &[] };
            let force = if round == 0 { conv.settings.tools.force.as_deref() } else { None };
            let (mut source, running) = match self.start(&choice, messages.clone(), &conv.settings, offer, force).await {
                Ok(started) => started,
                Err(error) => return self.fail(id, reply, &text, error, on),
            };
            lock(&self.running).insert(id, running);
            let turn_start = text.len();
            // The calls of this round, as they come: name, then arguments in pieces.
            let mut made: Vec<(String, String)> = Vec::new();
            let ended = loop {
                match source.next().await {
                    ReplyEvent::Text(piece) => {
                        text.push_str(&piece);
                        on(ChatEvent::Text { conversation_id: id, reply_id: reply, text: piece });
                        if saved.elapsed() >= SAVE_EVERY {
                            self.store.update_message(reply, &text, MessageState::Streaming, None, None).map_err(internal)?;
                            saved = Instant::now();
                        }
                    }
                    ReplyEvent::Call { name: Some(name), arguments, .. } => made.push((name, arguments)),
                    ReplyEvent::Call { name: None, arguments, .. } => {
                        if let Some(last) = made.last_mut() {
                            last.1.push_str(&arguments);
                        }
                    }
                    // Chat asks for no log-probabilities; the prompt's size comes again with the figures.
                    ReplyEvent::Started { .. } | ReplyEvent::Logprobs(_) => {}
                    ReplyEvent::Done(stats) => break Ok(stats),
                    ReplyEvent::Failed(e) => break Err(e),
                }
            };
            lock(&self.running).remove(&id);
            drop(source);
            let stats = match ended {
                Ok(stats) if !made.is_empty() && stats.stop_reason != StopReason::Cancelled => stats,
                other => break other,
            };
            // The model called tools: each is decided and run, and the model reads the answers.
            let stop = Arc::new(tokio::sync::Notify::new());
            lock(&self.running).insert(id, Running::Tools(stop.clone()));
            let mut turn = ChatMessage::new(ChatRole::Assistant, &text[turn_start..]);
            let mut answers = Vec::new();
            let called = async {
                self.store.update_message(reply, &text, MessageState::Streaming, None, None).map_err(internal)?;
                for (name, arguments) in made {
                    let call = self.run_call(id, reply, text.len(), &name, &arguments, &offered, &stop, on).await?;
                    turn.tool_calls.push(types::ToolCall { id: tools::call_id(&call), name, arguments });
                    let mut answer = ChatMessage::new(ChatRole::Tool, tools::answer(&call));
                    answer.tool_call_id = Some(tools::call_id(&call));
                    answers.push(answer);
                    if call.state == ToolCallState::Stopped {
                        return Ok(true);
                    }
                }
                Ok::<bool, HearthError>(false)
            };
            let called = called.await;
            lock(&self.running).remove(&id);
            // A failure here (the database) ends the reply as any failure does: said, and saved.
            let stopped = match called {
                Ok(stopped) => stopped,
                Err(error) => return self.fail(id, reply, &text, error, on),
            };
            if stopped {
                break Ok(types::GenerationStats { stop_reason: StopReason::Cancelled, ..stats });
            }
            messages.push(turn);
            messages.extend(answers);
            round += 1;
        };
        match outcome {
            Ok(stats) => {
                let status = if stats.stop_reason == StopReason::Cancelled { MessageState::Stopped } else { MessageState::Done };
                let json = serde_json::to_string(&stats).map_err(internal)?;
                self.store.update_message(reply, &text, status, Some(&json), None).map_err(internal)?;
                on(ChatEvent::Done { conversation_id: id, reply_id: reply, stats });
                self.tell_conversation(id, on);
                Ok(())
            }
            Err(error) => self.fail(id, reply, &text, error, on),
        }
    }

    /// One call the model made: saved where it sits in the reply, put to the person unless they
    /// allowed it for good, run on its server, and told to the window at each step. What the model
    /// reads back is `tools::answer` of the call returned. Stop ends it wherever it is.
    #[allow(clippy::too_many_arguments)]
    async fn run_call(
        &self,
        id: i64,
        reply: i64,
        offset: usize,
        name: &str,
        arguments: &str,
        offered: &[mcp::Offered],
        stop: &tokio::sync::Notify,
        on: &impl Fn(ChatEvent),
    ) -> Result<ChatToolCall, HearthError> {
        let found = offered.iter().find(|o| o.model_name == name);
        let permissions = self.permissions();
        let asks = found.is_some_and(|o| !permissions.runs_unasked(&o.server, &o.tool));
        let new = store::NewToolCall {
            message_id: reply,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            server: found.map(|o| o.server.clone()).unwrap_or_default(),
            tool: found.map_or_else(|| name.to_string(), |o| o.tool.name.clone()),
            arguments: arguments.to_string(),
            state: if asks { ToolCallState::Waiting } else { ToolCallState::Running },
            read_only: found.is_some_and(|o| o.tool.read_only),
            destructive: found.is_some_and(|o| o.tool.destructive),
        };
        let mut call = self.store.add_tool_call(&new).map_err(internal)?;
        let tell = |call: &ChatToolCall| -> Result<(), HearthError> {
            self.store.update_tool_call(call).map_err(internal)?;
            on(ChatEvent::ToolCall { conversation_id: id, reply_id: reply, call: call.clone() });
            Ok(())
        };
        let end = |call: &mut ChatToolCall, state: ToolCallState, result: String| {
            call.is_error = state == ToolCallState::Failed;
            call.state = state;
            call.result = Some(result);
        };
        let Some(o) = found else {
            end(&mut call, ToolCallState::Failed, format!("There is no tool named `{name}` here."));
            tell(&call)?;
            return Ok(call);
        };
        // The answer's way in exists before the window hears that the call waits: a person (or a
        // test) who answers at once must find it.
        let decided = asks.then(|| {
            let (answer, decided) = tokio::sync::oneshot::channel();
            lock(&self.waiting).insert(call.id, (id, answer));
            decided
        });
        if let Err(e) = tell(&call) {
            lock(&self.waiting).remove(&call.id);
            return Err(e);
        }
        if let Some(decided) = decided {
            let decision = tokio::select! {
                d = decided => d.unwrap_or(ToolDecision::Deny),
                () = stop.notified() => {
                    lock(&self.waiting).remove(&call.id);
                    end(&mut call, ToolCallState::Stopped, String::new());
                    tell(&call)?;
                    return Ok(call);
                }
            };
            match decision {
                ToolDecision::Deny => {
                    end(&mut call, ToolCallState::Denied, tools::DENIED.into());
                    tell(&call)?;
                    return Ok(call);
                }
                ToolDecision::AlwaysAllow => {
                    let mut permissions = self.permissions();
                    permissions.always.insert((o.server.clone(), o.tool.name.clone()));
                    self.set_permissions(&permissions)?;
                }
                ToolDecision::AllowOnce => {}
            }
            call.state = ToolCallState::Running;
            tell(&call)?;
        }
        let Some(servers) = lock(&self.servers).clone() else {
            end(&mut call, ToolCallState::Failed, "No MCP servers are running.".into());
            tell(&call)?;
            return Ok(call);
        };
        let (state, result, images) = tokio::select! {
            ran = tools::run(&servers, o, arguments) => ran,
            // Dropping the call's future cancels it on the server.
            () = stop.notified() => (ToolCallState::Stopped, String::new(), Vec::new()),
        };
        call.images = images;
        end(&mut call, state, result);
        tell(&call)?;
        Ok(call)
    }

    /// Start the reply where `choice` runs: the engine here (with the tools offered, the first
    /// answer held to a call when `force` says), or the connection's endpoint.
    async fn start(
        &self,
        choice: &Choice,
        messages: Vec<ChatMessage>,
        settings: &ConversationSettings,
        offered: &[mcp::Offered],
        force: Option<&str>,
    ) -> Result<(Source, Running), HearthError> {
        match choice {
            Choice::Local(path) => {
                let functions = tools::functions(offered);
                let constraint = tools::forced(offered, force);
                let params = GenerateParams {
                    prompt: Prompt::Chat(messages),
                    sampling: settings.sampling.clone(),
                    context_overflow: settings.context_overflow,
                    // Refused in the worker if the server has loaded another model since `loaded()`.
                    model: Some(path.clone()),
                    constraint,
                    logprobs: None,
                    tools: functions,
                };
                let Some(engine) = self.runtime.get(path).map(|m| m.engine) else {
                    return Err(ChatError::Unloaded.into());
                };
                let generation = engine.generate(params).await?;
                let running = Running::Engine(engine, generation.id);
                Ok((Source::Engine(generation), running))
            }
            Choice::Remote(model) => {
                let reply = self.endpoint(model)?.chat(&model.model, &messages, &settings.sampling).await?;
                let stop = Arc::new(tokio::sync::Notify::new());
                Ok((Source::Remote(reply, stop.clone()), Running::Remote(stop)))
            }
        }
    }

    fn fail(&self, id: i64, reply: i64, text: &str, error: HearthError, on: &impl Fn(ChatEvent)) -> Result<(), HearthError> {
        if error.code == ErrorCode::EngineCrashed {
            self.choose(None);
        }
        self.store.update_message(reply, text, MessageState::Failed, None, Some(&error.message)).map_err(internal)?;
        on(ChatEvent::Failed { conversation_id: id, reply_id: Some(reply), error: error.clone() });
        self.tell_conversation(id, on);
        Err(error)
    }

    /// The conversation's row as it is now, for the window's list (it then asks for nothing).
    fn tell_conversation(&self, id: i64, on: &impl Fn(ChatEvent)) {
        match self.get(id) {
            Ok(conversation) => on(ChatEvent::Conversation { conversation }),
            Err(e) => tracing::warn!(error = %e.message, "could not read back a conversation"),
        }
    }
}
