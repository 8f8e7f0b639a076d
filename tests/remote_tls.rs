//! TLS (rustls) between Rust nodes and with a real protoactor-go node using
//! gRPC TLS credentials. Certificates are generated at test time.

#[path = "remote_support/certs.rs"]
mod certs;
#[path = "support/child_lines.rs"]
mod child_lines;
#[path = "remote_support/fixture.rs"]
mod fixture;
#[path = "support/go_build.rs"]
mod go_build;
#[path = "remote_support/go_peer.rs"]
mod go_peer;
#[path = "support/net.rs"]
mod net;

use std::time::Duration;

use certs::TestPki;
use fixture::{gossip_node, gossip_request, pid, quick_backoff, shutdown_all};
use go_peer::{GoPeer, free_port};
use protogossip::{
    remote::{RemoteConfig, RemoteHandle, TransportError},
    wire::WireMessage,
};

const REQ: Duration = Duration::from_secs(10);

/// A node that speaks TLS with `pki`'s certificate.
async fn tls_node(pki: &TestPki) -> RemoteHandle {
    gossip_node(RemoteConfig::default().with_tls(Some(pki.tls_config()))).await
}

/// A plaintext node that dials once and gives the handshake 2 s.
async fn plaintext_node() -> RemoteHandle {
    gossip_node(
        RemoteConfig::default()
            .with_backoff(quick_backoff(1))
            .with_handshake_timeout(Duration::from_secs(2)),
    )
    .await
}

#[tokio::test]
async fn rust_to_rust_over_tls_and_plaintext_cannot_talk_to_tls() {
    let pki = TestPki::generate();
    let a = tls_node(&pki).await;
    let b = tls_node(&pki).await;
    let r = a
        .request(pid(b.address(), "gossip"), gossip_request(), REQ)
        .await;
    assert!(matches!(r, Ok(WireMessage::GossipResponse(_))), "{r:?}");
    assert_eq!(b.metrics().inbound_handshakes, 1);
    assert_eq!(
        a.metrics().inbound_handshakes,
        1,
        "B answered over its own TLS connection"
    );

    let plain = plaintext_node().await;
    let r = plain
        .request(pid(b.address(), "gossip"), gossip_request(), REQ)
        .await;
    assert!(
        matches!(r, Err(TransportError::EndpointTerminated { .. })),
        "{r:?}"
    );
    assert_eq!(plain.metrics().connect_failures, 1);

    // A client trusting another CA refuses our certificate.
    let other = TestPki::generate();
    let c = gossip_node(
        RemoteConfig::default()
            .with_tls(Some(other.tls_config()))
            .with_backoff(quick_backoff(1)),
    )
    .await;
    let r = c
        .request(pid(b.address(), "gossip"), gossip_request(), REQ)
        .await;
    assert!(
        matches!(r, Err(TransportError::EndpointTerminated { .. })),
        "{r:?}"
    );
    shutdown_all([a, b, plain, c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_go_over_tls_both_ways() {
    let pki = TestPki::generate();
    let dir = pki.write_to_temp_dir();
    let arg = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let args = [
        "-tls-cert".to_owned(),
        arg("cert.pem"),
        "-tls-key".to_owned(),
        arg("key.pem"),
        "-tls-ca".to_owned(),
        arg("ca.pem"),
    ];
    let rust = tls_node(&pki).await;
    let mut go = GoPeer::start(free_port(), &args).await;

    // Rust → Go echo (Go answers over its own TLS connection to us).
    let r = rust
        .request(pid(&go.address, "echo"), gossip_request(), REQ)
        .await;
    assert_eq!(
        r,
        Ok(WireMessage::GossipRequest(gossip_request())),
        "Go output:\n{}",
        go.output()
    );
    // Go → Rust gossip.
    go.assert_reply(
        "gossip",
        rust.address(),
        "reply gossip cluster.GossipResponse",
    )
    .await;

    // The Go node really is TLS-only: plaintext gets nowhere.
    let plain = plaintext_node().await;
    let r = plain
        .request(pid(&go.address, "echo"), gossip_request(), REQ)
        .await;
    assert!(
        matches!(r, Err(TransportError::EndpointTerminated { .. })),
        "{r:?}"
    );
    plain.shutdown(true).await;
    go.quit().await;
    rust.shutdown(true).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_tls_handshake_that_never_starts_is_closed_by_the_idle_timeout() {
    use tokio::io::AsyncReadExt;
    const IDLE: Duration = Duration::from_millis(300);
    let pki = TestPki::generate();
    let node = gossip_node(
        RemoteConfig::default()
            .with_tls(Some(pki.tls_config()))
            .with_inbound_idle_timeout(IDLE),
    )
    .await;
    // Connect and never send a ClientHello: the server sends nothing either.
    let mut silent = tokio::net::TcpStream::connect(node.local_addr())
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(REQ, silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    assert_eq!(node.metrics().inbound_connections_idle_closed, 1);
    // A real TLS peer still gets in.
    let peer = tls_node(&pki).await;
    let r = peer
        .request(pid(node.address(), "gossip"), gossip_request(), REQ)
        .await;
    assert!(matches!(r, Ok(WireMessage::GossipResponse(_))), "{r:?}");
    shutdown_all([peer, node]).await;
}
