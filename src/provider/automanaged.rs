//! protoactor-go's automanaged provider: every node serves `GET /_health`
//! with a small JSON description of itself, and polls the `/_health` of a
//! configured host list every refresh interval. The nodes that answer, with
//! the same cluster name, are the members.
//!
//! We serve the same JSON, byte for byte (field order, Go's HTML escaping,
//! trailing newline, `Content-Type`), so Go nodes list us, and we parse what
//! Go serves, so we list them.
//!
//! One deliberate difference: Go drops a member from the list the first
//! time its poll fails (a slow answer, a dropped connection), and a member
//! that leaves a Go node's topology is blocked by that node forever. We
//! weigh the evidence instead (`automanaged/detector.rs`): a weak failure (timeout,
//! reset) must repeat for `missed_polls_before_leave` consecutive rounds,
//! so one bad poll does not cost a healthy member its membership on our
//! side; a refused connection, confirmed by an immediate second poll or by
//! a [`HealthHint`] (the transport lost its connection, gossip suspects
//! the member), drops it at once, so a crashed process is dropped as fast
//! as Go drops it, or faster. As in Go, when *every* poll of a round fails
//! we keep the previous list: that is our network, not the cluster.

mod detector;

pub use detector::HealthHint;
use detector::{HealthDetector, PollKind};

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, http::header, routing::get};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::{ProviderError, ProviderTasks, SelfMember, publish};
use crate::http_server;
use crate::wire::proto::cluster::Member;

/// The `Content-Type` Go's `/_health` answers with.
pub const HEALTH_CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// The largest `/_health` body we read from a peer.
const MAX_HEALTH_BODY: usize = 64 * 1024;

/// The automanaged provider's settings. Timings equal Go's `New()`; the
/// rest is chosen so a library user never clashes on a fixed port: the
/// default is a lone node on any free port (`port: 0`) polling only itself
/// (`hosts` empty: the node always lists itself), bound to the advertised
/// host (Go binds `0.0.0.0`). Go's `/_health` port is 6330: set `port` and
/// `hosts` (`127.0.0.1:6330`, one loopback spelling) to join Go members; the
/// CLI node does so by default.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AutomanagedConfig {
    /// The port `/_health` is served on (default 0 = any free port; Go's
    /// default is 6330).
    pub port: u16,
    /// The address `/_health` is bound to; `None` = this node's advertised host.
    pub bind_host: Option<String>,
    /// `host:port` of every node's `/_health` endpoint, usually this one
    /// included (empty, the default: only this node, which always lists
    /// itself).
    pub hosts: Vec<String>,
    /// How often the hosts are polled (Go: 2 s).
    pub refresh: Duration,
    /// How long one poll may take (Go: 2 s).
    pub request_timeout: Duration,
    /// Consecutive failed poll rounds after which a previously seen member
    /// is dropped (Go: 1, i.e. at once). A refused connection, confirmed,
    /// drops it sooner (see the module docs).
    pub missed_polls_before_leave: u32,
}

impl Default for AutomanagedConfig {
    fn default() -> Self {
        Self {
            port: 0,
            bind_host: None,
            hosts: Vec::new(),
            refresh: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            missed_polls_before_leave: 3,
        }
    }
}

with_fields!(AutomanagedConfig {
    with_port => port: u16,
    with_bind_host => bind_host: into Option<String>,
    with_hosts => hosts: [String],
    with_refresh => refresh: Duration,
    with_request_timeout => request_timeout: Duration,
    with_missed_polls_before_leave => missed_polls_before_leave: u32,
});

