//! The Hub client and the download manager against the mock Hub (a real HTTP server on 127.0.0.1,
//! with a second address as the CDN), with every fault the Hub and the network can throw.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hub::download::{self, Job, Options};
use hub::{HubClient, HubError, Sort};
use mockhub::{File, MockHub, Repo};
use tokio_util::sync::CancellationToken;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hearth-hub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Deterministic bytes that are not all zeros, so a misplaced range changes the sha256.
fn payload(len: usize) -> Vec<u8> {
    let mut x = 0x2545f4914f6cdd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn hub_with(files: Vec<File>) -> (MockHub, HubClient) {
    let mut repo = Repo::new("bartowski/Tiny-GGUF");
    repo.downloads = 5000;
    repo.files = files;
    let mut other = Repo::new("someone/qwen-tiny-GGUF");
    other.downloads = 10;
    let mock = MockHub::start(vec![repo, other]).await.unwrap();
    let client = HubClient::new(&mock.base, None).unwrap();
    (mock, client)
}

fn opts() -> Options {
    Options { segment: 256 << 10, stall: Duration::from_millis(700), backoff: Duration::from_millis(20), ..Options::default() }
}

async fn fetch(mock: &MockHub, client: &HubClient, dir: &std::path::Path, name: &str) -> (hub::Result<()>, PathBuf) {
    let info = client.model_info("bartowski/Tiny-GGUF", None).await.unwrap();
    let sib = info.siblings.iter().find(|s| s.rfilename == name).unwrap();
    let dest = hub::model_file_path(dir, "bartowski/Tiny-GGUF", &sib.rfilename).unwrap();
    let job = Job {
        url: client.resolve_url("bartowski/Tiny-GGUF", "main", name),
        dest: dest.clone(),
        size: sib.bytes().unwrap(),
        sha256: sib.sha256().map(str::to_string),
    };
    let _ = mock;
    (download::download(client, &job, &opts(), &CancellationToken::new(), |_| {}).await, dest)
}

fn sha(path: &std::path::Path) -> String {
    download::sha256_file(path).unwrap()
}

#[tokio::test]
async fn search_sorts_and_pages_through_the_link_header() {
    let repos: Vec<Repo> = (0..5)
        .map(|i| {
            let mut r = Repo::new(&format!("org{i}/Qwen-{i}-GGUF"));
            r.downloads = i * 100;
            r
        })
        .collect();
    let mock = MockHub::start(repos).await.unwrap();
    let client = HubClient::new(&mock.base, None).unwrap();
    let page = client.search("qwen", Sort::Downloads, 2).await.unwrap();
    assert_eq!(page.models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["org4/Qwen-4-GGUF", "org3/Qwen-3-GGUF"]);
    assert_eq!(page.models[0].author(), "org4");
    let next = client.search_page(page.next.as_deref().unwrap()).await.unwrap();
    assert_eq!(next.models[0].id, "org2/Qwen-2-GGUF");
    let last = client.search_page(next.next.as_deref().unwrap()).await.unwrap();
    assert_eq!(last.models.len(), 1);
    assert!(last.next.is_none());
}

#[tokio::test]
async fn model_info_has_sizes_and_hashes_and_missing_repos_are_named() {
    let (_mock, client) = hub_with(vec![File::bytes("tiny.Q4_K_M.gguf", payload(1000))]).await;
    let info = client.model_info("bartowski/Tiny-GGUF", None).await.unwrap();
    let f = info.gguf_files().next().unwrap();
    assert_eq!(f.bytes(), Some(1000));
    assert_eq!(f.sha256().unwrap().len(), 64);
    let err = client.model_info("nobody/nothing", None).await.unwrap_err();
    assert!(matches!(err, HubError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("nobody/nothing was not found"));
    let card = client.model_card("bartowski/Tiny-GGUF", "main").await.unwrap();
    assert!(card.starts_with("# bartowski/Tiny-GGUF"));
}

#[tokio::test]
async fn a_remote_header_is_read_without_the_weights() {
    let dir = temp("remote");
    let path = dir.join("big.gguf");
    let total = gguf::synthetic::model(&gguf::synthetic::llama3_8b(), gguf::synthetic::Quant::Q4KM, true).write_sparse(&path).unwrap();
    let (mock, client) = hub_with(vec![File::disk("Llama-8B-Q4_K_M.gguf", path, &"0".repeat(64)).unwrap()]).await;
    let facts = hub::remote_facts(&client, "bartowski/Tiny-GGUF", "main", "Llama-8B-Q4_K_M.gguf").await.unwrap();
    assert_eq!(facts.layer_count, 32);
    assert_eq!(facts.vocab_size, Some(128256));
    let served = mock.bytes_served("Llama-8B-Q4_K_M.gguf");
    assert!(served < 8 << 20, "fetched {served} bytes of a {total} byte file");
}

#[tokio::test]
async fn a_clean_download_lands_verified_with_no_leftovers() {
    let data = payload(3 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    let dir = temp("clean");
    let (r, dest) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    r.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!download::part_path(&dest).exists());
    assert_eq!(mock.bytes_served("tiny.gguf"), data.len() as u64, "every byte fetched once");
}

/// A damaged or hand-edited state (more segments than the file has) is ignored, not trusted: it
/// used to index past the segment list.
#[tokio::test]
async fn a_damaged_state_file_is_ignored_and_the_download_starts_over() {
    let data = payload(1 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    let dir = temp("damaged-state");
    let dest = hub::model_file_path(&dir, "bartowski/Tiny-GGUF", "tiny.gguf").unwrap();
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(download::part_path(&dest), vec![7u8; data.len()]).unwrap();
    let state = serde_json::json!({
        "size": data.len(), "sha256": File::bytes("x", data.clone()).sha256, "segment": 256 << 10,
        "done": "1111111111", "partial": {"9": 5}, "boot": null, "synced": null,
    });
    std::fs::write(format!("{}.part.state", dest.display()), state.to_string()).unwrap();
    let (r, dest) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    r.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[tokio::test]
async fn dropped_connections_resume_from_the_bytes_on_disk() {
    let data = payload(3 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    let f = mock.faults();
    f.drop_after_bytes.store(1 << 20, Ordering::SeqCst);
    f.drop_times.store(2, Ordering::SeqCst);
    let dir = temp("drop");
    let job = Job {
        url: client.resolve_url("bartowski/Tiny-GGUF", "main", "tiny.gguf"),
        dest: dir.join("tiny.gguf"),
        size: data.len() as u64,
        sha256: Some(File::bytes("x", data.clone()).sha256),
    };
    // One connection, one segment: a restart would fetch the first megabytes again.
    let one = Options { connections: 1, segment: 4 << 20, ..opts() };
    download::download(&client, &job, &one, &CancellationToken::new(), |_| {}).await.unwrap();
    assert_eq!(sha(&job.dest), job.sha256.clone().unwrap());
    // Resumed from the byte it reached: two drops cost only what was in flight when they hit.
    let served = mock.bytes_served("tiny.gguf");
    assert!(served < data.len() as u64 + (512 << 10), "served {served} for {} bytes: restarted", data.len());
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried() {
    let data = payload(1 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    mock.faults().fail_500.store(3, Ordering::SeqCst);
    mock.faults().rate_limit.store(1, Ordering::SeqCst);
    let dir = temp("500");
    let (r, dest) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    r.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[tokio::test]
async fn a_stalled_connection_is_dropped_and_resumed() {
    let data = payload(1 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    mock.faults().stall_ms.store(5_000, Ordering::SeqCst);
    mock.faults().stall_times.store(1, Ordering::SeqCst);
    let dir = temp("stall");
    let started = std::time::Instant::now();
    let (r, dest) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    r.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "waited out the stall instead of dropping it");
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[tokio::test]
async fn a_throttled_cdn_is_read_over_several_connections() {
    let data = payload(2 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    mock.faults().throttle_bps.store(4 << 20, Ordering::SeqCst);
    let dir = temp("throttle");
    let (r, dest) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    r.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(mock.requests() >= 8, "one request per segment: {}", mock.requests());
}

#[tokio::test]
async fn a_wrong_sha256_deletes_the_file_and_says_so() {
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", payload(500_000))]).await;
    *mock.faults().wrong_sha.lock().unwrap() = Some("ab".repeat(32));
    let dir = temp("sha");
    let (r, dest) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    let err = r.unwrap_err();
    assert!(matches!(err, HubError::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains("it was deleted"));
    assert!(!dest.exists() && !download::part_path(&dest).exists());
}

#[tokio::test]
async fn a_gated_model_asks_for_access_and_a_token_opens_it() {
    let mut repo = Repo::new("meta-llama/Gated-GGUF");
    repo.gated = true;
    repo.files = vec![File::bytes("m.gguf", payload(10_000))];
    let mock = MockHub::start(vec![repo]).await.unwrap();
    let dir = temp("gated");
    let job = |client: &HubClient| Job {
        url: client.resolve_url("meta-llama/Gated-GGUF", "main", "m.gguf"),
        dest: dir.join("m.gguf"),
        size: 10_000,
        sha256: None,
    };
    let anonymous = HubClient::new(&mock.base, None).unwrap();
    let err = download::download(&anonymous, &job(&anonymous), &opts(), &CancellationToken::new(), |_| {}).await.unwrap_err();
    assert!(matches!(err, HubError::Gated(_)), "{err}");
    assert!(err.to_string().contains("request access on the model's page"));
    let with_token = HubClient::new(&mock.base, Some("hf_good_token".into())).unwrap();
    download::download(&with_token, &job(&with_token), &opts(), &CancellationToken::new(), |_| {}).await.unwrap();
    assert!(format!("{with_token:?}").contains('…') && !format!("{with_token:?}").contains("hf_good_token"));
}

#[tokio::test]
async fn a_path_that_leaves_the_models_folder_is_refused() {
    let (_mock, client) = hub_with(vec![File::bytes("../../evil.gguf", payload(10))]).await;
    let info = client.model_info("bartowski/Tiny-GGUF", None).await.unwrap();
    let err = hub::model_file_path(&temp("evil"), &info.id, &info.siblings[0].rfilename).unwrap_err();
    assert!(matches!(err, HubError::UnsafePath(_)));
}

#[tokio::test]
async fn a_disk_too_small_is_an_error_before_any_byte() {
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", payload(10))]).await;
    let dir = temp("full");
    let job =
        Job { url: client.resolve_url("bartowski/Tiny-GGUF", "main", "tiny.gguf"), dest: dir.join("t.gguf"), size: 1 << 60, sha256: None };
    let err = download::download(&client, &job, &opts(), &CancellationToken::new(), |_| {}).await.unwrap_err();
    assert!(matches!(err, HubError::DiskFull { .. }), "{err}");
    assert_eq!(mock.bytes_served("tiny.gguf"), 0);
}

#[tokio::test]
async fn a_paused_download_resumes_where_it_stopped() {
    let data = payload(4 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    mock.faults().throttle_bps.store(2 << 20, Ordering::SeqCst);
    let dir = temp("pause");
    let job = Job {
        url: client.resolve_url("bartowski/Tiny-GGUF", "main", "tiny.gguf"),
        dest: dir.join("tiny.gguf"),
        size: data.len() as u64,
        sha256: Some(File::bytes("x", data.clone()).sha256),
    };
    let cancel = CancellationToken::new();
    let progress = Arc::new(std::sync::Mutex::new(0u64));
    let (c2, p2) = (cancel.clone(), progress.clone());
    let r = download::download(&client, &job, &opts(), &cancel, move |p| {
        *p2.lock().unwrap() = p.done;
        if p.done > 1 << 20 {
            c2.cancel();
        }
    })
    .await;
    assert!(matches!(r, Err(HubError::Cancelled)));
    let kept = download::bytes_on_disk(&job, &opts());
    assert!(kept >= 256 << 10, "finished segments are kept: {kept}");
    mock.faults().throttle_bps.store(0, Ordering::SeqCst);
    download::download(&client, &job, &opts(), &CancellationToken::new(), |_| {}).await.unwrap();
    assert_eq!(std::fs::read(&job.dest).unwrap(), data);
    assert!(mock.bytes_served("tiny.gguf") < data.len() as u64 + (2 << 20), "restarted from zero");
}

/// Regression: progress inside a segment was not recorded, so a process killed before its
/// connections finished a 32 MiB segment each restarted the whole file (seen killing the app at 16 %
/// of the 98 MB test model: it came back at 1 %). The state read just before the cancel is what a
/// kill would leave, and the checkpoints must already hold the bytes. (Linux: elsewhere the boot
/// cannot be told, so only fsynced bytes, every 5 s, are trusted.)
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_killed_download_resumes_inside_its_segments_from_the_last_checkpoint() {
    let (mock, client, job, big, data, killed) = cancelled_midway("checkpoint").await;
    // 2.5 s at 1 MiB/s on each of two connections, checkpointed every 250 ms: well over 3 MiB.
    assert!(killed.recorded >= 3 << 20, "all but the last moments of each connection are checkpointed: {}", killed.recorded);
    // The cancel (a pause) then records everything received, so nothing is fetched twice.
    let kept = download::bytes_on_disk(&job, &big);
    assert!(kept + (256 << 10) >= killed.received && kept < data.len() as u64, "kept {kept} of {} received", killed.received);
    let served_before = mock.bytes_served("tiny.gguf");
    download::download(&client, &job, &big, &CancellationToken::new(), |_| {}).await.unwrap();
    assert_eq!(std::fs::read(&job.dest).unwrap(), data);
    let resumed = mock.bytes_served("tiny.gguf") - served_before;
    assert!(resumed <= data.len() as u64 - kept, "the resume fetched {resumed} bytes, {kept} were on disk");
}

/// Bytes are recorded as written, not synced (a killed app loses nothing the kernel holds), and the
/// part file is fsynced only now and then (here every 1.5 s). After a reboot the unsynced bytes may
/// be gone: only the claims of the last fsync count, and the download still ends with the right bytes.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn after_a_reboot_only_synced_bytes_are_trusted() {
    let (mock, client, job, big, data, _) = cancelled_midway("reboot").await;
    let written = download::bytes_on_disk(&job, &big);
    // The machine "rebooted": the state names another boot, and every byte the last fsync did not
    // cover is zero again.
    let state = std::path::PathBuf::from(format!("{}.part.state", job.dest.display()));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    v["boot"] = "an earlier boot".into();
    std::fs::write(&state, serde_json::to_vec(&v).unwrap()).unwrap();
    let synced = download::bytes_on_disk(&job, &big);
    assert!(synced > 0 && synced < written, "synced {synced} of {written} written bytes");
    let mut part = std::fs::read(download::part_path(&job.dest)).unwrap();
    let segment = big.segment as usize;
    for (i, seg) in part.chunks_mut(segment).enumerate() {
        let kept = if v["synced"]["done"].as_str().unwrap().as_bytes()[i] == b'1' {
            segment
        } else {
            v["synced"]["partial"][i.to_string()].as_u64().unwrap_or(0) as usize
        };
        let from = kept.min(seg.len());
        seg[from..].fill(0);
    }
    std::fs::write(download::part_path(&job.dest), part).unwrap();
    let served_before = mock.bytes_served("tiny.gguf");
    download::download(&client, &job, &big, &CancellationToken::new(), |_| {}).await.unwrap();
    assert_eq!(std::fs::read(&job.dest).unwrap(), data);
    assert!(mock.bytes_served("tiny.gguf") - served_before <= data.len() as u64 - synced);
}

/// A 6 MiB file on two throttled connections, cancelled after 2.5 s (as a kill would leave it).
#[cfg(target_os = "linux")]
/// Also returns what was recorded at the moment of the cancel (what a kill then would have left),
/// and the bytes the download had received by then.
async fn cancelled_midway(name: &str) -> (MockHub, HubClient, Job, Options, Vec<u8>, Killed) {
    let data = payload(6 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    mock.faults().throttle_bps.store(1 << 20, Ordering::SeqCst);
    let dir = temp(name);
    let job = Job {
        url: client.resolve_url("bartowski/Tiny-GGUF", "main", "tiny.gguf"),
        dest: dir.join("tiny.gguf"),
        size: data.len() as u64,
        sha256: Some(File::bytes("x", data.clone()).sha256),
    };
    // Two segments of 3 MiB on two connections: at 1 MiB/s each, none finishes in the first 2.5 s.
    let big = Options { connections: 2, segment: 3 << 20, sync_every: Duration::from_millis(1500), ..opts() };
    let cancel = CancellationToken::new();
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let killed = Arc::new(std::sync::Mutex::new(None));
    let (c2, job2, big2, received2, killed2) = (cancel.clone(), job.clone(), big.clone(), received.clone(), killed.clone());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        *killed2.lock().unwrap() = Some(download::bytes_on_disk(&job2, &big2));
        c2.cancel();
        received2.load(Ordering::SeqCst)
    });
    let seen = received.clone();
    let r = download::download(&client, &job, &big, &cancel, move |p| seen.store(p.done, Ordering::SeqCst)).await;
    assert!(matches!(r, Err(HubError::Cancelled)), "{r:?}");
    mock.faults().throttle_bps.store(0, Ordering::SeqCst);
    let at_kill = killed.lock().unwrap().unwrap();
    (mock, client, job, big, data, Killed { recorded: at_kill, received: received.load(Ordering::SeqCst) })
}

#[cfg(target_os = "linux")]
struct Killed {
    recorded: u64,
    received: u64,
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn the_real_test_model_downloads_with_its_published_sha256() {
    let model = testkit::test_model();
    let published = testkit::TEST_MODEL_SHA256;
    let (mock, client) = hub_with(vec![File::disk("SmolLM2-135M-Instruct.Q4_1.gguf", model, published).unwrap()]).await;
    mock.faults().drop_after_bytes.store(5 << 20, Ordering::SeqCst);
    mock.faults().drop_times.store(2, Ordering::SeqCst);
    let out = temp("real");
    let (r, dest) = fetch(&mock, &client, &out, "SmolLM2-135M-Instruct.Q4_1.gguf").await;
    r.unwrap();
    assert_eq!(sha(&dest), published);
    let facts = gguf::read_file(&dest).unwrap();
    assert_eq!(facts.architecture, "llama");
    let _ = std::fs::remove_dir_all(&out);
}

/// A bare HTTP server on 127.0.0.1, for what the mock Hub will not do: send a redirect to a server of
/// the test's choosing, ignore Range, answer more than it should. Every request gets `respond(its
/// head)` (the whole answer's head, blank line included, and any short body), then, when `body` is
/// given, up to `cap` bytes of that file; then the connection closes.
struct Raw {
    base: String,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
    /// Bytes of `body` written to the sockets.
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Raw {
    async fn start(respond: impl Fn(&str) -> String + Send + Sync + 'static, body: Option<(PathBuf, u64)>) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let respond = Arc::new(respond);
        let (requests2, sent2) = (requests.clone(), sent.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (respond, body, requests, sent) = (respond.clone(), body.clone(), requests2.clone(), sent2.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    requests.lock().unwrap().push(head.clone());
                    if sock.write_all(respond(&head).as_bytes()).await.is_err() {
                        return;
                    }
                    if let Some((path, cap)) = body {
                        let mut file = tokio::fs::File::open(&path).await.unwrap();
                        let mut chunk = vec![0u8; 64 << 10];
                        let mut total = 0u64;
                        while total < cap {
                            let n = file.read(&mut chunk).await.unwrap().min((cap - total) as usize);
                            if n == 0 || sock.write_all(&chunk[..n]).await.is_err() {
                                break;
                            }
                            total += n as u64;
                            sent.fetch_add(n as u64, Ordering::SeqCst);
                        }
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { base, requests, sent }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn authorization(request_head: &str) -> Option<String> {
    request_head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.trim().into()))
}

/// Issue 13: the token goes with a request to the Hub, and with a redirect on the Hub's origin,
/// never with a redirect elsewhere (here the same host on another port: a text comparison of hosts
/// would have let it through).
#[tokio::test]
async fn a_redirect_keeps_the_token_on_its_origin_only() {
    let elsewhere = Raw::start(|_| "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]".into(), None).await;
    let target = elsewhere.base.clone();
    let hub = Raw::start(
        move |head| {
            let to = if head.starts_with("GET /first") { "/second".to_string() } else { format!("{target}/api/models?third") };
            format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
        },
        None,
    )
    .await;
    let client = HubClient::new(&hub.base, Some("hf_secret_token".into())).unwrap();
    let page = client.search_page(&format!("{}/first", hub.base)).await.unwrap();
    assert!(page.models.is_empty());
    let on_hub = hub.requests();
    assert_eq!(on_hub.len(), 2);
    assert!(on_hub.iter().all(|r| authorization(r).as_deref() == Some("Bearer hf_secret_token")), "{on_hub:?}");
    let off_hub = elsewhere.requests();
    assert_eq!(off_hub.len(), 1);
    assert_eq!(authorization(&off_hub[0]), None, "the token followed the redirect: {off_hub:?}");
}

/// Issue 13: the next-page command takes a URL from the window; only one on the Hub's origin is
/// fetched. `http://HUB@OTHER/` is OTHER (HUB is a user name and password), which a text prefix took
/// for the Hub.
#[tokio::test]
async fn a_next_page_off_the_hub_is_refused_before_any_request() {
    let (mock, _) = hub_with(vec![]).await;
    let client = HubClient::new(&mock.base, Some("hf_secret_token".into())).unwrap();
    let other = Raw::start(|_| "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]".into(), None).await;
    let hub_authority = mock.base.trim_start_matches("http://");
    let other_authority = other.base.trim_start_matches("http://");
    for url in [
        format!("http://{hub_authority}@{other_authority}/api/models?cursor=2"),
        format!("{}/api/models?cursor=2", other.base),
        format!("https://{hub_authority}/api/models?cursor=2"),
        "file:///etc/passwd".to_string(),
    ] {
        let err = client.search_page(&url).await.unwrap_err();
        assert!(matches!(err, HubError::ForeignUrl(_)), "{url}: {err}");
    }
    assert!(other.requests().is_empty(), "fetched: {:?}", other.requests());
}

#[tokio::test]
async fn a_hub_off_this_machine_over_plain_http_is_refused() {
    let client = HubClient::new("http://hub.example.invalid", Some("hf_secret_token".into())).unwrap();
    let err = client.model_info("org/m", None).await.unwrap_err();
    assert!(matches!(err, HubError::InsecureEndpoint(_)), "{err}");
    assert_eq!(types::HearthError::from(err).code, types::ErrorCode::InvalidInput);
}

/// Issue 13: Hub answers read whole into memory are size-limited: a model card, JSON with its length
/// declared, JSON that just keeps coming.
#[tokio::test]
async fn an_oversize_hub_answer_is_refused() {
    let mut repo = Repo::new("bartowski/Tiny-GGUF");
    repo.card = "x".repeat(hub::MAX_CARD_BYTES as usize + 1);
    let mock = MockHub::start(vec![repo]).await.unwrap();
    let client = HubClient::new(&mock.base, None).unwrap();
    let err = client.model_card("bartowski/Tiny-GGUF", "main").await.unwrap_err();
    assert!(matches!(err, HubError::TooLarge { .. }), "{err}");
    assert_eq!(types::HearthError::from(err).code, types::ErrorCode::BadResponse);

    let declared =
        Raw::start(|_| "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n".into(), None).await;
    let err = HubClient::new(&declared.base, None).unwrap().model_info("org/m", None).await.unwrap_err();
    assert!(matches!(err, HubError::TooLarge { .. }), "{err}");

    let dir = temp("oversize");
    let endless = dir.join("endless.json");
    std::fs::File::create(&endless).unwrap().set_len(4 * hub::MAX_JSON_BYTES).unwrap();
    let streamed =
        Raw::start(|_| "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n".into(), Some((endless, 4 * hub::MAX_JSON_BYTES))).await;
    let err = HubClient::new(&streamed.base, None).unwrap().model_info("org/m", None).await.unwrap_err();
    assert!(matches!(err, HubError::TooLarge { .. }), "{err}");
    assert!(streamed.sent.load(Ordering::SeqCst) < 2 * hub::MAX_JSON_BYTES, "read on past the limit");
}

/// Issue 13: a server that ignores Range answers a header request with the whole file; only the
/// bytes asked for are read (the body was read whole: a 40 GB model into memory).
#[tokio::test]
async fn a_server_that_ignores_range_is_read_only_as_far_as_the_header() {
    let dir = temp("no-range");
    let path = dir.join("big.gguf");
    let total = gguf::synthetic::model(&gguf::synthetic::llama3_8b(), gguf::synthetic::Quant::Q4KM, true).write_sparse(&path).unwrap();
    // Each answer claims the whole file and stops after 128 MiB: reading to the end fails.
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
    let server = Raw::start(move |_| head.clone(), Some((path, 128 << 20))).await;
    let client = HubClient::new(&server.base, None).unwrap();
    let facts = hub::remote_facts(&client, "bartowski/Tiny-GGUF", "main", "big.gguf").await.unwrap();
    assert_eq!(facts.layer_count, 32);
    let requests = server.requests().len() as u64;
    assert!(requests >= 1 && requests < 20, "{requests} requests");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 8: a file of the right size already in place was accepted unread. It is hashed, and one
/// with other bytes is downloaded again (and one with the right bytes is not).
#[tokio::test]
async fn a_file_of_the_right_size_with_the_wrong_bytes_is_downloaded_again() {
    let data = payload(1 << 20);
    let (mock, client) = hub_with(vec![File::bytes("tiny.gguf", data.clone())]).await;
    let dir = temp("right-size");
    let dest = hub::model_file_path(&dir, "bartowski/Tiny-GGUF", "tiny.gguf").unwrap();
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, vec![0u8; data.len()]).unwrap();
    let (r, dest) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    r.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data, "the wrong file was accepted");
    assert_eq!(mock.bytes_served("tiny.gguf"), data.len() as u64);
    let (r, _) = fetch(&mock, &client, &dir, "tiny.gguf").await;
    r.unwrap();
    assert_eq!(mock.bytes_served("tiny.gguf"), data.len() as u64, "the right file is kept, not fetched again");
}
