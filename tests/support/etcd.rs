#![allow(dead_code)] // each test crate uses a different part of this helper
//! A real etcd server for the etcd provider's tests (Debian's
//! `etcd-server`; `scripts/test.sh` installs it), on free loopback ports
//! with a temporary data directory.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use etcd_client::Client;

use crate::net::free_port;

/// A throw-away etcd server, killed and its data dir removed on drop.
pub struct Etcd {
    child: Child,
    dir: std::path::PathBuf,
    /// `127.0.0.1:<client port>`.
    pub endpoint: String,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `etcd` on free loopback ports and waits until it answers.
pub async fn start_etcd() -> Etcd {
    let (client_port, peer_port) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!(
        "protogossip-etcd-{}-{client_port}",
        std::process::id()
    ));
    let client_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let child = Command::new("etcd")
        .args(["--name", "test", "--data-dir"])
        .arg(&dir)
        .args([
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
        ])
        .args([
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
        ])
        .args(["--initial-cluster", &format!("test={peer_url}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "the etcd binary is needed (Debian package etcd-server; scripts/test.sh installs it)",
        );
    let etcd = Etcd {
        child,
        dir,
        endpoint: format!("127.0.0.1:{client_port}"),
    };
    let start = Instant::now();
    loop {
        if let Ok(mut c) = Client::connect([&etcd.endpoint], None).await
            && c.get("x", None).await.is_ok()
        {
            return etcd;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "etcd did not start within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
