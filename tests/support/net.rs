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

/// A port that was free a moment ago, for tests that must name a port
/// before the server that uses it starts (a Go harness, a CLI child).
///
/// Ports come from 20000–32767, below Linux's ephemeral range (32768–60999
/// by default), so no outgoing connection of this or another test can take
/// one between this call and the server's bind: the race that once failed CI
/// with "address already in use". Within one test process a counter hands
/// each call a different port, so tests running in parallel never share one;
/// the start is spread by the process id, and a port found bound by someone
/// else is skipped.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_768; // up to 32767
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN)
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
) -> impl Future<Output = ()> + use<> {
    let at = Location::caller();
    let mut rx = h.members();
    let want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
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
