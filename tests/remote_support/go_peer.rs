//! A real protoactor-go node (`go-interop/cmd/remotepeer`) driven over
//! stdin/stdout, for the interop tests. Included with `#[path]` by the test
//! files that need it.

#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use tokio::{
    io::AsyncWriteExt,
    process::{ChildStdin, Command},
    time::timeout,
};

use crate::child_lines::ChildLines;

pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn go_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::go_build::build_go_command("remotepeer"))
        .clone()
}

pub use crate::net::free_port;

/// A running Go node.
pub struct GoPeer {
    process: ChildLines,
    stdin: ChildStdin,
    pub address: String,
}

impl GoPeer {
    pub async fn start(port: u16, args: &[String]) -> GoPeer {
        let mut process = ChildLines::spawn(
            Command::new(go_binary())
                .arg("-port")
                .arg(port.to_string())
                .args(args)
                .stdin(Stdio::piped()),
        )
        .expect("start remotepeer");
        let stdin = process.child.stdin.take().unwrap();
        let mut peer = GoPeer {
            process,
            stdin,
            address: String::new(),
        };
        let ready = peer.expect(|l| l.starts_with("ready ")).await;
        peer.address = ready["ready ".len()..].trim().to_owned();
        assert_eq!(peer.address, format!("127.0.0.1:{port}"));
        peer
    }

    /// Go's output, to read after the peer is gone.
    pub fn log(&self) -> Arc<Mutex<Vec<String>>> {
        self.process.shared_log()
    }

    pub fn output(&self) -> String {
        self.process.output()
    }

    pub async fn cmd(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap_or_else(|e| panic!("writing {line:?} to Go: {e}\n{}", self.output()));
        self.stdin.flush().await.unwrap();
    }

    /// Sends `<verb> <address>` and returns Go's `reply <verb> …` or
    /// `error <verb> …` line for it.
    pub async fn ask(&mut self, verb: &str, address: &str) -> String {
        self.cmd(&format!("{verb} {address}")).await;
        let (reply, error) = (format!("reply {verb}"), format!("error {verb}"));
        self.expect(|l| l.starts_with(&reply) || l.starts_with(&error))
            .await
    }

    /// Asks `<verb> <address>` and asserts Go's answer line is exactly `want`.
    pub async fn assert_reply(&mut self, verb: &str, address: &str, want: &str) {
        let reply = self.ask(verb, address).await;
        assert_eq!(reply.trim(), want, "{}", self.output());
    }

    /// Asks `<verb> <address>`, asserts Go's answer line starts with
    /// `prefix`, and returns it.
    pub async fn assert_reply_starts(&mut self, verb: &str, address: &str, prefix: &str) -> String {
        let reply = self.ask(verb, address).await;
        assert!(reply.starts_with(prefix), "{reply}\n{}", self.output());
        reply
    }

    /// Waits for a stdout line matching `pred`.
    pub async fn expect(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let found = self
            .process
            .next_matching(DEADLINE, |line| pred(line).then(|| line.to_owned()))
            .await;
        found.unwrap_or_else(|| panic!("expected line not seen; Go output:\n{}", self.output()))
    }

    pub async fn quit(mut self) {
        self.cmd("quit").await;
        self.expect(|l| l == "bye").await;
        let status = timeout(DEADLINE, self.process.child.wait()).await;
        assert!(
            matches!(status, Ok(Ok(s)) if s.success()),
            "Go did not exit cleanly: {status:?}\n{}",
            self.output()
        );
    }
}
