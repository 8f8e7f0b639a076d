//! protoactor-go's Kubernetes provider: each member labels its own pod and
//! watches the pods that carry its cluster's label; the running, ready,
//! labelled pods are the members.
//!
//! Interop facts (the same as Go's, `cluster/clusterproviders/k8s` in the
//! pinned module; docs/operations.md#kubernetes-provider has the whole
//! picture):
//! - labels: `cluster.proto.actor/cluster=<cluster>`,
//!   `cluster.proto.actor/port=<remoting port>`,
//!   `cluster.proto.actor/member-id=<id>` and one
//!   `cluster.proto.actor/kind-<kind>=true` per hosted kind;
//! - the watch selects `cluster.proto.actor/cluster=<cluster>` in the pod's
//!   namespace;
//! - a pod is a member when its phase is `Running`, it has a pod IP and
//!   every container status says ready; the member's host is the pod IP, its
//!   port the `port` label, its id the `member-id` label and its kinds the
//!   `kind-*` labels whose value is `true`;
//! - a deleted pod, or one that lost the cluster label, is no member;
//! - on graceful shutdown the member removes every `cluster.proto.actor/`
//!   label from its pod;
//! - the pod name is the host name, the namespace the service account's
//!   `namespace` file (both overridable here, not in Go).
//!
//! Where we differ, in ways Go cannot see (docs/go-quirks.md#q-m24 to
//! #q-m28): our member id is the system id (Go labels a fresh random UUID
//! that is *not* its system id); a pod with no member id or a port that is
//! not a port is skipped, logged and counted (Go admits a member with an
//! empty id, or a negative port); our labels replace stale ones of ours on
//! the pod (Go lets a previous run's labels win); and a watch the API server
//! ends is resumed from its resource version, while one that expired (410
//! Gone) is followed by a fresh list that *replaces* the view (Go watches
//! again from "now" and keeps pods deleted in the gap).

use std::{collections::BTreeMap, path::PathBuf, sync::atomic::Ordering, time::Duration};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
    runtime::{
        WatchStreamExt,
        watcher::{self, Event},
    },
};
use tokio::sync::watch;

use super::{ProviderError, ProviderTasks, SelfMember, publish};
use crate::wire::proto::cluster::Member;

/// Every label the provider owns starts with this.
pub const LABEL_PREFIX: &str = "cluster.proto.actor/";
/// The cluster name; the watch selects on it.
pub const LABEL_CLUSTER: &str = "cluster.proto.actor/cluster";
/// The remoting port.
pub const LABEL_PORT: &str = "cluster.proto.actor/port";
/// The member id.
pub const LABEL_MEMBER_ID: &str = "cluster.proto.actor/member-id";
/// A hosted kind is the label `<LABEL_KIND>-<kind>` with the value `true`.
pub const LABEL_KIND: &str = "cluster.proto.actor/kind";

/// Where a pod finds its namespace (Go reads the same file).
const NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// Where Go's `os.Hostname` reads the host name on Linux.
const HOSTNAME_FILE: &str = "/proc/sys/kernel/hostname";

/// The Kubernetes provider's settings. The defaults find everything the
/// way Go does inside a pod.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct K8sConfig {
    /// A kubeconfig file to use; `None` infers the configuration as
    /// `kube::Config::infer` does (`KUBECONFIG` or `~/.kube/config`, else
    /// the in-cluster service account, which is all Go uses).
    pub kubeconfig: Option<PathBuf>,
    /// This member's namespace; `None` reads the service account's
    /// `namespace` file (as Go does), falling back to the configuration's
    /// default namespace.
    pub namespace: Option<String>,
    /// This member's pod name; `None` takes the host name (as Go does).
    pub pod_name: Option<String>,
    /// Wait before retrying a failed watch (Go: 5 s); `None` is 1 s.
    pub retry_interval: Option<Duration>,
    /// How long the API server keeps one watch request open before it ends
    /// it (whole seconds; the watcher then watches again from where it
    /// was); `None` is kube's 290 s.
    pub watch_timeout: Option<Duration>,
}

