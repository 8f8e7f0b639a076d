//! The CLI's TOML config file (`protogossip node --config FILE`). The
//! binary's own `args.rs` is compiled into this target (no copy) and its
//! `NodeArgs::with_config_text` is called on the fuzzed text, the path
//! `into_settings` takes after reading the file. Whatever the text says is
//! either refused with a typed error or yields settings that passed
//! `NodeConfig::validate`, and those must start a `GossipCore`; never a
//! panic.

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
    let Ok(settings) = args::NodeArgs::default().with_config_text(text, "fuzz.toml") else {
        return;
    };
    let config = settings.config;
    // Settings that built were validated; they must hold up.
    assert!(
        config.validate().is_ok(),
        "built settings failed validation"
    );
    GossipCore::new("fuzz", config.gossip.clone()).expect("a valid config starts a core");
});
