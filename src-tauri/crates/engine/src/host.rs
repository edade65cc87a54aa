//! The app's side of the engine: `EngineHost` starts the worker process, sends it framed requests
//! and routes the events that come back to whoever asked. Each request brings its own channel;
//! a generation whose receiver is dropped, or falls `MAX_BACKLOG` events behind, is cancelled in the
//! worker. Routing never waits for a receiver, so one that stops reading holds up nobody else. When
//! the worker dies, every request still waiting gets an error (`ENGINE_CRASHED`, or
//! `MODEL_LOAD_FAILED` for a load) with the last lines the worker logged, the model counts as
//! unloaded, and the next `load` starts a fresh worker.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, watch};
use types::{HearthError, LoadProgress, LoadedModelInfo, ReplyEvent};

use crate::error::EngineError;

use crate::protocol::{
    read_frame_async, write_frame_async, BenchParams, BenchResult, Event, GenerateParams, LoadParams, Request, RequestId,
};

/// Lines of the worker's stderr kept for crash reports.
const LOG_LINES: usize = 50;
/// Lines of them quoted in a crash message.
const QUOTED_LINES: usize = 8;
/// Events a generation's receiver may fall behind by before its request is cancelled.
///
/// One task reads the worker's events and routes them to every request, Chat's and the server's
/// alike, so it must never wait for one receiver: a server stream whose HTTP client stopped
/// reading would stop Chat too (it did: the reader waited on a full channel). Nor can it queue
/// without end for a receiver that may never read again. So each request gets a bounded queue, and
/// a generation whose queue is full is stopped in the worker and told so (with the slot kept for its
/// last event). Chat and the server forward each event the moment it comes, so a receiver this far
/// behind is not reading at all: 1024 events are seconds of the fastest decoding and a few tens of
/// KB per request. Load progress that finds its queue full is dropped instead (the outcome still
/// comes); every other answer is a single last event.
pub const MAX_BACKLOG: usize = 1024;

/// How to start the worker: the app's own executable with its hidden flag, or (in tests) the
/// `hearth-engine-worker` binary.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoadEvent {
    Progress(LoadProgress),
    Loaded(LoadedModelInfo),
    Error(HearthError),
}


/// A generation under way: its id (for `EngineHost::cancel`) and its events, which end with
/// `Done` or `Failed`. Dropping `events` cancels it.
#[derive(Debug)]
pub struct Generation {
    pub id: RequestId,
    pub events: mpsc::Receiver<ReplyEvent>,
}

enum Pending {
    Load(mpsc::Sender<LoadEvent>),
    Generate(mpsc::Sender<ReplyEvent>),
    Tokenize(oneshot::Sender<Result<Vec<i32>, HearthError>>),
    Embed(oneshot::Sender<Result<(Vec<Vec<f32>>, u32), HearthError>>),
    Unload(oneshot::Sender<()>),
    Bench(oneshot::Sender<Result<BenchResult, HearthError>>),
}

/// Drives one worker process at a time, from any number of tasks.
///
/// Locks, always taken in this order and never the other way: `spawn_lock` (async; held while a
/// worker is being started, so two loads cannot start two workers), then `current` (sync; held only
/// to clone or replace the `Arc` of the running worker), then a worker's `stdin` (async; held while
/// one frame is written, so frames never interleave) or its `pending` map (sync; held only to insert
/// or remove an entry, never across an await). The worker's reader task owns its stdout and is the
/// only one that answers pending requests; the `Arc<Worker>` is shared by the host and that task.
pub struct EngineHost {
    command: WorkerCommand,
    /// `MAX_BACKLOG` unless a test asks for less.
    backlog: usize,
    next_id: AtomicU64,
    spawn_lock: tokio::sync::Mutex<()>,
    current: Mutex<Option<Arc<Worker>>>,
    /// The last lines of stderr of the workers, across restarts.
    logs: Arc<Mutex<VecDeque<String>>>,
}

