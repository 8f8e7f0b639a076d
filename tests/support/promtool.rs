//! `promtool check metrics` on a `/metrics` page. promtool comes from
//! Debian's `prometheus` package, which scripts/test.sh installs (or
//! `PROMTOOL` names it); without it the caller's test fails rather than
//! skip.

use std::process::{Command, Stdio};

/// Fails unless promtool runs (checked before anything is started).
#[track_caller]
pub fn require() -> String {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let version = Command::new(&promtool).arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "`{promtool} --version` failed ({version:?}): install Debian's `prometheus` package (scripts/test.sh does) or set PROMTOOL"
    );
    promtool
}

/// Fails unless `promtool check metrics` finds nothing to say about `body`
/// (no error, no lint warning).
#[track_caller]
pub fn check_metrics(promtool: &str, body: &str) {
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), body.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {:?}\n{report}\n--- /metrics:\n{body}",
        out.status,
    );
}
