//! The `protogossip` binary as users run it: the README's first command
//! (no arguments) starts a node that answers `/status` and leaves cleanly
//! on SIGTERM; three node processes form a cluster and block one killed with
//! SIGKILL; bad settings exit with a message that says what to fix.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;

use net::free_port;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_protogossip");

/// A child process killed on drop, so a failing test leaves nothing behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn status(http: &str) -> Option<serde_json::Value> {
    let r = http::get(http, "/status").await.ok()?;
    (r.status == 200)
        .then(|| serde_json::from_str(&r.body).ok())
        .flatten()
}

async fn wait_status<F: Fn(&serde_json::Value) -> bool>(
    http: &str,
    what: &str,
    deadline: Duration,
    ok: F,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Some(s) = status(http).await
            && ok(&s)
        {
            return s;
        }
        assert!(
            start.elapsed() < deadline,
            "{http}: {what} not within {deadline:?}; last status: {:?}",
            status(http).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

#[tokio::test]
async fn readme_first_command_answers_status_and_leaves_on_sigterm() {
    for port in [6330, 6331] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is in use; the no-argument node needs 6330 and 6331"
        );
    }
    let mut node = Proc(
        Command::new(BIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let s = wait_status(
        "127.0.0.1:6331",
        "a one-member cluster",
        Duration::from_secs(20),
        |s| {
            s["topology"]["members"]
                .as_array()
                .is_some_and(|m| m.len() == 1)
                && s["topology"]["consensus"]["reached"] == true
        },
    )
    .await;
    assert_eq!(s["cluster"], "protogossip");
    assert_eq!(s["wire_profile"], "mixed");
    assert_eq!(s["id"].as_str().unwrap().len(), 22, "Go-style system id");
    sigterm(&node.0);
    let start = Instant::now();
    let code = loop {
        if let Some(code) = node.0.try_wait().unwrap() {
            break code;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(code.success(), "{code:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(node.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(
        out.contains("protogossip node") && out.contains("leaving the cluster"),
        "{out}"
    );
}

#[tokio::test]
async fn a_killed_node_process_is_blocked_by_the_others() {
    let health: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let https: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let hosts = health
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut nodes: Vec<Proc> = health
        .iter()
        .zip(&https)
        .map(|(port, http)| {
            Proc(
                Command::new(BIN)
                    .args(["node", "--cluster", "killtest", "--http", http])
                    .args([
                        "--automanaged-port",
                        &port.to_string(),
                        "--automanaged-hosts",
                        &hosts,
                    ])
                    .args([
                        "--automanaged-refresh-ms",
                        "300",
                        "--heartbeat-expiration-ms",
                        "3000",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let mut ids = Vec::new();
    for http in &https {
        let s = wait_status(
            http,
            "3 members in consensus",
            Duration::from_secs(30),
            |s| {
                s["topology"]["members"]
                    .as_array()
                    .is_some_and(|m| m.len() == 3)
                    && s["topology"]["consensus"]["reached"] == true
            },
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let victim = nodes.pop().unwrap();
    drop(victim); // SIGKILL
    let victim_id = &ids[2];
    for http in &https[..2] {
        wait_status(
            http,
            "the killed node blocked",
            Duration::from_secs(3 + 6),
            |s| {
                s["topology"]["blocked"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|id| id == victim_id))
            },
        )
        .await;
    }
}

#[test]
fn bad_settings_exit_with_what_to_fix() {
    let out = Command::new(BIN)
        .args(["node", "--http", "6331"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not ip:port"));
    let out = Command::new(BIN)
        .args(["node", "--provider", "zookeeper"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
    let out = Command::new(BIN)
        .args(["node", "--http", "off", "--automanaged-hosts", "nohost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nohost\" is not host:port"));
}

/// Runs the binary to its exit (killing it after `deadline`) and returns its
/// exit code and stderr.
fn run_to_exit(args: &[&str], deadline: Duration) -> (Option<i32>, String) {
    let mut child = Proc(
        Command::new(BIN)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            start.elapsed() < deadline,
            "`protogossip {}` still running after {deadline:?}",
            args.join(" ")
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    (code, err)
}

#[test]
fn a_port_in_use_is_named_and_exits_1() {
    // Bound by the test and kept open until every case has run.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (p, address) = (port.to_string(), format!("127.0.0.1:{port}"));
    // For the cases where /_health binds any free port: a host list is
    // required then; nothing is polled before the start fails.
    let any_health = [
        "--automanaged-port",
        "0",
        "--automanaged-hosts",
        "127.0.0.1:9",
    ];
    let cases: [(&str, Vec<&str>); 3] = [
        (
            "remoting",
            [&["node", "--port", &p, "--http", "off"][..], &any_health].concat(),
        ),
        (
            "automanaged /_health",
            vec!["node", "--http", "off", "--automanaged-port", &p],
        ),
        (
            "/status",
            [&["node", "--http", &address][..], &any_health].concat(),
        ),
    ];
    for (what, args) in cases {
        let (code, err) = run_to_exit(&args, Duration::from_secs(20));
        assert_eq!(code, Some(1), "{what}: {err}");
        assert!(
            err.contains(&format!("cannot listen on {address} ({what})")),
            "{what}: {err}"
        );
    }
    drop(taken);
}
