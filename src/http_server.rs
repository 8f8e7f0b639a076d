//! Serving a small axum app on a listener the caller bound, until a
//! cancellation token fires.
//!
//! The node's `/status` server and the automanaged provider's `/_health`
//! server both run this way: the listener is bound before anything starts
//! (so a port in use fails the start, naming the port), and stopping is a
//! graceful drain that the owner awaits. The drain is bounded: hyper waits
//! for a half-sent request forever, and a stuck client must not hang a
//! node's shutdown. Past the bound, the connections still open are left to
//! end on their own (axum gives us no handle on them).

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long open connections may take to finish once `stop` has fired.
pub(crate) const DRAIN: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `stop` fires, then drains open
/// connections for at most [`DRAIN`]. `what` names the server in logs.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    stop: CancellationToken,
    what: &'static str,
) {
    let signal = stop.clone();
    let served = axum::serve(listener, app).with_graceful_shutdown(async move {
        signal.cancelled().await;
    });
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(DRAIN).await;
    };
    tokio::select! {
        result = served => {
            if let Err(e) = result {
                tracing::error!(error = %e, server = what, "HTTP server stopped");
            }
        }
        () = deadline => {
            tracing::warn!(server = what, drain = ?DRAIN, "connections still open after the drain; leaving them");
        }
    }
}
