//! Starting a stdio server's command the way a desktop app must: found on a PATH that holds what a
//! terminal would find (a GUI app on macOS does not inherit the login shell's PATH, so `npx` from
//! Homebrew or nvm is "not found" there unless the shell is asked), `npx.cmd` found for `npx` on
//! Windows, and started in a process group of its own (a Job Object on Windows) so that the server
//! and whatever it started are gone together when Hearth stops it or quits.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use process_wrap::tokio::CommandWrap;

use crate::error::McpError;

/// The folders a command is looked for in, in order: the environment's PATH, then (on macOS) the
/// login shell's and the usual package managers' folders.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for extra in extra_dirs() {
        if !dirs.contains(extra) {
            dirs.push(extra.clone());
        }
    }
    dirs
}

/// What a terminal's PATH has and a GUI app's lacks: on macOS, the login shell's PATH (asked once)
/// and Homebrew's and the system's local folders. Nothing elsewhere.
fn extra_dirs() -> &'static [PathBuf] {
    static EXTRA: OnceLock<Vec<PathBuf>> = OnceLock::new();
    EXTRA.get_or_init(|| {
        if !cfg!(target_os = "macos") {
            return Vec::new();
        }
        let mut dirs = login_shell_path();
        dirs.extend(["/opt/homebrew/bin", "/usr/local/bin"].map(PathBuf::from));
        dirs
    })
}

/// The PATH of the person's login shell (`$SHELL -ilc`), within two seconds, or nothing.
fn login_shell_path() -> Vec<PathBuf> {
    let shell = std::env::var_os("SHELL").unwrap_or_else(|| OsString::from("/bin/zsh"));
    let mut child = match std::process::Command::new(shell)
        .args(["-ilc", "printf '%s' \"$PATH\""])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return Vec::new(),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                use std::io::Read;
                stdout.read_to_string(&mut out).ok();
            }
            return std::env::split_paths(out.trim()).collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().ok();
    Vec::new()
}

/// The program `command` names: itself when it is a path, else the first match on `dirs` (on
/// Windows with each of PATHEXT's extensions too: `npx` is `npx.cmd` there).
pub fn resolve(command: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let named = Path::new(command);
    if named.components().count() > 1 || named.is_absolute() {
        return runnable(named).then(|| named.to_path_buf());
    }
    let extensions: Vec<String> = if cfg!(windows) {
        let pathext = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".into());
        std::iter::once(String::new()).chain(pathext.split(';').filter(|e| !e.is_empty()).map(str::to_lowercase)).collect()
    } else {
        vec![String::new()]
    };
    dirs.iter().flat_map(|dir| extensions.iter().map(move |ext| dir.join(format!("{command}{ext}")))).find(|p| runnable(p))
}

/// A file this user may run.
fn runnable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The variables of Hearth's environment a server is given (Unix's and Windows').
const INHERITED: &[&str] = &[
    "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "DISPLAY", "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "TEMP", "TMP", "USERPROFILE", "USERNAME", "APPDATA",
    "LOCALAPPDATA", "PROGRAMDATA", "PROGRAMFILES", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "HOMEDRIVE", "HOMEPATH",
    // Certificates and proxies, so that a server that reaches the network can.
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
];

/// The command for a stdio server, ready to spawn: the program found, its arguments, a small
/// environment (`INHERITED`, the PATH it was found on, so that `npx` finds `node`, then its own),
/// in its folder, in a process group of its own, killed when dropped.
pub fn command(server: &str, command: &str, args: &[String], env: &BTreeMap<String, String>, cwd: Option<&Path>) -> Result<CommandWrap, McpError> {
    let dirs = search_path();
    let program = resolve(command, &dirs).ok_or_else(|| McpError::NotFound { server: server.into(), command: command.into(), searched: dirs.clone() })?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    // A server is someone else's program: it gets what a program needs to run (where the user
    // is, the locale, temporary files), never Hearth's own environment (HF_TOKEN, an API key),
    // then the values mcp.json gives it. As Claude Desktop and the official SDKs do.
    cmd.env_clear();
    for (name, value) in std::env::vars_os().filter(|(n, _)| INHERITED.iter().any(|i| n.eq_ignore_ascii_case(i))) {
        cmd.env(name, value);
    }
    if let Ok(path) = std::env::join_paths(&dirs) {
        cmd.env("PATH", path);
    }
    cmd.envs(env);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let mut wrapped = CommandWrap::from(cmd);
    #[cfg(unix)]
    wrapped.wrap(process_wrap::tokio::ProcessGroup::leader());
    #[cfg(windows)]
    wrapped.wrap(process_wrap::tokio::JobObject);
    wrapped.wrap(process_wrap::tokio::KillOnDrop);
    Ok(wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_found_on_the_path_or_said_missing_with_the_path() {
        let dirs = search_path();
        let sh = resolve("sh", &dirs).expect("sh is on every Unix PATH");
        assert!(sh.is_absolute());
        assert_eq!(resolve(sh.to_str().unwrap(), &[]), Some(sh.clone()), "a full path is taken as it is");
        assert_eq!(resolve("hearth-no-such-command", &dirs), None);
        let e = command("s", "hearth-no-such-command", &[], &BTreeMap::new(), None).unwrap_err();
        let sentence = e.to_string();
        assert!(sentence.contains("`hearth-no-such-command` was not found on the PATH searched"), "{sentence}");
        assert!(sentence.contains(&dirs[0].display().to_string()), "the PATH searched is shown: {sentence}");
    }
}
