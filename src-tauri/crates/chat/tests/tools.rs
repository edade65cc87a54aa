//! Tools in a conversation with the real test model, the real worker and the reference MCP
//! `filesystem` server on a temporary folder (issue 31). The test model is too small to call tools
//! of its own accord, so the conversation holds its first answer to a call (`force`, a grammar):
//! the call waits for the person; Deny → not run and the model reads that it was denied; Allow
//! once → run, its result saved with the reply and read by the model; Always allow → remembered,
//! and the next call runs without asking; Stop while a call waits ends the reply, stopped. The
//! calls are there when the conversation is read again, and the next turn's prompt holds them; a
//! tool the conversation leaves out is not offered; deleting a conversation whose call waits ends
//! its reply.

#[allow(dead_code)] // not every helper of the chat tests
#[path = "support/seen.rs"]
mod seen;

use std::sync::Arc;
use std::time::Duration;

use chat::Chat;
use engine::WorkerCommand;
use seen::{greedy, Seen};
use store::Store;
use types::{ChatEvent, ConversationTools, LoadSettings, MessageState, ToolCallState, ToolDecision};

fn chat(name: &str) -> (Chat, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("hearth-chat-tools-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("files")).unwrap();
    std::fs::write(dir.join("files/note.txt"), "the note").unwrap();
    let worker = WorkerCommand { program: env!("CARGO_BIN_EXE_chat-test-worker").into(), args: Vec::new() };
    let runtime = runtime::Runtime::new(worker, hardware::catalog::imagined(None, 1, 16));
    let chat = Chat::new(Arc::new(Store::open(&dir.join("hearth.sqlite3")).unwrap()), Arc::new(runtime), dir.join("images"));
    (chat, dir.canonicalize().unwrap())
}

/// Sends a message and answers the reply's first call, if it waits, with `decision` (or presses
/// Stop, for `None`); returns what streamed and whether that first call waited. Any further call
/// that waits is denied: the model's own words after a call are not the same on every CPU, and a
/// small model may call again of its own accord.
async fn send_and_answer(chat: &Arc<Chat>, conv: i64, text: &str, decision: Option<ToolDecision>) -> (Seen, bool) {
    let seen = Seen::default();
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = seen.sink();
    let sending = {
        let chat = chat.clone();
        let text = text.to_string();
        tokio::spawn(async move {
            chat.send(conv, &text, &[], move |e| {
                events.send(e.clone()).ok();
                sink(e);
            })
            .await
        })
    };
    let answering = tokio::time::timeout(Duration::from_secs(120), async {
        let (mut first, mut waited) = (None, false);
        // The channel closes when the reply has ended (its sink is dropped).
        while let Some(e) = rx.recv().await {
            let ChatEvent::ToolCall { call, .. } = e else { continue };
            let first_id = *first.get_or_insert(call.id);
            if call.state != ToolCallState::Waiting {
                continue;
            }
            if call.id != first_id {
                chat.decide(call.id, ToolDecision::Deny).ok();
                continue;
            }
            waited = true;
            match decision {
                Some(d) => chat.decide(call.id, d).unwrap(),
                None => chat.stop(conv).await,
            }
        }
        waited
    });
    let waited = answering.await.expect("the reply ends");
    sending.await.unwrap().ok();
    (seen, waited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
async fn a_call_waits_for_the_person_and_is_denied_allowed_or_stopped() {
    let (chat, dir) = chat("flow");
    let chat = Arc::new(chat);
    let mut config = mcp::McpConfig::default();
    let files = dir.join("files");
    config.servers.insert("files".into(), mcp::Spec::stdio("node", [testkit::mcp_server("filesystem").display().to_string(), files.display().to_string()]));
    let servers = mcp::Servers::new(config);
    servers.start_all().await;
    chat.set_servers(servers.clone());
    chat.load(&testkit::test_model(), &LoadSettings::default(), false, |_| {}).await.unwrap();

    let mut settings = greedy(24);
    settings.tools = ConversationTools { servers: vec!["files".into()], off: Vec::new(), force: Some("list_allowed_directories".into()) };
    let conv = chat.create(None, &settings).unwrap();

    // Deny: not run; the model is told, and writes on.
    let (denied, waited) = send_and_answer(&chat, conv.id, "Which folders can you read?", Some(ToolDecision::Deny)).await;
    assert!(waited, "the call waited for the person");
    assert!(denied.done().is_some(), "the reply ends");
    let msgs = chat.messages(conv.id).unwrap();
    let call = &msgs[1].tool_calls[0];
    assert_eq!((call.server.as_str(), call.tool.as_str(), call.state), ("files", "list_allowed_directories", ToolCallState::Denied));
    assert_eq!(call.result.as_deref(), Some("The person denied this call; it was not run."));
    assert_eq!(msgs[1].state, MessageState::Done);

    // Allow once: run, and its result kept with the reply; the next turn's prompt holds the calls.
    assert!(send_and_answer(&chat, conv.id, "Try again.", Some(ToolDecision::AllowOnce)).await.1);
    let msgs = chat.messages(conv.id).unwrap();
    let call = &msgs[3].tool_calls[0];
    assert_eq!(call.state, ToolCallState::Done, "{call:?}");
    assert!(call.result.as_deref().unwrap().contains(&files.display().to_string()), "{call:?}");
    assert!(call.read_only && !call.destructive);

    // Always allow: remembered, and the next call runs without asking.
    assert!(send_and_answer(&chat, conv.id, "Once more.", Some(ToolDecision::AlwaysAllow)).await.1);
    assert!(chat.permissions().always.contains(&("files".to_string(), "list_allowed_directories".to_string())));
    let (_, waited) = send_and_answer(&chat, conv.id, "And again.", Some(ToolDecision::Deny)).await;
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!(msgs[7].tool_calls[0].state, ToolCallState::Done);
    assert!(!waited, "the call allowed for good did not wait");

    // Stop while a call waits: the reply ends, stopped, and so does the call.
    chat.set_permissions(&chat::Permissions::default()).unwrap();
    assert!(send_and_answer(&chat, conv.id, "One last time.", None).await.1);
    let msgs = chat.messages(conv.id).unwrap();
    assert_eq!(msgs[9].state, MessageState::Stopped);
    assert_eq!(msgs[9].tool_calls[0].state, ToolCallState::Stopped);
    assert!(matches!(chat.decide(msgs[9].tool_calls[0].id, ToolDecision::AllowOnce), Err(e) if e.message.contains("no longer waiting")));

    // A tool the conversation leaves out is not offered: holding the model to it holds nothing.
    let mut settings = chat.get(conv.id).unwrap().settings;
    settings.tools.off = vec![("files".into(), "list_allowed_directories".into())];
    chat.set_settings(conv.id, &settings).unwrap();
    send_and_answer(&chat, conv.id, "Hello.", Some(ToolDecision::Deny)).await;
    let msgs = chat.messages(conv.id).unwrap();
    // (The model may still write a call to it, having seen it earlier: it is not run, and the
    // model reads that there is no such tool.)
    let left_out = msgs[11].tool_calls.iter().filter(|c| c.tool == "list_allowed_directories");
    assert!(left_out.clone().all(|c| c.state == ToolCallState::Failed && c.server.is_empty()), "{:?}", msgs[11].tool_calls);
    assert!(left_out.clone().all(|c| c.result.as_deref() == Some("There is no tool named `list_allowed_directories` here.")));

    // A conversation deleted while a call in it waits: the reply ends rather than wait for ever.
    settings.tools.off.clear();
    chat.set_permissions(&chat::Permissions::default()).unwrap();
    let doomed = chat.create(None, &settings).unwrap();
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sending = {
        let chat = chat.clone();
        tokio::spawn(async move { chat.send(doomed.id, "Which folders?", &[], move |e| drop(events.send(e))).await })
    };
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(e) = rx.recv().await {
            if matches!(e, ChatEvent::ToolCall { ref call, .. } if call.state == ToolCallState::Waiting) {
                return;
            }
        }
    })
    .await
    .expect("the call waits");
    chat.delete(doomed.id).unwrap();
    tokio::time::timeout(Duration::from_secs(30), sending).await.expect("the reply ends once its conversation is gone").unwrap().ok();

    servers.stop_all().await;
    std::fs::remove_dir_all(&dir).ok();
}
