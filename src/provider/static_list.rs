//! A fixed member list: for Rust-only clusters and tests, where there is no
//! discovery service. Every node is configured with the same list; this
//! node's own entry is added if the list lacks it.

use tokio::sync::watch;

use super::{ProviderError, ProviderTasks, SelfMember, publish};
use crate::wire::proto::cluster::Member;

/// The static provider's settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StaticConfig {
    /// The other members (this node is added automatically).
    pub members: Vec<Member>,
}

impl StaticConfig {
    pub(super) fn validate(&self) -> Result<(), ProviderError> {
        for m in &self.members {
            if m.id.is_empty() {
                return Err(ProviderError::Config(format!(
                    "static member {}:{} has an empty id",
                    m.host, m.port
                )));
            }
            if !(1..=65535).contains(&m.port) {
                return Err(ProviderError::Config(format!(
                    "static member {} has port {} (expected 1-65535)",
                    m.id, m.port
                )));
            }
        }
        Ok(())
    }
}

/// Publishes the list once; the task only keeps the sender alive (so the
/// node does not take the list for a stopped provider) until we leave.
pub(super) fn serve(
    config: StaticConfig,
    me: SelfMember,
    tasks: &ProviderTasks,
) -> watch::Receiver<Vec<Member>> {
    let (tx, rx) = watch::channel(Vec::new());
    let mut members = config.members;
    if !members.iter().any(|m| m.id == me.system_id) {
        members.push(me.to_member(&me.system_id));
    }
    publish(&tx, members);
    let leave = tasks.leave.clone();
    tasks.spawn(async move {
        leave.cancelled().await;
        drop(tx);
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> SelfMember {
        SelfMember {
            cluster_name: "c".into(),
            system_id: "self".into(),
            host: "127.0.0.1".into(),
            port: 9000,
            kinds: vec![],
        }
    }

    #[tokio::test]
    async fn adds_self_and_sorts() {
        let other = Member {
            host: "127.0.0.1".into(),
            port: 9001,
            id: "b-other".into(),
            kinds: vec![],
        };
        let mut h = super::super::start(
            super::super::ProviderConfig::Static(StaticConfig {
                members: vec![other.clone()],
            }),
            me(),
        )
        .await
        .unwrap();
        let ids: Vec<String> = h.members().borrow().iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, ["b-other", "self"]);
        h.shutdown(std::time::Duration::from_secs(1)).await;
    }

    #[test]
    fn rejects_bad_members() {
        let bad_port = StaticConfig {
            members: vec![Member {
                id: "x".into(),
                port: 0,
                ..Default::default()
            }],
        };
        assert!(
            matches!(bad_port.validate(), Err(ProviderError::Config(m)) if m.contains("port 0"))
        );
        let no_id = StaticConfig {
            members: vec![Member {
                port: 1,
                ..Default::default()
            }],
        };
        assert!(no_id.validate().is_err());
    }
}