with_fields!(K8sConfig {
    with_kubeconfig => kubeconfig: into Option<PathBuf>,
    with_namespace => namespace: into Option<String>,
    with_pod_name => pod_name: into Option<String>,
    with_retry_interval => retry_interval: into Option<Duration>,
    with_watch_timeout => watch_timeout: into Option<Duration>,
});

impl K8sConfig {
    pub(super) fn validate(&self) -> Result<(), ProviderError> {
        if self.namespace.as_deref() == Some("") || self.pod_name.as_deref() == Some("") {
            return Err(ProviderError::Config(
                "k8s namespace and pod name must not be empty when given".into(),
            ));
        }
        if self.retry_interval.is_some_and(|d| d.is_zero()) {
            return Err(ProviderError::Config(
                "k8s retry interval must be > 0".into(),
            ));
        }
        if self
            .watch_timeout
            .is_some_and(|d| d.as_secs() == 0 || u32::try_from(d.as_secs()).is_err())
        {
            return Err(ProviderError::Config(
                "k8s watch timeout must be at least 1 s".into(),
            ));
        }
        Ok(())
    }

    fn retry(&self) -> Duration {
        self.retry_interval.unwrap_or(Duration::from_secs(1))
    }
}

/// Why a pod carrying our cluster label is not a member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PodRejection {
    /// Not (yet, or no longer) running: its phase, if any.
    #[error("pod is not running (phase {0:?})")]
    NotRunning(Option<String>),
    /// Running but without a pod IP.
    #[error("pod has no IP")]
    NoPodIp,
    /// A container is not ready.
    #[error("container {0} is not ready")]
    NotReady(String),
    /// The `member-id` label is missing or empty (malformed).
    #[error("pod has no {LABEL_MEMBER_ID} label")]
    NoMemberId,
    /// The `port` label is missing or not a port number (malformed).
    #[error("pod label {LABEL_PORT}={0:?} is not a port number")]
    BadPort(String),
}

impl PodRejection {
    /// Whether the pod's labels are malformed (as opposed to a pod that is
    /// simply not ready yet).
    pub fn is_malformed(&self) -> bool {
        matches!(self, Self::NoMemberId | Self::BadPort(_))
    }
}

/// The member a pod of our cluster stands for, read as Go reads it (see the
/// module docs). The cluster label is not checked here: the watch selects
/// on it.
///
/// # Errors
/// Why the pod is no member.
pub fn pod_member(pod: &Pod) -> Result<Member, PodRejection> {
    let labels = pod.metadata.labels.as_ref();
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    if phase != Some("Running") {
        return Err(PodRejection::NotRunning(phase.map(str::to_owned)));
    }
    let host = status
        .and_then(|s| s.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty())
        .ok_or(PodRejection::NoPodIp)?;
    if let Some(c) = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| !c.ready))
    {
        return Err(PodRejection::NotReady(c.name.clone()));
    }
    let port_label = label(LABEL_PORT).unwrap_or_default();
    let port = port_label
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| PodRejection::BadPort(port_label.to_owned()))?;
    let id = label(LABEL_MEMBER_ID)
        .filter(|id| !id.is_empty())
        .ok_or(PodRejection::NoMemberId)?;
    let kind_prefix = format!("{LABEL_KIND}-");
    let mut kinds: Vec<String> = labels
        .into_iter()
        .flatten()
        .filter(|(k, v)| k.starts_with(LABEL_KIND) && *v == "true")
        .map(|(k, _)| k.replacen(&kind_prefix, "", 1))
        .collect();
    kinds.sort();
    Ok(Member {
        host: host.to_owned(),
        port: i32::from(port),
        id: id.to_owned(),
        kinds,
    })
}

