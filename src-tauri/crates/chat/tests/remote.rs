//! Chat through a connection to another machine. The other machine is Hearth's own server (what
//! `hearth serve` runs) on loopback, with a key, over the real test model in its own worker process:
//! a stand-in for vLLM or llama.cpp's server on a rented GPU that speaks the same two APIs. What
//! streams is what is saved, Stop stops it, regenerate and edit work as with a local model, and a
//! wrong key, a model the endpoint does not have and a stopped endpoint each give their sentence
//! while the person's message stays saved.

#[path = "support/seen.rs"]
mod seen;

use std::sync::{Arc, Mutex};

use chat::Chat;
use engine::WorkerCommand;
use seen::{greedy, Seen};
use server::{serve, EngineBackend, ModelEntry, RunningServer, ServerConfig};
use store::Store;
use types::{ApiKind, ConversationSettings, ErrorCode, MessageState, RemoteModel, StopReason};

const KEY: &str = "sk-remote-test-0123456789";

// One model at a time on a 2-core machine.
static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn worker() -> WorkerCommand {
    WorkerCommand { program: env!("CARGO_BIN_EXE_chat-test-worker").into(), args: Vec::new() }
}

/// The other machine: the server over its own runtime and the test model, with a key.
async fn other_machine() -> (RunningServer, String) {
    let model = testkit::test_model();
    let runtime = Arc::new(runtime::Runtime::new(worker(), hardware::catalog::imagined(None, 1, 16)));
    let entry = ModelEntry::from_path(&model);
    let id = entry.id.clone();
    let backend = Arc::new(EngineBackend::new(runtime, vec![entry]));
    let config = ServerConfig { port: 0, api_key: Some(KEY.into()), ..Default::default() };
    (serve(config, backend).await.unwrap(), id)
}

