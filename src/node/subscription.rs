//! Event subscriptions: a filter by kind and key, and a receiver that says
//! when it lagged instead of ending.
//!
//! The node publishes every event once, on one bounded broadcast channel
//! (a slow subscriber must not hold the node back). Two things about a raw
//! tokio receiver surprise users: with the default wire profile every peer
//! heartbeat is two `GossipUpdate`s (both heartbeat spellings), drowning
//! what an application cares about; and a receiver that falls behind gets
//! `Err(Lagged)`, which a `while let Ok(..)` loop takes for the end. A
//! [`Subscription`] drops what its [`EventFilter`] does not ask for
//! (heartbeat updates unless asked) and yields
//! [`SubscriptionItem::Lagged`] as an item, then carries on; it ends only
//! when the node has stopped.

use std::collections::BTreeSet;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use crate::{
    gossip::{ClusterEvent, EventKind, TimedEvent},
    wire::{HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03},
};

/// Which events a [`Subscription`] yields.
///
/// The default (also [`EventFilter::all`]) is every kind except the
/// `GossipUpdate`s of the heartbeat keys (`heartbeat`, `heathbeat`), which
/// arrive for every peer on every gossip round; ask for them with
/// [`EventFilter::with_heartbeats`] or by naming a heartbeat key in
/// [`EventFilter::keys`].
///
/// ```
/// use protogossip::gossip::EventKind;
/// use protogossip::node::EventFilter;
///
/// // Membership changes, and updates of the application's "config" key.
/// let filter = EventFilter::kinds(EventKind::MEMBERSHIP)
///     .with_kinds([EventKind::GossipUpdate])
///     .keys(["config"]);
/// # let _ = filter;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// `None`: every kind.
    kinds: Option<BTreeSet<EventKind>>,
    /// `None`: every key (heartbeat keys only with `heartbeats`).
    keys: Option<BTreeSet<String>>,
    heartbeats: bool,
}

impl EventFilter {
    /// Every kind of event, heartbeat updates excluded (the default).
    pub fn all() -> Self {
        Self::default()
    }

    /// Every event, heartbeat updates included (what the node publishes).
    pub fn everything() -> Self {
        Self::default().with_heartbeats()
    }

    /// Only these kinds.
    pub fn kinds(kinds: impl IntoIterator<Item = EventKind>) -> Self {
        Self {
            kinds: Some(kinds.into_iter().collect()),
            ..Self::default()
        }
    }

    /// These kinds too (on a filter made by [`EventFilter::kinds`]; a filter
    /// of every kind stays one).
    #[must_use]
    pub fn with_kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        if let Some(k) = &mut self.kinds {
            k.extend(kinds);
        }
        self
    }

    /// `GossipUpdate`s only for these keys (other kinds are not affected).
    /// Naming a heartbeat key asks for its updates.
    #[must_use]
    pub fn keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Heartbeat `GossipUpdate`s too.
    #[must_use]
    pub fn with_heartbeats(mut self) -> Self {
        self.heartbeats = true;
        self
    }

    /// True when a subscription with this filter yields `event`.
    pub fn matches(&self, event: &ClusterEvent) -> bool {
        if self
            .kinds
            .as_ref()
            .is_some_and(|k| !k.contains(&event.kind()))
        {
            return false;
        }
        let ClusterEvent::GossipUpdate { key, .. } = event else {
            return true;
        };
        let named = self.keys.as_ref().map(|k| k.contains(key));
        let heartbeat = key == HEARTBEAT_KEY || key == HEARTBEAT_KEY_2024_03;
        match named {
            Some(named) => named,
            None => !heartbeat || self.heartbeats,
        }
    }
}

/// What a [`Subscription`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionItem {
    /// An event the filter asked for.
    Event(TimedEvent),
    /// The subscription fell behind and this many events were lost (events
    /// of every kind, also ones the filter would have dropped). State read
    /// now ([`crate::node::NodeHandle::status`], `get_state`) is current;
    /// the subscription carries on with the oldest event still held.
    Lagged(u64),
}

/// A node's events, filtered; from [`crate::node::NodeHandle::subscribe`]
/// or [`crate::node::NodeHandle::subscribe_filtered`].
///
/// ```no_run
/// # async fn run(node: protogossip::node::NodeHandle) {
/// use protogossip::node::SubscriptionItem;
///
/// let mut events = node.subscribe();
/// while let Some(item) = events.recv().await {
///     match item {
///         SubscriptionItem::Event(e) => println!("{e}"),
///         SubscriptionItem::Lagged(n) => println!("missed {n} events"),
///     }
/// }
/// // The node has stopped.
/// # }
/// ```
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<TimedEvent>,
    filter: EventFilter,
}

