//! The MCP client against the reference servers from npm (tests/setup/mcp-servers.sh installs them,
//! pinned): the `everything` server over stdio and over streamable HTTP (its tools listed, `echo`,
//! `get-sum`, the env passed to `get-env`, an image from `get-tiny-image`, a long call kept alive
//! by its progress and one without progress timed out), the `filesystem` server on a temporary
//! folder (its read-only and destructive hints, a read, a path outside refused by the server), a
//! missing command's sentence with the PATH searched, a server that dies at once with its last
//! lines, one that writes garbage and never answers, one that answers 50 MB and has a tool whose
//! schema is not JSON Schema (tests/fixtures/hostile-server.mjs), a killed server started again at
//! its next call, and no process left once the servers are stopped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mcp::{Connection, McpConfig, McpError, Servers, Spec, State};
use serde_json::json;

fn everything(marker: &str) -> Spec {
    let script = testkit::mcp_server("everything");
    // The marker (an argument the server ignores) finds its process for the kill tests.
    Spec::stdio("node", [script.display().to_string(), "stdio".into(), marker.into()])
}

fn pids(marker: &str) -> Vec<String> {
    let out = std::process::Command::new("pgrep").args(["-f", marker]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[tokio::test]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
async fn the_everything_server_over_stdio_lists_and_calls_its_tools() {
    let mut spec = everything("hearth-test-stdio");
    spec.env = BTreeMap::from([("HEARTH_TEST_SECRET".to_string(), "kept-out-of-logs".to_string())]);
    let c = Connection::open("everything", &spec).await.unwrap();
    let names: Vec<&str> = c.tools.iter().map(|t| t.name.as_str()).collect();
    for tool in ["echo", "get-sum", "get-env", "get-tiny-image", "trigger-long-running-operation"] {
        assert!(names.contains(&tool), "{tool} in {names:?}");
    }
    let echo = c.call("echo", json!({"message": "hello from Hearth"})).await.unwrap();
    assert!(echo.text.contains("hello from Hearth") && !echo.is_error, "{echo:?}");
    let sum = c.call("get-sum", json!({"a": 2, "b": 3})).await.unwrap();
    assert!(sum.text.contains('5'), "{sum:?}");
    let env = c.call("get-env", json!({})).await.unwrap();
    assert!(env.text.contains("kept-out-of-logs"), "the env reaches the server");
    let image = c.call("get-tiny-image", json!({})).await.unwrap();
    assert_eq!(image.images.len(), 1, "{image:?}");
    assert_eq!(image.images[0].mime_type, "image/png");
    // Arguments the tool's schema refuses come back as the server's own error.
    let wrong = c.call("get-sum", json!({"a": "two"})).await;
    assert!(wrong.as_ref().map(|o| o.is_error).unwrap_or(true), "{wrong:?}");
    assert!(matches!(c.call("echo", json!([1])).await, Err(McpError::BadArguments { .. })));
    c.close().await;
}

#[tokio::test]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
async fn a_long_call_lives_while_it_reports_progress_and_dies_without() {
    let mut spec = everything("hearth-test-progress");
    spec.timeout = Some(2);
    let c = Connection::open("everything", &spec).await.unwrap();
    // Six steps of a second each: six seconds in all, with progress every second.
    let started = Instant::now();
    let done = c.call("trigger-long-running-operation", json!({"duration": 6, "steps": 6})).await.unwrap();
    assert!(done.text.contains("completed"), "{done:?}");
    assert!(started.elapsed() >= Duration::from_secs(5), "it ran past its 2 s limit, kept alive by progress");
    // One step of four seconds: no progress before the limit.
    let started = Instant::now();
    let e = c.call("trigger-long-running-operation", json!({"duration": 4, "steps": 1})).await.unwrap_err();
    assert!(matches!(e, McpError::CallTimedOut { seconds: 2, .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(e.to_string().contains("went 2 seconds without an answer or progress"), "{e}");
    // The connection is still good for the next call.
    assert!(c.call("echo", json!({"message": "still here"})).await.unwrap().text.contains("still here"));
    c.close().await;
}

#[tokio::test]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
async fn the_everything_server_over_streamable_http() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = tokio::process::Command::new("node")
        .arg(testkit::mcp_server("everything"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "the HTTP server did not listen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let spec = Spec::http(format!("http://127.0.0.1:{port}/mcp"));
    let c = Connection::open("everything-http", &spec).await.unwrap();
    assert!(c.tools.iter().any(|t| t.name == "get-sum"));
    assert!(c.call("get-sum", json!({"a": 20, "b": 22})).await.unwrap().text.contains("42"));
    c.close().await;
    // Nothing listening: a sentence with the address.
    server.kill().await.ok();
    let e = Connection::open("gone", &Spec { timeout: Some(2), ..spec }).await.unwrap_err();
    assert!(matches!(e, McpError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[tokio::test]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
async fn the_filesystem_server_marks_its_tools_and_refuses_a_path_outside() {
    let dir = std::env::temp_dir().join(format!("hearth-mcp-fs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("note.txt"), "the note's text").unwrap();
    let dir = dir.canonicalize().unwrap();
    let spec = Spec::stdio("node", [testkit::mcp_server("filesystem").display().to_string(), dir.display().to_string()]);
    let c = Connection::open("files", &spec).await.unwrap();
    let tool = |name: &str| c.tools.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name}")).clone();
    assert!(tool("read_text_file").read_only && !tool("read_text_file").destructive);
    assert!(!tool("write_file").read_only && tool("write_file").destructive);
    let read = c.call("read_text_file", json!({"path": dir.join("note.txt")})).await.unwrap();
    assert!(read.text.contains("the note's text"), "{read:?}");
    let outside = c.call("read_text_file", json!({"path": "/etc/hostname"})).await.unwrap();
    assert!(outside.is_error, "the server refuses a path outside its folder: {outside:?}");
    c.close().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn servers_that_cannot_start_say_why() {
    let e = Connection::open("nope", &Spec::stdio("hearth-no-such-command", ["x"])).await.unwrap_err();
    assert!(matches!(e, McpError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("was not found on the PATH searched ("), "{e}");

    let dies = Spec::stdio("sh", ["-c", "echo 'boom: HEARTH_API_KEY is not set' >&2; exit 3"]);
    let e = Connection::open("dies", &dies).await.unwrap_err();
    assert!(matches!(e, McpError::Exited { .. } | McpError::Handshake { .. }), "{e:?}");
    assert!(e.to_string().contains("boom: HEARTH_API_KEY is not set"), "its last lines are shown: {e}");

    // Garbage on stdout and no answer: the handshake gives up in twice the call timeout.
    let garbage = Spec { timeout: Some(1), ..Spec::stdio("sh", ["-c", "echo 'not json'; echo '{\"jsonrpc\": 1}'; sleep 30"]) };
    let started = Instant::now();
    let e = Connection::open("garbage", &garbage).await.unwrap_err();
    assert!(matches!(e, McpError::Handshake { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[tokio::test]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
async fn a_killed_server_starts_again_at_its_next_call_and_none_is_left_after_stop() {
    let marker = format!("hearth-test-kill-{}", std::process::id());
    let mut config = McpConfig::default();
    config.servers.insert("everything".into(), everything(&marker));
    config.servers.insert("broken".into(), Spec::stdio("hearth-no-such-command", Vec::<String>::new()));
    config.servers.insert("off".into(), Spec { disabled: true, ..everything("hearth-test-off") });
    let servers = Servers::new(config);
    servers.start_all().await;
    let states: Vec<(String, State)> = servers.statuses().into_iter().map(|s| (s.name, s.state)).collect();
    assert!(matches!(&states[0], (n, State::Failed { reason }) if n == "broken" && reason.contains("not found")), "{states:?}");
    assert!(matches!(&states[1], (n, State::Ready { tools }) if n == "everything" && *tools > 5), "{states:?}");
    assert_eq!(states[2], ("off".to_string(), State::Off));
    assert!(servers.offered(None).iter().any(|o| o.model_name == "get-sum"));
    assert!(pids("hearth-test-off").is_empty(), "a disabled server is not started");

    assert!(servers.call("everything", "echo", json!({"message": "one"})).await.unwrap().text.contains("one"));
    let first = pids(&marker);
    assert!(!first.is_empty());
    std::process::Command::new("pkill").args(["-KILL", "-f", &marker]).status().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = servers.call("everything", "echo", json!({"message": "two"})).await.unwrap();
    assert!(again.text.contains("two"), "{again:?}");
    assert_ne!(pids(&marker), first, "a new process answered");
    assert!(matches!(servers.call("everything", "no-such-tool", json!({})).await, Err(McpError::UnknownTool { .. })));

    // Stopping while a call runs (30 s of it): the server goes at once, and the call ends.
    let running = {
        let servers = servers.clone();
        tokio::spawn(async move { servers.call("everything", "trigger-long-running-operation", json!({"duration": 30, "steps": 30})).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    servers.stop_all().await;
    let ended = tokio::time::timeout(Duration::from_secs(3), running).await.expect("the call ends with its server").unwrap();
    assert!(ended.is_err(), "{ended:?}");
    let deadline = stopping + Duration::from_secs(3);
    while !pids(&marker).is_empty() {
        assert!(Instant::now() < deadline, "a server process outlived stop_all: {:?}", pids(&marker));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A server that answers with a 50 MB result, and one whose tool's schema is not JSON Schema: the
/// first is a clear error within the call's time limit and memory stays bounded; the second is
/// listed with a schema the model can be given, and called.
#[tokio::test]
async fn a_huge_result_and_a_broken_schema_are_handled() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hostile-server.mjs");
    let spec = Spec { timeout: Some(3), ..Spec::stdio("node", [script]) };
    let c = Connection::open("hostile", &spec).await.unwrap();
    let broken = c.tools.iter().find(|t| t.name == "broken").unwrap();
    assert_eq!(broken.input_schema["type"], "object");
    assert!(c.call("broken", json!({})).await.unwrap().text.contains("ok"));
    let started = Instant::now();
    let big = c.call("big", json!({})).await;
    eprintln!("a 50 MB result: {big:?} after {:?}", started.elapsed());
    // rmcp refuses a message over 16 MiB (its line limit) without reading it whole, so the call
    // ends at its time limit, and the sentence says why that may be.
    let e = big.unwrap_err();
    assert!(matches!(e, McpError::CallTimedOut { seconds: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("larger than 16 MiB"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(c.call("broken", json!({})).await.is_ok(), "the connection is still good");
    c.close().await;
}
