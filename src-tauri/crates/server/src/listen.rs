//! The accept loop, in place of `axum::serve`, which has none of these knobs. Slow or many
//! connections must not starve the server, and a client that stops reading must not hold the
//! engine:
//!
//! - **Header-read and idle timeout**: hyper's `header_read_timeout` closes a connection that has
//!   not delivered a whole request head within `header_timeout`. Hyper starts that timer whenever
//!   it waits for a head — on a new connection and on a kept-alive one after each reply — so the
//!   one timer is both the header-read (slowloris) and the idle-connection timeout.
//! - **A cap on open connections** (`max_connections`), well under the process's file
//!   descriptors, so the app's downloads and its engine worker keep theirs. At the cap, a new
//!   connection takes the place of the longest-open one that has no request in flight (a
//!   half-sent header, a body still trickling in, an idle keep-alive); when every one has a request
//!   in flight, the new one is closed at once. Plain refusal would let a few hundred half-sent headers lock everyone out
//!   until their timeout; a request in flight (a generation, a queued request) is never cut for a
//!   newcomer.
//! - **A client that takes no data** (`stall_timeout`): `Stall` fails a write that has made no
//!   progress for that long; hyper then closes the connection and drops the reply's body, which
//!   drops the engine's `Generation` (cancelling it) and the engine slot (`reply`). The kernel
//!   buffers what the client has not read; the listening socket's send buffer is set small
//!   (`SEND_BUFFER`) so that "has not taken data" is seen after some tens of KB of unread reply,
//!   not after the megabytes Linux would grow it to (a whole long generation at ~200 bytes of SSE
//!   per token).
//!
//! HTTP/1 only (what OpenAI clients speak; HTTP/2 would need its own limits). Stopping closes
//! kept-alive connections and lets replies in flight end (they end themselves with an error).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tower_service::Service;

/// The send buffer asked for on the listening socket; accepted sockets inherit it (Linux, macOS
/// and Windows alike). Linux doubles it for its bookkeeping. Token streams need a few KB/s (~200
/// bytes of SSE a token); 32 KB in flight still carries over half a megabyte a second at 50 ms of
/// round trip. Larger, a client that stopped reading would hold the engine for hundreds of
/// tokens more before its writes stall.
const SEND_BUFFER: u32 = 16 * 1024;
/// Connections waiting to be accepted.
const BACKLOG: u32 = 1024;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub stall_timeout: Duration,
}

/// Binds `addr` with the small send buffer (and, on Unix, address reuse as `TcpListener::bind`
/// does, so a restart does not wait for old connections' TIME_WAIT).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.set_send_buffer_size(SEND_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The open connections, oldest first.
pub struct Registry {
    cap: usize,
    next: u64,
    open: BTreeMap<u64, Conn>,
}

#[derive(Clone, Default)]
struct Conn {
    /// Requests received and not yet answered in full (their response body not yet dropped).
    in_flight: Arc<AtomicUsize>,
    /// Told when the connection is to be dropped at once (it gave its place to a newer one).
    evict: Arc<Notify>,
}

/// A connection's place in the registry, given back when dropped.
struct Place {
    id: u64,
    conn: Conn,
    registry: Arc<Mutex<Registry>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        lock(&self.registry).open.remove(&self.id);
    }
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    pub fn new(cap: usize) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Self { cap, next: 0, open: BTreeMap::new() }))
    }

    pub fn open(registry: &Mutex<Self>) -> usize {
        lock(registry).open.len()
    }

    /// A place for a new connection: a free one, or the one of the oldest connection with no
    /// request in flight (told to go); `None` when every connection has a request in flight.
    fn admit(registry: &Arc<Mutex<Self>>) -> Option<Place> {
        let mut r = lock(registry);
        if r.open.len() >= r.cap {
            let idle = r.open.iter().find(|(_, c)| c.in_flight.load(Ordering::SeqCst) == 0).map(|(id, _)| *id)?;
            if let Some(gone) = r.open.remove(&idle) {
                gone.evict.notify_one();
            }
        }
        let id = r.next;
        r.next += 1;
        let conn = Conn::default();
        r.open.insert(id, conn.clone());
        Some(Place { id, conn, registry: registry.clone() })
    }
}

