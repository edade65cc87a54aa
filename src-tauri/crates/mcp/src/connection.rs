//! One MCP server, connected: started (stdio) or reached (streamable HTTP) through rmcp, its
//! handshake bounded in time, its tools listed, and calls made with a time limit that progress
//! notifications reset (rmcp's `reset_timeout_on_progress`). A stdio server's stderr is read
//! as it comes (a full pipe would stall it) and its last lines kept for the sentence that says why
//! it stopped. Results are read from their JSON (`Outcome`), so that a change in rmcp's content types
//! does not reach the rest of Hearth.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest, ServerResult};
use rmcp::service::{PeerRequestOptions, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use process_wrap::tokio::ChildWrapper;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt;

use crate::config::{Spec, Transport};
use crate::error::McpError;
use crate::launch;
use crate::outcome::Outcome;

/// How long a server has to answer MCP's handshake: twice its call timeout (60 s by default: an
/// `npx` that downloads its package first takes a while).
fn handshake(spec: &Spec) -> Duration {
    spec.call_timeout() * 2
}
/// The longest a call may run in all, progress or not.
pub const MAX_CALL: Duration = Duration::from_secs(30 * 60);
/// Lines of a server's stderr kept for the sentence that says why it stopped.
const KEPT_LINES: usize = 12;

/// A tool as a server describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolInfo {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    /// The JSON Schema of its arguments.
    pub input_schema: Value,
    /// The server says it changes nothing (`readOnlyHint`).
    pub read_only: bool,
    /// The server says it may destroy something (`destructiveHint`, which MCP takes as true
    /// unless the tool is read-only or says otherwise).
    pub destructive: bool,
}

impl ToolInfo {
    fn from_json(tool: &Value) -> Option<Self> {
        let name = tool.get("name")?.as_str()?.to_string();
        let hints = tool.get("annotations").cloned().unwrap_or_default();
        let read_only = hints.get("readOnlyHint").and_then(Value::as_bool).unwrap_or(false);
        let destructive = !read_only && hints.get("destructiveHint").and_then(Value::as_bool).unwrap_or(true);
        let title = tool.get("title").or_else(|| hints.get("title")).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            name,
            title,
            description: tool.get("description").and_then(Value::as_str).unwrap_or_default().to_string(),
            input_schema: tool.get("inputSchema").cloned().unwrap_or_else(|| serde_json::json!({"type": "object"})),
            read_only,
            destructive,
        })
    }
}

/// The last lines a stdio server wrote to stderr.
#[derive(Clone, Default)]
struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == KEPT_LINES {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }
}

/// A stdio server's process (its group's leader), killed with its group when the connection is
/// closed or dropped.
#[derive(Clone, Default)]
struct Child(Arc<Mutex<Option<Box<dyn ChildWrapper>>>>);

impl Child {
    /// Whether it has ended (or there is none: an HTTP server).
    fn ended(&self) -> bool {
        let mut child = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        child.as_mut().is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process and every one in its group, now.
    fn kill(&self) {
        if let Some(mut child) = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            if let Err(e) = child.start_kill() {
                tracing::debug!(error = %e, "an MCP server's process group could not be killed (it had ended?)");
            }
        }
    }
}

pub struct Connection {
    pub server: String,
    service: RunningService<RoleClient, ()>,
    pub tools: Vec<ToolInfo>,
    timeout: Duration,
    tail: Tail,
    child: Child,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.child.kill();
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("server", &self.server).field("tools", &self.tools.len()).finish_non_exhaustive()
    }
}

