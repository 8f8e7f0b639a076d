//! Go and Rust members that find each other through a real Kubernetes API
//! server: protoactor-go's k8s provider (in the Go harness) and ours label
//! their own Pod objects and watch the cluster's pods, and form one
//! cluster. The API server is built from the `k8s.io/kubernetes` Go module
//! and started by `scripts/kube-apiserver.sh` (each test starts its own);
//! a test that cannot start it fails.
//!
//! No kubelet runs: every member gets a Pod object made by the test, set
//! `Running` at 127.0.0.1 through the status subresource. Go's provider
//! takes its pod name from the host name and its namespace from the service
//! account's file, so the harness runs each Go member in private UTS and
//! mount namespaces (docs/interop.md).
//!
//! The id question: Go's k8s provider labels a random id that is not its
//! system id (docs/go-quirks.md#q-m24), ours labels the system id. Members,
//! blocks and topology hashes come from the pods and agree on both sides.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "support/kube.rs"]
mod kube_api;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use std::time::{Duration, Instant};

use go_harness::GoNode;
use kube_api::{KubeApi, NAMESPACE};
use mixed::{blocked, expected_hash, members, node_config, topology_hash, wait_go_and_rust};
use protogossip::{
    node::NodeHandle,
    provider::{
        self, ProviderConfig, ProviderHandle, SelfMember,
        k8s::{K8sConfig, LABEL_CLUSTER, LABEL_MEMBER_ID, LABEL_PORT, LABEL_PREFIX},
    },
    wire::proto::cluster::Member,
};
use serde_json::Value;

const CLUSTER: &str = "mixedk8s";
const HEARTBEAT_EXPIRATION: Duration = Duration::from_secs(4);
const LOOPBACK: &str = "127.0.0.1";

fn k8s_config(api: &KubeApi, pod: &str) -> K8sConfig {
    K8sConfig::default()
        .with_kubeconfig(Some(api.kubeconfig.clone()))
        .with_namespace(Some(NAMESPACE.to_owned()))
        .with_pod_name(Some(pod.to_owned()))
}

