//! The status page of `cisgate serve`, in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `.ci/tools` when missing) opens the page of a running service,
//! reads its state, sees it turn red when the data goes stale, and leaves a screenshot of
//! each state in `target/tmp/` (the test artefacts). The HTML is checked for the
//! accessibility basics: language, title, one heading, the state as text in a live region,
//! table headers, and text/background contrast of at least 4.5:1.
#![cfg(feature = "cli")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A running `cisgate serve`, stopped on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(index: &Path, addr: SocketAddr, extra: &[&str]) -> Serve {
    let child = Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["serve", "--index", index.to_str().unwrap(), "--listen"])
        .arg(addr.to_string())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Serve(child)
}

/// A plain HTTP/1.1 GET: status code and body.
fn get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

fn chromium() -> PathBuf {
    if !common::tools::on_path("chromium") {
        common::tools::install_test_tools();
    }
    PathBuf::from("chromium")
}

/// Chromium, headless, with no network of its own (the flags the machine needs).
fn browser(profile: &Path) -> Command {
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
fn dom(addr: SocketAddr, profile: &Path) -> String {
    let out = browser(profile)
        .arg("--dump-dom")
        .arg(format!("http://{addr}/"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshot(addr: SocketAddr, profile: &Path, name: &str) -> PathBuf {
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

/// Builds `lists` (a synthetic catalogue as of `as_of_ms`) into `index`, going back in
/// time if need be.
fn build(dir: &Path, index: &Path, as_of_ms: i64, version: &str) {
    let config = cisgate::synth::GenConfig {
        version: version.into(),
        as_of_ms,
        ..common::small_config()
    };
    let lists = dir.join(format!("lists-{version}"));
    cisgate::synth::write_lists(&lists, &config).unwrap();
    let out = common::cisgate(
        &[
            "build",
            "--out",
            index.to_str().unwrap(),
            "--allow-older",
            lists.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
}

/// WCAG relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
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

fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The accessibility basics of the page's HTML.
fn check_accessibility(html: &str) {
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

#[test]
fn the_status_page_turns_red_in_a_browser_when_the_data_goes_stale() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("idx");
    build(dir.path(), &index, cisgate::time::now_ms(), "fresh-1");
    let addr = free_addr();
    let _serve = serve(&index, addr, &[]);
    let profile = dir.path().join("chromium");

    let (code, json) = get(addr, "/status.json", None);
    assert_eq!(code, 200);
    let facts: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(facts["light"], "green", "{facts}");
    assert_eq!(facts["data"]["version"], "fresh-1");
    assert_eq!(facts["data"]["counts"][0][1], 20_000);
    assert_eq!(facts["can_sell_offline"], true);

    let page = dom(addr, &profile);
    assert!(page.contains("data-light=\"green\""), "{page}");
    assert!(page.contains("МОЖНО ПРОДАВАТЬ"));
    assert!(page.contains("fresh-1"));
    let (_, html) = get(addr, "/", None);
    check_accessibility(&html);
    let green = screenshot(addr, &profile, "status-page-green.png");

    // The data goes stale: a generation as of 80 hours ago (past the 72 h limit).
    build(
        dir.path(),
        &index,
        cisgate::time::now_ms() - 80 * 3_600_000,
        "old-2",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = dom(addr, &profile);
        if page.contains("data-light=\"red\"") || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(page.contains("data-light=\"red\""), "{page}");
    assert!(page.contains("ОФЛАЙН-ПРОДАЖИ ЗАПРЕЩЕНЫ"));
    assert!(page.contains("old-2"));
    let (_, json) = get(addr, "/status.json", None);
    let facts: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(facts["light"], "red");
    assert_eq!(facts["can_sell_offline"], false);
    let (_, html) = get(addr, "/", None);
    check_accessibility(&html);
    let red = screenshot(addr, &profile, "status-page-red.png");
    println!("screenshots: {} {}", green.display(), red.display());
}

#[test]
fn the_status_page_asks_for_the_apis_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("idx");
    build(dir.path(), &index, cisgate::time::now_ms(), "fresh-1");
    let config = dir.path().join("serve.json");
    std::fs::write(
        &config,
        r#"{"users": [{"user": "manager", "password": "a long enough password"}]}"#,
    )
    .unwrap();
    let addr = free_addr();
    let _serve = serve(&index, addr, &["--config", config.to_str().unwrap()]);
    for path in ["/", "/status.json"] {
        let (code, _) = get(addr, path, None);
        assert_eq!(code, 401, "{path}");
    }
    // manager:a long enough password
    let basic = "Basic bWFuYWdlcjphIGxvbmcgZW5vdWdoIHBhc3N3b3Jk";
    let (code, html) = get(addr, "/", Some(basic));
    assert_eq!(code, 200);
    assert!(html.contains("data-light=\"green\""));
}
