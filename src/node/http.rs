//! `/status` (JSON), `/metrics` (Prometheus text) and `/healthz`, served on
//! their own port so they work with every provider.

use std::sync::Arc;

use super::{NodeHandle, NodeMetrics};
use crate::remote::RemoteHandle;
use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

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

/// The `/status`, `/metrics` and `/healthz` routes.
pub(super) fn app(node: NodeHandle, remote: RemoteHandle, metrics: Arc<NodeMetrics>) -> Router {
    Router::new()
        .route("/status", get(status_page))
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(AppState {
            node,
            remote,
            metrics,
        })
}
