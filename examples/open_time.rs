//! Times opening an index: `cargo run --release --example open_time -- DIR`.

use std::time::Instant;

use cisgate::index::OpenOptions;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: open_time DIR");
    let dir = std::path::Path::new(&dir);
    for verify in [false, true, false, true] {
        let started = Instant::now();
        let index = OpenOptions::new()
            .verify_checksums(verify)
            .open(dir)
            .expect("open");
        let elapsed = started.elapsed();
        println!(
            "open {} checksum verification: {:.3} ms (generation {}, {} files)",
            if verify { "with" } else { "without" },
            elapsed.as_secs_f64() * 1000.0,
            index.manifest().generation,
            index.manifest().files().count()
        );
    }
}
