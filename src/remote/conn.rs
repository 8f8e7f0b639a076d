//! Inbound TCP connections, from `accept` to close: the admission caps, the
//! idle timeout and the hard stop.
//!
//! tonic runs each accepted connection in a task of its own that we can
//! neither join nor abort, and does its TLS and HTTP/2 work there. What we
//! control is the stream of sockets we hand it and the sockets themselves, so
//! the three rules live here:
//!
//! - [`Incoming`] accepts, asks [`Admission`] for a slot and closes a refused
//!   socket at once, before tonic sees it. An `accept` that fails for lack of
//!   descriptors or memory pauses the loop briefly instead of spinning.
//! - [`InboundConn`] wraps each admitted socket. Its I/O fails once the
//!   connection has had no `Remoting/Receive` stream for `idle_timeout`
//!   (from `accept`, so the TLS handshake and the HTTP/2 preface are bounded
//!   by it too, or from its last stream's end), and once the remote is
//!   cancelled: a failed read ends tonic's connection task, which drops the
//!   socket and frees its slot. A graceful stop ends those tasks by itself
//!   (the server stops accepting, sends GOAWAY and returns once every
//!   connection has closed); the hard stop is for a peer that keeps a stream
//!   open past the grace period.
//! - [`ConnInfo`] reaches the `Receive` handler through the request's
//!   extensions, which is how a stream tells its connection it is not idle.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::watch,
    time::{Instant, Sleep},
};
use tokio_stream::Stream;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tonic::transport::server::Connected;
use tracing::{debug, warn};

use super::{
    RemoteMetrics,
    admission::{Admission, ConnectionPermit, ConnectionRefused},
    tasks::Tasks,
};

/// How long the accept loop pauses after an `accept` that failed for another
/// reason than the one connection (out of descriptors, out of memory).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// At most one warning per this interval for refused connections and for
/// failed `accept`s; the counters have the rest.
const WARN_INTERVAL: Duration = Duration::from_secs(10);
/// Refusals handled in one poll before the accept loop yields to other tasks.
const REFUSALS_PER_POLL: usize = 64;

/// Accepted sockets that got a slot, as tonic's `incoming` stream. It never
/// yields an error: tonic would only log it and poll again.
pub(crate) struct Incoming {
    listener: TcpListener,
    admission: Admission,
    tasks: Tasks,
    idle_timeout: Duration,
    metrics: Arc<RemoteMetrics>,
    /// Set after a failed `accept`; polled before accepting again.
    pause: Option<Pin<Box<Sleep>>>,
    refusal_warned: Option<Instant>,
    accept_error_warned: Option<Instant>,
}

impl Incoming {
    pub(crate) fn new(
        listener: TcpListener,
        admission: Admission,
        tasks: Tasks,
        idle_timeout: Duration,
        metrics: Arc<RemoteMetrics>,
    ) -> Self {
        Self {
            listener,
            admission,
            tasks,
            idle_timeout,
            metrics,
            pause: None,
            refusal_warned: None,
            accept_error_warned: None,
        }
    }

    fn refuse(&mut self, io: TcpStream, peer: SocketAddr, why: &ConnectionRefused) {
        let counter = match why {
            ConnectionRefused::Total { .. } => &self.metrics.inbound_connections_refused_at_cap,
            ConnectionRefused::PerIp { .. } => &self.metrics.inbound_connections_refused_at_ip_cap,
        };
        RemoteMetrics::inc(counter);
        drop(io);
        if due(&mut self.refusal_warned) {
            let m = &self.metrics;
            warn!(%peer, reason = %why,
                refused_at_cap = RemoteMetrics::get(&m.inbound_connections_refused_at_cap),
                refused_at_ip_cap = RemoteMetrics::get(&m.inbound_connections_refused_at_ip_cap),
                "refusing inbound connections (one warning per 10 s)");
        } else {
            debug!(%peer, reason = %why, "refused inbound connection");
        }
    }

    fn accept_failed(&mut self, e: &io::Error) {
        RemoteMetrics::inc(&self.metrics.inbound_accept_errors);
        // These concern one connection that is already gone; anything else
        // (EMFILE, ENFILE, ENOMEM, ENOBUFS) would fail again at once.
        let transient = matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::Interrupted
        );
        if !transient {
            self.pause = Some(Box::pin(tokio::time::sleep(ACCEPT_ERROR_PAUSE)));
        }
        if due(&mut self.accept_error_warned) {
            warn!(error = %e, transient, "accept failed (one warning per 10 s)");
        } else {
            debug!(error = %e, "accept failed");
        }
    }
}

/// True at most once per [`WARN_INTERVAL`].
fn due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < WARN_INTERVAL) {
        return false;
    }
    *last = Some(now);
    true
}

impl Stream for Incoming {
    type Item = io::Result<InboundConn>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        for _ in 0..REFUSALS_PER_POLL {
            if let Some(pause) = this.pause.as_mut() {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.pause = None;
            }
            let (io, peer) = match this.listener.poll_accept(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(accepted)) => accepted,
                Poll::Ready(Err(e)) => {
                    this.accept_failed(&e);
                    continue;
                }
            };
            match this.admission.admit(peer.ip()) {
                Ok(permit) => {
                    RemoteMetrics::inc(&this.metrics.inbound_connections_accepted);
                    // tonic's `tcp_nodelay` applies only to sockets it accepts
                    // itself; we accept them, so set it here (request latency).
                    if let Err(e) = io.set_nodelay(true) {
                        tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted socket");
                    }
                    return Poll::Ready(Some(Ok(InboundConn::new(
                        io,
                        peer,
                        permit,
                        this.tasks.cancelled(),
                        this.idle_timeout,
                        Arc::clone(&this.metrics),
                    ))));
                }
                Err(why) => this.refuse(io, peer, &why),
            }
        }
        // A flood keeps `accept` ready: let the connections we serve run.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Why an [`InboundConn`]'s I/O fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// The remote was cancelled (hard stop).
    Stopped,
    /// No `Receive` stream for the idle timeout.
    Idle,
}

