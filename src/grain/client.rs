//! Calling grains by identity, as protoactor-go's `cluster.Request` does.
//!
//! A grain is addressed by its [`ClusterIdentity`] (kind + identity), never
//! by a PID: the member that owns it is computed from the current topology
//! ([`crate::placement::Rendezvous`], Go's disthash placement), that
//! member's `partition-activator` is asked for the activation's PID
//! (`ActivationRequest` → `ActivationResponse`), the PID is cached, and the
//! message is requested from it. Go's default cluster context
//! (`cluster/default_context.go`, `cluster/grain.go` in the pinned version)
//! sets the rules we follow:
//!
//! - one deadline for the whole call, `RequestTimeoutTime` (5 s by default);
//! - at most 3 attempts; after a failed attempt the `n`-th retry waits
//!   `n² × 50` before trying again;
//! - an attempt fails, and the call is retried, when no PID can be had (no
//!   member hosts the kind, the activation failed or timed out) or when the
//!   grain's answer is a dead letter or a timeout; the last two also drop
//!   the cached PID;
//! - the cache drops the PIDs of members that leave the topology.
//!
//! Where we differ from Go, on purpose: Go's retry wait is `n² × 50`
//! *nanoseconds* (a `time.Duration` built from a bare int), which is no wait
//! at all; ours is `n² × 50 ms` by default and configurable
//! ([`GrainCallOptions::retry_backoff_unit`]; `1 ns` restores Go's), see
//! docs/go-quirks.md#q-m20. A member that cannot be reached (connection refused,
//! endpoint gone) is retried like a dead letter, which is what Go's remote
//! turns such a send into. Each attempt's request is bounded by what is left
//! of the call's deadline, not by a fresh full timeout.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, warn};

use super::metrics::{GrainClientMetrics, GrainClientMetricsSnapshot};
use super::pid_cache::PidCache;
use crate::gossip::{ClusterEvent, EventKind};
use crate::node::{EventFilter, NodeError, NodeHandle, SubscriptionItem};
use crate::placement::{Rendezvous, member_address};
use crate::remote::{PARTITION_ACTIVATOR_ID, RemoteHandle, TransportError};
use crate::wire::TOPOLOGY_KEY;
use crate::wire::proto::actor::Pid;
use crate::wire::proto::cluster::{
    ActivationRequest, ActivationResponse, ClusterIdentity, ClusterTopology, Member,
};

/// How one grain call retries and times out. The defaults are Go's
/// (`NewGrainCallOptions` with the default `RequestTimeoutTime`), except
/// the retry wait's unit (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrainCallOptions {
    /// The whole call's deadline (Go: `RequestTimeoutTime`, 5 s).
    pub timeout: Duration,
    /// Attempts before giving up (Go: `RetryCount`, 3).
    pub retry_count: u32,
    /// The `n`-th retry waits `n² ×` this (Go: 1 ns, in effect; ours 50 ms).
    pub retry_backoff_unit: Duration,
    /// The longest an `ActivationRequest` may take (Go: 5 s, fixed), also
    /// bounded by the call's deadline.
    pub activation_timeout: Duration,
}

impl Default for GrainCallOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            retry_count: 3,
            retry_backoff_unit: Duration::from_millis(50),
            activation_timeout: Duration::from_secs(5),
        }
    }
}

impl GrainCallOptions {
    /// With `timeout` as the call's deadline (Go's `WithTimeout`).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With `count` attempts (Go's `WithRetryCount`).
    #[must_use]
    pub fn with_retry_count(mut self, count: u32) -> Self {
        self.retry_count = count;
        self
    }

    /// The wait before retry `n` (1-based): `n² × retry_backoff_unit`.
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        self.retry_backoff_unit
            .saturating_mul(retry.saturating_mul(retry))
    }
}

