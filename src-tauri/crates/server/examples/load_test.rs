//! Load test of the OpenAI-compatible server with the real test model: 8 clients × 20 streamed
//! chat completions (16 tokens each) against a queue of 4. Every request must complete or get a
//! clean 429; prints requests/s, tokens/s, time to first token (p50/p95), the 429 count, and the
//! worker's resident memory before and after.
//!
//! `cargo run -p hearth-server --example load_test [CLIENTS] [REQUESTS_PER_CLIENT]`
//! (the example is its own engine worker, started again with `--engine-worker`).

#[path = "../tests/support/load.rs"]
mod load;

use std::sync::Arc;
use std::time::Duration;

use engine::WorkerCommand;
use server::{serve, EngineBackend, ModelEntry, ServerConfig};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--engine-worker") {
        return engine::run_worker();
    }
    let clients = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let per_client = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let Some(model) = testkit::Resource::TestModel.find() else {
        eprintln!("the test model is not fetched: make test-model");
        return std::process::ExitCode::FAILURE;
    };
    let Ok(rt) = tokio::runtime::Runtime::new() else { return std::process::ExitCode::FAILURE };
    rt.block_on(async move {
        let Ok(me) = std::env::current_exe() else { return std::process::ExitCode::FAILURE };
        let worker = WorkerCommand { program: me, args: vec!["--engine-worker".into()] };
        let entry = ModelEntry::from_path(&model);
        let id = entry.id.clone();
        let prober = runtime::prober(worker.clone(), |m| eprintln!("{m}"));
        let hw = prober.probe(model.parent().unwrap_or(&model));
        let backend = Arc::new(EngineBackend::new(Arc::new(runtime::Runtime::new(worker, hw)), vec![entry]));
        let config = ServerConfig { port: 0, queue_limit: 4, ..Default::default() };
        let server = match serve(config, backend.clone()).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let base = format!("http://{}", server.addr());
        let warm = load::run(&base, &id, 1, 2, 16).await;
        let pid = backend.worker_pid().unwrap_or(0);
        let before = load::rss_kib(pid).unwrap_or(0);
        println!("server {base}, model {id}, worker pid {pid}, warm-up {} completed", warm.completed);
        let f = load::run(&base, &id, clients, per_client, 16).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = load::rss_kib(pid).unwrap_or(0);
        let total = clients * per_client;
        println!("{clients} clients x {per_client} streamed requests (max_tokens 16, queue_limit 4), {:.1} s:", f.wall_s);
        println!("  completed        {}", f.completed);
        println!("  429 (queue full) {}", f.busy);
        println!("  other            {}", f.other.len());
        println!("  requests/s       {:.2} (completed)", f.requests_per_s());
        println!("  tokens/s         {:.1} (completion tokens of completed requests)", f.tokens_per_s());
        println!("  TTFT p50 / p95   {:.0} / {:.0} ms", f.ttft_percentile(0.5), f.ttft_percentile(0.95));
        println!("  worker RSS       {:.1} MiB before, {:.1} MiB after", before as f64 / 1024.0, after as f64 / 1024.0);
        println!("  server counters  {:?}", server.metrics());
        for (status, body) in f.other.iter().take(5) {
            println!("  unexpected: {status} {body}");
        }
        server.stop().await;
        if f.completed + f.busy == total && f.other.is_empty() {
            std::process::ExitCode::SUCCESS
        } else {
            println!("FAILED: {} of {total} requests neither completed nor got a clean 429", total - f.completed - f.busy);
            std::process::ExitCode::FAILURE
        }
    })
}
