//! `mockhub`: the mock Hub as a process, for the end-to-end tests and for trying the app offline.
//! It serves the real test model and synthetic models far larger than this machine (sparse files
//! with real headers), prints `MOCKHUB_URL=http://127.0.0.1:PORT` and serves until killed.
//!
//! Usage: `mockhub [--port N] [--test-model PATH] [--dir SCRATCH] [--throttle BYTES_PER_SECOND]`

use std::path::PathBuf;

use gguf::synthetic::{self, Quant};
use mockhub::{File, MockHub, Repo};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn card(title: &str, body: &str) -> String {
    format!("---\nlicense: apache-2.0\ntags: [gguf]\n---\n# {title}\n\n{body}\n\n| Quant | Use |\n| --- | --- |\n| Q4_K_M | the usual choice |\n| Q8_0 | near-lossless |\n")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let port = arg("--port").unwrap_or_else(|| "0".into());
    let dir = arg("--dir").map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("hearth-mockhub"));
    std::fs::create_dir_all(&dir)?;
    let mut repos = Vec::new();

    if let Some(model) = arg("--test-model").map(PathBuf::from).filter(|p| p.exists()) {
        let mut r = Repo::new("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF");
        r.downloads = 48_210;
        r.likes = 112;
        r.architecture = Some("llama".into());
        r.parameters = Some(134_515_008);
        r.card = card(
            "SmolLM2 135M Instruct",
            // A link, so the end-to-end tests can click one in a model card.
            "A small chat model, good for trying Hearth. Quantized to Q4_1 from \
             [SmolLM2-135M-Instruct](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct).",
        );
        r.files = vec![File::disk(testkit::TEST_MODEL, model.clone(), testkit::TEST_MODEL_SHA256)?];
        repos.push(r);

        // The same model with a projector beside it (a synthetic one of Gemma 3's kind, sized to
        // it): a repository that sees images, as Gemma 3's and SmolVLM's do on the Hub.
        let mut v = Repo::new("hearth-test/SmolLM2-135M-Vision-GGUF");
        v.downloads = 9_402;
        v.likes = 31;
        v.architecture = Some("llama".into());
        v.parameters = Some(134_515_008);
        v.card = card(
            "SmolLM2 135M Vision (test)",
            "The test model with a small synthetic projector beside it, so that Hearth's tests can attach pictures.",
        );
        let projector = synthetic::projector(&synthetic::tiny_gemma3_projector(576)).to_bytes();
        v.files = vec![
            File::disk("SmolLM2-135M-Vision-Q4_1.gguf", model, testkit::TEST_MODEL_SHA256)?,
            File::bytes("mmproj-SmolLM2-135M-Vision-F32.gguf", projector.clone()),
            File::bytes("mmproj-SmolLM2-135M-Vision-F16.gguf", projector),
        ];
        repos.push(v);
    }

    // Synthetic models: real headers in sparse files, never downloaded whole by the tests.
    let synthetic_repo = |id: &str, shape: synthetic::Shape, quants: &[Quant], downloads: u64, params: u64| -> std::io::Result<Repo> {
        let mut r = Repo::new(id);
        r.downloads = downloads;
        r.likes = downloads / 100;
        r.architecture = Some(shape.arch.to_string());
        r.parameters = Some(params);
        r.card = card(shape.name, &format!("GGUF quantizations of {}.", shape.name));
        let stem = id.rsplit('/').next().unwrap_or(id).trim_end_matches("-GGUF");
        for q in quants {
            let name = format!("{stem}-{}.gguf", q.label());
            let path = dir.join(&name);
            synthetic::model(&shape, *q, false).write_sparse(&path)?;
            r.files.push(File::disk(&name, path, &"0".repeat(64))?);
        }
        Ok(r)
    };
    repos.push(synthetic_repo(
        "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
        synthetic::llama3_8b(),
        &[Quant::Q4KM, Quant::Q8_0, Quant::F16],
        1_204_311,
        8_030_261_248,
    )?);
    repos.push(synthetic_repo(
        "bartowski/Qwen2.5-7B-Instruct-GGUF",
        synthetic::qwen25_7b(),
        &[Quant::Q4KM, Quant::Q6K, Quant::Q8_0],
        905_120,
        7_615_616_512,
    )?);
    repos.push(synthetic_repo(
        "bartowski/Qwen2.5-32B-Instruct-GGUF",
        synthetic::qwen25_32b(),
        &[Quant::Q4KM, Quant::Q8_0],
        402_877,
        32_763_876_352,
    )?);
    repos.push(synthetic_repo(
        "bartowski/Meta-Llama-3.1-70B-Instruct-GGUF",
        synthetic::llama3_70b(),
        &[Quant::Q2K, Quant::Q4KM],
        310_554,
        70_553_706_496,
    )?);
    repos.push(synthetic_repo(
        "bartowski/gemma-2-9b-it-GGUF",
        synthetic::gemma2_9b(),
        &[Quant::Q4KM, Quant::Q8_0],
        288_031,
        9_241_705_984,
    )?);

    let hub = MockHub::start_on(&format!("127.0.0.1:{port}"), repos).await?;
    if let Some(bps) = arg("--throttle").and_then(|t| t.parse::<u64>().ok()) {
        // Bytes per second per connection, so a test can watch a download in flight.
        hub.faults().throttle_bps.store(bps, std::sync::atomic::Ordering::SeqCst);
    }
    println!("MOCKHUB_URL={}", hub.base);
    std::future::pending::<()>().await;
    Ok(())
}
