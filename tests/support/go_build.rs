//! Builds a `go-interop` command for the interop tests into
//! `<target>/go-bin/<name>` (callers cache the path, so once per test run).

use std::path::PathBuf;

/// Runs `go build ./cmd/<name>` in `go-interop/` and returns the binary.
pub fn build_go_command(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("go-bin").join(name);
    let out = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(format!("./cmd/{name}"))
        .current_dir(root.join("go-interop"))
        .output()
        .expect("running `go build` (is Go installed?)");
    assert!(
        out.status.success(),
        "go build of {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}
