//! Compiles `proto/` into Rust (into OUT_DIR, never into `src/`) and writes the
//! encoded descriptor set that server reflection serves.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "roadroller/v1/roads.proto",
    "roadroller/v1/paver.proto",
    "roadroller/v1/onramp.proto",
    "roadroller/v1/offramp.proto",
    "roadroller/v1/streams.proto",
    "roadroller/v1/tables.proto",
    "roadroller/v1/loading_bay.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    // protox carries Google's well-known types, so no system protoc is needed.
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // `file_descriptor_set_path` is ignored on the `compile_fds` path, so the
    // set for reflection is written here.
    std::fs::write(out_dir.join("roadroller_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Written by hand so that a server can send records encoded ahead.
        .extern_path(".roadroller.v1.RoadMessages", "crate::wire::RoadMessages")
        .compile_fds(fds)?;
    Ok(())
}