impl AutomanagedConfig {
    pub(super) fn validate(&self) -> Result<(), ProviderError> {
        if self.refresh.is_zero() {
            return Err(ProviderError::Config(
                "automanaged refresh must be > 0".into(),
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(ProviderError::Config(
                "automanaged request timeout must be > 0".into(),
            ));
        }
        if self.missed_polls_before_leave == 0 {
            return Err(ProviderError::Config(
                "automanaged missed_polls_before_leave must be >= 1".into(),
            ));
        }
        for h in &self.hosts {
            let port_ok = h.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !port_ok {
                return Err(ProviderError::Config(format!(
                    "automanaged host {h:?} is not host:port"
                )));
            }
        }
        Ok(())
    }
}

/// The JSON a node serves on `/_health`; field names and order are Go's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeModel {
    /// Member id (the system id).
    pub id: String,
    /// The remoting host only, without port.
    pub address: String,
    /// The `/_health` port.
    pub auto_manage_port: i64,
    /// The remoting (gRPC) port.
    pub port: i64,
    /// Cluster kinds; Go tolerates `null`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub kinds: Vec<String>,
    /// The cluster name; only nodes with ours are members.
    pub cluster_name: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl NodeModel {
    /// The model this node serves.
    pub fn of(me: &SelfMember, auto_manage_port: u16) -> Self {
        Self {
            id: me.system_id.clone(),
            address: me.host.clone(),
            auto_manage_port: i64::from(auto_manage_port),
            port: i64::from(me.port),
            kinds: me.kinds.clone(),
            cluster_name: me.cluster_name.clone(),
        }
    }

    /// The body Go's echo server writes: `encoding/json` output (which
    /// escapes `<`, `>`, `&`, U+2028 and U+2029) and a newline.
    pub fn to_go_json(&self) -> Vec<u8> {
        // Serializing a struct of strings and integers cannot fail.
        let plain = serde_json::to_string(self).unwrap_or_default();
        let mut out = String::with_capacity(plain.len() + 8);
        for c in plain.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        out.push('\n');
        out.into_bytes()
    }

    /// Reads a `/_health` body as Go's poller does; `Ok(None)` is Go's
    /// `null` body. The body comes from any host we poll, so this is one of
    /// the decoders the fuzz targets cover.
    ///
    /// # Errors
    /// [`PollError::Body`] when the body is not a node model (or `null`).
    pub fn from_health_body(body: &[u8]) -> Result<Option<Self>, PollError> {
        serde_json::from_slice::<Option<Self>>(body).map_err(|e| PollError::Body(format!("{e}")))
    }

    /// The member this node model describes.
    pub fn to_member(&self) -> Option<Member> {
        Some(Member {
            host: self.address.clone(),
            port: i32::try_from(self.port).ok()?,
            id: self.id.clone(),
            kinds: self.kinds.clone(),
        })
    }
}

/// The `/_health` app: `body` for every `GET /_health`.
fn health_app(body: Arc<Vec<u8>>) -> Router {
    Router::new().route(
        "/_health",
        get(move || {
            let body = Arc::clone(&body);
            async move {
                (
                    [(header::CONTENT_TYPE, HEALTH_CONTENT_TYPE)],
                    (*body).clone(),
                )
            }
        }),
    )
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// Why one poll of one host failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// No answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Nothing listens at the host: the connection was refused.
    #[error("connection refused: {0}")]
    Refused(String),
    /// The connection failed otherwise.
    #[error("request failed: {0}")]
    Request(String),
    /// An answer other than 200.
    #[error("status {0}")]
    Status(u16),
    /// The body was too large or not a node model.
    #[error("bad body: {0}")]
    Body(String),
}

/// Polls one host's `/_health`. `Ok(None)` is Go's `null` body.
pub(crate) async fn poll_host(
    client: &HttpClientHandle,
    host: &str,
    timeout: Duration,
) -> Result<Option<NodeModel>, PollError> {
    let uri: hyper::Uri = format!("http://{host}/_health")
        .parse()
        .map_err(|e| PollError::Request(format!("{e}")))?;
    let fetch = async {
        let resp = client.0.get(uri).await.map_err(|e| {
            if is_refused(&e) {
                PollError::Refused(format!("{e}"))
            } else {
                PollError::Request(format!("{e}"))
            }
        })?;
        if resp.status() != hyper::StatusCode::OK {
            return Err(PollError::Status(resp.status().as_u16()));
        }
        let body = Limited::new(resp.into_body(), MAX_HEALTH_BODY)
            .collect()
            .await
            .map_err(|e| PollError::Body(format!("{e}")))?
            .to_bytes();
        NodeModel::from_health_body(&body)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| PollError::Timeout(timeout))?
}

/// Whether a request failed because the connection was refused (an
/// `io::Error` of kind `ConnectionRefused` anywhere in its source chain).
fn is_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A reusable HTTP client for polling.
#[derive(Clone)]
pub(crate) struct HttpClientHandle(HttpClient);

impl Default for HttpClientHandle {
    fn default() -> Self {
        Self(Client::builder(TokioExecutor::new()).build_http())
    }
}

impl HttpClientHandle {
    /// A client whose connection tasks are the provider's own tasks.
    fn owned_by(tasks: &ProviderTasks) -> Self {
        Self(Client::builder(TaskExecutor(tasks.clone())).build_http())
    }
}

/// Spawns the HTTP client's background tasks (one per open connection) as
/// provider tasks, so that stopping the provider waits for them too.
#[derive(Clone)]
struct TaskExecutor(ProviderTasks);

impl<F> hyper::rt::Executor<F> for TaskExecutor
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        self.0.spawn(future);
    }
}

