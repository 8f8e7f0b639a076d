//! [`RemoteConfig`]: every knob of the transport, with defaults that match
//! what a protoactor-go peer expects.
//!
//! The defaults are chosen for interop first: a 4 MiB message limit because a
//! Go server rejects anything larger, 1000 envelopes per batch because that is
//! Go's batch size, no HTTP/2 keepalive pings because a Go server answers
//! early pings with GOAWAY, plaintext because Go's default is insecure.

use std::{net::SocketAddr, sync::atomic::AtomicU64, time::Duration};

use super::{TransportError, tls::TlsConfig};

/// gRPC-Go's default receive limit, and therefore the largest `RemoteMessage`
/// a default Go node accepts.
pub const GO_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// protoactor-go's `EndpointWriterBatchSize`.
pub const GO_BATCH_SIZE: usize = 1000;

/// The shortest HTTP/2 keepalive interval a gRPC-Go server tolerates.
pub const GO_MIN_KEEPALIVE: Duration = Duration::from_secs(300);

/// Reconnect policy of an outbound endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// Delay before the second attempt.
    pub initial: Duration,
    /// Upper bound of the delay between attempts.
    pub max: Duration,
    /// Attempts per connection cycle before the endpoint terminates and
    /// its queued messages are failed (Go: 5).
    pub max_attempts: u32,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            max_attempts: 5,
        }
    }
}

with_fields!(BackoffConfig {
    with_initial => initial: Duration,
    with_max => max: Duration,
    with_max_attempts => max_attempts: u32,
});

impl BackoffConfig {
    /// The delay after failed attempt number `attempt` (1-based): doubling
    /// from `initial`, capped at `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Configuration of a [`crate::remote::Remote`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteConfig {
    /// Our `ActorSystem` id, sent in every handshake and answered as
    /// `ConnectResponse.member_id`. Must be fresh on every start (Go block
    /// lists are permanent). The default is a new unique id.
    pub system_id: String,
    /// Where the gRPC server listens. Port 0 picks a free port.
    pub bind: SocketAddr,
    /// The one `host:port` string we publish and put in every PID we own.
    /// `None`: the bound socket's `ip:port`. See the module docs for the
    /// `localhost` vs `127.0.0.1` trap.
    pub advertised_address: Option<String>,
    /// Largest inbound `RemoteMessage` we decode (default 4 MiB like Go).
    /// Go's writer cuts batches by count only (1000 envelopes), so a Go
    /// peer answering many large requests at once can exceed 4 MiB: raise
    /// this if your payloads are large.
    pub max_message_size: usize,
    /// The size our outbound `RemoteMessage`s stay at or below (default
    /// 4 MiB: a default Go node refuses anything larger). Raise it only
    /// towards peers known to accept more.
    pub max_outbound_message_size: usize,
    /// Most envelopes per outbound `MessageBatch` (Go: 1000).
    pub max_batch_envelopes: usize,
    /// Capacity of each endpoint's queue. When full, new messages are
    /// dropped (newest-dropped policy) with [`TransportError::QueueFull`].
    pub endpoint_queue_capacity: usize,
    /// TCP connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// How long we wait for a peer's `ConnectResponse` on our outbound
    /// connections (inbound connections are bounded by
    /// `inbound_idle_timeout`).
    pub handshake_timeout: Duration,
    /// Reconnect policy.
    pub backoff: BackoffConfig,
    /// Most concurrent inbound `Receive` streams; more get
    /// `RESOURCE_EXHAUSTED`.
    pub max_inbound_streams: usize,
    /// Most open inbound TCP connections (default 1024). A connection over
    /// the cap is closed right after `accept`, before TLS or HTTP/2. Each
    /// Go member opens one connection to us, so this bounds the members that
    /// can talk to us at once; keep the process's descriptor limit
    /// (`ulimit -n`) above it plus one per peer we dial.
    pub max_inbound_connections: usize,
    /// Most open inbound TCP connections from one IP address (default 64):
    /// one misbehaving host cannot take every slot. Raise it when many
    /// members share an address (several nodes per host, NAT); setting it to
    /// `max_inbound_connections` turns it off.
    pub max_inbound_connections_per_ip: usize,
    /// An inbound connection with no `Receive` stream for this long is
    /// closed (default 10 s), counting from `accept` (so it bounds the TLS
    /// handshake and the HTTP/2 preface too) or from its last stream's end.
    /// Go opens its stream right after connecting and keeps it open.
    pub inbound_idle_timeout: Duration,
    /// Longest a graceful shutdown waits for the remote's tasks (server,
    /// streams, endpoints, handler calls) to end before cancelling the rest
    /// (Go: 10 s).
    pub shutdown_grace: Duration,
    /// Client HTTP/2 keepalive interval; `None` (default) sends no pings.
    /// Must be at least 5 minutes or Go servers disconnect us.
    pub http2_keepalive: Option<Duration>,
    /// Capacity of the event and eventstream broadcast channels.
    pub event_capacity: usize,
    /// TLS for server and client; `None` (default) is plaintext h2c like Go.
    pub tls: Option<TlsConfig>,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            system_id: fresh_system_id(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertised_address: None,
            max_message_size: GO_MAX_MESSAGE_SIZE,
            max_outbound_message_size: GO_MAX_MESSAGE_SIZE,
            max_batch_envelopes: GO_BATCH_SIZE,
            endpoint_queue_capacity: 100_000,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            backoff: BackoffConfig::default(),
            max_inbound_streams: 1024,
            max_inbound_connections: 1024,
            max_inbound_connections_per_ip: 64,
            inbound_idle_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            http2_keepalive: None,
            event_capacity: 1024,
            tls: None,
        }
    }
}

