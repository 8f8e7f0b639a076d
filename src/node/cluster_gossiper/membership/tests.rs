use super::*;
use crate::gossip::{MemberId, UnixMillis};

fn member(id: &str, port: i32) -> Member {
    Member {
        id: id.into(),
        host: "127.0.0.1".into(),
        port,
        kinds: vec!["echo".into()],
    }
}

fn at(ms: u64, event: ClusterEvent) -> TimedEvent {
    TimedEvent {
        at: UnixMillis(ms),
        event,
    }
}

fn statuses(events: &[MembershipEvent]) -> Vec<(String, Option<MemberStatus>, MemberStatus)> {
    events
        .iter()
        .filter_map(|e| match &e.change {
            MembershipChange::Status { member, from, .. } => {
                Some((member.id.clone(), *from, member.status))
            }
            _ => None,
        })
        .collect()
}

fn received(rx: &mut broadcast::Receiver<MembershipEvent>) -> Vec<MembershipEvent> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

#[test]
fn a_crash_and_a_leave_become_status_transitions() {
    let m = Membership::default();
    let mut rx = m.subscribe();
    let (me, a, b) = ("me", MemberId::new("a"), MemberId::new("b"));
    let events = [
        ClusterEvent::MemberJoined {
            member: member("me", 1),
        },
        ClusterEvent::MemberJoined {
            member: member("a", 2),
        },
        ClusterEvent::MemberJoined {
            member: member("b", 3),
        },
        ClusterEvent::TopologyUpdated {
            hash: 7,
            members: vec![member("a", 2), member("b", 3), member("me", 1)],
            joined: vec![],
            left: vec![],
            blocked: vec![],
        },
        ClusterEvent::MemberUp { id: a.clone() },
        ClusterEvent::MemberUp { id: b.clone() },
        ClusterEvent::MemberSuspect {
            id: a.clone(),
            silent_for_ms: 2000,
        },
        ClusterEvent::MemberBlocked {
            id: a.clone(),
            reason: BlockReason::HeartbeatExpired,
        },
        ClusterEvent::MemberRemoved { id: a.clone() },
        ClusterEvent::MemberLeft { id: b.clone() },
        ClusterEvent::MemberBlocked {
            id: b.clone(),
            reason: BlockReason::Left,
        },
        ClusterEvent::MemberRemoved { id: b.clone() },
        ClusterEvent::ConsensusReached {
            check: TOPOLOGY_CONSENSUS_CHECK.into(),
            value: ConsensusValue::U64(9),
        },
    ];
    for (i, e) in events.into_iter().enumerate() {
        m.apply(me, &at(1000 + i as u64, e));
    }
    let got = received(&mut rx);
    use MemberStatus::*;
    assert_eq!(
        statuses(&got),
        vec![
            ("me".into(), None, Up),
            ("a".into(), None, Joining),
            ("b".into(), None, Joining),
            ("a".into(), Some(Joining), Up),
            ("b".into(), Some(Joining), Up),
            ("a".into(), Some(Up), Suspect),
            ("a".into(), Some(Suspect), Blocked),
            ("b".into(), Some(Up), Leaving),
            ("b".into(), Some(Leaving), Removed),
        ]
    );
    let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=got.len() as u64).collect::<Vec<_>>());
    assert!(got.iter().any(|e| e.change
        == MembershipChange::Topology {
            hash: 7,
            members: vec!["a".into(), "b".into(), "me".into()],
            blocked: vec![],
        }));
    let blocked = got.iter().find_map(|e| match &e.change {
        MembershipChange::Status {
            member,
            reason: Some(r),
            ..
        } => Some((member.id.clone(), r.clone())),
        _ => None,
    });
    assert_eq!(blocked, Some(("a".into(), BlockReason::HeartbeatExpired)));
    let snap = m.snapshot();
    assert_eq!(snap.seq, got.last().unwrap().seq);
    assert_eq!(snap.consensus, Some(9));
    assert_eq!(
        snap.members
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        vec!["me"]
    );
    assert!(snap.members[0].is_self);
    assert_eq!(snap.members[0].address(), "127.0.0.1:1");
    assert_eq!(snap.members[0].kinds, vec!["echo".to_owned()]);
    assert_eq!(
        snap.members[0].since,
        UNIX_EPOCH + Duration::from_millis(1000)
    );
}

#[test]
fn stopping_removes_self_and_clears_the_view() {
    let m = Membership::default();
    m.apply(
        "me",
        &at(
            5,
            ClusterEvent::MemberJoined {
                member: member("me", 1),
            },
        ),
    );
    m.lock().snapshot.self_id = Some("me".into());
    m.leaving("me");
    let (snap, mut rx) = m.subscribe_with_snapshot();
    assert_eq!(snap.members[0].status, MemberStatus::Leaving);
    m.lock().stopped();
    let got = received(&mut rx);
    assert_eq!(got[0].seq, snap.seq + 1);
    assert_eq!(
        statuses(&got),
        vec![(
            "me".into(),
            Some(MemberStatus::Leaving),
            MemberStatus::Removed
        )]
    );
    assert_eq!(got[1].change, MembershipChange::Stopped);
    let after = m.snapshot();
    assert!(after.members.is_empty() && after.self_id.is_none());
    assert_eq!(after.seq, got[1].seq);
}
