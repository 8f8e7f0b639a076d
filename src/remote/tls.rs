//! Optional TLS (rustls via tonic) for both directions.
//!
//! protoactor-go's default is plaintext, so TLS is off unless configured.
//! A Go node configured with gRPC TLS credentials
//! (`grpc.Creds(credentials.NewServerTLSFromFile(..))` on its server and
//! `grpc.WithTransportCredentials(..)` on its dial options) interoperates
//! with this: our server presents `cert_pem`, and we verify peers against
//! `ca_pem`. Peer certificates must name the host part of the address we dial
//! (an IP SAN for `127.0.0.1:port`) unless `server_name` overrides it.

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use super::{TransportError, address::parse_address};

/// PEM material for TLS.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// Our certificate chain (PEM), presented by our server.
    pub cert_pem: Vec<u8>,
    /// Our private key (PEM).
    pub key_pem: Vec<u8>,
    /// The CA(s) (PEM) that sign peers' server certificates.
    pub ca_pem: Vec<u8>,
    /// Name to verify in peer certificates instead of the dialled host.
    pub server_name: Option<String>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert_pem", &self.cert_pem.len())
            .field("key_pem", &"<redacted>")
            .field("ca_pem", &self.ca_pem.len())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsConfig {
    /// Our certificate chain and key, and the CA(s) that sign peers'
    /// certificates (all PEM); peers are verified against the host they are
    /// dialled at.
    pub fn new(
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
        ca_pem: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            ca_pem: ca_pem.into(),
            server_name: None,
        }
    }

    /// Returns this configuration verifying `name` in peer certificates
    /// instead of the dialled host.
    #[must_use]
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The server side.
    pub(crate) fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
    }

    /// The client side for a peer address.
    ///
    /// # Errors
    /// [`TransportError::InvalidAddress`] for a bad address.
    pub(crate) fn client(&self, address: &str) -> Result<ClientTlsConfig, TransportError> {
        let (host, _) = parse_address(address)?;
        let name = self.server_name.as_deref().unwrap_or(host);
        Ok(ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .domain_name(name))
    }
}
