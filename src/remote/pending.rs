//! Requests waiting for an answer, keyed by the id of their sender PID.
//!
//! Each request gets its own id `future$N`, written like Go's
//! `actor.NextId()` (`$` + a base-64 counter in the alphabet `0-9a-zA-Z~+`),
//! and the request id stays 0 — exactly the shape of a Go future. We chose
//! one id per request over one shared id with `request_id` multiplexing
//! because it needs nothing from the peer beyond echoing the sender PID, which
//! every protoactor implementation does. The answer completes the entry;
//! `actor.DeadLetterResponse` completes it with
//! [`TransportError::DeadLetter`]; a timeout removes it, so a late answer is
//! counted and dropped.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::oneshot;

use super::{TransportError, message::ActorMessage};

/// The prefix of every request id we hand out.
pub(crate) const FUTURE_PREFIX: &str = "future$";

const ALPHABET: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ~+";

/// `n` in Go's `NextId` base-64 alphabet, most significant digit first.
pub(crate) fn go_base64(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(ALPHABET[(n % 64) as usize]);
        n /= 64;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

type Slot = oneshot::Sender<Result<ActorMessage, TransportError>>;

/// The table of waiting requests.
#[derive(Debug, Default)]
pub(crate) struct PendingRequests {
    next: AtomicU64,
    map: Mutex<HashMap<String, Slot>>,
}

impl PendingRequests {
    /// Registers a new request; returns its PID id and the receiver.
    pub(crate) fn register(
        &self,
    ) -> (
        String,
        oneshot::Receiver<Result<ActorMessage, TransportError>>,
    ) {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("{FUTURE_PREFIX}{}", go_base64(n));
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), tx);
        (id, rx)
    }

    /// Completes request `id`. False when no such request is waiting.
    pub(crate) fn complete(&self, id: &str, result: Result<ActorMessage, TransportError>) -> bool {
        match self.lock().remove(id) {
            Some(tx) => tx.send(result).is_ok(),
            None => false,
        }
    }

    /// True when `id` is waiting.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// How many requests are waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Forgets request `id` (timed out or abandoned).
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Fails every waiting request.
    pub(crate) fn fail_all(&self, err: &TransportError) {
        for (_, tx) in self.lock().drain() {
            let _ = tx.send(Err(err.clone()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{WireMessage, proto::cluster::GossipResponse};

    #[test]
    fn ids_look_like_go_futures() {
        assert_eq!(go_base64(1), "1");
        assert_eq!(go_base64(10), "a");
        assert_eq!(go_base64(63), "+");
        assert_eq!(go_base64(64), "10");
        assert_eq!(go_base64(64 * 64 - 1), "++");
        let p = PendingRequests::default();
        assert_eq!(p.register().0, "future$1");
        assert_eq!(p.register().0, "future$2");
    }

    #[tokio::test]
    async fn completion_is_once() {
        let p = PendingRequests::default();
        let (id, rx) = p.register();
        assert!(p.contains(&id));
        assert!(p.complete(&id, Ok(WireMessage::from(GossipResponse::default()).into())));
        assert!(
            !p.complete(&id, Err(TransportError::Timeout)),
            "late answer"
        );
        let answer = rx.await.unwrap().unwrap().into_wire().unwrap();
        assert_eq!(answer, GossipResponse::default().into());
        assert!(!p.contains(&id));
    }

    #[tokio::test]
    async fn fail_all_fails_everyone() {
        let p = PendingRequests::default();
        let (_, a) = p.register();
        let (_, b) = p.register();
        p.fail_all(&TransportError::ShuttingDown);
        assert_eq!(a.await.unwrap().unwrap_err(), TransportError::ShuttingDown);
        assert_eq!(b.await.unwrap().unwrap_err(), TransportError::ShuttingDown);
    }
}
