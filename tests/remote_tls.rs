//! TLS (rustls) between Rust nodes and with a real protoactor-go node using
//! gRPC TLS credentials. Certificates are generated at test time.

#[path = "remote_support/certs.rs"]
mod certs;
#[path = "support/go_build.rs"]
mod go_build;
#[path = "remote_support/go_peer.rs"]
mod go_peer;
#[path = "support/net.rs"]
mod net;

use std::time::Duration;

use certs::TestPki;
use go_peer::{GoPeer, free_port};
use protogossip::{
    remote::{BackoffConfig, Handlers, Remote, RemoteConfig, RemoteHandle, TransportError},
    wire::{
        WireMessage,
        proto::{
            actor::Pid,
            cluster::{GossipRequest, GossipResponse, GossipState},
        },
    },
};

const REQ: Duration = Duration::from_secs(10);

fn pid(address: &str, id: &str) -> Pid {
    Pid {
        address: address.into(),
        id: id.into(),
        request_id: 0,
    }
}

fn req() -> GossipRequest {
    GossipRequest {
        from_member_id: "t".into(),
        state: Some(GossipState::default()),
    }
}

async fn node(config: RemoteConfig) -> RemoteHandle {
    Remote::start(
        config,
        Handlers::new().with_gossip(|_s, _r| async { GossipResponse::default() }),
    )
    .await
    .unwrap()
}

fn one_attempt() -> BackoffConfig {
    BackoffConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(10),
        max_attempts: 1,
    }
}

#[tokio::test]
async fn rust_to_rust_over_tls_and_plaintext_cannot_talk_to_tls() {
    let pki = TestPki::generate();
    let a = node(RemoteConfig {
        tls: Some(pki.tls_config()),
        ..RemoteConfig::default()
    })
    .await;
    let b = node(RemoteConfig {
        tls: Some(pki.tls_config()),
        ..RemoteConfig::default()
    })
    .await;
    let r = a.request(pid(b.address(), "gossip"), req(), REQ).await;
    assert!(matches!(r, Ok(WireMessage::GossipResponse(_))), "{r:?}");
    assert_eq!(b.metrics().inbound_handshakes, 1);
    assert_eq!(
        a.metrics().inbound_handshakes,
        1,
        "B answered over its own TLS connection"
    );

    let plain = node(RemoteConfig {
        backoff: one_attempt(),
        handshake_timeout: Duration::from_secs(2),
        ..RemoteConfig::default()
    })
    .await;
    let r = plain.request(pid(b.address(), "gossip"), req(), REQ).await;
    assert!(
        matches!(r, Err(TransportError::EndpointTerminated { .. })),
        "{r:?}"
    );
    assert_eq!(plain.metrics().connect_failures, 1);

    // A client trusting another CA refuses our certificate.
    let other = TestPki::generate();
    let c = node(RemoteConfig {
        tls: Some(other.tls_config()),
        backoff: one_attempt(),
        ..RemoteConfig::default()
    })
    .await;
    let r = c.request(pid(b.address(), "gossip"), req(), REQ).await;
    assert!(
        matches!(r, Err(TransportError::EndpointTerminated { .. })),
        "{r:?}"
    );
    for h in [a, b, plain, c] {
        h.shutdown(true).await;
    }
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
    let rust = node(RemoteConfig {
        tls: Some(pki.tls_config()),
        ..RemoteConfig::default()
    })
    .await;
    let mut go = GoPeer::start(free_port(), &args).await;

    // Rust → Go echo (Go answers over its own TLS connection to us).
    let r = rust.request(pid(&go.address, "echo"), req(), REQ).await;
    assert_eq!(
        r,
        Ok(WireMessage::GossipRequest(req())),
        "Go output:\n{}",
        go.output()
    );
    // Go → Rust gossip.
    go.cmd(&format!("gossip {}", rust.address())).await;
    let reply = go.expect(|l| l.contains(" gossip")).await;
    assert_eq!(
        reply.trim(),
        "reply gossip cluster.GossipResponse",
        "{}",
        go.output()
    );

    // The Go node really is TLS-only: plaintext gets nowhere.
    let plain = node(RemoteConfig {
        backoff: one_attempt(),
        handshake_timeout: Duration::from_secs(2),
        ..RemoteConfig::default()
    })
    .await;
    let r = plain.request(pid(&go.address, "echo"), req(), REQ).await;
    assert!(
        matches!(r, Err(TransportError::EndpointTerminated { .. })),
        "{r:?}"
    );
    plain.shutdown(true).await;
    go.quit().await;
    rust.shutdown(true).await;
    let _ = std::fs::remove_dir_all(dir);
}
