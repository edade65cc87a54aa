//! The server over the real engine with the real test model (SmolLM2-135M through the worker
//! process): the official `openai` Python client against it (chat, and the Responses API with
//! the Agents SDK across a restart); many streaming clients at once with
//! a small queue (every request completes or gets a clean 429, memory comes back); a client that
//! leaves mid-stream stops the engine within a second; the idle TTL unloads the worker; requests
//! beyond the slots wait and beyond the queue get 429; eight clients at once all complete.
//! One model at a time: the tests take `ONE`.

#[path = "support/load.rs"]
mod load;
#[path = "support/real.rs"]
mod real;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use real::WorkerCommand;
use serde_json::{json, Value};
use server::{serve, Backend, EngineBackend, RunningServer, ServerConfig};

// One model at a time on a 2-core machine: llama.cpp's threads spin while they wait.
static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn worker() -> WorkerCommand {
    WorkerCommand { program: env!("CARGO_BIN_EXE_server-test-worker").into(), args: Vec::new() }
}

async fn start(config: ServerConfig) -> (RunningServer, Arc<EngineBackend>, String, String) {
    let model = real::model();
    let backend = real::backend(worker(), &model);
    let server = serve(ServerConfig { port: 0, ..config }, backend.clone()).await.unwrap();
    let base = format!("http://{}", server.addr());
    (server, backend, base, real::model_id(&model))
}

/// The venv's python (tests/setup/python-venv.sh makes it): a test that calls this carries the
/// `hearth_missing_venv` ignore (testkit).
fn venv_python() -> std::path::PathBuf {
    testkit::venv_python()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_venv, ignore = "needs the Python venv with the official clients: make test-model")]
