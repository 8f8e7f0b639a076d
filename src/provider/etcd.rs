//! protoactor-go's etcd provider: each member puts a JSON value under
//! `<base key>/<cluster>/<member id>` with a short lease it keeps alive, and
//! watches the cluster's prefix; the live keys are the members.
//!
//! Interop facts (the same as Go's): the member id is
//! `<cluster>@<system id>` — *not* the system id, so gossip owner ids and
//! topology ids differ with this provider; the value is
//! `{"id","name","host","address","port","kinds","alive"}` with `name` = `id`
//! and `host` = `address`; the lease TTL is 3 s, renewed every second, and
//! re-granted (with the value put again) when renewal fails; a value with
//! `"alive": false` counts as removed; shutdown deletes the key.
//!
//! One fix for a Go bug, in bytes Go already accepts: Go's provider reads
//! the directory and only then opens its watch, from "now" rather than from
//! the read's revision, so a Go node that starts while we register never
//! sees our key (it sees neither the read's result nor a watch event). We
//! therefore put our value again, same lease, shortly after registering
//! (`reannounce_after`); a Go node that missed us takes that Put as a new
//! member.
//!
//! A second fix: when etcd cancels our watch (its revision was compacted,
//! e.g. after a long disconnection) or the stream ends, we read the
//! directory again and watch from that read; Go re-watches from "now" and
//! misses what changed in between (docs/go-quirks.md#q-m12,
//! [`DirectoryWatch`]).
//!
//! Differences that Go cannot see: we read and watch `<base>/<cluster>/`
//! *with* the trailing slash (Go's prefix also matches clusters whose name
//! merely starts with ours), we key members by the etcd key in both the
//! initial read and the watch (Go uses the JSON id in one and the key in the
//! other), and malformed values are logged and skipped instead of failing
//! the whole read.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use etcd_client::{
    Client, ConnectOptions, EventType, GetOptions, PutOptions, WatchOptions, WatchStream,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{ProviderError, ProviderTasks, SelfMember, publish};
use crate::wire::proto::cluster::Member;

/// The etcd provider's settings; defaults equal Go's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EtcdConfig {
    /// etcd endpoints, `host:port` (Go: `127.0.0.1:2379`).
    pub endpoints: Vec<String>,
    /// The key prefix (Go: `/protoactor`).
    pub base_key: String,
    /// Lease time to live (Go: 3 s; etcd's granularity is 1 s).
    pub lease_ttl: Duration,
    /// Wait before re-registering after a failure (Go: 1 s).
    pub retry_interval: Duration,
    /// How long connecting may take (Go: 5 s).
    pub dial_timeout: Duration,
    /// After each registration, put our value again (same lease) after
    /// each of these delays, so a Go node whose start overlapped our
    /// registration finds us (see the module docs; Go does not do this).
    /// Default 1 s and 5 s; empty turns it off.
    pub reannounce_after: Vec<Duration>,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["127.0.0.1:2379".into()],
            base_key: "/protoactor".into(),
            lease_ttl: Duration::from_secs(3),
            retry_interval: Duration::from_secs(1),
            dial_timeout: Duration::from_secs(5),
            reannounce_after: vec![Duration::from_secs(1), Duration::from_secs(5)],
        }
    }
}

with_fields!(EtcdConfig {
    with_endpoints => endpoints: [String],
    with_base_key => base_key: into String,
    with_lease_ttl => lease_ttl: Duration,
    with_retry_interval => retry_interval: Duration,
    with_dial_timeout => dial_timeout: Duration,
    with_reannounce_after => reannounce_after: [Duration],
});

impl EtcdConfig {
    pub(super) fn validate(&self) -> Result<(), ProviderError> {
        if self.endpoints.is_empty() {
            return Err(ProviderError::Config(
                "etcd needs at least one endpoint".into(),
            ));
        }
        if self.lease_ttl < Duration::from_secs(1) {
            return Err(ProviderError::Config(
                "etcd lease TTL must be at least 1 s".into(),
            ));
        }
        if self.retry_interval.is_zero() || self.dial_timeout.is_zero() {
            return Err(ProviderError::Config(
                "etcd retry interval and dial timeout must be > 0".into(),
            ));
        }
        Ok(())
    }

