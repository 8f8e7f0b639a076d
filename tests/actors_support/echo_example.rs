//! The echo example (`examples/echo_actor`) as a child process: built with
//! the features this test was built with (so the build `cargo test` already
//! made is reused), started on a free port, stopped with SIGTERM (graceful)
//! or SIGKILL. Included with `#[path]`.

#![allow(dead_code)]

use std::{path::PathBuf, process::Stdio, sync::OnceLock, time::Duration};

use tokio::{process::Command, time::timeout};

use crate::child_lines::ChildLines;

const DEADLINE: Duration = Duration::from_secs(20);

/// `cargo build --example echo_actor` with this test's features; the binary.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut features = Vec::new();
        if cfg!(feature = "etcd") {
            features.push("etcd");
        }
        if cfg!(feature = "test-util") {
            features.push("test-util");
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--example", "echo_actor", "--message-format=short"])
            .current_dir(&root);
        // Not the variables cargo sets for this test process: build scripts
        // (ring's) rerun when they change, and the next `cargo test` would
        // then rebuild half the dependency tree.
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n == "OUT_DIR"
                || n == "CARGO_PRIMARY_PACKAGE"
                || n == "CARGO_TARGET_TMPDIR"
                || n == "CARGO_RUSTC_CURRENT_DIR"
                || [
                    "CARGO_PKG_",
                    "CARGO_MANIFEST_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                ]
                .iter()
                .any(|p| n.starts_with(p))
            {
                cmd.env_remove(&name);
            }
        }
        if !features.is_empty() {
            cmd.arg("--features").arg(features.join(","));
        }
        let out = cmd
            .output()
            .expect("running cargo build --example echo_actor");
        assert!(
            out.status.success(),
            "cargo build --example echo_actor failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("debug").join("examples").join("echo_actor")
    })
    .clone()
}

/// A running echo example.
pub struct EchoExample {
    proc: ChildLines,
    /// Its remote address.
    pub address: String,
}

impl EchoExample {
    pub async fn start() -> EchoExample {
        let mut cmd = Command::new(binary());
        cmd.stdin(Stdio::null());
        let proc = ChildLines::spawn(&mut cmd).expect("start examples/echo_actor");
        let mut ex = EchoExample {
            proc,
            address: String::new(),
        };
        let line = ex.expect(|l| l.starts_with("echo actor at ")).await;
        let pid = line["echo actor at ".len()..].trim();
        ex.address = pid.strip_suffix("/echo").unwrap_or(pid).to_owned();
        ex
    }

    pub fn output(&self) -> String {
        self.proc.output()
    }

    async fn expect(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let found = self
            .proc
            .next_matching(DEADLINE, |l| pred(l).then(|| l.to_owned()))
            .await;
        found.unwrap_or_else(|| {
            panic!(
                "expected line not seen; echo example output:\n{}",
                self.output()
            )
        })
    }

    /// SIGTERM: the example shuts its remote down gracefully and exits 0.
    pub async fn terminate(mut self) {
        let pid = self.proc.child.id().expect("example still running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        self.expect(|l| l == "bye").await;
        let status = timeout(DEADLINE, self.proc.child.wait()).await;
        assert!(
            matches!(status, Ok(Ok(s)) if s.success()),
            "echo example did not exit cleanly: {status:?}\n{}",
            self.output()
        );
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) {
        self.proc.kill(DEADLINE).await;
    }
}