struct Worker {
    pid: Option<u32>,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    child: tokio::sync::Mutex<Child>,
    pending: Mutex<HashMap<RequestId, Pending>>,
    /// Cleared (under the `pending` lock) when the worker has ended; nothing is added after that.
    alive: AtomicBool,
    /// The last load asked of this worker, and the model it has now (once that load ended well).
    /// The one record of which model is in the engine, for everyone who shares it (Chat, the
    /// server): each used to keep its own and they could disagree.
    models: Mutex<Models>,
    exited: watch::Receiver<bool>,
    /// The CPU backend variant this worker said it loaded (`devices::VARIANT_LINE`).
    cpu_variant: Mutex<Option<String>>,
}

#[derive(Default)]
struct Models {
    latest_load: Option<(RequestId, PathBuf)>,
    loaded: Option<PathBuf>,
}


impl EngineHost {
    /// A host that starts its worker on the first `load`.
    pub fn new(command: WorkerCommand) -> Self {
        Self {
            command,
            backlog: MAX_BACKLOG,
            next_id: AtomicU64::new(1),
            spawn_lock: tokio::sync::Mutex::new(()),
            current: Mutex::new(None),
            logs: Arc::new(Mutex::new(VecDeque::with_capacity(LOG_LINES))),
        }
    }

    /// Sets how many events a generation's receiver may fall behind by (at least one) before its
    /// request is cancelled; see `MAX_BACKLOG`. Tests use a small one to show it without
    /// generating a thousand tokens.
    pub fn with_max_backlog(mut self, events: usize) -> Self {
        self.backlog = events.max(1);
        self
    }

    /// A per-request queue: the backlog, plus the slot kept for the last event.
    fn channel<T>(&self) -> (mpsc::Sender<T>, mpsc::Receiver<T>) {
        mpsc::channel(self.backlog + 1)
    }

    /// A host with its worker started now, so a broken worker command shows at once.
    pub async fn spawn(command: WorkerCommand) -> Result<Self, HearthError> {
        let host = Self::new(command);
        host.worker().await?;
        Ok(host)
    }

    fn next_id(&self) -> RequestId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn current(&self) -> Option<Arc<Worker>> {
        let current = self.current.lock().ok()?;
        current.as_ref().filter(|w| w.alive.load(Ordering::SeqCst)).cloned()
    }

    /// The running worker, or a new one if there is none or it has died.
    async fn worker(&self) -> Result<Arc<Worker>, HearthError> {
        let _spawning = self.spawn_lock.lock().await;
        if let Some(w) = self.current() {
            return Ok(w);
        }
        let worker = self.start_worker()?;
        if let Ok(mut current) = self.current.lock() {
            *current = Some(worker.clone());
        }
        Ok(worker)
    }

