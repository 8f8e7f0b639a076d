//! Our system-id spelling equals shortuuid's (the encoder behind Go's
//! `ActorSystem` ids), checked against ids Go wrote into
//! `compat-tests/vectors/system_id`.

use std::path::Path;

use protogossip::system_id::encode_uuid;

#[test]
fn encode_uuid_matches_go_shortuuid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-tests/vectors/system_id");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("system_id vectors present") {
        let path = entry.unwrap().path();
        let twin: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let hex: String = twin["uuid"].as_str().unwrap().replace('-', "");
        let uuid = u128::from_str_radix(&hex, 16).unwrap();
        assert_eq!(
            encode_uuid(uuid),
            twin["system_id"].as_str().unwrap(),
            "{path:?}"
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} system id vectors");
}
