//! Our system id, shared by the parts of the transport that send it.
//!
//! A node that rejoins the cluster under a fresh member id (see
//! `node::rejoin`) keeps its transport, address and hosted actors, but its
//! handshakes must carry the new id: a Rust peer drops batches on a stream
//! whose `ServerConnection.SystemId` it has blocked, and answers
//! `ConnectResponse.member_id` with what it thinks we are. One cell, read
//! at each handshake, keeps the outbound (`ConnectRequest`) and inbound
//! (`ConnectResponse`) sides and [`crate::remote::RemoteHandle::system_id`]
//! consistent.

use std::sync::{PoisonError, RwLock};

/// The current system id.
#[derive(Debug)]
pub(crate) struct Identity(RwLock<String>);

impl Identity {
    pub(crate) fn new(id: String) -> Self {
        Self(RwLock::new(id))
    }

    /// The id now.
    pub(crate) fn get(&self) -> String {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the id; returns the old one.
    pub(crate) fn replace(&self, id: String) -> String {
        std::mem::replace(
            &mut *self.0.write().unwrap_or_else(PoisonError::into_inner),
            id,
        )
    }
}
