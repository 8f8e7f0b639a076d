//! The core's randomness: the caller's RNG, and one derived from it for
//! the inputs that take none.
//!
//! Every random choice (fan-out targets, which owners fill a delta when more
//! than `gossip_max_send` have news) should follow from the caller's seed,
//! so a run replays from its inputs. [`GossipCore::tick`] takes the caller's
//! RNG. Two inputs choose at random but take no RNG:
//! [`GossipCore::on_gossip_request`] (the owners of the answer's delta) and
//! [`GossipCore::leave`]. They are called from the driver's transport and
//! shutdown paths, which hold no RNG; passing one there would thread it
//! through every inbound handler for a choice that rarely matters. So the
//! core keeps a [`DerivedRng`] for them: reseeded from the caller's RNG on
//! every tick, and seeded from the member id before the first tick (so two
//! members never start from the same sequence). That keeps one source of
//! entropy — the caller's seed — without consuming the caller's RNG state
//! in inputs whose order the caller does not control.
//!
//! [`GossipCore::tick`]: super::GossipCore::tick
//! [`GossipCore::on_gossip_request`]: super::GossipCore::on_gossip_request
//! [`GossipCore::leave`]: super::GossipCore::leave

use core::convert::Infallible;

use rand_core::{Rng, TryRng};

/// A uniform index below `n` (`n` > 0), Lemire's multiply-shift: one
/// `u32` per draw, bias below 2^-32 for our sizes.
pub(crate) fn uniform(rng: &mut impl Rng, n: usize) -> usize {
    ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize
}

/// SplitMix64, seeded from the caller's RNG (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct DerivedRng(u64);

impl DerivedRng {
    /// The sequence a member starts with before its first tick: seeded
    /// from the FNV-1a hash of its id.
    pub(crate) fn for_member(id: &str) -> Self {
        let seed = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Self(seed)
    }

    /// Starts a new sequence from one draw of the caller's RNG.
    pub(crate) fn reseed(&mut self, rng: &mut impl Rng) {
        self.0 = rng.next_u64();
    }
}

impl TryRng for DerivedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xorshift::XorShiftRng;

    #[test]
    fn splitmix64_reference_values() {
        // SplitMix64 from seed 0 (Vigna's reference implementation).
        let mut r = DerivedRng(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn members_start_apart_and_reseeding_follows_the_callers_seed() {
        let (mut a, mut b) = (DerivedRng::for_member("a"), DerivedRng::for_member("b"));
        assert_ne!(a.next_u64(), b.next_u64());
        a.reseed(&mut XorShiftRng::seed_from_u64(7));
        b.reseed(&mut XorShiftRng::seed_from_u64(7));
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn uniform_stays_below_n() {
        let mut r = XorShiftRng::seed_from_u64(1);
        for n in [1, 2, 3, 7, 1000] {
            assert!((0..200).all(|_| uniform(&mut r, n) < n));
        }
    }
}
