//! `mcp.json`: the MCP servers Hearth may start, in the notation Cursor, LM Studio and Claude
//! Desktop share, so that a file from any of them can be copied in as it is:
//!
//! ```json
//! { "mcpServers": {
//!     "files": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/ann/notes"],
//!                "env": { "DEBUG": "1" } },
//!     "search": { "url": "https://example.com/mcp", "headers": { "Authorization": "Bearer …" } } } }
//! ```
//!
//! Hearth reads two more fields per server, which the others ignore: `timeout` (seconds a call may
//! go without progress, 30 by default) and `disabled`. Env values and headers may hold secrets: they
//! are never logged or shown (`Spec::shown` masks them) and never reach the model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::McpError;

/// How long a call may go without an answer or a progress notification, unless a server says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The file's whole content: servers by name, in name order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct McpConfig {
    #[serde(rename = "mcpServers", default)]
    pub servers: BTreeMap<String, Spec>,
}

/// One server: a command to start (stdio), or an address (streamable HTTP).
/// Fields other apps add (Cline's `autoApprove`, …) are read past: the file must work as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The folder the command starts in (Claude Desktop's and Cursor's files may carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Cursor's transport hint (`stdio`, `http`, `streamable-http`, `sse`); the fields decide.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Seconds a call may go without progress (Hearth's own field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Kept in the file but not started (Hearth's own field; Claude Desktop's files carry it too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// How a server is reached, once its spec is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Stdio { command: String, args: Vec<String>, env: BTreeMap<String, String>, cwd: Option<PathBuf> },
    Http { url: String, headers: BTreeMap<String, String> },
}

impl Spec {
    /// A command to start over stdio.
    pub fn stdio(command: impl Into<String>, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { command: Some(command.into()), args: args.into_iter().map(Into::into).collect(), ..Self::empty() }
    }

    /// A server at an address, over streamable HTTP.
    pub fn http(url: impl Into<String>) -> Self {
        Self { url: Some(url.into()), ..Self::empty() }
    }

    fn empty() -> Self {
        Self { command: None, args: Vec::new(), env: BTreeMap::new(), cwd: None, url: None, headers: BTreeMap::new(), kind: None, timeout: None, disabled: false }
    }

    /// How it is reached: a command or a URL, not both and not neither; SSE (the transport MCP
    /// replaced in 2025) is refused by name.
    pub fn transport(&self, name: &str) -> Result<Transport, McpError> {
        if self.kind.as_deref() == Some("sse") {
            return Err(McpError::Spec { server: name.into(), reason: "uses the SSE transport, which MCP replaced with streamable HTTP; Hearth speaks stdio and streamable HTTP".into() });
        }
        match (&self.command, &self.url) {
            (Some(command), None) if !command.trim().is_empty() => {
                Ok(Transport::Stdio { command: command.clone(), args: self.args.clone(), env: self.env.clone(), cwd: self.cwd.clone() })
            }
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Transport::Http { url: url.clone(), headers: self.headers.clone() })
            }
            (None, Some(url)) => Err(McpError::Spec { server: name.into(), reason: format!("has the address {url:?}, which is not an http:// or https:// URL") }),
            (Some(_), Some(_)) => Err(McpError::Spec { server: name.into(), reason: "has both a `command` and a `url`; give one".into() }),
            _ => Err(McpError::Spec { server: name.into(), reason: "needs a `command` to start or a `url` to reach".into() }),
        }
    }

    /// How long a call may go without progress.
    pub fn call_timeout(&self) -> Duration {
        self.timeout.filter(|t| *t > 0).map_or(DEFAULT_TIMEOUT, Duration::from_secs)
    }

    /// The exact command it runs, or the address it reaches, as the person is shown it before
    /// consenting: env values, header values and the passwords of URLs masked, names shown.
    pub fn shown(&self) -> String {
        let masked = |map: &BTreeMap<String, String>| map.keys().map(|k| format!("{k}=••••")).collect::<Vec<_>>();
        match (&self.command, &self.url) {
            (Some(command), _) => {
                let mut parts = masked(&self.env);
                parts.push(shell_word(command));
                parts.extend(self.args.iter().map(|a| mask_password(&shell_word(a))));
                parts.join(" ")
            }
            (None, Some(url)) => {
                let url = mask_password(url);
                let headers = masked(&self.headers);
                if headers.is_empty() {
                    url
                } else {
                    format!("{url} (headers: {})", headers.join(", "))
                }
            }
            (None, None) => String::new(),
        }
    }
}

