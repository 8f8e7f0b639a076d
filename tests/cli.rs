//! The `protogossip` binary as users run it: the README's first command
//! (no arguments) starts a node that answers `/status` and leaves cleanly
//! on SIGTERM; three node processes form a cluster and block one killed with
//! SIGKILL; bad settings exit with a message that says what to fix.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;
#[path = "support/promtool.rs"]
mod promtool;

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

/// `protogossip node <args>` with stdout and stderr discarded.
fn node_process<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Proc {
    Proc(
        Command::new(BIN)
            .arg("node")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
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
            node_process(&[
                "--cluster",
                "killtest",
                "--http",
                http,
                "--automanaged-port",
                &port.to_string(),
                "--automanaged-hosts",
                &hosts,
                "--automanaged-refresh-ms",
                "300",
                "--heartbeat-expiration-ms",
                "3000",
            ])
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
    // A setting the node's own check refuses is a setting too: exit 2, not 1.
    let out = Command::new(BIN)
        .args(["node", "--http", "off", "--automanaged-hosts", "nohost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nohost\" is not host:port"));
}

/// Every class of unusable setting exits 2 with a message naming it, before
/// anything is bound: clap's parse errors, values the CLI parses (addresses,
/// profile, seeds, `--state`, the config file) and the node's own checks
/// (`NodeConfig::validate`: host, gossip timings, provider settings).
#[test]
fn every_class_of_bad_setting_exits_2() {
    let dir = std::env::temp_dir().join(format!("pg-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "clustr = \"x\"\n").unwrap();
    let typo = typo.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        // clap
        (&["--port", "notaport"], "invalid value"),
        (&["--no-such-flag"], "unexpected argument"),
        // values the CLI parses
        (&["--http", "localhost"], "not ip:port"),
        (&["--profile", "go-2030"], "go-2024-03"),
        (
            &["--provider", "static", "--seeds", "nohost"],
            "is not host:port",
        ),
        (
            &["--provider", "static", "--seeds", "abc@127.0.0.1:8090"],
            "learned from the seed",
        ),
        (&["--state", "novalue"], "not key=value"),
        (&["--state", "heartbeat=1"], "protocol writes that key"),
        (&["--config", typo], "clustr"),
        (
            &["--config", "/nonexistent/node.toml"],
            "cannot read config file",
        ),
        // the node's own checks
        (&["--host", "localhost:80"], "localhost:80"),
        (&["--host", ""], "not a host name or IP"),
        (&["--cluster", ""], "cluster name must not be empty"),
        (&["--gossip-interval-ms", "0"], "gossip"),
        (&["--automanaged-hosts", "nohost"], "nohost"),
        (&["--worker-threads", "100000"], "at most 1024"),
    ];
    for (args, says) in cases {
        let out = Command::new(BIN)
            .arg("node")
            .args(*args)
            .args(
                ["--http", "off"]
                    .iter()
                    .filter(|_| !args.contains(&"--http")),
            )
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: expected {says:?} in {err}");
    }
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

/// The node's `/metrics`, as a running `protogossip node` serves it, passes
/// `promtool check metrics` without a single complaint (errors or lint
/// warnings), with the Prometheus text content type. promtool comes from
/// Debian's `prometheus` package, which scripts/test.sh installs; without it
/// this test fails rather than skip.
#[tokio::test]
async fn metrics_of_a_running_node_pass_promtool() {
    let promtool = promtool::require();
    let (health, http) = (free_port(), format!("127.0.0.1:{}", free_port()));
    let _node = node_process(&[
        "--http",
        &http,
        "--automanaged-port",
        &health.to_string(),
        "--gossip-interval-ms",
        "50",
    ]);
    wait_status(
        &http,
        "a one-member cluster",
        Duration::from_secs(20),
        |s| s["topology"]["consensus"]["reached"] == true,
    )
    .await;
    let r = http::get(&http, "/metrics").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for series in [
        "protogossip_gossip_rounds_total",
        "protogossip_gossip_sent_bytes_total",
        "protogossip_members{status=\"Self\"} 1",
        "protogossip_remote_inbound_handshakes_total",
        "# HELP protogossip_remote_outbound_bytes_total ",
    ] {
        assert!(r.body.contains(series), "no {series:?} in\n{}", r.body);
    }
    promtool::check_metrics(&promtool, &r.body);
}

/// `--state key=value` keys are gossiped as `google.protobuf.StringValue`
/// and `GET /state` shows every owner's value, decoded: two node processes
/// each see the other's key.
#[tokio::test]
async fn state_keys_from_the_command_line_reach_the_other_node() {
    let health = [free_port(), free_port()];
    let hosts = health.map(|p| format!("127.0.0.1:{p}")).join(",");
    let https = [0, 1].map(|_| format!("127.0.0.1:{}", free_port()));
    let _nodes: Vec<Proc> = (0..2)
        .map(|i| {
            node_process(&[
                "--cluster",
                "statetest",
                "--http",
                &https[i],
                "--automanaged-port",
                &health[i].to_string(),
                "--automanaged-hosts",
                &hosts,
                "--automanaged-refresh-ms",
                "300",
                "--state",
                &format!("role=node {i}"),
                "--state",
                "zone=",
            ])
        })
        .collect();
    let mut ids = Vec::new();
    for http in &https {
        let s = wait_status(http, "2 members", Duration::from_secs(30), |s| {
            s["topology"]["members"]
                .as_array()
                .is_some_and(|m| m.len() == 2)
        })
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    for http in &https {
        let start = Instant::now();
        let state = loop {
            let r = http::get(http, "/state").await.unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            let state: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            if state["role"].as_object().is_some_and(|o| o.len() == 2) {
                break state;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{http}: both role keys not within 20 s: {state}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for (i, id) in ids.iter().enumerate() {
            let v = &state["role"][id];
            assert_eq!(v["type"], "google.protobuf.StringValue", "{state}");
            assert_eq!(v["value"], format!("node {i}"), "{state}");
            assert!(v["seq"].as_i64().is_some_and(|s| s > 0), "{state}");
        }
        assert_eq!(state["zone"][&ids[0]]["value"], "", "{state}");
        // Protocol keys are listed too, their values in hex.
        assert!(
            state["topology"][&ids[0]]["value_hex"].is_string(),
            "{state}"
        );
    }
}

/// Runs `protogossip node` for `secs` seconds under `sh -c` (a loopback
/// node that logs a few info lines and stops on SIGTERM) with `env`, through
/// `wrap` (e.g. `script` for a terminal), and returns what it wrote.
fn short_node_output(wrap: &[&str], env: &[(&str, &str)], stderr_file: bool) -> Vec<u8> {
    let node = format!(
        "timeout -s TERM 2 {BIN} node --http off --automanaged-port 0 --automanaged-hosts 127.0.0.1:9"
    );
    let mut cmd = Command::new(wrap.first().copied().unwrap_or("sh"));
    cmd.args(wrap.iter().skip(1)).args(if wrap.is_empty() {
        vec!["-c", &node]
    } else {
        vec![&node[..], "/dev/null"]
    });
    cmd.env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let path = std::env::temp_dir().join(format!("pg-cli-log-{}.txt", std::process::id()));
    if stderr_file {
        cmd.stderr(std::fs::File::create(&path).unwrap());
    } else {
        cmd.stderr(Stdio::null());
    }
    let out = cmd.output().unwrap();
    if stderr_file {
        let log = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        log
    } else {
        out.stdout
    }
}

/// Logs carry ANSI colour only on a terminal and never with `NO_COLOR` set
/// to a non-empty value (no-color.org). The terminal is `script`'s pty
/// (util-linux); there, without `NO_COLOR`, colour must appear, so the
/// check cannot pass by never colouring.
#[test]
fn log_colour_only_on_a_terminal_and_never_with_no_color() {
    const ESC: u8 = 0x1b;
    let started = |out: &[u8]| String::from_utf8_lossy(out).contains("remote started");
    let to_file = short_node_output(&[], &[], true);
    assert!(started(&to_file), "{}", String::from_utf8_lossy(&to_file));
    assert!(!to_file.contains(&ESC), "ESC in a log file");

    let pty = ["script", "-qec"];
    let tty = short_node_output(&pty, &[], false);
    assert!(started(&tty), "{}", String::from_utf8_lossy(&tty));
    assert!(tty.contains(&ESC), "no colour on a terminal");
    let empty = short_node_output(&pty, &[("NO_COLOR", "")], false);
    assert!(
        empty.contains(&ESC),
        "an empty NO_COLOR must not turn colour off"
    );
    let no_color = short_node_output(&pty, &[("NO_COLOR", "1")], false);
    assert!(started(&no_color), "{}", String::from_utf8_lossy(&no_color));
    assert!(!no_color.contains(&ESC), "colour despite NO_COLOR=1");
}
