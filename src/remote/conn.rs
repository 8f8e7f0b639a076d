//! Accepted connections that the hard stop can close.
//!
//! tonic runs each accepted connection in a task of its own that we can
//! neither join nor abort. A graceful stop ends those tasks (the server stops
//! accepting, sends GOAWAY and returns once every connection has closed),
//! but a peer that keeps a stream open past the grace period would keep its
//! connection task alive. Every accepted socket is therefore wrapped so that
//! once the remote is cancelled its reads and writes fail: the connection
//! task ends, and with it the server.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_util::sync::WaitForCancellationFutureOwned;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// A TCP connection that fails every I/O call once `cancelled` resolves.
pub(crate) struct CancellableIo {
    io: TcpStream,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl CancellableIo {
    pub(crate) fn new(io: TcpStream, cancelled: WaitForCancellationFutureOwned) -> Self {
        Self {
            io,
            cancelled: Box::pin(cancelled),
        }
    }

    /// Ready with an error once cancelled; otherwise registers the waker so
    /// the connection task wakes up when that happens.
    fn check(&mut self, cx: &mut Context<'_>) -> Result<(), io::Error> {
        match self.cancelled.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "remote stopped",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl Connected for CancellableIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.io.connect_info()
    }
}

impl AsyncRead for CancellableIo {
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

impl AsyncWrite for CancellableIo {
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
