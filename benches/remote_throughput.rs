//! Envelopes/s and bytes/s through one loopback connection: node A sends to
//! node B's `eventstream` (no reply), and an iteration ends when B has
//! routed every envelope. Results are recorded in `docs/performance.md`.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use protogossip::{
    remote::{Handlers, Remote, RemoteConfig, RemoteHandle},
    wire::proto::{
        actor::Pid,
        cluster::{GossipResponse, GrainResponse},
    },
};

fn pair(rt: &tokio::runtime::Runtime) -> (RemoteHandle, RemoteHandle, Pid) {
    rt.block_on(async {
        let config = || RemoteConfig::default().with_endpoint_queue_capacity(1 << 20);
        let a = Remote::start(config(), Handlers::new()).await.unwrap();
        let b = Remote::start(config(), Handlers::new()).await.unwrap();
        let target = Pid {
            address: b.address().into(),
            id: "eventstream".into(),
            request_id: 0,
        };
        // Connect before measuring.
        a.send(target.clone(), GossipResponse::default(), None)
            .unwrap();
        wait_routed(&b, 1).await;
        (a, b, target)
    })
}

async fn wait_routed(b: &RemoteHandle, n: u64) {
    while b.metrics().eventstream_messages < n {
        tokio::task::yield_now().await;
    }
}

/// Sends `n` copies of `message` from A to `target` and waits until B has
/// routed them all.
async fn send_and_wait(
    a: &RemoteHandle,
    b: &RemoteHandle,
    target: &Pid,
    message: &GrainResponse,
    n: u64,
) {
    let done = b.metrics().eventstream_messages + n;
    for _ in 0..n {
        a.send(target.clone(), message.clone(), None).unwrap();
    }
    wait_routed(b, done).await;
}

fn run(c: &mut Criterion, name: &str, payload: usize, per_iter: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (a, b, target) = pair(&rt);
    let message = GrainResponse {
        message_data: vec![7; payload],
        message_type_name: "bench".into(),
    };
    // Bytes on the wire per iteration, measured once.
    let before = a.metrics().outbound_bytes;
    rt.block_on(send_and_wait(&a, &b, &target, &message, per_iter));
    let bytes = a.metrics().outbound_bytes - before;

    let mut group = c.benchmark_group("remote_loopback");
    group.measurement_time(Duration::from_secs(8));
    group.sample_size(10);
    // The same measurement reported per envelope and per byte.
    for (unit, throughput) in [
        ("envelopes", Throughput::Elements(per_iter)),
        ("bytes", Throughput::Bytes(bytes)),
    ] {
        group.throughput(throughput);
        group.bench_function(format!("{name}_{unit}"), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        send_and_wait(&a, &b, &target, &message, per_iter).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
    rt.block_on(async {
        a.shutdown(true).await;
        b.shutdown(true).await;
    });
}

fn throughput(c: &mut Criterion) {
    run(c, "100B", 100, 10_000);
    run(c, "16KiB", 16 * 1024, 1_000);
}

criterion_group!(benches, throughput);
criterion_main!(benches);
