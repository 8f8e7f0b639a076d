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
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
    time::timeout,
};

pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn go_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::go_build::build_go_command("remotepeer"))
        .clone()
}

pub use crate::net::free_port;

/// A running Go node.
pub struct GoPeer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
    pub log: Arc<Mutex<Vec<String>>>,
    pub address: String,
}

impl GoPeer {
    pub async fn start(port: u16, args: &[String]) -> GoPeer {
        let mut child = Command::new(go_binary())
            .arg("-port")
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start remotepeer");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (l1, l2) = (Arc::clone(&log), Arc::clone(&log));
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = r.next_line().await {
                l1.lock().unwrap().push(format!("out: {line}"));
                let _ = tx.send(line);
            }
        });
        tokio::spawn(async move {
            let mut r = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = r.next_line().await {
                l2.lock().unwrap().push(format!("err: {line}"));
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut peer = GoPeer {
            child,
            stdin,
            lines,
            log,
            address: String::new(),
        };
        let ready = peer.expect(|l| l.starts_with("ready ")).await;
        peer.address = ready["ready ".len()..].trim().to_owned();
        assert_eq!(peer.address, format!("127.0.0.1:{port}"));
        peer
    }

    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
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
        let found = timeout(DEADLINE, async {
            while let Some(line) = self.lines.recv().await {
                if pred(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("expected line not seen; Go output:\n{}", self.output()),
        }
    }

    pub async fn quit(mut self) {
        self.cmd("quit").await;
        self.expect(|l| l == "bye").await;
        let status = timeout(DEADLINE, self.child.wait()).await;
        assert!(
            matches!(status, Ok(Ok(s)) if s.success()),
            "Go did not exit cleanly: {status:?}\n{}",
            self.output()
        );
    }
}
