//! Conversations with the real test model through the real worker process and a real SQLite file:
//! what streams is what is saved, turn 2 decodes only its new tokens, stop keeps the text, regenerate
//! and edit replace what follows, and a worker killed mid-reply loses nothing that was written.

#[path = "support/seen.rs"]
mod seen;

use std::sync::{Arc, Mutex};

use chat::Chat;
use engine::WorkerCommand;
use seen::{greedy, Seen};
use store::Store;
use types::{ErrorCode, LoadEvent, LoadSettings, MessageState, StopReason, Verdict};

fn model() -> std::path::PathBuf {
    testkit::test_model()
}

fn db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-chat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("hearth.sqlite3")
}

/// Chat over a runtime planning for an imagined CPU machine with 16 GB.
fn chat(path: &std::path::Path) -> Chat {
    let worker = WorkerCommand { program: env!("CARGO_BIN_EXE_chat-test-worker").into(), args: Vec::new() };
    let runtime = runtime::Runtime::new(worker, hardware::catalog::imagined(None, 1, 16));
    Chat::new(Arc::new(Store::open(path).unwrap()), Arc::new(runtime), path.with_extension("images"))
}

// One model at a time on a 2-core machine: llama.cpp's threads spin while they wait.
static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_conversation_streams_saves_and_reuses_its_prefix() {
    let model = model();
    let _one = ONE.lock().await;
    let chat = chat(&db("flow"));
    let progress = Arc::new(Mutex::new(Vec::new()));
    let p = progress.clone();
    let loaded = chat.load(&model, &LoadSettings::default(), false, move |e| p.lock().unwrap().push(e)).await.unwrap();
    assert!(loaded.info.n_ctx >= 2048, "{:?}", loaded.info);
    let events = progress.lock().unwrap();
    assert!(events.iter().any(|e| matches!(e, LoadEvent::Progress { .. })), "load progress is reported");
    assert!(matches!(events.last(), Some(LoadEvent::Loaded { .. })));
    drop(events);

    let conv = chat.create(None, &greedy(24)).unwrap();
    let first = Seen::default();
    chat.send(conv.id, "What is the capital of France?", &[], first.sink()).await.unwrap();
    let stats1 = first.done().unwrap();
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].content, first.text(), "what streamed is what was saved");
    assert_eq!(msgs[1].state, MessageState::Done);
    assert_eq!(msgs[1].stats.as_ref().unwrap().generated_tokens, stats1.generated_tokens);
    let conv_now = chat.get(conv.id).unwrap();
    assert_eq!(conv_now.title, "What is the capital of France?");
    assert_eq!(conv_now.model_path.as_deref(), Some(model.to_str().unwrap()));

    // Turn 2 decodes only what is new: the reply to turn 1 and the new message are in the cache's
    // prefix, not read again.
    let second = Seen::default();
    chat.send(conv.id, "And of Italy?", &[], second.sink()).await.unwrap();
    let stats2 = second.done().unwrap();
    assert!(stats2.reused_prefix_tokens >= stats1.prompt_tokens_total, "turn 2 {stats2:?} after turn 1 {stats1:?}");
    assert!(stats2.prompt_tokens < stats2.prompt_tokens_total / 2, "{stats2:?}");

    // Regenerate: the last reply is replaced, not added to.
    let again = Seen::default();
    chat.regenerate(conv.id, again.sink()).await.unwrap();
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[3].content, again.text());
    assert_eq!(again.text(), second.text(), "greedy: the same reply again");

    // Edit the first message: everything after it goes, and the edited one is answered.
    let edited = Seen::default();
    chat.edit(conv.id, msgs[0].id, "What is the capital of Spain?", edited.sink()).await.unwrap();
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].content, "What is the capital of Spain?");
    assert_eq!(msgs[1].content, edited.text());

    // Export carries it all.
    let md = chat.export(conv.id, chat::ExportFormat::Markdown).unwrap();
    assert!(md.contains("## You\n\nWhat is the capital of Spain?"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn stop_keeps_the_text_and_a_killed_worker_loses_nothing() {
    let model = model();
    let _one = ONE.lock().await;
    let path = db("crash");
    let chat = Arc::new(chat(&path));
    chat.load(&model, &LoadSettings::default(), false, |_| {}).await.unwrap();
    let conv = chat.create(None, &greedy(400)).unwrap();

    // Stop after a few tokens: the reply keeps them and says it was stopped.
    let seen = Seen::default();
    let c = chat.clone();
    let sink = seen.sink();
    let counted = seen.clone();
    let task = tokio::spawn(async move { c.send(conv.id, "Write a long story about a lighthouse keeper.", &[], sink).await });
    while counted.text().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    chat.stop(conv.id).await;
    task.await.unwrap().unwrap();
    assert_eq!(seen.done().unwrap().stop_reason, StopReason::Cancelled);
    let reply = chat.messages(conv.id).unwrap().pop().unwrap();
    assert_eq!(reply.state, MessageState::Stopped);
    assert_eq!(reply.content, seen.text());

    // SIGKILL the worker mid-reply: the reply keeps what was saved and says why; the model is
    // unloaded; the next load works.
    let seen = Seen::default();
    let c = chat.clone();
    let sink = seen.sink();
    let counted = seen.clone();
    let task = tokio::spawn(async move { c.send(conv.id, "Tell me another one, longer.", &[], sink).await });
    while counted.text().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Long enough for a save of the streaming text to have happened.
    tokio::time::sleep(chat::SAVE_EVERY * 2).await;
    let pid = chat.runtime().get(&model).and_then(|m| m.engine.pid()).expect("worker pid");
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::EngineCrashed);
    assert!(chat.loaded().is_none(), "the model counts as unloaded");
    let reply = chat.messages(conv.id).unwrap().pop().unwrap();
    assert_eq!(reply.state, MessageState::Failed);
    assert!(!reply.content.is_empty() && seen.text().starts_with(&reply.content), "kept: {:?}", reply.content);
    assert!(
        reply.error.as_deref().unwrap().contains("SIGKILL") || reply.error.as_deref().unwrap().contains("stopped"),
        "{:?}",
        reply.error
    );

    // A message without a model is refused plainly, and the person's message is kept.
    let err = chat.send(conv.id, "Are you there?", &[], |_| {}).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoModelLoaded);
    assert_eq!(chat.messages(conv.id).unwrap().iter().filter(|m| m.content == "Are you there?").count(), 1);

    chat.load(&model, &LoadSettings::default(), false, |_| {}).await.unwrap();
    let ok = Seen::default();
    chat.regenerate(conv.id, ok.sink()).await.unwrap();
    assert!(!ok.text().is_empty());
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn replies_cut_short_by_a_dead_app_are_marked_interrupted_on_the_next_start() {
    let path = db("interrupted");
    {
        let store = Store::open(&path).unwrap();
        let c = store.create_conversation("t", None, "{}").unwrap();
        store.add_message(c.id, "user", "hi", MessageState::Done).unwrap();
        let r = store.add_message(c.id, "assistant", "", MessageState::Streaming).unwrap();
        store.update_message(r, "Hello th", MessageState::Streaming, None, None).unwrap();
    }
    let chat = chat(&path);
    let conv = chat.conversations(None).unwrap()[0].id;
    let last = chat.messages(conv).unwrap().pop().unwrap();
    assert_eq!((last.content.as_str(), last.state), ("Hello th", MessageState::Interrupted));
}

/// The server shares Chat's runtime and may load another model that takes Chat's place (one model
/// at most here). Chat must then say its model is gone, and never answer with the other model
/// under its model's name.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_model_the_server_swapped_in_is_not_passed_off_as_chats() {
    let model = model();
    let _one = ONE.lock().await;
    let chat = chat(&db("swapped"));
    chat.load(&model, &LoadSettings::default(), false, |_| {}).await.unwrap();
    assert!(chat.loaded().is_some());

    // The server loads "another model" (the same weights under another name) into the engine.
    let other = std::env::temp_dir().join(format!("hearth-chat-other-{}.gguf", std::process::id()));
    let _ = std::fs::remove_file(&other);
    std::os::unix::fs::symlink(&model, &other).unwrap();
    chat.runtime().set_max_models(1);
    chat.runtime().load(&other, runtime::LoadRequest::by(runtime::Owner::Server), |_| {}).await.unwrap();

    assert!(chat.loaded().is_none(), "Chat's model is no longer in the engine");
    let conv = chat.create(None, &greedy(8)).unwrap();
    let e = chat.send(conv.id, "Hello?", &[], |_| {}).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NoModelLoaded);
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!(msgs[0].content, "Hello?", "the message is kept");
    let _ = std::fs::remove_file(&other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_model_that_will_not_fit_is_refused_with_a_warning_and_loads_only_when_forced() {
    let model = model();
    let _one = ONE.lock().await;
    let chat = chat(&db("force"));
    chat.load(&model, &LoadSettings::default(), false, |_| {}).await.unwrap();
    // 2 GB of RAM, all of it kept for the system: the planner says red.
    chat.runtime().set_hardware(hardware::catalog::imagined(None, 1, 2));
    let err = chat.load(&model, &LoadSettings::default(), false, |_| {}).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::WouldNotFit);
    assert!(err.message.contains("will not fit") && err.message.contains("Loaded anyway"), "{}", err.message);
    assert!(chat.loaded().is_some(), "a refused load leaves the model in use loaded");
    // After the person confirmed the warning: it loads as planned (on this real machine it fits).
    let forced = chat.load(&model, &LoadSettings::default(), true, |_| {}).await.unwrap();
    assert_eq!(forced.plan.verdict, Verdict::Red);
    assert_eq!(chat.loaded().map(|m| m.path), Some(model.display().to_string()));
}