    fn start_worker(&self) -> Result<Arc<Worker>, HearthError> {
        let mut command = Command::new(&self.command.program);
        command.args(&self.command.args);
        // CPU variants that trapped on this machine are left out (`devices::avoided`).
        if let Some((name, value)) = crate::devices::avoided::env() {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EngineError::NotStarted { program: self.command.program.clone(), reason: e.to_string() })?;
        let missing = || EngineError::NoPipes;
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = child.stdout.take().ok_or_else(missing)?;
        let stderr = child.stderr.take().ok_or_else(missing)?;
        let (exited_tx, exited) = watch::channel(false);
        let worker = Arc::new(Worker {
            pid: child.id(),
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            child: tokio::sync::Mutex::new(child),
            pending: Mutex::new(HashMap::new()),
            alive: AtomicBool::new(true),
            models: Mutex::new(Models::default()),
            exited,
            cpu_variant: Mutex::new(None),
        });
        let logs = self.logs.clone();
        let said = worker.clone();
        let stderr_task = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr);
            let mut line = Vec::new();
            while matches!(lines.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if let Some(variant) = text.strip_prefix(crate::devices::VARIANT_LINE) {
                    if let Ok(mut v) = said.cpu_variant.lock() {
                        *v = Some(variant.to_string());
                    }
                }
                tracing::debug!(target: "engine_worker", "{text}");
                if let Ok(mut logs) = logs.lock() {
                    if logs.len() == LOG_LINES {
                        logs.pop_front();
                    }
                    logs.push_back(text);
                }
                line.clear();
            }
        });
        tokio::spawn(read_events(worker.clone(), stdout, stderr_task, self.logs.clone(), exited_tx));
        Ok(worker)
    }

    /// Loads a model (replacing the loaded one), starting a worker if none runs. The receiver gets
    /// progress, then `Loaded` or `Error`.
    pub async fn load(&self, params: LoadParams) -> Result<mpsc::Receiver<LoadEvent>, HearthError> {
        let worker = self.worker().await?;
        let id = self.next_id();
        let (tx, rx) = self.channel();
        if let Ok(mut m) = worker.models.lock() {
            *m = Models { latest_load: Some((id, params.path.clone())), loaded: None };
        }
        worker.request(id, Pending::Load(tx), &Request::Load { id, params }).await?;
        Ok(rx)
    }

    /// `load`, waiting for the end.
    pub async fn load_and_wait(&self, params: LoadParams) -> Result<LoadedModelInfo, HearthError> {
        let mut events = self.load(params).await?;
        while let Some(event) = events.recv().await {
            match event {
                LoadEvent::Progress(_) => {}
                LoadEvent::Loaded(info) => return Ok(info),
                LoadEvent::Error(e) => return Err(e),
            }
        }
        Err(EngineError::StoppedLoading.into())
    }

    /// Starts a reply. Requests queue in the worker, so a generation asked for right after `load`
    /// runs once the model is in.
    pub async fn generate(&self, params: GenerateParams) -> Result<Generation, HearthError> {
        // A schema llama.cpp's converter could choke on is refused here, before the worker's queue.
        if let Some(crate::Constraint::JsonSchema { schema }) = &params.constraint {
            crate::schema::check_text(schema).map_err(EngineError::Schema)?;
        }
        let worker = self.current().ok_or_else(no_model)?;
        let id = self.next_id();
        let (tx, events) = self.channel();
        let tools = params.tools.is_some();
        worker.request(id, Pending::Generate(tx), &Request::Generate { id, params }).await?;
        let generation = Generation { id, events };
        // With tools on offer, calls are told apart from text while they are written.
        Ok(if tools { crate::calls::split(generation) } else { generation })
    }

    /// Stops a generation within one token; it then ends with `Done`, reason `Cancelled`.
    pub async fn cancel(&self, id: RequestId) {
        if let Some(worker) = self.current() {
            worker.send(&Request::Cancel { id }).await.ok();
        }
    }

    pub async fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<i32>, HearthError> {
        let worker = self.current().ok_or_else(no_model)?;
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        let request = Request::Tokenize { id, text: text.to_string(), add_special };
        worker.request(id, Pending::Tokenize(tx), &request).await?;
        rx.await.map_err(|_| EngineError::StoppedBeforeAnswer)?
    }

    /// Embeddings of each input by the loaded model, and the tokens read in all. A model whose
    /// file names no pooling (a chat model) is refused with `INVALID_INPUT`.
    /// Dropping the future before it is done (the client went away) cancels the work in the worker,
    /// which stops between inputs.
    pub async fn embed(&self, inputs: Vec<crate::protocol::EmbedInput>) -> Result<(Vec<Vec<f32>>, u32), HearthError> {
        let worker = self.current().ok_or_else(no_model)?;
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        let mut unfinished = Abandon { worker: worker.clone(), id, done: false };
        worker.request(id, Pending::Embed(tx), &Request::Embed { id, inputs }).await?;
        let answer = rx.await.map_err(|_| EngineError::StoppedBeforeAnswer)?;
        unfinished.done = true;
        answer
    }

    /// Measures the loaded model the way `llama-bench` does (see `BenchParams`), in the worker and
    /// on the context it generates with. Waits for the end; `cancel(id)` from another task, with
    /// the id given to `started`, ends it early.
    pub async fn bench(&self, params: BenchParams, started: impl FnOnce(RequestId)) -> Result<BenchResult, HearthError> {
        let worker = self.current().ok_or_else(no_model)?;
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        worker.request(id, Pending::Bench(tx), &Request::Bench { id, params }).await?;
        started(id);
        rx.await.map_err(|_| EngineError::StoppedBeforeAnswer)?
    }

    /// Drops the model and ends the worker process, which gives every byte it held back to the
    /// system; the next `load` starts a new one.
    pub async fn unload(&self) -> Result<(), HearthError> {
        let _spawning = self.spawn_lock.lock().await;
        let worker = self.current.lock().ok().and_then(|mut c| c.take());
        let Some(worker) = worker.filter(|w| w.alive.load(Ordering::SeqCst)) else { return Ok(()) };
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        worker.forget_model();
        if worker.request(id, Pending::Unload(tx), &Request::Unload { id }).await.is_ok() {
            // A reply still running finishes first; a crash answers too (the sender is dropped).
            let _ = tokio::time::timeout(Duration::from_secs(30), rx).await;
        }
        // Closing stdin ends the worker; wait for it so its memory is free when this returns.
        worker.stdin.lock().await.take();
        let mut exited = worker.exited.clone();
        if tokio::time::timeout(Duration::from_secs(10), exited.wait_for(|e| *e)).await.is_err() {
            worker.child.lock().await.start_kill().ok();
        }
        Ok(())
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded_path().is_some()
    }

    /// The model file the engine has loaded now, whoever loaded it.
    pub fn loaded_path(&self) -> Option<PathBuf> {
        self.current().and_then(|w| w.models.lock().ok().and_then(|m| m.loaded.clone()))
    }

    /// The worker's process id, while one runs.
    pub fn pid(&self) -> Option<u32> {
        self.current().and_then(|w| w.pid)
    }

    /// Someone is waiting on this engine now: a reply being written, embeddings or a bench.
    pub fn is_answering(&self) -> bool {
        self.current().is_some_and(|w| {
            w.pending.lock().is_ok_and(|p| p.values().any(|x| matches!(x, Pending::Generate(_) | Pending::Embed(_) | Pending::Bench(_))))
        })
    }

    /// The last lines the workers wrote to stderr, oldest first.
    pub fn recent_logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }
}

