//! The command line itself: help, version, configuration precedence, errors and exit codes,
//! graceful shutdown.

mod util;

use std::process::Command;
use std::time::{Duration, Instant};

use util::*;

fn modferry() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_modferry"));
    for (k, _) in std::env::vars() {
        if k.starts_with("MODFERRY_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn version_and_help() {
    let out = modferry().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("modferry "));
    let out = modferry().args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--store",
        "--upstream",
        "--offline",
        "--config",
        "MODFERRY_UPSTREAM",
    ] {
        assert!(help.contains(flag), "help lacks {flag}:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let out = modferry()
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid listen address \"not-an-address\""),
        "{err}"
    );
    let out = modferry()
        .args(["serve", "--list-ttl", "5x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = modferry().args(["serve", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = modferry()
        .args(["serve", "--config", "/nonexistent/modferry.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/modferry.toml"));
}

#[test]
fn config_precedence_flag_env_file_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:4001\"\nupstream = \"http://file.example\"\nlist_ttl = \"7m\"\nstore = \"/from/file\"\n").unwrap();
    let out = modferry()
        .args([
            "serve",
            "--print-config",
            "--config",
            file.to_str().unwrap(),
            "--store",
            "/from/flag",
        ])
        .env("MODFERRY_UPSTREAM", "http://env.example")
        .env("MODFERRY_STORE", "/from/env")
        .output()
        .unwrap();
    ok(&out, "modferry serve --print-config");
    let cfg: toml::Value = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(cfg["store"].as_str(), Some("/from/flag"), "flag beats env");
    assert_eq!(
        cfg["upstream"].as_str(),
        Some("http://env.example"),
        "env beats file"
    );
    assert_eq!(
        cfg["listen"].as_str(),
        Some("127.0.0.1:4001"),
        "file beats default"
    );
    assert_eq!(cfg["list_ttl"].as_str(), Some("7m"));
    assert_eq!(cfg["negative_ttl"].as_str(), Some("1m"), "default");

    let out = modferry()
        .args(["serve", "--print-config"])
        .output()
        .unwrap();
    let cfg: toml::Value = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(cfg["listen"].as_str(), Some("127.0.0.1:3000"));
    assert_eq!(cfg["store"].as_str(), Some("./modferry-data"));
    assert_eq!(cfg["upstream"].as_str(), Some("https://proxy.golang.org"));
    assert_eq!(cfg["offline"].as_bool(), Some(false));
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut srv = modferry_serve(
        dir.path(),
        &["--store", store.to_str().unwrap(), "--offline"],
    );
    let st = Command::new("kill")
        .args(["-TERM", &srv.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        srv.log_text().contains("shut down cleanly"),
        "{}",
        srv.log_text()
    );
}

#[test]
fn default_upstream_unreachable_still_starts_and_answers_with_a_reason() {
    // An upstream nobody listens on: the server starts and answers misses with a 502 reason.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let srv = modferry_serve(
        dir.path(),
        &["--store", store.to_str().unwrap(), "--upstream", &dead],
    );
    let resp = http_get(
        srv.url.trim_start_matches("http://"),
        "/example.com/m/@v/list",
    )
    .unwrap();
    assert!(
        resp.starts_with("HTTP/1.0 502") || resp.starts_with("HTTP/1.1 502"),
        "{resp}"
    );
    assert!(resp.contains("example.com/m"), "{resp}");
}