with_fields!(RemoteConfig {
    with_system_id => system_id: into String,
    with_bind => bind: SocketAddr,
    with_advertised_address => advertised_address: into Option<String>,
    with_max_message_size => max_message_size: usize,
    with_max_outbound_message_size => max_outbound_message_size: usize,
    with_max_batch_envelopes => max_batch_envelopes: usize,
    with_endpoint_queue_capacity => endpoint_queue_capacity: usize,
    with_connect_timeout => connect_timeout: Duration,
    with_handshake_timeout => handshake_timeout: Duration,
    with_backoff => backoff: BackoffConfig,
    with_max_inbound_streams => max_inbound_streams: usize,
    with_max_inbound_connections => max_inbound_connections: usize,
    with_max_inbound_connections_per_ip => max_inbound_connections_per_ip: usize,
    with_inbound_idle_timeout => inbound_idle_timeout: Duration,
    with_shutdown_grace => shutdown_grace: Duration,
    with_http2_keepalive => http2_keepalive: into Option<Duration>,
    with_event_capacity => event_capacity: usize,
    with_tls => tls: into Option<TlsConfig>,
});

/// A process-unique id: wall clock nanoseconds, process id and a counter.
fn fresh_system_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("rs{nanos:x}{:x}{n:x}", std::process::id())
}

