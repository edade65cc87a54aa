//! The `hearth` binary as a script sees it: its output, its JSON and its exit codes.

use std::process::Command;

fn hearth(args: &[&str], home: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth")).args(args).env("HEARTH_HOME", home).output().expect("run hearth")
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fit_json_gives_the_verdict_and_bytes_per_device_for_an_imagined_machine() {
    let dir = temp("fit");
    let model = dir.join("Llama-70B-Q4_K_M.gguf");
    gguf::synthetic::model(&gguf::synthetic::llama3_70b(), gguf::synthetic::Quant::Q4KM, false).write_sparse(&model).unwrap();
    let m = model.to_str().unwrap();

    let out = hearth(&["fit", m, "--gpu", "RTX 4090", "--ram", "64GB", "--json"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["verdict"], "yellow");
    assert_eq!(plan["mode"], "partialGpu");
    let devices = plan["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert!(devices.iter().all(|d| d["totalBytes"].as_u64().unwrap() > 1 << 30));

    let out = hearth(&["fit", m, "--gpu", "RTX 3090", "--gpus", "2", "--ram", "64"], &dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verdict   green — Full GPU"), "{text}");
    assert!(text.contains("RTX 3090 ×2"), "{text}");

    let out = hearth(&["fit", m, "--ram", "16GB"], &dir);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verdict   red — Too large"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_fails_with_a_sentence_and_a_nonzero_exit() {
    let dir = temp("bad");
    let junk = dir.join("junk.gguf");
    std::fs::write(&junk, b"this is not a model").unwrap();
    let out = hearth(&["fit", junk.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a GGUF file"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = hearth(&["fit", junk.to_str().unwrap(), "--gpu", "Voodoo 2"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let out = hearth(&["probe", "--json"], &dir);
    assert!(out.status.success());
    let profile: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(profile["memory"]["totalBytes"].as_u64().unwrap() > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--endpoint URL` with plain http to a machine on the internet is refused before anything is
/// sent: the key and the conversation would cross it unencrypted.
#[test]
fn plain_http_to_a_machine_on_the_internet_is_refused() {
    let dir = temp("plain-http");
    let out = hearth(&["run", "--endpoint", "http://gpu.example.com:8000", "--api-key", "sk-0123456789", "m", "Hi"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plain http") && err.contains("https://"), "{err}");
}

// A database from a newer Hearth is refused, and the person is told why and what to do: the
// sentence is the store's own (a typed error), not "could not open its database" with the reason
// hidden in details no one is shown.
#[test]
fn a_database_from_a_newer_hearth_says_update_hearth() {
    let home = temp("newer-db");
    let out = hearth(&["ls"], &home);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = home.join("hearth.sqlite3");
    let bumped = Command::new("python3")
        .args(["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version = 999'); c.commit()"])
        .arg(&db)
        .status()
        .expect("python3 runs");
    assert!(bumped.success());
    let out = hearth(&["ls"], &home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("newer Hearth (schema 999") && stderr.contains("update Hearth"), "{stderr}");
}
