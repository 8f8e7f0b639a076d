//! A real protoactor-go node (`go-interop/cmd/actorpeer`) that sends,
//! requests and watches our hosted actors with Go's own actor API, driven
//! over stdin; every stdout line it writes is one JSON event (see the
//! command's doc comment for the protocol). Included with `#[path]`.

#![allow(dead_code)]

use std::{path::PathBuf, process::Stdio, sync::OnceLock, time::Duration};

use serde_json::Value;
use tokio::{
    io::AsyncWriteExt,
    process::{ChildStdin, Command},
    time::timeout,
};

use crate::child_lines::ChildLines;

/// How long any single wait on the Go process may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::go_build::build_go_command("actorpeer"))
        .clone()
}

/// A running `actorpeer`.
pub struct GoActorPeer {
    proc: ChildLines,
    stdin: ChildStdin,
    /// Its remote address, `127.0.0.1:<port>`.
    pub address: String,
}

/// What a wait found: the event, or a command Go refused.
enum Found {
    Event(Value),
    Refused(Value),
}

impl GoActorPeer {
    /// Starts the node on a free port and waits for its `ready` event.
    pub async fn start() -> GoActorPeer {
        let mut proc = ChildLines::spawn(
            Command::new(binary())
                .args(["-port", "0"])
                .stdin(Stdio::piped()),
        )
        .expect("start actorpeer");
        let stdin = proc.child.stdin.take().expect("piped stdin");
        let mut peer = GoActorPeer {
            proc,
            stdin,
            address: String::new(),
        };
        let ready = peer.expect("ready", "").await;
        peer.address = ready["address"].as_str().unwrap_or_default().to_owned();
        peer
    }

    /// Everything the process wrote so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.proc.output()
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

    /// The next event matching `pred` (or a refused command) within `deadline`.
    async fn next(&mut self, deadline: Duration, pred: impl Fn(&Value) -> bool) -> Option<Found> {
        self.proc
            .next_matching(deadline, |line| {
                let v = serde_json::from_str::<Value>(line).ok()?;
                if v["ev"] == "bad-command" {
                    Some(Found::Refused(v))
                } else if pred(&v) {
                    Some(Found::Event(v))
                } else {
                    None
                }
            })
            .await
    }

    /// The first event matching `pred` within [`DEADLINE`]; panics with the
    /// Go output otherwise.
    pub async fn expect_where(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        match self.next(DEADLINE, pred).await {
            Some(Found::Event(v)) => v,
            Some(Found::Refused(v)) => panic!("Go refused a command: {v}"),
            None => panic!(
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
        if let Some(Found::Event(v) | Found::Refused(v)) = self.next(quiet, pred).await {
            panic!("unexpected Go event {v}\n{}", self.output());
        }
    }

    /// SIGKILL, then reap.
    pub async fn kill(&mut self) {
        self.proc.kill(DEADLINE).await;
    }

    /// Graceful `Remote.Shutdown(true)`; asserts a clean exit.
    pub async fn quit(mut self) {
        self.cmd("quit").await;
        self.expect("bye", "").await;
        let status = timeout(DEADLINE, self.proc.child.wait()).await;
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