/// The labels this node puts on its pod; `stale` are the provider's labels
/// already there, which are removed unless set again (a JSON merge patch:
/// `null` removes a key, other labels stay untouched).
pub fn register_patch(me: &SelfMember, member_id: &str, stale: &[String]) -> serde_json::Value {
    let mut labels = serde_json::Map::new();
    for key in stale {
        labels.insert(key.clone(), serde_json::Value::Null);
    }
    labels.insert(LABEL_CLUSTER.into(), me.cluster_name.clone().into());
    labels.insert(LABEL_PORT.into(), me.port.to_string().into());
    labels.insert(LABEL_MEMBER_ID.into(), member_id.into());
    for kind in &me.kinds {
        labels.insert(format!("{LABEL_KIND}-{kind}"), "true".into());
    }
    serde_json::json!({ "metadata": { "labels": labels } })
}

/// The patch that removes the provider's labels `ours` from the pod.
pub fn deregister_patch(ours: &[String]) -> serde_json::Value {
    let labels: serde_json::Map<String, serde_json::Value> = ours
        .iter()
        .map(|k| (k.clone(), serde_json::Value::Null))
        .collect();
    serde_json::json!({ "metadata": { "labels": labels } })
}

/// The provider's labels on `pod`.
fn our_labels(pod: &Pod) -> Vec<String> {
    pod.metadata
        .labels
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(LABEL_PREFIX))
        .cloned()
        .collect()
}

/// The cluster's pods as the watch reports them, by pod UID: one owner for
/// the view, fed the watcher's events, answering with the member list.
#[derive(Debug, Default)]
pub struct PodView {
    cluster: String,
    by_uid: BTreeMap<String, Member>,
    /// Pods of a re-list in progress (between `Init` and `InitDone`).
    relist: Option<BTreeMap<String, Member>>,
    lists: u64,
}

/// What one watch event did to a [`PodView`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PodViewChange {
    /// The member list may have changed.
    Members,
    /// A re-list started (after the first list: a lost or expired watch).
    Relist,
    /// A pod was rejected as malformed (see [`PodRejection::is_malformed`]).
    Malformed(String, PodRejection),
    /// Nothing the member list shows.
    None,
}

impl PodView {
    /// An empty view of cluster `cluster`.
    pub fn new(cluster: impl Into<String>) -> Self {
        Self {
            cluster: cluster.into(),
            ..Self::default()
        }
    }

    /// The members, by pod UID.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.by_uid.values()
    }

    /// Applies one watcher event; the returned changes say what to publish,
    /// count and log.
    pub fn apply(&mut self, event: Event<Pod>) -> Vec<PodViewChange> {
        match event {
            Event::Init => {
                self.relist = Some(BTreeMap::new());
                self.lists += 1;
                if self.lists > 1 {
                    vec![PodViewChange::Relist]
                } else {
                    vec![PodViewChange::None]
                }
            }
            Event::InitApply(pod) => {
                let mut relist = self.relist.take().unwrap_or_default();
                let change = self.upsert(&mut relist, &pod);
                self.relist = Some(relist);
                match change {
                    PodViewChange::Malformed(..) => vec![change],
                    _ => vec![PodViewChange::None],
                }
            }
            Event::InitDone => {
                if let Some(relist) = self.relist.take() {
                    self.by_uid = relist;
                }
                vec![PodViewChange::Members]
            }
            Event::Apply(pod) => {
                let mut by_uid = std::mem::take(&mut self.by_uid);
                let change = self.upsert(&mut by_uid, &pod);
                self.by_uid = by_uid;
                match change {
                    PodViewChange::Malformed(..) => vec![change, PodViewChange::Members],
                    _ => vec![PodViewChange::Members],
                }
            }
            Event::Delete(pod) => {
                self.by_uid.remove(&pod_key(&pod));
                vec![PodViewChange::Members]
            }
        }
    }

    /// Puts the member `pod` stands for into `into`, or takes it out.
    fn upsert(&self, into: &mut BTreeMap<String, Member>, pod: &Pod) -> PodViewChange {
        let key = pod_key(pod);
        let cluster = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_CLUSTER));
        if cluster != Some(&self.cluster) {
            into.remove(&key);
            return PodViewChange::None;
        }
        match pod_member(pod) {
            Ok(m) => {
                into.insert(key, m);
                PodViewChange::None
            }
            Err(e) => {
                into.remove(&key);
                if e.is_malformed() {
                    PodViewChange::Malformed(pod_name(pod).to_owned(), e)
                } else {
                    tracing::debug!(pod = pod_name(pod), reason = %e, "k8s pod is not a member");
                    PodViewChange::None
                }
            }
        }
    }
}

fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

fn pod_key(pod: &Pod) -> String {
    pod.metadata
        .uid
        .clone()
        .unwrap_or_else(|| pod_name(pod).to_owned())
}

fn k8s_err(operation: &'static str) -> impl FnOnce(kube::Error) -> ProviderError {
    move |source| ProviderError::K8s {
        operation,
        source: Box::new(source),
    }
}

/// The client configuration: the kubeconfig given, or inferred.
async fn client_config(config: &K8sConfig) -> Result<kube::Config, ProviderError> {
    let bad = |e: &dyn std::fmt::Display| ProviderError::Config(format!("kubernetes: {e}"));
    match &config.kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| bad(&format_args!("kubeconfig {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| bad(&format_args!("kubeconfig {}: {e}", path.display())))
        }
        None => kube::Config::infer().await.map_err(|e| bad(&e)),
    }
}

/// This member's namespace and pod name (see [`K8sConfig`]).
fn whereabouts(
    config: &K8sConfig,
    client: &kube::Config,
) -> Result<(String, String), ProviderError> {
    let namespace = config.namespace.clone().unwrap_or_else(|| {
        std::fs::read_to_string(NAMESPACE_FILE)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| client.default_namespace.clone())
    });
    let pod_name = match &config.pod_name {
        Some(name) => name.clone(),
        None => std::fs::read_to_string(HOSTNAME_FILE)
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ProviderError::Config(format!(
                    "k8s: cannot read the pod name from {HOSTNAME_FILE}; give it (--k8s-pod-name)"
                ))
            })?,
    };
    Ok((namespace, pod_name))
}

/// This node's pod, labelled or unlabelled.
struct OwnPod {
    pods: Api<Pod>,
    name: String,
}

impl OwnPod {
    async fn register(&self, me: &SelfMember, member_id: &str) -> Result<(), ProviderError> {
        let pod = self
            .pods
            .get(&self.name)
            .await
            .map_err(k8s_err("get own pod"))?;
        let patch = register_patch(me, member_id, &our_labels(&pod));
        self.pods
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(k8s_err("label own pod"))?;
        Ok(())
    }

    async fn deregister(&self) -> Result<(), ProviderError> {
        let pod = self
            .pods
            .get(&self.name)
            .await
            .map_err(k8s_err("get own pod"))?;
        let patch = deregister_patch(&our_labels(&pod));
        self.pods
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(k8s_err("unlabel own pod"))?;
        Ok(())
    }
}

/// A constant wait between watch retries (kube's default backoff grows to
/// 30 s; a membership provider wants to recover quickly and Go waits a
/// constant 5 s).
#[derive(Debug, Clone, Copy)]
struct ConstantBackoff(Duration);

impl Iterator for ConstantBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        Some(self.0)
    }
}

impl kube::runtime::utils::Backoff for ConstantBackoff {
    fn reset(&mut self) {}
}

/// The members of the view with `me` in place of any entry with its id.
fn members(view: &PodView, me: &Member) -> Vec<Member> {
    let mut all: Vec<Member> = view.members().filter(|m| m.id != me.id).cloned().collect();
    all.push(me.clone());
    all
}

