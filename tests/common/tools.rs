//! Installing what a test needs from outside Rust (shared by this crate's tests and the
//! FFI crate's binding tests, which include this file by path).

use std::path::Path;
use std::process::Command;

/// Runs `.ci/tools`, which installs a C compiler, Mono, Python and s3s-fs when missing,
/// so that `cargo test --workspace` works on a fresh machine. Panics with its output when
/// it fails. Call it once per test binary (behind a `OnceLock`).
pub fn install_test_tools() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join(".ci/tools"))
        .find(|path| path.is_file())
        .expect(".ci/tools is missing from the checkout");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `program` is on the `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}
