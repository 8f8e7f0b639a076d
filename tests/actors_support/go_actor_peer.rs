//! A real protoactor-go node (`go-interop/cmd/actorpeer`) that sends,
//! requests and watches our hosted actors with Go's own actor API, driven
//! over stdin; every stdout line it writes is one JSON event (see the
//! command's doc comment for the protocol). Included with `#[path]`.

#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
    time::timeout,
};

/// How long any single wait on the Go process may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::go_build::build_go_command("actorpeer"))
        .clone()
}

/// A running `actorpeer`.
pub struct GoActorPeer {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    log: Arc<Mutex<Vec<String>>>,
    /// Its remote address, `127.0.0.1:<port>`.
    pub address: String,
}

impl GoActorPeer {
    /// Starts the node on a free port and waits for its `ready` event.
    pub async fn start() -> GoActorPeer {
        let mut child = Command::new(binary())
            .args(["-port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start actorpeer");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, events) = mpsc::unbounded_channel();
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let (l1, l2) = (Arc::clone(&log), Arc::clone(&log));
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = r.next_line().await {
                l1.lock().unwrap().push(format!("out: {line}"));
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        tokio::spawn(async move {
            let mut r = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = r.next_line().await {
                l2.lock().unwrap().push(format!("err: {line}"));
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut peer = GoActorPeer {
            child,
            stdin,
            events,
            log,
            address: String::new(),
        };
        let ready = peer.expect("ready", "").await;
        peer.address = ready["address"].as_str().unwrap_or_default().to_owned();
        peer
    }

    /// Everything the process wrote so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Writes one command line.
    pub async fn cmd(&mut self, line: &str) {
        let r = self.stdin.write_all(format!("{line}\n").as_bytes()).await;
        let r = match r {
            Ok(()) => self.stdin.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            panic!("writing {line:?} to Go: {e}\n{}", self.output());
        }
    }

    /// The first event matching `pred` within [`DEADLINE`]; panics with the
    /// Go output otherwise.
    pub async fn expect_where(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let found = timeout(DEADLINE, async {
            while let Some(v) = self.events.recv().await {
                if v["ev"] == "bad-command" {
                    return Err(v);
                }
                if pred(&v) {
                    return Ok(v);
                }
            }
            Err(Value::Null)
        })
        .await;
        match found {
            Ok(Ok(v)) => v,
            Ok(Err(bad)) if !bad.is_null() => panic!("Go refused a command: {bad}"),
            _ => panic!(
                "no {what} from Go within {DEADLINE:?}; Go output:\n{}",
                self.output()
            ),
        }
    }

    /// The first event `ev` with tag `tag` (`""`: any tag).
    pub async fn expect(&mut self, ev: &str, tag: &str) -> Value {
        self.expect_where(&format!("{ev} {tag}"), |v| {
            v["ev"] == ev && (tag.is_empty() || v["tag"] == tag)
        })
        .await
    }

    /// The reply or error event of the request tagged `tag`.
    pub async fn answer(&mut self, tag: &str) -> Value {
        self.expect_where(&format!("answer to {tag}"), |v| {
            (v["ev"] == "reply" || v["ev"] == "error") && v["tag"] == tag
        })
        .await
    }

    /// Asserts that no event matching `pred` arrives within `quiet`.
    pub async fn assert_quiet(&mut self, quiet: Duration, pred: impl Fn(&Value) -> bool) {
        let seen = timeout(quiet, async {
            while let Some(v) = self.events.recv().await {
                if pred(&v) {
                    return Some(v);
                }
            }
            None
        })
        .await;
        if let Ok(Some(v)) = seen {
            panic!("unexpected Go event {v}\n{}", self.output());
        }
    }

    /// SIGKILL, then reap.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("kill actorpeer");
        let _ = timeout(DEADLINE, self.child.wait()).await;
    }

    /// Graceful `Remote.Shutdown(true)`; asserts a clean exit.
    pub async fn quit(mut self) {
        self.cmd("quit").await;
        self.expect("bye", "").await;
        let status = timeout(DEADLINE, self.child.wait()).await;
        assert!(
            matches!(status, Ok(Ok(s)) if s.success()),
            "Go did not exit cleanly: {status:?}\n{}",
            self.output()
        );
    }
}

/// A PID as the Go side prints it.
pub fn pid_json(address: &str, id: &str, request_id: u32) -> Value {
    serde_json::json!({"address": address, "id": id, "request_id": request_id})
}
