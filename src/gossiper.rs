//! The `Gossiper` seam of Rust actor runtimes.
//!
//! Actor runtimes such as fraktor-rs give their cluster module a `Gossiper`
//! with two methods, built by a factory from the cluster's config. They ship
//! a `NoopGossiper` and a gossiper of their own, which keeps members of the
//! same runtime in step but speaks no other protocol. This trait has the
//! same shape, so swapping either for ours (`node::ClusterGossiper`) is a
//! one-line change in the host. Ours adds a protoactor-go cluster member:
//! Go nodes gossip with it, list it and block it by Go's rules, through
//! protoactor-go's providers, with working topology consensus; and it hands
//! its membership back to the host in the host's terms (see
//! `docs/gossiper.md`).
//!
//! The errors are `&'static str` because that is the host's signature: one
//! names the failing stage, and implementations keep the full error for an
//! accessor of their own and the log.

/// Starts and stops a cluster's gossip.
pub trait Gossiper: Send + Sync {
    /// Starts gossiping: returns once the member is listening and
    /// registered (within a bound), not once the cluster has formed.
    ///
    /// # Errors
    /// A short description naming the stage that failed.
    fn start(&mut self) -> Result<(), &'static str>;

    /// Stops gossiping (gracefully where the implementation can), within a
    /// bound, from any thread, without calling back into the host.
    ///
    /// # Errors
    /// A short description when gossip did not stop cleanly.
    fn stop(&mut self) -> Result<(), &'static str>;
}

/// A gossiper that does nothing: the host runtime's default.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NoopGossiper;

impl Gossiper for NoopGossiper {
    fn start(&mut self) -> Result<(), &'static str> {
        Ok(())
    }

    fn stop(&mut self) -> Result<(), &'static str> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noop_is_a_boxed_gossiper() {
        let mut g: Box<dyn Gossiper> = Box::new(NoopGossiper);
        assert_eq!(g.start(), Ok(()));
        assert_eq!(g.stop(), Ok(()));
    }
}