/// `word` with the password of any URL in it masked (`postgresql://ann:••••@db/x`): arguments and
/// addresses are shown as written, and a connection string may carry one.
pub(crate) fn mask_password(word: &str) -> String {
    let Some(scheme) = word.find("://") else { return word.to_string() };
    let rest = &word[scheme + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return word.to_string() };
    let Some(colon) = rest[..at].find(':') else { return word.to_string() };
    format!("{}{}:••••{}", &word[..scheme + 3], &rest[..colon], &rest[at..])
}

/// A word as a shell would need it written (quoted when it has spaces or quotes).
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@:=+,%".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

impl McpConfig {
    /// Reads a file in the shared notation. A missing file is no servers; a malformed one is an
    /// error naming the line and column (the rest of Hearth's settings are elsewhere and untouched).
    pub fn read(path: &Path) -> Result<Self, McpError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(McpError::Unreadable { path: path.to_path_buf(), why: e.to_string() }),
        };
        Self::parse(&text).map_err(|e| match e {
            McpError::Malformed { line, column, reason, .. } => McpError::Malformed { path: path.to_path_buf(), line, column, reason },
            other => other,
        })
    }

    /// Parses the notation (an empty text is no servers).
    pub fn parse(text: &str) -> Result<Self, McpError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(text).map_err(|e| McpError::Malformed {
            path: PathBuf::from("mcp.json"),
            line: e.line(),
            column: e.column(),
            reason: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
        })
    }

    /// Writes the file whole (through a temporary file, so a crash leaves the old one).
    pub fn write(&self, path: &Path) -> Result<(), McpError> {
        let unwritable = |e: std::io::Error| McpError::Unreadable { path: path.to_path_buf(), why: e.to_string() };
        let text = serde_json::to_string_pretty(self).map_err(|e| McpError::Unreadable { path: path.to_path_buf(), why: e.to_string() })?;
        let temporary = path.with_extension("json.tmp");
        // This user's alone: env values and headers may be keys.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(unwritable)?;
        std::io::Write::write_all(&mut file, (text + "\n").as_bytes()).map_err(unwritable)?;
        drop(file);
        std::fs::rename(&temporary, path).map_err(unwritable)
    }

    /// Adds the servers of another app's file (LM Studio's `mcp.json`, Claude Desktop's
    /// `claude_desktop_config.json`): those whose name is new here; the names taken.
    pub fn import(&mut self, other: McpConfig) -> Vec<String> {
        let mut taken = Vec::new();
        for (name, spec) in other.servers {
            if !self.servers.contains_key(&name) {
                self.servers.insert(name.clone(), spec);
                taken.push(name);
            }
        }
        taken
    }
}

