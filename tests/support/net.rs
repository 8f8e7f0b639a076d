#![allow(dead_code)] // each test crate uses a different part of this helper
//! Loopback helpers shared by the integration tests.

use std::{
    panic::Location,
    time::{Duration, Instant},
};

use protogossip::{
    node::{NodeHandle, TopologyView},
    provider::ProviderHandle,
};

/// A port that was free a moment ago (bound and released). Tests that must
/// name a port before starting a server use it; the race is accepted.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the provider's member ids equal `want`, failing with the
/// caller's location and the last list seen after `deadline`.
/// (`#[track_caller]` is a no-op on an `async fn`, hence the plain fn that
/// returns the future.)
#[track_caller]
pub fn wait_for_ids(
    h: &ProviderHandle,
    want: &[&str],
    deadline: Duration,
) -> impl Future<Output = ()> {
    let at = Location::caller();
    let mut rx = h.members();
    async move {
        let start = Instant::now();
        loop {
            let ids: Vec<String> = rx
                .borrow_and_update()
                .iter()
                .map(|m| m.id.clone())
                .collect();
            if ids == want {
                return;
            }
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!("{at}: members {ids:?}, wanted {want:?} within {deadline:?}")
            });
            let _ = tokio::time::timeout(left, rx.changed()).await;
        }
    }
}

/// Waits until `node`'s topology view satisfies `ok`, failing with the
/// caller's location, the node's id and the last view after `deadline`.
#[track_caller]
pub fn wait_topology(
    node: &NodeHandle,
    what: &str,
    deadline: Duration,
    ok: impl Fn(&TopologyView) -> bool,
) -> impl Future<Output = ()> {
    let at = Location::caller();
    let (id, what) = (node.id().to_owned(), what.to_owned());
    let mut rx = node.topology();
    async move {
        let start = Instant::now();
        loop {
            let left = {
                let v = rx.borrow_and_update();
                if ok(&v) {
                    return;
                }
                deadline.checked_sub(start.elapsed()).unwrap_or_else(|| {
                    panic!("{at}: {id}: no {what} within {deadline:?}: {:?}", *v)
                })
            };
            let _ = tokio::time::timeout(left, rx.changed()).await;
        }
    }
}
