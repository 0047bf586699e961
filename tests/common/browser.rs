//! Pages in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `.ci/tools` when missing), screenshots in the test artefacts, and the accessibility
//! basics every page of ours keeps.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A plain HTTP/1.1 GET: status code and body.
pub fn get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> (u16, String) {
    super::http::request(addr, "GET", path, authorization, "")
}

pub fn chromium() -> PathBuf {
    if !super::tools::on_path("chromium") {
        super::tools::install_test_tools();
    }
    PathBuf::from("chromium")
}

/// Chromium, headless, with no network of its own (the flags the machine needs).
pub fn browser(profile: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1000,1100",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stderr(Stdio::null());
    cmd
}

/// The page's DOM as the browser built it.
pub fn dom(addr: SocketAddr, profile: &Path) -> String {
    dom_of(addr, "/", profile)
}

/// The DOM of `path` on `addr` as the browser built it.
pub fn dom_of(addr: SocketAddr, path: &str, profile: &Path) -> String {
    let out = browser(profile)
        .arg("--dump-dom")
        .arg(format!("http://{addr}{path}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn screenshot(addr: SocketAddr, profile: &Path, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let out = browser(profile)
        .arg(format!("--screenshot={}", path.display()))
        .arg(format!("http://{addr}/"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let png = std::fs::read(&path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        path.display()
    );
    path
}

/// WCAG relative luminance of `#rrggbb`.
pub fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap()) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

pub fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The accessibility basics of the page's HTML.
pub fn check_accessibility(html: &str) {
    assert!(html.contains("<html lang=\"ru\">"), "no language");
    assert!(html.contains("<title>"), "no title");
    assert_eq!(html.matches("<h1").count(), 1, "one main heading");
    assert!(
        html.contains("role=\"status\""),
        "the state is not a live region"
    );
    // Tables name their column headers; nothing is a form field without a label.
    assert!(html.matches("<th scope=\"col\">").count() >= 2);
    assert!(!html.contains("<input") || html.contains("<label"));
    // Every rule that sets both colours passes AA contrast.
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    let mut pairs = 0;
    for rule in style.split('}') {
        let colour = |prop: &str| {
            rule.split(';')
                .filter_map(|d| d.split_once(':'))
                .find(|(p, _)| p.trim().ends_with(prop) && !p.contains("border"))
                .map(|(_, v)| v.trim().to_string())
        };
        if let (Some(fg), Some(bg)) = (colour("color"), colour("background")) {
            let ratio = contrast(&fg, &bg);
            assert!(ratio >= 4.5, "{rule}: contrast {ratio:.2}");
            pairs += 1;
        }
    }
    assert!(pairs >= 4, "only {pairs} colour pairs found");
}