impl Drop for EngineHost {
    /// The worker must not outlive the host: it would hold the model's memory for nobody.
    fn drop(&mut self) {
        if let Some(worker) = self.current.lock().ok().and_then(|mut c| c.take()) {
            if let Ok(mut child) = worker.child.try_lock() {
                child.start_kill().ok();
            }
        }
    }
}

fn no_model() -> HearthError {
    EngineError::NoModel.into()
}

impl Worker {
    fn forget_model(&self) {
        if let Ok(mut m) = self.models.lock() {
            m.loaded = None;
        }
    }

    async fn send(&self, request: &Request) -> Result<(), HearthError> {
        let mut stdin = self.stdin.lock().await;
        let pipe = stdin.as_mut().ok_or(EngineError::ShuttingDown)?;
        Ok(write_frame_async(pipe, request).await.map_err(|e| EngineError::StoppedListening { reason: e.to_string() })?)
    }

    /// Registers who gets the answer, then sends the request.
    async fn request(&self, id: RequestId, pending: Pending, request: &Request) -> Result<(), HearthError> {
        {
            let mut map = self.pending.lock().map_err(|_| EngineError::TableBroke)?;
            if !self.alive.load(Ordering::SeqCst) {
                return Err(EngineError::Stopped.into());
            }
            map.insert(id, pending);
        }
        let sent = self.send(request).await;
        if sent.is_err() {
            self.take(id);
        }
        sent
    }

    fn take(&self, id: RequestId) -> Option<Pending> {
        self.pending.lock().ok()?.remove(&id)
    }

    fn generate_sender(&self, id: RequestId) -> Option<mpsc::Sender<ReplyEvent>> {
        match self.pending.lock().ok()?.get(&id)? {
            Pending::Generate(tx) => Some(tx.clone()),
            _ => None,
        }
    }

    /// Stops a generation nobody reads any more: forgets its receiver and cancels it in the worker.
    fn abandon(self: &Arc<Self>, id: RequestId) {
        self.take(id);
        let worker = self.clone();
        tokio::spawn(async move { worker.send(&Request::Cancel { id }).await.ok() });
    }

