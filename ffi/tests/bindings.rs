//! The bindings and examples for C, C#, Java and Python, built and run against the library
//! this test run built: each opens an index made from data/sample, checks known blocked
//! and allowed codes, a batch, a sale, and errors, and exits non-zero on any wrong answer.
//! C# needs Mono (`mcs`, `mono`: Debian's mono-mcs and mono-runtime), Java a JDK and JNA
//! (default-jdk-headless, libjna-java), Python only python3; when one is missing,
//! `.ci/tools` installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../tests/common/tools.rs"]
mod tools;

/// Makes sure every program in `programs` is on the `PATH`, running `.ci/tools` once per
/// test run when one is not.
fn require(programs: &[&str]) {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if !programs.iter().all(|p| tools::on_path(p)) {
        INSTALLED.get_or_init(tools::install_test_tools);
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where cargo put this build's libcisgate_ffi.{so,a}: `deps/` beside the test binary
/// (`cargo test` leaves them there), or the folder above it (after a `cargo build`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let has_both = |dir: &Path| {
        ["libcisgate_ffi.so", "libcisgate_ffi.a"]
            .iter()
            .all(|lib| dir.join(lib).exists())
    };
    [deps, deps.parent().unwrap()]
        .into_iter()
        .find(|d| has_both(d))
        .unwrap_or_else(|| {
            panic!(
                "libcisgate_ffi.so and .a are missing from {}: cargo builds them with the crate (cargo test -p cisgate-ffi)",
                deps.display()
            )
        })
        .to_path_buf()
}

/// A fresh index of the bundled sample.
fn sample_index(dir: &Path) -> PathBuf {
    let mut lists: Vec<PathBuf> = std::fs::read_dir(repo().join("data/sample"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    lists.sort();
    let out = dir.join("index");
    cisgate::index::build(
        &out,
        &lists,
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    out
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout + &stderr
}

#[test]
fn c_example_linked_dynamically_and_statically() {
    require(&["cc"]);
    let lib = lib_dir();
    let dir = tempfile::tempdir().unwrap();
    let source = repo().join("examples/c/check.c");
    let include = repo().join("ffi/include");
    let dynamic = dir.path().join("check-dynamic");
    run(
        Command::new("cc")
            .args(["-Wall", "-Wextra", "-Werror", "-I"])
            .arg(&include)
            .arg(&source)
            .arg("-L")
            .arg(&lib)
            .arg("-lcisgate_ffi")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-o")
            .arg(&dynamic),
        "compiling the C example (dynamic)",
    );
    let statically = dir.path().join("check-static");
    run(
        Command::new("cc")
            .args(["-Wall", "-Wextra", "-Werror", "-I"])
            .arg(&include)
            .arg(&source)
            .arg(lib.join("libcisgate_ffi.a"))
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&statically),
        "compiling the C example (static)",
    );
    for exe in [&dynamic, &statically] {
        let index = sample_index(&tempfile::tempdir_in(dir.path()).unwrap().keep());
        let out = run(Command::new(exe).arg(&index), "the C example");
        assert!(out.contains("all checks passed"), "{out}");
    }
}

#[test]
fn csharp_example_under_mono() {
    require(&["mcs", "mono"]);
    let lib = lib_dir();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("example.exe");
    let sources = repo().join("examples/csharp");
    run(
        Command::new("mcs")
            .arg(format!("-out:{}", exe.display()))
            .arg(sources.join("Cisgate.cs"))
            .arg(sources.join("Example.cs")),
        "compiling the C# example",
    );
    let index = sample_index(dir.path());
    let out = run(
        Command::new("mono")
            .arg(&exe)
            .arg(&index)
            .env("LD_LIBRARY_PATH", &lib),
        "the C# example",
    );
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn python_module_and_test() {
    require(&["python3"]);
    let lib = lib_dir();
    let dir = tempfile::tempdir().unwrap();
    let index = sample_index(dir.path());
    let out = run(
        Command::new("python3")
            .arg(repo().join("examples/python/test_cisgate.py"))
            .arg(&index)
            .env("CISGATE_LIB", lib.join("libcisgate_ffi.so"))
            .env("PYTHONPATH", repo().join("examples/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        "the Python test",
    );
    assert!(out.contains("OK"), "{out}");
}

/// Debian's JNA jar (libjna-java).
const JNA_JAR: &str = "/usr/share/java/jna.jar";

#[test]
fn java_example_with_jna() {
    require(&["javac", "java"]);
    if !Path::new(JNA_JAR).exists() {
        static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        INSTALLED.get_or_init(tools::install_test_tools);
    }
    let lib = lib_dir();
    let dir = tempfile::tempdir().unwrap();
    let classes = dir.path().join("classes");
    let sources = repo().join("examples/java");
    run(
        Command::new("javac")
            .args(["-cp", JNA_JAR, "-d"])
            .arg(&classes)
            .arg(sources.join("Cisgate.java"))
            .arg(sources.join("Example.java")),
        "compiling the Java example",
    );
    let index = sample_index(dir.path());
    let out = run(
        Command::new("java")
            .arg("-cp")
            .arg(format!("{}:{JNA_JAR}", classes.display()))
            .arg(format!("-Djna.library.path={}", lib.display()))
            .arg("Example")
            .arg(&index),
        "the Java example",
    );
    assert!(out.contains("all checks passed"), "{out}");
}
