//! `hearth mcp` against the reference `everything` server (tests/setup/mcp-servers.sh): a server
//! added (the exact command shown, secrets masked, nothing added without a yes), listed with its
//! state and tools, a tool called, a missing command's sentence, servers imported from Claude
//! Desktop's file as it is, and a malformed mcp.json named with its line.

use std::process::{Command, Output, Stdio};

fn hearth(args: &[&str], home: &std::path::Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HEARTH_HOME", home)
        // Never the keychain of the person running the tests: kept values go to the home's secrets/.
        .env("HEARTH_NO_KEYCHAIN", "1")
        // Hearth's own secrets are not for the servers it starts.
        .env("HF_TOKEN", "hf_must_not_reach_servers")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hearth");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).ok();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
fn servers_are_added_listed_called_and_imported() {
    let home = std::env::temp_dir().join(format!("hearth-cli-mcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let script = testkit::mcp_server("everything").display().to_string();

    let no = hearth(&["mcp", "add", "everything", "--env", "API_KEY=s3cret", "--", "node", &script, "stdio"], &home, "n\n");
    let (_, err) = text(&no);
    assert!(err.contains(&format!("API_KEY=•••• node {script} stdio")), "the exact command, the key masked: {err}");
    assert!(!err.contains("s3cret"));
    assert!(err.contains("Nothing was added."), "{err}");
    assert!(!home.join("mcp.json").exists());

    let yes = hearth(&["mcp", "add", "everything", "--env", "API_KEY=s3cret", "--", "node", &script, "stdio"], &home, "y\n");
    assert!(yes.status.success(), "{:?}", text(&yes));
    // The key is kept out of mcp.json (in the keychain, or here a private file), and still
    // reaches the server.
    let file = std::fs::read_to_string(home.join("mcp.json")).unwrap();
    assert!(!file.contains("s3cret") && file.contains("\"API_KEY\": \"(kept by Hearth)\""), "{file}");
    let env = hearth(&["mcp", "call", "everything", "get-env"], &home, "");
    assert!(text(&env).0.contains("s3cret"), "the server is given the key: {:?}", text(&env));
    assert!(!text(&env).0.contains("hf_must_not_reach_servers"), "nor Hearth's own environment");
    assert!(text(&env).0.contains("\"PATH\""), "but what a program needs to run");
    let broken = hearth(&["mcp", "add", "broken", "--yes", "--", "hearth-no-such-command"], &home, "");
    assert!(broken.status.success());

    let ls = hearth(&["mcp", "ls", "--json"], &home, "");
    let (out, err) = text(&ls);
    assert!(ls.status.success(), "{err}");
    let statuses: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(statuses[0]["name"], "broken");
    assert_eq!(statuses[0]["state"], "failed");
    assert!(statuses[0]["reason"].as_str().unwrap().contains("`hearth-no-such-command` was not found on the PATH searched"), "{out}");
    assert_eq!(statuses[1]["state"], "ready");
    assert!(statuses[1]["tools"].as_array().unwrap().iter().any(|t| t["name"] == "get-sum" && t["read_only"] == true), "{out}");
    assert!(!out.contains("s3cret"), "no secret in what is listed");

    let call = hearth(&["mcp", "call", "everything", "get-sum", r#"{"a": 1, "b": 41}"#], &home, "");
    let (out, err) = text(&call);
    assert!(call.status.success(), "{err}");
    assert!(out.contains("42"), "{out}");

    // Claude Desktop's file, as it is: other settings beside `mcpServers`.
    let claude = home.join("claude_desktop_config.json");
    std::fs::write(&claude, format!(r#"{{"globalShortcut": "", "mcpServers": {{"everything": {{"command": "x"}}, "sum": {{"command": "node", "args": ["{script}", "stdio"]}}}}}}"#)).unwrap();
    let import = hearth(&["mcp", "import", claude.to_str().unwrap()], &home, "");
    let (_, err) = text(&import);
    assert!(import.status.success(), "{err}");
    assert!(err.contains("Imported sum"), "a name already here is not taken again: {err}");

    // A malformed file: the line is named, and nothing is written over it.
    std::fs::write(home.join("mcp.json"), "{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\", }\n}\n").unwrap();
    let bad = hearth(&["mcp", "ls"], &home, "");
    let (_, err) = text(&bad);
    assert!(!bad.status.success());
    assert!(err.contains("is not valid JSON at line 3"), "{err}");
    assert!(std::fs::read_to_string(home.join("mcp.json")).unwrap().contains("\"x\", }"), "the file is left as it was");
    std::fs::remove_dir_all(&home).ok();
}

/// `hearth chat MODEL --mcp` (issue 31, item 3): the test model's first answer held to a call,
/// asked on the terminal: no → denied, and the model is told; yes → run, its result shown.
#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_mcp_servers, ignore = "needs the reference MCP servers: make test-model")]
fn hearth_chat_asks_on_the_terminal_before_a_tool_runs() {
    let home = std::env::temp_dir().join(format!("hearth-cli-mcp-chat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let folder = home.join("notes");
    std::fs::create_dir_all(&folder).unwrap();
    let script = testkit::mcp_server("filesystem").display().to_string();
    let config = serde_json::json!({"mcpServers": {"files": {"command": "node", "args": [script, folder.display().to_string()]}}});
    std::fs::write(home.join("mcp.json"), config.to_string()).unwrap();
    let model = testkit::test_model().display().to_string();
    let args = ["chat", &model, "--temp", "0", "--max-tokens", "24", "--mcp", "files", "--call-first", "list_allowed_directories"];
    let (ok, err) = converse(&args, &home, &[("Which folders can you read?", "n"), ("Try again.", "y")]);
    assert!(ok, "{err}");
    assert!(err.lines().any(|l| l.starts_with("files: ") && l.ends_with(" tools")), "the server's tools are counted: {err}");
    assert!(err.contains("Run files › list_allowed_directories {}? [y]es once, [a]lways, [N]o:"), "asked: {err}");
    assert!(err.contains("(denied)"), "{err}");
    assert!(err.contains("This model's chat template has no place for tools"), "a model without tools in its template is said to be so: {err}");
    assert!(err.contains(&format!("[files › list_allowed_directories: done] Allowed directories:\n{}", folder.display())), "{err}");
    std::fs::remove_dir_all(&home).ok();
}

/// Talks with `hearth chat` as a person at the terminal would: each message is typed when it asks
/// for one ("> "), the first question about a call after a message gets that message's answer, and
/// any further question (a small model may call again of its own accord, and its words are not the
/// same on every CPU) a no; `/exit` at the end. Whether it exited well, and its stderr.
fn converse(args: &[&str], home: &std::path::Path, turns: &[(&str, &str)]) -> (bool, String) {
    use std::io::{Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HEARTH_HOME", home)
        .env("HEARTH_NO_KEYCHAIN", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hearth");
    let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let err = err.clone();
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let (mut sent, mut answered, mut asked_at_send) = (0usize, 0usize, 0usize);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "hearth chat did not finish: {}", err.lock().unwrap());
        let (asked, ready) = {
            let e = err.lock().unwrap();
            (e.matches("[N]o: ").count(), e.matches("\n> ").count())
        };
        if asked > answered {
            let first_after_message = answered == asked_at_send && sent > 0;
            let answer = if first_after_message { turns[sent - 1].1 } else { "n" };
            writeln!(stdin, "{answer}").unwrap();
            answered += 1;
        } else if ready > sent {
            let line = turns.get(sent).map_or("/exit", |t| t.0);
            writeln!(stdin, "{line}").unwrap();
            asked_at_send = asked;
            sent += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ok = child.wait().unwrap().success();
    reader.join().ok();
    let err = err.lock().unwrap().clone();
    (ok, err)
}
