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
        let _ = std::fs::remove_file(log_path(&self.dir));
    }
}

/// etcd's log (it writes to stderr), next to its data directory.
fn log_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.with_extension("log")
}

fn log_file(dir: &std::path::Path) -> Stdio {
    std::fs::File::create(log_path(dir)).map_or_else(|_| Stdio::null(), Stdio::from)
}

/// The last 20 lines of etcd's log.
fn log_tail(dir: &std::path::Path) -> String {
    let log = std::fs::read_to_string(log_path(dir)).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// How etcd exited, if it has.
fn etcd_exit(etcd: &mut Etcd) -> Option<String> {
    match etcd.child.try_wait() {
        Ok(None) => None,
        Ok(Some(status)) => Some(format!("exited: {status}")),
        Err(e) => Some(format!("cannot wait for it: {e}")),
    }
}

/// Starts `etcd` on free loopback ports and waits until it answers. An
/// etcd that exits at once (another process took a port between
/// `free_port` and etcd's bind) is started again on new ports, twice at most.
pub async fn start_etcd() -> Etcd {
    let mut failures = Vec::new();
    for _ in 0..3 {
        match try_start_etcd().await {
            Ok(etcd) => return etcd,
            Err(e) => failures.push(e),
        }
    }
    panic!("etcd did not start:\n{}", failures.join("\n"));
}

/// One start; `Err` only when etcd exited (its log's tail). An etcd still
/// not serving after 20 s fails the test at once.
async fn try_start_etcd() -> Result<Etcd, String> {
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
        .stderr(log_file(&dir))
        .spawn()
        .expect(
            "the etcd binary is needed (Debian package etcd-server; scripts/test.sh installs it)",
        );
    let mut etcd = Etcd {
        child,
        dir,
        endpoint: format!("127.0.0.1:{client_port}"),
    };
    let start = Instant::now();
    loop {
        if let Ok(mut c) = Client::connect([&etcd.endpoint], None).await
            && c.get("x", None).await.is_ok()
        {
            return Ok(etcd);
        }
        if let Some(exit) = etcd_exit(&mut etcd) {
            return Err(format!(
                "etcd on {} {exit}; its log ends:\n{}",
                etcd.endpoint,
                log_tail(&etcd.dir)
            ));
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "etcd on {} is not serving after 20 s; its log ends:\n{}",
            etcd.endpoint,
            log_tail(&etcd.dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