/// What the `Receive` handler learns about its connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    /// The peer's socket address.
    pub(crate) remote_addr: SocketAddr,
    /// Open `Receive` streams on this connection.
    streams: Arc<watch::Sender<usize>>,
}

impl ConnInfo {
    /// Marks a `Receive` stream open on this connection until the returned
    /// guard drops; the idle clock stops meanwhile.
    pub(crate) fn stream_opened(&self) -> ConnStream {
        self.streams.send_modify(|n| *n += 1);
        ConnStream(Arc::clone(&self.streams))
    }
}

/// One open `Receive` stream of a connection.
pub(crate) struct ConnStream(Arc<watch::Sender<usize>>);

impl Drop for ConnStream {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Resolves once no stream has been open for `idle` in a row.
async fn idle_expiry(mut streams: watch::Receiver<usize>, idle: Duration) {
    loop {
        // `wait_for` fails only without a sender; the connection holds it.
        if streams.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        if tokio::time::timeout(idle, streams.wait_for(|n| *n > 0))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// An admitted TCP connection: fails every I/O call once it has been idle
/// too long or the remote is cancelled, and frees its slot when dropped.
pub(crate) struct InboundConn {
    io: TcpStream,
    info: ConnInfo,
    closing: Pin<Box<dyn Future<Output = Closed> + Send>>,
    closed: Option<Closed>,
    metrics: Arc<RemoteMetrics>,
    _permit: ConnectionPermit,
}

impl InboundConn {
    fn new(
        io: TcpStream,
        remote_addr: SocketAddr,
        permit: ConnectionPermit,
        cancelled: WaitForCancellationFutureOwned,
        idle_timeout: Duration,
        metrics: Arc<RemoteMetrics>,
    ) -> Self {
        let streams = Arc::new(watch::Sender::new(0));
        let idle = idle_expiry(streams.subscribe(), idle_timeout);
        let closing = Box::pin(async move {
            tokio::select! {
                () = cancelled => Closed::Stopped,
                () = idle => Closed::Idle,
            }
        });
        Self {
            io,
            info: ConnInfo {
                remote_addr,
                streams,
            },
            closing,
            closed: None,
            metrics,
            _permit: permit,
        }
    }

    /// An error once closed; otherwise registers the waker so the connection
    /// task wakes up when that happens.
    fn check(&mut self, cx: &mut Context<'_>) -> Result<(), io::Error> {
        if self.closed.is_none()
            && let Poll::Ready(why) = self.closing.as_mut().poll(cx)
        {
            if why == Closed::Idle {
                RemoteMetrics::inc(&self.metrics.inbound_connections_idle_closed);
                debug!(peer = %self.info.remote_addr,
                    "closing inbound connection: no Receive stream within the idle timeout");
            }
            self.closed = Some(why);
        }
        match self.closed {
            None => Ok(()),
            Some(Closed::Stopped) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "remote stopped",
            )),
            Some(Closed::Idle) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no Receive stream within the idle timeout",
            )),
        }
    }
}

impl Drop for InboundConn {
    fn drop(&mut self) {
        RemoteMetrics::inc(&self.metrics.inbound_connections_closed);
    }
}

impl Connected for InboundConn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for InboundConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for InboundConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use tokio::time::{advance, pause};

    use super::*;

    const IDLE: Duration = Duration::from_secs(10);
    /// tokio's timer rounds deadlines up to its next millisecond tick.
    const TICK: Duration = Duration::from_millis(2);

    /// Whether `f` has finished after advancing virtual time by `by`.
    async fn done_after(f: &mut Pin<Box<impl Future<Output = ()>>>, by: Duration) -> bool {
        advance(by).await;
        futures_poll(f)
    }

    fn futures_poll(f: &mut Pin<Box<impl Future<Output = ()>>>) -> bool {
        let waker = std::task::Waker::noop();
        f.as_mut().poll(&mut Context::from_waker(waker)).is_ready()
    }

    #[tokio::test]
    async fn a_connection_without_streams_expires_after_the_timeout() {
        pause();
        let streams = Arc::new(watch::Sender::new(0));
        let mut idle = Box::pin(idle_expiry(streams.subscribe(), IDLE));
        assert!(!futures_poll(&mut idle));
        assert!(!done_after(&mut idle, IDLE - TICK).await);
        assert!(done_after(&mut idle, TICK * 2).await);
    }

    #[tokio::test]
    async fn an_open_stream_stops_the_clock_and_its_end_restarts_it() {
        pause();
        let streams = Arc::new(watch::Sender::new(0));
        let info = ConnInfo {
            remote_addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            streams: Arc::clone(&streams),
        };
        // The connection task polls at once whenever the count changes.
        let mut idle = Box::pin(idle_expiry(streams.subscribe(), IDLE));
        assert!(!futures_poll(&mut idle));
        assert!(!done_after(&mut idle, IDLE / 2).await);
        let stream = info.stream_opened();
        assert!(!futures_poll(&mut idle));
        assert!(!done_after(&mut idle, IDLE * 3).await);
        let second = info.stream_opened();
        drop(stream);
        assert!(!futures_poll(&mut idle));
        assert!(
            !done_after(&mut idle, IDLE * 3).await,
            "one stream is still open"
        );
        drop(second);
        assert!(!futures_poll(&mut idle));
        assert!(
            !done_after(&mut idle, IDLE - TICK).await,
            "the clock restarted"
        );
        assert!(done_after(&mut idle, TICK * 2).await);
    }
}