    fn cluster_prefix(&self, cluster: &str) -> String {
        format!("{}/{}/", self.base_key.trim_end_matches('/'), cluster)
    }
}

/// The member id Go's etcd provider gives a node: `<cluster>@<system id>`.
pub fn member_id(me: &SelfMember) -> String {
    format!("{}@{}", me.cluster_name, me.system_id)
}

/// The JSON value Go's etcd provider stores; field names and order are Go's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdNode {
    /// Member id.
    pub id: String,
    /// Equal to `id`.
    #[serde(default)]
    pub name: String,
    /// The remoting host; Go falls back to `address` when empty.
    #[serde(default)]
    pub host: String,
    /// Equal to `host`.
    #[serde(default)]
    pub address: String,
    /// The remoting port.
    #[serde(default)]
    pub port: i64,
    /// Cluster kinds.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub kinds: Vec<String>,
    /// `false` marks the member as gone.
    #[serde(default)]
    pub alive: bool,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl EtcdNode {
    /// The value this node registers.
    pub fn of(me: &SelfMember) -> Self {
        let id = member_id(me);
        Self {
            name: id.clone(),
            id,
            host: me.host.clone(),
            address: me.host.clone(),
            port: i64::from(me.port),
            kinds: me.kinds.clone(),
            alive: true,
        }
    }

    /// Reads a member value as Go writes it. Any client of the etcd cluster
    /// can write one, so this is one of the decoders the fuzz targets cover.
    ///
    /// # Errors
    /// The JSON error when `value` is not a member value.
    pub fn from_json(value: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(value)
    }

    /// The member this value describes (`None` for an unusable port).
    pub fn to_member(&self) -> Option<Member> {
        let host = if self.host.is_empty() {
            &self.address
        } else {
            &self.host
        };
        Some(Member {
            host: host.clone(),
            port: i32::try_from(self.port).ok()?,
            id: self.id.clone(),
            kinds: self.kinds.clone(),
        })
    }
}

fn etcd_err(operation: &'static str) -> impl FnOnce(etcd_client::Error) -> ProviderError {
    move |source| ProviderError::Etcd { operation, source }
}

/// Applies a Put of `value` under `key` to a view by etcd key: a dead
/// (`"alive": false`) value removes the key; a malformed one is logged and
/// skipped.
fn apply_put(by_key: &mut BTreeMap<String, Member>, key: &str, value: &[u8]) {
    match EtcdNode::from_json(value) {
        Ok(node) if !node.alive => {
            by_key.remove(key);
        }
        Ok(node) => match node.to_member() {
            Some(m) => {
                by_key.insert(key.to_owned(), m);
            }
            None => tracing::warn!(%key, "etcd member with an invalid port; skipped"),
        },
        Err(e) => tracing::warn!(%key, error = %e, "malformed etcd member value; skipped"),
    }
}

/// The members of a view, with `me` in place of any entry with its id.
fn members(by_key: &BTreeMap<String, Member>, me: &Member) -> Vec<Member> {
    let mut all: Vec<Member> = by_key.values().filter(|m| m.id != me.id).cloned().collect();
    all.push(me.clone());
    all
}

struct Registration {
    client: Client,
    key: String,
    value: String,
    ttl_secs: i64,
    lease: i64,
}

impl Registration {
    /// Grants a fresh lease and puts our value with it.
    async fn register(&mut self) -> Result<(), ProviderError> {
        let lease = self
            .client
            .lease_grant(self.ttl_secs, None)
            .await
            .map_err(etcd_err("lease grant"))?;
        self.lease = lease.id();
        self.put_again().await
    }

    /// Puts our value (again) under the current lease.
    async fn put_again(&mut self) -> Result<(), ProviderError> {
        self.client
            .put(
                self.key.clone(),
                self.value.clone(),
                Some(PutOptions::new().with_lease(self.lease)),
            )
            .await
            .map_err(etcd_err("put"))?;
        Ok(())
    }

    /// Renews the lease once; `Ok(false)` when etcd says it has expired.
    async fn renew(&mut self) -> Result<bool, ProviderError> {
        let (mut keeper, mut stream) = self
            .client
            .lease_keep_alive(self.lease)
            .await
            .map_err(etcd_err("lease keep-alive"))?;
        keeper
            .keep_alive()
            .await
            .map_err(etcd_err("lease keep-alive"))?;
        let resp = stream
            .message()
            .await
            .map_err(etcd_err("lease keep-alive"))?;
        Ok(resp.is_some_and(|r| r.ttl() > 0))
    }

