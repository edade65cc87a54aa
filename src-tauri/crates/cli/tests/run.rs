//! `hearth run`, `chat` and `bench` with the real test model, through the worker process the binary
//! starts as itself: a greedy reply is the same twice, a missing model is one clear line and exit
//! 1, and the bench's JSON has both speeds. Tests that need the model are ignored without it (testkit).

use std::process::{Command, Output, Stdio};

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-cli-run-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hearth(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth")).args(args).env("HEARTH_HOME", home).output().expect("run hearth")
}

fn model() -> String {
    testkit::test_model().to_string_lossy().into_owned()
}

/// Two engines spinning at once on a 2-core machine are many times slower than one after the other.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn a_greedy_run_prints_the_same_reply_twice() {
    let model = model();
    let _serial = one_at_a_time();
    let home = temp("greedy");
    let args = ["run", &model, "Name three colours.", "--temp", "0", "--max-tokens", "16"];
    let first = hearth(&args, &home);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(!text.trim().is_empty(), "no reply; stderr: {stderr}");
    assert!(stderr.contains("tokens/s") && stderr.contains("first token"), "no stats line: {stderr}");
    assert!(stderr.contains("stopped: max tokens") || stderr.contains("stopped: end of turn"), "{stderr}");
    let second = hearth(&args, &home);
    assert!(second.status.success());
    assert_eq!(String::from_utf8_lossy(&second.stdout), text);
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn a_missing_model_is_one_clear_line_and_exit_1() {
    let home = temp("missing");
    let out = hearth(&["run", "/no/such/model.gguf", "hello"], &home);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no model file at \"/no/such/model.gguf\""), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = hearth(&["run", "--temp"], &home);
    assert_eq!(out.status.code(), Some(2), "a usage error is clap's exit 2");
    std::fs::remove_dir_all(&home).ok();
}

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn bench_json_has_prompt_and_generation_speeds() {
    let model = model();
    let _serial = one_at_a_time();
    let home = temp("bench");
    let out = hearth(&["bench", &model, "--json", "-p", "64", "-n", "16", "-r", "1"], &home);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let tests = v["tests"].as_array().expect("tests");
    let speed = |name: &str| {
        let t = tests.iter().find(|t| t["test"] == name).unwrap_or_else(|| panic!("no {name} in {v}"));
        t["tokensPerSecond"].as_f64().expect("t/s")
    };
    assert!(speed("pp64") > 0.0 && speed("tg16") > 0.0, "{v}");
    assert!(v["threads"].as_u64().unwrap() >= 1);
    std::fs::remove_dir_all(&home).ok();
}

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn chat_keeps_the_conversation_and_reuses_the_prefix() {
    let model = model();
    let _serial = one_at_a_time();
    let home = temp("chat");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["chat", &model, "--temp", "0", "--max-tokens", "8", "--system", "Be brief."])
        .env("HEARTH_HOME", &home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hearth chat");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"Hello!\nWhat is the sea?\n/reset\nHello!\n").expect("write");
        // Closing stdin is Ctrl-D: the chat ends.
    }
    let out = child.wait_with_output().expect("chat ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stats: Vec<&str> = stderr.lines().filter(|l| l.contains("tokens/s")).collect();
    assert_eq!(stats.len(), 3, "a stats line per reply: {stderr}");
    let reused = |line: &str| -> u32 {
        let at = line.find(" reused)").expect("reused figure");
        line[..at].rsplit('(').next().unwrap().trim().parse().unwrap()
    };
    assert!(reused(stats[1]) > 0, "turn 2 reuses turn 1's prefix: {}", stats[1]);
    assert!(stderr.contains("(a new conversation)"));
    std::fs::remove_dir_all(&home).ok();
}
