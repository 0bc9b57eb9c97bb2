//! The committed C header (`include/lrpo.h`) is the one cbindgen generates from the sources:
//! a changed signature without a regenerated header fails here. Regenerate with
//! `LRPO_UPDATE_HEADER=1 cargo test -p lrpo-edge-capi --test header`.

use std::path::Path;

#[test]
fn the_committed_header_is_what_cbindgen_generates() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not read the crate");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let path = crate_dir.join("include/lrpo.h");
    if std::env::var_os("LRPO_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not what cbindgen generates from the sources; regenerate it with \
         LRPO_UPDATE_HEADER=1 cargo test -p lrpo-edge-capi --test header",
        path.display()
    );
}