/// Why a grain call failed. Each names the grain; the retried kinds say
/// how many attempts were made.
#[derive(Debug, thiserror::Error)]
pub enum GrainCallError {
    /// No member of the topology hosts the kind (or, as in Go, every
    /// member hosting it scored 0 for this identity).
    #[error("no member hosts kind {:?} (identity {:?}, {attempts} attempts)", .grain.kind, .grain.identity)]
    NoOwner {
        /// The grain.
        grain: ClusterIdentity,
        /// Attempts made.
        attempts: u32,
    },
    /// The owner's `partition-activator` did not give a PID.
    #[error("activating {}/{} at {owner} failed: {reason} ({attempts} attempts)", .grain.kind, .grain.identity)]
    ActivationFailed {
        /// The grain.
        grain: ClusterIdentity,
        /// The owner asked last.
        owner: String,
        /// What it (or the transport) said.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The activation's member answered `DeadLetterResponse` every time.
    #[error("{}/{}: dead letter from {address} ({attempts} attempts)", .grain.kind, .grain.identity)]
    DeadLetter {
        /// The grain.
        grain: ClusterIdentity,
        /// The address of the PID tried last.
        address: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The activation's member could not be reached.
    #[error("{}/{}: member {address} unreachable ({attempts} attempts): {source}", .grain.kind, .grain.identity)]
    Unreachable {
        /// The grain.
        grain: ClusterIdentity,
        /// The address tried last.
        address: String,
        /// Attempts made.
        attempts: u32,
        /// The transport's error.
        source: TransportError,
    },
    /// The call's deadline passed.
    #[error("{}/{}: no answer within {timeout:?}", .grain.kind, .grain.identity)]
    Timeout {
        /// The grain.
        grain: ClusterIdentity,
        /// The deadline the call had.
        timeout: Duration,
    },
    /// A failure no retry can fix (the answer is not the expected type,
    /// the message cannot be encoded, the transport is shutting down).
    #[error("{}/{}: {source}", .grain.kind, .grain.identity)]
    Transport {
        /// The grain.
        grain: ClusterIdentity,
        /// The transport's error.
        source: TransportError,
    },
}

/// What one attempt ended with.
#[derive(Debug)]
enum AttemptOutcome<R> {
    Done(R),
    /// Retry (after the backoff), remembering why.
    Retry(AttemptFailure),
    /// Give up now.
    Fatal(TransportError),
}

/// Why one attempt failed; the last one becomes the call's error.
#[derive(Debug)]
enum AttemptFailure {
    NoOwner,
    ActivationFailed {
        owner: String,
        reason: String,
    },
    DeadLetter {
        address: String,
    },
    Timeout,
    Unreachable {
        address: String,
        source: TransportError,
    },
}

impl AttemptFailure {
    fn into_error(
        self,
        grain: ClusterIdentity,
        attempts: u32,
        timeout: Duration,
    ) -> GrainCallError {
        match self {
            Self::NoOwner => GrainCallError::NoOwner { grain, attempts },
            Self::ActivationFailed { owner, reason } => GrainCallError::ActivationFailed {
                grain,
                owner,
                reason,
                attempts,
            },
            Self::DeadLetter { address } => GrainCallError::DeadLetter {
                grain,
                address,
                attempts,
            },
            Self::Timeout => GrainCallError::Timeout { grain, timeout },
            Self::Unreachable { address, source } => GrainCallError::Unreachable {
                grain,
                address,
                attempts,
                source,
            },
        }
    }
}

/// Go's retry loop, apart from what an attempt does: a deadline for the
/// whole call, at most `retry_count` attempts, `backoff(n)` between them.
/// `attempt` gets the time left.
async fn with_retries<R, F, Fut>(
    grain: &ClusterIdentity,
    options: &GrainCallOptions,
    metrics: &GrainClientMetrics,
    mut attempt: F,
) -> Result<R, GrainCallError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = AttemptOutcome<R>>,
{
    let deadline = Instant::now() + options.timeout;
    let timeout = || GrainCallError::Timeout {
        grain: grain.clone(),
        timeout: options.timeout,
    };
    let mut attempts = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout());
        }
        attempts += 1;
        let outcome = tokio::time::timeout_at(deadline, attempt(left))
            .await
            .map_err(|_| timeout())?;
        let failure = match outcome {
            AttemptOutcome::Done(r) => return Ok(r),
            AttemptOutcome::Fatal(source) => {
                return Err(GrainCallError::Transport {
                    grain: grain.clone(),
                    source,
                });
            }
            AttemptOutcome::Retry(failure) => failure,
        };
        metrics.count_failure(&failure);
        debug!(kind = %grain.kind, identity = %grain.identity, attempts, ?failure, "grain call attempt failed");
        if attempts >= options.retry_count {
            return Err(failure.into_error(grain.clone(), attempts, options.timeout));
        }
        metrics.retries.fetch_add(1, Ordering::Relaxed);
        let wait = options.backoff(attempts);
        if Instant::now() + wait >= deadline {
            tokio::time::sleep_until(deadline).await;
            return Err(timeout());
        }
        tokio::time::sleep(wait).await;
    }
}

