//! `/status` (JSON), `/metrics` (Prometheus text) and `/healthz`, served on
//! their own port so they work with every provider.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::sync::oneshot;

use super::{NodeError, NodeHandle, NodeMetrics};
use crate::remote::RemoteHandle;

#[derive(Clone)]
struct AppState {
    node: NodeHandle,
    remote: RemoteHandle,
    metrics: Arc<NodeMetrics>,
}

async fn status_page(State(s): State<AppState>) -> Response {
    match s.node.status().await {
        Ok(st) => Json(st).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

async fn metrics_page(State(s): State<AppState>) -> Response {
    match s.node.status().await {
        Ok(st) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            s.metrics.render(&st, &s.remote.metrics()),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Binds `addr` and serves until the returned sender fires (or is dropped).
pub(super) async fn serve(
    addr: SocketAddr,
    node: NodeHandle,
    remote: RemoteHandle,
    metrics: Arc<NodeMetrics>,
) -> Result<(SocketAddr, oneshot::Sender<()>), NodeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Http {
            address: addr,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| NodeError::Http {
        address: addr,
        source,
    })?;
    let app = Router::new()
        .route("/status", get(status_page))
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(AppState {
            node,
            remote,
            metrics,
        });
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "/status server stopped");
        }
    });
    Ok((bound, stop))
}
