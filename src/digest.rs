//! A short fingerprint of a node's gossip state, for comparing two nodes'
//! views at a glance (our `/status` and the Go harness both show it).
//!
//! The canonical form, which the Go harness computes too: for every entry
//! (owner, key, sequence number), sorted ascending by owner bytes and then
//! key bytes, the UTF-8 line `<owner>\t<key>\t<sequence number>\n`; the
//! digest is BLAKE3-256 of the concatenated lines. The *stable* digest
//! leaves out the heartbeat keys, whose sequence numbers move every tick, so
//! it settles once the cluster has converged.

use alloc::{string::String, vec::Vec};
use core::fmt::Write;

use crate::wire::profile::{HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03};

/// The state digest of `entries` (owner, key, sequence), in any order.
/// With `stable`, heartbeat entries are left out.
pub fn state_digest<'a, I>(entries: I, stable: bool) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str, i64)>,
{
    let mut sorted: Vec<(&str, &str, i64)> = entries
        .into_iter()
        .filter(|(_, key, _)| !stable || (*key != HEARTBEAT_KEY && *key != HEARTBEAT_KEY_2024_03))
        .collect();
    sorted.sort_unstable_by(|a, b| {
        (a.0.as_bytes(), a.1.as_bytes()).cmp(&(b.0.as_bytes(), b.1.as_bytes()))
    });
    let mut hasher = blake3::Hasher::new();
    let mut line = String::new();
    for (owner, key, seq) in sorted {
        line.clear();
        // Writing to a String cannot fail.
        let _ = writeln!(line, "{owner}\t{key}\t{seq}");
        hasher.update(line.as_bytes());
    }
    hex::encode(hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_sorted_tab_separated_lines() {
        let got = state_digest(
            [
                ("b", "topology", 2),
                ("a", "left", 7),
                ("a", "heartbeat", 9),
            ],
            false,
        );
        let want = blake3::hash(b"a\theartbeat\t9\na\tleft\t7\nb\ttopology\t2\n");
        assert_eq!(got, hex::encode(want.as_bytes()));
    }

    #[test]
    fn stable_digest_ignores_heartbeats_of_both_spellings() {
        let base = [("a", "topology", 1)];
        let with_hb = [
            ("a", "topology", 1),
            ("a", "heartbeat", 5),
            ("a", "heathbeat", 6),
        ];
        assert_eq!(state_digest(base, true), state_digest(with_hb, true));
        assert_ne!(state_digest(base, false), state_digest(with_hb, false));
    }

    #[test]
    fn empty_state_is_the_hash_of_nothing() {
        assert_eq!(
            state_digest([], false),
            hex::encode(blake3::hash(b"").as_bytes())
        );
        assert_eq!(state_digest([], false).len(), 64);
    }
}
