#![allow(dead_code)] // each test crate uses a different part of this helper
//! A real protoactor-go cluster member (`go-interop/cmd/harness`) as a child
//! process, for mixed Go/Rust cluster tests: built once per test run, started
//! with flags, read through its READY line and its HTTP API (`/view`, `/set`,
//! `/shutdown`), killed on drop. See docs/interop.md "Go harness node".

use std::{
    panic::Location,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::{Child, Command},
    time::timeout,
};

/// How long a harness may take to print READY (Go's `StartMember` sleeps 1 s).
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// Lines of stderr kept per node for failure messages.
const LOG_TAIL: usize = 60;

/// Builds the harness once per test run into `<target>/go-bin/harness`.
pub fn harness_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::go_build::build_go_command("harness"))
        .clone()
}

/// A minimal HTTP/1.1 request (`Connection: close`) returning status and
/// body; errors are returned so callers can poll.
pub async fn request(method: &str, address: &str, path: &str) -> std::io::Result<(u16, String)> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(address).await?;
        s.write_all(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = timeout(Duration::from_secs(12), io)
        .await
        .map_err(|_| std::io::Error::other("HTTP request timed out"))??;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// Decodes a chunked body (Go chunks bodies above its 2 KiB buffer).
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `request`, made from inside network namespace `netns` when one is given
/// (by `ip netns exec <netns> curl`: a server bound to a namespace's
/// loopback cannot be reached from outside it).
pub async fn request_in(
    netns: Option<&str>,
    method: &str,
    address: &str,
    path: &str,
) -> std::io::Result<(u16, String)> {
    let Some(ns) = netns else {
        return request(method, address, path).await;
    };
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sS", "-m", "5", "-X", method])
        .args(["-w", "\n%{http_code}"])
        .arg(format!("http://{address}{path}"))
        .stdin(Stdio::null())
        .output()
        .await?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "curl in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text
        .rsplit_once('\n')
        .ok_or_else(|| std::io::Error::other("no status from curl"))?;
    let code = code
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad status {code:?} from curl")))?;
    Ok((code, body.to_owned()))
}

/// Every protoactor-go version `go-interop/go.mod` pins (its `require`
/// lines for the module; today one).
pub fn pinned_protoactor_versions() -> Vec<String> {
    let go_mod = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("go-interop/go.mod"),
    )
    .expect("read go-interop/go.mod");
    go_mod
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("github.com/asynkron/protoactor-go"))
                .then(|| words.next().map(str::to_owned))
                .flatten()
        })
        .collect()
}

