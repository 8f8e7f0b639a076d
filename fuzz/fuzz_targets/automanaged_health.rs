//! The automanaged provider's `/_health` body, as any polled host can send
//! it: `NodeModel::from_health_body`, then the member it describes. Checks
//! that a model survives Go's JSON (`to_go_json`: field order, `\u003c`
//! escapes, trailing newline) unchanged, and that the member keeps its id,
//! host and kinds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protogossip::provider::automanaged::NodeModel;

fuzz_target!(|data: &[u8]| {
    let Ok(Some(model)) = NodeModel::from_health_body(data) else {
        return;
    };
    let body = model.to_go_json();
    assert_eq!(body.last(), Some(&b'\n'));
    let again = NodeModel::from_health_body(&body)
        .expect("our /_health body parses")
        .expect("and is not null");
    assert_eq!(again, model, "Go's JSON changed the model");
    match model.to_member() {
        Some(m) => {
            assert_eq!(
                (&m.id, &m.host, &m.kinds),
                (&model.id, &model.address, &model.kinds)
            );
            assert_eq!(i64::from(m.port), model.port);
        }
        None => assert!(i32::try_from(model.port).is_err()),
    }
});