/// Accepts and serves connections until `stopping`, then waits for the open ones to finish (the
/// caller bounds that wait; dropping this future drops every connection).
pub async fn run(listener: TcpListener, router: Router, limits: Limits, registry: Arc<Mutex<Registry>>, mut stopping: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|s| *s) => break,
            // Reaps ended connections' tasks, so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to come back.
                tracing::warn!(error = %e, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(place) = Registry::admit(&registry) else {
            tracing::debug!(%peer, "every connection has a request in flight; closing a new one");
            continue;
        };
        connections.spawn(serve_connection(stream, place, router.clone(), limits, stopping.clone()));
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(stream: TcpStream, place: Place, router: Router, limits: Limits, mut stopping: watch::Receiver<bool>) {
    stream.set_nodelay(true).ok();
    let in_flight = place.conn.in_flight.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        // A request counts as in flight once its whole body has arrived (at once for one without a
        // body), until its response body is written or dropped unwritten. A body that trickles in
        // does not count: 128 such clients would otherwise hold every place and lock everyone out
        // until their body timeout.
        let busy = Arrived::new(in_flight.clone());
        if hyper::body::Body::is_end_stream(request.body()) {
            busy.arrive();
        }
        let watched = busy.clone();
        let mut router = router.clone();
        async move {
            let request = request.map(|body| Body::new(Arriving { body, busy: watched }));
            let Ok(response) = router.call(request).await;
            Ok::<_, Infallible>(response.map(|body| Tracked { body, _busy: busy }))
        }
    });
    let io = TokioIo::new(Stall::new(stream, limits.stall_timeout));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "a connection ended");
                }
                break;
            }
            // Another connection took its place: drop it now (it had no request in flight).
            _ = place.conn.evict.notified() => break,
            _ = stopping.wait_for(|s| *s), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Counts a request in flight on its connection while alive.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request's place in its connection's count, taken when its body has arrived (`arrive`) and
/// given back when the last of the request body and the response body that share it is dropped.
#[derive(Clone)]
struct Arrived {
    count: Arc<AtomicUsize>,
    busy: Arc<Mutex<Option<Busy>>>,
}

impl Arrived {
    fn new(count: Arc<AtomicUsize>) -> Self {
        Self { count, busy: Arc::new(Mutex::new(None)) }
    }

    fn arrive(&self) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if busy.is_none() {
            *busy = Some(Busy::new(&self.count));
        }
    }
}

/// A request body that says when it has all arrived.
struct Arriving {
    body: Incoming,
    busy: Arrived,
}

impl hyper::body::Body for Arriving {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.body.is_end_stream() {
            self.busy.arrive();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body that keeps its request counted as in flight until hyper drops it.
struct Tracked {
    body: Body,
    _busy: Arrived,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket whose writes fail once one has made no progress for `limit`: the client is not taking
/// the data (its receive buffer and our send buffer are full).
struct Stall<IO> {
    io: IO,
    limit: Duration,
    /// Running while a write waits.
    since: Option<Pin<Box<Sleep>>>,
}

impl<IO> Stall<IO> {
    fn new(io: IO, limit: Duration) -> Self {
        Self { io, limit, since: None }
    }

    /// After a write that returned `poll`: the stall timer stops on progress, starts (or goes on)
    /// while pending, and turns a pending write into an error when it runs out.
    fn watch<T>(&mut self, poll: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.since = None;
            return poll;
        }
        let limit = self.limit;
        let timer = self.since.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_ready() {
            self.since = None;
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client took no data")));
        }
        Poll::Pending
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Stall<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Stall<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(poll, cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(poll, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(poll, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_that_makes_no_progress_fails_after_the_limit() {
        // A pipe of 64 bytes that nobody reads.
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut stalled = Stall::new(ours, Duration::from_millis(200));
        stalled.write_all(&[0; 64]).await.unwrap();
        let t = std::time::Instant::now();
        let e = stalled.write_all(&[0; 1]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(200) && t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn a_slow_reader_that_keeps_taking_data_is_not_cut() {
        let (ours, mut theirs) = tokio::io::duplex(16);
        let reader = tokio::spawn(async move {
            let mut buf = [0; 16];
            let mut got = 0;
            while got < 256 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                got += tokio::io::AsyncReadExt::read(&mut theirs, &mut buf).await.unwrap();
            }
        });
        let mut slow = Stall::new(ours, Duration::from_millis(200));
        slow.write_all(&[1; 256]).await.unwrap();
        reader.await.unwrap();
    }

    #[test]
    fn at_the_cap_the_oldest_idle_connection_gives_way_and_busy_ones_never_do() {
        let registry = Registry::new(2);
        let first = Registry::admit(&registry).unwrap();
        let second = Registry::admit(&registry).unwrap();
        let _busy = Busy::new(&first.conn.in_flight);
        let third = Registry::admit(&registry).expect("the idle second gives way");
        assert_eq!(Registry::open(&registry), 2);
        assert!(!lock(&registry).open.contains_key(&second.id));
        let _busy_too = Busy::new(&third.conn.in_flight);
        assert!(Registry::admit(&registry).is_none(), "every connection has a request in flight");
        drop(second);
        assert_eq!(Registry::open(&registry), 2, "an evicted place is given back once");
        drop(first);
        assert_eq!(Registry::open(&registry), 1);
    }
}
