//! Finding and reading vector files. A missing directory, an unreadable file
//! or a malformed twin is an error the test reports as a failure — never a
//! reason to skip.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::de::DeserializeOwned;

/// `compat-tests/vectors`, as written by `go-interop/regen-vectors.sh`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-tests/vectors")
}

/// The directory of one family.
pub fn family_dir(family: &str) -> PathBuf {
    root().join(family)
}

/// Every case twin (`<case>.json`, not the `.resolved.json` companions) of a
/// family, sorted; an error when the directory is missing or empty.
pub fn case_twins(family: &str) -> Result<Vec<PathBuf>, String> {
    let dir = family_dir(family);
    let entries = fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut twins = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".json") && !name.ends_with(".resolved.json") {
            twins.push(path);
        }
    }
    twins.sort();
    if twins.is_empty() {
        return Err(format!("{}: no vector twins", dir.display()));
    }
    Ok(twins)
}

/// Reads a file next to `twin`.
pub fn sibling(twin: &Path, file: &str) -> Result<Vec<u8>, String> {
    read(&twin.with_file_name(file))
}

/// Reads a file.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads and parses a JSON file.
pub fn json<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}
