//! Merge and delta building at 50, 500 and 5 000 owners × 3 keys.
//!
//! `merge/N`: a remote `GossipState` of N owners (3 keys each, every entry
//! newer than ours) merged into a local state holding the same owners at
//! older sequence numbers — the worst case, every entry accepted. The same
//! states, built the same way, are merged by protoactor-go's own merge in
//! go-interop/internal/mergebench (docs/performance.md compares them).
//! `delta/N`: one `MemberStateDelta` for a target with no watermarks from a
//! state of N owners (own + up to `gossip_max_send` = 50 others).
//! `tick/N`: one `GossipCore::tick` of a member of an N-member topology
//! holding every member's heartbeat (failure detection and the status
//! machine over N members, our heartbeat, fan-out of 3 deltas).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use protogossip::gossip::{
    GossipConfig, GossipCore, GossipState, MemberId, UnixMillis, Watermarks, build_delta,
};
use protogossip::wire::Any;
use protogossip::wire::WireProfile;
use protogossip::wire::proto::cluster;
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;

const KEYS: [&str; 3] = ["heartbeat", "topology", "app"];

fn value(i: usize) -> Any {
    Any {
        type_url: "type.googleapis.com/cluster.MemberHeartbeat".into(),
        value: vec![0x0a, 0x02, 0x08, (i % 128) as u8].into(),
    }
}

fn proto_state(owners: usize, seq: i64) -> cluster::GossipState {
    let mut s = cluster::GossipState::default();
    for o in 0..owners {
        let m = s.members.entry(format!("member-{o:05}")).or_default();
        for (k, key) in KEYS.iter().enumerate() {
            m.values.insert(
                (*key).to_string(),
                cluster::GossipKeyValue {
                    sequence_number: seq + k as i64,
                    value: Some(value(o)),
                    local_timestamp_unix_milliseconds: 0,
                },
            );
        }
    }
    s
}

/// A member of an `n`-member topology that has heard every member's
/// heartbeat once.
fn core_with(n: usize) -> GossipCore {
    let mut core = GossipCore::new("member-00000", GossipConfig::default()).unwrap();
    let members = (0..n)
        .map(|i| cluster::Member {
            host: "127.0.0.1".into(),
            port: 10_000 + i as i32,
            id: format!("member-{i:05}"),
            kinds: vec![],
        })
        .collect();
    core.on_provider_snapshot(members, UnixMillis(0));
    let mut state = proto_state(n, 1);
    state.members.remove("member-00000");
    let request = cluster::GossipRequest {
        from_member_id: "member-00000".into(),
        state: Some(state),
    };
    core.on_gossip_request("127.0.0.1:10001", request, UnixMillis(1));
    core
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    for owners in [50usize, 500, 5000] {
        let local = GossipState::from_proto(&proto_state(owners, 1), WireProfile::Mixed);
        let remote = proto_state(owners, 10);
        group.bench_with_input(BenchmarkId::new("merge", owners), &owners, |b, _| {
            b.iter_batched(
                || (local.clone(), remote.clone()),
                // The merged state is returned, so criterion drops it after
                // timing, like Go's benchmark (mergeState frees nothing).
                |(mut l, r)| {
                    let updates = l.merge(r, UnixMillis(5), |_| false);
                    black_box((l, updates))
                },
                BatchSize::LargeInput,
            );
        });
        let me = MemberId::new("member-00000");
        let target = MemberId::new("member-00001");
        let marks = Watermarks::default();
        let mut rng = XorShiftRng::seed_from_u64(1);
        group.bench_with_input(BenchmarkId::new("delta", owners), &owners, |b, _| {
            b.iter(|| black_box(build_delta(&local, &me, &target, &marks, 50, &mut rng)));
        });
        if owners <= 500 {
            group.bench_with_input(BenchmarkId::new("tick", owners), &owners, |b, &n| {
                b.iter_batched(
                    || core_with(n),
                    |mut core| black_box(core.tick(UnixMillis(300), &mut rng)),
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
