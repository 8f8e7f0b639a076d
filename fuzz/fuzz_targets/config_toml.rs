//! The CLI's TOML config file (`protogossip node --config FILE`). The
//! binary's own `args.rs` is compiled into this target (no copy) and its
//! `NodeArgs::with_config_text` is called on the fuzzed text, the path
//! `into_config` takes after reading the file. A config that builds must
//! then either validate (`NodeConfig::validate`) and start a `GossipCore`,
//! or be refused with a typed error, never a panic.

#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../src/bin/protogossip/args.rs"]
mod args;

use libfuzzer_sys::fuzz_target;
use protogossip::gossip::GossipCore;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = args::NodeArgs::default().with_config_text(text, "fuzz.toml") else {
        return;
    };
    // Whatever the file says is checked, never a panic.
    let _ = config.remote.validate();
    if config.validate().is_ok() {
        GossipCore::new("fuzz", config.gossip.clone()).expect("a valid config starts a core");
    } else if config.gossip.validate().is_err() {
        assert!(GossipCore::new("fuzz", config.gossip.clone()).is_err());
    }
});
