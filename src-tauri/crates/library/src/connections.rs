//! The person's connections to engines on other machines (Settings → Connections): a name, an
//! address and the API it speaks, saved in the database; the key, when there is one, in the OS
//! keychain like the Hub token (or, where no keychain answers, in a file in Hearth's home that only
//! this user can read). The window and the CLI read the same ones.
//!
//! The key never goes back to the window: a connection shows only where its key is kept and a hint
//! of its last characters. [`Connections::endpoint`] is the one place that reads it, to talk to the
//! endpoint.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use store::Store;
use types::{ApiKind, Connection, ConnectionInput, TokenPlace};

use crate::token::{hint, keychain_for, Secret};
use crate::{LibraryError, Result};

const CONNECTIONS: &str = "connections";

/// A connection as the database keeps it (without its key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    id: String,
    name: String,
    base_url: String,
    kind: ApiKind,
    #[serde(default)]
    allow_plain_http: bool,
}

pub struct Connections<'a> {
    store: &'a Store,
    secrets: PathBuf,
}

impl<'a> Connections<'a> {
    /// The connections saved in `store`, with keys kept for Hearth's `home`.
    pub fn new(store: &'a Store, home: &Path) -> Self {
        Self { store, secrets: home.join("secrets") }
    }

    fn saved(&self) -> Vec<Saved> {
        self.store.setting(CONNECTIONS).ok().flatten().and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default()
    }

    fn write(&self, all: &[Saved]) -> Result<()> {
        let json = serde_json::to_string(all).map_err(|e| LibraryError::Invalid(e.to_string()))?;
        Ok(self.store.set_setting(CONNECTIONS, &json)?)
    }

    pub fn list(&self) -> Vec<Connection> {
        self.saved().into_iter().map(|s| self.shown(s)).collect()
    }

    fn shown(&self, s: Saved) -> Connection {
        let key = self.key(&s.id);
        Connection {
            key_hint: key.as_ref().map(|(k, _)| hint(k)),
            key_place: key.map(|(_, place)| place),
            id: s.id,
            name: s.name,
            base_url: s.base_url,
            kind: s.kind,
            allow_plain_http: s.allow_plain_http,
        }
    }

    /// Add a connection or change one, after checking every field: a bad one changes nothing.
    pub fn save(&self, input: &ConnectionInput) -> Result<Connection> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(LibraryError::Invalid("Give the connection a name (up to 80 characters).".into()));
        }
        let base_url = remote::base_url(&input.base_url).map_err(|e| LibraryError::Invalid(e.message))?;
        if remote::plain_over_internet(&base_url) && !input.allow_plain_http {
            return Err(LibraryError::Invalid(format!(
                "{base_url} is plain http to a machine beyond this computer and its network: the key and the conversations \
                 would cross the internet unencrypted. Use https://, or confirm plain http for this connection."
            )));
        }
        let key = input.key.as_deref().map(str::trim);
        if let Some(k) = key.filter(|k| !k.is_empty()) {
            if k.chars().any(|c| c.is_whitespace() || c.is_control()) || k.len() > 4096 {
                return Err(LibraryError::Invalid("That does not look like an API key (one word, no spaces).".into()));
            }
        }
        let mut all = self.saved();
        if all.iter().any(|s| s.name.eq_ignore_ascii_case(name) && Some(&s.id) != input.id.as_ref()) {
            return Err(LibraryError::Invalid(format!("There is already a connection named {name}.")));
        }
        let id = match &input.id {
            Some(id) if all.iter().any(|s| &s.id == id) => id.clone(),
            Some(_) => return Err(LibraryError::Invalid("That connection no longer exists.".into())),
            None => new_id(&all),
        };
        match key {
            Some("") => self.forget_key(&id)?,
            Some(k) => self.keep_key(&id, k)?,
            None => {}
        }
        let allow_plain_http = input.allow_plain_http && remote::plain_over_internet(&base_url);
        let saved = Saved { id: id.clone(), name: name.to_string(), base_url, kind: input.kind, allow_plain_http };
        match all.iter_mut().find(|s| s.id == id) {
            Some(s) => *s = saved.clone(),
            None => all.push(saved.clone()),
        }
        self.write(&all)?;
        Ok(self.shown(saved))
    }

    /// Remove a connection and its key. Only a saved connection's: the id names the key's file, and
    /// an id from the window (`../hearth.sqlite3`) must not name any other file.
    pub fn remove(&self, id: &str) -> Result<()> {
        let mut all = self.saved();
        let Some(at) = all.iter().position(|s| s.id == id) else {
            return Err(LibraryError::Invalid("There is no such connection.".into()));
        };
        all.remove(at);
        self.forget_key(id)?;
        self.write(&all)
    }

    /// A connection by id, or by name (case-insensitive) for the CLI's `--endpoint NAME`.
    pub fn find(&self, id_or_name: &str) -> Option<Connection> {
        // One listing: each reads every connection's key for its hint.
        let all = self.list();
        all.iter().find(|c| c.id == id_or_name).or_else(|| all.iter().find(|c| c.name.eq_ignore_ascii_case(id_or_name))).cloned()
    }

    /// How to talk to a connection: its address and its key.
    pub fn endpoint(&self, id: &str) -> Option<remote::Endpoint> {
        let s = self.saved().into_iter().find(|s| s.id == id)?;
        Some(remote::Endpoint { key: self.key(&s.id).map(|(k, _)| k), name: s.name, base_url: s.base_url, kind: s.kind })
    }

    /// Connection `id`'s key: in the keychain as `connection-ID`, else in `secrets/connection-ID`.
    fn secret(&self, id: &str) -> Secret {
        let account = format!("connection-{id}");
        Secret::new(keychain_for(&account), self.secrets.join(account))
    }

    fn key(&self, id: &str) -> Option<(String, TokenPlace)> {
        self.secret(id).get()
    }

    fn keep_key(&self, id: &str, key: &str) -> Result<()> {
        self.secret(id).set(key, "The connection's key").map(|_| ())
    }

    fn forget_key(&self, id: &str) -> Result<()> {
        self.secret(id).clear("The connection's key")
    }
}

