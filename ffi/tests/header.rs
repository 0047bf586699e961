//! The committed header matches what cbindgen makes of the sources: a change to the ABI
//! that forgets the header fails here. `CISGATE_BLESS=1` writes the new header instead.

use std::path::PathBuf;

#[test]
fn the_committed_header_is_current() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads the sources")
        .write(&mut generated);
    let path = crate_dir.join("include/cisgate.h");
    if std::env::var_os("CISGATE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date; regenerate it with: CISGATE_BLESS=1 cargo test -p cisgate-ffi --test header",
        path.display()
    );
}