async fn the_official_openai_client_works_against_the_real_model() {
    let python = venv_python();
    let _one = ONE.lock().await;
    let config = ServerConfig { api_key: Some("sk-hearth-test".into()), ..Default::default() };
    let (server, backend, base, model) = start(config).await;
    // Beside the test model, its copy with a pooling named in the file, for the embeddings.
    let path = real::model();
    let pooled = std::env::temp_dir().join(format!("SmolLM2-pooled-openai-{}.gguf", std::process::id()));
    let edit = gguf::write::Edit { set: gguf::write::GgufWriter::new("llama").u32("llama.pooling_type", 1), ..Default::default() };
    gguf::write::rewrite(&path, &pooled, &edit).unwrap();
    backend.set_models(vec![server::ModelEntry::from_path(&path), server::ModelEntry::from_path(&pooled)]);
    let pooled_id = real::model_id(&pooled);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_client.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).arg(format!("{base}/v1")).arg(&model).arg("sk-hearth-test").arg(&pooled_id).output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the openai client failed:\n{stdout}\n{stderr}");
    let _ = std::fs::remove_file(&pooled);
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("openai client saw: {seen:#}");
    assert!(!seen["chat"]["text"].as_str().unwrap().is_empty());
    assert_eq!(seen["wrong_key"]["status"], 401);
    assert_eq!(seen["unknown_model"]["status"], 404);
    assert!(seen["json_schema"]["value"]["coastal"].is_boolean(), "{seen}");
    assert_eq!(seen["bad_schema"]["status"], 400);
    let m = server.metrics();
    assert!(m.completed >= 4, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn concurrent_streams_complete_or_get_a_clean_429_and_memory_comes_back() {
    let _one = ONE.lock().await;
    let config = ServerConfig { queue_limit: 2, ..Default::default() };
    let (server, backend, base, model) = start(config).await;
    // Warm up: load the model, so the figures after are comparable to these.
    let warm = load::run(&base, &model, 1, 2, 8).await;
    assert_eq!(warm.completed, 2, "{:?}", warm.other);
    let pid = backend.worker_pid().unwrap();
    let before = load::rss_kib(pid).unwrap();
    let f = load::run(&base, &model, 4, 3, 12).await;
    assert!(f.other.is_empty(), "requests that neither completed nor got a clean 429: {:?}", f.other);
    assert_eq!(f.completed + f.busy, 12);
    assert!(f.completed >= 3, "{f:?}");
    assert_eq!(backend.worker_pid(), Some(pid), "the worker survived");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = load::rss_kib(pid).unwrap();
    eprintln!(
        "4 clients x 3: {} completed, {} busy, {:.2} req/s, {:.1} tokens/s, TTFT p50 {:.0} ms p95 {:.0} ms, worker RSS {} -> {} MiB",
        f.completed,
        f.busy,
        f.requests_per_s(),
        f.tokens_per_s(),
        f.ttft_percentile(0.5),
        f.ttft_percentile(0.95),
        before / 1024,
        after / 1024
    );
    assert!(after <= before + 32 * 1024, "worker memory grew from {before} KiB to {after} KiB");
    let m = server.metrics();
    assert_eq!(m.rejected_busy, f.busy as u64);
    assert_eq!(m.errors, 0, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_client_that_leaves_mid_stream_stops_the_engine_within_a_second() {
    let _one = ONE.lock().await;
    let (server, backend, base, model) = start(ServerConfig::default()).await;
    let mut logs = server.logs();
    let client = reqwest::Client::new();
    // Counting goes on for as long as it is allowed to.
    let body = json!({"model": model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 3000, "temperature": 0, "stream": true});
    let mut r = client.post(format!("{base}/v1/completions")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut chunks = 0;
    while chunks < 8 {
        let bytes = r.chunk().await.unwrap().expect("the stream ended early");
        chunks += String::from_utf8_lossy(&bytes).matches("data: ").count();
    }
    let pid = backend.worker_pid().unwrap();
    drop(r);
    let left = Instant::now();

    // The server's side: the reply's log entry says the client left.
    let entry = loop {
        let e = tokio::time::timeout(Duration::from_secs(2), logs.recv()).await.expect("no log entry").unwrap();
        if e.path == "/v1/completions" {
            break e;
        }
    };
    assert_eq!(entry.finish_reason.as_deref(), Some("cancelled"), "{entry:?}");
    assert!(entry.completion_tokens.unwrap() < 100, "{entry:?}");

    // The engine's side: the worker stops using the CPU. Decoding keeps both cores busy, so a
    // 100 ms window with under 20 ms of CPU time means it no longer decodes.
    // The stop time is the start of the first idle window.
    let stopped = loop {
        let (at, t0) = (left.elapsed(), load::cpu_ticks(pid).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let used_ms = (load::cpu_ticks(pid).unwrap() - t0) * 10;
        if used_ms <= 20 {
            break at;
        }
        assert!(left.elapsed() < Duration::from_secs(3), "the worker still decodes {:?} after the client left", left.elapsed());
    };
    eprintln!("the client left; the worker was idle from {stopped:?} on (100 ms windows); log: {entry:?}");
    assert!(stopped < Duration::from_secs(1), "the engine went on for {stopped:?}");

    // And the next request is answered at once, not after the abandoned one's 3000 tokens.
    let t = Instant::now();
    let next = json!({"model": model, "prompt": "Hello", "max_tokens": 4, "temperature": 0});
    let r = client.post(format!("{base}/v1/completions")).json(&next).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(2), "the next request waited {:?}", t.elapsed());
    assert_eq!(server.metrics().cancelled, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn an_idle_model_is_unloaded_after_the_ttl_and_reloaded_on_demand() {
    let _one = ONE.lock().await;
    let config = ServerConfig { idle_ttl: Duration::from_millis(600), ..Default::default() };
    let (_server, backend, base, model) = start(config).await;
    let client = reqwest::Client::new();
    let body = json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4});
    assert_eq!(client.post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap().status(), 200);
    assert_eq!(backend.loaded().as_deref(), Some(model.as_str()));
    let pid = backend.worker_pid().unwrap();
    let t = Instant::now();
    // Unloading ends the worker, which gives all its memory back.
    while real::any_loaded(&backend) || load::rss_kib(pid).is_some() {
        assert!(t.elapsed() < Duration::from_secs(5), "still loaded long after the TTL");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(t.elapsed() >= Duration::from_millis(400), "unloaded before the TTL: {:?}", t.elapsed());
    assert!(backend.worker_pid().is_none());
    assert!(backend.loaded().is_none());
    assert_eq!(client.post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap().status(), 200);
    assert!(real::any_loaded(&backend), "a request loads it again");
}

/// The official `anthropic` client against the same server: Messages, streamed and not,
/// stop sequences, count_tokens, forced tool use and a tool result, errors in Anthropic's shape;
/// the key sent as `x-api-key`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_venv, ignore = "needs the Python venv with the official clients: make test-model")]
async fn the_official_anthropic_client_works_against_the_real_model() {
    let python = venv_python();
    let _one = ONE.lock().await;
    let config = ServerConfig { api_key: Some("sk-hearth-test".into()), ..Default::default() };
    let (server, _backend, base, model) = start(config).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/anthropic_client.py");
    let out = tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(&base).arg(&model).arg("sk-hearth-test").output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the anthropic client failed:\n{stdout}\n{stderr}");
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("anthropic client saw: {seen:#}");
    assert_eq!(seen["errors"].as_array().map(Vec::len), Some(3), "{seen}");
    server.stop().await;
}

/// Pictures from the official clients (issue 29; vision_clients.py says what it checks): the test
/// model linked into a folder of its own with a synthetic Gemma 3 projector beside it
/// (`gguf::synthetic::tiny_gemma3_projector`), which the runtime pairs and loads with it, and the
/// test model where it is, without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_venv, ignore = "needs the Python venv with the official clients: make test-model")]
async fn the_official_clients_send_a_picture_and_a_text_model_refuses_it() {
    let python = venv_python();
    let _one = ONE.lock().await;
    let (server, backend, base, text_only) = start(ServerConfig::default()).await;
    let dir = std::env::temp_dir().join(format!("hearth-vision-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vision = dir.join("SmolLM2-vision-Q4_1.gguf");
    let _ = std::fs::remove_file(&vision);
    std::os::unix::fs::symlink(real::model(), &vision).unwrap();
    std::fs::write(dir.join("mmproj-F16.gguf"), gguf::synthetic::projector(&gguf::synthetic::tiny_gemma3_projector(576)).to_bytes()).unwrap();
    backend.set_models(vec![server::ModelEntry::from_path(&real::model()), server::ModelEntry::from_path(&vision)]);
    let vision_id = real::model_id(&vision);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vision_clients.py");
    let out = tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(&base).arg(&vision_id).arg(&text_only).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the clients failed:\n{stdout}\n{stderr}");
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("the clients saw: {seen:#}");
    assert_eq!(seen["errors"].as_array().map(Vec::len), Some(4), "{seen}");
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// OpenAI's Responses API and the Agents SDK over the real model (issue 31; responses_client.py
/// says what it checks), with the stored responses in a database that outlives a restart: the
/// conversation kept before it goes on after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_venv, ignore = "needs the Python venv with the official clients: make test-model")]
async fn the_responses_api_serves_the_openai_client_and_an_agent_across_a_restart() {
    let python = venv_python();
    let _one = ONE.lock().await;
    let dir = std::env::temp_dir().join(format!("hearth-responses-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = ServerConfig { api_key: Some("sk-hearth-test".into()), responses_db: Some(dir.join("hearth.sqlite3")), ..Default::default() };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/responses_client.py");
    let run = |base: String, model: String, phase: Vec<String>| {
        let python = python.clone();
        tokio::task::spawn_blocking(move || {
            let out = Command::new(python).arg(script).arg(format!("{base}/v1")).arg(model).arg("sk-hearth-test").args(phase).output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(out.status.success(), "the client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_str::<Value>(stdout.trim()).unwrap()
        })
    };
    let (server, _backend, base, model) = start(config.clone()).await;
    let seen = run(base, model, vec!["first".into()]).await.unwrap();
    eprintln!("before the restart: {seen:#}");
    assert_eq!(seen["errors"], json!({"unknown": 404, "hosted_tool": 400}), "{seen}");
    assert!(seen["agent"]["final_output"].as_str().unwrap().starts_with("18 C and sunny in "), "{seen}");
    server.stop().await;

    let (server, _backend, base, model) = start(config).await;
    let kept = seen["kept"].as_str().unwrap().to_string();
    let after = run(base, model, vec!["second".into(), kept]).await.unwrap();
    eprintln!("after the restart: {after:#}");
    assert!(after["after_restart"]["going_on"].as_u64() > after["after_restart"]["alone"].as_u64(), "{after}");
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// `/v1/embeddings` over the real engine: the test model (a chat model: no pooling in its file) is
/// a 400 that says so; the same weights with a pooling named (rewritten, `llama.pooling_type = 1`)
/// give unit vectors, as floats or base64, for strings and token arrays, with usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn embeddings_come_from_a_model_with_pooling_and_a_chat_model_is_refused() {
    let _one = ONE.lock().await;
    let path = real::model();
    let pooled = std::env::temp_dir().join(format!("SmolLM2-pooled-{}.gguf", std::process::id()));
    let edit = gguf::write::Edit { set: gguf::write::GgufWriter::new("llama").u32("llama.pooling_type", 1), ..Default::default() };
    gguf::write::rewrite(&path, &pooled, &edit).unwrap();
    let backend = real::backend(worker(), &path);
    backend.set_models(vec![server::ModelEntry::from_path(&path), server::ModelEntry::from_path(&pooled)]);
    let server = serve(ServerConfig { port: 0, ..Default::default() }, backend.clone()).await.unwrap();
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::new();
    let post = |body: Value| client.post(format!("{base}/v1/embeddings")).json(&body).send();

    let r = post(json!({"model": real::model_id(&path), "input": "hello"})).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("cannot make embeddings")), "{body}");

    let model = real::model_id(&pooled);
    let floats: Value = post(json!({"model": model, "input": ["The cat sat.", "Revenue grew."]})).await.unwrap().json().await.unwrap();
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["data"].as_array().map(Vec::len), Some(2), "{floats}");
    let first: Vec<f32> = floats["data"][0]["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    assert_eq!(first.len(), 576);
    assert!((first.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-3);
    assert!(floats["usage"]["prompt_tokens"].as_u64().is_some_and(|n| n > 4), "{floats}");

    let b64: Value =
        post(json!({"model": model, "input": "The cat sat.", "encoding_format": "base64"})).await.unwrap().json().await.unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let decoded: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(decoded.len(), 576);
    assert!(decoded.iter().zip(&first).all(|(a, b)| (a - b).abs() < 1e-4), "base64 and floats agree");

    let tokens: Value = post(json!({"model": model, "input": [[1, 2, 3], [4, 5]]})).await.unwrap().json().await.unwrap();
    assert_eq!(tokens["usage"]["prompt_tokens"], 5, "{tokens}");
    let r = post(json!({"model": model, "input": []})).await.unwrap();
    assert_eq!(r.status(), 400);
    // `dimensions`: the model's own size is fine; another is a 400 naming it, never 576 numbers
    // handed back as if they were 8 (issue 31).
    let same = post(json!({"model": model, "input": "The cat sat.", "dimensions": 576})).await.unwrap();
    assert_eq!(same.status(), 200);
    let r = post(json!({"model": model, "input": "The cat sat.", "dimensions": 8})).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "dimensions", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("576"), "{body}");
    server.stop().await;
    let _ = std::fs::remove_file(pooled);
}

/// The app's Chat view shares the engine: a model it loaded answers requests at once (no reload),
/// the idle TTL leaves it alone, and the server's status names it. There used to be two records of
/// the loaded model, kept in step by hand, and the server could answer with one while Chat showed
/// another; the engine is now the only record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_model_the_app_loaded_answers_without_a_reload_and_is_never_unloaded_as_idle() {
    let _one = ONE.lock().await;
    let config = ServerConfig { idle_ttl: Duration::from_millis(300), ..Default::default() };
    let (_server, backend, base, model) = start(config).await;
    let path = real::model();
    // "The app" loads the model straight into the shared engine.
    let settings = types::LoadSettings { context: Some(2048), ..Default::default() };
    let request = runtime::LoadRequest { settings: Some(settings), ..runtime::LoadRequest::by(runtime::Owner::App) };
    backend.runtime().load(&path, request, |_| {}).await.unwrap();
    let pid = backend.worker_pid();
    assert_eq!(backend.in_engine().as_deref(), Some(model.as_str()));
    assert!(backend.loaded().is_none(), "not the server's own load");
    let client = reqwest::Client::new();
    let body = json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4});
    assert_eq!(client.post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap().status(), 200);
    assert!(backend.last_load().is_none(), "the server did not load it again");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(real::any_loaded(&backend), "the idle TTL unloads only what the server loaded");
    assert_eq!(backend.worker_pid(), pid);
    // Nor can a client unload it over HTTP: it is the app's.
    let r = client.post(format!("{base}/api/models/unload")).json(&json!({"model": model})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(real::any_loaded(&backend));
    let list: Value = client.get(format!("{base}/api/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!((list["data"][0]["state"].as_str(), list["data"][0]["loaded_by"].as_str()), (Some("loaded"), Some("app")), "{list}");
}

/// The lifecycle endpoints over the real engine: each model with its fit here; a load by name
/// with its plan (the load's own figures come back); a model that will not fit refused with the
/// plan's reason before anything is unloaded; an unload that ends the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn models_load_and_unload_by_name_with_their_fit_plan() {
    let _one = ONE.lock().await;
    let path = real::model();
    // A 70B beside the test model: a sparse file with its real header, far too big for the
    // imagined 16 GB machine.
    let dir = std::env::temp_dir().join(format!("hearth-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("Llama-3.1-70B-Instruct-Q4_K_M.gguf");
    gguf::synthetic::model(&gguf::synthetic::llama3_70b(), gguf::synthetic::Quant::Q4KM, false).write_sparse(&big).unwrap();
    let backend = real::backend(worker(), &path);
    backend.set_models(vec![server::ModelEntry::from_path(&path), server::ModelEntry::from_path(&big)]);
    let server = serve(ServerConfig { port: 0, ..Default::default() }, backend.clone()).await.unwrap();
    let base = format!("http://{}", server.addr());
    let (model, client) = (real::model_id(&path), reqwest::Client::new());

    let list: Value = client.get(format!("{base}/api/models")).send().await.unwrap().json().await.unwrap();
    let small = &list["data"][0];
    assert_eq!((small["id"].as_str(), small["state"].as_str()), (Some(model.as_str()), Some("not-loaded")), "{list}");
    assert!(matches!(small["fit"]["verdict"].as_str(), Some("green" | "yellow")), "{list}");
    assert_eq!(list["data"][1]["fit"]["verdict"], "red", "{list}");

    let r = client.post(format!("{base}/api/models/load")).json(&json!({"model": model})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let state: Value = r.json().await.unwrap();
    assert_eq!((state["state"].as_str(), state["loaded_by"].as_str()), (Some("loaded"), Some("server")), "{state}");
    assert_eq!(state["load"]["context"], state["fit"]["context"], "loaded as planned: {state}");
    assert!(state["load"]["weights_bytes"].as_u64().is_some_and(|b| b > 50 << 20), "{state}");

    let r = client.post(format!("{base}/api/models/load")).json(&json!({"model": "Llama-3.1-70B-Instruct-Q4_K_M"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_would_not_fit", "{body}");
    assert!(real::any_loaded(&backend), "refused before the loaded model was unloaded");

    let r = client.post(format!("{base}/api/models/unload")).json(&json!({"model": model})).send().await.unwrap();
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["state"], "not-loaded", "{state}");
    assert!(!real::any_loaded(&backend));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Requests beyond the slots wait for one (in the worker, in the order they came), and beyond the
/// queue they are refused at once: 2 slots and a queue of 1 run two replies, hold a third, and
/// answer a fourth with 429 while the three go on to finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn requests_beyond_the_slots_wait_and_beyond_the_queue_get_429() {
    let _one = ONE.lock().await;
    let config = ServerConfig { queue_limit: 1, ..Default::default() };
    let (server, backend, base, model) = start(config).await;
    backend.runtime().set_load_settings(Arc::new(|_: &std::path::Path| types::LoadSettings {
        parallel: Some(2),
        context: Some(2048),
        ..Default::default()
    }));
    let client = reqwest::Client::new();
    let ask = |text: &str| json!({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 200, "temperature": 0, "stream": true});
    let send = |body: Value| client.post(format!("{base}/v1/chat/completions")).json(&body).send();
    // Two replies streaming: both slots taken.
    let mut a = send(ask("Write a long story about a dragon.")).await.unwrap();
    let mut b = send(ask("Write a long story about a castle.")).await.unwrap();
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    assert!(a.chunk().await.unwrap().is_some() && b.chunk().await.unwrap().is_some());
    assert_eq!(backend.runtime().residents()[0].model.info.slots, 2);
    // A third waits for a slot; a fourth finds the queue full.
    let third = tokio::spawn(send(ask("Write a long story about a ship.")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fourth = send(ask("Write a long story about a mountain.")).await.unwrap();
    assert_eq!(fourth.status(), 429, "2 slots + 1 waiting are under way");
    let drain = |mut r: reqwest::Response| async move {
        let mut text = String::new();
        while let Some(c) = r.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&c));
        }
        text
    };
    for text in [drain(a).await, drain(b).await] {
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    }
    let third = third.await.unwrap().unwrap();
    assert_eq!(third.status(), 200, "the waiting request was answered once a slot was free");
    assert!(drain(third).await.trim_end().ends_with("data: [DONE]"));
    assert_eq!(server.metrics().rejected_busy, 1);
}

/// Eight clients at once with the planner's slots (4 for the test model here) and the default
/// queue (4): every request completes, none gets 429, and the slowest first token comes while the
/// others are still writing (it waits for one reply, not for all of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn eight_clients_at_once_all_complete() {
    let _one = ONE.lock().await;
    let (server, backend, base, model) = start(ServerConfig::default()).await;
    let warm = load::run(&base, &model, 1, 1, 4).await;
    assert_eq!(warm.completed, 1, "{:?}", warm.other);
    assert_eq!(backend.runtime().residents()[0].model.info.slots, 4, "the planner gives the test model 4 slots on a 16 GB machine");
    let f = load::run(&base, &model, 8, 1, 32).await;
    assert!(f.other.is_empty(), "{:?}", f.other);
    assert_eq!((f.completed, f.busy), (8, 0), "{f:?}");
    assert_eq!(server.metrics().rejected_busy, 0);
    eprintln!(
        "8 clients: {:.1} tokens/s, TTFT p50 {:.0} ms, p95 {:.0} ms",
        f.tokens_per_s(),
        f.ttft_percentile(0.5),
        f.ttft_percentile(0.95)
    );
}

/// The server's own resident memory, in KiB (the test runs the server in this process).
fn own_rss_kib() -> u64 {
    load::rss_kib(std::process::id()).unwrap()
}

/// A server answering a plain request, and what it was then: its worker and its memory.
struct Serving {
    pid: u32,
    rss_kib: u64,
}

impl Serving {
    async fn now(client: &reqwest::Client, base: &str, model: &str, backend: &EngineBackend) -> Self {
        assert_eq!(plain(client, base, model).await, 200);
        Serving { pid: backend.worker_pid().expect("loaded"), rss_kib: own_rss_kib() }
    }

    /// After `what` was refused: a plain request still succeeds, on the same worker, and the
    /// server's memory is what it was (within 32 MiB).
    async fn still(&self, client: &reqwest::Client, base: &str, model: &str, backend: &EngineBackend, what: &str) {
        assert_eq!(plain(client, base, model).await, 200);
        assert_eq!(backend.worker_pid(), Some(self.pid), "the same worker answered throughout");
        let after = own_rss_kib();
        eprintln!("{what} refused; server RSS {} -> {after} KiB", self.rss_kib);
        assert!(after < self.rss_kib + 32 * 1024, "the server's memory grew from {} to {after} KiB", self.rss_kib);
    }
}

async fn plain(client: &reqwest::Client, base: &str, model: &str) -> u16 {
    let body = json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0});
    client.post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap().status().as_u16()
}

/// JSON schemas that once killed or stalled the worker, or were answered with output no valid
/// answer could be, sent every way a schema arrives (`response_format`, a forced tool's
/// `parameters`, an Anthropic tool's `input_schema`): each is a 400 within a second that names
/// the keyword and where it is, the worker is the same process before and after, a plain request
/// still succeeds on it, and the server's memory is what it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn schemas_that_would_crash_or_stall_the_engine_are_refused_at_once_and_the_worker_lives() {
    let _one = ONE.lock().await;
    let (server, backend, base, model) = start(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let before = Serving::now(&client, &base, &model, &backend).await;

    let nested = format!("^{}a{}$", "(".repeat(3000), ")".repeat(3000));
    let hostile: [(Value, &str); 7] = [
        (json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 2}}, "required": ["n"]}), "maximum"),
        (
            json!({"type": "object", "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 1}}, "required": ["s"]}),
            "maxLength",
        ),
        (json!({"type": "object", "properties": {"a": {"type": "array", "minItems": 3, "maxItems": 1}}, "required": ["a"]}), "maxItems"),
        (json!({"allOf": [{"$ref": "#"}]}), "$ref"),
        (json!({"type": "object", "properties": {"p": {"type": "string", "pattern": nested}}}), "pattern"),
        (json!({"type": "object", "properties": {"p": {"type": "string", "pattern": "^*$"}}}), "pattern"),
        (json!({"type": "object", "properties": {"me": {"$ref": "#"}}, "required": ["me"]}), "required"),
    ];
    for (schema, keyword) in &hostile {
        let ways = [
            (
                "/v1/chat/completions",
                json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8,
                       "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}),
            ),
            (
                "/v1/chat/completions",
                json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8,
                       "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}], "tool_choice": "required"}),
            ),
            (
                "/v1/messages",
                json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8,
                       "tools": [{"name": "f", "input_schema": schema}], "tool_choice": {"type": "any"}}),
            ),
        ];
        for (path, body) in ways {
            let t = Instant::now();
            let r = client.post(format!("{base}{path}")).json(&body).send().await.unwrap();
            let took = t.elapsed();
            let status = r.status();
            let answer: Value = r.json().await.unwrap();
            let message = answer["error"]["message"].as_str().unwrap_or_default().to_string();
            assert_eq!(status, 400, "{path} with {schema}: {answer}");
            assert!(message.contains(&format!("`{keyword}`")) && message.contains(" at #"), "{path}: the keyword and where: {message}");
            assert!(took < Duration::from_secs(1), "{path}: refused after {took:?}");
        }
    }
    // A sound schema is still held to, on the same worker.
    let sound = json!({"model": model, "messages": [{"role": "user", "content": "Is Paris by the sea?"}], "max_tokens": 40, "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema":
            {"type": "object", "properties": {"coastal": {"type": "boolean"}}, "required": ["coastal"], "additionalProperties": false}}}});
    let r = client.post(format!("{base}/v1/chat/completions")).json(&sound).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    let value: Value = serde_json::from_str(answer["choices"][0]["message"]["content"].as_str().unwrap()).expect("JSON");
    assert!(value["coastal"].is_boolean(), "{value}");
    before.still(&client, &base, &model, &backend, &format!("{} hostile schemas x 3 ways", hostile.len())).await;
    server.stop().await;
}

/// The rest of issue 25's hostile requests that reach the server (the schemas have the test
/// above; trickled bodies and stalled readers are in hostile.rs): embeddings past every cap, stop
/// lists too long or too many, loads by name of nothing and of the model answering. Each gets a
/// 400 or 404 in the API's own shape within a second; the worker is the same process throughout,
/// the model stays loaded, a plain request succeeds after, and the server's memory is what it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn hostile_embeddings_stops_and_loads_are_refused_at_once_and_the_worker_lives() {
    let _one = ONE.lock().await;
    let (server, backend, base, model) = start(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let before = Serving::now(&client, &base, &model, &backend).await;

    let too_many_tokens: Vec<u32> = (0..engine::MAX_EMBED_TOKENS as u32 + 1).map(|i| i % 1000).collect();
    let hostile: Vec<(&str, Value, u16, &str)> = vec![
        ("/v1/embeddings", json!({"model": model, "input": "hello"}), 400, "cannot make embeddings"),
        ("/v1/embeddings", json!({"model": model, "input": [too_many_tokens]}), 400, "longer than the 8192"),
        ("/v1/embeddings", json!({"model": model, "input": vec!["x"; 2049]}), 400, "1 to 2048 inputs"),
        ("/v1/embeddings", json!({"model": model, "input": []}), 400, "1 to 2048 inputs"),
        ("/v1/chat/completions", json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "stop": ["a", "b", "c", "d", "e"]}), 400, "stop"),
        ("/v1/chat/completions", json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "stop": "x".repeat(300)}), 400, "stop"),
        ("/v1/messages", json!({"model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}], "stop_sequences": vec!["s"; 17]}), 400, "stop_sequences"),
        ("/api/models/load", json!({"model": "no-such-model"}), 404, "no-such-model"),
        ("/api/models/load", json!({"model": 7}), 400, "model"),
    ];
    for (path, body, status, says) in &hostile {
        let t = Instant::now();
        let r = client.post(format!("{base}{path}")).json(body).send().await.unwrap();
        let took = t.elapsed();
        let got = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(got, *status, "{path}: {answer}");
        assert!(message.contains(says), "{path}: {message}");
        assert!(took < Duration::from_secs(1), "{path}: answered after {took:?}");
    }
    // Loading the model that is loaded (and has just answered) keeps it, on the same worker.
    let r = client.post(format!("{base}/api/models/load")).json(&json!({"model": model})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    before.still(&client, &base, &model, &backend, &format!("{} hostile requests", hostile.len())).await;
    server.stop().await;
}

/// The server admits requests per model (issue 26): with two models loaded at once, one whose
/// slot and queue are full (a 429 for one more request to it) keeps nothing of the other's out —
/// a request to the other is admitted and answered while the first model's reply still streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_model_with_its_queue_full_keeps_no_request_for_another_model_out() {
    let _one = ONE.lock().await;
    let model = real::model();
    let copy = std::env::temp_dir().join("hearth-server-test-models/SmolLM2-other.gguf");
    if !copy.exists() {
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        let part = copy.with_extension(format!("{}.part", std::process::id()));
        std::fs::hard_link(&model, &part).or_else(|_| std::fs::copy(&model, &part).map(|_| ())).unwrap();
        std::fs::rename(&part, &copy).unwrap();
    }
    let runtime = runtime::Runtime::new(worker(), hardware::catalog::imagined(None, 1, 16));
    // One slot each, so that one streaming reply fills a model.
    runtime.set_load_settings(Arc::new(|_: &std::path::Path| types::LoadSettings { context: Some(2048), parallel: Some(1), ..Default::default() }));
    let entries = vec![server::ModelEntry::from_path(&model), server::ModelEntry::from_path(&copy)];
    let (a, b) = (entries[0].id.clone(), entries[1].id.clone());
    let backend = Arc::new(EngineBackend::new(Arc::new(runtime), entries));
    let server = serve(ServerConfig { port: 0, queue_limit: 0, ..Default::default() }, backend.clone()).await.unwrap();
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::new();
    let body = |m: &str, n: u32, stream: bool| json!({"model": m, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": n, "temperature": 0, "stream": stream});
    // Both loaded first, so that what follows measures admission, not loads.
    for m in [&a, &b] {
        assert_eq!(client.post(format!("{base}/v1/completions")).json(&body(m, 1, false)).send().await.unwrap().status(), 200);
    }
    assert_eq!(backend.runtime().residents().len(), 2, "both models stay loaded");

    // Model a writes a long reply: its one slot is taken, and its queue (0) is full.
    let mut long = client.post(format!("{base}/v1/completions")).json(&body(&a, 400, true)).send().await.unwrap();
    assert_eq!(long.status(), 200);
    long.chunk().await.unwrap().expect("a's reply has begun");
    let full = client.post(format!("{base}/v1/completions")).json(&body(&a, 4, false)).send().await.unwrap();
    assert_eq!(full.status(), 429, "a's slot and queue are full");

    // Model b answers meanwhile.
    let t = Instant::now();
    let other = client.post(format!("{base}/v1/completions")).json(&body(&b, 4, false)).send().await.unwrap();
    assert_eq!(other.status(), 200, "b's request is admitted beside a full a");
    let answered = t.elapsed();
    // a's worker is still writing its reply (its stream's buffered chunks would not tell).
    let a_answering = backend.runtime().get(&model).expect("a is loaded").engine.is_answering();
    eprintln!("b answered in {answered:?} while a streamed");
    assert!(a_answering, "b's answer came only after a's reply had ended");
    drop(long);
    server.stop().await;
}

/// `tool_choice: "required"` (parallel calls allowed, the default) and Anthropic's `any`: the
/// grammar once let the test model write call after call until `max_tokens`, and the reply came
/// back as `finish_reason: "length"` with the raw JSON as its text (issue 31). Now the array of
/// calls is bounded and the reply ends when it closes: tool calls, each whole, well before the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_required_call_comes_back_as_calls_and_ends_when_its_array_closes() {
    let _one = ONE.lock().await;
    let (server, _backend, base, model) = start(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let parameters = json!({"type": "object", "properties": {"unit": {"enum": ["c", "f"]}}, "required": ["unit"]});
    let cap = 400;
    let body = json!({
        "model": model, "max_tokens": cap, "temperature": 0,
        "messages": [{"role": "user", "content": "What is the temperature outside?"}],
        "tools": [{"type": "function", "function": {"name": "get_temperature", "parameters": parameters}}],
        "tool_choice": "required",
    });
    let reply: Value = client.post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap().json().await.unwrap();
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{reply}");
    let calls = choice["message"]["tool_calls"].as_array().expect("tool calls");
    assert!((1..=engine::tools::MAX_PARALLEL_CALLS).contains(&calls.len()), "{reply}");
    for c in calls {
        assert_eq!(c["function"]["name"], "get_temperature");
        let args: Value = serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
        assert!(args["unit"] == "c" || args["unit"] == "f", "{reply}");
    }
    assert!(choice["message"]["content"].as_str().unwrap_or_default().is_empty(), "{reply}");
    assert!(reply["usage"]["completion_tokens"].as_u64().unwrap() < cap, "the reply ended when the array closed: {reply}");

    let body = json!({
        "model": model, "max_tokens": cap, "temperature": 0,
        "messages": [{"role": "user", "content": "What is the temperature outside?"}],
        "tools": [{"name": "get_temperature", "input_schema": parameters}],
        "tool_choice": {"type": "any"},
    });
    let reply: Value = client.post(format!("{base}/v1/messages")).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(reply["stop_reason"], "tool_use", "{reply}");
    let uses = reply["content"].as_array().unwrap().iter().filter(|b| b["type"] == "tool_use").count();
    assert!((1..=engine::tools::MAX_PARALLEL_CALLS).contains(&uses), "{reply}");
    assert!(reply["usage"]["output_tokens"].as_u64().unwrap() < cap, "{reply}");
    server.stop().await;
}

/// `response_format: {"type": "json_object", "schema": {…}}`, llama.cpp's server's form (what
/// instructor's JSON_SCHEMA mode sends): the schema holds the reply. It was once read as plain
/// `json_object`, and the test model answered with the schema itself (issue 31).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_schema_beside_json_object_holds_the_reply() {
    let _one = ONE.lock().await;
    let (server, _backend, base, model) = start(ServerConfig::default()).await;
    let schema = json!({
        "type": "object",
        "properties": {"year": {"type": "integer"}, "city": {"enum": ["Paris", "Rome"]}},
        "required": ["year", "city"],
        "additionalProperties": false,
    });
    let body = json!({
        "model": model, "max_tokens": 200, "temperature": 0,
        "messages": [{"role": "user", "content": "Describe this JSON schema: {\"type\": \"object\"}"}],
        "response_format": {"type": "json_object", "schema": schema},
    });
    let reply: Value =
        reqwest::Client::new().post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap().json().await.unwrap();
    let content = reply["choices"][0]["message"]["content"].as_str().expect("text");
    let answer: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("{e}: {reply}"));
    let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "{answer}");
    assert!(answer["year"].is_i64(), "{answer}");
    assert!(answer["city"] == "Paris" || answer["city"] == "Rome", "{answer}");
    server.stop().await;
}

