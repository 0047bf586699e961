//! The status page of `cisgate serve`, in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `.ci/tools` when missing) opens the page of a running service,
//! reads its state, sees it turn red when the data goes stale, and leaves a screenshot of
//! each state in `target/tmp/` (the test artefacts). The HTML is checked for the
//! accessibility basics: language, title, one heading, the state as text in a live region,
//! table headers, and text/background contrast of at least 4.5:1.
#![cfg(feature = "cli")]

mod common;

use common::browser::{check_accessibility, dom, get, screenshot};

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
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
    // Times as the staff read them, in the shop's zone (Moscow by default), not raw UTC.
    let today = cisgate::time::TimeZone::default().format(cisgate::time::now_ms());
    assert!(
        page.contains(&today[..10]) && page.contains(" МСК"),
        "{page}"
    );
    assert!(
        !page.contains(".000Z") && !page.contains("Z</dd>"),
        "{page}"
    );
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
