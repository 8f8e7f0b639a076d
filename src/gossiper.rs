//! The `Gossiper` seam of Rust actor runtimes.
//!
//! Actor runtimes such as fraktor-rs give their cluster module a
//! `Gossiper` with two methods and ship only a `NoopGossiper`. This trait has
//! the same shape, so swapping the no-op for our gossiper is a one-line
//! change in the host. The errors are `&'static str` because that is the
//! host's signature; we log the full error before reducing it to one.

/// Starts and stops a cluster's gossip.
pub trait Gossiper: Send + Sync {
    /// Starts gossiping. Returns at once; the work runs in the background.
    ///
    /// # Errors
    /// A short description when gossip cannot start.
    fn start(&mut self) -> Result<(), &'static str>;

    /// Stops gossiping (gracefully where the implementation can).
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
