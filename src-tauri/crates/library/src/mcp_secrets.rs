//! MCP servers' secrets: the values of their `env` and `headers` (API keys, bearer tokens) are kept
//! out of `mcp.json`, in the operating system's keychain (or, where none answers, a private file in
//! the home's `secrets/`, as the Hub token is), one entry per server. The file holds
//! [`KEPT`] in their place, so it can be shown, edited and shared without them; a value typed
//! over the marker is taken in at the next save. `fill` puts them back into a server's spec
//! before it starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::token::{keychain_for, Keychain, Secret};
use crate::Result;

/// What `mcp.json` holds in place of a value Hearth keeps.
pub const KEPT: &str = "(kept by Hearth)";

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Kept {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Where a server's values are kept: the keychain entry `mcp:NAME`, else a private file named
/// after the server (hex, so that any name makes a file name).
fn secret(home: &Path, server: &str, keychain: &dyn Fn(&str) -> Box<dyn Keychain>) -> Secret {
    let file: String = server.bytes().map(|b| format!("{b:02x}")).collect();
    Secret::new(keychain(&format!("mcp:{server}")), home.join("secrets").join(format!("mcp-{file}.json")))
}

fn read(secret: &Secret) -> Kept {
    secret.get().and_then(|(json, _)| serde_json::from_str(&json).ok()).unwrap_or_default()
}

/// Takes every value in the servers' `env` and `headers` that is not already kept into the
/// keychain, and leaves [`KEPT`] in its place. A name no longer in a server's spec is forgotten.
pub fn keep(config: &mut mcp::McpConfig, home: &Path) -> Result<()> {
    keep_in(config, home, &keychain_for)
}

fn keep_in(config: &mut mcp::McpConfig, home: &Path, keychain: &dyn Fn(&str) -> Box<dyn Keychain>) -> Result<()> {
    for (name, spec) in &mut config.servers {
        let secret = secret(home, name, keychain);
        let before = read(&secret);
        let mut kept = Kept::default();
        for (map, old, new) in [(&mut spec.env, &before.env, &mut kept.env), (&mut spec.headers, &before.headers, &mut kept.headers)] {
            for (key, value) in map.iter_mut() {
                if value == KEPT {
                    if let Some(v) = old.get(key) {
                        new.insert(key.clone(), v.clone());
                    }
                } else {
                    new.insert(key.clone(), std::mem::replace(value, KEPT.to_string()));
                }
            }
        }
        if kept == before {
            continue;
        }
        if kept == Kept::default() {
            secret.clear("an MCP server's keys")?;
        } else {
            secret.set(&serde_json::to_string(&kept).unwrap_or_default(), "an MCP server's keys")?;
        }
    }
    Ok(())
}

/// Puts the kept values back into a server's spec; a value that is gone is an error that says so.
pub fn fill(home: PathBuf) -> mcp::Fill {
    Arc::new(move |server: &str, spec: &mut mcp::Spec| fill_in(&home, server, spec, &keychain_for))
}

fn fill_in(home: &Path, server: &str, spec: &mut mcp::Spec, keychain: &dyn Fn(&str) -> Box<dyn Keychain>) -> std::result::Result<(), mcp::McpError> {
    let wanted = spec.env.values().chain(spec.headers.values()).any(|v| v == KEPT);
    if !wanted {
        return Ok(());
    }
    let kept = read(&secret(home, server, keychain));
    for (map, from) in [(&mut spec.env, &kept.env), (&mut spec.headers, &kept.headers)] {
        for (key, value) in map.iter_mut().filter(|(_, v)| *v == KEPT) {
            *value = from.get(key).cloned().ok_or_else(|| mcp::McpError::SecretMissing { server: server.into(), name: key.clone() })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keychain that holds entries in memory, shared by name.
    #[derive(Clone, Default)]
    struct Memory(Arc<std::sync::Mutex<BTreeMap<String, String>>>);

    struct Entry(Memory, String);

    impl Keychain for Entry {
        fn get(&self) -> std::result::Result<Option<String>, String> {
            Ok(self.0 .0.lock().unwrap().get(&self.1).cloned())
        }
        fn set(&self, secret: &str) -> std::result::Result<(), String> {
            self.0 .0.lock().unwrap().insert(self.1.clone(), secret.into());
            Ok(())
        }
        fn delete(&self) -> std::result::Result<(), String> {
            self.0 .0.lock().unwrap().remove(&self.1);
            Ok(())
        }
    }

    fn home(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearth-mcp-secrets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn config() -> mcp::McpConfig {
        let mut c = mcp::McpConfig::default();
        let mut spec = mcp::Spec::stdio("node", ["server.js"]);
        spec.env.insert("API_KEY".into(), "s3cret".into());
        spec.env.insert("DEBUG".into(), "1".into());
        c.servers.insert("search".into(), spec);
        let mut web = mcp::Spec::http("https://example.com/mcp");
        web.headers.insert("Authorization".into(), "Bearer abc".into());
        c.servers.insert("web".into(), web);
        c
    }

    #[test]
    fn values_leave_the_file_for_the_keychain_and_come_back_when_a_server_starts() {
        let home = home("keychain");
        let memory = Memory::default();
        let keychain = |account: &str| -> Box<dyn Keychain> { Box::new(Entry(memory.clone(), account.to_string())) };
        let mut c = config();
        keep_in(&mut c, &home, &keychain).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("s3cret") && !text.contains("Bearer abc"), "{text}");
        assert_eq!(c.servers["search"].env["API_KEY"], KEPT);
        assert!(memory.0.lock().unwrap()["mcp:search"].contains("s3cret"));
        assert!(!home.join("secrets").exists(), "nothing in a file when the keychain answers");

        // Saved again as it is now (markers): the values stay; a new value typed over one is taken.
        c.servers.get_mut("search").unwrap().env.insert("DEBUG".into(), "2".into());
        keep_in(&mut c, &home, &keychain).unwrap();
        let mut spec = c.servers["search"].clone();
        fill_in(&home, "search", &mut spec, &keychain).unwrap();
        assert_eq!((spec.env["API_KEY"].as_str(), spec.env["DEBUG"].as_str()), ("s3cret", "2"));
        let mut web = c.servers["web"].clone();
        fill_in(&home, "web", &mut web, &keychain).unwrap();
        assert_eq!(web.headers["Authorization"], "Bearer abc");

        // A name taken out of the spec is forgotten; a kept value that is gone says so.
        c.servers.get_mut("search").unwrap().env.remove("API_KEY");
        keep_in(&mut c, &home, &keychain).unwrap();
        assert!(!memory.0.lock().unwrap()["mcp:search"].contains("s3cret"));
        memory.0.lock().unwrap().clear();
        let e = fill_in(&home, "web", &mut c.servers["web"].clone(), &keychain).unwrap_err();
        assert!(e.to_string().contains("needs `Authorization`, which Hearth no longer has"), "{e}");
        std::fs::remove_dir_all(&home).ok();
    }

    #[test]
    fn without_a_keychain_they_go_to_a_private_file() {
        let home = home("file");
        let none = |_: &str| -> Box<dyn Keychain> { Box::new(crate::token::NoKeychain) };
        let mut c = config();
        keep_in(&mut c, &home, &none).unwrap();
        let files: Vec<PathBuf> = std::fs::read_dir(home.join("secrets")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert!(files.iter().all(|f| std::fs::metadata(f).unwrap().permissions().mode() & 0o777 == 0o600));
        }
        let mut spec = c.servers["search"].clone();
        fill_in(&home, "search", &mut spec, &none).unwrap();
        assert_eq!(spec.env["API_KEY"], "s3cret");
        std::fs::remove_dir_all(&home).ok();
    }
}
