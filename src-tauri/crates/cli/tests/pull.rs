//! `hearth pull` against the mock Hub, killed with SIGKILL mid-download and started again: the
//! download finishes from the bytes on disk and the file has the published sha256.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mockhub::{File, MockHub, Repo};

const SHA: &str = testkit::TEST_MODEL_SHA256;

fn pull(base: &str, home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.args(["pull", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1"])
        .env("HF_ENDPOINT", base)
        .env("HEARTH_HOME", home)
        .env_remove("HF_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_pull_killed_with_sigkill_resumes_and_verifies() {
    let model = testkit::test_model();
    let mut repo = Repo::new("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF");
    repo.files = vec![File::disk("SmolLM2-135M-Instruct.Q4_1.gguf", model, SHA).unwrap()];
    let mock = MockHub::start(vec![repo]).await.unwrap();
    mock.faults().throttle_bps.store(8 << 20, Ordering::SeqCst);
    let home = std::env::temp_dir().join(format!("hearth-pull-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let dest = home.join("models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct.Q4_1.gguf");
    let state = PathBuf::from(format!("{}.part.state", dest.display()));

    // First pull: killed as soon as one segment is safely on disk.
    let mut child = pull(&mock.base, &home).spawn().unwrap();
    let started = Instant::now();
    loop {
        // The state's "done" string has a '1' per finished segment.
        let done = std::fs::read_to_string(&state)
            .ok()
            .and_then(|s| s.split("\"done\":\"").nth(1).map(|rest| rest.split('"').next().unwrap_or("").contains('1')))
            .unwrap_or(false);
        if done {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no segment finished");
        assert!(child.try_wait().unwrap().is_none(), "pull ended before it could be killed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up
    child.wait().unwrap();
    let served_before = mock.bytes_served("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(!dest.exists(), "an unverified file must not be in place");

    // Second pull: resumes and finishes.
    mock.faults().throttle_bps.store(0, Ordering::SeqCst);
    let out = tokio::task::spawn_blocking({
        let (base, home) = (mock.base.clone(), home.clone());
        move || pull(&base, &home).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("verified and saved"));
    assert_eq!(hub::download::sha256_file(&dest).unwrap(), SHA);
    let total = mock.bytes_served("SmolLM2-135M-Instruct.Q4_1.gguf");
    let size = std::fs::metadata(&dest).unwrap().len();
    assert!(total - served_before < size, "the second pull fetched everything again ({} of {size})", total - served_before);

    // And `hearth ls` lists it, with its fit.
    let ls = Command::new(env!("CARGO_BIN_EXE_hearth")).arg("ls").env("HEARTH_HOME", &home).env("HOME", &home).output().unwrap();
    let text = String::from_utf8_lossy(&ls.stdout);
    assert!(text.contains("SmolLM2-135M-Instruct.Q4_1.gguf") && text.contains("green"), "{text}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_a_missing_quant_are_readable() {
    let mut repo = Repo::new("bartowski/Qwen2.5-7B-Instruct-GGUF");
    repo.downloads = 12345;
    repo.files =
        vec![File::bytes("Qwen2.5-7B-Instruct-Q4_K_M.gguf", vec![1; 10]), File::bytes("Qwen2.5-7B-Instruct-Q8_0.gguf", vec![2; 10])];
    let mock = MockHub::start(vec![repo]).await.unwrap();
    let home = std::env::temp_dir().join(format!("hearth-search-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let base = mock.base.clone();
    let h = home.clone();
    let (search, missing) = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_hearth")).args(args).env("HF_ENDPOINT", &base).env("HEARTH_HOME", &h).env_remove("HF_TOKEN").output().unwrap()
        };
        (run(&["search", "qwen"]), run(&["pull", "bartowski/Qwen2.5-7B-Instruct-GGUF:Q2_K"]))
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&search.stdout);
    assert!(text.contains("bartowski/Qwen2.5-7B-Instruct-GGUF") && text.contains("12345"), "{text}");
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("Available: Q4_K_M, Q8_0"), "{err}");
    let _ = std::fs::remove_dir_all(&home);
}

/// Issue 13 (8): `hearth pull` of a model whose file was deleted after it was downloaded printed
/// "verified and saved" for a file that was not there; it downloads it again. Pulled while it is
/// there, it says so and fetches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_after_the_file_was_deleted_downloads_it_again() {
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let mut repo = Repo::new("org/Tiny-GGUF");
    repo.files = vec![File::bytes("tiny-Q4_K_M.gguf", data.clone())];
    let mock = MockHub::start(vec![repo]).await.unwrap();
    let home = std::env::temp_dir().join(format!("hearth-pull-again-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let dest = home.join("models/org/Tiny-GGUF/tiny-Q4_K_M.gguf");
    let run = || {
        let (base, home) = (mock.base.clone(), home.clone());
        tokio::task::spawn_blocking(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
                .args(["pull", "org/Tiny-GGUF:Q4_K_M"])
                .env("HF_ENDPOINT", &base)
                .env("HEARTH_HOME", &home)
                .env_remove("HF_TOKEN")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stderr).into_owned()
        })
    };
    assert!(run().await.unwrap().contains("verified and saved"));
    assert_eq!(std::fs::read(&dest).unwrap(), data);

    std::fs::remove_file(&dest).unwrap();
    let err = run().await.unwrap();
    assert!(err.contains("verified and saved"), "{err}");
    assert_eq!(std::fs::read(&dest).unwrap(), data, "pull said it saved a file that is not there");
    assert_eq!(mock.bytes_served("tiny-Q4_K_M.gguf"), 2 * data.len() as u64);

    let err = run().await.unwrap();
    assert!(err.contains("already downloaded") && !err.contains("verified and saved"), "{err}");
    assert_eq!(mock.bytes_served("tiny-Q4_K_M.gguf"), 2 * data.len() as u64, "fetched again while it was there");
    let _ = std::fs::remove_dir_all(&home);
}

/// `hearth pull ORG/NAME` without a quantization downloads the file the window's Discover view
/// recommends on this machine: each file planned from its remote header, then `fit::recommend`
/// (here checked against `hearth fit --json` of the same files and `library::discover::recommended`,
/// the function the window's `hub_recommend` calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_without_a_quant_takes_the_file_discover_recommends() {
    use gguf::synthetic::{self, Quant, Shape};
    let shape = Shape {
        name: "Tiny",
        arch: "llama",
        layers: 2,
        embd: 256,
        ff: 512,
        heads: 4,
        heads_kv: 4,
        head_dim: 64,
        vocab: 2048,
        context: 2048,
        experts: None,
        tied_output: false,
        qkv_bias: false,
        sliding_window: None,
    };
    let dir = std::env::temp_dir().join(format!("hearth-pull-recommend-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (files_dir, home) = (dir.join("files"), dir.join("home"));
    std::fs::create_dir_all(&files_dir).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    // One RAM bandwidth for every process here (each keeps the highest it has seen): the plans
    // compared are made in separate processes, and speed is part of a verdict.
    std::fs::write(home.join("ram-bandwidth"), "1000\n").unwrap();
    let mut repo = Repo::new("org/Tiny-GGUF");
    let mut planned = Vec::new();
    for q in [Quant::Q4KM, Quant::Q8_0, Quant::F16] {
        let name = format!("Tiny-{}.gguf", q.label());
        let path = files_dir.join(&name);
        let size = synthetic::model(&shape, q, false).write_sparse(&path).unwrap();
        repo.files.push(File::disk(&name, path.clone(), &hub::download::sha256_file(&path).unwrap()).unwrap());
        // The plan `hearth fit` makes of the same header on this machine.
        let fit = Command::new(env!("CARGO_BIN_EXE_hearth")).args(["fit", path.to_str().unwrap(), "--json"]).env("HEARTH_HOME", &home).output().unwrap();
        assert!(fit.status.success(), "{}", String::from_utf8_lossy(&fit.stderr));
        let plan: types::FitPlan = serde_json::from_slice(&fit.stdout).unwrap();
        planned.push(types::PlannedFile { name, size_bytes: size, plan });
    }
    let expected = library::discover::recommended(&planned).expect("a tiny model fits anywhere");
    let mock = MockHub::start(vec![repo]).await.unwrap();
    let base = mock.base.clone();
    let h = home.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hearth")).args(["pull", "org/Tiny-GGUF"]).env("HF_ENDPOINT", &base).env("HEARTH_HOME", &h).env_remove("HF_TOKEN").output().unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for quant in ["Q4_K_M", "Q8_0", "F16"] {
        assert!(err.contains(&format!("  {quant}")), "every file is listed with its plan: {err}");
    }
    let quant = library::quant_of(&expected).unwrap();
    assert!(err.contains(&format!("Recommended here: {quant}")), "expected {quant}: {err}");
    assert!(home.join("models/org/Tiny-GGUF").join(&expected).exists(), "{err}");
    let others = planned.iter().filter(|f| f.name != expected).count();
    assert_eq!(std::fs::read_dir(home.join("models/org/Tiny-GGUF")).unwrap().count(), 1, "only the recommended file, not the {others} others");
    let _ = std::fs::remove_dir_all(&dir);
}
