//! The application-facing API on real in-process nodes joined by static
//! seeds: the readiness wait (`wait_for_members`) against the lone-node
//! consensus, typed state reads, filtered subscriptions (heartbeat updates
//! off by default) and a lagging subscriber that is told and carries on.
//! Real time and sockets; every wait is bounded.

use std::time::{Duration, Instant};

use prost_types::{Duration as PbDuration, Timestamp};
use protogossip::{
    gossip::{ClusterEvent, EventKind},
    node::{EventFilter, NodeConfig, NodeError, NodeHandle, SubscriptionItem},
    provider::{ProviderConfig, static_list::StaticConfig},
    wire::DecodeError,
};

const DEADLINE: Duration = Duration::from_secs(20);

async fn node(seeds: &[&str]) -> NodeHandle {
    NodeHandle::start(
        NodeConfig::default()
            .with_cluster_name("api")
            .with_provider(ProviderConfig::Static(StaticConfig::seeds(
                seeds.iter().copied(),
            )))
            .with_http(None),
    )
    .await
    .unwrap()
}

/// Events until `deadline`, failing on a lag.
async fn events_for(sub: &mut protogossip::node::Subscription, d: Duration) -> Vec<ClusterEvent> {
    let mut out = Vec::new();
    let end = tokio::time::Instant::now() + d;
    while let Ok(Some(item)) = tokio::time::timeout_at(end, sub.recv()).await {
        match item {
            SubscriptionItem::Event(e) => out.push(e.event),
            SubscriptionItem::Lagged(n) => panic!("lagged by {n}"),
        }
    }
    out
}

fn heartbeat_updates(events: &[ClusterEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ClusterEvent::GossipUpdate { key, .. } if key.contains("hea")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_typed_state_and_filtered_events() {
    let a = node(&[]).await;
    // Alone: consensus at once, but it has joined nobody.
    a.wait_for_topology_consensus(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        a.wait_for_members(1, Duration::from_secs(1)).await.unwrap(),
        [a.id()]
    );
    assert!(matches!(
        a.wait_for_members(2, Duration::from_millis(500)).await,
        Err(NodeError::Timeout(_))
    ));

    let mut quiet = a.subscribe();
    let mut all = a.subscribe_filtered(EventFilter::everything());
    let mut app = a.subscribe_filtered(EventFilter::kinds([EventKind::GossipUpdate]).keys(["app"]));

    // B knows A's address only; A learns B from B's handshake.
    let b = node(&[a.address()]).await;
    let started = Instant::now();
    let mut want = vec![a.id().to_owned(), b.id().to_owned()];
    want.sort();
    assert_eq!(a.wait_for_members(2, DEADLINE).await.unwrap(), want);
    assert_eq!(b.wait_for_members(2, DEADLINE).await.unwrap(), want);
    let hash = a.wait_for_topology_consensus(DEADLINE).await.unwrap();
    assert_eq!(b.wait_for_topology_consensus(DEADLINE).await.unwrap(), hash);
    eprintln!("two in-process nodes joined in {:?}", started.elapsed());

    // Typed state: B writes a Duration, A reads it typed; a Timestamp under
    // the same key (A's own) is an error entry, not a missing owner.
    b.set_state_message(
        "app",
        &PbDuration {
            seconds: 5,
            nanos: 0,
        },
    )
    .await
    .unwrap();
    a.set_state_message(
        "app",
        &Timestamp {
            seconds: 1,
            nanos: 0,
        },
    )
    .await
    .unwrap();
    let update = match tokio::time::timeout(DEADLINE, app.recv()).await {
        Ok(Some(SubscriptionItem::Event(e))) => e,
        other => panic!("no update of `app` from B: {other:?}"),
    };
    assert!(
        matches!(&update.event, ClusterEvent::GossipUpdate { owner, key, .. } if owner.as_str() == b.id() && key == "app"),
        "{update}"
    );
    let read = a.get_state_message::<PbDuration>("app").await.unwrap();
    assert_eq!(read.len(), 2, "{read:?}");
    let (_, from_b) = &read[&b.id()];
    assert_eq!(from_b.as_ref().unwrap().seconds, 5);
    let (_, from_a) = &read[&a.id()];
    assert!(
        matches!(from_a, Err(DecodeError::TypeUrlMismatch { .. })),
        "{from_a:?}"
    );

    // Over the same second of gossip, the default subscription saw no
    // heartbeat update; `everything()` saw them.
    let quiet_events = events_for(&mut quiet, Duration::from_millis(1500)).await;
    let all_events = events_for(&mut all, Duration::from_millis(1500)).await;
    assert_eq!(heartbeat_updates(&quiet_events), 0, "{quiet_events:?}");
    assert!(heartbeat_updates(&all_events) > 0, "{all_events:?}");
    assert!(
        quiet_events
            .iter()
            .any(|e| matches!(e, ClusterEvent::MemberUp { id } if id.as_str() == b.id())),
        "{quiet_events:?}"
    );

    b.shutdown(true).await.unwrap();
    a.shutdown(true).await.unwrap();
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while quiet.recv().await.is_some() {}
    })
    .await;
    assert!(
        drained.is_ok(),
        "the subscription ends once the node has stopped"
    );
    assert!(
        a.subscribe().recv().await.is_none(),
        "and so does a new one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_subscriber_is_told_and_keeps_receiving() {
    let a = node(&[]).await;
    let b = node(&[a.address()]).await;
    b.wait_for_members(2, DEADLINE).await.unwrap();
    let mut slow = b.subscribe();
    // More updates than the node's 1024-event buffer, not read meanwhile.
    for i in 0..1500 {
        a.set_state_message(
            &format!("k{i}"),
            &PbDuration {
                seconds: i,
                nanos: 0,
            },
        )
        .await
        .unwrap();
    }
    let start = Instant::now();
    while b.get_state("k1499").await.unwrap().is_empty() {
        assert!(start.elapsed() < DEADLINE, "B never got A's last key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match tokio::time::timeout(DEADLINE, slow.recv()).await {
        Ok(Some(SubscriptionItem::Lagged(n))) => assert!(n > 0),
        other => panic!("expected a lag notice first: {other:?}"),
    }
    // ... and it carries on.
    a.set_state_message("after", &PbDuration::default())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        match tokio::time::timeout(DEADLINE, slow.recv()).await {
            Ok(Some(SubscriptionItem::Event(e))) if matches!(&e.event, ClusterEvent::GossipUpdate { key, .. } if key == "after") =>
            {
                break;
            }
            Ok(Some(_)) => assert!(start.elapsed() < DEADLINE),
            other => panic!("the subscription did not carry on: {other:?}"),
        }
    }
    b.shutdown(false).await.unwrap();
    a.shutdown(false).await.unwrap();
}
