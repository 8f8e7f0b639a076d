//! The etcd provider against a real etcd server that this test starts
//! (Debian's `etcd-server`; `scripts/test.sh` installs it). Checks Go's key
//! layout and value, discovery through the watch, deregistration on
//! shutdown, and lease expiry when a member dies without deregistering.

#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/net.rs"]
mod net;

use etcd::start_etcd;
use net::{free_port, wait_for_ids};

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use protogossip::provider::{self, ProviderConfig, SelfMember, etcd::EtcdConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

fn me(id: &str, port: u16) -> SelfMember {
    SelfMember {
        cluster_name: "ec".into(),
        system_id: id.into(),
        host: "127.0.0.1".into(),
        port,
        kinds: vec!["k1".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_register_discover_leave_and_expire() {
    let etcd = start_etcd().await;
    let cfg = EtcdConfig::default().with_endpoints(vec![etcd.endpoint.clone()]);
    let mut a = provider::start(ProviderConfig::Etcd(cfg.clone()), me("SysA", 9001))
        .await
        .unwrap();
    let b = provider::start(ProviderConfig::Etcd(cfg.clone()), me("SysB", 9002))
        .await
        .unwrap();
    let c = provider::start(ProviderConfig::Etcd(cfg.clone()), me("SysC", 9003))
        .await
        .unwrap();
    let all = ["ec@SysA", "ec@SysB", "ec@SysC"];
    for h in [&a, &b, &c] {
        wait_for_ids(h, &all, Duration::from_secs(10)).await;
    }

    // Go's key layout and value.
    let mut client = Client::connect([&etcd.endpoint], None).await.unwrap();
    let resp = client.get("/protoactor/ec/ec@SysA", None).await.unwrap();
    assert_eq!(
        resp.kvs()[0].value_str().unwrap(),
        r#"{"id":"ec@SysA","name":"ec@SysA","host":"127.0.0.1","address":"127.0.0.1","port":9001,"kinds":["k1"],"alive":true}"#
    );
    assert_ne!(resp.kvs()[0].lease(), 0, "registered with a lease");

    // Graceful shutdown deletes the key; the others see it go.
    a.shutdown(Duration::from_secs(5)).await;
    let left = client.get("/protoactor/ec/ec@SysA", None).await.unwrap();
    assert!(left.kvs().is_empty(), "key deleted on shutdown");
    for h in [&b, &c] {
        wait_for_ids(h, &all[1..], Duration::from_secs(5)).await;
    }

    // A node that dies without deregistering: its lease (3 s) expires.
    c.abort().await;
    let still = client
        .get("/protoactor/ec/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(
        still.kvs().len(),
        2,
        "C's key outlives C until its lease expires"
    );
    wait_for_ids(&b, &["ec@SysB"], Duration::from_secs(10)).await;

    // Another cluster's keys and malformed values are not members.
    client
        .put("/protoactor/ec/garbage", "not json", None)
        .await
        .unwrap();
    client
        .put(
            "/protoactor/ec2/ec2@X",
            r#"{"id":"ec2@X","host":"h","port":1,"alive":true}"#,
            None,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for_ids(&b, &["ec@SysB"], Duration::from_secs(1)).await;
}

/// The Puts a watcher opened from "now" (no revision, like Go's) sees for
/// `key` within `window`.
async fn puts_seen_by_a_late_watcher(endpoint: &str, key: &str, window: Duration) -> usize {
    let mut client = Client::connect([endpoint], None).await.unwrap();
    let mut stream = client
        .watch("/protoactor/ec/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    let mut puts = 0;
    let end = tokio::time::Instant::now() + window;
    while let Ok(Ok(Some(resp))) = tokio::time::timeout_at(end, stream.message()).await {
        puts += resp
            .events()
            .iter()
            .filter(|e| {
                e.event_type() == EventType::Put
                    && e.kv().is_some_and(|kv| kv.key() == key.as_bytes())
            })
            .count();
    }
    puts
}

/// A Go node that starts while we register reads the directory before our
/// key exists and opens its watch after our Put, so it would never see us;
/// our re-announcement (a second Put, same lease) is what it sees. Shown
/// with a raw watcher opened the way Go opens it, after we registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_opened_after_our_registration_still_sees_us() {
    let etcd = start_etcd().await;
    // With one re-announcement such a watcher sees us once; without
    // re-announcements it sees nothing of us.
    for (id, reannounce_after, expected) in [
        ("Late1", vec![Duration::from_millis(500)], 1),
        ("Late2", vec![], 0),
    ] {
        let cfg = EtcdConfig::default()
            .with_endpoints(vec![etcd.endpoint.clone()])
            .with_reannounce_after(reannounce_after);
        let mut p = provider::start(ProviderConfig::Etcd(cfg), me(id, 9101))
            .await
            .unwrap();
        let key = format!("/protoactor/ec/ec@{id}");
        let seen = puts_seen_by_a_late_watcher(&etcd.endpoint, &key, Duration::from_secs(2)).await;
        assert_eq!(seen, expected, "{id}: Puts seen within 2 s");
        p.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn unreachable_etcd_is_a_clear_error() {
    let cfg = EtcdConfig::default()
        .with_endpoints(vec![format!("127.0.0.1:{}", free_port())])
        .with_dial_timeout(Duration::from_millis(500));
    let err = provider::start(ProviderConfig::Etcd(cfg), me("X", 1))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("etcd "), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_converge_through_etcd_and_see_a_leave() {
    use protogossip::node::{NodeConfig, NodeHandle};
    let etcd = start_etcd().await;
    let mut nodes = Vec::new();
    for _ in 0..5 {
        let config = NodeConfig::default()
            .with_cluster_name("etcdnodes")
            .with_provider(ProviderConfig::Etcd(
                EtcdConfig::default().with_endpoints(vec![etcd.endpoint.clone()]),
            ))
            .with_http(None);
        nodes.push(NodeHandle::start(config).await.unwrap());
    }
    // Go's etcd member id format, used as our one id.
    assert!(nodes.iter().all(|n| n.id().starts_with("etcdnodes@")));
    let ids: Vec<String> = nodes.iter().map(NodeHandle::id).collect();
    let expected = protogossip::wire::topology_hash(ids.iter().map(String::as_str));
    for n in &nodes {
        let topo = n.topology();
        let start = Instant::now();
        loop {
            {
                let v = topo.borrow();
                if v.members.len() == 5 && v.consensus.hash() == Some(expected) {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{}: {:?}",
                    n.id(),
                    *v
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // A graceful leave deletes the key and gossips `left`: everyone drops it.
    let leaver = nodes.pop().unwrap();
    let leaver_id = leaver.id().to_owned();
    leaver.shutdown(true).await.unwrap();
    for n in &nodes {
        let topo = n.topology();
        let start = Instant::now();
        while topo.borrow().members.contains(&leaver_id)
            || !topo.borrow().blocked.contains(&leaver_id)
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{}: {:?}",
                n.id(),
                *topo.borrow()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for n in nodes {
        n.shutdown(true).await.unwrap();
    }
}

fn node_value(id: &str, port: u16) -> String {
    format!(
        r#"{{"id":"{id}","name":"{id}","host":"127.0.0.1","address":"127.0.0.1","port":{port},"kinds":[],"alive":true}}"#
    )
}

/// A watch etcd cancels because its revision was compacted away (what a
/// watcher that fell behind during a long disconnection gets): one response
/// with `canceled` and `compact_revision`, then nothing on a stream that
/// stays open. The directory watch detects it, reads the directory again
/// (the changes made in the gap, a delete among them, are all in its view)
/// and follows the changes after that read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_watch_is_read_again_and_followed() {
    use protogossip::provider::etcd::DirectoryWatch;
    let etcd = start_etcd().await;
    let mut client = Client::connect([&etcd.endpoint], None).await.unwrap();
    let prefix = "/protoactor/cw/";
    let key = |id: &str| format!("{prefix}{id}");
    let old = client
        .put(key("A"), node_value("A", 1), None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    // The gap: B and C join, A leaves, then etcd compacts it all away.
    client
        .put(key("B"), node_value("B", 2), None)
        .await
        .unwrap();
    client
        .put(key("C"), node_value("C", 3), None)
        .await
        .unwrap();
    let last = client
        .delete(key("A"), None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client.compact(last, None).await.unwrap();

    // A watcher still at A's revision.
    let mut dir = DirectoryWatch::resume(client.clone(), prefix, old, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(dir.recoveries(), 0);
    tokio::time::timeout(Duration::from_secs(10), dir.changed())
        .await
        .expect("the cancelled watch is detected and the directory read within 10 s");
    assert_eq!(dir.recoveries(), 1, "one recovery");
    let ids = |dir: &DirectoryWatch| {
        dir.by_key()
            .values()
            .map(|m| m.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&dir), ["B", "C"], "the view after the re-read");

    // The new watch starts right after the read: the next change arrives.
    client
        .put(key("D"), node_value("D", 4), None)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), dir.changed())
        .await
        .expect("the change after the re-read arrives within 10 s");
    assert_eq!(ids(&dir), ["B", "C", "D"]);
    assert_eq!(dir.recoveries(), 1, "no further recovery");
}

/// A loopback TCP proxy in front of etcd that can cut every connection
/// (and refuse new ones) and later let them through again: a provider
/// cut off from etcd while etcd keeps serving everyone else.
struct CutProxy {
    addr: String,
    down: Arc<AtomicBool>,
    generation: Arc<Mutex<CancellationToken>>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    async fn start(upstream: &str) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let down = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(Mutex::new(CancellationToken::new()));
        let (d, g, upstream) = (down.clone(), generation.clone(), upstream.to_owned());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    continue; // dropped at once: refused
                }
                let token = g.lock().unwrap().clone();
                let up = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut out) = TcpStream::connect(&up).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                    }
                });
            }
        });
        CutProxy {
            addr,
            down,
            generation,
            task,
        }
    }

    /// Closes every connection and refuses new ones.
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        let mut g = self.generation.lock().unwrap();
        g.cancel();
        *g = CancellationToken::new();
    }

    /// Accepts connections again.
    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.generation.lock().unwrap().cancel();
    }
}

/// The whole provider cut off from etcd (its connections closed, new ones
/// refused) while the directory changes and etcd compacts past the
/// provider's last revision: once etcd is reachable again, the ended
/// watch is counted, the directory read again, and the provider's view is
/// the directory's (the member that joined in the gap in, the one that
/// left out), which resuming the old watch could not give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_cut_off_past_a_compaction_reads_the_directory_again() {
    let etcd = start_etcd().await;
    let proxy = CutProxy::start(&etcd.endpoint).await;
    let cfg = EtcdConfig::default()
        .with_endpoints(vec![proxy.addr.clone()])
        .with_dial_timeout(Duration::from_secs(1));
    let mut p = provider::start(ProviderConfig::Etcd(cfg), me("SysP", 9301))
        .await
        .unwrap();
    let mut client = Client::connect([&etcd.endpoint], None).await.unwrap();
    client
        .put("/protoactor/ec/X", node_value("X", 1), None)
        .await
        .unwrap();
    wait_for_ids(&p, &["X", "ec@SysP"], Duration::from_secs(10)).await;
    assert_eq!(p.metrics().watch_recoveries, 0);

    proxy.cut();
    client
        .put("/protoactor/ec/Y", node_value("Y", 2), None)
        .await
        .unwrap();
    let rev = client
        .delete("/protoactor/ec/X", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client.compact(rev, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen: Vec<String> = p.members().borrow().iter().map(|m| m.id.clone()).collect();
    assert_eq!(seen, ["X", "ec@SysP"], "nothing reaches a provider cut off");
    proxy.restore();
    let back = Instant::now();
    wait_for_ids(&p, &["Y", "ec@SysP"], Duration::from_secs(20)).await;
    eprintln!(
        "provider view right again {:?} after etcd became reachable; watch recoveries {}",
        back.elapsed(),
        p.metrics().watch_recoveries
    );
    assert!(p.metrics().watch_recoveries >= 1);
    p.shutdown(Duration::from_secs(5)).await;
}
