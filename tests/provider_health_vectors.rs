//! Our `/_health` body equals the one protoactor-go's automanaged provider
//! serves (captured from a real Go server into `compat-tests/vectors`), and
//! we parse every body Go serves, `null` kinds included.

use std::path::Path;

use protogossip::provider::automanaged::{HEALTH_CONTENT_TYPE, NodeModel};

#[test]
fn our_health_json_equals_gos_bytes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-tests/vectors/automanaged");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("automanaged vectors present") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let twin: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let body = std::fs::read(dir.join(twin["body"].as_str().unwrap())).unwrap();
        assert_eq!(twin["content_type"], HEALTH_CONTENT_TYPE, "{path:?}");

        // Go's body parses, and means what the twin says.
        let parsed: NodeModel = serde_json::from_slice(&body).unwrap();
        let node = &twin["node"];
        assert_eq!(parsed.id, node["id"].as_str().unwrap(), "{path:?}");
        assert_eq!(parsed.port, node["port"].as_i64().unwrap(), "{path:?}");

        // Re-serialised by us: byte-identical, except that Go writes `null`
        // for a nil kinds slice where we (having no nil) write `[]`.
        let ours = String::from_utf8(parsed.to_go_json()).unwrap();
        let gos = String::from_utf8(body).unwrap();
        if gos.contains("\"kinds\":null") {
            assert_eq!(
                ours,
                gos.replace("\"kinds\":null", "\"kinds\":[]"),
                "{path:?}"
            );
        } else {
            assert_eq!(ours, gos, "{path:?}");
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} /_health vectors found");
}