    async fn deregister(&mut self) {
        if let Err(e) = self.client.delete(self.key.clone(), None).await {
            tracing::warn!(key = %self.key, error = %e, "etcd deregistration failed; the lease will expire");
        }
        let _ = self.client.lease_revoke(self.lease).await;
    }
}

/// The re-announcements still due after the last registration.
struct Reannounce {
    at: std::collections::VecDeque<tokio::time::Instant>,
}

impl Reannounce {
    fn new(delays: &[Duration]) -> Self {
        let now = tokio::time::Instant::now();
        let mut at: Vec<_> = delays.iter().map(|d| now + *d).collect();
        at.sort();
        Self { at: at.into() }
    }

    /// Completes at the next one (and drops it); never when none is left.
    async fn due(&mut self) {
        match self.at.front() {
            Some(t) => {
                tokio::time::sleep_until(*t).await;
                self.at.pop_front();
            }
            None => std::future::pending().await,
        }
    }
}

/// What ended a watch: the reason [`DirectoryWatch`] read the directory
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchLoss {
    /// etcd cancelled the watch because the revision it had to send from
    /// was compacted away (a watcher that fell behind, or one opened at an
    /// old revision); `compact_revision` is the oldest revision etcd kept.
    Compacted {
        /// The first revision etcd still has.
        compact_revision: i64,
    },
    /// etcd cancelled the watch for another reason (its text).
    Cancelled(String),
    /// The stream ended or failed (etcd restarted, the connection broke).
    Ended(String),
}

impl fmt::Display for WatchLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchLoss::Compacted { compact_revision } => {
                write!(
                    f,
                    "compacted (etcd keeps revisions from {compact_revision})"
                )
            }
            WatchLoss::Cancelled(reason) => write!(f, "cancelled by etcd: {reason}"),
            WatchLoss::Ended(why) => write!(f, "stream ended: {why}"),
        }
    }
}

/// The cluster's directory as this node sees it: one read, then a watch
/// from just after that read's revision, so no change falls between the two
/// (Go watches from "now" after its read; see the module docs).
///
/// A watch can end without the stream closing: etcd *cancels* a watcher
/// whose next revision was compacted (it fell behind, or was opened at an
/// old revision) with one response carrying `canceled` and
/// `compact_revision`, then sends nothing more for it on a stream that stays
/// open. Go's provider, when that happens, watches again from "now" without
/// reading, so it misses every change in the gap. We read the directory
/// again (a full `Get`: the read replaces the view, so keys deleted in the
/// gap go too) and watch from that read's revision + 1; a stream that ends
/// or fails is treated the same way. Every recovery is logged and counted.
pub struct DirectoryWatch {
    client: Client,
    prefix: String,
    by_key: BTreeMap<String, Member>,
    /// `None` after a loss, until a re-read succeeds.
    stream: Option<WatchStream>,
    retry_interval: Duration,
    /// No re-read before this: at most one per `retry_interval`, so a watch
    /// that keeps ending at once cannot spin. An instant, not a sleep, so
    /// `changed` stays cancel-safe inside a `select!`.
    retry_at: Option<tokio::time::Instant>,
    last_read: Option<tokio::time::Instant>,
    recoveries: Arc<AtomicU64>,
}

impl DirectoryWatch {
    /// Reads the directory under `prefix` and watches it from just after
    /// the read.
    ///
    /// # Errors
    /// The read or the watch failed.
    pub async fn open(
        client: Client,
        prefix: impl Into<String>,
        retry_interval: Duration,
    ) -> Result<Self, ProviderError> {
        let mut w = Self::new(client, prefix.into(), retry_interval);
        w.reread().await?;
        Ok(w)
    }

