//! Every task a remote runs has ended when its `shutdown()` returns: the
//! server and its connections, inbound streams, outbound endpoints with the
//! tasks tonic spawns for them, and gossip handler calls — including one
//! that never finishes by itself.

#[path = "remote_support/fixture.rs"]
mod fixture;

use std::time::Duration;

use fixture::{DEADLINE, empty_gossip_response, gossip_request, wait_metric};
use protogossip::{
    remote::{GOSSIP_ID, Handlers, Remote, RemoteConfig, RemoteHandle},
    wire::proto::cluster::GossipRequest,
};
use tokio::runtime::{Builder, Handle};

/// The `from_member_id` of a gossip request whose handler never answers.
const STUCK: &str = "stuck";

/// A node whose gossip handler answers at once, except for [`STUCK`].
async fn node() -> RemoteHandle {
    let handlers = Handlers::new().with_gossip(|_sender, request: GossipRequest| async move {
        if request.from_member_id == STUCK {
            std::future::pending::<()>().await;
        }
        empty_gossip_response()
    });
    let config = RemoteConfig::default().with_shutdown_grace(Duration::from_millis(300));
    Remote::start(config, handlers).await.expect("start remote")
}

#[test]
fn shutdown_leaves_no_task_behind() {
    // A runtime of our own: its task count is ours alone.
    let runtime = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let metrics = Handle::current().metrics();
        let baseline = metrics.num_alive_tasks();
        let a = node().await;
        let b = node().await;
        // Requests both ways: each node then has an inbound stream from the
        // other, an endpoint to it (answers travel on the answerer's own
        // connection) and has run handler calls.
        for (from, to) in [(&a, &b), (&b, &a)] {
            let answer = from
                .request(to.pid(GOSSIP_ID), gossip_request(), DEADLINE)
                .await;
            assert_eq!(answer, Ok(empty_gossip_response().into()));
        }
        // A handler call on each node that ignores shutdown.
        for (from, to) in [(&a, &b), (&b, &a)] {
            let stuck = GossipRequest {
                from_member_id: STUCK.into(),
                ..gossip_request()
            };
            from.send(to.pid(GOSSIP_ID), stuck, Some(from.pid("nobody")))
                .expect("send");
            wait_metric(to, |m| m.gossip_requests == 2).await;
        }
        assert!(
            metrics.num_alive_tasks() > baseline,
            "the remotes run tasks on this runtime"
        );

        tokio::join!(a.shutdown(true), b.shutdown(true));

        // Our own tasks are joined by `shutdown()`; so is tonic's server,
        // which returns only after its connection tasks dropped their
        // shutdown watchers. Those tasks and hyper's per-stream tasks still
        // take a scheduler turn to finish after that last act, which we
        // cannot join, hence a short bounded wait rather than an equality
        // at once. A leaked task (the old detached handler calls) never
        // reaches the baseline.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while metrics.num_alive_tasks() > baseline && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            metrics.num_alive_tasks(),
            baseline,
            "tasks outlived shutdown()"
        );
    });
}
