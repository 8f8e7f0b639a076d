//! `/status` and `/state` (JSON), `/metrics` (Prometheus text) and `/healthz`, served on
//! their own port so they work with every provider.

use std::sync::Arc;

use super::{NodeHandle, NodeMetrics, metrics};
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

async fn state_page(State(s): State<AppState>) -> Response {
    match s.node.state_view().await {
        Ok(state) => Json(state).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

async fn metrics_page(State(s): State<AppState>) -> Response {
    let status = match s.node.status().await {
        Ok(st) => st,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    match s.metrics.render(&status, &s.remote.metrics()) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The `/status`, `/state`, `/metrics` and `/healthz` routes.
pub(super) fn app(node: NodeHandle, remote: RemoteHandle, metrics: Arc<NodeMetrics>) -> Router {
    Router::new()
        .route("/status", get(status_page))
        .route("/state", get(state_page))
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(AppState {
            node,
            remote,
            metrics,
        })
}