    /// Hands one event to whoever waits for it, without ever waiting (see `MAX_BACKLOG`).
    fn dispatch(self: &Arc<Self>, event: Event) {
        match event {
            Event::LoadProgress { id, fraction } => {
                let tx = match self.pending.lock().ok().as_ref().and_then(|p| p.get(&id)) {
                    Some(Pending::Load(tx)) => Some(tx.clone()),
                    _ => None,
                };
                if let Some(tx) = tx {
                    // A progress event a slow reader misses changes nothing: the outcome still comes.
                    let _ = deliver(&tx, LoadEvent::Progress(LoadProgress { fraction }));
                }
            }
            Event::Loaded { id, info } => {
                if let Ok(mut m) = self.models.lock() {
                    // A load that a later one replaced says nothing about what is in now.
                    if let Some((_, path)) = m.latest_load.as_ref().filter(|(latest, _)| *latest == id) {
                        m.loaded = Some(path.clone());
                    }
                }
                if let Some(Pending::Load(tx)) = self.take(id) {
                    deliver_last(&tx, LoadEvent::Loaded(info));
                }
            }
            Event::Unloaded { id } => {
                self.forget_model();
                if let Some(Pending::Unload(tx)) = self.take(id) {
                    tx.send(()).ok();
                }
            }
            Event::Started { id, prompt_tokens, cached_tokens } => {
                if let Some(tx) = self.generate_sender(id) {
                    let _ = deliver(&tx, ReplyEvent::Started { prompt_tokens, cached_tokens });
                }
            }
            Event::Token { id, text, logprobs } => {
                let Some(tx) = self.generate_sender(id) else { return };
                if !logprobs.is_empty() {
                    // Room for it is checked with the text's: a reader far behind loses both.
                    let _ = deliver(&tx, ReplyEvent::Logprobs(logprobs));
                }
                match deliver(&tx, ReplyEvent::Text(text)) {
                    Delivery::Queued => {}
                    // Nobody reads this reply any more: stop it in the worker.
                    Delivery::Gone => self.abandon(id),
                    Delivery::Behind => {
                        self.abandon(id);
                        let behind = EngineError::ReaderBehind { pieces: tx.max_capacity() - 1 };
                        deliver_last(&tx, ReplyEvent::Failed(behind.into()));
                    }
                }
            }
            Event::Done { id, stats } => {
                if let Some(Pending::Generate(tx)) = self.take(id) {
                    deliver_last(&tx, ReplyEvent::Done(stats));
                }
            }
            Event::Tokens { id, tokens } => {
                if let Some(Pending::Tokenize(tx)) = self.take(id) {
                    tx.send(Ok(tokens)).ok();
                }
            }
            Event::Embeddings { id, vectors, tokens } => {
                if let Some(Pending::Embed(tx)) = self.take(id) {
                    tx.send(Ok((vectors, tokens))).ok();
                }
            }
            Event::BenchResult { id, result } => {
                if let Some(Pending::Bench(tx)) = self.take(id) {
                    tx.send(Ok(result)).ok();
                }
            }
            Event::Error { id, error } => {
                if let Some(pending) = self.take(id) {
                    pending.answer_error(error);
                }
            }
            // Asked by `devices::query` on a worker of its own, never through a host.
            Event::Devices { .. } => {}
        }
    }
}

impl Pending {
    /// The last answer to a request: an error (the unload just ends).
    fn answer_error(self, error: HearthError) {
        match self {
            Pending::Load(tx) => deliver_last(&tx, LoadEvent::Error(error)),
            Pending::Generate(tx) => deliver_last(&tx, ReplyEvent::Failed(error)),
            Pending::Tokenize(tx) => {
                tx.send(Err(error)).ok();
            }
            Pending::Bench(tx) => {
                tx.send(Err(error)).ok();
            }
            Pending::Embed(tx) => {
                tx.send(Err(error)).ok();
            }
            Pending::Unload(tx) => {
                tx.send(()).ok();
            }
        }
    }
}

enum Delivery {
    Queued,
    /// The receiver was dropped.
    Gone,
    /// The receiver's queue is full but for the slot kept for the last event.
    Behind,
}