    /// Watches `prefix` from `revision` with an empty view and no read: for
    /// a caller that resumes from the last revision it saw (and for tests
    /// of the recovery: a `revision` etcd has compacted away is cancelled at
    /// once, and the first [`changed`](Self::changed) re-reads).
    ///
    /// # Errors
    /// The watch could not be opened.
    pub async fn resume(
        client: Client,
        prefix: impl Into<String>,
        revision: i64,
        retry_interval: Duration,
    ) -> Result<Self, ProviderError> {
        let mut w = Self::new(client, prefix.into(), retry_interval);
        w.stream = Some(w.open_watch(revision).await?);
        Ok(w)
    }

    fn new(client: Client, prefix: String, retry_interval: Duration) -> Self {
        Self {
            client,
            prefix,
            by_key: BTreeMap::new(),
            stream: None,
            retry_interval,
            retry_at: None,
            last_read: None,
            recoveries: Arc::default(),
        }
    }

    /// The members in the directory, by etcd key.
    pub fn by_key(&self) -> &BTreeMap<String, Member> {
        &self.by_key
    }

    /// How many times the watch was lost and the directory read again.
    pub fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Relaxed)
    }

    /// Counts recoveries into `counter` instead (shared with a provider's
    /// metrics).
    fn count_into(&mut self, counter: Arc<AtomicU64>) {
        self.recoveries = counter;
    }

    async fn open_watch(&mut self, from_revision: i64) -> Result<WatchStream, ProviderError> {
        self.client
            .watch(
                self.prefix.as_str(),
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(from_revision),
                ),
            )
            .await
            .map_err(etcd_err("watch"))
    }

    /// Reads the directory and opens a watch from just after the read. The
    /// view changes only once both have succeeded (cancel-safe).
    async fn reread(&mut self) -> Result<(), ProviderError> {
        let resp = self
            .client
            .get(self.prefix.as_str(), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(etcd_err("get"))?;
        let mut by_key = BTreeMap::new();
        for kv in resp.kvs() {
            apply_put(&mut by_key, &String::from_utf8_lossy(kv.key()), kv.value());
        }
        let revision = resp.header().map_or(0, |h| h.revision());
        let stream = self.open_watch(revision + 1).await?;
        self.by_key = by_key;
        self.stream = Some(stream);
        self.last_read = Some(tokio::time::Instant::now());
        Ok(())
    }

    /// Waits for the next response that may have changed the view and
    /// applies it; a lost watch is re-read (after `retry_interval` when the
    /// re-read itself failed) and reported as a change. Cancel-safe: drop it
    /// in a `select!` and call it again.
    pub async fn changed(&mut self) {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                if let Some(at) = self.retry_at {
                    tokio::time::sleep_until(at).await;
                }
                match self.reread().await {
                    Ok(()) => {
                        self.retry_at = None;
                        tracing::info!(prefix = %self.prefix, members = self.by_key.len(), "etcd directory read again; watching from the read");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "etcd re-read failed; retrying");
                        self.retry_at = Some(tokio::time::Instant::now() + self.retry_interval);
                        continue;
                    }
                }
            };
            let loss = match stream.message().await {
                Ok(Some(resp)) if resp.compact_revision() != 0 => WatchLoss::Compacted {
                    compact_revision: resp.compact_revision(),
                },
                Ok(Some(resp)) if resp.canceled() => {
                    WatchLoss::Cancelled(resp.cancel_reason().to_owned())
                }
                Ok(Some(resp)) => {
                    if resp.events().is_empty() {
                        continue; // created, progress notifications
                    }
                    for ev in resp.events() {
                        let Some(kv) = ev.kv() else { continue };
                        let key = String::from_utf8_lossy(kv.key());
                        match ev.event_type() {
                            EventType::Put => apply_put(&mut self.by_key, &key, kv.value()),
                            EventType::Delete => {
                                self.by_key.remove(key.as_ref());
                            }
                        }
                    }
                    return;
                }
                Ok(None) => WatchLoss::Ended("closed by etcd".into()),
                Err(e) => WatchLoss::Ended(e.to_string()),
            };
            self.recoveries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(prefix = %self.prefix, %loss, "etcd watch lost; reading the directory again");
            self.stream = None;
            self.retry_at = self.last_read.map(|t| t + self.retry_interval);
        }
    }
}