/// Where [`HealthHint`]s go: the automanaged provider's poller. Sending
/// never blocks; a hint that finds the queue full is dropped (it would
/// only have hurried a confirming poll).
#[derive(Debug, Clone)]
pub struct HintSender(mpsc::Sender<HealthHint>);

impl HintSender {
    /// Hands `hint` to the poller.
    pub fn send(&self, hint: HealthHint) {
        let _ = self.0.try_send(hint);
    }
}

/// How many hints may wait for the poller.
const HINT_QUEUE: usize = 64;

/// Binds `/_health` on `config.bind_host` (default: `host`) and `config.port`.
pub(super) async fn bind(
    config: &AutomanagedConfig,
    host: &str,
) -> Result<tokio::net::TcpListener, ProviderError> {
    let address = format!(
        "{}:{}",
        config.bind_host.as_deref().unwrap_or(host),
        config.port
    );
    tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|source| ProviderError::Bind { address, source })
}

/// Serves `/_health` on `listener` and polls every host until the tasks
/// are told to leave or halted (both close `/_health`; a halt also drops a
/// poll under way).
pub(super) fn serve(
    config: AutomanagedConfig,
    me: SelfMember,
    listener: tokio::net::TcpListener,
    tasks: &ProviderTasks,
) -> Result<(watch::Receiver<Vec<Member>>, HintSender), ProviderError> {
    let bound: SocketAddr = listener
        .local_addr()
        .map_err(|source| ProviderError::Bind {
            address: format!("{listener:?}"),
            source,
        })?;
    let model = NodeModel::of(&me, bound.port());
    let self_member = me.to_member(&me.system_id);
    tracing::info!(address = %bound, id = %me.system_id, "automanaged /_health serving");

    tasks.tracker.spawn(http_server::serve(
        listener,
        health_app(Arc::new(model.to_go_json())),
        tasks.leave.clone(),
        "automanaged /_health",
    ));
    let (tx, rx) = watch::channel(Vec::new());
    let (hint_tx, hints) = mpsc::channel(HINT_QUEUE);
    let poller = Poller {
        client: HttpClientHandle::owned_by(tasks),
        detector: HealthDetector::new(config.missed_polls_before_leave),
        config,
        cluster_name: me.cluster_name.clone(),
        self_member,
        tx,
        tasks: tasks.clone(),
    };
    tasks.spawn(poller.run(hints));
    Ok((rx, HintSender(hint_tx)))
}

/// The polling task: refresh rounds over every host, confirming polls of
/// single hosts when the [`HealthDetector`] asks for them, and hints.
struct Poller {
    client: HttpClientHandle,
    detector: HealthDetector,
    config: AutomanagedConfig,
    cluster_name: String,
    self_member: Member,
    tx: watch::Sender<Vec<Member>>,
    tasks: ProviderTasks,
}

/// One finished poll: its kind, host and result.
type PollDone = (PollKind, String, Result<Option<NodeModel>, PollError>);