fn invalid(field: &'static str, reason: impl Into<String>) -> TransportError {
    TransportError::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

impl RemoteConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`TransportError::InvalidConfig`] naming the first bad field.
    pub fn validate(&self) -> Result<(), TransportError> {
        if self.system_id.is_empty() {
            return Err(invalid("system_id", "must not be empty"));
        }
        if let Some(a) = &self.advertised_address {
            super::address::parse_address(a)
                .map_err(|_| invalid("advertised_address", format!("{a:?} is not host:port")))?;
        }
        if self.max_message_size < 1024 {
            return Err(invalid("max_message_size", "must be at least 1024 bytes"));
        }
        if self.max_outbound_message_size < 1024 {
            return Err(invalid(
                "max_outbound_message_size",
                "must be at least 1024 bytes",
            ));
        }
        if self.max_batch_envelopes == 0 {
            return Err(invalid("max_batch_envelopes", "must be at least 1"));
        }
        if self.endpoint_queue_capacity == 0 {
            return Err(invalid("endpoint_queue_capacity", "must be at least 1"));
        }
        // 0 is not "unlimited": a cap that is off is the hole these close.
        for (field, n) in [
            ("max_inbound_streams", self.max_inbound_streams),
            ("max_inbound_connections", self.max_inbound_connections),
            (
                "max_inbound_connections_per_ip",
                self.max_inbound_connections_per_ip,
            ),
        ] {
            if n == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        if self.event_capacity == 0 {
            return Err(invalid("event_capacity", "must be at least 1"));
        }
        for (field, d) in [
            ("connect_timeout", self.connect_timeout),
            ("handshake_timeout", self.handshake_timeout),
            ("inbound_idle_timeout", self.inbound_idle_timeout),
            ("backoff.initial", self.backoff.initial),
        ] {
            if d.is_zero() {
                return Err(invalid(field, "must be positive"));
            }
        }
        if self.backoff.max < self.backoff.initial {
            return Err(invalid("backoff.max", "must be >= backoff.initial"));
        }
        if self.backoff.max_attempts == 0 {
            return Err(invalid("backoff.max_attempts", "must be at least 1"));
        }
        if let Some(k) = self.http2_keepalive
            && k < GO_MIN_KEEPALIVE
        {
            return Err(invalid(
                "http2_keepalive",
                "gRPC-Go servers GOAWAY clients that ping more often than every 5 minutes",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_go() {
        let c = RemoteConfig::default();
        c.validate().unwrap();
        assert_eq!(c.max_message_size, 4 * 1024 * 1024);
        assert_eq!(c.max_outbound_message_size, 4 * 1024 * 1024);
        assert_eq!(c.max_batch_envelopes, 1000);
        assert_eq!(c.http2_keepalive, None);
        assert!(c.tls.is_none());
    }

    #[test]
    fn system_ids_are_fresh() {
        assert_ne!(
            RemoteConfig::default().system_id,
            RemoteConfig::default().system_id
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let field_of = |c: RemoteConfig| match c.validate() {
            Err(TransportError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        assert_eq!(
            field_of(RemoteConfig {
                http2_keepalive: Some(Duration::from_secs(30)),
                ..RemoteConfig::default()
            }),
            "http2_keepalive"
        );
        assert_eq!(
            field_of(RemoteConfig {
                advertised_address: Some("no-port".into()),
                ..RemoteConfig::default()
            }),
            "advertised_address"
        );
        assert_eq!(
            field_of(RemoteConfig {
                system_id: String::new(),
                ..RemoteConfig::default()
            }),
            "system_id"
        );
        assert_eq!(
            field_of(RemoteConfig {
                max_batch_envelopes: 0,
                ..RemoteConfig::default()
            }),
            "max_batch_envelopes"
        );
        assert_eq!(
            field_of(RemoteConfig {
                max_inbound_connections: 0,
                ..RemoteConfig::default()
            }),
            "max_inbound_connections"
        );
        assert_eq!(
            field_of(RemoteConfig {
                max_inbound_connections_per_ip: 0,
                ..RemoteConfig::default()
            }),
            "max_inbound_connections_per_ip"
        );
        assert_eq!(
            field_of(RemoteConfig {
                inbound_idle_timeout: Duration::ZERO,
                ..RemoteConfig::default()
            }),
            "inbound_idle_timeout"
        );
        let mut c = RemoteConfig::default();
        c.backoff.max = Duration::from_millis(1);
        assert_eq!(field_of(c), "backoff.max");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
            max_attempts: 10,
        };
        let delays: Vec<_> = (1..=5).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        assert_eq!(b.delay(100), Duration::from_millis(500));
    }
}
