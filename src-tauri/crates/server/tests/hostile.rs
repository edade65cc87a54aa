//! Hostile clients against the real server over the real engine (SmolLM2-135M through the worker
//! process), issue 13: a web page's requests (a rebound `Host`, a foreign `Origin`, a body that is
//! not JSON) are refused before anything is loaded or generated; five hundred half-sent headers
//! do not keep a normal request out; a streaming client that stops reading is cut off, its
//! generation cancelled, and the next request and the engine go on.
//! One model at a time: the tests take `ONE`.

#[allow(dead_code)] // only its memory reading
#[path = "support/load.rs"]
mod load;
#[path = "support/raw.rs"]
mod raw;
#[path = "support/real.rs"]
mod real;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{ReplyEvent, GenerateParams, Prompt};
use real::WorkerCommand;
use serde_json::{json, Value};
use server::{serve, EngineBackend, RunningServer, ServerConfig};
use tokio::io::AsyncWriteExt;
use types::{ChatMessage, ChatRole, ContextOverflow, SamplingParams};

static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn worker() -> WorkerCommand {
    WorkerCommand { program: env!("CARGO_BIN_EXE_server-test-worker").into(), args: Vec::new() }
}

async fn start(config: ServerConfig) -> (RunningServer, Arc<EngineBackend>, SocketAddr, String) {
    let model = real::model();
    let backend = real::backend(worker(), &model);
    let server = serve(ServerConfig { port: 0, ..config }, backend.clone()).await.unwrap();
    let addr = server.addr();
    (server, backend, addr, real::model_id(&model))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn web_pages_are_refused_before_anything_is_loaded_or_generated() {
    let _one = ONE.lock().await;
    // The default: loopback, no key, auto-load on — what a page in the person's browser would hit.
    let (server, backend, addr, model) = start(ServerConfig::default()).await;
    let local = format!("127.0.0.1:{}", addr.port());
    let body = json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}).to_string();
    let json_type = ("Content-Type", "application/json");

    // DNS rebinding: the page's own name now resolves to 127.0.0.1, and its requests say so.
    let rebound = raw::request("POST", "/v1/chat/completions", &format!("evil.example:{}", addr.port()), &[json_type], &body);
    let (status, reply) = raw::exchange(addr, &rebound).await;
    assert_eq!((status, code(&reply)), (403, "host_not_allowed"), "{reply}");
    assert_eq!(reply["error"]["type"], "invalid_request_error");

    // A page on another site posting JSON: the browser sends its Origin (and a preflight that
    // would be refused too); the generation must not start just because the page cannot read it.
    let cross = raw::request("POST", "/v1/chat/completions", &local, &[json_type, ("Origin", "https://evil.example")], &body);
    let (status, reply) = raw::exchange(addr, &cross).await;
    assert_eq!((status, code(&reply)), (403, "origin_not_allowed"), "{reply}");

    // The preflight-free forms a page can send: text/plain, and a body with no type at all.
    let plain = raw::request("POST", "/v1/chat/completions", &local, &[("Content-Type", "text/plain")], &body);
    let (status, reply) = raw::exchange(addr, &plain).await;
    assert_eq!((status, code(&reply)), (415, "unsupported_media_type"), "{reply}");
    let typeless = raw::request("POST", "/v1/completions", &format!("localhost:{}", addr.port()), &[], &body);
    assert_eq!(raw::exchange(addr, &typeless).await.0, 415);

    // Nothing was loaded or generated: no worker was even started.
    let m = server.metrics();
    assert_eq!((m.tokens, m.completed, m.refused), (0, 0, 4), "{m:?}");
    assert!(backend.runtime().residents().is_empty() && backend.worker_pid().is_none(), "a refused request loaded the model");

    // The same request, addressed as local clients address it, is answered.
    for host in [local.as_str(), &format!("localhost:{}", addr.port()), &format!("[::1]:{}", addr.port())] {
        let ok = raw::request("POST", "/v1/chat/completions", host, &[json_type], &body);
        let (status, reply) = raw::exchange(addr, &ok).await;
        assert_eq!(status, 200, "{host}: {reply}");
    }
    assert!(server.metrics().tokens > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn five_hundred_half_sent_headers_do_not_keep_a_normal_request_out() {
    let _one = ONE.lock().await;
    let config = ServerConfig { header_timeout: Duration::from_secs(3), ..Default::default() };
    let cap = config.max_connections;
    let (server, _backend, addr, model) = start(config).await;
    let mut slow = Vec::new();
    for _ in 0..500 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Ty", addr.port()).as_bytes())
            .await
            .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let opened = Instant::now();

    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let t = Instant::now();
    let r = client.get(format!("http://{addr}/v1/models")).send().await.expect("no answer within 2 s");
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["data"][0]["id"], model.as_str());
    eprintln!("with 500 half-sent heads open, /v1/models answered in {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(2));

    // The server holds no more than its cap; the others were closed at once, not left to use up
    // the app's file descriptors.
    assert!(server.connections() <= cap, "{} open", server.connections());
    let mut closed = 0;
    for s in &mut slow {
        closed += usize::from(raw::closed(s, Duration::from_millis(5)).await);
    }
    eprintln!("{closed} of 500 half-sent heads closed within {:?}", opened.elapsed());
    assert!(closed >= 500 - cap, "only {closed} closed");

    // And a real generation goes through.
    let body = json!({"model": model, "prompt": "Hello", "max_tokens": 4});
    drop(client);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    assert_eq!(client.post(format!("http://{addr}/v1/completions")).json(&body).send().await.unwrap().status(), 200);

    // The rest go after the header timeout (and this test's own kept-alive connections with them).
    drop(client);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let mut open = 0;
    for s in &mut slow {
        open += usize::from(!raw::closed(s, Duration::from_millis(5)).await);
    }
    assert_eq!(open, 0, "half-sent heads still open after the header timeout");
    assert_eq!(server.connections(), 0);
}

/// Clients that send a whole head and then trickle their body held a place as "in flight", so as
/// many as the connection cap locked everyone out until their body timeout. A request now counts
/// as in flight only once its body has arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn bodies_that_trickle_in_do_not_keep_a_normal_request_out() {
    let _one = ONE.lock().await;
    let config = ServerConfig::default();
    let cap = config.max_connections;
    let (server, backend, addr, model) = start(config).await;
    let mut slow = Vec::new();
    for _ in 0..cap + 50 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"model\"",
            addr.port()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = load::rss_kib(std::process::id()).unwrap();

    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let r = client.get(format!("http://{addr}/v1/models")).send().await.expect("no answer within 2 s");
    assert_eq!(r.status(), 200);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let body = json!({"model": model, "prompt": "Hello", "max_tokens": 4});
    assert_eq!(client.post(format!("http://{addr}/v1/completions")).json(&body).send().await.unwrap().status(), 200);
    let pid = backend.worker_pid();
    assert!(server.connections() <= cap, "{} open", server.connections());
    assert_eq!(client.post(format!("http://{addr}/v1/completions")).json(&body).send().await.unwrap().status(), 200);
    assert_eq!(backend.worker_pid(), pid, "the same worker");
    let rss_after = load::rss_kib(std::process::id()).unwrap();
    eprintln!("{} trickling bodies: served; server RSS {rss_before} -> {rss_after} KiB", cap + 50);
    assert!(rss_after < rss_before + 32 * 1024, "{rss_before} -> {rss_after} KiB");
}