/// Connects, labels this node's pod, then follows the watch of the
/// cluster's pods until the tasks are told to leave (removes the labels) or
/// halted (does not).
pub(super) async fn serve(
    config: K8sConfig,
    me: SelfMember,
    member_id: String,
    tasks: &ProviderTasks,
) -> Result<watch::Receiver<Vec<Member>>, ProviderError> {
    let client_config = client_config(&config).await?;
    let (namespace, pod_name) = whereabouts(&config, &client_config)?;
    let client = Client::try_from(client_config).map_err(k8s_err("build client"))?;
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let own = OwnPod {
        pods: pods.clone(),
        name: pod_name.clone(),
    };
    own.register(&me, &member_id).await?;
    tracing::info!(%namespace, pod = %pod_name, member_id, "k8s member registered (pod labelled)");

    let me_member = me.to_member(&member_id);
    let (tx, rx) = watch::channel(Vec::new());
    publish(&tx, vec![me_member.clone()]);
    let selector = format!("{LABEL_CLUSTER}={}", me.cluster_name);
    let mut watch_config = watcher::Config::default().labels(&selector);
    if let Some(t) = config.watch_timeout {
        watch_config = watch_config.timeout(u32::try_from(t.as_secs()).unwrap_or(290));
    }
    let stream = watcher::watcher(pods, watch_config).backoff(ConstantBackoff(config.retry()));
    let leave = tasks.leave.clone();
    let metrics = tasks.metrics.clone();
    let mut view = PodView::new(me.cluster_name.clone());
    tasks.spawn(async move {
        let mut stream = std::pin::pin!(stream);
        loop {
            let event = tokio::select! {
                () = leave.cancelled() => break,
                event = stream.next() => event,
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(e)) => {
                    tracing::warn!(%selector, error = %e, "k8s pod watch failed; listing again");
                    continue;
                }
                None => {
                    tracing::warn!("k8s pod watch ended");
                    break;
                }
            };
            for change in view.apply(event) {
                match change {
                    PodViewChange::Members => publish(&tx, members(&view, &me_member)),
                    PodViewChange::Relist => {
                        metrics.watch_recoveries.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(%selector, "k8s pod watch lost; listing the pods again");
                    }
                    PodViewChange::Malformed(pod, reason) => {
                        metrics.malformed_members.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%pod, %reason, "k8s pod with malformed cluster labels; skipped");
                    }
                    PodViewChange::None => {}
                }
            }
        }
        match own.deregister().await {
            Ok(()) => tracing::info!(pod = %pod_name, "k8s member deregistered (labels removed)"),
            Err(e) => tracing::warn!(pod = %pod_name, error = %e, "k8s deregistration failed"),
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{ContainerStatus, PodStatus},
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    };

    use super::*;

    fn pod(uid: &str, labels: &[(&str, &str)], phase: &str, ip: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(format!("pod-{uid}")),
                uid: Some(uid.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                pod_ip: (!ip.is_empty()).then(|| ip.to_owned()),
                ..PodStatus::default()
            }),
        }
    }

    fn good(uid: &str) -> Pod {
        pod(
            uid,
            &[
                (LABEL_CLUSTER, "c"),
                (LABEL_PORT, "8090"),
                (LABEL_MEMBER_ID, uid),
                ("cluster.proto.actor/kind-echo", "true"),
                ("cluster.proto.actor/kind-off", "false"),
                ("app", "x"),
            ],
            "Running",
            "10.1.2.3",
        )
    }

    #[test]
    fn member_is_read_from_labels_and_status_as_go_does() {
        let m = pod_member(&good("a")).unwrap();
        assert_eq!(
            m,
            Member {
                host: "10.1.2.3".into(),
                port: 8090,
                id: "a".into(),
                kinds: vec!["echo".into()],
            }
        );
    }

    #[test]
    fn pods_that_are_not_running_ready_or_addressed_are_no_members() {
        let mut p = good("a");
        p.status.as_mut().unwrap().phase = Some("Pending".into());
        assert_eq!(
            pod_member(&p),
            Err(PodRejection::NotRunning(Some("Pending".into())))
        );
        let mut p = good("a");
        p.status.as_mut().unwrap().pod_ip = None;
        assert_eq!(pod_member(&p), Err(PodRejection::NoPodIp));
        let mut p = good("a");
        p.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "app".into(),
            ready: false,
            ..ContainerStatus::default()
        }]);
        assert_eq!(pod_member(&p), Err(PodRejection::NotReady("app".into())));
        p.status = None;
        assert_eq!(pod_member(&p), Err(PodRejection::NotRunning(None)));
    }

    #[test]
    fn malformed_labels_are_rejected_not_admitted() {
        for port in ["", "http", "-1", "0", "65536", "80.5"] {
            let mut p = good("a");
            let labels = p.metadata.labels.as_mut().unwrap();
            if port.is_empty() {
                labels.remove(LABEL_PORT);
            } else {
                labels.insert(LABEL_PORT.into(), port.into());
            }
            let e = pod_member(&p).unwrap_err();
            assert_eq!(e, PodRejection::BadPort(port.into()));
            assert!(e.is_malformed());
        }
        for id in [None, Some("")] {
            let mut p = good("a");
            let labels = p.metadata.labels.as_mut().unwrap();
            match id {
                None => labels.remove(LABEL_MEMBER_ID),
                Some(id) => labels.insert(LABEL_MEMBER_ID.into(), id.into()),
            };
            assert_eq!(pod_member(&p), Err(PodRejection::NoMemberId));
        }
    }

    #[test]
    fn view_follows_events_and_a_relist_replaces_it() {
        let mut v = PodView::new("c");
        let ids = |v: &PodView| v.members().map(|m| m.id.clone()).collect::<Vec<_>>();
        assert_eq!(v.apply(Event::Init), vec![PodViewChange::None]);
        v.apply(Event::InitApply(good("a")));
        v.apply(Event::InitApply(good("b")));
        assert!(ids(&v).is_empty(), "nothing shows before the list is done");
        assert_eq!(v.apply(Event::InitDone), vec![PodViewChange::Members]);
        assert_eq!(ids(&v), ["a", "b"]);
        v.apply(Event::Delete(good("a")));
        assert_eq!(ids(&v), ["b"]);
        // A pod relabelled to another cluster leaves ours.
        let mut moved = good("b");
        moved
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert(LABEL_CLUSTER.into(), "other".into());
        v.apply(Event::Apply(moved));
        assert!(ids(&v).is_empty());
        // A malformed update is reported and takes the member out.
        v.apply(Event::Apply(good("c")));
        let mut bad = good("c");
        bad.metadata
            .labels
            .as_mut()
            .unwrap()
            .remove(LABEL_MEMBER_ID);
        let changes = v.apply(Event::Apply(bad));
        assert!(matches!(
            changes[0],
            PodViewChange::Malformed(ref pod, PodRejection::NoMemberId) if pod == "pod-c"
        ));
        assert!(ids(&v).is_empty());
        // A watch lost in the meantime: the re-list replaces everything, so
        // a pod deleted in the gap (d) does not linger.
        v.apply(Event::Apply(good("d")));
        assert_eq!(v.apply(Event::Init), vec![PodViewChange::Relist]);
        v.apply(Event::InitApply(good("e")));
        assert_eq!(ids(&v), ["d"], "the old view serves until the list is done");
        v.apply(Event::InitDone);
        assert_eq!(ids(&v), ["e"]);
    }

    #[test]
    fn patches_set_ours_and_remove_stale_and_only_ours() {
        let me = SelfMember {
            cluster_name: "c".into(),
            system_id: "S".into(),
            host: "h".into(),
            port: 9000,
            kinds: vec!["echo".into()],
        };
        let p = register_patch(&me, "S", &["cluster.proto.actor/kind-old".into()]);
        assert_eq!(
            p,
            serde_json::json!({"metadata": {"labels": {
                "cluster.proto.actor/cluster": "c",
                "cluster.proto.actor/port": "9000",
                "cluster.proto.actor/member-id": "S",
                "cluster.proto.actor/kind-echo": "true",
                "cluster.proto.actor/kind-old": null,
            }}})
        );
        let p = good("a");
        let ours = our_labels(&p);
        assert_eq!(ours.len(), 5);
        assert_eq!(
            deregister_patch(&ours)["metadata"]["labels"]
                .as_object()
                .unwrap()
                .len(),
            5
        );
    }

    #[test]
    fn validate_rejects_empty_overrides() {
        assert!(K8sConfig::default().validate().is_ok());
        assert!(
            K8sConfig::default()
                .with_pod_name(Some(String::new()))
                .validate()
                .is_err()
        );
        assert!(
            K8sConfig::default()
                .with_retry_interval(Some(Duration::ZERO))
                .validate()
                .is_err()
        );
    }
}