/// A Go harness member in pod `pod` (which must exist); returns it and the
/// member id its provider labelled.
async fn start_go(api: &KubeApi, pod: &str) -> (GoNode, String) {
    let args: Vec<String> = [
        "-cluster",
        CLUSTER,
        "-provider",
        "k8s",
        "-k8s-kubeconfig",
        api.kubeconfig.to_str().unwrap(),
        "-k8s-namespace",
        NAMESPACE,
        "-k8s-pod-name",
        pod,
        "-heartbeat-expiration",
        &format!("{}ms", HEARTBEAT_EXPIRATION.as_millis()),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let g = GoNode::start(&args).await;
    let id = g.view().await.unwrap()["member_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Go labels a random id, not its system id (docs/go-quirks.md#q-m24).
    assert_ne!(id, g.id);
    (g, id)
}

fn sorted(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = ids.into_iter().collect();
    v.sort();
    v
}

/// Exactly members `ids` with their hash (consensus is not asked of our
/// nodes: Go's gossip owner ids are no members here, docs/go-quirks.md#q-m24).
fn same_topology(ids: &[String]) -> impl Fn(bool, &Value) -> bool {
    let hash = expected_hash(ids);
    let ids = ids.to_vec();
    move |g, v| members(g, v) == ids && topology_hash(g, v) == hash
}

fn no_cluster_labels(labels: &std::collections::BTreeMap<String, String>) -> bool {
    !labels.keys().any(|k| k.starts_with(LABEL_PREFIX))
}

/// Polls pod `pod`'s labels until `ok` holds.
async fn wait_labels(
    api: &KubeApi,
    pod: &str,
    what: &str,
    deadline: Duration,
    ok: impl Fn(&std::collections::BTreeMap<String, String>) -> bool,
) {
    let start = Instant::now();
    loop {
        let labels = api.labels(pod).await;
        if ok(&labels) {
            return;
        }
        assert!(
            start.elapsed() < deadline,
            "pod {pod}: {what}: not within {deadline:?}; labels {labels:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_go_and_rust_members_through_a_real_api_server() {
    let api = KubeApi::start().await;
    for pod in ["go-0", "go-1", "rust-0", "rust-1"] {
        api.running_pod(pod, &[("app", "mixed")], LOOPBACK).await;
    }

    // A running Go cluster of two.
    let (g0, g0_id) = start_go(&api, "go-0").await;
    let (g1, g1_id) = start_go(&api, "go-1").await;
    let mut go = vec![g0, g1];
    let mut go_ids = vec![g0_id, g1_id];
    let all = sorted(go_ids.clone());
    let t = Instant::now();
    wait_go_and_rust(
        "a Go cluster of two through the API server",
        &go,
        &[],
        Duration::from_secs(30),
        same_topology(&all),
    )
    .await;
    eprintln!("Go cluster of two after {:?}", t.elapsed());
    let labels = api.labels("go-0").await;
    assert_eq!(labels[LABEL_CLUSTER], CLUSTER);
    assert_eq!(labels[LABEL_MEMBER_ID], go_ids[0]);
    assert_eq!(labels["app"], "mixed", "other labels stay");

    // A Rust member joins the running Go cluster, then a second one.
    let mut rust = Vec::new();
    for pod in ["rust-0", "rust-1"] {
        let config = node_config(
            CLUSTER,
            ProviderConfig::K8s(k8s_config(&api, pod)),
            HEARTBEAT_EXPIRATION,
        );
        let t = Instant::now();
        let node = NodeHandle::start(config).await.unwrap();
        let labels = api.labels(pod).await;
        assert_eq!(labels[LABEL_MEMBER_ID], node.id());
        assert_eq!(
            labels[LABEL_PORT],
            node.address().rsplit_once(':').unwrap().1
        );
        rust.push(node);
        let all = sorted(
            go_ids
                .iter()
                .cloned()
                .chain(rust.iter().map(|r| r.id().to_owned())),
        );
        wait_go_and_rust(
            &format!("{pod} joins the Go cluster"),
            &go,
            &rust,
            Duration::from_secs(30),
            same_topology(&all),
        )
        .await;
        eprintln!(
            "{pod} joined, one topology on every member after {:?}",
            t.elapsed()
        );
    }
    // No member blocks another while all are healthy (Go's heartbeats are
    // under ids that are no members; nobody may expire them).
    tokio::time::sleep(HEARTBEAT_EXPIRATION + Duration::from_secs(1)).await;
    let all = sorted(
        go_ids
            .iter()
            .cloned()
            .chain(rust.iter().map(|r| r.id().to_owned())),
    );
    wait_go_and_rust(
        "still one cluster of four, nobody blocked",
        &go,
        &rust,
        Duration::ZERO,
        |g, v| same_topology(&all)(g, v) && blocked(g, v).is_empty(),
    )
    .await;

    for r in &rust {
        let v = serde_json::to_value(r.status().await.unwrap()).unwrap();
        eprintln!("{}: consensus {}", r.id(), v["topology"]["consensus"]);
    }

    // A deleted pod: its member is removed and blocked on both sides.
    let t = Instant::now();
    api.delete_pod("go-1").await;
    let gone_id = go_ids.pop().unwrap();
    let mut gone_go = go.pop().unwrap();
    let gone = |id: String| {
        move |g: bool, v: &Value| !members(g, v).contains(&id) && blocked(g, v).contains(&id)
    };
    wait_go_and_rust(
        "the member of the deleted pod removed and blocked",
        &go,
        &rust,
        Duration::from_secs(15),
        gone(gone_id.clone()),
    )
    .await;
    eprintln!(
        "deleted pod's member removed and blocked after {:?}",
        t.elapsed()
    );
    gone_go.kill().await;

    // A Rust member's graceful shutdown: its labels go, and the others drop it.
    let leaver = rust.pop().unwrap();
    let leaver_id = leaver.id().to_owned();
    let t = Instant::now();
    leaver.shutdown(true).await.unwrap();
    wait_labels(
        &api,
        "rust-1",
        "labels removed",
        Duration::from_secs(5),
        no_cluster_labels,
    )
    .await;
    assert_eq!(api.labels("rust-1").await["app"], "mixed");
    wait_go_and_rust(
        "a Rust member's graceful leave",
        &go,
        &rust,
        Duration::from_secs(15),
        gone(leaver_id),
    )
    .await;
    eprintln!("Rust member's graceful leave seen after {:?}", t.elapsed());

    // A Go member's graceful shutdown: Go removes its labels, we drop it.
    let mut go_leaver = go.pop().unwrap();
    let go_leaver_id = go_ids.pop().unwrap();
    let t = Instant::now();
    go_leaver.shutdown(true).await;
    wait_labels(
        &api,
        "go-0",
        "labels removed by Go",
        Duration::from_secs(10),
        no_cluster_labels,
    )
    .await;
    wait_go_and_rust(
        "a Go member's graceful leave",
        &go,
        &rust,
        Duration::from_secs(15),
        gone(go_leaver_id),
    )
    .await;
    eprintln!("Go member's graceful leave seen after {:?}", t.elapsed());
    assert_eq!(
        go_leaver.wait_exit(Duration::from_secs(10)).await,
        Some(true)
    );
    rust[0].shutdown(true).await.unwrap();
}

/// A provider on its own (no node): its member snapshots and counters.
async fn provider_in(pod: &str, config: K8sConfig) -> (ProviderHandle, Member) {
    let me = SelfMember {
        cluster_name: CLUSTER.into(),
        system_id: format!("Self{pod}"),
        host: LOOPBACK.into(),
        port: 40000,
        kinds: vec![],
    };
    let member = me.to_member(&me.system_id);
    let handle = provider::start(ProviderConfig::K8s(config), me)
        .await
        .unwrap();
    (handle, member)
}

/// Waits until the provider's snapshot has exactly the member ids `ids` (in
/// any order: the snapshot is sorted by id).
#[track_caller]
fn wait_ids(
    handle: &ProviderHandle,
    ids: &[&str],
    deadline: Duration,
) -> impl Future<Output = ()> + use<> {
    let mut want = ids.to_vec();
    want.sort_unstable();
    net::wait_for_ids(handle, &want, deadline)
}

fn member_labels<'a>(id: &'a str, port: &'a str) -> [(&'a str, &'a str); 3] {
    [
        (LABEL_CLUSTER, CLUSTER),
        (LABEL_PORT, port),
        (LABEL_MEMBER_ID, id),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pods_are_skipped_and_counted() {
    let api = KubeApi::start().await;
    api.running_pod("me", &[], LOOPBACK).await;
    api.running_pod("good", &member_labels("good", "4000"), LOOPBACK)
        .await;
    api.running_pod("bad-port", &member_labels("badport", "http"), LOOPBACK)
        .await;
    api.running_pod(
        "no-id",
        &[(LABEL_CLUSTER, CLUSTER), (LABEL_PORT, "4001")],
        LOOPBACK,
    )
    .await;
    let (handle, me) = provider_in("me", k8s_config(&api, "me")).await;
    wait_ids(&handle, &[&me.id, "good"], Duration::from_secs(10)).await;
    assert!(
        handle.metrics().malformed_members >= 2,
        "{:?}",
        handle.metrics()
    );
    // Fixed labels make it a member; the provider kept serving.
    api.label("bad-port", &[(LABEL_PORT, Some("4002"))]).await;
    wait_ids(
        &handle,
        &[&me.id, "badport", "good"],
        Duration::from_secs(10),
    )
    .await;
    // Losing the member id takes it out again, counted.
    let before = handle.metrics().malformed_members;
    api.label("good", &[(LABEL_MEMBER_ID, None)]).await;
    wait_ids(&handle, &[&me.id, "badport"], Duration::from_secs(10)).await;
    assert!(handle.metrics().malformed_members > before);
    let mut handle = handle;
    handle.shutdown(Duration::from_secs(5)).await;
    assert!(no_cluster_labels(&api.labels("me").await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_the_api_server_ends_are_followed_again() {
    let api = KubeApi::start().await;
    api.running_pod("me", &[], LOOPBACK).await;
    // The API server ends each watch after 1 s; changes keep arriving.
    let config = k8s_config(&api, "me").with_watch_timeout(Some(Duration::from_secs(1)));
    let (mut handle, me) = provider_in("me", config).await;
    wait_ids(&handle, &[&me.id], Duration::from_secs(10)).await;
    let mut want = vec![me.id.clone()];
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let id = format!("m{i}");
        api.running_pod(&id, &member_labels(&id, "4000"), LOOPBACK)
            .await;
        want.push(id);
        want.sort();
        let ids: Vec<&str> = want.iter().map(String::as_str).collect();
        wait_ids(&handle, &ids, Duration::from_secs(10)).await;
    }
    api.delete_pod("m0").await;
    want.retain(|id| id != "m0");
    let ids: Vec<&str> = want.iter().map(String::as_str).collect();
    wait_ids(&handle, &ids, Duration::from_secs(10)).await;
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_restarting_is_survived() {
    let api = KubeApi::start().await;
    api.running_pod("me", &[], LOOPBACK).await;
    for id in ["a", "b"] {
        api.running_pod(id, &member_labels(id, "4000"), LOOPBACK)
            .await;
    }
    let (mut handle, me) = provider_in("me", k8s_config(&api, "me")).await;
    wait_ids(&handle, &[&me.id, "a", "b"], Duration::from_secs(10)).await;
    let t = Instant::now();
    api.restart().await;
    eprintln!("API server restarted in {:?}", t.elapsed());
    // Changes after the restart arrive: the watch was resumed or, its
    // resource version expired (410 Gone), the pods listed again.
    api.delete_pod("a").await;
    api.running_pod("c", &member_labels("c", "4000"), LOOPBACK)
        .await;
    let t = Instant::now();
    wait_ids(&handle, &["b", "c", &me.id], Duration::from_secs(30)).await;
    eprintln!(
        "membership recovered {:?} after the API server was back; {:?}",
        t.elapsed(),
        handle.metrics()
    );
    // The API server wrote (its own leases) while it restarted, so the
    // watch cache it started with no longer reaches back to our resource
    // version: 410 Gone, and the provider listed the pods again.
    assert!(
        handle.metrics().watch_recoveries >= 1,
        "{:?}",
        handle.metrics()
    );
    handle.shutdown(Duration::from_secs(5)).await;
    assert!(no_cluster_labels(&api.labels("me").await));
}