/// How long the test gives a request queued behind a client that stopped reading: the stall
/// timeout (2 s) plus the time to generate what fills the socket buffers (the server's 32 KB and the
/// client's 8 KB: ~200 tokens of SSE), which is what varies: 11.6 s on a quiet 2-core machine, 58 s
/// with two builds beside it (3 tokens/s). Without the cut, the stream would count on to the end
/// of its context (or, since the engine bounds each receiver's backlog, past 1024 more tokens).
const BEHIND_A_STALLED_STREAM: Duration = Duration::from_secs(120);
/// Tokens a stalled stream may have been sent before the cut (about 250 fill the buffers).
const STALLED_TOKENS: u32 = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_streaming_client_that_stops_reading_is_cut_off_and_the_engine_goes_on() {
    let _one = ONE.lock().await;
    let config = ServerConfig { stall_timeout: Duration::from_secs(2), ..Default::default() };
    let (server, backend, addr, model) = start(config).await;
    let mut logs = server.logs();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build().unwrap();
    let short = json!({"model": model, "prompt": "Hello", "max_tokens": 4, "temperature": 0});
    assert_eq!(client.post(format!("http://{addr}/v1/completions")).json(&short).send().await.unwrap().status(), 200);
    let pid = backend.worker_pid().unwrap();
    let before = load::rss_kib(pid).unwrap();

    // Counting goes on for as long as it is allowed to; the client never reads a byte (and its
    // receive buffer is small, as a client that stopped reading long ago would have filled it).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(addr).await.unwrap();
    let counting = json!({"model": model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 100_000, "temperature": 0, "stream": true});
    let request = raw::request(
        "POST",
        "/v1/completions",
        &format!("127.0.0.1:{}", addr.port()),
        &[("Content-Type", "application/json")],
        &counting.to_string(),
    );
    stalled.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A normal request waits for the engine behind it, and is answered once it is cut off.
    let t = Instant::now();
    let r = client.post(format!("http://{addr}/v1/completions")).json(&short).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let waited = t.elapsed();
    let stuck = loop {
        let e = tokio::time::timeout(Duration::from_secs(5), logs.recv()).await.expect("no log entry").unwrap();
        if e.path == "/v1/completions" && e.status == 200 && e.finish_reason.as_deref() != Some("length") {
            break e;
        }
    };
    eprintln!("the request behind a client that stopped reading was answered after {waited:?}; the stalled stream: {stuck:?}");
    assert_eq!(stuck.finish_reason.as_deref(), Some("cancelled"), "the stalled stream was not cut off: {stuck:?}");
    assert!(stuck.completion_tokens.unwrap_or(u32::MAX) < STALLED_TOKENS, "cut off late: {stuck:?}");
    assert!(waited < BEHIND_A_STALLED_STREAM, "the next request waited {waited:?}");
    assert_eq!(server.metrics().cancelled, 1);
    drop(stalled);

    // Chat's way into the engine (no server) still works.
    let chat = GenerateParams {
        prompt: Prompt::Chat(vec![ChatMessage::new(ChatRole::User, "Say hello.")]),
        sampling: SamplingParams { max_tokens: Some(8), temperature: 0.0, ..SamplingParams::default() },
        context_overflow: ContextOverflow::Stop,
        model: None,
        constraint: None,
        logprobs: None,
        tools: None,
    };
    let mut generation = backend.runtime().residents()[0].engine.generate(chat).await.unwrap();
    let mut text = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(60), generation.events.recv()).await.expect("Chat got no token in 60 s") {
            Some(ReplyEvent::Text(t)) => text.push_str(&t),
            Some(ReplyEvent::Started { .. }) => {}
            Some(ReplyEvent::Done(_)) => break,
            other => panic!("Chat's generation failed: {other:?}"),
        }
    }
    assert!(!text.is_empty());

    // And the worker's memory is back where it was.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = load::rss_kib(pid).unwrap();
    eprintln!("worker RSS {} -> {} MiB", before / 1024, after / 1024);
    assert!(after <= before + 32 * 1024, "worker memory grew from {before} KiB to {after} KiB");
}

