//! `Servers`: the one owner of Hearth's MCP servers while it runs — each configured server's state
//! (starting, ready with its tools, failed with the reason, reconnecting, off), its connection,
//! the tools offered to a model, and calls routed to the right server. A server whose connection
//! ended is reconnected before its next call (never the call it ended in: that one may have done
//! something). Stopping closes every connection, and with it every stdio server's process group.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::config::{McpConfig, Spec};
use crate::connection::{Connection, ToolInfo};
use crate::error::McpError;
use crate::names::{offer, Offered};
use crate::outcome::Outcome;

/// Where a server stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// `disabled` in mcp.json.
    Off,
    Starting,
    Ready { tools: usize },
    /// The sentence that says why.
    Failed { reason: String },
    Reconnecting,
}

/// A server as Settings and `hearth mcp ls` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub name: String,
    /// The command it runs or the address it reaches, secrets masked.
    pub shown: String,
    #[serde(flatten)]
    pub state: State,
    pub tools: Vec<ToolInfo>,
}

struct Slot {
    /// As mcp.json has it: kept values not filled in (that happens at each start).
    spec: Spec,
    state: State,
    connection: Option<Arc<Connection>>,
    /// Bumped by every start and reload: a start that finishes after a newer one began (or after
    /// the file changed under it) is dropped, not stored over the newer state.
    generation: u64,
}

/// Puts back into a server's spec what was kept out of mcp.json (its env values and headers, in
/// the keychain), before it starts.
pub type Fill = Arc<dyn Fn(&str, &mut Spec) -> Result<(), McpError> + Send + Sync>;

pub struct Servers {
    slots: Mutex<BTreeMap<String, Slot>>,
    /// The file they come from, if any, and why it could not be read, if it could not.
    file: Option<std::path::PathBuf>,
    file_error: Mutex<Option<McpError>>,
    fill: Option<Fill>,
}

fn slots_of(config: McpConfig) -> BTreeMap<String, Slot> {
    config
        .servers
        .into_iter()
        .map(|(name, spec)| {
            let state = if spec.disabled { State::Off } else { State::Starting };
            (name, Slot { spec, state, connection: None, generation: 0 })
        })
        .collect()
}

impl Servers {
    /// The servers of a config, none started yet.
    pub fn new(config: McpConfig) -> Arc<Self> {
        Arc::new(Self { slots: Mutex::new(slots_of(config)), file: None, file_error: Mutex::new(None), fill: None })
    }

    /// The servers of an `mcp.json`, none started yet; each filled by `fill` with what was kept
    /// out of the file when it starts (not before: reading the keychain may ask the person). A file
    /// that cannot be read is no servers, and `file_error` says why (Hearth opens all the same).
    pub fn from_file(path: &std::path::Path, fill: Option<Fill>) -> Arc<Self> {
        let (config, error) = match McpConfig::read(path) {
            Ok(c) => (c, None),
            Err(e) => (McpConfig::default(), Some(e)),
        };
        Arc::new(Self { slots: Mutex::new(slots_of(config)), file: Some(path.to_path_buf()), file_error: Mutex::new(error), fill })
    }