impl GrainClientMetrics {
    fn count_failure(&self, failure: &AttemptFailure) {
        let counter = match failure {
            AttemptFailure::NoOwner => &self.no_owner,
            AttemptFailure::ActivationFailed { .. } => &self.activation_failures,
            AttemptFailure::DeadLetter { .. } => &self.dead_letters,
            AttemptFailure::Timeout => &self.timeouts,
            AttemptFailure::Unreachable { .. } => &self.unreachable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the client and its topology task share.
#[derive(Debug, Default)]
struct Shared {
    placement: RwLock<Rendezvous>,
    cache: Mutex<PidCache>,
    metrics: GrainClientMetrics,
}

impl Shared {
    fn cache(&self) -> std::sync::MutexGuard<'_, PidCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new member list: new placement, and the cached PIDs of members no
    /// longer in it dropped (Go drops those of the topology's `left`).
    fn apply_topology(&self, members: &[Member]) {
        let placement = Rendezvous::new(members);
        let addresses: Vec<String> = members.iter().map(member_address).collect();
        *self
            .placement
            .write()
            .unwrap_or_else(PoisonError::into_inner) = placement;
        let mut cache = self.cache();
        let before = cache.len();
        let gone: Vec<String> = cache
            .addresses()
            .filter(|a| !addresses.iter().any(|m| m == a))
            .map(str::to_owned)
            .collect();
        for address in gone {
            cache.remove_address(&address);
        }
        let dropped = before - cache.len();
        if dropped > 0 {
            self.metrics
                .invalidated
                .fetch_add(dropped as u64, Ordering::Relaxed);
            debug!(dropped, "grain PIDs of departed members dropped");
        }
    }
}

/// Calls grains by identity from a node. Cheap to clone; clones share the
/// placement, the PID cache and the counters. The topology is followed by a
/// task that ends when the node stops or the last clone is dropped.
///
/// ```no_run
/// # async fn run(node: protogossip::node::NodeHandle) -> Result<(), Box<dyn std::error::Error>> {
/// use protogossip::grain::GrainClient;
/// # #[derive(Clone, PartialEq, prost::Message)] struct Ping { #[prost(string, tag = "1")] message: String }
/// # impl prost::Name for Ping { const NAME: &'static str = "Ping"; const PACKAGE: &'static str = "interop"; }
/// # type Pong = Ping;
///
/// node.remote().types().register::<Pong>()?; // the answer's type
/// let grains = GrainClient::start(&node).await?;
/// let pong: Pong = grains.request("user-42", "echo", &Ping { message: "hi".into() }).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GrainClient {
    remote: RemoteHandle,
    shared: Arc<Shared>,
    options: GrainCallOptions,
    _stop: Arc<DropGuard>,
}

impl GrainClient {
    /// A client on `node`, with Go's default call options. Reads the
    /// node's current topology, then follows its changes.
    ///
    /// # Errors
    /// [`NodeError::Stopped`] when the node has stopped.
    pub async fn start(node: &NodeHandle) -> Result<Self, NodeError> {
        // Subscribe before reading, so no change falls between the two.
        let mut events = node.subscribe_filtered(EventFilter::kinds([EventKind::TopologyUpdated]));
        let shared = Arc::new(Shared::default());
        shared.apply_topology(&own_topology(node).await?);
        let counted = Arc::downgrade(&shared);
        node.add_counters(
            "grain_client",
            Box::new(move || {
                counted
                    .upgrade()
                    .map(|s| s.metrics.snapshot().described())
                    .unwrap_or_default()
            }),
        );
        let token = CancellationToken::new();
        let task_shared = Arc::clone(&shared);
        let task_token = token.clone();
        let task_node = node.clone();
        tokio::spawn(async move {
            loop {
                let item = tokio::select! {
                    () = task_token.cancelled() => break,
                    item = events.recv() => item,
                };
                match item {
                    None => break,
                    Some(SubscriptionItem::Event(e)) => {
                        if let ClusterEvent::TopologyUpdated { members, .. } = &e.event {
                            task_shared.apply_topology(members);
                        }
                    }
                    Some(SubscriptionItem::Lagged(n)) => {
                        warn!(
                            lost = n,
                            "grain client fell behind the topology; re-reading it"
                        );
                        match own_topology(&task_node).await {
                            Ok(members) => task_shared.apply_topology(&members),
                            Err(_) => break,
                        }
                    }
                }
            }
        });
        Ok(Self {
            remote: node.remote().clone(),
            shared,
            options: GrainCallOptions::default(),
            _stop: Arc::new(token.drop_guard()),
        })
    }

    /// This client with other default call options.
    #[must_use]
    pub fn with_options(mut self, options: GrainCallOptions) -> Self {
        self.options = options;
        self
    }

    /// The call options [`Self::request`] uses.
    #[must_use]
    pub fn options(&self) -> &GrainCallOptions {
        &self.options
    }

    /// The address (`host:port`) of the member that owns `kind`/`identity`
    /// in the current topology.
    #[must_use]
    pub fn owner(&self, kind: &str, identity: &str) -> Option<String> {
        self.shared
            .placement
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .owner_address(kind, identity)
            .map(str::to_owned)
    }

    /// The cached PID of `kind`/`identity`, if any.
    #[must_use]
    pub fn cached_pid(&self, kind: &str, identity: &str) -> Option<Pid> {
        self.shared.cache().get(kind, identity).cloned()
    }

    /// The counters.
    #[must_use]
    pub fn metrics(&self) -> GrainClientMetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Requests `message` from grain `identity` of `kind` and waits for
    /// an `R` (Go's `cluster.Request(identity, kind, message)`). `R` must
    /// be registered with the node's type registry
    /// (`node.remote().types().register::<R>()`).
    ///
    /// # Errors
    /// See [`GrainCallError`].
    pub async fn request<R, M>(
        &self,
        identity: &str,
        kind: &str,
        message: &M,
    ) -> Result<R, GrainCallError>
    where
        R: prost::Message + prost::Name + Default + 'static,
        M: prost::Message + prost::Name + 'static,
    {
        self.request_with(identity, kind, message, &self.options)
            .await
    }

    /// [`Self::request`] with these options for this call.
    ///
    /// # Errors
    /// See [`GrainCallError`].
    pub async fn request_with<R, M>(
        &self,
        identity: &str,
        kind: &str,
        message: &M,
        options: &GrainCallOptions,
    ) -> Result<R, GrainCallError>
    where
        R: prost::Message + prost::Name + Default + 'static,
        M: prost::Message + prost::Name + 'static,
    {
        let grain = ClusterIdentity {
            identity: identity.to_owned(),
            kind: kind.to_owned(),
        };
        let metrics = &self.shared.metrics;
        metrics.calls.fetch_add(1, Ordering::Relaxed);
        let result = with_retries(&grain, options, metrics, |left| {
            self.attempt(&grain, message, left, options)
        })
        .await;
        if let Err(e) = &result {
            metrics.failed_calls.fetch_add(1, Ordering::Relaxed);
            warn!(error = %e, "grain call failed");
        }
        result
    }

    /// One attempt: the PID (cached or activated), then the request.
    async fn attempt<R, M>(
        &self,
        grain: &ClusterIdentity,
        message: &M,
        left: Duration,
        options: &GrainCallOptions,
    ) -> AttemptOutcome<R>
    where
        R: prost::Message + prost::Name + Default + 'static,
        M: prost::Message + prost::Name + 'static,
    {
        let pid = match self
            .pid_of(grain, left.min(options.activation_timeout))
            .await
        {
            Ok(pid) => pid,
            Err(failure) => return AttemptOutcome::Retry(failure),
        };
        let result = self
            .remote
            .request_message::<R, M>(pid.clone(), message, left)
            .await;
        let failure = match result {
            Ok(r) => return AttemptOutcome::Done(r),
            Err(TransportError::Timeout) => AttemptFailure::Timeout,
            Err(TransportError::DeadLetter { .. }) => AttemptFailure::DeadLetter {
                address: pid.address.clone(),
            },
            Err(
                source @ (TransportError::Connect { .. }
                | TransportError::HandshakeTimeout { .. }
                | TransportError::Handshake { .. }
                | TransportError::EndpointTerminated { .. }
                | TransportError::Blocked { .. }
                | TransportError::QueueFull { .. }),
            ) => AttemptFailure::Unreachable {
                address: pid.address.clone(),
                source,
            },
            Err(other) => return AttemptOutcome::Fatal(other),
        };
        if self
            .shared
            .cache()
            .remove_if(&grain.kind, &grain.identity, &pid)
        {
            self.shared
                .metrics
                .invalidated
                .fetch_add(1, Ordering::Relaxed);
        }
        AttemptOutcome::Retry(failure)
    }

    /// The activation's PID: from the cache, or from the owner's
    /// `partition-activator` (then cached).
    async fn pid_of(
        &self,
        grain: &ClusterIdentity,
        timeout: Duration,
    ) -> Result<Pid, AttemptFailure> {
        let metrics = &self.shared.metrics;
        if let Some(pid) = self.cached_pid(&grain.kind, &grain.identity) {
            metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(pid);
        }
        let owner = self
            .owner(&grain.kind, &grain.identity)
            .ok_or(AttemptFailure::NoOwner)?;
        // As Go's disthash sends it: no request id, no topology hash.
        let request = ActivationRequest {
            cluster_identity: Some(grain.clone()),
            request_id: String::new(),
            topology_hash: 0,
        };
        let activator = Pid {
            address: owner.clone(),
            id: PARTITION_ACTIVATOR_ID.to_owned(),
            request_id: 0,
        };
        let failed = |reason: String| AttemptFailure::ActivationFailed {
            owner: owner.clone(),
            reason,
        };
        let response: ActivationResponse = self
            .remote
            .request_message(activator, &request, timeout)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let pid = match response.pid {
            Some(pid) if !response.failed => pid,
            _ => return Err(failed("the activator answered failed".into())),
        };
        metrics.activations.fetch_add(1, Ordering::Relaxed);
        self.shared
            .cache()
            .set(&grain.kind, &grain.identity, pid.clone());
        Ok(pid)
    }
}

/// The members of the topology our node last wrote (its own `topology`
/// gossip entry); empty before it has written one.
async fn own_topology(node: &NodeHandle) -> Result<Vec<Member>, NodeError> {
    let mut entries = node
        .get_state_message::<ClusterTopology>(TOPOLOGY_KEY)
        .await?;
    Ok(match entries.remove(&node.id()) {
        Some((_, Ok(topology))) => topology.members,
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grain() -> ClusterIdentity {
        ClusterIdentity {
            identity: "a".into(),
            kind: "k".into(),
        }
    }

    #[test]
    fn default_options_are_gos() {
        let o = GrainCallOptions::default();
        assert_eq!(o.timeout, Duration::from_secs(5));
        assert_eq!(o.retry_count, 3);
        assert_eq!(o.activation_timeout, Duration::from_secs(5));
        assert_eq!(o.backoff(1), Duration::from_millis(50));
        assert_eq!(o.backoff(2), Duration::from_millis(200));
        assert_eq!(o.backoff(3), Duration::from_millis(450));
    }

    #[tokio::test(start_paused = true)]
    async fn three_failed_attempts_give_the_last_failure_after_the_backoffs() {
        let metrics = GrainClientMetrics::default();
        let start = Instant::now();
        let mut seen = Vec::new();
        let result: Result<(), _> =
            with_retries(&grain(), &GrainCallOptions::default(), &metrics, |left| {
                seen.push((start.elapsed(), left));
                async {
                    AttemptOutcome::Retry(AttemptFailure::DeadLetter {
                        address: "h:1".into(),
                    })
                }
            })
            .await;
        assert!(
            matches!(result, Err(GrainCallError::DeadLetter { attempts: 3, .. })),
            "{result:?}"
        );
        let at: Vec<Duration> = seen.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            at,
            [
                Duration::ZERO,
                Duration::from_millis(50),
                Duration::from_millis(250)
            ]
        );
        assert_eq!(seen[2].1, Duration::from_millis(4750));
        let m = metrics.snapshot();
        assert_eq!((m.dead_letters, m.retries), (3, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_success_ends_the_call() {
        let metrics = GrainClientMetrics::default();
        let mut n = 0;
        let result = with_retries(&grain(), &GrainCallOptions::default(), &metrics, |_| {
            n += 1;
            let this = n;
            async move {
                if this < 3 {
                    AttemptOutcome::Retry(AttemptFailure::NoOwner)
                } else {
                    AttemptOutcome::Done(this)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(metrics.snapshot().no_owner, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_bounds_a_hanging_attempt() {
        let metrics = GrainClientMetrics::default();
        let options = GrainCallOptions::default().with_timeout(Duration::from_secs(2));
        let start = Instant::now();
        let result: Result<(), _> = with_retries(&grain(), &options, &metrics, |_| async {
            std::future::pending::<AttemptOutcome<()>>().await
        })
        .await;
        assert!(
            matches!(result, Err(GrainCallError::Timeout { .. })),
            "{result:?}"
        );
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backoff_past_the_deadline_ends_in_a_timeout_at_the_deadline() {
        let metrics = GrainClientMetrics::default();
        let options = GrainCallOptions::default().with_timeout(Duration::from_millis(100));
        let start = Instant::now();
        let mut attempts = 0;
        let result: Result<(), _> = with_retries(&grain(), &options, &metrics, |_| {
            attempts += 1;
            async { AttemptOutcome::Retry(AttemptFailure::Timeout) }
        })
        .await;
        assert!(
            matches!(result, Err(GrainCallError::Timeout { .. })),
            "{result:?}"
        );
        // 0 ms, then 50 ms; the 200 ms wait would pass the deadline.
        assert_eq!(attempts, 2);
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_error_is_not_retried() {
        let metrics = GrainClientMetrics::default();
        let mut attempts = 0;
        let result: Result<(), _> =
            with_retries(&grain(), &GrainCallOptions::default(), &metrics, |_| {
                attempts += 1;
                async { AttemptOutcome::Fatal(TransportError::ShuttingDown) }
            })
            .await;
        assert!(
            matches!(result, Err(GrainCallError::Transport { .. })),
            "{result:?}"
        );
        assert_eq!(attempts, 1);
    }

    fn member(id: &str, port: i32) -> Member {
        Member {
            host: "h".into(),
            port,
            id: id.into(),
            kinds: vec!["k".into()],
        }
    }

    #[test]
    fn a_topology_drops_the_pids_of_members_not_in_it() {
        let shared = Shared::default();
        shared.apply_topology(&[member("a", 1), member("b", 2)]);
        let pid = |port: i32| Pid {
            address: format!("h:{port}"),
            id: "k/x".into(),
            request_id: 0,
        };
        shared.cache().set("k", "x", pid(1));
        shared.cache().set("k", "y", pid(2));
        shared.apply_topology(&[member("b", 2)]);
        assert!(shared.cache().get("k", "x").is_none());
        assert_eq!(shared.cache().get("k", "y"), Some(&pid(2)));
        assert_eq!(shared.metrics.snapshot().invalidated, 1);
        let owner = shared
            .placement
            .read()
            .unwrap()
            .owner_address("k", "x")
            .map(str::to_owned);
        assert_eq!(owner.as_deref(), Some("h:2"));
    }
}
