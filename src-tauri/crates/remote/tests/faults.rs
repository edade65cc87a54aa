//! What an endpoint can do wrong, each from a real HTTP exchange on loopback: a raw TCP server
//! writes exactly the bytes of a misbehaving endpoint (a reply cut mid-stream, an error status, a
//! body that is not the API's), and a closed port stands in for a machine that is off.

use std::time::Duration;

use remote::{Endpoint, ReplyEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use types::{ApiKind, ChatMessage, ChatRole, ErrorCode, SamplingParams, StopReason};

/// A server that answers one request with `response` (then closes the connection).
async fn answering(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            // Read the request's head and body (small here); the content is not checked.
            let _ = tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buf)).await;
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    format!("http://{addr}")
}

fn endpoint(base_url: String, kind: ApiKind) -> Endpoint {
    Endpoint { name: "GPU box".into(), base_url, kind, key: Some("sk-test".into()) }
}

fn hello() -> Vec<ChatMessage> {
    vec![ChatMessage::new(ChatRole::User, "Hello")]
}

async fn collect(e: &Endpoint) -> Vec<ReplyEvent> {
    let mut reply = e.chat("m", &hello(), &SamplingParams::default()).await.unwrap();
    let mut events = Vec::new();
    while let Some(ev) = reply.next().await {
        events.push(ev);
    }
    events
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";

#[tokio::test]
async fn a_whole_openai_stream_gives_its_text_and_usage() {
    let body = concat!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        ": keep-alive\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"length\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n",
        "data: [DONE]\n\n"
    );
    let events = collect(&endpoint(answering(body).await, ApiKind::Openai)).await;
    assert_eq!(events[..2], [ReplyEvent::Text("Hel".into()), ReplyEvent::Text("lo".into())]);
    let ReplyEvent::Done(stats) = &events[2] else { panic!("{events:?}") };
    assert_eq!((stats.prompt_tokens_total, stats.generated_tokens, stats.stop_reason), (9, 2, StopReason::MaxTokens));
    assert_eq!(events.len(), 3);
}

#[tokio::test]
async fn a_reply_cut_mid_stream_keeps_its_text_and_says_so() {
    let body: &'static str = Box::leak(
        format!("{SSE_HEAD}data: {{\"choices\":[{{\"delta\":{{\"content\":\"The lighthouse\"}}}}]}}\n\ndata: {{\"choices\":[{{\"delta\":")
            .into_boxed_str(),
    );
    let events = collect(&endpoint(answering(body).await, ApiKind::Openai)).await;
    assert_eq!(events[0], ReplyEvent::Text("The lighthouse".into()));
    let ReplyEvent::Failed(e) = &events[1] else { panic!("{events:?}") };
    assert_eq!(e.code, ErrorCode::RemoteCut);
    assert!(e.message.starts_with("The connection to GPU box broke off in the middle of the reply."), "{}", e.message);
}

#[tokio::test]
async fn an_anthropic_stream_cut_before_message_stop_is_cut() {
    let body = concat!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
    );
    let events = collect(&endpoint(answering(body).await, ApiKind::Anthropic)).await;
    assert_eq!(events[0], ReplyEvent::Text("Hi".into()));
    assert!(matches!(&events[1], ReplyEvent::Failed(e) if e.code == ErrorCode::RemoteCut), "{events:?}");
}

#[tokio::test]
async fn error_statuses_become_their_sentences() {
    let unauthorized = "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 37\r\n\r\n{\"error\":{\"message\":\"Invalid key.\"}}\n";
    let e = endpoint(answering(unauthorized).await, ApiKind::Openai).models().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::RemoteRefused);
    assert_eq!(e.message, "GPU box refused the key (HTTP 401). Check the key in Settings → Connections.");
    assert_eq!(e.details.as_deref(), Some("Invalid key."));

    let missing = "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 54\r\n\r\n{\"error\":{\"message\":\"The model `m` does not exist.\"}}\n";
    let e = endpoint(answering(missing).await, ApiKind::Openai).chat("m", &hello(), &SamplingParams::default()).await.err().unwrap();
    assert_eq!(e.code, ErrorCode::RemoteModelGone);
    assert_eq!(e.message, "GPU box does not serve “m” any more. Pick another of its models.");

    let broken = "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 13\r\n\r\nout of memory";
    let e = endpoint(answering(broken).await, ApiKind::Openai).chat("m", &hello(), &SamplingParams::default()).await.err().unwrap();
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::BadResponse, "GPU box answered HTTP 500: out of memory"));

    let not_the_api = "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 15\r\n\r\n<html>hi</html>";
    let e = endpoint(answering(not_the_api).await, ApiKind::Openai).models().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::BadResponse);
}

#[tokio::test]
async fn a_machine_that_is_off_is_unreachable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = endpoint(format!("http://127.0.0.1:{port}"), ApiKind::Openai).models().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::RemoteUnreachable);
    assert_eq!(e.message, format!("GPU box did not answer at http://127.0.0.1:{port}. Is its server running, and is the address right?"));
}

#[tokio::test]
async fn an_endpoint_that_streams_one_endless_event_is_cut_off_not_followed() {
    let endless: &'static str = Box::leak(format!("{SSE_HEAD}data: {}", "x".repeat(2 << 20)).into_boxed_str());
    let events = collect(&endpoint(answering(endless).await, ApiKind::Openai)).await;
    let [ReplyEvent::Failed(e)] = &events[..] else { panic!("{events:?}") };
    assert_eq!(e.code, ErrorCode::BadResponse);
    assert_eq!(e.message, "GPU box sent part of the reply in a form Hearth cannot read.");
    assert_eq!(e.details.as_deref(), Some("an event longer than 1024 KiB"));
}

/// A server on its own port that lists one model, keeping every request it was sent.
async fn recording() -> (String, std::sync::Arc<std::sync::Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buf)).await {
                keep.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let body = r#"{"data":[{"id":"m"}]}"#;
            let answer = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    (format!("http://{addr}"), seen)
}

/// A server that redirects every request to `to` (then closes the connection).
async fn redirecting(to: String) -> String {
    let answer: &'static str =
        Box::leak(format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").into_boxed_str());
    answering(answer).await
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_with_the_key() {
    for kind in [ApiKind::Openai, ApiKind::Anthropic] {
        let (elsewhere, seen) = recording().await;
        let base = redirecting(format!("{elsewhere}/v1/models")).await;
        let e = endpoint(base, kind).models().await.expect_err("not followed");
        assert_eq!(e.code, ErrorCode::RemoteUnreachable, "{e:?}");
        assert!(e.message.contains("another address (HTTP 307, to http://127.0.0.1:"), "{}", e.message);
        assert!(seen.lock().unwrap().is_empty(), "the other origin was sent: {}", seen.lock().unwrap());
    }
}

#[tokio::test]
async fn a_redirect_within_the_same_origin_is_followed() {
    // The same server redirects /v1/models to /v2/models on itself: the recording server answers
    // every path, so the first request is made to redirect by its path alone.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let answer = if request.starts_with("GET /v1/models") {
                format!("HTTP/1.1 308 Permanent Redirect\r\nlocation: http://{addr}/v2/models\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            } else {
                let body = r#"{"data":[{"id":"m"}]}"#;
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
            };
            keep.lock().unwrap().push(request);
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    let models = endpoint(format!("http://{addr}"), ApiKind::Anthropic).models().await.expect("followed");
    assert_eq!(models, ["m"]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[1].starts_with("GET /v2/models") && seen[1].to_lowercase().contains("x-api-key: sk-test"), "{seen:?}");
}