    /// The file the servers come from.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// Why the file could not be read, when it could not.
    pub fn file_error(&self) -> Option<McpError> {
        self.file_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Reads the file again after it changed: every server is stopped, and those of the file now
    /// are started. A file that cannot be read changes nothing, and is the error.
    pub async fn reload(self: &Arc<Self>) -> Result<(), McpError> {
        let Some(path) = self.file.clone() else { return Ok(()) };
        let config = McpConfig::read(&path);
        *self.file_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = config.as_ref().err().cloned();
        let config = config?;
        self.stop_all().await;
        {
            let mut slots = self.slots();
            let generation = slots.values().map(|s| s.generation).max().unwrap_or(0) + 1;
            *slots = slots_of(config);
            for slot in slots.values_mut() {
                slot.generation = generation;
            }
        }
        self.start_all().await;
        Ok(())
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts every server that is not off, all at once; returns when each is ready or failed.
    pub async fn start_all(self: &Arc<Self>) {
        let names: Vec<String> = self.slots().iter().filter(|(_, s)| s.state != State::Off).map(|(n, _)| n.clone()).collect();
        let starts = names.into_iter().map(|name| {
            let me = self.clone();
            tokio::spawn(async move { me.start(&name).await.ok() })
        });
        for start in starts.collect::<Vec<_>>() {
            start.await.ok();
        }
    }

    /// Starts (or restarts) one server, with its kept values filled in. If it is started again,
    /// or the file reloaded, before this start ends, this one's result is dropped (and its server
    /// closed); if this start is abandoned, its server says it failed.
    pub async fn start(&self, name: &str) -> Result<Arc<Connection>, McpError> {
        let (mut spec, generation) = {
            let mut slots = self.slots();
            let slot = slots.get_mut(name).ok_or_else(|| McpError::UnknownServer(name.into()))?;
            slot.state = if slot.connection.is_some() { State::Reconnecting } else { State::Starting };
            slot.generation += 1;
            (slot.spec.clone(), slot.generation)
        };
        let abandoned = Abandoned { servers: self, name, generation, armed: true };
        let opened = match self.fill.as_ref().map_or(Ok(()), |fill| fill(name, &mut spec)) {
            Ok(()) => Connection::open(name, &spec).await.map(Arc::new),
            Err(e) => Err(e),
        };
        abandoned.disarm();
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(name).filter(|s| s.generation == generation) else {
            // A newer start or a reload took its place: this server goes (dropping its connection
            // kills its process group).
            return Err(McpError::UnknownServer(name.into()));
        };
        match opened {
            Ok(connection) => {
                slot.state = State::Ready { tools: connection.tools.len() };
                slot.connection = Some(connection.clone());
                Ok(connection)
            }
            Err(e) => {
                tracing::warn!(server = name, error = %e, "an MCP server did not start");
                slot.state = State::Failed { reason: e.to_string() };
                slot.connection = None;
                Err(e)
            }
        }
    }

    pub fn statuses(&self) -> Vec<Status> {
        self.slots()
            .iter()
            .map(|(name, slot)| Status {
                name: name.clone(),
                shown: slot.spec.shown(),
                state: slot.state.clone(),
                tools: slot.connection.as_ref().map(|c| c.tools.clone()).unwrap_or_default(),
            })
            .collect()
    }

    /// The tools of these servers (all ready ones when `only` is `None`), named for the model.
    pub fn offered(&self, only: Option<&[String]>) -> Vec<Offered> {
        let tools = self
            .slots()
            .iter()
            .filter(|(name, _)| only.is_none_or(|o| o.contains(name)))
            .flat_map(|(name, slot)| slot.connection.iter().flat_map(|c| c.tools.iter().map(|t| (name.clone(), t.clone()))).collect::<Vec<_>>())
            .collect();
        offer(tools)
    }

    /// Calls a server's tool, reconnecting first when its connection has ended.
    pub async fn call(&self, server: &str, tool: &str, arguments: Value) -> Result<Outcome, McpError> {
        let connection = {
            let slots = self.slots();
            let slot = slots.get(server).ok_or_else(|| McpError::UnknownServer(server.into()))?;
            slot.connection.clone()
        };
        let connection = match connection {
            Some(c) if !c.is_closed() => c,
            _ => self.start(server).await?,
        };
        if !connection.tools.iter().any(|t| t.name == tool) {
            return Err(McpError::UnknownTool { server: server.into(), tool: tool.into() });
        }
        let result = connection.call(tool, arguments).await;
        if connection.is_closed() {
            let mut slots = self.slots();
            if let Some(slot) = slots.get_mut(server) {
                slot.state = State::Failed { reason: format!("The MCP server `{server}` stopped; it is started again at its next call.") };
            }
        }
        result
    }

    /// Closes every connection at once (stdio servers and their process groups are stopped, within
    /// about a second), calls under way included.
    pub async fn stop_all(&self) {
        let connections: Vec<Arc<Connection>> = self
            .slots()
            .values_mut()
            .filter_map(|s| {
                s.generation += 1;
                s.connection.take()
            })
            .collect();
        let closing: Vec<_> = connections.iter().map(|c| c.close()).collect();
        futures_util::future::join_all(closing).await;
    }
}

/// A start that was dropped before it ended (its caller gave up): its server is said to have
/// failed, not left "starting" for good.
struct Abandoned<'a> {
    servers: &'a Servers,
    name: &'a str,
    generation: u64,
    armed: bool,
}

impl Abandoned<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(slot) = self.servers.slots().get_mut(self.name).filter(|s| s.generation == self.generation) {
            slot.state = State::Failed { reason: format!("Starting the MCP server `{}` was given up.", self.name) };
        }
    }
}
