//! Which accepted TCP connections the server keeps: at most
//! `max_inbound_connections` in all and `max_inbound_connections_per_ip`
//! from one peer address.
//!
//! Each connection costs a file descriptor, kernel buffers and tonic's
//! per-connection task, and until this check nothing bounded them: a client
//! opening connections in a loop could run the process out of descriptors,
//! after which `accept` fails for the Go peers too. A Go node opens one
//! connection to each member it talks to, so the caps count members, not
//! streams or messages. The check runs right after `accept`, before any TLS or
//! HTTP/2 work, so a refused connection costs one `accept` and one `close`.
//!
//! Every admitted connection holds a [`ConnectionPermit`] until it closes;
//! dropping the permit frees its slot. The counts live behind one mutex,
//! taken once per accept and once per close, never across an await.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConnectionRefused {
    /// `max_inbound_connections` connections were open.
    #[error("{limit} inbound connections open (max_inbound_connections)")]
    Total {
        /// The cap.
        limit: usize,
    },
    /// `max_inbound_connections_per_ip` connections from this address were open.
    #[error("{limit} inbound connections open from {ip} (max_inbound_connections_per_ip)")]
    PerIp {
        /// The peer's address.
        ip: IpAddr,
        /// The cap.
        limit: usize,
    },
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only addresses with at least one open connection.
    per_ip: HashMap<IpAddr, usize>,
}

/// The open-connection counts and their caps; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    max_total: usize,
    max_per_ip: usize,
    counts: Arc<Mutex<Counts>>,
}

impl Admission {
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            max_total,
            max_per_ip,
            counts: Arc::default(),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every
        // critical section is a single add or subtract.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection from `ip`, or why there is none.
    ///
    /// # Errors
    /// [`ConnectionRefused`] when either cap is reached.
    pub(crate) fn admit(&self, ip: IpAddr) -> Result<ConnectionPermit, ConnectionRefused> {
        // `::ffff:a.b.c.d` is the IPv4 peer a.b.c.d on a dual-stack socket.
        let ip = ip.to_canonical();
        let mut counts = self.counts();
        if counts.total >= self.max_total {
            return Err(ConnectionRefused::Total {
                limit: self.max_total,
            });
        }
        let from_ip = counts.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.max_per_ip {
            return Err(ConnectionRefused::PerIp {
                ip,
                limit: self.max_per_ip,
            });
        }
        *from_ip += 1;
        counts.total += 1;
        Ok(ConnectionPermit {
            admission: self.clone(),
            ip,
        })
    }

    /// Open connections in all and from `ip` (tests).
    #[cfg(test)]
    fn open(&self, ip: IpAddr) -> (usize, usize) {
        let counts = self.counts();
        (
            counts.total,
            counts.per_ip.get(&ip).copied().unwrap_or_default(),
        )
    }
}

/// One admitted connection's slot, freed on drop.
#[derive(Debug)]
pub(crate) struct ConnectionPermit {
    admission: Admission,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.admission.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn per_ip_cap_refuses_only_that_address() {
        let admission = Admission::new(10, 2);
        let _a1 = admission.admit(A).unwrap();
        let _a2 = admission.admit(A).unwrap();
        assert_eq!(
            admission.admit(A).unwrap_err(),
            ConnectionRefused::PerIp { ip: A, limit: 2 }
        );
        let _b1 = admission.admit(B).unwrap();
        assert_eq!(admission.open(A), (3, 2));
    }

    #[test]
    fn total_cap_refuses_everyone() {
        let admission = Admission::new(2, 2);
        let _a = admission.admit(A).unwrap();
        let _b = admission.admit(B).unwrap();
        assert_eq!(
            admission
                .admit(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)))
                .unwrap_err(),
            ConnectionRefused::Total { limit: 2 }
        );
    }

    #[test]
    fn dropped_permits_free_their_slots_and_forget_the_address() {
        let admission = Admission::new(2, 1);
        let a = admission.admit(A).unwrap();
        let b = admission.admit(B).unwrap();
        assert!(admission.admit(A).is_err());
        drop(a);
        assert_eq!(admission.open(A), (1, 0));
        assert!(!admission.counts().per_ip.contains_key(&A));
        let _a = admission.admit(A).unwrap();
        drop(b);
        assert_eq!(admission.open(B), (1, 0));
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_its_ipv4_address() {
        let admission = Admission::new(10, 1);
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        let _a = admission.admit(A).unwrap();
        assert_eq!(
            admission.admit(mapped).unwrap_err(),
            ConnectionRefused::PerIp { ip: A, limit: 1 }
        );
        let _v6 = admission.admit(IpAddr::V6(Ipv6Addr::LOCALHOST)).unwrap();
    }
}
