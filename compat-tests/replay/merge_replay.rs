//! Our merge against protoactor-go's: every merge vector's (local, remote)
//! pair goes through `gossip::merge_states` with Go's rule (no protection of
//! our own id), and the merged entries and the published updates must equal
//! what Go's real `GossipActor` produced.

use std::collections::BTreeSet;

use protogossip::{
    gossip::{UnixMillis, merge_states},
    wire::proto::cluster::{GossipKeyValue, GossipState},
};

use crate::merge_vectors::MergeCase;

/// The (owner, key) entries Go could be asked about: `keys_read` only, and
/// owners that hold at least one value (Go adopts empty owners invisibly).
fn visible(state: &GossipState, keys: &[String]) -> Vec<(String, String, GossipKeyValue)> {
    let mut out = Vec::new();
    for (owner, ms) in &state.members {
        for (key, kv) in &ms.values {
            if keys.contains(key) {
                out.push((owner.clone(), key.clone(), kv.clone()));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// Replays one case; `Err` says how we differ from Go.
pub fn replay(case: &MergeCase) -> Result<(), String> {
    let now = UnixMillis(u64::try_from(case.merge_timestamp).map_err(|e| e.to_string())?);
    let (merged, updates) = merge_states(&case.local, &case.remote, None, now);

    let ours = visible(&merged, &case.keys_read);
    let gos = visible(&case.merged, &case.keys_read);
    if ours != gos {
        return Err(format!(
            "{}: merged state differs\n ours {ours:?}\n go   {gos:?}",
            case.name
        ));
    }

    let ours: BTreeSet<(String, String, i64)> = updates
        .iter()
        .map(|u| {
            (
                u.owner.as_str().to_owned(),
                u.key.clone(),
                u.sequence_number,
            )
        })
        .collect();
    let gos: BTreeSet<(String, String, i64)> = case
        .updates
        .iter()
        .map(|u| (u.member_id.clone(), u.key.clone(), u.seq_number))
        .collect();
    if ours != gos {
        return Err(format!(
            "{}: updates differ\n ours {ours:?}\n go   {gos:?}",
            case.name
        ));
    }
    Ok(())
}
