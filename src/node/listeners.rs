//! Binding every socket a node serves on before any part of it starts.
//!
//! A port in use then fails the start before anything runs (nothing to
//! clean up), the error names the address, and the real ports (of `:0`
//! binds) are known before they are advertised: the remoting port goes
//! into our member entry, the `/_health` port into our automanaged model.
//! Nothing binds a port, drops it and binds it again later.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::{Listener, NodeConfig, NodeError};
use crate::provider::{self, ProviderConfig, ProviderError};

/// The sockets a node serves on, bound before it starts. Build one with
/// [`NodeListeners::bind`], or bind them yourself (e.g. to learn every
/// node's `/_health` port before starting any) and pass them to
/// [`super::NodeHandle::start_with`]. The listeners' addresses take the
/// place of the ports and addresses in [`NodeConfig`].
#[derive(Debug)]
pub struct NodeListeners {
    /// Remoting (gRPC).
    pub remote: TcpListener,
    /// The automanaged provider's `/_health`; `None` for other providers.
    pub health: Option<TcpListener>,
    /// `/status`, `/metrics` and `/healthz`; `None` = not served.
    pub http: Option<TcpListener>,
}

impl NodeListeners {
    /// Binds what `config` asks for: remoting on `bind` (or `host:port`),
    /// `/_health` if the provider is automanaged, and `http` if set.
    ///
    /// # Errors
    /// [`NodeError::Listen`] naming the address that could not be bound, or
    /// [`NodeError::Config`] for a host that does not resolve.
    pub async fn bind(config: &NodeConfig) -> Result<Self, NodeError> {
        let remote = listen(Listener::Remoting, remote_address(config).await?).await?;
        let health = match &config.provider {
            ProviderConfig::Automanaged(_) => provider::bind(&config.provider, &config.host)
                .await
                .map_err(|e| match e {
                    ProviderError::Bind { address, source } => NodeError::Listen {
                        what: Listener::AutomanagedHealth,
                        address,
                        source,
                    },
                    other => NodeError::Provider(other),
                })?,
            _ => None,
        };
        let http = match config.http {
            Some(address) => Some(listen(Listener::Status, address).await?),
            None => None,
        };
        Ok(Self {
            remote,
            health,
            http,
        })
    }
}

/// Where remoting listens: `bind`, or `host:port` resolved; a `bind` with
/// port 0 takes `port`.
async fn remote_address(config: &NodeConfig) -> Result<SocketAddr, NodeError> {
    let mut address = match config.bind {
        Some(b) => b,
        None => tokio::net::lookup_host((config.host.as_str(), config.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| NodeError::Config(format!("cannot resolve host {:?}", config.host)))?,
    };
    if address.port() == 0 {
        address.set_port(config.port);
    }
    Ok(address)
}

async fn listen(what: Listener, address: SocketAddr) -> Result<TcpListener, NodeError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| NodeError::Listen {
            what,
            address: address.to_string(),
            source,
        })
}