/// This machine's Chat, with one connection ("GPU box", id c1) whose endpoint the test can change.
fn this_machine(name: &str, endpoint: Arc<Mutex<remote::Endpoint>>) -> Chat {
    let dir = std::env::temp_dir().join(format!("hearth-chat-remote-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = runtime::Runtime::new(worker(), hardware::catalog::imagined(None, 1, 16));
    let chat = Chat::new(Arc::new(Store::open(&dir.join("hearth.sqlite3")).unwrap()), Arc::new(runtime), dir.join("images"));
    chat.set_endpoints(Arc::new(move |id: &str| (id == "c1").then(|| endpoint.lock().unwrap().clone())));
    chat
}

fn endpoint(base_url: &str, kind: ApiKind, key: &str) -> Arc<Mutex<remote::Endpoint>> {
    Arc::new(Mutex::new(remote::Endpoint { name: "GPU box".into(), base_url: base_url.into(), kind, key: Some(key.into()) }))
}

fn remote_model(base_url: &str, model: &str) -> RemoteModel {
    RemoteModel { connection_id: "c1".into(), connection_name: "GPU box".into(), base_url: base_url.into(), model: model.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn chat_through_an_openai_compatible_endpoint_streams_stops_and_says_what_went_wrong() {
    let _one = ONE.lock().await;
    let (server, model) = other_machine().await;
    let base = format!("http://{}", server.addr());
    let ep = endpoint(&base, ApiKind::Openai, "sk-wrong-key-000000");
    let chat = Arc::new(this_machine("openai", ep.clone()));

    // A wrong key is said when the model is chosen, not at the first message.
    let refused = chat.use_remote(remote_model(&base, &model)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::RemoteRefused, "{refused:?}");
    assert!(refused.message.starts_with("GPU box refused the key (HTTP 401)"), "{}", refused.message);
    assert!(chat.remote().is_none());

    ep.lock().unwrap().key = Some(KEY.into());
    let gone = chat.use_remote(remote_model(&base, "no-such-model")).await.unwrap_err();
    assert_eq!(gone.code, ErrorCode::RemoteModelGone, "{gone:?}");
    let chosen = chat.use_remote(remote_model(&base, &model)).await.unwrap();
    assert_eq!(chat.remote(), Some(chosen.clone()));
    assert!(chat.loaded().is_none(), "nothing is loaded on this machine");

    // A reply streams, is saved as it streamed, and carries figures measured here.
    let conv = chat.create(None, &greedy(24)).unwrap();
    let first = Seen::default();
    chat.send(conv.id, "What is the capital of France?", &[], first.sink()).await.unwrap();
    let stats = first.done().expect("done");
    assert!(!first.text().is_empty());
    assert!(stats.generated_tokens > 0 && stats.time_to_first_token_ms > 0.0 && stats.prompt_tokens_total > 0, "{stats:?}");
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!((msgs.len(), msgs[1].content.as_str(), msgs[1].state), (2, first.text().as_str(), MessageState::Done));
    assert_eq!(chat.get(conv.id).unwrap().model_path, Some(chosen.label()));

    // Regenerate and edit, as with a local model (greedy: the same reply again).
    let again = Seen::default();
    chat.regenerate(conv.id, again.sink()).await.unwrap();
    assert_eq!(again.text(), first.text());
    assert_eq!(chat.messages(conv.id).unwrap().len(), 2);
    let edited = Seen::default();
    chat.edit(conv.id, msgs[0].id, "What is the capital of Spain?", edited.sink()).await.unwrap();
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!((msgs[0].content.as_str(), msgs[1].content.as_str()), ("What is the capital of Spain?", edited.text().as_str()));

    // Stop: the text so far is kept, marked stopped, and the endpoint is free again at once.
    let long = chat.create(None, &greedy(2000)).unwrap();
    let seen = Seen::default();
    let (c, sink, counted) = (chat.clone(), seen.sink(), seen.clone());
    let task = tokio::spawn(async move { c.send(long.id, "Write a long story about a lighthouse keeper.", &[], sink).await });
    while counted.text().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let asked = std::time::Instant::now();
    chat.stop(long.id).await;
    task.await.unwrap().unwrap();
    assert!(asked.elapsed() < std::time::Duration::from_secs(2), "stopped in {:?}", asked.elapsed());
    let stopped = chat.messages(long.id).unwrap();
    assert_eq!(stopped[1].state, MessageState::Stopped);
    assert_eq!(stopped[1].content, seen.text());
    assert_eq!(seen.done().unwrap().stop_reason, StopReason::Cancelled);
    let after = Seen::default();
    chat.send(conv.id, "Thanks.", &[], after.sink()).await.expect("the endpoint answers after a stop");

    // The endpoint goes away: the message is kept, the reply fails with its sentence.
    server.stop().await;
    let down = Seen::default();
    let error = chat.send(conv.id, "Are you there?", &[], down.sink()).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::RemoteUnreachable, "{error:?}");
    assert!(error.message.starts_with(&format!("GPU box did not answer at {base}.")), "{}", error.message);
    let msgs = chat.messages(conv.id).unwrap();
    let n = msgs.len();
    assert_eq!(msgs[n - 2].content, "Are you there?");
    assert_eq!((msgs[n - 1].state, msgs[n - 1].error.as_deref()), (MessageState::Failed, Some(error.message.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn chat_through_an_anthropic_compatible_endpoint() {
    let _one = ONE.lock().await;
    let (server, model) = other_machine().await;
    let base = format!("http://{}", server.addr());
    let chat = this_machine("anthropic", endpoint(&base, ApiKind::Anthropic, KEY));
    chat.use_remote(remote_model(&base, &model)).await.unwrap();
    let conv = chat.create(None, &ConversationSettings { system_prompt: "Answer in one sentence.".into(), ..greedy(16) }).unwrap();
    let seen = Seen::default();
    chat.send(conv.id, "What is the capital of France?", &[], seen.sink()).await.unwrap();
    let stats = seen.done().unwrap();
    assert!(!seen.text().is_empty() && stats.generated_tokens > 0, "{stats:?}");
    assert!(matches!(stats.stop_reason, StopReason::Eos | StopReason::MaxTokens), "{stats:?}");
    assert_eq!(chat.messages(conv.id).unwrap()[1].content, seen.text());
    server.stop().await;
}
