//! Replays the non-message families: topology hashes, automanaged `/_health`
//! bodies, and the well-formedness of merge vectors.

use std::path::Path;

use protogossip::wire::{self, proto::cluster::Member};
use serde::Deserialize;
use serde_json::Value;

use prost::Message;

use super::{files, merge_vectors::MergeCase, messages, twin};

#[derive(Deserialize)]
struct HashFile {
    generated_with: String,
    sets: Vec<HashSet>,
}

#[derive(Deserialize)]
struct HashSet {
    name: String,
    ids: Vec<String>,
    topology_hash: String,
    member_set_order: Vec<String>,
}

/// Every id set: `wire::topology_hash` (and the member form) must equal Go's
/// `cluster.TopologyHash`, and byte-wise sorting must give Go's MemberSet order.
/// Returns how many sets were checked.
pub fn topology_hashes() -> Result<usize, String> {
    let path = files::family_dir("topology_hash").join("topology_hashes.json");
    let file: HashFile = files::json(&path)?;
    if !file.generated_with.contains("protoactor-go") {
        return Err("topology_hashes.json: provenance missing".into());
    }
    for set in &file.sets {
        let want: u64 = set
            .topology_hash
            .parse()
            .map_err(|e| format!("{}: {e}", set.name))?;
        let got = wire::topology_hash(set.ids.iter().map(String::as_str));
        if got != want {
            return Err(format!("{}: Go {want}, ours {got}", set.name));
        }
        let members: Vec<Member> = set
            .ids
            .iter()
            .map(|id| Member {
                id: id.clone(),
                ..Default::default()
            })
            .collect();
        if wire::topology_hash_of_members(&members) != want {
            return Err(format!("{}: topology_hash_of_members differs", set.name));
        }
        let mut sorted = set.ids.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        if sorted != set.member_set_order {
            return Err(format!(
                "{}: Go MemberSet order {:?}, byte order {sorted:?}",
                set.name, set.member_set_order
            ));
        }
    }
    Ok(file.sets.len())
}

#[derive(Deserialize)]
struct HealthTwin {
    case: String,
    body: String,
    status: u16,
    content_type: String,
    generated_with: String,
    node: Value,
}

/// One `/_health` capture: status, content type, the trailing newline echo's
/// encoder adds, the field order of Go's struct, and every field's value.
pub fn automanaged(path: &Path) -> Result<(), String> {
    let t: HealthTwin = files::json(path)?;
    if !t.generated_with.contains("echo") {
        return Err(format!("{}: provenance missing", t.case));
    }
    let body = files::sibling(path, &t.body)?;
    if t.status != 200 || t.content_type != "application/json; charset=UTF-8" {
        return Err(format!(
            "{}: status {} content type {:?}",
            t.case, t.status, t.content_type
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|e| format!("{}: {e}", t.case))?;
    let Some(json) = text.strip_suffix('\n') else {
        return Err(format!("{}: body does not end with a newline", t.case));
    };
    let mut last = 0;
    for field in [
        "id",
        "address",
        "auto_manage_port",
        "port",
        "kinds",
        "cluster_name",
    ] {
        let at = json
            .find(&format!("\"{field}\":"))
            .ok_or_else(|| format!("{}: no field {field}", t.case))?;
        if at < last {
            return Err(format!(
                "{}: field {field} out of Go's struct order",
                t.case
            ));
        }
        last = at;
    }
    let parsed: Value = serde_json::from_str(json).map_err(|e| format!("{}: {e}", t.case))?;
    match twin::diff("node", &t.node, &parsed) {
        Some(d) => Err(format!("{}: {d}", t.case)),
        None => Ok(()),
    }
}

/// A merge vector is well-formed: its states match their twins, every update
/// is present in the merged state with its sequence number and value, entries
/// Go accepted carry the merge stamp and the others do not, and Go replied
/// with an empty GossipResponse.
pub fn merge_case(case: &MergeCase) -> Result<(), String> {
    for part in ["local", "remote", "merged"] {
        let state = match part {
            "local" => &case.local,
            "remote" => &case.remote,
            _ => &case.merged,
        };
        let want = &case.twin[part]["content"];
        if let Some(d) = twin::diff(part, want, &twin::gossip_state(state)) {
            return Err(format!("{}: {d}", case.name));
        }
        let bin = case.twin[part]["bin"].as_str().unwrap_or_default();
        let go = files::read(&files::family_dir("merge").join(bin))?;
        let equal = state.encode_to_vec() == go;
        let known = messages::known_difference("merge", &format!("{}.{part}", case.name));
        if equal == known {
            return Err(format!(
                "{}: {part} re-encoding equal={equal}, listed as known difference={known}",
                case.name
            ));
        }
    }
    let mut stamped = 0;
    for (owner, ms) in &case.merged.members {
        for (key, kv) in &ms.values {
            let updated = case
                .updates
                .iter()
                .find(|u| &u.member_id == owner && &u.key == key);
            match updated {
                Some(u) => {
                    if u.seq_number != kv.sequence_number || u.value != kv.value {
                        return Err(format!(
                            "{}: update {owner}/{key} differs from merged entry",
                            case.name
                        ));
                    }
                    if kv.local_timestamp_unix_milliseconds != case.merge_timestamp {
                        return Err(format!(
                            "{}: accepted {owner}/{key} not restamped",
                            case.name
                        ));
                    }
                    stamped += 1;
                }
                None => {
                    let before = case
                        .local
                        .members
                        .get(owner)
                        .and_then(|m| m.values.get(key));
                    if before != Some(kv) {
                        return Err(format!(
                            "{}: {owner}/{key} changed without an update",
                            case.name
                        ));
                    }
                }
            }
        }
    }
    if stamped != case.updates.len() {
        return Err(format!(
            "{}: {} updates but {stamped} merged entries match",
            case.name,
            case.updates.len()
        ));
    }
    let twin_updates = case.twin["updates"].as_array().map_or(0, Vec::len);
    if twin_updates != case.updates.len() || case.request_from_member_id != case.my_id {
        return Err(format!("{}: malformed twin", case.name));
    }
    if case.response_type_name != "cluster.GossipResponse" || !case.response_bytes.is_empty() {
        return Err(format!(
            "{}: Go replied {} {:?}",
            case.name, case.response_type_name, case.response_bytes
        ));
    }
    if case.keys_read.is_empty()
        || case.description.is_empty()
        || case.setup_timestamp == case.merge_timestamp
    {
        return Err(format!("{}: malformed twin", case.name));
    }
    Ok(())
}