/// OpenAI's `logit_bias`, `frequency_penalty` and `presence_penalty`, once refused, are carried
/// out by llama.cpp's samplers (issue 31): a +100 bias makes a token the greedy pick, -100 keeps
/// the greedy pick out, and an id outside the vocabulary is a 400 with the worker unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn logit_bias_and_the_penalties_change_the_pick() {
    let _one = ONE.lock().await;
    let (server, backend, base, model) = start(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let complete = |extra: Value| {
        let mut body = json!({"model": model, "prompt": "The capital of France is", "max_tokens": 1, "temperature": 0});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let request = client.post(format!("{base}/v1/completions")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, plain) = complete(json!({})).await;
    assert_eq!(status, 200, "{plain}");
    let greedy = plain["choices"][0]["text"].as_str().unwrap().to_string();
    let engine = backend.runtime().get(&real::model()).expect("loaded").engine;
    let id = |text: String| {
        let engine = engine.clone();
        async move { engine.tokenize(&text, false).await.unwrap()[0] }
    };

    let rome = id(" Rome".into()).await;
    let (_, pushed) = complete(json!({"logit_bias": {rome.to_string(): 100}})).await;
    let text = pushed["choices"][0]["text"].as_str().unwrap();
    assert!(!text.is_empty() && " Rome".starts_with(text), "+100 on {rome} gave {pushed}");

    let banned = id(greedy.clone()).await;
    let (_, other) = complete(json!({"logit_bias": {banned.to_string(): -100}})).await;
    assert_ne!(other["choices"][0]["text"].as_str().unwrap(), greedy, "{other}");

    let (status, penalised) = complete(json!({"frequency_penalty": 1.5, "presence_penalty": 1.0, "max_tokens": 8})).await;
    assert_eq!(status, 200, "{penalised}");

    let pid = backend.worker_pid();
    let (status, refused) = complete(json!({"logit_bias": {"1000000000": 5}})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("vocabulary"), "{refused}");
    assert_eq!(backend.worker_pid(), pid, "the worker lives");
    server.stop().await;
}

/// An Anthropic stream says the prompt's size in `message_start`, as Anthropic's does: clients
/// that budget the context from it once saw an empty prompt (issue 31). The count there and the
/// one in `message_delta` agree, and a second turn reads its first turn from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn an_anthropic_stream_counts_the_prompt_in_message_start() {
    let _one = ONE.lock().await;
    let (server, _backend, base, model) = start(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let usage_of = |messages: Value| {
        let body = json!({"model": model, "max_tokens": 4, "temperature": 0, "stream": true, "messages": messages});
        let request = client.post(format!("{base}/v1/messages")).json(&body);
        async move {
            let text = request.send().await.unwrap().text().await.unwrap();
            let events: Vec<Value> =
                text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
            let start = events.iter().find(|e| e["type"] == "message_start").expect("message_start")["message"]["usage"].clone();
            let end = events.iter().find(|e| e["type"] == "message_delta").expect("message_delta")["usage"].clone();
            (start, end)
        }
    };
    let total = |u: &Value| u["input_tokens"].as_u64().unwrap() + u["cache_read_input_tokens"].as_u64().unwrap();
    let first = json!([{"role": "user", "content": "Tell me about the sea, in one short sentence."}]);
    let (start, end) = usage_of(first.clone()).await;
    assert!(start["input_tokens"].as_u64().unwrap() > 5, "{start}");
    assert_eq!(total(&start), total(&end), "{start} {end}");
    let mut second = first.as_array().unwrap().clone();
    second.push(json!({"role": "assistant", "content": "The sea is wide."}));
    second.push(json!({"role": "user", "content": "And the sky?"}));
    let (start, end) = usage_of(Value::Array(second)).await;
    assert_eq!(total(&start), total(&end), "{start} {end}");
    assert!(start["cache_read_input_tokens"].as_u64().unwrap() > 5, "the first turn came from the cache: {start}");
    server.stop().await;
}

/// A streamed tool call goes out while the model writes it (issues 26 and 27): the call's name
/// first, then its arguments in fragments, the first of them before the call is whole; the
/// fragments put together are the call's JSON. The same in Anthropic's stream (`input_json_delta`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_tool_calls_arguments_stream_as_the_model_writes_them() {
    let _one = ONE.lock().await;
    let (server, _backend, base, model) = start(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let parameters = json!({"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]});
    let events = |path: &str, body: Value| {
        let request = client.post(format!("{base}{path}")).json(&body);
        async move {
            let text = request.send().await.unwrap().text().await.unwrap();
            text.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|d| *d != "[DONE]").map(|d| serde_json::from_str::<Value>(d).unwrap()).collect::<Vec<_>>()
        }
    };
    let body = json!({
        "model": model, "max_tokens": 200, "temperature": 0, "stream": true, "parallel_tool_calls": false,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": parameters}}],
        "tool_choice": "required",
    });
    let chunks = events("/v1/chat/completions", body).await;
    let calls: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0)).collect();
    assert!(calls.len() >= 3, "the call came in pieces: {chunks:#?}");
    assert_eq!(calls[0]["function"]["name"], "get_weather", "{chunks:#?}");
    assert!(calls[0]["id"].as_str().is_some_and(|id| id.starts_with("call_")));
    let fragments: Vec<&str> = calls.iter().map(|c| c["function"]["arguments"].as_str().unwrap()).filter(|a| !a.is_empty()).collect();
    assert!(fragments.len() >= 2, "{fragments:?}");
    assert!(serde_json::from_str::<Value>(fragments[0]).is_err(), "the first fragment came before the call was whole: {fragments:?}");
    let whole: Value = serde_json::from_str(&fragments.concat()).expect("the fragments make the arguments");
    assert!(whole["city"].is_string(), "{whole}");
    assert_eq!(chunks.iter().rev().find_map(|c| c["choices"][0]["finish_reason"].as_str()), Some("tool_calls"));

    let body = json!({
        "model": model, "max_tokens": 200, "temperature": 0, "stream": true,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"name": "get_weather", "input_schema": parameters}],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    });
    let events = events("/v1/messages", body).await;
    let start = events.iter().find(|e| e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use").expect("a tool_use block");
    assert_eq!(start["content_block"]["name"], "get_weather");
    let partial: Vec<&str> =
        events.iter().filter(|e| e["delta"]["type"] == "input_json_delta").map(|e| e["delta"]["partial_json"].as_str().unwrap()).collect();
    assert!(partial.len() >= 2, "{events:#?}");
    let input: Value = serde_json::from_str(&partial.concat()).unwrap();
    assert!(input["city"].is_string(), "{input}");
    assert_eq!(events.iter().find(|e| e["type"] == "message_delta").unwrap()["delta"]["stop_reason"], "tool_use");
    server.stop().await;
}