/// `hearth serve --max-tokens`: a request that names no limit, or a larger one, stops at the
/// server's cap with `finish_reason: "length"`; a smaller limit is kept. Without it a request
/// with no `max_tokens` writes until the context is full (minutes on a slow machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn the_servers_reply_cap_bounds_requests_that_name_no_limit_or_a_larger_one() {
    let _one = ONE.lock().await;
    let (server, _backend, addr, model) = start(ServerConfig { max_reply_tokens: Some(5), ..Default::default() }).await;
    let client = reqwest::Client::new();
    let counting = "1, 2, 3, 4, 5, 6, 7, 8,";
    for (limit, expected) in [(None, 5), (Some(1000), 5), (Some(2), 2)] {
        let mut body = json!({"model": model, "prompt": counting, "temperature": 0});
        if let Some(n) = limit {
            body["max_tokens"] = json!(n);
        }
        let r: Value = client.post(format!("http://{addr}/v1/completions")).json(&body).send().await.unwrap().json().await.unwrap();
        // At most the cap; and stopped by it, unless the model ended its reply first (what a
        // model writes differs across CPUs: only the cap is guaranteed).
        let tokens = r["usage"]["completion_tokens"].as_u64().expect("usage");
        assert!(tokens <= expected, "max_tokens {limit:?}: {r}");
        assert!(r["choices"][0]["finish_reason"] == "length" || tokens < expected, "{r}");
    }
    // Anthropic's Messages too (its max_tokens is required; the cap still holds).
    let body = json!({"model": model, "max_tokens": 1000, "messages": [{"role": "user", "content": format!("Count on: {counting}")}]});
    let r: Value = client.post(format!("http://{addr}/v1/messages")).json(&body).send().await.unwrap().json().await.unwrap();
    assert!(r["usage"]["output_tokens"].as_u64().is_some_and(|n| n <= 5), "{r}");
    server.stop().await;
}
