//! The simulated network's random choices: loss, duplication, delay.

use std::time::Duration;

use rand_core::Rng;

/// How the simulated network misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Probability that a message (request or response) is lost.
    pub drop_probability: f64,
    /// Probability that a request is delivered twice.
    pub duplicate_probability: f64,
    /// Shortest one-way delay.
    pub min_delay: Duration,
    /// Longest one-way delay.
    pub max_delay: Duration,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            drop_probability: 0.0,
            duplicate_probability: 0.0,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
        }
    }
}

impl NetworkConfig {
    /// The default network losing `p` of all messages.
    pub fn lossy(p: f64) -> Self {
        Self {
            drop_probability: p,
            ..Self::default()
        }
    }
}

/// True with probability `p`.
pub(crate) fn chance(rng: &mut impl Rng, p: f64) -> bool {
    p > 0.0 && ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
}

/// A delay uniform in `[min_delay, max_delay]`, in ms.
pub(crate) fn delay_ms(rng: &mut impl Rng, n: &NetworkConfig) -> u64 {
    let lo = n.min_delay.as_millis() as u64;
    let hi = (n.max_delay.as_millis() as u64).max(lo);
    lo + rng.next_u64() % (hi - lo + 1)
}