impl Poller {
    async fn run(mut self, mut hints: mpsc::Receiver<HealthHint>) {
        let (done_tx, mut done) = mpsc::unbounded_channel::<PollDone>();
        // Round polls still out, and whether every one that came back failed.
        let mut round: Option<(usize, bool)> = None;
        let next_round = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(next_round);
        loop {
            tokio::select! {
                () = self.tasks.leave.cancelled() => break,
                () = &mut next_round, if round.is_none() => {
                    // One task per host, so a slow host does not delay the others.
                    for host in &self.config.hosts {
                        self.spawn_poll(PollKind::Round, host.clone(), &done_tx);
                    }
                    round = Some((self.config.hosts.len(), true));
                    if self.config.hosts.is_empty() {
                        self.publish();
                        round = None;
                        next_round.as_mut().reset(tokio::time::Instant::now() + self.config.refresh);
                    }
                }
                Some((kind, host, result)) = done.recv() => {
                    if let Err(e) = &result {
                        tracing::debug!(%host, ?kind, error = %e, "automanaged poll failed");
                    }
                    let failed = result.is_err();
                    if self.detector.on_poll(&host, kind, result.as_ref().map(Clone::clone)) {
                        self.detector.confirming(&host);
                        self.spawn_poll(PollKind::Confirm, host, &done_tx);
                    }
                    match (kind, &mut round) {
                        (PollKind::Round, Some((left, all_failed))) => {
                            *left -= 1;
                            *all_failed &= failed;
                            if *left == 0 {
                                if *all_failed {
                                    tracing::warn!(hosts = ?self.config.hosts, "every automanaged poll failed; keeping the previous member list");
                                } else {
                                    self.publish();
                                }
                                round = None;
                                next_round.as_mut().reset(tokio::time::Instant::now() + self.config.refresh);
                            }
                        }
                        // A confirming poll's verdict is published at once.
                        _ => self.publish(),
                    }
                }
                Some(hint) = hints.recv() => {
                    for host in self.detector.on_hint(&hint) {
                        tracing::debug!(%host, ?hint, "automanaged: confirming poll on a hint");
                        self.detector.confirming(&host);
                        self.spawn_poll(PollKind::Confirm, host, &done_tx);
                    }
                }
            }
        }
    }

    /// Polls `host` in a task of its own, which ends at once when we leave.
    fn spawn_poll(&self, kind: PollKind, host: String, done: &mpsc::UnboundedSender<PollDone>) {
        let (client, done) = (self.client.clone(), done.clone());
        let timeout = self.config.request_timeout;
        let poll = async move {
            let result = poll_host(&client, &host, timeout).await;
            let _ = done.send((kind, host, result));
        };
        self.tasks
            .tracker
            .spawn(self.tasks.leave.clone().run_until_cancelled_owned(poll));
    }

    /// Publishes the detector's members, ourselves included: we know we
    /// are alive even if our own host is not listed.
    fn publish(&self) {
        let mut members = self.detector.members(&self.cluster_name);
        if !members.iter().any(|m| m.id == self.self_member.id) {
            members.push(self.self_member.clone());
        }
        publish(&self.tx, members);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, cluster: &str) -> NodeModel {
        NodeModel {
            id: id.into(),
            address: "127.0.0.1".into(),
            auto_manage_port: 6330,
            port: 8090,
            kinds: vec!["prototopic".into()],
            cluster_name: cluster.into(),
        }
    }

    #[test]
    fn go_json_field_order_escaping_and_newline() {
        let mut m = model("a<b>&c", "mycluster");
        m.kinds = vec![];
        let json = String::from_utf8(m.to_go_json()).unwrap();
        assert_eq!(
            json,
            "{\"id\":\"a\\u003cb\\u003e\\u0026c\",\"address\":\"127.0.0.1\",\"auto_manage_port\":6330,\"port\":8090,\"kinds\":[],\"cluster_name\":\"mycluster\"}\n"
        );
    }

    #[test]
    fn parses_go_null_kinds_and_ignores_unknown_fields() {
        let body = br#"{"id":"x","address":"h","auto_manage_port":1,"port":2,"kinds":null,"cluster_name":"c","extra":true}"#;
        let n: NodeModel = serde_json::from_slice(body).unwrap();
        assert!(n.kinds.is_empty());
        assert_eq!(
            serde_json::from_slice::<Option<NodeModel>>(b"null").unwrap(),
            None
        );
    }

    #[test]
    fn validate_names_the_bad_setting() {
        let c = AutomanagedConfig {
            hosts: vec!["nohost".into()],
            ..Default::default()
        };
        assert!(matches!(c.validate(), Err(ProviderError::Config(m)) if m.contains("nohost")));
        let c = AutomanagedConfig {
            refresh: Duration::ZERO,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        assert!(AutomanagedConfig::default().validate().is_ok());
    }

    #[test]
    fn default_binds_no_fixed_port_and_polls_only_itself() {
        let c = AutomanagedConfig::default();
        assert_eq!((c.port, c.hosts.len()), (0, 0));
    }
}