/// Documents (issue 30, item 6): an Anthropic `document` block (text and base64), an OpenAI `file`
/// part and a Responses `input_file` part go into the prompt whole — the usage counts the
/// document's tokens — and one too long for the context is a 400 that gives its tokens and the
/// context, with nothing generated. A URL source and a file id are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn documents_are_read_whole_when_they_fit_and_refused_with_the_figures_when_not() {
    use base64::Engine as _;
    let _one = ONE.lock().await;
    server::use_document_reader(documents::Reader::program(env!("CARGO_BIN_EXE_server-test-worker")));
    let (server, _backend, base, model) = start(ServerConfig::default()).await;
    let client = reqwest::Client::new();
    let lines = |n: usize| (1..=n).map(|i| format!("Line {i}: the code for shelf {i} is QX{:05}.\n", i * 37)).collect::<String>();
    let short = lines(12);
    let b64 = base64::engine::general_purpose::STANDARD.encode(short.as_bytes());

    let anthropic = |content: Value| json!({ "model": model, "max_tokens": 4, "temperature": 0, "messages": [{ "role": "user", "content": content }] });
    let bare = client.post(format!("{base}/v1/messages")).json(&anthropic(json!("What is the code for shelf 7?"))).send().await.unwrap();
    let bare: Value = bare.json().await.unwrap();
    // Anthropic's usage splits the prompt into what was read now and what the cache held.
    let prompt = |r: &Value| r["usage"]["input_tokens"].as_u64().unwrap() + r["usage"]["cache_read_input_tokens"].as_u64().unwrap();
    let bare_tokens = prompt(&bare);

    for source in [json!({ "type": "text", "media_type": "text/plain", "data": short }), json!({ "type": "base64", "media_type": "text/plain", "data": b64 })] {
        let content = json!([{ "type": "document", "source": source, "title": "shelves" }, { "type": "text", "text": "What is the code for shelf 7?" }]);
        let r = client.post(format!("{base}/v1/messages")).json(&anthropic(content)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r: Value = r.json().await.unwrap();
        let tokens = prompt(&r);
        assert!(tokens > bare_tokens + 200, "the whole document is in the prompt: {tokens} tokens, {bare_tokens} without it");
    }

    let file = json!({ "type": "file", "file": { "filename": "shelves.txt", "file_data": format!("data:text/plain;base64,{b64}") } });
    let r = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({ "model": model, "max_tokens": 4, "messages": [{ "role": "user", "content": [file, { "type": "text", "text": "Shelf 7?" }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert!(r["usage"]["prompt_tokens"].as_u64().unwrap() > 200, "{r}");

    let input_file = json!({ "type": "input_file", "filename": "shelves.txt", "file_data": format!("data:text/plain;base64,{b64}") });
    let r = client
        .post(format!("{base}/v1/responses"))
        .json(&json!({ "model": model, "max_output_tokens": 4, "store": false, "input": [{ "role": "user", "content": [input_file, { "type": "input_text", "text": "Shelf 7?" }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert!(r["usage"]["input_tokens"].as_u64().unwrap() > 200, "{r}");

    // About 14,000 tokens against the test model's context: refused, with the figures.
    let long = json!([{ "type": "document", "source": { "type": "text", "media_type": "text/plain", "data": lines(560) } }, { "type": "text", "text": "Shelf 7?" }]);
    let r = client.post(format!("{base}/v1/messages")).json(&anthropic(long)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("tokens long") && text.contains("context holds"), "{text}");

    let url = json!([{ "type": "document", "source": { "type": "url", "url": "http://169.254.169.254/" } }]);
    let r = client.post(format!("{base}/v1/messages")).json(&anthropic(url)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("reads only what is sent"));
    let id = json!([{ "type": "file", "file": { "file_id": "file-abc" } }]);
    let r = client.post(format!("{base}/v1/chat/completions")).json(&json!({ "model": model, "messages": [{ "role": "user", "content": id }] })).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("file id"));
    server.stop().await;
}