/// A running harness node.
pub struct GoNode {
    /// Boxed: a tokio `Child` is large, and `GoNode`s sit in enums beside
    /// small variants.
    child: Box<Child>,
    /// The network namespace it runs in (`None`: this process's own).
    netns: Option<String>,
    /// Actor system id (= gossip owner id and automanaged member id).
    pub id: String,
    /// Remoting address.
    pub address: String,
    /// HTTP API address.
    pub http: String,
    /// The protoactor-go version linked into the harness (module build info).
    pub protoactor_go: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl GoNode {
    /// Starts the harness with `args` and waits for its READY line.
    pub async fn start(args: &[String]) -> GoNode {
        GoNode::start_in(None, args).await
    }

    /// Starts the harness inside network namespace `netns` (with `ip netns
    /// exec`, so the child is the harness itself) or, for `None`, here.
    pub async fn start_in(netns: Option<&str>, args: &[String]) -> GoNode {
        GoNode::start_program(harness_binary, netns, args).await
    }

    /// Starts another program with the harness's READY line and HTTP API
    /// (`cmd/grainhost`); `binary` builds it (run off the async workers).
    pub async fn start_program(
        binary: fn() -> PathBuf,
        netns: Option<&str>,
        args: &[String],
    ) -> GoNode {
        // The first call runs `go build`: off the async workers, so the
        // nodes already running in this runtime are not starved meanwhile.
        let harness = tokio::task::spawn_blocking(binary)
            .await
            .expect("building the Go harness");
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&harness);
                c
            }
            None => Command::new(&harness),
        };
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the Go harness");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let l = Arc::clone(&log);
        tokio::spawn(async move {
            let mut r = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = r.next_line().await {
                let mut log = l.lock().unwrap();
                if log.len() == LOG_TAIL {
                    log.remove(0);
                }
                log.push(line);
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = timeout(START_DEADLINE, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "Go harness {args:?}: no READY line ({other:?})\n{}",
                log.lock().unwrap().join("\n")
            ),
        };
        // Keep draining stdout (it must stay empty after READY).
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let ready: serde_json::Value = serde_json::from_str(
            line.strip_prefix("READY ")
                .unwrap_or_else(|| panic!("not a READY line: {line:?}")),
        )
        .unwrap();
        let field = |k: &str| ready[k].as_str().unwrap().to_owned();
        GoNode {
            child: Box::new(child),
            netns: netns.map(str::to_owned),
            id: field("id"),
            address: field("address"),
            http: field("http"),
            protoactor_go: field("protoactor_go"),
            log,
        }
    }

    /// The last stderr lines.
    pub fn log_tail(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `GET /view`, or the error as text.
    pub async fn view(&self) -> Result<serde_json::Value, String> {
        match request_in(self.netns.as_deref(), "GET", &self.http, "/view").await {
            Ok((200, body)) => serde_json::from_str(&body).map_err(|e| format!("{e}: {body}")),
            Ok((status, body)) => Err(format!("status {status}: {body}")),
            Err(e) => Err(e.to_string()),
        }
    }

    // The three requests below assert on behalf of their caller, whose
    // line a failure names: `#[track_caller]` is a no-op on an `async fn`,
    // so each is a plain fn returning the request's future.

    /// `POST /set?key=K&value=V` (URL-safe `key`/`value` only); returns the
    /// sequence number Go gave the entry.
    #[track_caller]
    pub fn set(&self, key: &str, value: &str) -> impl Future<Output = i64> {
        let at = Location::caller();
        let path = format!("/set?key={key}&value={value}");
        async move {
            let body = self.post(at, &path).await;
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["owner"], self.id.as_str(), "{at}: {body}");
            v["seq"].as_i64().unwrap()
        }
    }

    /// `POST /shutdown?graceful=G`; the process exits on its own afterwards.
    #[track_caller]
    pub fn shutdown(&self, graceful: bool) -> impl Future<Output = ()> {
        let at = Location::caller();
        let path = format!("/shutdown?graceful={graceful}");
        async move {
            self.post(at, &path).await;
        }
    }

    /// `POST path`; its body, after a 200 (a failure names `at`).
    async fn post(&self, at: &Location<'_>, path: &str) -> String {
        let (status, body) = request_in(self.netns.as_deref(), "POST", &self.http, path)
            .await
            .unwrap_or_else(|e| panic!("{at}: POST {path}: {e}"));
        assert_eq!(status, 200, "{at}: POST {path}: {body}");
        body
    }

    /// Sends `signal` (a `kill` name: `STOP`, `CONT`, …) to the process.
    #[track_caller]
    pub fn signal(&self, signal: &str) -> impl Future<Output = ()> {
        let at = Location::caller();
        let pid = (self.child.id()).unwrap_or_else(|| panic!("{at}: the harness has exited"));
        async move {
            let ok = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .status()
                .await
                .is_ok_and(|s| s.success());
            assert!(ok, "{at}: kill -{signal} {pid} failed");
        }
    }

    /// SIGKILL (a crash: no `left`, no provider deregistration).
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }

    /// Waits for the process to exit and returns whether it exited with 0.
    pub async fn wait_exit(&mut self, deadline: Duration) -> Option<bool> {
        match timeout(deadline, self.child.wait()).await {
            Ok(Ok(s)) => Some(s.success()),
            _ => None,
        }
    }
}