impl Connection {
    /// Starts or reaches the server, completes the handshake and lists its tools.
    pub async fn open(server: &str, spec: &Spec) -> Result<Self, McpError> {
        let tail = Tail::default();
        let child = Child::default();
        let (service, url) = match spec.transport(server)? {
            Transport::Stdio { command, args, env, cwd } => {
                let mut cmd = launch::command(server, &command, &args, &env, cwd.as_deref())?;
                cmd.command_mut().stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
                let spawn_failed = |why: String| McpError::Spawn { server: server.into(), command: command.clone(), why };
                // Hearth keeps the child (not the SDK), so that closing kills its whole process
                // group at once, even while a call holds the connection.
                let mut spawned = cmd.spawn().map_err(|e| spawn_failed(e.to_string()))?;
                let (Some(stdin), Some(stdout)) = (spawned.stdin().take(), spawned.stdout().take()) else {
                    return Err(spawn_failed("its stdin or stdout could not be opened".into()));
                };
                let stderr = spawned.stderr().take();
                *child.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(spawned);
                let transport = AsyncRwTransport::new_client(stdout, stdin);
                if let Some(stderr) = stderr {
                    let tail = tail.clone();
                    tokio::spawn(async move {
                        let mut lines = tokio::io::BufReader::new(stderr).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            tail.push(line);
                        }
                    });
                }
                (tokio::time::timeout(handshake(spec), ().serve(transport)).await, None)
            }
            Transport::Http { url, headers } => {
                let mut map = std::collections::HashMap::new();
                for (k, v) in &headers {
                    let name = http::HeaderName::from_bytes(k.as_bytes())
                        .map_err(|_| McpError::Spec { server: server.into(), reason: format!("has a header name {k:?} that HTTP does not allow") })?;
                    let value = http::HeaderValue::from_str(v)
                        .map_err(|_| McpError::Spec { server: server.into(), reason: format!("has a value for the header {k} that HTTP does not allow") })?;
                    map.insert(name, value);
                }
                let config = StreamableHttpClientTransportConfig::with_uri(url.clone()).custom_headers(map);
                let transport = StreamableHttpClientTransport::from_config(config);
                (tokio::time::timeout(handshake(spec), ().serve(transport)).await, Some(url))
            }
        };
        let failed = |reason: String| match &url {
            Some(url) => McpError::Unreachable { server: server.into(), url: crate::config::mask_password(url), reason },
            None => McpError::Handshake { server: server.into(), reason, last_lines: tail.lines() },
        };
        let service = match service {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => {
                child.kill();
                // A moment for the stderr reader to take the last lines of a server that died.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let reason = e.to_string();
                if url.is_none() && reason.to_lowercase().contains("closed") {
                    return Err(McpError::Exited { server: server.into(), last_lines: tail.lines() });
                }
                return Err(failed(reason));
            }
            Err(_) => {
                child.kill();
                return Err(failed(format!("no answer within {} seconds", handshake(spec).as_secs())));
            }
        };
        let listed = tokio::time::timeout(spec.call_timeout(), service.peer().list_all_tools())
            .await
            .map_err(|_| failed(format!("its tool list did not come within {} seconds", spec.call_timeout().as_secs())))?
            .map_err(|e| failed(format!("its tool list could not be read ({e})")))?;
        let tools = listed.iter().filter_map(|t| serde_json::to_value(t).ok()).filter_map(|t| ToolInfo::from_json(&t)).collect();
        Ok(Self { server: server.into(), service, tools, timeout: spec.call_timeout(), tail, child })
    }

    /// Calls a tool. Past the time limit without an answer or a progress notification, the call
    /// is cancelled (`notifications/cancelled`) and is an error; a server that goes away is one too.
    /// Dropping the future (Stop) cancels the call on the server as well.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<Outcome, McpError> {
        let arguments = match arguments {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => return Err(McpError::BadArguments { tool: tool.into() }),
        };
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)));
        let mut options = PeerRequestOptions::no_options();
        options.timeout = Some(self.timeout);
        options.reset_timeout_on_progress = true;
        options.max_total_timeout = Some(MAX_CALL);
        let peer = self.service.peer().clone();
        let gone = |_| McpError::Disconnected { server: self.server.clone(), tool: tool.into() };
        let handle = peer.send_request_with_option(request, options).await.map_err(gone)?;
        let cancel = CancelOnDrop { peer: Some(peer), id: handle.id.clone() };
        let answer = handle.await_response().await;
        match answer {
            Ok(ServerResult::CallToolResult(result)) => {
                cancel.disarm();
                Ok(Outcome::from_json(&serde_json::to_value(&result).unwrap_or_default()))
            }
            Ok(_) => {
                cancel.disarm();
                Err(McpError::CallRefused { server: self.server.clone(), tool: tool.into(), reason: "it answered something that is not a tool result".into() })
            }
            Err(ServiceError::Timeout { .. }) => Err(McpError::CallTimedOut { server: self.server.clone(), tool: tool.into(), seconds: self.timeout.as_secs() }),
            Err(ServiceError::McpError(e)) => {
                cancel.disarm();
                Err(McpError::CallRefused { server: self.server.clone(), tool: tool.into(), reason: e.message.to_string() })
            }
            Err(_) => {
                cancel.disarm();
                Err(McpError::Disconnected { server: self.server.clone(), tool: tool.into() })
            }
        }
    }

    /// Whether the connection has ended (the server exited, or the transport closed).
    pub fn is_closed(&self) -> bool {
        // The service loop drops its end of the peer's channel when the transport ends.
        self.service.is_closed() || self.service.peer().is_transport_closed()
    }

    /// The last lines the server wrote to stderr (stdio servers).
    pub fn last_lines(&self) -> Vec<String> {
        self.tail.lines()
    }

    /// Ends the session: the SDK's service stops, a stdio server is given a moment to exit on its
    /// own (its stdin closes), then it is killed with its process group. Callable while a call
    /// holds the connection (the call then ends, disconnected).
    pub async fn close(&self) {
        self.service.cancellation_token().cancel();
        for _ in 0..20 {
            if self.child.ended() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.child.kill();
    }
}

/// Sends `notifications/cancelled` for a call that ended without its answer: timed out, or
/// abandoned (the person pressed Stop and the call's future was dropped).
struct CancelOnDrop {
    peer: Option<rmcp::Peer<RoleClient>>,
    id: rmcp::model::RequestId,
}

impl CancelOnDrop {
    fn disarm(mut self) {
        self.peer = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(peer) = self.peer.take() else { return };
        let id = self.id.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let params = rmcp::model::CancelledNotificationParam::new(Some(id), Some("cancelled by the person or timed out".into()));
                peer.notify_cancelled(params).await.ok();
            });
        }
    }
}
