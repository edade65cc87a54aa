//! `hearth serve` as a script would use it: the address on stdout, the model loaded at start
//! answering a chat completion, a clean stop on SIGTERM (exit 0); and a refusal, before anything
//! loads, to listen beyond this computer without a key; a key read from `--api-key-file` (the key
//! or its digest), never from two places at once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn home(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-cli-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn listening_beyond_this_computer_needs_a_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .env("HEARTH_HOME", home("nokey"))
        .env_remove("HEARTH_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("key"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn serve_answers_a_chat_completion_and_stops_cleanly() {
    let model = testkit::test_model();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0", "--model", model.to_str().unwrap(), "--ctx", "1024"])
        .env("HEARTH_HOME", home("ok"))
        // Keep the person's other apps' folders out of the list.
        .env("HF_HUB_CACHE", home("ok-hf"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v1"), "{base:?}");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
        let models: serde_json::Value = http.get(format!("{base}/models")).send().await.unwrap().json().await.unwrap();
        let id = models["data"][0]["id"].as_str().unwrap().to_string();
        assert!(id.contains("SmolLM2"), "{models}");
        let body =
            serde_json::json!({"model": id, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0});
        let resp = http.post(format!("{base}/chat/completions")).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert!(!answer["choices"][0]["message"]["content"].as_str().unwrap().is_empty(), "{answer}");
        assert!(answer["usage"]["completion_tokens"].as_u64().unwrap() <= 8);
        // `--ctx` is the context the model was planned and loaded with (issue 31).
        let root = base.trim_end_matches("/v1");
        let states: serde_json::Value = http.get(format!("{root}/api/models")).send().await.unwrap().json().await.unwrap();
        assert_eq!(states["data"][0]["fit"]["context"], 1024, "{states}");
    });

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a stop by SIGTERM is a clean exit");
}

/// Starts `hearth serve` on a free port with `args`; returns it and its base URL.
fn serve_with(name: &str, args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0"])
        .args(args)
        .env("HEARTH_HOME", home(name))
        .env("HF_HUB_CACHE", home(&format!("{name}-hf")))
        .env_remove("HEARTH_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().to_string())
}

/// The status of `GET /v1/models` with `key` (or none).
fn models_status(base: &str, key: Option<&str>) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut r = reqwest::Client::new().get(format!("{base}/models"));
        if let Some(key) = key {
            r = r.bearer_auth(key);
        }
        r.send().await.unwrap().status().as_u16()
    })
}

#[test]
fn the_key_can_come_from_a_file_holding_the_key_or_its_digest() {
    let dir = home("keyfile");
    let key = "hearth-0123456789abcdef";
    for (name, content) in [("key", format!("{key}\n")), ("digest", format!("{}\n", server::KeyDigest::stored(key)))] {
        let file = dir.join(name);
        std::fs::write(&file, content).unwrap();
        let (mut child, base) = serve_with(&format!("keyfile-{name}"), &["--api-key-file", file.to_str().unwrap()]);
        assert!(base.ends_with("/v1"), "{base:?}");
        assert_eq!(models_status(&base, None), 401, "{name}: no key");
        assert_eq!(models_status(&base, Some("wrong")), 401, "{name}: a wrong key");
        assert_eq!(models_status(&base, Some(key)), 200, "{name}: the key");
        child.kill().ok();
        child.wait().ok();
    }

    // Two keys are one too many; an empty file is none.
    let file = dir.join("key");
    let both = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0", "--api-key-file", file.to_str().unwrap()])
        .env("HEARTH_HOME", home("keyfile-both"))
        .env("HEARTH_API_KEY", "other")
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&both.stderr).contains("one way"), "{}", String::from_utf8_lossy(&both.stderr));
    std::fs::write(dir.join("empty"), "\n").unwrap();
    let empty = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0", "--api-key-file", dir.join("empty").to_str().unwrap()])
        .env("HEARTH_HOME", home("keyfile-empty"))
        .env_remove("HEARTH_API_KEY")
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(1));
}

/// `hearth run --endpoint` and `hearth ls --remote` against `hearth serve` with a key: Hearth on a
/// rented GPU, reached from another Hearth. The reply streams to stdout with its figures on stderr;
/// a wrong key and a connection that does not exist are one line each and exit 1.
#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn another_hearth_runs_a_prompt_on_this_one() {
    let model = testkit::test_model();
    let key = "sk-rented-gpu-5d1e0c77";
    let (mut child, base) = serve_with("endpoint", &["--api-key", key, "--model", model.to_str().unwrap()]);
    let id = model.file_stem().unwrap().to_string_lossy().into_owned();
    let client = home("endpoint-client");
    let hearth = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(args)
            .env("HEARTH_HOME", &client)
            .env("HEARTH_NO_KEYCHAIN", "1")
            .env_remove("HEARTH_REMOTE_KEY")
            .output()
            .unwrap()
    };

    let out = hearth(&["run", "--endpoint", &base, "--api-key", key, &id, "Say hi.", "--max-tokens", "8", "--temp", "0"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stdout.trim().is_empty(), "the reply streams to stdout");
    let base_url = base.trim_end_matches("/v1");
    assert!(stderr.contains(" tokens/s · first token ") && stderr.trim_end().ends_with(&format!("on {base_url}")), "{stderr}");

    let out = hearth(&["run", "--endpoint", &base, "--api-key", "sk-not-it-000", &id, "Say hi."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.starts_with(&format!("hearth: {base_url} refused the key (HTTP 401).")) && stderr.lines().count() == 1, "{stderr}");

    let out = hearth(&["run", "--endpoint", "GPU box", &id, "Say hi."]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "hearth: no connection named \"GPU box\" (saved: none); give an address such as http://127.0.0.1:8080 instead"
    );
    let out = hearth(&["ls", "--remote"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "No connections yet: add one in the app's Settings → Connections.");

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