/// `c1`, `c2`, …: short, stable, never reused while the others exist.
fn new_id(all: &[Saved]) -> String {
    let n = all.iter().filter_map(|s| s.id.strip_prefix('c')?.parse::<u32>().ok()).max().unwrap_or(0);
    format!("c{}", n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(name: &str) -> (Store, PathBuf) {
        let d = std::env::temp_dir().join(format!("hearth-connections-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        (Store::open(&d.join("hearth.sqlite3")).unwrap(), d)
    }

    fn input(name: &str, url: &str, key: Option<&str>) -> ConnectionInput {
        ConnectionInput {
            id: None,
            name: name.into(),
            base_url: url.into(),
            kind: ApiKind::Openai,
            key: key.map(str::to_string),
            allow_plain_http: false,
        }
    }

    // The keychain is never the person's own in tests: HEARTH_NO_KEYCHAIN=1 is how `make test` runs
    // the app; here the file is used when the variable is set, which these tests set.
    fn no_keychain() {
        std::env::set_var("HEARTH_NO_KEYCHAIN", "1");
    }

    #[test]
    fn plain_http_beyond_this_network_needs_the_persons_confirmation() {
        no_keychain();
        let (store, dir) = home("plain");
        let c = Connections::new(&store, &dir);
        let far = input("Rented", "http://gpu.example.com:8000/v1", Some("sk-remote-0123456789"));
        let e = c.save(&far).unwrap_err().to_string();
        assert!(e.contains("unencrypted") && e.contains("Use https://"), "{e}");
        assert!(c.list().is_empty(), "nothing saved, no key kept");
        let saved = c.save(&ConnectionInput { allow_plain_http: true, ..far }).unwrap();
        assert!(saved.allow_plain_http);
        // https, this machine and the private network need no confirmation, and keep none.
        for near in ["https://gpu.example.com", "http://127.0.0.1:8080", "http://192.168.1.20:8000", "http://gpu-box:8000"] {
            let s = c.save(&ConnectionInput { allow_plain_http: true, ..input(near, near, None) }).unwrap();
            assert!(!s.allow_plain_http, "{near}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn removing_takes_only_a_saved_connections_id_never_a_path() {
        no_keychain();
        let (store, dir) = home("remove");
        let c = Connections::new(&store, &dir);
        let saved = c.save(&input("GPU box", "http://127.0.0.1:8080", Some("sk-remote-0123456789"))).unwrap();
        let victim = dir.join("precious.txt");
        std::fs::write(&victim, "keep me").unwrap();
        for hostile in ["../precious.txt", "x/../../precious.txt", "/../../precious.txt", "c9", ""] {
            assert!(c.remove(hostile).is_err(), "{hostile}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(c.list().len(), 1);
        c.remove(&saved.id).unwrap();
        assert!(c.list().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_connection_is_saved_with_its_key_kept_apart_and_never_shown() {
        no_keychain();
        let (store, dir) = home("save");
        let c = Connections::new(&store, &dir);
        let saved = c.save(&input("GPU box", "http://127.0.0.1:8080/v1/", Some("sk-remote-0123456789"))).unwrap();
        assert_eq!(saved.base_url, "http://127.0.0.1:8080");
        assert_eq!(saved.key_place, Some(TokenPlace::File));
        assert_eq!(saved.key_hint.as_deref(), Some("sk-…6789"));
        let json = store.setting(CONNECTIONS).unwrap().unwrap();
        assert!(!json.contains("sk-remote"), "the key is not in the database: {json}");
        assert_eq!(c.endpoint(&saved.id).unwrap().key.as_deref(), Some("sk-remote-0123456789"));
        assert_eq!(c.find("gpu BOX").unwrap().id, saved.id);

        // A change keeps the key unless told; "" forgets it.
        let changed =
            c.save(&ConnectionInput { id: Some(saved.id.clone()), key: None, ..input("GPU box", "http://127.0.0.1:9090", None) }).unwrap();
        assert_eq!((changed.base_url.as_str(), changed.key_place), ("http://127.0.0.1:9090", Some(TokenPlace::File)));
        let cleared = c
            .save(&ConnectionInput {
                id: Some(saved.id.clone()),
                key: Some(String::new()),
                ..input("GPU box", "http://127.0.0.1:9090", None)
            })
            .unwrap();
        assert_eq!(cleared.key_place, None);
        assert_eq!(c.list().len(), 1);

        c.remove(&saved.id).unwrap();
        assert!(c.list().is_empty() && c.endpoint(&saved.id).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_input_changes_nothing() {
        no_keychain();
        let (store, dir) = home("bad");
        let c = Connections::new(&store, &dir);
        let first = c.save(&input("A", "http://127.0.0.1:1", Some("sk-first-key-1234"))).unwrap();
        for bad in [
            input("", "http://h:1", None),
            input("B", "h:1", None),
            input("a", "http://h:2", None),
            input("B", "http://h:1", Some("two words")),
        ] {
            assert!(c.save(&bad).is_err(), "{bad:?}");
        }
        let unknown = ConnectionInput { id: Some("c99".into()), ..input("C", "http://h:3", None) };
        assert!(c.save(&unknown).is_err());
        assert_eq!(c.list(), vec![first.clone()]);
        assert_eq!(c.save(&input("B", "http://h:1", None)).unwrap().id, "c2");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