impl Subscription {
    pub(super) fn new(rx: broadcast::Receiver<TimedEvent>, filter: EventFilter) -> Self {
        Self { rx, filter }
    }

    /// The next event the filter asks for, or a lag notice; `None` once
    /// the node has stopped and every event it published has been read.
    pub async fn recv(&mut self) -> Option<SubscriptionItem> {
        loop {
            match self.rx.recv().await {
                Ok(e) if self.filter.matches(&e.event) => {
                    return Some(SubscriptionItem::Event(e));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => return Some(SubscriptionItem::Lagged(n)),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Like [`Subscription::recv`] without waiting: `None` when nothing is
    /// ready (or the node has stopped).
    pub fn try_recv(&mut self) -> Option<SubscriptionItem> {
        loop {
            match self.rx.try_recv() {
                Ok(e) if self.filter.matches(&e.event) => {
                    return Some(SubscriptionItem::Event(e));
                }
                Ok(_) => {}
                Err(TryRecvError::Lagged(n)) => return Some(SubscriptionItem::Lagged(n)),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    /// This subscription's filter.
    pub fn filter(&self) -> &EventFilter {
        &self.filter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gossip::{MemberId, UnixMillis};

    fn update(key: &str) -> ClusterEvent {
        ClusterEvent::GossipUpdate {
            owner: MemberId::new("a"),
            key: key.into(),
            sequence_number: 1,
        }
    }

    fn up() -> ClusterEvent {
        ClusterEvent::MemberUp {
            id: MemberId::new("a"),
        }
    }

    fn timed(event: ClusterEvent) -> TimedEvent {
        TimedEvent {
            at: UnixMillis(1),
            event,
        }
    }

    #[test]
    fn the_default_drops_heartbeat_updates_only() {
        let f = EventFilter::default();
        assert_eq!(f, EventFilter::all());
        assert!(f.matches(&up()));
        assert!(f.matches(&update("config")));
        assert!(f.matches(&update("topology")));
        assert!(!f.matches(&update("heartbeat")));
        assert!(!f.matches(&update("heathbeat")));
        let e = EventFilter::everything();
        assert!(e.matches(&update("heartbeat")) && e.matches(&update("heathbeat")));
    }

    #[test]
    fn kinds_and_keys_narrow_and_a_named_heartbeat_key_is_asked_for() {
        let f = EventFilter::kinds([EventKind::GossipUpdate]).keys(["config", "heartbeat"]);
        assert!(!f.matches(&up()));
        assert!(f.matches(&update("config")));
        assert!(!f.matches(&update("topology")));
        assert!(f.matches(&update("heartbeat")));
        assert!(!f.matches(&update("heathbeat")));
        let g = EventFilter::kinds(EventKind::MEMBERSHIP).with_kinds([EventKind::GossipUpdate]);
        assert!(g.matches(&up()) && g.matches(&update("x")));
        assert!(!g.matches(&ClusterEvent::SelfBlockedByPeer {
            by: MemberId::new("b")
        }));
        assert_eq!(
            EventFilter::all().with_kinds([EventKind::MemberUp]),
            EventFilter::all()
        );
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_and_carries_on() {
        let (tx, rx) = broadcast::channel(4);
        let mut sub = Subscription::new(rx, EventFilter::all());
        for i in 0..10 {
            tx.send(timed(ClusterEvent::MemberSuspect {
                id: MemberId::new("a"),
                silent_for_ms: i,
            }))
            .unwrap();
        }
        assert_eq!(sub.recv().await, Some(SubscriptionItem::Lagged(6)));
        let mut rest = Vec::new();
        while let Some(SubscriptionItem::Event(e)) = sub.try_recv() {
            rest.push(e);
        }
        assert_eq!(rest.len(), 4, "the newest four are still there");
        tx.send(timed(update("heartbeat"))).unwrap();
        tx.send(timed(up())).unwrap();
        assert_eq!(
            sub.recv().await,
            Some(SubscriptionItem::Event(timed(up()))),
            "the heartbeat update is skipped"
        );
        drop(tx);
        assert_eq!(sub.recv().await, None, "ends when the node has stopped");
    }
}
