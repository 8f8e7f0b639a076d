//! Replays the `placement` family: for each member set and each
//! (kind, identity) query, `placement::Rendezvous` must name the owner that
//! protoactor-go's own `cluster.Rendezvous.GetByClusterIdentity` named (`""`
//! in Go is `None` here).

use protogossip::placement::Rendezvous;
use protogossip::wire::proto::cluster::Member;
use serde::Deserialize;

use super::files;

#[derive(Deserialize)]
struct PlacementFile {
    generated_with: String,
    sets: Vec<PlacementSet>,
}

#[derive(Deserialize)]
struct PlacementSet {
    name: String,
    members: Vec<MemberJ>,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct MemberJ {
    host: String,
    port: i32,
    id: String,
    kinds: Vec<String>,
}

#[derive(Deserialize)]
struct Query {
    kind: String,
    identity: String,
    owner: String,
}

/// Every query of every set; returns how many were checked.
pub fn placement() -> Result<usize, String> {
    let path = files::family_dir("placement").join("placement.json");
    let file: PlacementFile = files::json(&path)?;
    if !file.generated_with.contains("protoactor-go") {
        return Err("placement.json: provenance missing".into());
    }
    let mut checked = 0;
    for set in &file.sets {
        let members: Vec<Member> = set
            .members
            .iter()
            .map(|m| Member {
                host: m.host.clone(),
                port: m.port,
                id: m.id.clone(),
                kinds: m.kinds.clone(),
            })
            .collect();
        let rendezvous = Rendezvous::new(&members);
        for q in &set.queries {
            let ours = rendezvous.owner_address(&q.kind, &q.identity).unwrap_or("");
            if ours != q.owner {
                return Err(format!(
                    "{}: kind {:?} identity {:?}: Go {:?}, ours {ours:?}",
                    set.name, q.kind, q.identity, q.owner
                ));
            }
            checked += 1;
        }
    }
    // Issue 12's floor: identities x member sets, at least 50 cases.
    if checked < 50 {
        return Err(format!("placement.json: only {checked} queries, need 50"));
    }
    Ok(checked)
}