/// Connects, reads the directory, registers, then keeps the lease alive and
/// follows the watch until the tasks are told to leave (deregisters) or
/// halted (does not).
pub(super) async fn serve(
    config: EtcdConfig,
    me: SelfMember,
    tasks: &ProviderTasks,
) -> Result<watch::Receiver<Vec<Member>>, ProviderError> {
    let options = ConnectOptions::new()
        .with_connect_timeout(config.dial_timeout)
        .with_timeout(config.dial_timeout);
    let client = Client::connect(&config.endpoints, Some(options))
        .await
        .map_err(etcd_err("connect"))?;
    let prefix = config.cluster_prefix(&me.cluster_name);
    let node = EtcdNode::of(&me);
    let me_member = node.to_member().unwrap_or_default();
    let mut dir =
        DirectoryWatch::open(client.clone(), prefix.clone(), config.retry_interval).await?;
    dir.count_into(tasks.metrics.watch_recoveries.clone());

    let ttl_secs = i64::try_from(config.lease_ttl.as_secs()).unwrap_or(3);
    let mut reg = Registration {
        client: client.clone(),
        key: format!("{prefix}{}", node.id),
        value: serde_json::to_string(&node).unwrap_or_default(),
        ttl_secs,
        lease: 0,
    };
    reg.register().await?;
    tracing::info!(key = %reg.key, "etcd member registered");

    let (tx, rx) = watch::channel(Vec::new());
    publish(&tx, members(dir.by_key(), &me_member));
    let leave = tasks.leave.clone();
    let renew_every = (config.lease_ttl / 3).max(Duration::from_millis(500));

    let reannounce_after = config.reannounce_after.clone();
    tasks.spawn(async move {
        let mut renew = tokio::time::interval(renew_every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reannounce = Reannounce::new(&reannounce_after);
        loop {
            tokio::select! {
                () = leave.cancelled() => break,
                () = reannounce.due() => {
                    match reg.put_again().await {
                        Ok(()) => tracing::debug!(key = %reg.key, "etcd member value put again"),
                        Err(e) => tracing::warn!(error = %e, "etcd re-announcement failed"),
                    }
                }
                _ = renew.tick() => {
                    match reg.renew().await {
                        Ok(true) => {}
                        outcome => {
                            tracing::warn!(?outcome, "etcd lease lost; registering again");
                            tokio::time::sleep(config.retry_interval).await;
                            match reg.register().await {
                                Ok(()) => reannounce = Reannounce::new(&reannounce_after),
                                Err(e) => tracing::warn!(error = %e, "etcd re-registration failed; retrying"),
                            }
                        }
                    }
                }
                () = dir.changed() => publish(&tx, members(dir.by_key(), &me_member)),
            }
        }
        reg.deregister().await;
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> SelfMember {
        SelfMember {
            cluster_name: "mycluster".into(),
            system_id: "Sys1".into(),
            host: "127.0.0.1".into(),
            port: 8090,
            kinds: vec!["k".into()],
        }
    }

    #[test]
    fn value_and_key_follow_go() {
        let node = EtcdNode::of(&me());
        assert_eq!(
            serde_json::to_string(&node).unwrap(),
            r#"{"id":"mycluster@Sys1","name":"mycluster@Sys1","host":"127.0.0.1","address":"127.0.0.1","port":8090,"kinds":["k"],"alive":true}"#
        );
        assert_eq!(
            EtcdConfig::default().cluster_prefix("mycluster"),
            "/protoactor/mycluster/"
        );
    }

    #[test]
    fn directory_handles_dead_malformed_and_host_fallback() {
        let me = EtcdNode::of(&me()).to_member().unwrap();
        let mut dir = BTreeMap::new();
        apply_put(
            &mut dir,
            "/p/c/a",
            br#"{"id":"a","address":"10.0.0.1","port":1,"kinds":null,"alive":true}"#,
        );
        apply_put(&mut dir, "/p/c/b", b"not json");
        assert_eq!(members(&dir, &me).len(), 2);
        assert_eq!(dir["/p/c/a"].host, "10.0.0.1");
        apply_put(
            &mut dir,
            "/p/c/a",
            br#"{"id":"a","host":"h","port":1,"alive":false}"#,
        );
        assert_eq!(members(&dir, &me).len(), 1);
    }

    #[test]
    fn validate_rejects_sub_second_ttl() {
        let c = EtcdConfig {
            lease_ttl: Duration::from_millis(500),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        assert!(
            EtcdConfig {
                endpoints: vec![],
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
