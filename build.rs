//! Generates the protobuf types from `proto/` without a system `protoc`:
//! `protox` parses the files into a descriptor set, `prost-build` writes the
//! messages (usable without `std`), and with the `std` feature
//! `tonic-prost-build` adds the `remote.Remoting` client and server.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/actor.proto",
    "proto/remote.proto",
    "proto/cluster.proto",
    "proto/gossip.proto",
    "proto/grain.proto",
    "proto/pubsub.proto",
];

/// The type-URL domain protoactor-go writes into `google.protobuf.Any`.
const TYPE_DOMAIN: &str = "type.googleapis.com";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);

    // Maps as BTreeMap: our own encoding is then deterministic.
    // `google.protobuf.Any` is our own type with reference-counted value
    // bytes (src/wire/any.rs): same wire bytes, shared instead of copied.
    let mut config = prost_build::Config::new();
    config
        .btree_map(["."])
        .extern_path(".google.protobuf.Any", "crate::wire::Any")
        .enable_type_names()
        .type_name_domain(["."], TYPE_DOMAIN)
        .out_dir(&out);

    if env::var_os("CARGO_FEATURE_STD").is_some() {
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .out_dir(&out)
            .compile_fds_with_config(fds, config)?;
    } else {
        config.compile_fds(fds)?;
    }
    Ok(())
}
