//! Peer addresses: the `host:port` strings protoactor-go uses as identities.
//!
//! Go compares addresses as strings, byte for byte: a PID whose address is
//! `localhost:8090` is *not* local to a node that publishes
//! `127.0.0.1:8090`, and Go forwards it instead of delivering it. So we
//! publish exactly one string, recognise our own address only by exact
//! comparison, and never rewrite peers' addresses. IPv6 literals are written
//! without brackets by Go (`Member.Address()`), so we accept the last `:` as
//! the port separator and add brackets only when building a URI.

use super::TransportError;

/// Splits `host:port`, checking the port is a number.
///
/// # Errors
/// [`TransportError::InvalidAddress`] for an empty host or a bad port.
pub fn parse_address(address: &str) -> Result<(&str, u16), TransportError> {
    let bad = || TransportError::InvalidAddress(address.into());
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(bad());
    }
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok((host, port))
}

/// The URI tonic dials for a peer address.
///
/// # Errors
/// [`TransportError::InvalidAddress`] when the address is not `host:port`.
pub(crate) fn dial_uri(address: &str, tls: bool) -> Result<String, TransportError> {
    let (host, port) = parse_address(address)?;
    let scheme = if tls { "https" } else { "http" };
    if host.contains(':') {
        Ok(format!("{scheme}://[{host}]:{port}"))
    } else {
        Ok(format!("{scheme}://{host}:{port}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_addresses() {
        assert_eq!(
            parse_address("127.0.0.1:8090").unwrap(),
            ("127.0.0.1", 8090)
        );
        assert_eq!(parse_address("node-1.svc:80").unwrap(), ("node-1.svc", 80));
        assert_eq!(parse_address("::1:8090").unwrap(), ("::1", 8090));
        assert_eq!(parse_address("[::1]:8090").unwrap(), ("::1", 8090));
        for bad in ["", "nohost", ":80", "h:", "h:99999", "a/b:1", "h:x"] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dial_uris() {
        assert_eq!(
            dial_uri("127.0.0.1:1", false).unwrap(),
            "http://127.0.0.1:1"
        );
        assert_eq!(dial_uri("::1:1", true).unwrap(), "https://[::1]:1");
    }
}
