#![allow(dead_code)] // each test crate uses a different part of this helper
//! A minimal HTTP/1.1 GET for tests: enough to read `/status`, `/metrics`
//! and `/_health` bodies and headers without an HTTP client dependency.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response: lower-cased header lines and the body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `host:port`; errors are returned, not panicked, so callers
/// can poll a server that is still starting.
pub async fn get(address: &str, path: &str) -> std::io::Result<Response> {
    let mut s = tokio::net::TcpStream::connect(address).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).await?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}
