//! The `[s3]` table of the configuration file, end to end against a real SeaweedFS
//! (docs/configuration.md, "Object storage"). No Go rule lives here.
//!
//! - `modferry store copy --config FILE` and `modferry serve --config FILE` reach the bucket
//!   with the endpoint and credentials only in `[s3]` (the secret in `secret_access_key_file`),
//!   with every `AWS_*` and `MODFERRY_*` variable removed from the child's environment; the
//!   replica serves the copied module with the published bytes.
//! - A wrong secret in the file stops `serve` at startup (exit 2) with a message naming the
//!   endpoint and the bucket.
//! - `serve --print-config` shows the effective `[s3]` (an `AWS_*` variable over the file)
//!   and never a secret.

mod util;

#[path = "../../store/tests/common/seaweed.rs"]
mod seaweed;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use modferry_formats::module::{escape_path, escape_version};
use util::*;

const MODULE: Mod = Mod {
    path: "example.com/S3Config/lib",
    version: "v1.0.0",
    go_mod: "module example.com/S3Config/lib\n\ngo 1.21\n",
    files: &[(
        "lib.go",
        "package lib\n\nfunc Name() string { return \"lib\" }\n",
    )],
};

/// `modferry ARGS` with no `AWS_*` or `MODFERRY_*` variable in its environment.
fn modferry_clean(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modferry"));
    cmd.args(args).current_dir(dir);
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("AWS_") || n.starts_with("MODFERRY_") {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// A config file with `store` and an `[s3]` table for `sw` whose secret is `secret` (written
/// to a file next to it).
fn config_file(dir: &Path, name: &str, store: &str, endpoint: &str, secret: &str) -> String {
    let secret_file = dir.join(format!("{name}.secret"));
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "store = {store:?}\nlease_ttl = \"5s\"\n\n[s3]\nendpoint = {endpoint:?}\n\
             region = \"us-east-1\"\naccess_key_id = {:?}\nsecret_access_key_file = {:?}\n\
             part_size = \"8MiB\"\nrequest_timeout = \"20s\"\n",
            seaweed::ACCESS_KEY,
            secret_file.display().to_string()
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn output_text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn serve_reaches_the_bucket_with_endpoint_and_credentials_only_in_the_s3_table() {
    let sw = seaweed::shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let upstream = dir.join("upstream");
    publish(dir, &upstream, &MODULE);
    let store = format!("s3://{}/s3-config", seaweed::BUCKET);
    let good = config_file(dir, "good", &store, &sw.endpoint(), seaweed::SECRET_KEY);

    // store copy: the [s3] table of --config opens the bucket.
    let out = modferry_clean(
        dir,
        &[
            "store",
            "copy",
            "--quiet",
            "--from",
            upstream.to_str().unwrap(),
            "--to",
            &store,
            "--config",
            &good,
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "store copy: {}", output_text(&out));

    // serve: the same file, offline, serves the module from the bucket.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let log = dir.join("serve.log");
    let child = modferry_clean(
        dir,
        &["serve", "--config", &good, "--listen", &addr, "--offline"],
    )
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    let mut srv = Proc {
        child,
        url: format!("http://{addr}"),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http_get(&addr, "/healthz").is_ok_and(|r| r.starts_with("HTTP/1.")) {
        if let Some(st) = srv.child.try_wait().unwrap() {
            panic!("serve exited ({st}): {}", srv.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "serve not ready: {}",
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let vpath = format!(
        "/{}/@v/{}",
        escape_path(MODULE.path).unwrap(),
        escape_version(MODULE.version).unwrap()
    );
    let want_zip = std::fs::read(upstream.join(format!("{}.zip", &vpath[1..]))).unwrap();
    let resp = raw_get(&addr, &format!("{vpath}.zip"));
    assert!(
        resp.starts_with(b"HTTP/1.1 200") || resp.starts_with(b"HTTP/1.0 200"),
        "zip: {}\n{}",
        String::from_utf8_lossy(&resp[..resp.len().min(300)]),
        srv.log_text()
    );
    assert!(resp.ends_with(&want_zip), "zip bytes differ");
    let resp = http_get(&addr, &format!("{vpath}.mod")).unwrap();
    assert!(resp.ends_with(MODULE.go_mod), "{resp}");
    drop(srv);

    // A wrong secret in the file: serve stops at startup naming the endpoint and the bucket.
    let bad = config_file(dir, "bad", &store, &sw.endpoint(), "wrong-secret");
    let mut child = modferry_clean(
        dir,
        &[
            "serve",
            "--config",
            &bad,
            "--listen",
            "127.0.0.1:0",
            "--offline",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve with a wrong secret did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&sw.endpoint()), "{err}");
    assert!(err.contains(seaweed::BUCKET), "{err}");
    assert!(err.contains("access denied"), "{err}");
    assert!(!err.contains("wrong-secret"), "the secret leaked: {err}");
}

#[test]
fn print_config_shows_the_effective_s3_table_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = config_file(
        dir,
        "print",
        "s3://modferry/p",
        "http://127.0.0.1:8333",
        "file-secret-value",
    );
    let out = modferry_clean(dir, &["serve", "--print-config", "--config", &file])
        .env("AWS_ENDPOINT_URL", "https://s3.env.example")
        .env("AWS_ACCESS_KEY_ID", "env-id")
        .env("AWS_SECRET_ACCESS_KEY", "env-secret-value")
        .env("AWS_SESSION_TOKEN", "env-token-value")
        .env("MODFERRY_LEASE_TTL", "3s")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for secret in ["file-secret-value", "env-secret-value", "env-token-value"] {
        assert!(!text.contains(secret), "{text}");
    }
    let cfg: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(cfg["lease_ttl"].as_str(), Some("3s"), "env beats file");
    let s3 = &cfg["s3"];
    assert_eq!(s3["endpoint"].as_str(), Some("https://s3.env.example"));
    assert_eq!(s3["allow_http"].as_bool(), Some(false));
    assert_eq!(s3["access_key_id"].as_str(), Some("env-id"));
    assert_eq!(s3["secret_access_key"].as_str(), Some("<redacted>"));
    assert_eq!(s3["session_token"].as_str(), Some("<redacted>"));
    assert!(s3.get("secret_access_key_file").is_none(), "{text}");
    assert_eq!(s3["request_timeout"].as_str(), Some("20s"), "file");
    assert_eq!(s3["upload_concurrency"].as_integer(), Some(2), "default");
}

/// A blocking HTTP/1.0 GET returning the raw response bytes.
fn raw_get(addr: &str, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    buf
}