/// Queues an event that is not the last of its request, keeping one slot free for the last one.
/// Only the reader task sends on these channels, so the room seen here is still there for the send.
fn deliver<T>(tx: &mpsc::Sender<T>, event: T) -> Delivery {
    if tx.is_closed() {
        Delivery::Gone
    } else if tx.capacity() <= 1 {
        Delivery::Behind
    } else if tx.try_send(event).is_ok() {
        Delivery::Queued
    } else {
        Delivery::Gone
    }
}

/// Queues the last event of a request, in the slot `deliver` kept for it. A receiver that is gone
/// misses nothing it could use.
fn deliver_last<T>(tx: &mpsc::Sender<T>, event: T) {
    tx.try_send(event).ok();
}

/// The worker's stdout, until it closes; then the post-mortem: every pending request is answered
/// with an error quoting the worker's last log lines.
async fn read_events(
    worker: Arc<Worker>,
    stdout: ChildStdout,
    stderr_task: tokio::task::JoinHandle<()>,
    logs: Arc<Mutex<VecDeque<String>>>,
    exited: watch::Sender<bool>,
) {
    let mut stdout = BufReader::new(stdout);
    loop {
        match read_frame_async::<_, Event>(&mut stdout).await {
            Ok(Some(event)) => worker.dispatch(event),
            Ok(None) => break,
            Err(e) => {
                tracing::error!("the engine sent a bad frame, stopping it: {e}");
                break;
            }
        }
    }
    let exit = {
        let mut child = worker.child.lock().await;
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(Ok(status)) => Ok(status),
            _ => {
                // Stdout closed or garbled but the process lives on: it is of no use any more.
                child.start_kill().ok();
                child.wait().await
            }
        }
    };
    let status = match &exit {
        Ok(s) => s.to_string(),
        Err(e) => e.to_string(),
    };
    // Let the last lines of stderr arrive before quoting them (and the line naming
    // the CPU variant before reading it).
    let _ = tokio::time::timeout(Duration::from_secs(2), stderr_task).await;
    // A CPU variant this processor cannot run after all: left out of every worker from now on.
    let variant = worker.cpu_variant.lock().ok().and_then(|v| v.clone());
    let trapped = match (&exit, variant) {
        (Ok(s), Some(v)) if illegal_instruction(s) && v != crate::devices::ONE_CPU_BUILD => {
            crate::devices::avoided::add(&v);
            tracing::warn!("the {v} build of llama.cpp's CPU backend stopped with an illegal instruction; leaving it out from now on");
            Some(v)
        }
        _ => None,
    };
    let last_lines: Vec<String> =
        logs.lock().map(|l| l.iter().rev().take(QUOTED_LINES).rev().cloned().collect()).unwrap_or_default();
    let drained: Vec<Pending> = match worker.pending.lock() {
        Ok(mut p) => {
            worker.alive.store(false, Ordering::SeqCst);
            p.drain().map(|(_, v)| v).collect()
        }
        Err(_) => Vec::new(),
    };
    worker.alive.store(false, Ordering::SeqCst);
    worker.forget_model();
    for pending in drained {
        let error = match (&pending, &trapped) {
            (_, Some(v)) => EngineError::IllegalInstruction { variant: v.clone() },
            (Pending::Load(_), None) => EngineError::DiedLoading { status: status.clone(), last_lines: last_lines.clone() },
            (_, None) => EngineError::Died { status: status.clone(), last_lines: last_lines.clone() },
        };
        pending.answer_error(error.into());
    }
    exited.send(true).ok();
}

/// Cancels request `id` in the worker when dropped before `done`: the one waiting for it is gone.
struct Abandon {
    worker: Arc<Worker>,
    id: RequestId,
    done: bool,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        // `abandon` sends the cancel from a task: only where there is a runtime to run it.
        if !self.done && tokio::runtime::Handle::try_current().is_ok() {
            self.worker.abandon(self.id);
        }
    }
}

/// The worker died of an illegal instruction: SIGILL, or Windows' STATUS_ILLEGAL_INSTRUCTION.
fn illegal_instruction(status: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(4)
    }
    #[cfg(windows)]
    {
        status.code() == Some(0xC000_001D_u32 as i32)
    }
    #[cfg(not(any(unix, windows)))]
    {
        false
    }
}
