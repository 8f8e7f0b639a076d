//! A child process of a test whose output is kept: stdout lines are queued
//! for the test to wait on, and every stdout and stderr line is logged for
//! failure messages. The process is killed when dropped. Included with
//! `#[path]`.

#![allow(dead_code)]

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
    time::timeout,
};

/// A running child with its stdout lines.
pub struct ChildLines {
    pub child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl ChildLines {
    /// Starts `cmd` with stdout and stderr piped (stdin as `cmd` says).
    pub fn spawn(cmd: &mut Command) -> std::io::Result<ChildLines> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::unbounded_channel();
        if let Some(stdout) = child.stdout.take() {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut r = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = r.next_line().await {
                    log.lock().unwrap().push(format!("out: {line}"));
                    let _ = tx.send(line);
                }
            });
        }
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut r = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = r.next_line().await {
                    log.lock().unwrap().push(format!("err: {line}"));
                }
            });
        }
        Ok(ChildLines { child, lines, log })
    }

    /// Everything the process wrote so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The log itself, to read after the process is gone.
    pub fn shared_log(&self) -> Arc<Mutex<Vec<String>>> {
        Arc::clone(&self.log)
    }

    /// The first stdout line for which `f` gives `Some`, within `deadline`;
    /// `None` when the deadline passes or stdout ends first.
    pub async fn next_matching<T>(
        &mut self,
        deadline: Duration,
        mut f: impl FnMut(&str) -> Option<T>,
    ) -> Option<T> {
        timeout(deadline, async {
            while let Some(line) = self.lines.recv().await {
                if let Some(t) = f(&line) {
                    return Some(t);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }

    /// SIGKILL, then reap.
    pub async fn kill(&mut self, deadline: Duration) {
        let _ = self.child.start_kill();
        let _ = timeout(deadline, self.child.wait()).await;
    }
}