/// Where the other desktop apps keep their MCP servers on this system, for Settings' import.
pub fn other_apps_files() -> Vec<(&'static str, PathBuf)> {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).map(PathBuf::from).unwrap_or_default();
    let mut files = vec![("LM Studio", home.join(".lmstudio").join("mcp.json")), ("Cursor", home.join(".cursor").join("mcp.json"))];
    let claude = if cfg!(target_os = "macos") {
        home.join("Library/Application Support/Claude/claude_desktop_config.json")
    } else if cfg!(windows) {
        std::env::var_os("APPDATA").map(PathBuf::from).unwrap_or_default().join("Claude").join("claude_desktop_config.json")
    } else {
        home.join(".config/Claude/claude_desktop_config.json")
    };
    files.push(("Claude Desktop", claude));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_lm_studio_and_claude_desktop_files_read_as_they_are() {
        // Claude Desktop's file holds other settings beside `mcpServers`.
        let text = r#"{
          "globalShortcut": "",
          "mcpServers": {
            "files": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/ann/My Notes"], "env": { "TOKEN": "s3cret" } },
            "search": { "url": "https://example.com/mcp", "headers": { "Authorization": "Bearer abc" }, "type": "http" },
            "slow": { "command": "node", "args": ["x.js"], "timeout": 120, "disabled": true }
          }
        }"#;
        let config = McpConfig::parse(text).unwrap();
        assert_eq!(config.servers.len(), 3);
        let files = &config.servers["files"];
        assert!(matches!(files.transport("files").unwrap(), Transport::Stdio { ref command, .. } if command == "npx"));
        assert_eq!(files.shown(), "TOKEN=•••• npx -y @modelcontextprotocol/server-filesystem '/home/ann/My Notes'");
        assert!(!files.shown().contains("s3cret"));
        let search = &config.servers["search"];
        assert_eq!(search.shown(), "https://example.com/mcp (headers: Authorization=••••)");
        assert_eq!(config.servers["slow"].call_timeout(), Duration::from_secs(120));
        assert_eq!(files.call_timeout(), DEFAULT_TIMEOUT);
        assert!(config.servers["slow"].disabled);
    }

    #[test]
    fn a_password_in_an_argument_or_an_address_is_masked() {
        let db = Spec::stdio("npx", ["-y", "@modelcontextprotocol/server-postgres", "postgresql://ann:hunter2@db.lan:5432/shop"]);
        assert_eq!(db.shown(), "npx -y @modelcontextprotocol/server-postgres postgresql://ann:••••@db.lan:5432/shop");
        assert_eq!(Spec::http("https://bot:t0ken@example.com/mcp?x=a@b").shown(), "https://bot:••••@example.com/mcp?x=a@b");
        for plain in ["https://example.com/mcp", "user@host", "https://ann@example.com/"] {
            assert_eq!(mask_password(plain), plain);
        }
    }

    #[test]
    fn a_malformed_file_names_its_line_and_a_bad_server_says_why() {
        let e = McpConfig::parse("{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\", }\n  }\n}").unwrap_err();
        assert!(matches!(e, McpError::Malformed { line: 3, .. }), "{e:?}");
        let misspelt = McpConfig::parse(r#"{"mcpServers": {"a": {"comand": "x", "autoApprove": []}}}"#).unwrap();
        assert!(misspelt.servers["a"].transport("a").unwrap_err().to_string().contains("needs a `command`"));
        assert!(McpConfig::parse("").unwrap().servers.is_empty());
        for (spec, says) in [
            (Spec::empty(), "needs a `command`"),
            (Spec { url: Some("x".into()), ..Spec::stdio("a", ["b"]) }, "both"),
            (Spec::http("ftp://x"), "not an http"),
            (Spec { kind: Some("sse".into()), ..Spec::http("http://x") }, "SSE"),
        ] {
            let e = spec.transport("s").unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn a_file_is_written_back_and_imports_add_only_new_names() {
        let dir = std::env::temp_dir().join(format!("hearth-mcp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mcp.json");
        assert_eq!(McpConfig::read(&path).unwrap(), McpConfig::default(), "no file, no servers");
        let mut config = McpConfig::default();
        config.servers.insert("a".into(), Spec::stdio("node", ["a.js"]));
        config.write(&path).unwrap();
        assert_eq!(McpConfig::read(&path).unwrap(), config);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "env values may be keys");
        }
        let mut theirs = McpConfig::default();
        theirs.servers.insert("a".into(), Spec::stdio("other", Vec::<String>::new()));
        theirs.servers.insert("b".into(), Spec::http("http://127.0.0.1:3001/mcp"));
        assert_eq!(config.import(theirs), ["b"]);
        assert_eq!(config.servers["a"].command.as_deref(), Some("node"), "a name already here is kept");
        std::fs::remove_dir_all(&dir).ok();
    }
}
